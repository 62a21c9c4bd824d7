"""Reflection with a scripted model (unit level): citations, the support check, profile upkeep."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.llm.protocol import LLMError
from storage.models import Memory, MemoryLink
from tests.jobs_helpers import ScriptedLLM, snapshot


@pytest.fixture(autouse=True)
def _no_chat_model(app):
    """These tests cover the jobs' own logic: no real chat model (it has its own end-to-end test)."""
    app.settings.jobs_use_llm = False


FACTS = [
    "I work as a nurse at Lisbon city hospital.",
    "My sister Ana lives in Porto with her two cats.",
    "I go running by the river every Sunday morning.",
    "I want to run a marathon next year.",
]


def _note_number(messages, text):
    """The number the prompt gave the note containing `text` (the model sees numbers, not ids)."""
    for line in messages[-1]["content"].splitlines():
        if text in line:
            return int(line[1:line.index("]")])
    raise AssertionError(text)


def _profile_answer(messages):
    n = lambda t: _note_number(messages, t)  # noqa: E731
    return {"items": [
        {"section": "work", "text": "Works as a nurse at Lisbon city hospital", "sources": [n("nurse")]},
        {"section": "people", "text": "Sister Ana lives in Porto", "sources": [n("Ana")]},
        {"section": "goals", "text": "Wants to run a marathon", "sources": [n("marathon")]},
        {"section": "places", "text": "Owns a yacht in Monaco", "sources": [n("nurse")]},  # invented
        {"section": "routines", "text": "Runs by the river on Sundays", "sources": [99]},  # no such note
    ]}


def _thought_answer(messages):
    n = lambda t: _note_number(messages, t)  # noqa: E731
    return {"items": [
        {"text": "Running matters to the user: Sunday river runs and a marathon goal",
         "sources": [n("Sunday"), n("marathon")]},
        {"text": "The user secretly dislikes hospitals", "sources": [n("nurse")]},  # unsupported
    ]}


def _derived(app, memory_id):
    with app.db.session() as s:
        return sorted(s.scalars(select(MemoryLink.dst_id).where(
            MemoryLink.src_id == memory_id, MemoryLink.kind == "derived_from")))


def test_reflection_writes_cited_profile_lines_and_thoughts_and_drops_the_unsupported(app):
    facts = [app.memory.remember(t) for t in FACTS]
    llm = ScriptedLLM(_profile_answer, _thought_answer)
    app.jobs._llm_override = llm
    result = app.jobs.run("reflection")
    assert result.counts["profile_added"] == 3 and result.counts["thoughts"] == 1
    assert result.counts["dropped_unsupported"] == 3
    lines = app.jobs.profile_lines()
    assert {line["section"] for line in lines} == {"work", "people", "goals"}
    with app.db.session() as s:
        status = {m.id: m.status for m in s.scalars(select(Memory))}
    for line in lines:  # every line cites at least one active memory
        assert line["sources"] and all(status[i] == "active" for i in line["sources"])
    thought = app.memory.list(kind="thought")[0]
    assert _derived(app, thought.id) == sorted([facts[2].id, facts[3].id])
    text = app.jobs.profile_text()
    assert text.splitlines()[0] == "## People" and f"[#{facts[0].id}]" in text
    assert "yacht" not in text and "hospitals" not in thought.text
    assert llm.calls[0]["schema"]["properties"]["items"]["maxItems"] == app.settings.profile_max_lines


def test_a_superseded_fact_leaves_the_profile_on_the_next_run(app):
    facts = [app.memory.remember(t) for t in FACTS]
    app.jobs._llm_override = ScriptedLLM(_profile_answer, _thought_answer)
    app.jobs.run("reflection")
    with app.db.session() as s:  # what the write path does when a newer fact replaces this one
        s.get(Memory, facts[1].id).status = "superseded"
    app.jobs._llm_override = ScriptedLLM(LLMError("model down"), LLMError("model down"))
    result = app.jobs.run("reflection")
    assert result.counts["profile_removed"] == 1
    assert "Ana" not in app.jobs.profile_text()
    assert "Lisbon" in app.jobs.profile_text()


def test_repeated_reflection_does_not_duplicate_lines(app):
    for t in FACTS:
        app.memory.remember(t)
    app.jobs._llm_override = ScriptedLLM(_profile_answer, _thought_answer, _profile_answer, _thought_answer)
    app.jobs.run("reflection")
    before = snapshot(app)
    again = app.jobs.run("reflection")
    assert again.counts["profile_added"] == 0 and again.counts["thoughts"] == 0
    assert snapshot(app) == before


def test_without_a_model_reflection_only_maintains(app):
    for t in FACTS:
        app.memory.remember(t)
    result = app.jobs.run("reflection")
    assert result.counts["_no_model"] == 1 and result.changed == 0
    assert app.jobs.profile_text() == ""


def test_dry_run_reflection_writes_nothing(app):
    for t in FACTS:
        app.memory.remember(t)
    app.jobs._llm_override = ScriptedLLM(_profile_answer, _thought_answer)
    before = snapshot(app)
    plan = app.jobs.run("reflection", dry_run=True)
    assert plan.counts["profile_added"] == 3 and all(c.startswith(("would", "dropped")) for c in plan.changes)
    assert snapshot(app) == before


def test_a_thought_that_only_repeats_a_note_is_dropped(app):
    for t in FACTS:
        app.memory.remember(t)
    echo = lambda messages: {"items": [  # noqa: E731
        {"text": "I go running by the river every Sunday morning", "sources": [_note_number(messages, "Sunday")]}]}
    app.jobs._llm_override = ScriptedLLM(_profile_answer, echo)
    result = app.jobs.run("reflection")
    assert result.counts["dropped_echo"] == 1 and result.counts["thoughts"] == 0
    assert app.memory.list(kind="thought") == []
