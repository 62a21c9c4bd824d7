"""The write path: every new memory passes deterministic checks, then the plugin checks, then is stored.

Order, for each item of a batch (items are decided in order, so a later item sees the earlier ones):
1. Exact duplicate (same normalised-text hash, same kind, active or quarantined): not stored again; an active
   original is reinforced. The ledger says why.
2. Slot supersession: a fact with a `slot_key` (a single-valued attribute such as `user.home_city`) closes the
   active fact holding that slot (`valid_to`, status `superseded`, `expired_at`, a `supersedes` link), keeping it
   as history. A fact that is older in valid time than the slot's current holder is stored already superseded.
3. Near duplicate (embedding cosine >= settings.near_duplicate_threshold, same kind, same numbers and negations,
   no slot disagreement): treated like an exact duplicate.
4. Plugin checks (the `check_memory` callable the write path is given, with the nearest active memories as
   context["similar"]); the combined verdict is applied: quarantine -> stored as `quarantined` (out of default
   recall, never supersedes); reject -> not stored, the ledger keeps the reason; supersede -> those ids are
   superseded; merge -> stored as `archived` with a `merged_into` link, the target reinforced.
Episodes (verbatim chat turns) skip 1-3 and are never rejected: a plugin's reject becomes a quarantine, because
nothing the user said may be lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.memory import ledger
from assistant.memory.attributes import PersonalAttribute, personal_attribute
from assistant.memory.retention import reinforced_strength
from assistant.memory.text_rules import clean_text, text_hash
from plugins.api import Candidate, Decision, Verdict
from plugins.vocabulary import same_numbers_and_negations
from storage.db import Database
from storage.embedder import Embedder
from storage.enums import EventOp, LinkKind, MemoryKind, MemoryStatus, Source, Vocabulary
from storage.keyword_index import KeywordIndex
from storage.memory_store import MemoryStore
from storage.models import Memory, MemoryLink, VectorOutbox
from storage.records import MemoryRecord, NewMemory
from storage.timeutil import as_utc, utcnow
from storage.vector_index import VectorIndex

if TYPE_CHECKING:
    from assistant.config import Settings

# Trust by source channel: what the user says outranks what a document or another app claims.
DEFAULT_TRUST = {Source.USER: 1.0, Source.ASSISTANT: 0.7, Source.DOCUMENT: 0.6, Source.PLUGIN: 0.5, Source.API: 0.5}
# The plugin checks: a candidate and its context in, one combined verdict out (PluginHost.check_memory).
CheckMemory = Callable[[Candidate, dict[str, Any]], Verdict]
LIVE = (MemoryStatus.ACTIVE, MemoryStatus.QUARANTINED)  # statuses a new copy would duplicate
NEIGHBOURS = 10  # nearest stored memories fetched per item for the near-duplicate and plugin checks


class WriteAction(Vocabulary):
    """write action: what the write path did with one item."""

    STORED = "stored"
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    MERGED = "merged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one item: stored, quarantined, duplicate, merged or rejected, and why."""

    action: WriteAction
    reason: str
    record: MemoryRecord | None = None  # the stored memory, or the existing one it duplicated / merged into
    superseded: tuple[int, ...] = ()

    contradicts: tuple[int, ...] = ()  # active memories it was linked to as a contradiction

    @property
    def memory_id(self) -> int | None:
        return self.record.id if self.record else None


@dataclass
class _Batch:
    """What one write() call has decided so far; writes needing ids wait in after_flush."""

    op_id: str
    reason: str
    session: Session
    known: dict[int, Memory] = field(default_factory=dict)
    by_hash: dict[tuple[str, str], Memory] = field(default_factory=dict)
    by_slot: dict[str, list[Memory]] = field(default_factory=dict)
    stored: list[_Item] = field(default_factory=list)
    # Row i holds the vector of stored[i] (filled as items are stored), so each item is compared with the
    # batch so far in one matrix product, without re-stacking every earlier vector.
    stored_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    touched: list[Memory] = field(default_factory=list)
    after_flush: list[Any] = field(default_factory=list)


@dataclass
class _Item:
    row: Memory
    vector: np.ndarray
    links: list[tuple[str, int]] = field(default_factory=list)
    # A personal attribute read from the wording (no slot key was given): its update cue decides between
    # superseding the slot's holder and flagging a contradiction.
    attribute: PersonalAttribute | None = None


