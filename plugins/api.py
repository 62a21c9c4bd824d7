"""Everything a plugin author needs, in one import: `from plugins.api import hookimpl, Verdict, Candidate, ...`.

Stable API for plugin authors: change only by adding fields. Plugins receive a PluginContext at startup (the
settings, their data folder, a logger and a narrow view of the memory), candidates to judge, and return
Verdicts; they never see the application object or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pluggy

if TYPE_CHECKING:
    from storage.records import MemoryRecord, NewMemory, RecallHit

PROJECT = "secondme"
ENTRY_POINT_GROUP = "secondme.plugins"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


def host_version() -> str:
    """The version of secondme that is running the plugin."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("secondme")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0+source"


class Decision(StrEnum):
    """What a check decides about a memory about to be written."""

    ACCEPT = "accept"
    QUARANTINE = "quarantine"  # stored, but kept out of recall and prompts until the user releases it
    REJECT = "reject"  # not stored; the ledger keeps the reason
    SUPERSEDE = "supersede"  # stored, and the memories in supersede_ids become history
    MERGE = "merge"  # not kept as its own memory: folded into merge_into


class MemoryAccess(Protocol):
    """The part of the memory a plugin may use: recall and the write path (every write is checked like any
    other, plugins' own included). Records are plain values; nothing a plugin holds reaches the database."""

    def recall(self, query: str, k: int | None = None) -> list[RecallHit]: ...

    def remember(self, text: str, *, source: str = "plugin", **fields: Any) -> MemoryRecord: ...

    def remember_many(self, items: Sequence[NewMemory], reason: str = "remembered") -> list[MemoryRecord | None]: ...

    def list(self, kind: str | None = None, status: str | None = "active", limit: int = 50,
             offset: int = 0) -> list[MemoryRecord]: ...

    # Archive a memory (out of default recall, restorable, ledgered): how a re-import retires a note that was
    # changed or deleted at its source. Added in 0.2.
    def forget(self, memory_id: int, reason: str = "forgotten") -> MemoryRecord: ...


@dataclass(frozen=True)
class PluginContext:
    """What every plugin gets at startup, instead of the application."""

    settings: Any  # assistant.config.Settings: read-only by convention
    data_dir: Path  # the data folder; a plugin keeps its own files in a subfolder named after itself
    logger: logging.Logger
    memory: MemoryAccess
    # The sentence embedder the memory uses (L2-normalised float32 rows), so a plugin need not load its own.
    embed: Callable[[Sequence[str]], np.ndarray]

    def recall(self, query: str, k: int | None = None) -> list[RecallHit]:
        return self.memory.recall(query, k=k)


@dataclass(frozen=True)
class Candidate:
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


# The name before version 0.2; kept so existing plugins keep importing.
MemoryCandidate = Candidate


@dataclass(frozen=True)
class Verdict:
    decision: Decision = Decision.ACCEPT
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

    def __post_init__(self) -> None:
        # "quarantine" and Decision.QUARANTINE both work; a misspelt decision fails here, in the plugin's call.
        object.__setattr__(self, "decision", Decision(self.decision))


# Stronger decisions win; ties go to the higher confidence. Reject > quarantine > merge > supersede > accept.
_PRECEDENCE = {Decision.REJECT: 4, Decision.QUARANTINE: 3, Decision.MERGE: 2, Decision.SUPERSEDE: 1,
               Decision.ACCEPT: 0}


def combine_verdicts(verdicts: Iterable[Verdict | None]) -> Verdict:
    """One deterministic verdict from many: the strongest decision, with every plugin's reason kept.

    Supersede ids from all plugins are unioned, since superseding is additive.
    """
    given = [v for v in verdicts if v is not None]
    if not given:
        return Verdict()
    winner = max(given, key=lambda v: (_PRECEDENCE[v.decision], v.confidence, v.plugin))
    reasons = "; ".join(f"{v.plugin or 'plugin'}: {v.reason}" for v in given
                        if (v.decision != Decision.ACCEPT or v.contradicts_ids) and v.reason)
    supersede = tuple(sorted({i for v in given for i in v.supersede_ids}))
    # Contradiction links are additive too, and kept unless the candidate is rejected outright.
    contradicts = tuple(sorted({i for v in given for i in v.contradicts_ids} - set(supersede)))
    return Verdict(decision=winner.decision, reason=reasons or winner.reason, confidence=winner.confidence,
                   supersede_ids=supersede if winner.decision in (Decision.SUPERSEDE, Decision.ACCEPT) else (),
                   merge_into=winner.merge_into, plugin=winner.plugin,
                   contradicts_ids=contradicts if winner.decision != Decision.REJECT else (),
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
    """An importer (`kind="import"`: function(context, path) -> number stored) or an exporter
    (`kind="export"`: function(context, path) -> number written), `context` being the PluginContext. A function
    that also takes a `progress` keyword is given a callable progress(done, total) to report how far it is."""

    name: str
    kind: Literal["import", "export"]
    description: str
    function: Any
    plugin: str = ""
