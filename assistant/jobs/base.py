"""What every upkeep job shares: its run context (dry run, stop flag, clock) and its result."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.llm.protocol import LanguageModel
    from assistant.memory.manager import MemoryManager
    from storage.db import Database
    from storage.embedder import Embedder
    from storage.vector_index import VectorIndex

MAX_CHANGE_LINES = 500  # a result lists at most this many changes; counts stay exact


class JobStopped(Exception):
    """Raised between batches when shutdown asked the job to stop; work done so far is committed."""


@dataclass
class JobResult:
    job: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    stopped: bool = False

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def change(self, line: str) -> None:
        if len(self.changes) < MAX_CHANGE_LINES:
            self.changes.append(line)

    @property
    def changed(self) -> int:
        """How many things this run changed (or, in a dry run, would change)."""
        return sum(v for k, v in self.counts.items() if not k.startswith("_"))

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "dry_run": self.dry_run, "stopped": self.stopped,
                "counts": dict(self.counts), "changes": list(self.changes)}


@dataclass
class JobContext:
    """What one run may use: the memory (its write path and reads), the database for the job's own queries,
    the vector index and embedder, the settings, and the chat model if there is one."""

    db: Database
    memory: MemoryManager
    vector_index: VectorIndex
    embedder: Embedder
    settings: Settings
    dry_run: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    # The chat model, or None: jobs must finish without it (deterministic fallbacks).
    llm_factory: Callable[[], LanguageModel | None] | None = None
    # One ledger operation per run: `secondme undo` reverses a whole run, like any other operation.
    operation_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def checkpoint(self) -> None:
        """A safe point between batches: stop here if shutdown asked."""
        if self.stop_event.is_set():
            raise JobStopped()
