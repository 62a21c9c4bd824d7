"""The write path: every new memory passes deterministic checks, then the plugin checks, then is stored.

Order, for each item of a batch (items are decided in order, so a later item sees the earlier ones):
1. Exact duplicate (same normalised-text hash, same kind, active or quarantined): not stored again; an active
   original is reinforced. The ledger says why.
2. Slot supersession: a fact with a `slot_key` (a single-valued attribute such as `user.home_city`) closes the
   active fact holding that slot (`valid_to`, status `superseded`, `expired_at`, a `supersedes` link), keeping it
   as history. A fact that is older in valid time than the slot's current holder is stored already superseded.
3. Near duplicate (embedding cosine >= settings.near_duplicate_threshold, same kind, same numbers and negations,
   no slot disagreement): treated like an exact duplicate.
4. Plugin checks (`app.plugins.check_memory`, with the nearest active memories as context["similar"]); the
   combined verdict is applied: quarantine -> stored as `quarantined` (out of default recall, never supersedes);
   reject -> not stored, the ledger keeps the reason; supersede -> those ids are superseded; merge -> stored as
   `archived` with a `merged_into` link, the target reinforced.
Episodes (verbatim chat turns) skip 1-3 and are never rejected: a plugin's reject becomes a quarantine, because
nothing the user said may be lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.memory import ledger
from assistant.memory.records import MemoryRecord
from assistant.memory.text_rules import clean_text, text_hash
from plugins.api import MemoryCandidate, Verdict
from storage.errors import UserError
from storage.keyword_index import KeywordIndex
from storage.models import LINK_KINDS, MEMORY_KINDS, SOURCES, Memory, MemoryLink, VectorOutbox
from storage.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from assistant.app import App

# Trust by source channel: what the user says outranks what a document or another app claims.
DEFAULT_TRUST = {"user": 1.0, "assistant": 0.7, "document": 0.6, "plugin": 0.5, "api": 0.5}
ITEM_KEYS = {"text", "kind", "source", "at", "session_id", "importance", "trust", "provenance", "subject",
             "slot_key", "links"}
NEIGHBOURS = 10  # nearest stored memories fetched per item for the near-duplicate and plugin checks

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without)\b|n't\b", re.IGNORECASE)


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one item: stored, quarantined, duplicate, merged or rejected, and why."""

    action: str
    reason: str
    record: MemoryRecord | None = None  # the stored memory, or the existing one it duplicated / merged into
    superseded: tuple[int, ...] = ()

    @property
    def memory_id(self) -> int | None:
        return self.record.id if self.record else None


@dataclass
class _Item:
    row: Memory
    vector: np.ndarray
    links: list[tuple[str, int]] = field(default_factory=list)


def same_numbers_and_negations(a: str, b: str) -> bool:
    """Near-identical wording can still differ in a number ("I am 30" / "I am 31") or a "not": never duplicates."""
    return (set(_NUMBER.findall(a)) == set(_NUMBER.findall(b))
            and len(_NEGATION.findall(a)) == len(_NEGATION.findall(b)))


def normalise_slot_key(slot_key: str | None) -> str | None:
    if slot_key is None:
        return None
    key = re.sub(r"\s+", "_", slot_key.strip().casefold())
    return key[:200] or None


