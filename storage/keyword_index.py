"""Keyword search with SQLite FTS5 (BM25), living in the same database file as the memories.

Rows are keyed by memory id (the FTS rowid), so index writes share the memory's transaction.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

FTS_TABLE = "memory_fts"

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


class KeywordIndex:
    """All operations take the caller's session so they join its transaction."""

    @staticmethod
    def add(session: Session, memory_id: int, body: str) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": memory_id})
        session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (:id, :body)"), {"id": memory_id, "body": body})

    @staticmethod
    def add_new(session: Session, rows: Sequence[tuple[int, str]]) -> None:
        """add() for memories that were just created (no old entry to replace), in one statement."""
        if rows:
            session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (:id, :body)"),
                            [{"id": i, "body": b} for i, b in rows])

    @staticmethod
    def remove(session: Session, memory_ids: Iterable[int]) -> None:
        for memory_id in memory_ids:
            session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": memory_id})

    @staticmethod
    def purge_deleted_terms(session: Session) -> None:
        """FTS5 keeps a deleted row's terms in its segments until they merge; merging all of them drops them."""
        session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))

    @staticmethod
    def ids(session: Session) -> set[int]:
        return {row[0] for row in session.execute(text(f"SELECT rowid FROM {FTS_TABLE}"))}

    @staticmethod
    def clear(session: Session) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE}"))

    @staticmethod
    def search(session: Session, query: str, limit: int, statuses: Sequence[str]) -> list[tuple[int, float]]:
        """(memory id, BM25 score: higher is better) for memories in the given statuses."""
        terms = query_terms(query)
        if not terms:
            return []
        placeholders = ", ".join(f":s{i}" for i in range(len(statuses)))
        params = {f"s{i}": s for i, s in enumerate(statuses)}
        params.update(q=match_expression(terms), limit=limit)
        rows = session.execute(
            text(
                f"SELECT f.rowid, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} f "
                f"JOIN memories m ON m.id = f.rowid "
                f"WHERE {FTS_TABLE} MATCH :q AND m.status IN ({placeholders}) "
                f"ORDER BY rank LIMIT :limit"
            ),
            params,
        )
        return [(row[0], -row[1]) for row in rows]  # FTS5's bm25() is negative: smaller is better
