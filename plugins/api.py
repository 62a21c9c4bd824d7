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
    # Active memories this candidate contradicts when the plugin cannot decide which is right:
    # the write path stores the candidate and links both with `contradicts` for the user to resolve.
    contradicts_ids: tuple[int, ...] = ()
    # A 0..1 risk or match score behind the decision, for display and benchmarks.
    score: float = 0.0


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
    reasons = "; ".join(f"{v.plugin or 'plugin'}: {v.reason}" for v in given
                        if (v.decision != "accept" or v.contradicts_ids) and v.reason)
    supersede = tuple(sorted({i for v in given for i in v.supersede_ids}))
    # Contradiction links are additive too, and kept unless the candidate is rejected outright.
    contradicts = tuple(sorted({i for v in given for i in v.contradicts_ids} - set(supersede)))
    return Verdict(decision=winner.decision, reason=reasons or winner.reason, confidence=winner.confidence,
                   supersede_ids=supersede if winner.decision in ("supersede", "accept") else (),
                   merge_into=winner.merge_into, plugin=winner.plugin,
                   contradicts_ids=contradicts if winner.decision != "reject" else (),
                   score=max(v.score for v in given))


@dataclass(frozen=True)
class Tool:
    """A function the assistant may call. `parameters` is a JSON schema of type "object" for its keyword arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Any  # Callable[..., Any]; the result must be JSON-serialisable
    plugin: str = ""


@dataclass(frozen=True)
class Integration:
    """An importer (`kind="import"`: function(app, path) -> number stored) or an exporter
    (`kind="export"`: function(app, path) -> number written). A function that also takes a `progress` keyword
    is given a callable progress(done, total) to report how far it is."""

    name: str
    kind: Literal["import", "export"]
    description: str
    function: Any
    plugin: str = ""
