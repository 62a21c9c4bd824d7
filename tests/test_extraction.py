"""Fact extraction from the persistent queue, with a scripted model (unit) and the real default model (end to end)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from assistant.llm.protocol import LLMError
from assistant.memory.dates import resolve_when, with_absolute_date
from assistant.memory.extraction import EXAMPLE_FACTS, extraction_schema
from assistant.memory.fact_keys import episodes_for_facts, fact_keys_for_episodes
from storage.models import ExtractionJob, Memory, MemoryEvent

SAID = datetime(2026, 5, 2, 15, 30, tzinfo=UTC)


class ScriptedLLM:
    """Implements the LanguageModel protocol's generate_json with answers given in advance."""

    name = "scripted"
    context_size = 4096

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def count_tokens(self, text):
        return len(text.split())

    def stream_chat(self, messages, **kw):
        yield "unused"

    def generate_json(self, messages, schema, *, max_tokens=512):
        self.calls.append((messages, schema))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def fact(text, when="", subject="user"):
    return {"text": text, "subject": subject, "when": when}


def _turn(app, user, assistant="OK.", session_id=None):
    return app.memory.record_turn(session_id, user, assistant, [], at=SAID)


def _facts(app, status="active"):
    return app.memory.list(kind="fact", status=status, limit=100)


def _ledger(app, op):
    with app.db.session() as s:
        return [(e.memory_id, e.reason, e.payload) for e in s.scalars(select(MemoryEvent).where(MemoryEvent.op == op))]


# -- date resolution ---------------------------------------------------------------------------------
@pytest.mark.parametrize("expression,label", [
    ("last March", "March 2026"), ("yesterday", "1 May 2026"), ("last year", "2025"), ("next March", "March 2027"),
    ("in 3 days", "5 May 2026"), ("8 May 2023", "8 May 2023"), ("this May", "May 2026"), ("last June", "June 2025"),
])
def test_time_words_resolve_to_absolute_dates_relative_to_when_they_were_said(expression, label):
    assert resolve_when(expression, SAID).label == label


def test_unparseable_time_words_resolve_to_nothing():
    assert resolve_when("when pigs fly", SAID) is None and resolve_when("", SAID) is None


def test_fact_text_gets_the_absolute_date():
    r = resolve_when("last March", SAID)
    assert with_absolute_date("The user moved to Lisbon last March.", "last March", r) == \
        "The user moved to Lisbon in March 2026."
    assert with_absolute_date("The user adopted a cat.", "yesterday", resolve_when("yesterday", SAID)) == \
        "The user adopted a cat (1 May 2026)."


# -- the queue ------------------------------------------------------------------------------------------
def test_schema_bounds_every_string_and_array():
    from assistant.llm.json_schema import unbounded_parts

    assert unbounded_parts(extraction_schema(8)) == []


def test_turn_is_queued_and_facts_are_extracted_linked_and_dated(app):
    episode = _turn(app, "I moved to Porto last March. My sister Ana plays the oboe.")
    assert app.memory.extraction_queue.counts() == {"pending": 1}
    llm = ScriptedLLM({"facts": [fact("The user moved to Porto last March.", when="last March"),
                                 fact("The user's sister Ana plays the oboe.", subject="Ana")]})
    assert app.memory.extraction_queue.run_pending(llm) == {"done": 1, "retried": 0, "failed": 0}
    messages, schema = llm.calls[0]
    assert messages[-1]["content"].startswith("Said on 2026-05-02.") and "Porto" in messages[-1]["content"]
    assert any('"facts": []' in m["content"] for m in messages)  # the "no facts" example
    facts = {f.text: f for f in _facts(app)}
    # The user's own sentence that states an attribute is kept verbatim (no model needed); the model's restatement
    # of the same value is a duplicate of it. The rest comes from the model, with its dates made absolute.
    assert set(facts) == {"I moved to Porto last March.", "The user's sister Ana plays the oboe."}
    porto = facts["I moved to Porto last March."]
    assert porto.slot_key == "user.home_city" and porto.provenance == {"extracted_from": episode.id,
                                                                      "rule": "personal attribute"}
    assert facts["The user's sister Ana plays the oboe."].provenance["model"] == "scripted"
    with app.db.session() as s:
        keys = fact_keys_for_episodes(s, [episode.id])
        assert {t for _, t in keys[episode.id]} == set(facts)
        assert set(episodes_for_facts(s, [f.id for f in facts.values()]).values()) == {episode.id}
    assert app.memory.extraction_queue.counts() == {"done": 1}
    assert "2 fact(s) extracted: stored #2, stored #3" in _ledger(app, "extract")[0][1]


