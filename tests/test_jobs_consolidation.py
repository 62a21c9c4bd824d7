"""Consolidation on the real stack (SQLite, Chroma, the ONNX embedder): merge, summaries, links, re-embedding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from storage.models import Memory, MemoryLink, Session
from tests.jobs_helpers import ScriptedLLM, snapshot


@pytest.fixture(autouse=True)
def _no_chat_model(app):
    """These tests cover the jobs' own logic: no real chat model (it has its own end-to-end test)."""
    app.jobs.load_model = None


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _links(app, kind):
    with app.db.session() as s:
        return [(link.src_id, link.dst_id, link.score)
                for link in s.scalars(select(MemoryLink).where(MemoryLink.kind == kind))]


def test_near_duplicates_merge_keeping_provenance_and_a_second_run_changes_nothing(app):
    a = app.memory.remember("I volunteer as a tutor at the city library.", provenance={"message_ids": [1]})
    # cosine 0.93: below the write path's near-duplicate bar, so both were stored
    b = app.memory.remember("I am volunteering as a tutor at the city library.", source="api",
                            provenance={"message_ids": [7]})
    negated = app.memory.remember("I am not volunteering as a tutor at the city library.")
    moved = app.memory.remember("We moved to Porto in 2019.")
    moved_again = app.memory.remember("We moved to Porto in 2021.")  # close vectors, different fact: kept apart

    result = app.jobs.run("consolidation")
    assert result.counts["merged"] == 1
    kept, gone = app.memory.get(a.id), app.memory.get(b.id)
    assert (kept.status, gone.status) == ("active", "archived")  # the more trusted (user) one stays
    assert kept.provenance["message_ids"] == [1]
    assert kept.provenance["merged_from"][0]["id"] == b.id
    assert kept.provenance["merged_from"][0]["provenance"] == {"message_ids": [7]}
    assert [(src, dst) for src, dst, _ in _links(app, "merged_into")] == [(b.id, a.id)]
    # "link": the negated statement written after it was linked to it as a contradiction
    assert [e["op"] for e in app.memory.events(b.id)] == ["add", "link", "merge"]
    assert "near-duplicate" in app.memory.events(b.id)[-1]["reason"]
    assert b.id not in [h.memory.id for h in app.memory.recall("tutor city library")]
    for other in (moved, moved_again, negated):
        assert app.memory.get(other.id).status == "active"

    before = snapshot(app)
    again = app.jobs.run("consolidation")
    assert again.changed == 0 and again.changes == []
    assert snapshot(app) == before


def test_related_memories_are_linked_with_their_similarity(app):
    app.settings.related_similarity = 0.4
    x = app.memory.remember("My daughter Lia plays the violin in the school orchestra.")
    y = app.memory.remember("Lia practises the violin every evening before dinner.")
    app.memory.remember("The car needs new tyres before winter.")
    app.jobs.run("consolidation")
    related = _links(app, "related")
    assert any({src, dst} == {x.id, y.id} and score >= 0.4 for src, dst, score in related)
    assert all(score >= 0.4 for _, _, score in related)


def _chat_session(app, turns):
    with app.db.session() as s:
        row = Session(title="chat")
        s.add(row)
        s.flush()
        session_id = row.id
    return session_id, [app.memory.record_turn(session_id, u, a, [i]) for i, (u, a) in enumerate(turns)]


TURNS = [
    ("I adopted a puppy called Biscuit last weekend.", "Congratulations on Biscuit!"),
    ("Biscuit is a beagle and he chews my shoes.", "Beagles love chewing."),
    ("I take Biscuit to the park every morning.", "Morning walks are great for a beagle."),
]


