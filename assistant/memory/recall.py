"""Recall: hybrid retrieval over the derived indexes, fused, filtered and re-ranked against SQLite.

The steps, each controlled by a `recall_*` setting and each visible in a hit's score breakdown:
1. Time: a period named in the question ("last week", "in May 2023", "before I moved") becomes a range on
   valid time, relative to the reference time (default now); an event-anchored range is resolved by recalling
   the event itself.
2. Retrieve: dense (Chroma cosine) and keyword (FTS5 BM25) candidates, plus keyword candidates inside the asked
   period, and keyword candidates for the question expanded with pseudo-relevance feedback words.
3. Fuse: weighted reciprocal rank fusion of those rankings.
4. Context: a turn shares evidence with its neighbouring turns of the same session, and a session that matches
   in several turns lifts all its turns.
5. Time boost or filter, a boost for a line said by someone the question names ("Anna: ..."), then re-rank
   by recency of valid time and retention R = exp(-t / S).
6. Diversify the head of the list with MMR over the memories' embeddings.
Status-aware: only active memories unless other statuses are asked for (`history=True` adds superseded and
archived ones).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from assistant.memory import fusion
from assistant.memory.retention import retention
from assistant.memory.text_rules import clean_text
from assistant.timeparse import TimeRange, find_time_range
from storage.db import Database
from storage.embedder import Embedder
from storage.enums import MemoryKind, MemoryStatus
from storage.errors import InvalidInput, UserError
from storage.keyword_index import KeywordIndex, expansion_terms, query_terms, uncommon_terms
from storage.memory_store import MemoryStore, RecallRow, newest_in, recall_rows
from storage.records import RecallHit
from storage.timeutil import as_utc, utcnow
from storage.vector_index import VectorIndex

if TYPE_CHECKING:
    from assistant.config import Settings

DEFAULT_STATUSES = (MemoryStatus.ACTIVE,)
HISTORY_STATUSES = (MemoryStatus.ACTIVE, MemoryStatus.SUPERSEDED, MemoryStatus.ARCHIVED)
DAY = 86400.0
MMR_HEAD = 40
FEEDBACK_POOL = 100  # candidates whose texts give the expansion words their rarity


class Recaller:
    def __init__(self, db: Database, store: MemoryStore, vector_index: VectorIndex, embedder: Embedder,
                 settings: Settings):
        self.db = db
        self.store = store
        self.vector_index = vector_index
        self.embedder = embedder
        self.settings = settings
        self._executor: ThreadPoolExecutor | None = None  # started on the first recall, see _recall
        self._worker_lock = threading.Lock()

    def recall(self, query: str, k: int | None = None, statuses: Sequence[str] = DEFAULT_STATUSES,
               kinds: Sequence[str] | None = None, *, reference_time: datetime | None = None,
               time_range: TimeRange | None = None, history: bool = False,
               include_weak: bool = False) -> list[RecallHit]:
        """The k memories that best answer `query`. Below the relevance floor (no word of the question in it,
        dense similarity under settings.recall_min_similarity, and not next to a turn that passes) a memory is
        left out, so an unrelated question gets nothing rather than whatever is nearest; `include_weak` keeps
        those too, marked `below_floor` in their breakdown ("show weaker matches")."""
        query = clean_text(query, self.settings.max_text_bytes, what="query")
        k = self.settings.recall_k if k is None else k
        if k < 1:
            raise UserError("k must be at least 1.")
        statuses = tuple(dict.fromkeys(tuple(statuses) + (HISTORY_STATUSES if history else ())))
        for status in statuses:
            if status not in MemoryStatus.values() or status == MemoryStatus.DELETED:
                raise InvalidInput(f"Cannot recall status '{status}'; use some of: active, superseded, quarantined, "
                                   "archived.")
        if kinds is not None:
            kinds = tuple(MemoryKind.parse(kind) for kind in kinds)
        reference = as_utc(reference_time) if reference_time else utcnow()
        if time_range is None and self.settings.recall_time_mode != "off":
            time_range = find_time_range(query, reference)
        if time_range is not None and time_range.event:
            time_range = self._resolve_event(time_range, statuses, kinds, reference)
        return self._recall(query, k, statuses, kinds, reference, time_range, include_weak)

    # -- the pipeline ----------------------------------------------------------------------------
    def _recall(self, query: str, k: int, statuses: tuple[str, ...], kinds: tuple[str, ...] | None,
                reference: datetime, time_range: TimeRange | None, include_weak: bool = True) -> list[RecallHit]:
        st = self.settings
        pool = max(st.recall_pool, k)
        # Dense retrieval (embed the question, then ask Chroma) runs on a worker thread while SQLite runs the
        # keyword searches here: both spend their time in C with the GIL released, so on two cores they overlap.
        # Chroma holds every status; over-fetch so filtering by status still leaves a full pool.
        dense_job = self._worker().submit(self._dense, query, pool * 2) if st.recall_weight_dense > 0 else None
        rankings: dict[str, list[int]] = {}
        with self.db.read_session() as s:
            keyword = KeywordIndex.search(s, query, pool, statuses)
            in_range: list[tuple[int, float]] = []
            if time_range is not None and st.recall_time_mode != "off":
                in_range = KeywordIndex.search(s, query, pool, statuses, time_range.start, time_range.end)
                if not in_range:  # "what did I do yesterday?": no topic words, so the period itself is the query
                    in_range = [(i, 0.0) for i in newest_in(s, time_range.start, time_range.end, statuses, pool)]
            dense = dense_job.result() if dense_job is not None else []
            meta = recall_rows(s, {i for i, _ in dense} | {i for i, _ in keyword} | {i for i, _ in in_range})
            allowed = {i for i, m in meta.items() if m.status in statuses and (kinds is None or m.kind in kinds)}
            dense = [(i, sim) for i, sim in dense if i in allowed][:pool]
            keyword = [(i, sc) for i, sc in keyword if i in allowed]
            in_range = [(i, sc) for i, sc in in_range if i in allowed]
            rankings = {"dense": [i for i, _ in dense], "keyword": [i for i, _ in keyword],
                        "in_range": [i for i, _ in in_range]}
            weights = {"dense": st.recall_weight_dense, "keyword": st.recall_weight_keyword,
                       "in_range": st.recall_weight_keyword, "expanded": st.recall_weight_expansion}
            fused = fusion.reciprocal_rank_fusion(rankings, weights)

            # Pseudo-relevance feedback: the best few texts lend their distinctive words to a second search.
            expanded: list[tuple[int, float]] = []
            added_terms: list[str] = []
            if st.recall_expansion_terms > 0 and st.recall_weight_expansion > 0 and fused:
                head = sorted(fused, key=lambda i: -fused[i])[:st.recall_expansion_docs]
                wider = sorted(fused, key=lambda i: -fused[i])[:FEEDBACK_POOL]
                added_terms = expansion_terms([meta[i].text for i in head], [meta[i].text for i in wider],
                                              query, st.recall_expansion_terms)
                added_terms = uncommon_terms(s, added_terms, st.recall_expansion_max_share)
                if added_terms:
                    expanded = KeywordIndex.search(s, query, pool, statuses, extra_terms=added_terms)
                    meta.update(recall_rows(s, {i for i, _ in expanded} - set(meta)))
                    allowed |= {i for i, _ in expanded if self._admit(meta.get(i), statuses, kinds)}
                    expanded = [(i, sc) for i, sc in expanded if i in allowed]
                    rankings["expanded"] = [i for i, _ in expanded]
                    fused = fusion.reciprocal_rank_fusion(rankings, weights)

            neighbours = self._neighbours(s, fused, meta, statuses, kinds)
        ranks = {name: {i: r for r, i in enumerate(ids, start=1)} for name, ids in rankings.items()}
        raw = {"dense_similarity": dict(dense), "bm25": dict(keyword)}

        with_context = fusion.spread_to_neighbours(fused, neighbours, st.recall_neighbour_weight)
        group_of = {i: meta[i].session_id for i in with_context}
        grouped, _ = fusion.group_boost(with_context, group_of, st.recall_session_weight)

        final: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        now_at, reference_at = utcnow().timestamp(), reference.timestamp()
        filtering = time_range is not None and st.recall_time_mode == "filter"
        named = set(query_terms(query))
        in_period = {i for i in grouped if time_range is not None and _within(time_range, meta[i].valid_at)}
        if filtering and in_period:  # a filter that would leave nothing falls back to the unfiltered list
            grouped = {i: v for i, v in grouped.items() if i in in_period}
        for i, score in grouped.items():
            m = meta[i]
            time_factor = 1.0 + (st.recall_time_boost if i in in_period and not filtering else 0.0)
            speaker_factor = 1.0 + (st.recall_speaker_boost if fusion.speaker(m.text) in named else 0.0)
            rec = fusion.recency((reference_at - m.valid_at) / DAY if m.valid_at is not None else 0.0,
                                 st.recall_recency_half_life_days)
            ret = 1.0 if m.pinned else retention((now_at - m.seen_at) / DAY, m.strength, m.importance,
                                                  st.forgetting_base_days)
            factor = fusion.rerank_factor(rec, ret, st.recall_recency_weight, st.recall_retention_weight)
            final[i] = score * time_factor * speaker_factor * factor
            parts[i] = {"rrf": fused.get(i, 0.0), "context": with_context[i] - fused.get(i, 0.0),
                        "session": score - with_context[i], "time_factor": time_factor,
                        "speaker_factor": speaker_factor, "recency": rec,
                        "retention": ret, "rerank_factor": factor}

        # The floor: what some retriever found on its own merits (a word of the question, a period asked about,
        # a close enough embedding), and the turns next to those.
        supported = ({i for name in ("keyword", "in_range", "expanded") for i in rankings.get(name, ())}
                     | {i for i, sim in dense if sim >= st.recall_min_similarity})
        supported |= {j for i in list(supported) for j in neighbours.get(i, ())}
        if include_weak:
            for i in final.keys() - supported:
                parts[i]["below_floor"] = 1.0
        else:
            final = {i: v for i, v in final.items() if i in supported}
        order = sorted(final, key=lambda i: (-final[i], i))
        # Diversify only the head: that is what a reader (or the prompt) sees, and it keeps MMR cheap.
        head = order[:min(max(2 * k, 20), MMR_HEAD)]
        if st.recall_mmr_lambda < 1.0 and len(head) > 1:
            head = fusion.mmr(head, final, self.vector_index.vectors(head), len(head), st.recall_mmr_lambda)
        chosen = (head + order[len(head):])[:k]

        rows = self.store.records(chosen)
        hits = []
        for position, i in enumerate(chosen, start=1):
            breakdown = dict(parts[i])
            for name in rankings:
                if i in ranks[name]:
                    breakdown[f"{name}_rank"] = ranks[name][i]
            for name, values in raw.items():
                if i in values:
                    breakdown[name] = values[i]
            breakdown.update(final=final[i], position=position)
            if added_terms:
                breakdown["expansion_terms"] = len(added_terms)
            hits.append(RecallHit(rows[i], final[i], breakdown))
        return hits

    # -- helpers ---------------------------------------------------------------------------------
    def _worker(self) -> ThreadPoolExecutor:
        with self._worker_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="secondme-dense-recall")
            return self._executor

    def close(self) -> None:
        with self._worker_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _dense(self, query: str, limit: int) -> list[tuple[int, float]]:
        return self.vector_index.query(self.embedder.embed([query])[0], limit)

    @staticmethod
    def _admit(m: RecallRow | None, statuses: Sequence[str], kinds: Sequence[str] | None) -> bool:
        return m is not None and m.status in statuses and (kinds is None or m.kind in kinds)

    def _neighbours(self, s: Session, fused: dict[int, float], meta: dict[int, RecallRow], statuses: Sequence[str],
                    kinds: Sequence[str] | None) -> dict[int, list[int]]:
        """Turns next to the best candidates in the same session, both ways.

        Turns of one session are written in order (record_turn appends, imports go turn by turn), so within a
        session, id order is turn order and the neighbours of id n are the session's ids nearest to n.
        """
        window = self.settings.recall_neighbour_window
        if window <= 0 or self.settings.recall_neighbour_weight <= 0:
            return {}
        head = [i for i in sorted(fused, key=lambda i: -fused[i])[:100] if meta[i].session_id is not None]
        wanted = {i + d for i in head for d in range(-window, window + 1) if d} - set(meta)
        meta.update(recall_rows(s, wanted))
        out: dict[int, list[int]] = {}
        for i in set(head) | {j for j in wanted if j in meta}:
            here = meta[i]
            if not self._admit(here, statuses, kinds) or here.session_id is None:
                continue
            around = [i + d for d in range(-window, window + 1)
                      if d and (i + d) in meta and meta[i + d].session_id == here.session_id
                      and self._admit(meta[i + d], statuses, kinds)]
            if around:
                out[i] = around
        return out

    def _resolve_event(self, time_range: TimeRange, statuses: tuple[str, ...], kinds: tuple[str, ...] | None,
                       reference: datetime) -> TimeRange | None:
        """"before I moved": find when the user moved by recalling that event, then anchor the range there."""
        hits = self._recall(time_range.event or "", 1, statuses, kinds, reference, None)
        if not hits or hits[0].memory.valid_from is None:
            return None
        return time_range.anchored(hits[0].memory.valid_from)


def _within(time_range: TimeRange, unix_seconds: float | None) -> bool:
    """TimeRange.contains for a time given in Unix seconds."""
    if unix_seconds is None:
        return False
    return ((time_range.start is None or unix_seconds >= time_range.start.timestamp())
            and (time_range.end is None or unix_seconds < time_range.end.timestamp()))
