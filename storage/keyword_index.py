"""Keyword search with SQLite FTS5 (BM25), living in the same database file as the memories.

Rows are keyed by memory id (the FTS rowid), so index writes share the memory's transaction.

Each row has two columns: `body`, the memory's own text, and `context`, for an episode of a session the text of
the episodes just before and after it. A turn is often understood only with its neighbours ("Yes, last Friday!"
answers the question before it; "What was it about?" is answered by the turn after it), so a turn is also found
by the words around it, at CONTEXT_WEIGHT of the weight of its own words. The context follows its neighbours:
adding, changing or deleting a turn rewrites the context of the turns next to it, so a purged text leaves no
trace in the index.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.timeutil import as_utc

FTS_TABLE = "memory_fts"
# On LoCoMo (benchmarks/locomo_retrieval.py) BM25 alone over turns with context at 0.3 and 0.5 beats 0 by 6-7
# points of turn recall@10; 0.5 was a little better on the tuning half and is used.
CONTEXT_WEIGHT = 0.5
# Narrowed keyword queries (see _narrowed_matches): a word held by more than COMMON_SHARE of the rows is common,
# by more than EVERYDAY_SHARE an everyday word; stores under NARROW_MIN_ROWS rows, or questions with more than
# NARROW_MAX_COMMON common words, use plain OR. Measured at 100k memories: with 4-7 common words, matching any
# two ran 1.5-2x faster than plain OR, any three 2-5x; with 10, the 45 pairs ran slower than plain OR.
NARROW_MIN_ROWS = 20_000
COMMON_SHARE = 0.01
EVERYDAY_SHARE = 0.10
SAMPLE_ROWS = 5_000
NARROW_MAX_COMMON = 6
# The nearest other episode of the same session before (<) or after (>) memory m, still held (not purged).
_ADJACENT = ("SELECT a.{col} FROM memories a WHERE a.session_id = m.session_id AND a.kind = 'episode' "
             "AND a.status != 'deleted' AND a.id {op} m.id ORDER BY a.id {order} LIMIT 1")
_BEFORE, _AFTER = dict(op="<", order="DESC"), dict(op=">", order="ASC")
_AROUND_SQL = (f"SELECT m.id, ({_ADJACENT.format(col='id', **_BEFORE)}), ({_ADJACENT.format(col='text', **_BEFORE)}), "
               f"({_ADJACENT.format(col='id', **_AFTER)}), ({_ADJACENT.format(col='text', **_AFTER)}) "
               "FROM memories m WHERE m.id IN ({ids}) AND m.kind = 'episode' AND m.session_id IS NOT NULL")

# Words that carry no meaning for BM25 here. Kept short on purpose: "not", "never" and pronouns
# are left in elsewhere (conflict checks), this list only shapes keyword recall.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t don d ll m o re ve y""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(query: str) -> list[str]:
    """The words of a query worth matching: no stop words, no duplicates, order kept."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    if not seen:  # a query of only stop words still deserves an answer
        seen = dict.fromkeys(_WORD.findall(query.lower()))
    return list(seen)


