"""Fact-augmented keys (LongMemEval): an episode can be found by its own text and by the facts drawn from it.

Extraction stores each fact as a `fact` memory linked `derived_from` its episode. Recall can use these two
functions to index or expand an episode under its facts' texts, and to lead from a matching fact back to the
turn it came from. Only active facts count: a superseded or quarantined fact is no longer a key.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.enums import LinkKind, MemoryKind, MemoryStatus
from storage.models import Memory, MemoryLink


def fact_keys_for_episodes(s: Session, episode_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """{episode id: [(fact id, fact text), ...]} for the active facts extracted from each episode."""
    ids = list(episode_ids)
    out: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = s.execute(
        select(MemoryLink.dst_id, Memory.id, Memory.text).join(Memory, Memory.id == MemoryLink.src_id)
        .where(MemoryLink.kind == LinkKind.DERIVED_FROM, MemoryLink.dst_id.in_(ids), Memory.kind == MemoryKind.FACT,
               Memory.status == MemoryStatus.ACTIVE).order_by(Memory.id)
    )
    for episode_id, fact_id, text in rows:
        out[episode_id].append((fact_id, text))
    return out


def episodes_for_facts(s: Session, fact_ids: Iterable[int]) -> dict[int, int]:
    """{fact id: episode id} for facts that were extracted from an episode."""
    ids = list(fact_ids)
    if not ids:
        return {}
    rows = s.execute(select(MemoryLink.src_id, MemoryLink.dst_id).join(Memory, Memory.id == MemoryLink.dst_id)
                     .where(MemoryLink.kind == LinkKind.DERIVED_FROM, MemoryLink.src_id.in_(ids),
                            Memory.kind == MemoryKind.EPISODE))
    return {fact_id: episode_id for fact_id, episode_id in rows}