def test_contradictory_statements_in_one_message_keep_both_the_later_one_current(app):
    _turn(app, "I live in Paris. Actually no, I live in Berlin now.")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [
        fact("The user lives in Paris."), fact("The user lives in Berlin.")]}))
    assert [f.text for f in _facts(app)] == ["Actually no, I live in Berlin now."]
    assert [f.text for f in _facts(app, "superseded")] == ["I live in Paris."]
    assert app.review.conflicts() == []  # the model's restatements were left out, not flagged


def test_future_and_unparseable_dates_keep_the_fact(app):
    _turn(app, "Next March I fly to Tokyo. I met Bob at some point.")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [
        fact("The user flies to Tokyo next March.", when="next March"),
        fact("The user met Bob.", when="at some point in the blue moon")]}))
    facts = {f.text: f for f in _facts(app)}
    tokyo = facts["The user flies to Tokyo in March 2027."]
    assert tokyo.provenance["when"]["future"] is True and tokyo.valid_from.year == 2027
    bob = facts["The user met Bob."]
    assert bob.provenance["when"]["resolved"] is None and bob.valid_from == SAID
    assert "could not be resolved" in _ledger(app, "extract")[0][1]


def test_garbage_output_is_retried_then_logged_and_the_episode_stays(app):
    episode = _turn(app, "I have two cats named Miso and Tofu.")
    llm = ScriptedLLM({"fax": 1}, "not json at all", LLMError("no valid JSON after 3 tries"))
    queue = app.memory.extraction_queue
    assert queue.run_pending(llm) == {"done": 0, "retried": 1, "failed": 0}
    assert queue.run_pending(llm) == {"done": 0, "retried": 1, "failed": 0}
    assert queue.run_pending(llm) == {"done": 0, "retried": 0, "failed": 1}
    job = queue.jobs()[0]
    assert job["status"] == "failed" and job["attempts"] == 3 and "no valid JSON" in job["last_error"]
    (memory_id, reason, _), = _ledger(app, "extract_failed")
    assert memory_id == episode.id and "gave up after 3 attempt(s)" in reason and "turn itself is kept" in reason
    assert app.memory.get(episode.id).status == "active" and _facts(app) == []
    assert queue.retry_failed() == 1 and queue.counts() == {"pending": 1}


def test_schema_valid_nonsense_is_filtered(app):
    _turn(app, "I started learning the cello.")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [
        EXAMPLE_FACTS["facts"][0],  # a small model copying the prompt's example
        fact("Zebras orbit Neptune quarterly."),  # nothing to do with the turn
        fact("!!"),
        fact("The user is learning the cello.")]}))
    facts = _facts(app)
    assert [f.text for f in facts] == ["The user is learning the cello."] and facts[0].slot_key is None
    reason = _ledger(app, "extract")[0][1]
    assert "copied the prompt's example" in reason
    assert "not grounded in the user's words (names Zebras, Neptune" in reason


@pytest.mark.parametrize("invented", [
    "The user's sister Ana started learning the cello.",  # a name from the prompt's example, not the turn
    "The user has been learning the cello for 10 years.",  # a number the turn does not hold
    "The user is not learning the cello.",  # a negation the turn does not hold
    "I started learning the cello.",  # the turn quoted, in the first person
    "The user loves the cello, loves the cello, loves the cello.",  # a small model looping
    "The user's cello.",  # not a statement
    "The user bought a violin and a piano at the market.",  # too few of its words are the turn's
])
def test_facts_not_grounded_in_the_turn_are_dropped_with_the_reason(app, invented):
    _turn(app, "I started learning the cello.")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [
        fact(invented), fact("The user started learning the cello.")]}))
    assert [f.text for f in _facts(app)] == ["The user started learning the cello."]
    assert "dropped or changed 1" in _ledger(app, "extract")[0][1]