def match_expression(terms: Sequence[str]) -> str:
    # Quoting each term makes FTS5 syntax in user text ("NEAR", "*", "OR", quotes) plain words.
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def sql_time(moment: datetime) -> str:
    """A datetime in the text form SQLAlchemy stores in SQLite, so raw SQL compares like with like."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f")


class KeywordIndex:
    """All operations take the caller's session so they join its transaction."""

    @staticmethod
    def add(session: Session, memory_id: int, body: str) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": memory_id})
        KeywordIndex.add_new(session, [(memory_id, body)])

    @staticmethod
    def add_new(session: Session, rows: Sequence[tuple[int, str]]) -> None:
        """add() for memories that were just created (no old entry to replace), in one insert; then the turns
        next to them get their context rewritten, since it now holds these texts."""
        if not rows:
            return
        session.flush()  # the context is read from the memories table
        around = _around(session, [i for i, _ in rows])
        session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, body, context) VALUES (:id, :body, :context)"),
                        [{"id": i, "body": b, "context": around[i][1] if i in around else ""} for i, b in rows])
        _refresh_context(session, {n for adjacent, _ in around.values() for n in adjacent} - {i for i, _ in rows})

    @staticmethod
    def remove(session: Session, memory_ids: Iterable[int]) -> None:
        ids = list(memory_ids)
        session.flush()  # a purged memory is already marked deleted, so it is no neighbour's context any more
        neighbours = {n for adjacent, _ in _around(session, ids).values() for n in adjacent} - set(ids)
        for memory_id in ids:
            session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": memory_id})
        _refresh_context(session, neighbours)

    @staticmethod
    def purge_deleted_terms(session: Session) -> None:
        """FTS5 keeps a deleted row's terms in its segments until they merge; merging all of them drops them."""
        session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))

    @staticmethod
    def integrity_problem(session: Session) -> str | None:
        """None when FTS5's index matches its content, else what FTS5 says (quick_check does not look here)."""
        from sqlalchemy.exc import DatabaseError

        try:
            session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')"))
        except DatabaseError as exc:
            return str(exc.orig)
        return None

    @staticmethod
    def ids(session: Session) -> set[int]:
        return {row[0] for row in session.execute(text(f"SELECT rowid FROM {FTS_TABLE}"))}

    @staticmethod
    def clear(session: Session) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE}"))
        # Deleting removes each row's terms as FTS5 believes them; a damaged index keeps stale ones. Rebuilding
        # from the (now empty) content resets the index itself.
        session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))

    @staticmethod
    def search(session: Session, query: str, limit: int, statuses: Sequence[str],
               valid_from: datetime | None = None, valid_before: datetime | None = None,
               extra_terms: Sequence[str] = (), narrow: bool = True) -> list[tuple[int, float]]:
        """(memory id, BM25 score: higher is better) for memories in the given statuses.

        `valid_from` / `valid_before` keep only memories whose valid time falls in that range (time-aware
        recall); `extra_terms` are added to the query's own words (query expansion). `narrow=False` ranks
        every row holding any of the words, even in a large store (see _narrowed_matches).

        FTS5 ranks its matches alone fastest (`ORDER BY rank LIMIT n` is its built-in top-n); joining every
        match to `memories` to check its status first costs one row lookup per match, tens of thousands for
        common words in a large store. So the best matches are ranked first and then checked, asking FTS5 for
        more only when too few pass.
        """
        terms = query_terms(query)
        terms += [t for t in extra_terms if t not in terms]
        if not terms or not statuses:
            return []
        span = None
        if valid_from is not None or valid_before is not None:
            span = _id_span(session, valid_from, valid_before)
            if span is None:
                return []
        # Narrowest first: a narrowed match that runs out of rows before `limit` gives way to a wider one.
        matches = (_narrowed_matches(session, terms, span) if narrow else []) + [match_expression(terms)]
        for match in matches:
            fetch = 2 * limit
            while True:
                ranked = _ranked(session, match, fetch, span)
                passing = _passing(session, [i for i, _ in ranked], statuses, valid_from, valid_before)
                found = [(i, score) for i, score in ranked if i in passing][:limit]
                if len(found) >= limit or len(ranked) < fetch:
                    break
                fetch *= 4
            if len(found) >= limit:
                break
        return found


def uncommon_terms(session: Session, terms: Sequence[str], max_share: float) -> list[str]:
    """The terms found in at most `max_share` of the keyword index's rows (judged as in word_shares).

    A query's cost in FTS5 is BM25 over every row it matches: one everyday word added by query expansion can
    match most of a large store.
    """
    if max_share >= 1.0 or not terms:
        return list(terms)
    share = word_shares(session, terms)
    return [t for t in terms if share[t] <= max_share]


