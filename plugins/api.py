"""The objects plugins receive and return. Stable API for plugin authors: change only by adding fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Literal

Decision = Literal["accept", "quarantine", "reject", "supersede", "merge"]


@dataclass(frozen=True)
class MemoryCandidate:
    """A memory about to be written. Plugins read it; they never write to storage themselves."""

    text: str
    kind: str
    source: str
    trust: float
    session_id: int | None = None
    slot_key: str | None = None
    subject: str | None = None
    valid_from: datetime | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    decision: Decision = "accept"
    reason: str = ""
    confidence: float = 1.0
    supersede_ids: tuple[int, ...] = ()
    merge_into: int | None = None
    plugin: str = ""


# Stronger decisions win; ties go to the higher confidence. Reject > quarantine > merge > supersede > accept.
_PRECEDENCE = {"reject": 4, "quarantine": 3, "merge": 2, "supersede": 1, "accept": 0}


def combine_verdicts(verdicts: Iterable[Verdict | None]) -> Verdict:
    """One deterministic verdict from many: the strongest decision, with every plugin's reason kept.

    Supersede ids from all plugins are unioned, since superseding is additive.
    """
    given = [v for v in verdicts if v is not None]
    if not given:
        return Verdict()
    winner = max(given, key=lambda v: (_PRECEDENCE[v.decision], v.confidence, v.plugin))
    reasons = "; ".join(f"{v.plugin or 'plugin'}: {v.reason}" for v in given if v.decision != "accept" and v.reason)
    supersede = tuple(sorted({i for v in given for i in v.supersede_ids}))
    return Verdict(decision=winner.decision, reason=reasons or winner.reason, confidence=winner.confidence,
                   supersede_ids=supersede if winner.decision in ("supersede", "accept") else (),
                   merge_into=winner.merge_into, plugin=winner.plugin)