def test_the_slot_comes_from_the_users_wording_and_an_update_cue_supersedes(app):
    """The model proposes no slot keys any more: a wrong one would retire whatever fact held it."""
    app.memory.remember("The user's sister works as a teacher.", slot_key="sister.job", at=datetime(2025, 1, 1))
    _turn(app, "My sister became a nurse at the hospital.")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [
        fact("The user's sister became a nurse at the hospital.")]}))
    new = next(f for f in _facts(app) if "nurse" in f.text)
    assert new.text == "My sister became a nurse at the hospital." and new.slot_key == "sister.job"
    assert [f.text for f in _facts(app, "superseded")] == ["The user's sister works as a teacher."]


def test_facts_only_the_assistant_stated_are_never_stored(app):
    """A chat where the assistant invents things: not one fact may come from its words."""
    turns = [
        ("Who is my colleague?", "Your colleague is Mário, a former Brazilian footballer who lives in Rio."),
        ("Where does my sister work?", "Your sister Ana is a nurse in Porto at Santa Maria since 2019."),
        ("What should I cook tonight?", "You told me you are allergic to peanuts and love Thai curry."),
    ]
    for user, assistant in turns:
        _turn(app, user, assistant)
    invented = [[fact("The user's colleague is Mário, a former Brazilian footballer."),
                 fact("The user's colleague Mário lives in Rio.")],
                [fact("The user's sister Ana is a nurse in Porto."), fact("Ana has worked at Santa Maria since 2019.")],
                [fact("The user is allergic to peanuts."), fact("The user loves Thai curry.")]]
    app.memory.extraction_queue.run_pending(ScriptedLLM(*({"facts": f} for f in invented)))
    assert _facts(app) == [] and app.memory.extraction_queue.counts() == {"done": 3}
    assert all("not grounded in the user's words" in reason for _, reason, _ in _ledger(app, "extract"))


def test_a_turn_with_no_facts_is_done_and_says_so(app):
    _turn(app, "Hello there!", "Hi!")
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": []}))
    assert app.memory.extraction_queue.counts() == {"done": 1}
    assert _ledger(app, "extract")[0][1] == "no facts in this turn"


def test_a_crash_mid_extraction_leaves_the_job_to_be_retried(app):
    _turn(app, "My dog is called Rex.")
    queue = app.memory.extraction_queue
    job_id = queue._claim()  # a process claimed the job, then died before finishing
    with app.db.session() as s:
        s.execute(update(ExtractionJob).values(claimed_at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert queue.counts() == {"running": 1}
    assert queue.run_pending(ScriptedLLM({"facts": [fact("The user's dog is called Rex.")]}))["done"] == 1
    assert [f.text for f in _facts(app)] == ["The user's dog is called Rex."] and job_id is not None


def test_a_model_runtime_bug_does_not_lose_the_job(app):
    _turn(app, "I play the oboe.")
    app.memory.extraction_queue.run_pending(ScriptedLLM(RuntimeError("segfault-ish")))
    assert app.memory.extraction_queue.jobs()[0]["status"] == "pending"


def test_undo_removes_an_extraction_and_forget_session_removes_its_facts(app):
    from storage.models import Session

    with app.db.session() as s:
        s.add(Session(id=7, title="t"))
    old = app.memory.remember("The user lives in Paris.", slot_key="user.home_city", at=datetime(2025, 1, 1))
    _turn(app, "I live in Rome now.", session_id=7)
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [fact("The user lives in Rome.")]}))
    rome = _facts(app)[0]
    assert rome.session_id == 7 and app.memory.get(old.id).status == "superseded"
    app.memory.undo()
    assert app.memory.get(rome.id).status == "deleted" and app.memory.get(old.id).status == "active"
    app.memory.extraction_queue.retry_failed()
    with app.db.session() as s:
        s.execute(update(ExtractionJob).values(status="pending"))
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [fact("The user lives in Rome.")]}))
    assert app.memory.get(old.id).status == "superseded"
    result = app.memory.forget_session(7)
    assert result["restored"] == [old.id] and app.memory.get(old.id).status == "active"


