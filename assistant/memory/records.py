"""Plain views of stored memories, detached from the database session, for every front end."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storage.models import Memory


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


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
    def from_row(cls, row: Memory) -> "MemoryRecord":
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

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
