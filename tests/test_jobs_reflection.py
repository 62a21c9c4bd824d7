"""Reflection with a scripted model (unit level): citations, the support check, profile upkeep."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from assistant.jobs.reflection import ReflectionJob
from assistant.jobs.reflection_prompts import (
    NO_FACT,
    PROFILE_EXAMPLES,
    THOUGHT_EXAMPLE,
    profile_candidates,
    profile_messages,
    statements,
)
from assistant.llm.protocol import LLMError
from storage.models import Memory, MemoryLink
from tests.jobs_helpers import ReflectionLLM, snapshot


@pytest.fixture(autouse=True)
def _no_chat_model(app):
    """These tests cover the jobs' own logic: no real chat model (it has its own end-to-end test)."""
    app.jobs.load_model = None


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


PROFILE = {  # what the model answers for the note containing each word
    "nurse": {"section": "work", "text": "Works as a nurse at Lisbon city hospital"},
    "Ana": {"section": "people", "text": "Sister Ana lives in Porto"},
    "marathon": {"section": "goals", "text": "Wants to run a marathon"},
    "Sunday": {"section": "places", "text": "Owns a yacht in Monaco"},  # invented
}


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
    llm = ReflectionLLM(PROFILE, _thought_answer)
    llm_for_jobs = llm
    app.jobs.load_model = lambda: llm_for_jobs
    result = app.jobs.run("reflection")
    assert result.counts["profile_added"] == 3 and result.counts["thoughts"] == 1
    assert result.counts["dropped_unsupported"] == 2  # the yacht and the hospitals
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
    assert len([c for c in llm.calls if "section" in c["schema"]["properties"]]) == 4  # one call per note


def test_a_superseded_fact_leaves_the_profile_on_the_next_run(app):
    facts = [app.memory.remember(t) for t in FACTS]
    llm_for_jobs = ReflectionLLM(PROFILE, _thought_answer)
    app.jobs.load_model = lambda: llm_for_jobs
    app.jobs.run("reflection")
    with app.db.session() as s:  # what the write path does when a newer fact replaces this one
        s.get(Memory, facts[1].id).status = "superseded"
    llm_for_jobs = ReflectionLLM(LLMError("model down"), LLMError("model down"))
    app.jobs.load_model = lambda: llm_for_jobs
    result = app.jobs.run("reflection")
    assert result.counts["profile_removed"] == 1
    assert "Ana" not in app.jobs.profile_text()
    assert "Lisbon" in app.jobs.profile_text()


def test_repeated_reflection_does_not_duplicate_lines(app):
    for t in FACTS:
        app.memory.remember(t)
    llm_for_jobs = ReflectionLLM(PROFILE, _thought_answer)
    app.jobs.load_model = lambda: llm_for_jobs
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
    llm_for_jobs = ReflectionLLM(PROFILE, _thought_answer)
    app.jobs.load_model = lambda: llm_for_jobs
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
    llm_for_jobs = ReflectionLLM({}, echo)
    app.jobs.load_model = lambda: llm_for_jobs
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
    llm_for_jobs = ReflectionLLM({cite: {"section": "work", "text": line}}, LLMError("no thoughts"))
    app.jobs.load_model = lambda: llm_for_jobs
    result = app.jobs.run("reflection")
    assert result.counts[counter] == 1 and result.counts["profile_added"] == 0
    assert app.jobs.profile_text() == ""


def test_a_repeated_thought_is_kept_once_and_a_numbered_line_is_cleaned(app):
    for t in FACTS:
        app.memory.remember(t)
    n = "Works as a nurse at Lisbon city hospital"
    thought = "Running matters: Sunday river runs and a marathon goal"
    twice = lambda messages: {"items": [  # noqa: E731
        {"text": f"{k}. {thought}", "sources": [_note_number(messages, "Sunday"), _note_number(messages, "marathon")]}
        for k in (1, 2)]}
    llm_for_jobs = ReflectionLLM({"nurse": {"section": "work", "text": f"1. {n}"}}, twice)
    app.jobs.load_model = lambda: llm_for_jobs
    result = app.jobs.run("reflection")
    assert result.counts["profile_added"] == 1 and result.counts["thoughts"] == 1
    assert result.counts["_dropped_repeat"] == 1
    assert [line["text"] for line in app.jobs.profile_lines()] == [n]
    assert [t.text for t in app.memory.list(kind="thought")] == [thought]


