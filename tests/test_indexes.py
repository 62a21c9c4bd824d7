"""FTS5 and Chroma are derived from SQLite and must always agree with it, crash or not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.keyword_index import KeywordIndex
from storage.models import VectorOutbox


def test_remember_writes_sqlite_fts_and_chroma(app):
    m = app.memory.remember("My sister Ana is a nurse in Porto")
    report = app.memory.index_report()
    assert report["memories"] == 1 and report["pending_vector_writes"] == 0
    assert not any(report[k] for k in ("fts_missing", "fts_extra", "vector_missing", "vector_extra"))
    assert app.vector_index.ids() == {m.id}


def test_crash_between_sqlite_commit_and_vector_write_loses_nothing(app, embedder, monkeypatch):
    def crash(*_a, **_k):
        raise RuntimeError("power cut")

    with monkeypatch.context() as m, pytest.raises(RuntimeError):
        m.setattr(app.vector_index, "upsert", crash)
        app.memory.remember("The spare key is under the blue flower pot")
    # The memory is committed and the promised vector write is on record.
    with app.db.session() as s:
        assert [o.memory_id for o in s.scalars(select(VectorOutbox))] == [1]
    assert app.memory.index_report()["vector_missing"] == [1]

    # A fresh process (new App on the same home) repairs the index on its first recall.
    from assistant.app import App

    again = App(embedder=embedder)
    hits = again.memory.recall("where is the spare key")
    assert hits[0].memory.id == 1
    report = again.memory.index_report()
    assert report["vector_missing"] == [] and report["pending_vector_writes"] == 0


def test_repair_fixes_an_index_that_lost_or_kept_entries(app):
    a = app.memory.remember("I play the cello on Sundays")
    b = app.memory.remember("My dentist is Dr. Silva")
    app.vector_index.delete([a.id])
    app.vector_index.upsert([999], app.embedder.embed(["ghost"]))
    with app.db.session() as s:
        KeywordIndex.remove(s, [b.id])
    report = app.memory.index_report()
    assert report["vector_missing"] == [a.id] and report["vector_extra"] == [999] and report["fts_missing"] == [b.id]
    app.memory.repair_indexes()
    report = app.memory.index_report()
    assert not any(report[k] for k in ("fts_missing", "fts_extra", "vector_missing", "vector_extra"))


def test_reindex_rebuilds_both_indexes_from_sqlite(app):
    for t in ["I like green tea", "My cat is called Miso", "I work at a bakery"]:
        app.memory.remember(t)
    app.vector_index.clear()
    with app.db.session() as s:
        KeywordIndex.clear(s)
    assert app.memory.recall("cat name") == [] or app.memory.index_report()["vector_missing"]
    assert app.memory.reindex() == 3
    assert app.memory.recall("what is my cat called", k=1)[0].memory.text == "My cat is called Miso"


def test_delete_purges_text_from_every_store(app):
    m = app.memory.remember("My bank PIN hint is the dog's birthday")
    app.memory.delete(m.id)
    with app.db.session() as s:
        assert KeywordIndex.ids(s) == set()
    assert app.vector_index.ids() == set()
    record = app.memory.get(m.id)
    assert record.status == "deleted" and record.text == ""
    assert app.memory.recall("bank PIN hint") == []
    assert all("birthday" not in str(e["payload"]) for e in app.memory.events(m.id))
    # Not even in freed pages or the write-ahead log.
    raw = b"".join(p.read_bytes() for p in app.settings.home.glob("secondme.db*"))
    assert b"birthday" not in raw


def test_archived_memories_leave_default_recall_but_stay_restorable(app):
    m = app.memory.remember("I used to live in Lyon")
    app.memory.forget(m.id)
    assert app.memory.recall("where did I live") == []
    assert app.memory.recall("where did I live", statuses=("active", "archived"))[0].memory.id == m.id
    app.memory.restore(m.id)
    assert app.memory.recall("where did I live")[0].memory.id == m.id
    ops = [e["op"] for e in app.memory.events(m.id)]
    assert ops == ["add", "forget", "restore"]


def test_fts_query_syntax_in_user_text_is_plain_words(app):
    app.memory.remember('He said "NEAR" OR * AND ( is fine')
    for q in ['"', "*", "NEAR(", "OR", "AND (", "a\"b", "-x"]:
        app.memory.recall(q)  # must not raise an FTS5 syntax error
    assert app.memory.recall("NEAR OR")[0].memory.text.startswith("He said")


def test_a_damaged_keyword_index_is_detected_and_reindex_repairs_it(app):
    from sqlalchemy import text

    app.memory.remember("The boat is moored at pier seven")
    with app.db.session() as s:
        assert KeywordIndex.integrity_problem(s) is None
        # Content that FTS5's index never saw: what the known concurrency bug leaves behind.
        s.execute(text("UPDATE memory_fts_content SET c0 = 'something else entirely' WHERE id = 1"))
    with app.db.session() as s:
        assert KeywordIndex.integrity_problem(s)  # FTS5 says "database disk image is malformed"
    app.memory.reindex()
    with app.db.session() as s:
        assert KeywordIndex.integrity_problem(s) is None
    assert app.memory.recall("where is the boat moored")[0].memory.text.startswith("The boat")


def test_reindex_reports_progress_per_batch(app):
    for t in ["I like green tea", "My cat is called Miso", "I work at a bakery"]:
        app.memory.remember(t)
    seen: list[tuple[int, int]] = []
    assert app.memory.reindex(batch=2, progress=lambda done, total: seen.append((done, total))) == 3
    assert seen == [(0, 3), (2, 3), (3, 3)]