# What _decide settled for one item: the outcome, the memory it concerns, what it superseded and contradicts.
_Decided = tuple[WriteOutcome, Memory | None, list[Memory], list[Memory]]

def normalise_slot_key(slot_key: str | None) -> str | None:
    if slot_key is None:
        return None
    key = re.sub(r"\s+", "_", slot_key.strip().casefold())
    return key[:200] or None


class WritePath:
    def __init__(self, db: Database, store: MemoryStore, embedder: Embedder, vector_index: VectorIndex,
                 check_memory: CheckMemory, settings: Settings):
        self.db = db
        self.store = store
        self.embedder = embedder
        self.vector_index = vector_index
        self.check_memory = check_memory
        self.settings = settings

    # -- building rows ---------------------------------------------------------------------------
    def new_row(self, item: NewMemory) -> Memory:
        cleaned = clean_text(item.text, self.settings.max_text_bytes)
        now = utcnow()
        return Memory(
            kind=item.kind, text=cleaned, text_hash=text_hash(cleaned), source=item.source,
            trust=DEFAULT_TRUST[item.source] if item.trust is None else item.trust, importance=item.importance,
            session_id=item.session_id, provenance=dict(item.provenance),
            subject=(item.subject or "").strip()[:200] or None, slot_key=normalise_slot_key(item.slot_key),
            valid_from=as_utc(item.at) if item.at else now, recorded_at=now, updated_at=now,
            embedding_model=self.settings.embedder, status=MemoryStatus.ACTIVE,
            strength=1.0, recall_count=0, pinned=False,
        )

    def _item(self, item: NewMemory) -> _Item:
        row = self.new_row(item)
        attribute = None
        if item.slot_key is None and row.kind == MemoryKind.FACT:
            attribute = personal_attribute(row.text)
            if attribute is not None:
                row.slot_key = attribute.slot_key
        return _Item(row, np.zeros(0), list(item.links), attribute)

    # -- the write -------------------------------------------------------------------------------
    def write(self, items: Sequence[NewMemory], reason: str = "remembered",
              operation_id: str | None = None) -> list[WriteOutcome]:
        """Check and store several memories in one transaction, in order, then index them."""
        built = [self._item(item) for item in items]
        if not built:
            return []
        vectors = self.embedder.embed([b.row.text for b in built])
        for b, v in zip(built, vectors):
            b.vector = v
        neighbours = self.vector_index.query_many(vectors, NEIGHBOURS)
        with self.db.session() as s, s.no_autoflush:
            batch = _Batch(op_id=operation_id or ledger.new_operation_id(), reason=reason, session=s,
                           stored_vectors=np.empty_like(vectors))
            batch.known = {m.id: m for m in s.scalars(select(Memory).where(
                Memory.id.in_({i for hits in neighbours for i, _ in hits})))}
            # Everything the exact-duplicate and slot rules need, read once for the whole batch and kept
            # up to date in memory as items are decided.
            for m in s.scalars(select(Memory).where(
                    Memory.text_hash.in_({b.row.text_hash for b in built if b.row.kind != MemoryKind.EPISODE}),
                    Memory.status.in_(LIVE)).order_by(Memory.id)):
                batch.by_hash.setdefault((m.text_hash, m.kind), m)
            for m in s.scalars(select(Memory).where(
                    Memory.slot_key.in_({b.row.slot_key for b in built if b.row.slot_key}),
                    Memory.status == MemoryStatus.ACTIVE).order_by(Memory.id)):
                batch.by_slot.setdefault(m.slot_key or "", []).append(m)
            decided = [self._decide(s, b, hits, batch) for b, hits in zip(built, neighbours)]
            # One flush gives every new row its id; then links, index rows and ledger events follow in order.
            s.flush()
            KeywordIndex.add_new(s, [(b.row.id, b.row.text) for b in batch.stored])
            s.add_all([VectorOutbox(memory_id=b.row.id, op="upsert") for b in batch.stored])
            for step in batch.after_flush:
                step()
            records = {id(b.row): MemoryRecord.from_row(b.row) for b in batch.stored}
            for m in {id(m): m for m in batch.touched}.values():
                records.setdefault(id(m), MemoryRecord.from_row(m))
            outcomes = [WriteOutcome(o.action, o.reason, records[id(row)] if row is not None else None,
                                     tuple(x.id for x in superseded), tuple(x.id for x in contradicted))
                        for o, row, superseded, contradicted in decided]
        if batch.stored:
            self.vector_index.upsert([b.row.id for b in batch.stored], np.stack([b.vector for b in batch.stored]))
            self.store.clear_outbox([b.row.id for b in batch.stored])
        return outcomes

    def _decide(self, s: Session, b: _Item, hits: list[tuple[int, float]], batch: _Batch) -> _Decided:
        """Decide one item against what is stored and what this batch decided before it.

        Returns (outcome, the memory it concerns, the memories it superseded); database writes that need ids
        are queued on batch.after_flush.
        """
        row = b.row
        is_episode = row.kind == MemoryKind.EPISODE
        slot_holders: list[Memory] = []
        if not is_episode:
            original = batch.by_hash.get((row.text_hash, row.kind))
            if original is not None and original.status in LIVE:
                return self._duplicate(row, original, 1.0, "exact duplicate", batch)
            if row.slot_key:
                slot_holders = [m for m in batch.by_slot.get(row.slot_key, []) if m.status == MemoryStatus.ACTIVE]
            same = self._same_value(b, slot_holders)
            if same is not None:
                return self._duplicate(row, same, 1.0, f"the same value for {row.slot_key}", batch)
            near, sim = self._near_duplicate(row, b.vector, hits, batch)
            if near is not None:
                return self._duplicate(row, near, sim, f"near duplicate (cosine {sim:.3f})", batch)

        # A slot read from the wording is the write path's own call (update or contradiction); plugins see only
        # slots a caller gave, so the conflict checker does not turn every inferred slot into a supersession.
        verdict = self._plugin_verdict(row, b.vector, hits, batch.known,
                                       None if b.attribute is not None else row.slot_key)
        decision, verdict_reason = verdict.decision, verdict.reason or verdict.decision
        if decision == Decision.REJECT and is_episode:
            decision, verdict_reason = (Decision.QUARANTINE,
                                        f"{verdict_reason} (episodes are kept, so quarantined instead)")
        if decision == Decision.REJECT:
            batch.after_flush.append(lambda: ledger.record(
                s, EventOp.REJECT, verdict_reason, operation_id=batch.op_id, source=row.source,
                session_id=row.session_id, plugin=verdict.plugin, text_hash=row.text_hash, preview=row.text[:200],
                kind=row.kind))
            return WriteOutcome(WriteAction.REJECTED, verdict_reason), None, [], []

        merge_target = None
        if decision == Decision.MERGE:
            merge_target = s.get(Memory, verdict.merge_into) if verdict.merge_into is not None else None
            if merge_target is None or merge_target.status == MemoryStatus.DELETED:
                decision, verdict_reason = Decision.ACCEPT, f"merge target {verdict.merge_into} missing; stored instead"
        if decision == Decision.QUARANTINE:
            row.status = MemoryStatus.QUARANTINED
        elif decision == Decision.MERGE:
            row.status, row.expired_at = MemoryStatus.ARCHIVED, utcnow()

        s.add(row)
        batch.stored_vectors[len(batch.stored)] = b.vector
        batch.stored.append(b)
        current = batch.by_hash.get((row.text_hash, row.kind))
        if not is_episode and (current is None or current.status not in LIVE):
            batch.by_hash[(row.text_hash, row.kind)] = row
        add_reason = (batch.reason if decision in (Decision.ACCEPT, Decision.SUPERSEDE)
                      else f"{batch.reason}; {decision}: {verdict_reason}")
        added_as = ledger.snapshot(row)

        def added() -> None:
            for kind, dst in b.links:
                s.add(MemoryLink(src_id=row.id, dst_id=dst, kind=kind))
            ledger.record(s, EventOp.ADD, add_reason, operation_id=batch.op_id, memory_id=row.id, source=row.source,
                          session_id=row.session_id, after=added_as)
        batch.after_flush.append(added)

        if decision == Decision.QUARANTINE:
            batch.after_flush.append(lambda: ledger.record(
                s, EventOp.QUARANTINE, verdict_reason, operation_id=batch.op_id, memory_id=row.id,
                source=verdict.plugin or "plugin", session_id=row.session_id, plugin=verdict.plugin))
            return WriteOutcome(WriteAction.QUARANTINED, verdict_reason), row, [], []
        if decision == Decision.MERGE:
            assert merge_target is not None  # a missing target turned the merge into an accept above
            before = ledger.snapshot(merge_target)
            self._reinforce(merge_target)
            after = ledger.snapshot(merge_target)
            batch.touched.append(merge_target)

            def merged() -> None:
                s.add(MemoryLink(src_id=row.id, dst_id=merge_target.id, kind=LinkKind.MERGED_INTO,
                                 score=verdict.confidence))
                ledger.record(s, EventOp.MERGE, f"merged memory {row.id} into it: {verdict_reason}",
                              operation_id=batch.op_id, memory_id=merge_target.id, source=verdict.plugin or "plugin",
                              session_id=row.session_id, before=before, after=after, merged=row.id)
            batch.after_flush.append(merged)
            return WriteOutcome(WriteAction.MERGED, verdict_reason), row, [], []

        superseded: list[Memory] = []
        contradicted: list[Memory] = []
        if row.slot_key and row.status == MemoryStatus.ACTIVE:
            for old in slot_holders:
                if old.status != MemoryStatus.ACTIVE:
                    continue
                if b.attribute is not None and not b.attribute.update:
                    contradicted.append(old)  # a different value, and nothing says it changed: ask the user
                    continue
                if old.valid_from and row.valid_from and as_utc(row.valid_from) < as_utc(old.valid_from):
                    # Learned late but older in the world: history, not the current value.
                    self._supersede(s, old, row, f"slot {row.slot_key}: memory {old.id} is newer in valid time",
                                    batch)
                else:
                    self._supersede(s, row, old, f"new value for slot {row.slot_key}", batch)
                    superseded.append(old)
            batch.by_slot[row.slot_key] = [m for m in batch.by_slot.get(row.slot_key, [])
                                           if m.status == MemoryStatus.ACTIVE]
            if row.status == MemoryStatus.ACTIVE:
                batch.by_slot[row.slot_key].append(row)
        for old_id in verdict.supersede_ids:
            target = s.get(Memory, old_id)
            if target is None or target.status != MemoryStatus.ACTIVE or row.status != MemoryStatus.ACTIVE:
                continue
            self._supersede(s, row, target, f"{verdict.plugin or 'plugin'}: {verdict.reason}", batch)
            superseded.append(target)
        if row.status == MemoryStatus.ACTIVE:
            for old_id in verdict.contradicts_ids:
                target = s.get(Memory, old_id)
                if target is None or target.status != MemoryStatus.ACTIVE or target in contradicted:
                    continue
                other = personal_attribute(target.text) if b.attribute is not None else None
                if other is not None and other.slot_key != row.slot_key:
                    continue  # the wording shows they are about different people or attributes
                contradicted.append(target)
            contradicted = [m for m in contradicted if m not in superseded]
            for old in contradicted:
                self._contradict(s, row, old, verdict.reason or f"another value for {row.slot_key}", batch)
        return WriteOutcome(WriteAction.STORED, batch.reason), row, superseded, contradicted

    # -- the rules -------------------------------------------------------------------------------
    def _near_duplicate(self, row: Memory, vector: np.ndarray, hits: list[tuple[int, float]],
                        batch: _Batch) -> tuple[Memory | None, float]:
        threshold = self.settings.near_duplicate_threshold
        pairs = [(batch.known[i], sim) for i, sim in hits if i in batch.known]
        if batch.stored:
            sims = batch.stored_vectors[:len(batch.stored)] @ vector
            # Only pairs at or above the threshold can be duplicates; skipping the rest keeps a big batch linear.
            pairs += [(batch.stored[i].row, float(sims[i])) for i in np.flatnonzero(sims >= threshold)]
        for other, sim in sorted(pairs, key=lambda p: -p[1]):
            if sim < threshold:
                break
            if (other.status == MemoryStatus.ACTIVE and other.kind == row.kind
                    # Two slot facts: the same slot is the slot rule's call, different slots are different facts.
                    and not (row.slot_key and other.slot_key)
                    and same_numbers_and_negations(row.text, other.text)):
                return other, sim
        return None, 0.0

    def _plugin_verdict(self, row: Memory, vector: np.ndarray, hits: list[tuple[int, float]],
                        known: dict[int, Memory], explicit_slot: str | None) -> Verdict:
        # Plugins see only memories they can name: rows of this batch get their ids at its end, so only stored
        # neighbours count (comparing with the batch's own rows would be work whose result is dropped).
        pairs = [(known[i], sim) for i, sim in hits if i in known]
        similar = [MemoryRecord.from_row(m) for m, _ in sorted(pairs, key=lambda p: -p[1])
                   if m.status == MemoryStatus.ACTIVE and m.id is not None][: self.settings.similar_k]
        candidate = Candidate(text=row.text, kind=row.kind, source=row.source, trust=row.trust,
                              session_id=row.session_id, slot_key=explicit_slot, subject=row.subject,
                              valid_from=row.valid_from, provenance=dict(row.provenance or {}))
        # The candidate's vector rides along so plugins (the poisoning guard) need not embed it again.
        return self.check_memory(candidate, {"similar": similar, "embedding": vector})

    @staticmethod
    def _same_value(b: _Item, holders: list[Memory]) -> Memory | None:
        """The slot's holder that states the same value in other words ("I'm based in Porto" after "I live in
        Porto"): the new fact is a duplicate of it, neither an update nor a contradiction."""
        if b.attribute is None:
            return None
        for old in holders:
            parsed = personal_attribute(old.text)
            if parsed is not None and parsed.slot_key == b.attribute.slot_key and parsed.value == b.attribute.value:
                return old
        return None

    @staticmethod
    def _contradict(s: Session, new: Memory, old: Memory, reason: str, batch: _Batch) -> None:
        """Both stay active; a `contradicts` link and a ledger event on each side put the pair before the user."""
        def linked() -> None:
            s.add(MemoryLink(src_id=new.id, dst_id=old.id, kind=LinkKind.CONTRADICTS))
            for this, other in ((new, old), (old, new)):
                ledger.record(s, EventOp.LINK, f"contradicts memory {other.id}: {reason}", operation_id=batch.op_id,
                              memory_id=this.id, source=new.source, session_id=new.session_id,
                              kind=LinkKind.CONTRADICTS, other=other.id)
        batch.after_flush.append(linked)

    def _duplicate(self, row: Memory, original: Memory, sim: float, why: str, batch: _Batch) -> _Decided:
        before = ledger.snapshot(original)
        if original.status == MemoryStatus.ACTIVE:
            self._reinforce(original)
            what = "the original was reinforced"
        else:
            what = f"the original is {original.status}"
        after = ledger.snapshot(original)
        batch.touched.append(original)

        def record() -> None:
            ref = f"memory {original.id}"
            reason = f"{why} of {ref}; not stored again, {what}"
            ledger.record(batch.session, EventOp.DUPLICATE, reason, operation_id=batch.op_id, memory_id=original.id,
                          source=row.source, session_id=row.session_id, before=before, after=after,
                          similarity=round(sim, 4), preview=row.text[:200])
        batch.after_flush.append(record)
        return WriteOutcome(WriteAction.DUPLICATE, f"{why}; not stored again, {what}"), original, [], []

    def _reinforce(self, m: Memory) -> None:
        # Being told the same thing again is a repetition: stability grows as on a real recall (same spacing rule).
        now = utcnow()
        m.strength = reinforced_strength(m.strength, m.updated_at, now, self.settings.reinforce_min_gap_hours)
        m.updated_at = now

    @staticmethod
    def _supersede(s: Session, new: Memory, old: Memory, reason: str, batch: _Batch) -> None:
        before = ledger.snapshot(old)
        now = utcnow()
        old.status, old.expired_at, old.updated_at = MemoryStatus.SUPERSEDED, now, now
        old.valid_to = new.valid_from if new.valid_from and (old.valid_from is None or
                                                              as_utc(new.valid_from) >= as_utc(old.valid_from)) else now
        after = ledger.snapshot(old)
        batch.touched.append(old)

        def linked() -> None:
            s.add(MemoryLink(src_id=new.id, dst_id=old.id, kind=LinkKind.SUPERSEDES))
            ledger.record(s, EventOp.SUPERSEDE, f"superseded by memory {new.id}: {reason}", operation_id=batch.op_id,
                          memory_id=old.id, source=new.source, session_id=new.session_id, before=before,
                          after=after, superseded_by=new.id)
        batch.after_flush.append(linked)
