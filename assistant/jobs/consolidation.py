"""Consolidation: re-embed stale vectors, summarise finished sessions, merge near-duplicate facts,
link related memories.

Idempotent by construction: every step looks for work that is still undone (a stale embedding model, a session
with episodes no summary covers yet, new memories past the last run's watermark), so a second run right after
the first finds nothing to do.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select

from assistant.jobs import summaries
from assistant.jobs.base import JobContext, JobResult
from assistant.memory import ledger
from assistant.memory.support import jaccard
from assistant.memory.write_path import WriteAction
from plugins.vocabulary import same_numbers_and_negations
from storage.enums import EventOp, LinkKind, MemoryKind, MemoryStatus, Source
from storage.job_store import last_ok_run
from storage.models import Memory, MemoryLink
from storage.records import NewMemory
from storage.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 128
NEIGHBOURS = 8  # nearest neighbours fetched per memory, before filtering
SESSION_SOURCE_KINDS = ("episode", "fact")
NEVER_LINKED_KINDS = ("profile",)


class ConsolidationJob:
    name = "consolidation"

    def run(self, ctx: JobContext) -> JobResult:
        result = JobResult(self.name, ctx.dry_run)
        result.counts.update(reembedded=0, summaries=0, merged=0, linked=0)
        mm = ctx.memory
        if not ctx.dry_run:
            mm.sync_vector_index()
        self._reembed_stale(ctx, result)
        self._summarise_sessions(ctx, result)
        self._merge_and_link(ctx, result)
        return result

    # -- 1. vectors made by another embedding model ---------------------------------------------------
    def _reembed_stale(self, ctx: JobContext, result: JobResult) -> None:
        model = ctx.settings.embedder
        with ctx.db.session() as s:
            stale = [(m.id, m.text) for m in s.scalars(select(Memory).where(
                Memory.status != MemoryStatus.DELETED,
                or_(Memory.embedding_model.is_(None), Memory.embedding_model != model)).order_by(Memory.id))]
        for start in range(0, len(stale), BATCH):
            ctx.checkpoint()
            chunk = stale[start:start + BATCH]
            result.count("reembedded", len(chunk))
            result.change(f"{'would re-embed' if ctx.dry_run else 're-embedded'} {len(chunk)} memories "
                          f"(#{chunk[0][0]}..#{chunk[-1][0]}) with {model}")
            if ctx.dry_run:
                continue
            ctx.vector_index.upsert([i for i, _ in chunk], ctx.embedder.embed([t for _, t in chunk]))
            with ctx.db.session() as s:
                s.query(Memory).filter(Memory.id.in_([i for i, _ in chunk])).update(
                    {Memory.embedding_model: model}, synchronize_session=False)

    # -- 2. finished sessions become summaries ----------------------------------------------------------
    def _summarise_sessions(self, ctx: JobContext, result: JobResult) -> None:
        cutoff = utcnow() - timedelta(minutes=ctx.settings.session_finished_minutes)
        for session_id, members, old_summaries in self._uncovered_sessions(ctx, cutoff):
            ctx.checkpoint()
            result.count("summaries")
            if ctx.dry_run:
                result.change(f"would summarise session {session_id} ({len(members)} memories)")
                continue
            text, method = summaries.summarise(ctx, members)
            if method == "extractive-fallback":
                result.count("_summary_llm_rejected")
            # The old summary steps aside first, so the write path does not take the new one for its duplicate.
            with ctx.db.session() as s:
                for old in old_summaries:
                    self._retire(s, old, "its session has new turns; a fuller summary replaces it", ctx.operation_id)
            outcome = ctx.memory.write([NewMemory(
                text, kind=MemoryKind.SUMMARY, source=Source.ASSISTANT, at=members[0]["valid_from"],
                session_id=session_id, importance=max(m["importance"] for m in members),
                provenance={"session_id": session_id, "memory_ids": [m["id"] for m in members], "method": method},
                links=tuple((LinkKind.DERIVED_FROM, m["id"]) for m in members)
                + tuple((LinkKind.SUPERSEDES, old) for old in old_summaries))],
                reason=f"consolidation: summary of session {session_id}", operation_id=ctx.operation_id)[0]
            # a plugin check refused it: say so, go on
            if outcome.action not in (WriteAction.STORED, WriteAction.QUARANTINED):
                result.change(f"summary of session {session_id} not stored ({outcome.action}: {outcome.reason})")
                continue
            record = outcome.record
            result.change(f"summarised session {session_id} ({len(members)} memories, {method}) as #{record.id}")

    def _uncovered_sessions(self, ctx: JobContext, cutoff) -> list[tuple[int, list[dict[str, Any]], list[int]]]:
        """Finished sessions holding an active episode (or, for imported sessions without any, a fact) that no
        active summary is derived from yet."""
        out = []
        with ctx.db.session() as s:
            last = (select(Memory.session_id, func.max(Memory.recorded_at).label("last"))
                    .where(Memory.session_id.is_not(None), Memory.kind.in_(SESSION_SOURCE_KINDS))
                    .group_by(Memory.session_id).subquery())
            finished = [sid for sid, when in s.execute(select(last.c.session_id, last.c.last)) if when < cutoff]
            for session_id in finished:
                members = list(s.scalars(select(Memory).where(
                    Memory.session_id == session_id, Memory.kind.in_(SESSION_SOURCE_KINDS),
                    Memory.status == MemoryStatus.ACTIVE).order_by(Memory.valid_from, Memory.id)))
                if any(m.kind == MemoryKind.EPISODE for m in members):  # facts extracted from those turns add nothing
                    members = [m for m in members if m.kind == MemoryKind.EPISODE]
                if not members:
                    continue
                summary_ids = list(s.scalars(select(Memory.id).where(
                    Memory.session_id == session_id, Memory.kind == MemoryKind.SUMMARY,
                    Memory.status == MemoryStatus.ACTIVE)))
                covered = set(s.scalars(select(MemoryLink.dst_id).where(
                    MemoryLink.src_id.in_(summary_ids),
                    MemoryLink.kind == LinkKind.DERIVED_FROM))) if summary_ids else set()
                if all(m.id in covered for m in members):
                    continue
                out.append((session_id, [{"id": m.id, "text": m.text, "valid_from": m.valid_from,
                                          "importance": m.importance} for m in members], summary_ids))
        return out

    # -- 3 and 4. near-duplicates and related memories, for memories new since the last run ---------------
    def _merge_and_link(self, ctx: JobContext, result: JobResult) -> None:
        settings = ctx.settings
        last = last_ok_run(ctx.db, self.name)
        watermark = int(last["counts"].get("_watermark", 0)) if last else 0
        with ctx.db.session() as s:
            new_ids = list(s.scalars(select(Memory.id).where(
                Memory.id > watermark, Memory.status == MemoryStatus.ACTIVE,
                Memory.kind.not_in(NEVER_LINKED_KINDS)).order_by(Memory.id)))
            top = s.scalar(select(func.max(Memory.id))) or 0
        merged: set[int] = set()
        for start in range(0, len(new_ids), BATCH):
            ctx.checkpoint()
            chunk = [i for i in new_ids[start:start + BATCH] if i not in merged]
            neighbours = self._neighbours(ctx, chunk)
            with ctx.db.session() as s:
                ids = set(chunk) | {n for hits in neighbours.values() for n, _ in hits}
                rows = {m.id: m for m in s.scalars(select(Memory).where(Memory.id.in_(ids)))}
                linked = self._existing_links(s, ids)
                for memory_id in chunk:
                    me = rows.get(memory_id)
                    if me is None or me.status != MemoryStatus.ACTIVE or memory_id in merged:
                        continue
                    candidates = [(rows[n], sim) for n, sim in neighbours.get(memory_id, [])
                                  if n != memory_id and n in rows and rows[n].status == MemoryStatus.ACTIVE
                                  and rows[n].kind not in NEVER_LINKED_KINDS and n not in merged]
                    twin = next(((o, sim) for o, sim in candidates if self._duplicates(me, o, sim, settings)), None)
                    if twin is not None:
                        dup, keep = self._order(me, twin[0])
                        merged.add(dup.id)
                        result.count("merged")
                        result.change(f"{'would merge' if ctx.dry_run else 'merged'} #{dup.id} into #{keep.id} "
                                      f"(cosine {twin[1]:.3f}): {dup.text[:70]!r}")
                        if not ctx.dry_run:
                            self._merge(s, dup, keep, twin[1], ctx.operation_id)
                        if dup.id == memory_id:
                            continue
                    self._link_related(ctx, s, me, candidates, linked, merged, result)
                if ctx.dry_run:
                    s.rollback()
        result.counts["_watermark"] = max(top, watermark)

    def _neighbours(self, ctx: JobContext, ids: list[int]) -> dict[int, list[tuple[int, float]]]:
        """Nearest stored memories of each id, from the vectors Chroma already holds (no re-embedding)."""
        vectors = ctx.vector_index.vectors(ids)
        order = [i for i in ids if i in vectors]
        if not order:
            return {}
        found = ctx.vector_index.query_many(np.stack([vectors[i] for i in order]), NEIGHBOURS + 1)
        return dict(zip(order, found))

    @staticmethod
    def _existing_links(s, ids: set[int]) -> set[tuple[int, int]]:
        pairs = s.execute(select(MemoryLink.src_id, MemoryLink.dst_id).where(
            or_(MemoryLink.src_id.in_(ids), MemoryLink.dst_id.in_(ids))))
        return {(min(a, b), max(a, b)) for a, b in pairs}

    @staticmethod
    def _duplicates(a: Memory, b: Memory, sim: float, settings) -> bool:
        """Same meaning and the same details: close vectors, the same content words, numbers and negations.

        The word check carries most of the weight: MiniLM puts 'I work as a nurse' and 'Working as a nurse'
        at cosine 0.88 but 'moved in 2019' and 'moved in 2021' at 0.94.
        """
        if a.kind != b.kind or a.kind not in settings.duplicate_kinds:
            return False
        if sim < settings.duplicate_similarity or (a.pinned and b.pinned):
            return False
        if a.subject and b.subject and a.subject != b.subject:
            return False
        if a.slot_key and b.slot_key and a.slot_key != b.slot_key:
            return False
        return same_numbers_and_negations(a.text, b.text) and jaccard(a.text, b.text) >= settings.duplicate_word_overlap

    @staticmethod
    def _order(a: Memory, b: Memory) -> tuple[Memory, Memory]:
        """(the one merged away, the one kept): keep the pinned, then the more trusted, then the older."""
        keep = min((a, b), key=lambda m: (not m.pinned, -m.trust, m.id))
        return (b, a) if keep is a else (a, b)

    @staticmethod
    def _merge(s, dup: Memory, keep: Memory, sim: float, operation_id: str) -> None:
        """dup leaves default recall (archived, as the write path's merge does) with a merged_into link;
        keep inherits its provenance, importance and recall history."""
        now = utcnow()
        before_dup, before_keep = ledger.snapshot(dup), ledger.snapshot(keep)
        merged_from = list(keep.provenance.get("merged_from", []))
        merged_from.append({"id": dup.id, "session_id": dup.session_id, "source": dup.source,
                            "recorded_at": dup.recorded_at.isoformat(), "provenance": dup.provenance})
        keep.provenance = {**keep.provenance, "merged_from": merged_from}
        keep.importance = max(keep.importance, dup.importance)
        keep.strength = max(keep.strength, dup.strength)
        keep.recall_count += dup.recall_count
        keep.updated_at = now
        dup.status, dup.expired_at, dup.updated_at = MemoryStatus.ARCHIVED, now, now
        s.add(MemoryLink(src_id=dup.id, dst_id=keep.id, kind=LinkKind.MERGED_INTO, score=round(sim, 4)))
        ledger.record(s, EventOp.MERGE,
                      f"consolidation: near-duplicate of #{keep.id} (cosine {sim:.3f}), merged into it",
                      operation_id=operation_id, memory_id=dup.id, source="job", before=before_dup,
                      after=ledger.snapshot(dup), merged_into=keep.id)
        ledger.record(s, EventOp.MERGE, f"consolidation: absorbed near-duplicate #{dup.id}", operation_id=operation_id,
                      memory_id=keep.id, source="job", before=before_keep, after=ledger.snapshot(keep), merged=dup.id)

    def _link_related(self, ctx: JobContext, s, me: Memory, candidates, linked, merged, result: JobResult) -> None:
        k = ctx.settings.related_top_k
        added = []
        for other, sim in candidates:
            if len(added) >= k or sim < ctx.settings.related_similarity:
                break
            pair = (min(me.id, other.id), max(me.id, other.id))
            if other.id in merged or pair in linked:
                continue
            linked.add(pair)
            added.append((other.id, round(sim, 4)))
            if not ctx.dry_run:
                s.add(MemoryLink(src_id=me.id, dst_id=other.id, kind=LinkKind.RELATED, score=round(sim, 4)))
        if added:
            result.count("linked", len(added))
            result.change(f"{'would link' if ctx.dry_run else 'linked'} #{me.id} to "
                          + ", ".join(f"#{i} ({sc:.2f})" for i, sc in added))
            if not ctx.dry_run:
                ledger.record(s, EventOp.LINK, "consolidation: related memories", operation_id=ctx.operation_id,
                              memory_id=me.id, source="job", related=[i for i, _ in added])

    @staticmethod
    def _retire(s, memory_id: int, reason: str, operation_id: str) -> None:
        old = s.get(Memory, memory_id)
        before = ledger.snapshot(old)
        old.status, old.expired_at, old.updated_at = MemoryStatus.SUPERSEDED, utcnow(), utcnow()
        ledger.record(s, EventOp.SUPERSEDE, f"consolidation: {reason}", operation_id=operation_id, memory_id=memory_id,
                      source="job", before=before, after=ledger.snapshot(old))