class WritePath:
    def __init__(self, app: "App"):
        self.app = app
        self.settings = app.settings

    # -- building rows ---------------------------------------------------------------------------
    def new_row(self, text: str, kind: str = "fact", source: str = "user", at: datetime | None = None,
                session_id: int | None = None, importance: float = 0.5, trust: float | None = None,
                provenance: dict[str, Any] | None = None, subject: str | None = None,
                slot_key: str | None = None) -> Memory:
        if kind not in MEMORY_KINDS:
            raise UserError(f"Unknown memory kind '{kind}'; use one of: {', '.join(MEMORY_KINDS)}.")
        if source not in SOURCES:
            raise UserError(f"Unknown source '{source}'; use one of: {', '.join(SOURCES)}.")
        if not 0.0 <= importance <= 1.0:
            raise UserError("Importance must be between 0 and 1.")
        if trust is not None and not 0.0 <= trust <= 1.0:
            raise UserError("Trust must be between 0 and 1.")
        cleaned = clean_text(text, self.settings.max_text_bytes)
        now = utcnow()
        return Memory(
            kind=kind, text=cleaned, text_hash=text_hash(cleaned), source=source,
            trust=DEFAULT_TRUST[source] if trust is None else trust, importance=importance,
            session_id=session_id, provenance=provenance or {},
            subject=(subject or "").strip()[:200] or None, slot_key=normalise_slot_key(slot_key),
            valid_from=as_utc(at) if at else now, recorded_at=now, updated_at=now,
            embedding_model=self.settings.embedder, status="active",
            strength=1.0, recall_count=0, pinned=False,
        )

    # -- the write -------------------------------------------------------------------------------
    def write(self, items: Sequence[dict[str, Any]], reason: str = "remembered",
              operation_id: str | None = None) -> list[WriteOutcome]:
        """Check and store several memories in one transaction, in order, then index them."""
        built: list[_Item] = []
        for item in items:
            unknown = set(item) - ITEM_KEYS
            if unknown:
                raise UserError(f"Unknown memory field(s): {', '.join(sorted(unknown))}.")
            links = list(item.get("links") or [])
            for kind, _ in links:
                if kind not in LINK_KINDS:
                    raise UserError(f"Unknown link kind '{kind}'; use one of: {', '.join(LINK_KINDS)}.")
            fields = {k: v for k, v in item.items() if k != "links"}
            built.append(_Item(self.new_row(**fields), np.zeros(0), links))
        if not built:
            return []
        vectors = self.app.embedder.embed([b.row.text for b in built])
        for b, v in zip(built, vectors):
            b.vector = v
        neighbours = self.app.vector_index.query_many(vectors, NEIGHBOURS)
        op_id = operation_id or ledger.new_operation_id()
        outcomes: list[WriteOutcome] = []
        stored: list[_Item] = []
        with self.app.db.session() as s:
            known = {m.id: m for m in s.scalars(select(Memory).where(
                Memory.id.in_({i for hits in neighbours for i, _ in hits})))}
            for b, hits in zip(built, neighbours):
                outcome = self._write_one(s, b, hits, known, stored, reason, op_id)
                outcomes.append(outcome)
            records = {b.row.id: MemoryRecord.from_row(b.row) for b in stored}
            outcomes = [o if o.record is None or o.record.id not in records
                        else WriteOutcome(o.action, o.reason, records[o.record.id], o.superseded) for o in outcomes]
        if stored:
            self.app.vector_index.upsert([b.row.id for b in stored], np.stack([b.vector for b in stored]))
            self.app.memory._clear_outbox([b.row.id for b in stored])
        return outcomes

    def _write_one(self, s: Session, b: _Item, hits: list[tuple[int, float]], known: dict[int, Memory],
                   stored: list[_Item], reason: str, op_id: str) -> WriteOutcome:
        row = b.row
        is_episode = row.kind == "episode"
        slot_holders: list[Memory] = []
        if not is_episode:
            original = s.scalars(select(Memory).where(
                Memory.text_hash == row.text_hash, Memory.kind == row.kind,
                Memory.status.in_(("active", "quarantined"))).order_by(Memory.id).limit(1)).first()
            if original is not None:
                return self._duplicate(s, row, original, 1.0, "exact duplicate", op_id)
            if row.slot_key:
                slot_holders = list(s.scalars(select(Memory).where(
                    Memory.slot_key == row.slot_key, Memory.status == "active").order_by(Memory.id)))
            near, sim = self._near_duplicate(row, b.vector, hits, known, stored)
            if near is not None:
                return self._duplicate(s, row, near, sim, f"near duplicate (cosine {sim:.3f})", op_id)

        verdict = self._plugin_verdict(row, b.vector, hits, known, stored)
        decision, verdict_reason = verdict.decision, verdict.reason or verdict.decision
        if decision == "reject" and is_episode:
            decision, verdict_reason = "quarantine", f"{verdict_reason} (episodes are kept, so quarantined instead)"
        if decision == "reject":
            ledger.record(s, "reject", verdict_reason, operation_id=op_id, source=row.source,
                          session_id=row.session_id, plugin=verdict.plugin, text_hash=row.text_hash,
                          preview=row.text[:200], kind=row.kind)
            return WriteOutcome("rejected", verdict_reason)

        merge_target = None
        if decision == "merge":
            merge_target = s.get(Memory, verdict.merge_into) if verdict.merge_into is not None else None
            if merge_target is None or merge_target.status in ("deleted",):
                decision, verdict_reason = "accept", f"merge target {verdict.merge_into} missing; stored instead"
        if decision == "quarantine":
            row.status = "quarantined"
        elif decision == "merge":
            row.status, row.expired_at = "archived", utcnow()

        s.add(row)
        s.flush()
        KeywordIndex.add(s, row.id, row.text)
        s.add(VectorOutbox(memory_id=row.id, op="upsert"))
        stored.append(b)
        for kind, dst in b.links:
            s.add(MemoryLink(src_id=row.id, dst_id=dst, kind=kind))
        add_reason = reason if decision in ("accept", "supersede") else f"{reason}; {decision}: {verdict_reason}"
        ledger.record(s, "add", add_reason, operation_id=op_id, memory_id=row.id, source=row.source,
                      session_id=row.session_id, after=ledger.snapshot(row))

        if decision == "quarantine":
            ledger.record(s, "quarantine", verdict_reason, operation_id=op_id, memory_id=row.id,
                          source=verdict.plugin or "plugin", session_id=row.session_id, plugin=verdict.plugin)
            return WriteOutcome("quarantined", verdict_reason, MemoryRecord.from_row(row))
        if decision == "merge":
            s.add(MemoryLink(src_id=row.id, dst_id=merge_target.id, kind="merged_into", score=verdict.confidence))
            before = ledger.snapshot(merge_target)
            self._reinforce(merge_target)
            ledger.record(s, "merge", f"merged memory {row.id} into it: {verdict_reason}", operation_id=op_id,
                          memory_id=merge_target.id, source=verdict.plugin or "plugin", session_id=row.session_id,
                          before=before, after=ledger.snapshot(merge_target), merged=row.id)
            return WriteOutcome("merged", verdict_reason, MemoryRecord.from_row(row))

        superseded: list[int] = []
        for old in slot_holders if row.status == "active" else ():
            if old.id == row.id or old.status != "active":
                continue
            if old.valid_from and row.valid_from and as_utc(row.valid_from) < as_utc(old.valid_from):
                # Learned late but older in the world: history, not the current value.
                self._supersede(s, old, row, f"slot {row.slot_key}: memory {old.id} is newer in valid time",
                                op_id, row.session_id)
            else:
                self._supersede(s, row, old, f"new value for slot {row.slot_key}", op_id, row.session_id)
                superseded.append(old.id)
        for old_id in verdict.supersede_ids:
            old = s.get(Memory, old_id)
            if old is None or old.status != "active" or old.id == row.id or row.status != "active":
                continue
            self._supersede(s, row, old, f"{verdict.plugin or 'plugin'}: {verdict.reason}", op_id, row.session_id)
            superseded.append(old.id)
        return WriteOutcome("stored", reason, MemoryRecord.from_row(row), tuple(superseded))

    # -- the rules -------------------------------------------------------------------------------
    def _near_duplicate(self, row: Memory, vector: np.ndarray, hits: list[tuple[int, float]],
                        known: dict[int, Memory], stored: list[_Item]) -> tuple[Memory | None, float]:
        threshold = self.settings.near_duplicate_threshold
        pairs = [(known[i], sim) for i, sim in hits if i in known]
        if stored:
            sims = np.stack([b.vector for b in stored]) @ vector
            pairs += [(b.row, float(sim)) for b, sim in zip(stored, sims)]
        for other, sim in sorted(pairs, key=lambda p: -p[1]):
            if sim < threshold:
                break
            if (other.status == "active" and other.kind == row.kind
                    # Two slot facts: the same slot is the slot rule's call, different slots are different facts.
                    and not (row.slot_key and other.slot_key)
                    and same_numbers_and_negations(row.text, other.text)):
                return other, sim
        return None, 0.0

    def _plugin_verdict(self, row: Memory, vector: np.ndarray, hits: list[tuple[int, float]],
                        known: dict[int, Memory], stored: list[_Item]) -> Verdict:
        host = self.app.plugins
        if not host.pm.hook.check_memory.get_hookimpls():
            return Verdict()
        pairs = [(known[i], sim) for i, sim in hits if i in known]
        if stored:
            sims = np.stack([b.vector for b in stored]) @ vector
            pairs += [(b.row, float(sim)) for b, sim in zip(stored, sims)]
        similar = [MemoryRecord.from_row(m) for m, _ in sorted(pairs, key=lambda p: -p[1])
                   if m.status == "active"][: self.settings.similar_k]
        candidate = MemoryCandidate(text=row.text, kind=row.kind, source=row.source, trust=row.trust,
                                    session_id=row.session_id, slot_key=row.slot_key, subject=row.subject,
                                    valid_from=row.valid_from, provenance=dict(row.provenance or {}))
        return host.check_memory(candidate, {"similar": similar})

    def _duplicate(self, s: Session, row: Memory, original: Memory, sim: float, why: str, op_id: str) -> WriteOutcome:
        before = ledger.snapshot(original)
        if original.status == "active":
            self._reinforce(original)
            reason = f"{why} of memory {original.id}; not stored again, the original was reinforced"
        else:
            reason = f"{why} of {original.status} memory {original.id}; not stored again"
        ledger.record(s, "duplicate", reason, operation_id=op_id, memory_id=original.id, source=row.source,
                      session_id=row.session_id, before=before, after=ledger.snapshot(original),
                      similarity=round(sim, 4), preview=row.text[:200])
        return WriteOutcome("duplicate", reason, MemoryRecord.from_row(original))

    @staticmethod
    def _reinforce(m: Memory) -> None:
        # Being told the same thing again is a repetition: the memory's stability grows as on a real recall.
        m.strength = m.strength * 1.5 + 1.0
        m.updated_at = utcnow()

    @staticmethod
    def _supersede(s: Session, new: Memory, old: Memory, reason: str, op_id: str, session_id: int | None) -> None:
        before = ledger.snapshot(old)
        now = utcnow()
        old.status, old.expired_at, old.updated_at = "superseded", now, now
        old.valid_to = new.valid_from if new.valid_from and (old.valid_from is None or
                                                              as_utc(new.valid_from) >= as_utc(old.valid_from)) else now
        link = MemoryLink(src_id=new.id, dst_id=old.id, kind="supersedes")
        s.add(link)
        s.flush()
        ledger.record(s, "supersede", f"superseded by memory {new.id}: {reason}", operation_id=op_id,
                      memory_id=old.id, source=new.source, session_id=session_id, before=before,
                      after=ledger.snapshot(old), superseded_by=new.id, link_id=link.id)