def test_the_worked_examples_come_first_and_the_real_notes_last(app):
    for t in FACTS:
        app.memory.remember(t)
    llm = ReflectionLLM(PROFILE, _thought_answer)
    llm_for_jobs = llm
    app.jobs.load_model = lambda: llm_for_jobs
    app.jobs.run("reflection")
    *profile_calls, thought_call = llm.calls
    for call in profile_calls:  # two example exchanges, then one real note
        assert [m["role"] for m in call["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
        last = call["messages"][-1]["content"]
        assert "Sam" not in last and sum(t.rstrip(".") in last for t in FACTS) == 1
        assert call["max_tokens"] >= call["schema"]["properties"]["text"]["maxLength"] / 3
    assert [m["role"] for m in thought_call["messages"]] == ["system", "user", "assistant", "user"]
    assert all(t.rstrip(".") in thought_call["messages"][-1]["content"] for t in FACTS)
    items = thought_call["schema"]["properties"]["items"]
    assert (list(items["items"]["properties"])[0] == "sources"
            and items["items"]["properties"]["sources"]["minItems"] == 2)
    assert thought_call["max_tokens"] >= items["maxItems"] * items["items"]["properties"]["text"]["maxLength"] / 3


def test_profile_questions_go_to_first_person_statements_not_yet_in_the_profile():
    notes = [{"id": 1, "text": "Sam: How was your weekend?"},
             {"id": 2, "text": "Sam: I adopted a beagle called Biscuit and I walk him every morning."},
             {"id": 3, "text": "Sam: Lovely weather today."},
             {"id": 4, "text": "Sam: My sister Jo is a pilot."},
             {"id": 5, "text": "Sam: I love my job at the bakery in town."},
             {"id": 6, "text": "Sam: Did I tell you about my trip?"}]
    assert [n["id"] for n in profile_candidates(notes, set(), 5)] == [2, 4, 5]
    assert [n["id"] for n in profile_candidates(notes, {2}, 5)] == [4, 5]
    assert [n["id"] for n in profile_candidates(notes, set(), 2)] == [2, 5]  # most said first, story order kept


def test_the_profile_question_shows_the_note_without_its_questions():
    note = ("Melanie: Congrats, Caroline! I'm so happy for you. Tell me, what's your vision for the future? "
            "[shares a photo: figurines]")
    assert statements(note) == "Melanie: Congrats, Caroline! I'm so happy for you. [shares a photo: figurines]"
    assert "vision" not in profile_messages(note)[-1]["content"]
    asked_only = [{"id": 1, "text": "Sam: Did I tell you about my trip? Do you like my photos?"},
                  {"id": 2, "text": "Sam: Are you coming? I start my new job at the bakery on Monday."}]
    assert [n["id"] for n in profile_candidates(asked_only, set(), 5)] == [2]


@pytest.mark.parametrize("example", [e for e in PROFILE_EXAMPLES if e[1]["section"] != NO_FACT])
def test_the_profile_example_passes_the_rules_it_teaches(app, example):
    """An example the checks would drop would teach the model to write lines that get dropped."""
    line = {"text": example[1]["text"], "sources": [1], "section": example[1]["section"]}
    assert ReflectionJob._verdict(line, [example[0]], [{"id": 1, "text": example[0]}], True,
                                  app.settings.profile_min_overlap) == (None, "")


def test_the_thought_example_passes_the_rules_it_teaches(app):
    notes = [{"id": n, "text": t} for n, t in enumerate(THOUGHT_EXAMPLE[0], start=1)]
    for item in THOUGHT_EXAMPLE[1]["items"]:
        line = {"text": item["text"], "sources": item["sources"], "section": None}
        cited = [THOUGHT_EXAMPLE[0][n - 1] for n in item["sources"]]
        assert ReflectionJob._verdict(line, cited, notes, False, app.settings.support_min_overlap) == (None, "")
