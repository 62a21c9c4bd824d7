"""The keyword index finds a turn by the words of the turns around it, and keeps that context in step."""

from __future__ import annotations

from sqlalchemy import text

from storage.keyword_index import KeywordIndex
from storage.models import Memory
from storage.models import Session as ChatSession
from storage.records import NewMemory

TURNS = ["Caroline: What did you name the new puppy?",
         "Melanie: Biscuit! She already chews every shoe in the hallway.",
         "Caroline: Ha, mine did the same with slippers when she was little."]


def _session_turns(app, turns=TURNS) -> list[int]:
    with app.db.session() as s:
        chat = ChatSession(title="chat")
        s.add(chat)
        s.flush()
        session_id = chat.id
    records = app.memory.remember_many([NewMemory(t, kind="episode", session_id=session_id) for t in turns])
    return [r.id for r in records]


def _found(app, query: str) -> list[int]:
    with app.db.session() as s:
        return [i for i, _ in KeywordIndex.search(s, query, 10, ("active",))]


def test_a_turn_is_found_by_the_words_around_it_but_its_own_words_count_more(app):
    first, second, third = _session_turns(app)
    loner = app.memory.remember("A puppy class starts on Monday").id  # no session: no context
    found = _found(app, "puppy")
    assert set(found) == {loner, first, second}  # the answer "Biscuit!" is found by its question's words
    assert found.index(first) < found.index(second)  # but a turn's own words count more
    assert _found(app, "hallway") == [second, first, third]
    assert _found(app, "slippers") == [third, second]
    hits = app.memory.recall("What is the name of the puppy?", k=3)
    assert second in [h.memory.id for h in hits]


def test_an_edited_turn_changes_its_neighbours_context(app):
    first, second, third = _session_turns(app)
    app.memory.update_text(second, "Melanie: Pretzel! He sleeps all day on the sofa.")
    assert _found(app, "hallway") == []
    assert _found(app, "sofa") == [second, first, third]


def test_a_purged_turn_leaves_no_trace_in_its_neighbours(app):
    first, second, third = _session_turns(app)
    app.memory.delete(second)
    assert _found(app, "hallway") == [] and _found(app, "biscuit") == []
    assert _found(app, "slippers") == [third, first]  # the turns on either side are now each other's context
    app.memory.forget(third)  # archived, not purged: still held, so still context for its neighbour
    assert _found(app, "slippers") == [first]


def test_reindex_and_repair_rebuild_the_context(app):
    first, second, third = _session_turns(app)
    app.memory.reindex()
    assert _found(app, "hallway") == [second, first, third]
    with app.db.session() as s:
        KeywordIndex.remove(s, [second])  # its own row is gone; the memory itself is still held
    assert _found(app, "hallway") == [first, third]
    assert app.memory.repair_indexes()["fts_missing"] == 1
    assert _found(app, "hallway") == [second, first, third]


def test_migration_gives_turns_stored_before_it_their_context(tmp_path):
    from alembic import command

    from storage.db import Database, alembic_config

    db = Database(tmp_path / "x.db")
    command.upgrade(alembic_config(db.engine), "0003")
    with db.session() as s:  # turns as a version before the context column wrote them
        chat = ChatSession(title="chat")
        s.add(chat)
        s.flush()
        for i, body in enumerate(TURNS, start=1):
            s.add(Memory(id=i, kind="episode", text=body, text_hash=f"h{i}", session_id=chat.id))
            s.flush()
            s.execute(text("INSERT INTO memory_fts (rowid, body) VALUES (:i, :t)"), {"i": i, "t": body})
    db.migrate()
    with db.session() as s:
        assert [i for i, _ in KeywordIndex.search(s, "hallway", 10, ("active",))] == [2, 1, 3]
    command.downgrade(alembic_config(db.engine), "0003")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'hallway'")).all() == [(2,)]
