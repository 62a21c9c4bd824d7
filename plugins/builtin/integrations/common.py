"""What every importer shares: reading files safely, batching writes, and the report it returns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.api import PluginContext
from storage.errors import UserError
from storage.records import NewMemory

MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024  # a chat export can be big; more than this is not one
MAX_NOTE_BYTES = 1024 * 1024
BATCH = 128
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportReport:
    stored: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: why"
    ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "skipped": self.skipped, "ids": self.ids}


def read_json_file(path: Path, what: str) -> Any:
    if not path.exists():
        raise UserError(f"File not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the {what} file itself.")
    size = path.stat().st_size
    if size > MAX_IMPORT_FILE_BYTES:
        raise UserError(f"{path} is {size:,} bytes, over the {MAX_IMPORT_FILE_BYTES:,}-byte import limit; "
                        "split it first.")
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise UserError(f"{path} is a binary file, not {what} JSON.")
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not valid UTF-8 (offset {exc.start}); it is not {what} JSON.") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None


@contextmanager
def malformed_as_user_error(path: Path, what: str) -> Iterator[None]:
    """Parsing a file of unexpected shape (a list where an object belongs, a number for a date...) ends in one
    clear line, before anything is stored, instead of a traceback from deep inside the parser."""
    try:
        yield
    except UserError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError, OSError) as exc:
        raise UserError(f"{path} is not a well-formed {what} ({type(exc).__name__}: {str(exc)[:80]}); "
                        "check that it is the right file.") from None


def split_long(text: str, max_bytes: int) -> list[str]:
    """Paragraph-sized pieces under the memory size limit, so a long note is kept whole across several memories."""
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    pieces, current = [], ""
    for para in text.split("\n\n"):
        while len(para.encode("utf-8")) > max_bytes:  # one enormous paragraph: cut on characters
            cut = max_bytes // 4
            pieces.append(para[:cut])
            para = para[cut:]
        candidate = f"{current}\n\n{para}" if current else para
        if len(candidate.encode("utf-8")) > max_bytes:
            pieces.append(current)
            current = para
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def store(context: PluginContext, items: list[NewMemory], report: ImportReport, reason: str,
          progress: Progress | None = None) -> None:
    """Write in batches, each its own transaction, so a failure late in a big import keeps what came before.
    `progress(done, total)` hears of each batch written (items, not memories: a rejected item counts too)."""
    for start in range(0, len(items), BATCH):
        if progress is not None:
            progress(start, len(items))
        records = context.memory.remember_many(items[start:start + BATCH], reason=reason)
        report.stored += len(records)
        report.ids.extend(r.id for r in records)
    if progress is not None:
        progress(len(items), len(items))
