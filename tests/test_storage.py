from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session as OrmSession

from storage.db import Database
from storage.errors import UserError
from storage.keyword_index import KeywordIndex
from storage.models import JobRun, Memory, MemoryEvent, MemoryLink, Message, Session


def test_migrations_create_every_table_from_empty(tmp_path):
    db = Database(tmp_path / "x.db")
    assert db.schema_revision() is None
    db.migrate()
    assert db.schema_revision() == db.head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {"sessions", "messages", "memories", "memory_links", "memory_events", "job_runs",
            "vector_outbox", "memory_fts"} <= tables
    db.migrate()  # a second start-up is a no-op
    assert db.schema_revision() == db.head_revision()


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(tmp_path):
    db = Database(tmp_path / "x.db")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_round_trip_of_every_model(tmp_path):
    db = Database(tmp_path / "x.db")
    db.migrate()
    when = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    with db.session() as s:
        chat = Session(title="First")
        chat.messages.append(Message(role="user", text="My sister Ana is a nurse", created_at=when))
        s.add(chat)
        s.flush()
        a = Memory(kind="fact", text="Ana is a nurse", text_hash="h1", session_id=chat.id, slot_key="sister.job",
                   provenance={"message_ids": [chat.messages[0].id]}, valid_from=when, source="user")
        b = Memory(kind="episode", text="turn", text_hash="h2", source="assistant", trust=0.7)
        s.add_all([a, b])
        s.flush()
        s.add(MemoryLink(src_id=b.id, dst_id=a.id, kind="derived_from", score=0.9))
        s.add(MemoryEvent(memory_id=a.id, op="add", reason="test", payload={"after": {"status": "active"}}))
        s.add(JobRun(job="forgetting", status="ok", counts={"archived": 0}))
    with db.session() as s:
        a = s.scalars(select(Memory).where(Memory.slot_key == "sister.job")).one()
        assert a.valid_from == when and a.valid_from.tzinfo is not None
        assert a.status == "active" and a.pinned is False and a.recall_count == 0
        assert a.provenance["message_ids"] == [1]
        assert s.scalars(select(MemoryLink)).one().kind == "derived_from"
        assert s.scalars(select(MemoryEvent)).one().payload["after"]["status"] == "active"
        assert s.scalars(select(JobRun)).one().counts == {"archived": 0}
        assert s.get(Session, 1).messages[0].text == "My sister Ana is a nurse"


def test_database_from_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "x.db"
    db = Database(path)
    db.migrate()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    before = path.read_bytes()
    with pytest.raises(UserError, match="newer than this version"):
        Database(path).migrate()
    assert path.read_bytes() == before


def test_failed_unit_of_work_rolls_back(tmp_path):
    db = Database(tmp_path / "x.db")
    db.migrate()
    with pytest.raises(RuntimeError):
        with db.session() as s:
            s.add(Memory(kind="fact", text="half written", text_hash="h"))
            s.flush()
            raise RuntimeError("crash mid-transaction")
    with db.session() as s:
        assert s.scalars(select(Memory)).all() == []


def test_integrity_is_not_fooled_by_another_connections_fts5_cache(tmp_path):
    """SQLite's integrity_check reads FTS5 through the connection's cached index structure without checking that
    another connection has written since: on a pooled connection it reports a healthy index as damaged."""
    db = Database(tmp_path / "m.db", key=bytes(range(32)))
    db.migrate()
    with db.session() as s:
        s.add(Memory(kind="fact", text="hello world", text_hash="h1", status="active"))
    with db.session() as s:
        KeywordIndex.add(s, s.scalar(select(Memory.id)), "hello world")
    stale = db.engine.connect()  # reads FTS5 once, caching its structure
    stale.exec_driver_sql("SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'hello'").all()
    stale.rollback()
    writer = db.engine.connect()  # a second pooled connection writes while `stale` is checked out
    with OrmSession(bind=writer) as s:
        for i in range(2, 6):
            s.add(Memory(id=i, kind="fact", text="hello again", text_hash=f"h{i}", status="active"))
            s.flush()
            KeywordIndex.add(s, i, "hello again")
        s.commit()
    assert stale.exec_driver_sql("PRAGMA integrity_check").scalar() != "ok", \
        "SQLite now refreshes FTS5 before integrity_check; Database.integrity may use a pooled connection again"
    stale.rollback()
    stale.close()  # back in the pool, and the only idle connection there
    try:
        assert db.integrity() == "ok"
    finally:
        writer.close()
    db.dispose()
