"""Export the whole store to one file and restore it into an empty data folder, nothing lost (storage.portable
has the format). The CLI's `export json` / `import json` and the desktop app's "Export everything" use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.memory.manager import MemoryManager
from assistant.memory.text_rules import text_hash
from plugins.api import host_version
from storage import portable
from storage.db import Database
from storage.portable import Archive, ExportResult


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back; shaped like an importer's report (stored, skipped, ids) for the front ends."""

    counts: dict[str, int]
    ids: list[int]
    skipped: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.counts["memories"]

    def to_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "skipped": list(self.skipped), "ids": list(self.ids),
                "restored": dict(self.counts), "format_version": portable.VERSION}


class PortableStore:
    def __init__(self, db: Database, memory: MemoryManager, embedder_name: str):
        self.db = db
        self.memory = memory
        self.embedder_name = embedder_name

    def export(self, path: Path) -> ExportResult:
        """Every memory (deleted ones as tombstones), link, ledger event, chat and queued turn, to one file."""
        return portable.write_export(self.db, Path(path), app_version=host_version())

    def read(self, path: Path) -> Archive | None:
        """The checked contents of a version-2 export; None for a version-1 or chat export, which the `json`
        importer plugin reads (adding what it holds as new memories)."""
        return portable.read_export(Path(path))

    def restore(self, archive: Archive, progress: Callable[[int, int], None] | None = None) -> RestoreReport:
        """Put every row back under its own id (only into an empty store), then rebuild both search indexes.

        The rows, the keyword index and the queued vector writes commit together; should the re-embedding stop
        half-way, the next start replays the queue."""
        portable.restore(self.db, archive, text_hash=text_hash, embedder_name=self.embedder_name)
        self.memory.reindex(progress=progress)
        return RestoreReport(archive.counts(), [m["id"] for m in archive.memories])
