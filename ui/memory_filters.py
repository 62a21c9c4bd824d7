"""What the memory browser asks for: a search (the same hybrid recall as chat) narrowed by filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from storage.models import MEMORY_STATUSES

SEARCH_POOL = 200  # recall hits fetched for a search, before the filters below narrow them
LIST_LIMIT = 1000  # newest memories listed when there is no search text
VISIBLE_STATUSES = tuple(s for s in MEMORY_STATUSES if s != "deleted")


@dataclass(frozen=True)
class MemoryFilter:
    query: str = ""
    kind: str | None = None
    status: str | None = "active"  # None: every status except deleted
    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    pinned_only: bool = False
    include_weak: bool = False  # "show weaker matches": also what falls under recall's relevance floor

    def matches(self, record) -> bool:
        if self.kind and record.kind != self.kind:
            return False
        if self.status and record.status != self.status:
            return False
        if not self.status and record.status == "deleted":
            return False
        if self.source and record.source != self.source:
            return False
        if self.pinned_only and not record.pinned:
            return False
        when = record.valid_from or record.recorded_at
        if self.date_from and when < datetime.combine(self.date_from, time.min, UTC):
            return False
        if self.date_to and when > datetime.combine(self.date_to, time.max, UTC):
            return False
        return True


def find_memories(memory, flt: MemoryFilter) -> list:
    """Records for the browser, best match first for a search, newest first otherwise. Runs off the main thread."""
    if flt.query.strip():
        statuses = (flt.status,) if flt.status else VISIBLE_STATUSES
        hits = memory.recall(flt.query, k=SEARCH_POOL, statuses=statuses, kinds=(flt.kind,) if flt.kind else None,
                             include_weak=flt.include_weak)
        records = [h.memory for h in hits]
    else:
        records = memory.list(kind=flt.kind, status=flt.status, limit=LIST_LIMIT)
    return [r for r in records if flt.matches(r)]
