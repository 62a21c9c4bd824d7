"""Plain values crossing the storage boundary: what a front end reads (MemoryRecord, RecallHit) and what it hands
the write path (NewMemory). Detached from any database session."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storage.enums import LinkKind, MemoryKind, MemoryStatus, Source
from storage.errors import InvalidInput
from storage.models import Memory


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class NewMemory:
    """One memory for the write path. The values are checked here, once, whoever builds it (a front end, an
    importer, a job); the text is cleaned and measured by the write path, which knows the size limit.

    `trust` None takes the source's default trust; `at` None means "true from now"; `links` are
    (kind, id of an existing memory) pairs the new memory points at.
    """

    text: str
    kind: MemoryKind = MemoryKind.FACT
    source: Source = Source.USER
    at: datetime | None = None
    session_id: int | None = None
    importance: float = 0.5
    trust: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    slot_key: str | None = None
    links: tuple[tuple[LinkKind, int], ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "kind", MemoryKind.parse(self.kind))
        set_(self, "source", Source.parse(self.source))
        set_(self, "links", tuple((LinkKind.parse(kind), int(dst)) for kind, dst in self.links))
        if not 0.0 <= self.importance <= 1.0:
            raise InvalidInput("Importance must be between 0 and 1.")
        if self.trust is not None and not 0.0 <= self.trust <= 1.0:
            raise InvalidInput("Trust must be between 0 and 1.")
        set_(self, "provenance", dict(self.provenance or {}))


@dataclass(frozen=True)
class MemoryRecord:
    id: int
    kind: str
    status: str
    text: str
    source: str
    trust: float
    importance: float
    strength: float
    pinned: bool
    recall_count: int
    last_recalled_at: datetime | None
    session_id: int | None
    subject: str | None
    slot_key: str | None
    provenance: dict[str, Any]
    valid_from: datetime | None
    valid_to: datetime | None
    recorded_at: datetime
    expired_at: datetime | None

    @classmethod
    def from_row(cls, row: Memory) -> MemoryRecord:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    @property
    def is_active(self) -> bool:
        return self.status == MemoryStatus.ACTIVE

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = _iso(value)
        return out


@dataclass(frozen=True)
class RecallHit:
    memory: MemoryRecord
    score: float
    # How the score was made: rank and score per retriever, fusion and re-ranking terms.
    breakdown: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = self.memory.to_json()
        out["score"] = round(self.score, 6)
        out["breakdown"] = {k: round(v, 6) for k, v in self.breakdown.items()}
        return out