def word_shares(session: Session, terms: Sequence[str]) -> dict[str, float]:
    """The share of rows holding each term, judged on the newest SAMPLE_ROWS rows.

    Counting every row holding a common word costs about as much as searching for it, which is what the
    callers are trying to avoid; a rowid range is cheap for FTS5. max(rowid) stands in for the row count.
    """
    newest = session.execute(text(f"SELECT max(rowid) FROM {FTS_TABLE}")).scalar() or 0
    sampled = max(1, min(SAMPLE_ROWS, newest))
    in_sample = text(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q AND rowid > :first")
    return {t: (session.execute(in_sample, {"q": match_expression([t]), "first": newest - sampled}).scalar() or 0)
            / sampled for t in terms}


def _narrowed_matches(session: Session, terms: Sequence[str], span: tuple[int, int] | None = None) -> list[str]:
    """For a large store, FTS5 expressions that leave out rows holding few of the query's common words.

    FTS5 scores (BM25) every row an OR query matches, about 1.5 µs each. When each of a question's words is
    held by many memories ("When did Anna go hiking in Lisbon?" at 100k memories), that is tens of thousands
    of rows, nearly all holding one of the words and ranked far below the rows that hold several. So the
    search first matches "any rare word, or any three of the common ones", then "... any two", and only then
    plain OR, each time going wider only if the narrower match ran out of rows. BM25 counts a common word once
    per group it matched in, so a row's score also grows with how many of the question's words it holds,
    which is the order plain BM25 gives where that decides the ranking (benchmarks/profile_recall.py reports
    how often the top results agree). With many common words the groups cost more than they save, so then,
    and for small stores (or periods), the list is empty and the plain OR query runs.
    """
    if len(terms) < 2:
        return []
    rows = session.execute(text(f"SELECT max(rowid) FROM {FTS_TABLE}")).scalar() or 0
    if span is not None:
        rows = min(rows, span[1] - span[0] + 1)
    if rows < NARROW_MIN_ROWS:
        return []
    share = word_shares(session, terms)
    # A word in a large share of the rows weighs little in BM25 (FTS5 gives it no weight at all past half of
    # them), so it must not count as one of the words a row holds: the narrowed matches leave it out.
    common = [t for t in terms if COMMON_SHARE < share[t] <= EVERYDAY_SHARE]
    if not 2 <= len(common) <= NARROW_MAX_COMMON:
        return []
    rare = [match_expression([t]) for t in terms if share[t] <= COMMON_SHARE]
    return [" OR ".join(rare + ["(" + " AND ".join(match_expression([t]) for t in group) + ")"
                               for group in itertools.combinations(common, size)])
            for size in range(min(3, len(common)), 1, -1)]


def _ranked(session: Session, match: str, limit: int, span: tuple[int, int] | None) -> list[tuple[int, float]]:
    """The best `limit` FTS5 matches (rowid, BM25 score: higher is better), optionally within a rowid span."""
    # `rank MATCH` sets this query's ranking function: BM25 with the context column at CONTEXT_WEIGHT.
    where = f"{FTS_TABLE} MATCH :q AND rank MATCH 'bm25(1.0, {float(CONTEXT_WEIGHT)})'"
    params = {"q": match, "limit": limit}
    if span is not None:
        where += " AND rowid BETWEEN :lo AND :hi"
        params.update(lo=span[0], hi=span[1])
    rows = session.execute(
        text(f"SELECT rowid, rank FROM {FTS_TABLE} WHERE {where} ORDER BY rank LIMIT :limit"),
        params)
    return [(row[0], -row[1]) for row in rows]  # FTS5's bm25() is negative: smaller is better


def _id_span(session: Session, valid_from: datetime | None, valid_before: datetime | None) -> tuple[int, int] | None:
    """The lowest and highest memory id valid in the period, or None when none is.

    Memories are mostly written in the order they happen, so a period's memories sit in a narrow id span that
    FTS5 can search on its own (rowid ranges are cheap for it); out-of-order imports only widen the span.
    """
    where, params = [], {}
    if valid_from is not None:
        where.append("valid_from >= :vf")
        params["vf"] = sql_time(valid_from)
    if valid_before is not None:
        where.append("valid_from < :vb")
        params["vb"] = sql_time(valid_before)
    lo, hi = session.execute(text(f"SELECT min(id), max(id) FROM memories WHERE {' AND '.join(where)}"),
                             params).one()
    return None if lo is None else (lo, hi)


def _passing(session: Session, ids: Sequence[int], statuses: Sequence[str], valid_from: datetime | None,
             valid_before: datetime | None) -> set[int]:
    """Those of `ids` whose memory has one of `statuses` and, where given, a valid time in the period."""
    if not ids:
        return set()
    params: dict[str, object] = {f"s{i}": s for i, s in enumerate(statuses)}
    where = f"status IN ({', '.join(f':s{i}' for i in range(len(statuses)))})"
    if valid_from is not None:
        where += " AND valid_from >= :vf"
        params["vf"] = sql_time(valid_from)
    if valid_before is not None:
        where += " AND valid_from < :vb"
        params["vb"] = sql_time(valid_before)
    # The ids are FTS5 rowids (integers), written into the statement: hundreds of bound parameters cost more
    # to bind than the lookups themselves, and SQLite caps their number.
    id_list = ",".join(str(int(i)) for i in ids)
    return {row[0] for row in session.execute(text(f"SELECT id FROM memories WHERE id IN ({id_list}) AND {where}"),
                                              params)}


def _around(session: Session, ids: Sequence[int]) -> dict[int, tuple[tuple[int, ...], str]]:
    """{episode id: ((ids of the episodes next to it), their texts as its context)} for episodes of a session."""
    out: dict[int, tuple[tuple[int, ...], str]] = {}
    for start in range(0, len(ids), 900):  # SQLite caps the number of bound parameters
        chunk = ids[start:start + 900]
        params = {f"i{n}": i for n, i in enumerate(chunk)}
        for i, before, before_text, after, after_text in session.execute(
                text(_AROUND_SQL.format(ids=", ".join(f":{k}" for k in params))), params):
            out[i] = (tuple(n for n in (before, after) if n is not None), f"{before_text or ''}\n{after_text or ''}")
    return out


def _refresh_context(session: Session, ids: Iterable[int]) -> None:
    """Rewrite the context of these (already indexed) episodes from their current neighbours."""
    around = _around(session, list(ids))
    if around:
        session.execute(text(f"UPDATE {FTS_TABLE} SET context = :context WHERE rowid = :id"),
                        [{"id": i, "context": context} for i, (_, context) in around.items()])


def expansion_terms(feedback: Sequence[str], pool: Sequence[str], query: str, n: int) -> list[str]:
    """Pseudo-relevance feedback: words common in the best few texts but rare in the wider candidate pool.

    score(w) = (feedback texts holding w) * log((pool size + 1) / (pool texts holding w + 0.5)). Words of the
    query itself, stop words, numbers and very short words are left out.
    """
    if n <= 0 or not feedback:
        return []
    asked = set(query_terms(query))
    pool_df: dict[str, int] = {}
    for body in pool:
        for w in set(_WORD.findall(body.lower())):
            pool_df[w] = pool_df.get(w, 0) + 1
    feedback_df: dict[str, int] = {}
    for body in feedback:
        for w in set(_WORD.findall(body.lower())):
            if len(w) > 2 and not w.isdigit() and w not in STOP_WORDS and w not in asked:
                feedback_df[w] = feedback_df.get(w, 0) + 1
    size = len(pool)
    scored = {w: c * math.log((size + 1) / (pool_df.get(w, 0) + 0.5)) for w, c in feedback_df.items()}
    return [w for w, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