def test_background_worker_extracts_off_the_calling_thread(app):
    import threading

    seen_threads = []

    class Recording(ScriptedLLM):
        def generate_json(self, *a, **kw):
            seen_threads.append(threading.current_thread().name)
            return super().generate_json(*a, **kw)

    llm = Recording({"facts": [fact("The user likes jazz.")]})
    queue = app.memory.extraction_queue
    queue.start_worker(lambda: llm, interval_s=0.2)
    try:
        _turn(app, "I like jazz.")
        for _ in range(100):
            if queue.counts().get("done"):
                break
            threading.Event().wait(0.1)
    finally:
        queue.stop_worker()
    assert queue.counts() == {"done": 1} and seen_threads == ["fact-extraction"]


def test_quarantined_or_forgotten_turns_are_not_mined_for_facts(app):
    episode = _turn(app, "I live in Mordor.")
    app.memory.forget(episode.id)
    llm = ScriptedLLM()
    assert app.memory.extraction_queue.run_pending(llm)["done"] == 1 and llm.calls == []
    assert "skipped: the episode is archived" in app.memory.extraction_queue.jobs()[0]["last_error"]


def test_extraction_can_be_switched_off(app):
    app.settings.extract_facts = False
    _turn(app, "I like tea.")
    assert app.memory.extraction_queue.counts() == {}


# -- end to end with the real default model ------------------------------------------------------------
@pytest.mark.slow
def test_real_default_model_runs_the_pipeline_and_loses_nothing(app):
    """SmolLM2-135M is weak: assert only that it runs, its answers are schema-valid, and nothing is lost."""
    import jsonschema

    app.settings.extraction_max_facts = 2  # keeps the slow, weak model's answers short
    answers = []

    class Recording:
        """The real model, with each answer kept for checking."""

        name = app.llm.name if hasattr(app.llm, "name") else "default"

        def generate_json(self, messages, schema, **kw):
            answer = app.llm.generate_json(messages, schema, **kw)
            answers.append((answer, schema))
            return answer

    turns = ["Ich wohne seit letztem März in Oslo und arbeite in einer Bäckerei."]  # non-English on purpose
    episodes = [_turn(app, t) for t in turns]
    result = app.memory.extraction_queue.run_pending(Recording())
    assert result["done"] + result["failed"] + result["retried"] == len(turns)
    for answer, schema in answers:
        jsonschema.validate(answer, schema)
    for turn, e in zip(turns, episodes):
        assert app.memory.get(e.id).status == "active" and turn in app.memory.get(e.id).text
    with app.db.session() as s:
        events = s.scalars(select(MemoryEvent).where(MemoryEvent.op.in_(("extract", "extract_failed")))).all()
        assert len(events) == result["done"] + result["failed"]
        for f in s.scalars(select(Memory).where(Memory.kind == "fact")):
            assert f.provenance["extracted_from"] in {e.id for e in episodes}
    queued = app.memory.extraction_queue.jobs()
    assert {j["status"] for j in queued} <= {"done", "pending"} and len(queued) == len(turns)


def test_facts_inherit_their_turns_source_and_trust(app):
    from storage.enums import Source

    app.memory.record_turn(None, "I moved to Oslo. I play the oboe.", "Nice!", [], at=SAID, source=Source.API)
    app.memory.extraction_queue.run_pending(ScriptedLLM({"facts": [fact("The user plays the oboe.")]}))
    assert {(f.text, f.source, f.trust) for f in _facts(app)} == {("I moved to Oslo.", "api", 0.5),
                                                                  ("The user plays the oboe.", "api", 0.5)}
