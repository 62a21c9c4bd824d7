"""Reflection with a scripted model (unit level): citations, the support check, profile upkeep."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.llm.protocol import LLMError
from storage.models import Memory, MemoryLink
from assistant.jobs.reflection import PROFILE_EXAMPLE, THOUGHT_EXAMPLE, ReflectionJob
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


@pytest.mark.parametrize("thought, cites", [
    ("I go running by the river every Sunday morning", ["Sunday", "marathon"]),  # a quoted turn
    ("1. Running by the river every Sunday morning", ["Sunday", "marathon"]),  # numbered copy
    ("- \"Running by the river every Sunday\"", ["Sunday", "marathon"]),  # bulleted, quoted, cut short
    ("Running by the river every Sunday morning before work", ["Sunday", "nurse"]),  # copy plus a word
    ("The river on Sunday morning is a fixed habit", ["Sunday", "nurse"]),  # the second citation adds nothing
])
def test_a_thought_that_only_repeats_a_note_is_dropped(app, thought, cites):
    for t in FACTS:
        app.memory.remember(t)
    echo = lambda messages: {"items": [  # noqa: E731
        {"text": thought, "sources": [_note_number(messages, c) for c in cites]}]}
    app.jobs._llm_override = ScriptedLLM(_profile_answer, echo)
    result = app.jobs.run("reflection")
    assert result.counts["dropped_echo"] + result.counts["dropped_quote"] == 1 and result.counts["thoughts"] == 0
    assert app.memory.list(kind="thought") == []


@pytest.mark.parametrize("line, cite, counter", [
    ("Ana works as a nurse at Lisbon city hospital", "nurse", "dropped_unsupported"),  # wrong person
    ("Works as a nurse at Lisbon city hospital since 2019", "nurse", "dropped_unsupported"),  # invented year
    ("Does not want to run a marathon", "marathon", "dropped_unsupported"),  # flipped by a negation
    ("Sister Ana lives in Porto with her cats and a yacht in Monaco", "Ana", "dropped_unsupported"),  # padded
    ("Sister Ana owns a bakery", "Ana", "dropped_unsupported"),  # half invented: too much for a profile line
    ("I work as a nurse at Lisbon city hospital", "nurse", "dropped_quote"),  # a quote, not a profile line
])
def test_profile_lines_that_add_to_their_note_or_quote_it_are_dropped(app, line, cite, counter):
    for t in FACTS:
        app.memory.remember(t)
    answer = lambda messages: {"items": [  # noqa: E731
        {"section": "work", "text": line, "sources": [_note_number(messages, cite)]}]}
    app.jobs._llm_override = ScriptedLLM(answer, LLMError("no thoughts today"))
    result = app.jobs.run("reflection")
    assert result.counts[counter] == 1 and result.counts["profile_added"] == 0
    assert app.jobs.profile_text() == ""


def test_a_line_the_model_repeats_is_kept_once_and_a_numbered_one_is_cleaned(app):
    for t in FACTS:
        app.memory.remember(t)
    n = "Works as a nurse at Lisbon city hospital"
    answer = lambda messages: {"items": [  # noqa: E731
        {"section": "work", "text": f"1. {n}", "sources": [_note_number(messages, "nurse")]},
        {"section": "work", "text": f"2. {n}", "sources": [_note_number(messages, "nurse")]}]}
    app.jobs._llm_override = ScriptedLLM(answer, LLMError("no thoughts today"))
    result = app.jobs.run("reflection")
    assert result.counts["profile_added"] == 1 and result.counts["_dropped_repeat"] == 1
    assert [line["text"] for line in app.jobs.profile_lines()] == [n]


def test_the_worked_example_comes_first_and_the_real_notes_last(app):
    for t in FACTS:
        app.memory.remember(t)
    llm = ScriptedLLM(_profile_answer, _thought_answer)
    app.jobs._llm_override = llm
    app.jobs.run("reflection")
    for call in llm.calls:
        roles = [m["role"] for m in call["messages"]]
        assert roles == ["system", "user", "assistant", "user"]
        assert "Sam" in call["messages"][1]["content"] and "Sam" not in call["messages"][3]["content"]
        assert all(t.rstrip(".") in call["messages"][3]["content"] for t in FACTS)
        # sources before text, bounded, and room for the longest answer allowed
        item = call["schema"]["properties"]["items"]["items"]
        assert list(item["properties"])[0] == "sources"
        longest = call["schema"]["properties"]["items"]["maxItems"] * item["properties"]["text"]["maxLength"]
        assert call["max_tokens"] >= longest / 3
    assert llm.calls[1]["schema"]["properties"]["items"]["items"]["properties"]["sources"]["minItems"] == 2


@pytest.mark.parametrize("example, with_section", [(PROFILE_EXAMPLE, True), (THOUGHT_EXAMPLE, False)])
def test_the_worked_examples_pass_the_rules_they_teach(app, example, with_section):
    """An example the checks would drop would teach the model to write lines that get dropped."""
    notes = [{"id": n, "text": t} for n, t in enumerate(example[0], start=1)]
    for item in example[1]["items"]:
        line = {"text": item["text"], "sources": item["sources"], "section": item.get("section")}
        cited = [example[0][n - 1] for n in item["sources"]]
        threshold = app.settings.profile_min_overlap if with_section else app.settings.support_min_overlap
        # Echo is judged against the example's own notes, as it would be against the real ones.
        assert ReflectionJob._verdict(line, cited, notes, with_section, threshold) == (None, "")
