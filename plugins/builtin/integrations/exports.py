"""Export every memory (all statuses but deleted) to JSON or Markdown, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugins.api import host_version
from storage.enums import MemoryStatus
from storage.errors import UserError

PAGE = 500


def all_memories(context) -> Iterator[Any]:
    offset = 0
    while True:
        page = context.memory.list(status=None, limit=PAGE, offset=offset)
        if not page:
            return
        yield from (m for m in page if m.status != MemoryStatus.DELETED)
        offset += PAGE


def _target(path: Path, default_name: str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    if not path.parent.is_dir():
        raise UserError(f"Folder not found: {path.parent}; create it first.")
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename, so an interrupted export never leaves half a file in its place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secondme-export-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"Cannot write {path}: {exc.strerror}.") from None


def export_json(context, path: Path) -> int:

    memories = [m.to_json() for m in all_memories(context)]
    doc = {"format": "secondme-export", "version": 1, "app_version": host_version(),
           "exported_at": datetime.now(UTC).isoformat(), "memories": memories}
    _write_atomic(_target(path, "secondme-memories.json"), json.dumps(doc, ensure_ascii=False, indent=2))
    return len(memories)


def export_markdown(context, path: Path) -> int:
    memories = list(all_memories(context))
    lines = ["# secondme memories", "", f"Exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
             f"{len(memories)} memories.", ""]
    for kind in ("profile", "fact", "thought", "summary", "episode"):
        group = [m for m in memories if m.kind == kind]
        if not group:
            continue
        lines += [f"## {kind.capitalize()}s ({len(group)})", ""]
        for m in group:
            flags = [m.status] + (["pinned"] if m.pinned else [])
            lines.append(f"### #{m.id} · {m.recorded_at:%Y-%m-%d} · from {m.source} · {', '.join(flags)}")
            lines.append("")
            lines.extend("> " + line if line else ">" for line in m.text.splitlines())
            lines.append("")
    _write_atomic(_target(path, "secondme-memories.md"), "\n".join(lines) + "\n")
    return len(memories)
