"""Forgetting: archive memories whose retention R = exp(-t / S) fell below a threshold (see retention.py).

Archived memories leave default recall but stay listed in the forgetting inbox and can be restored; this job
never hard-deletes. Exempt: pinned memories, the sources of active profile lines, memories recalled in the last
`forgetting_recent_days`, and kinds not listed in `forgetting_kinds` (profile lines are kept by reflection).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from assistant.jobs.base import JobContext, JobResult
from assistant.memory.retention import retention
from storage.db import Database
from storage.enums import EventOp, LinkKind, MemoryKind, MemoryStatus
from storage.models import Memory, MemoryEvent, MemoryLink
from storage.timeutil import utcnow

REASON_PREFIX = "forgetting:"
BATCH = 200


def profile_source_ids(s) -> set[int]:
    """Memories an active profile line cites: the profile would lose its evidence if they were archived."""
    profile_ids = select(Memory.id).where(Memory.kind == MemoryKind.PROFILE, Memory.status == MemoryStatus.ACTIVE)
    return set(s.scalars(select(MemoryLink.dst_id).where(
        MemoryLink.kind == LinkKind.DERIVED_FROM, MemoryLink.src_id.in_(profile_ids))))


class ForgettingJob:
    name = "forgetting"

    def run(self, ctx: JobContext) -> JobResult:
        result = JobResult(self.name, ctx.dry_run)
        result.counts["archived"] = 0
        for batch in self._batches(self.due(ctx), BATCH):
            ctx.checkpoint()
            for item in batch:
                reason = (f"{REASON_PREFIX} retention {item['retention']:.3f} below "
                          f"{ctx.settings.forgetting_threshold} after {item['age_days']:.0f} days unused")
                if not ctx.dry_run:
                    ctx.memory.forget(item["id"], reason=reason)
                result.count("archived")
                result.change(f"{'would archive' if ctx.dry_run else 'archived'} #{item['id']} "
                              f"(R={item['retention']:.3f}): {item['text'][:70]!r}")
        return result

    @staticmethod
    def _batches(items: list, size: int):
        for start in range(0, len(items), size):
            yield items[start:start + size]

    @staticmethod
    def due(ctx: JobContext) -> list[dict[str, Any]]:
        """Active, unexempt memories whose retention is below the threshold, weakest first."""
        st = ctx.settings
        now = utcnow()
        recent = now - timedelta(days=st.forgetting_recent_days)
        out = []
        with ctx.db.session() as s:
            exempt = profile_source_ids(s)
            restored = dict(s.execute(select(MemoryEvent.memory_id, func.max(MemoryEvent.created_at))
                                      .where(MemoryEvent.op == EventOp.RESTORE).group_by(MemoryEvent.memory_id)).all())
            rows = s.scalars(select(Memory).where(
                Memory.status == MemoryStatus.ACTIVE, Memory.pinned.is_(False), Memory.kind.in_(st.forgetting_kinds)))
            for m in rows:
                if m.id in exempt or (m.last_recalled_at is not None and m.last_recalled_at >= recent):
                    continue
                # A restored memory starts a fresh curve: the user just said it still matters.
                since = max(t for t in (m.recorded_at, m.last_recalled_at, restored.get(m.id)) if t is not None)
                age = (now - since).total_seconds() / 86400
                r = retention(age, m.strength, m.importance, st.forgetting_base_days)
                if r < st.forgetting_threshold:
                    out.append({"id": m.id, "text": m.text, "retention": r, "age_days": age})
        return sorted(out, key=lambda d: d["retention"])


def forgetting_inbox(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Memories this job archived and the user has not restored, newest first, with the job's reason."""
    with db.read_session() as s:
        last_event = (select(MemoryEvent.memory_id, func.max(MemoryEvent.id).label("eid"))
                      .where(MemoryEvent.op.in_(("forget", "restore"))).group_by(MemoryEvent.memory_id).subquery())
        q = (select(Memory, MemoryEvent).join(last_event, last_event.c.memory_id == Memory.id)
             .join(MemoryEvent, MemoryEvent.id == last_event.c.eid)
             .where(Memory.status == MemoryStatus.ARCHIVED, MemoryEvent.op == EventOp.FORGET,
                    MemoryEvent.reason.startswith(REASON_PREFIX))
             .order_by(MemoryEvent.id.desc()).limit(limit))
        return [{"id": m.id, "kind": m.kind, "text": m.text, "archived_at": e.created_at, "reason": e.reason}
                for m, e in s.execute(q)]