def test_finished_sessions_get_an_extractive_summary_without_a_model(app):
    with time_machine.travel(T0, tick=False):
        session_id, episodes = _chat_session(app, TURNS)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        assert app.jobs.run("consolidation").counts["summaries"] == 0  # still going on
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        result = app.jobs.run("consolidation")
        assert result.counts["summaries"] == 1
        summary = app.memory.list(kind="summary")[0]
        assert summary.session_id == session_id and summary.provenance["method"] == "extractive"
        assert "Biscuit" in summary.text and summary.text.startswith("Conversation on 2 March 2026")
        assert sorted(dst for src, dst, _ in _links(app, "derived_from") if src == summary.id) == \
            sorted(e.id for e in episodes)
        before = snapshot(app)
        assert app.jobs.run("consolidation").changed == 0
        assert snapshot(app) == before


def test_summary_from_the_model_is_used_when_the_session_supports_it(app):
    llm = ScriptedLLM({"summary": "The user adopted a beagle puppy called Biscuit and walks him in the park."})
    llm_for_jobs = llm
    app.jobs.load_model = lambda: llm_for_jobs
    with time_machine.travel(T0, tick=False):
        _chat_session(app, TURNS)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        app.jobs.run("consolidation")
    summary = app.memory.list(kind="summary")[0]
    assert summary.provenance["method"] == "llm"
    assert "beagle puppy called Biscuit" in summary.text
    assert llm.calls[0]["schema"]["properties"]["summary"]["maxLength"] <= 400


def test_invented_summary_is_rejected_for_the_extractive_one(app):
    llm_for_jobs = ScriptedLLM({"summary": "The user bought a red sports car and flew to Tokyo for sushi."})
    app.jobs.load_model = lambda: llm_for_jobs
    with time_machine.travel(T0, tick=False):
        _chat_session(app, TURNS)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        result = app.jobs.run("consolidation")
    summary = app.memory.list(kind="summary")[0]
    assert summary.provenance["method"] == "extractive-fallback" and "Tokyo" not in summary.text
    assert result.counts["_summary_llm_rejected"] == 1


def test_new_turns_in_a_summarised_session_replace_its_summary(app):
    with time_machine.travel(T0, tick=False):
        session_id, _ = _chat_session(app, TURNS[:2])
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        app.jobs.run("consolidation")
        first = app.memory.list(kind="summary")[0]
        app.memory.record_turn(session_id, TURNS[2][0], TURNS[2][1], [9])
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        assert app.jobs.run("consolidation").counts["summaries"] == 1
    assert app.memory.get(first.id).status == "superseded"
    assert len(app.memory.list(kind="summary")) == 1


def test_stale_embeddings_are_recomputed(app):
    m = app.memory.remember("The garden gate code is 4471.")
    with app.db.session() as s:
        s.get(Memory, m.id).embedding_model = "an-older-embedder"
    assert app.memory.stale_embedding_count() == 1
    assert app.jobs.run("consolidation").counts["reembedded"] == 1
    assert app.memory.stale_embedding_count() == 0


def test_dry_run_changes_nothing(app):
    app.memory.remember("I volunteer as a tutor at the city library.")
    app.memory.remember("I am volunteering as a tutor at the city library.")
    with time_machine.travel(T0, tick=False):
        _chat_session(app, TURNS)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        before = snapshot(app)
        plan = app.jobs.run("consolidation", dry_run=True)
        assert plan.counts["merged"] == 1 and plan.counts["summaries"] == 1
        assert all(line.startswith("would") for line in plan.changes)
        assert snapshot(app) == before
        done = app.jobs.run("consolidation")  # the dry run did not move the watermark
        assert done.counts["merged"] == 1 and done.counts["summaries"] == 1


def test_undo_reverses_a_whole_consolidation_run(app):
    a = app.memory.remember("I volunteer as a tutor at the city library.")
    b = app.memory.remember("I am volunteering as a tutor at the city library.")
    assert app.jobs.run("consolidation").counts["merged"] == 1
    undone = app.memory.undo()
    assert {e["memory_id"] for e in undone["events"] if e["change"] == "reversed"} == {a.id, b.id}
    assert app.memory.get(b.id).status == "active"
