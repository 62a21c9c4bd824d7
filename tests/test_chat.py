"""ChatService end to end: real SQLite, real recall, the real SmolLM2 model (fakes only where a failure is needed)."""

from __future__ import annotations

import json
import re

import pytest

from assistant.llm.protocol import ContextOverflowError, LLMError
from storage.errors import NotFound, UserError
from tests.llm_fixtures import use_model


class RecordingModel:
    """The real model, with the messages of each call kept for inspection."""

    def __init__(self, real):
        self.real = real
        self.name, self.context_size = real.name, real.context_size
        self.calls: list[list[dict]] = []

    def count_tokens(self, text):
        return self.real.count_tokens(text)

    def count_prompt_tokens(self, messages):
        return self.real.count_prompt_tokens(messages)

    def stream_chat(self, messages, **kw):
        self.calls.append([dict(m) for m in messages])
        return self.real.stream_chat(messages, **kw)


class FailingModel(RecordingModel):
    def stream_chat(self, messages, **kw):
        def broken():
            yield "Half an ans"
            raise LLMError("the model crashed")
        return broken()


def test_a_turn_is_stored_recalled_streamed_remembered_and_reinforced(chat_app):
    fact = chat_app.memory.remember("My sister Alice lives in Lyon and works as a nurse.")
    model = RecordingModel(chat_app.llm)
    use_model(chat_app, model)
    session = chat_app.chat.new_session()
    pieces: list[str] = []
    result = chat_app.chat.send(session.id, "Where does my sister Alice live?", on_token=pieces.append)

    assert pieces and "".join(pieces).strip() == result.answer and result.answer
    assert not result.stopped
    # the remembered fact reached the prompt, quoted inside the memory block
    prompt = model.calls[0][-1]["content"]
    assert '"My sister Alice lives in Lyon and works as a nurse."' in prompt
    assert prompt.endswith("Question: Where does my sister Alice live?")
    assert fact.id in [h.memory.id for h in result.recalled]
    assert set(result.timings) == {"first_token_s", "total_s", "prompt_tokens", "generated_tokens"}
    assert 0 < result.timings["first_token_s"] <= result.timings["total_s"]
    assert result.timings["prompt_tokens"] > 50 and result.timings["generated_tokens"] > 0

    messages = chat_app.chat.messages(session.id)
    assert [(m.role, m.id) for m in messages] == [("user", result.user_message_id),
                                                  ("assistant", result.assistant_message_id)]
    assert messages[1].text == result.answer and fact.id in messages[1].recalled_ids
    episodes = chat_app.memory.list(kind="episode")
    assert len(episodes) == 1 and episodes[0].provenance["message_ids"] == [result.user_message_id,
                                                                            result.assistant_message_id]
    assert chat_app.memory.get(fact.id).recall_count == 1  # reinforced
    assert chat_app.chat.get_session(session.id).title == "Where does my sister Alice live?"


def test_follow_up_turn_carries_the_conversation_without_duplicating_it(chat_app):
    model = RecordingModel(chat_app.llm)
    use_model(chat_app, model)
    sid = chat_app.chat.new_session("trip").id
    first = chat_app.chat.send(sid, "I am planning a trip to Kyoto in May.")
    chat_app.chat.send(sid, "What did I just tell you?")
    second_prompt = model.calls[1]
    assert second_prompt[1] == {"role": "user", "content": "I am planning a trip to Kyoto in May."}
    assert second_prompt[2] == {"role": "assistant", "content": first.answer}
    # the first round is also an episode memory, but it is already in the conversation: not repeated
    assert "User: I am planning a trip" not in second_prompt[-1]["content"]


def test_stop_mid_answer_keeps_a_partial_answer(chat_app):
    sid = chat_app.chat.new_session().id
    got: list[str] = []
    result = chat_app.chat.send(sid, "Tell me a long story about a dragon.", on_token=got.append,
                                should_stop=lambda: len(got) >= 2)
    assert result.stopped and len(got) == 2
    stored = chat_app.chat.messages(sid)[-1]
    assert stored.partial and stored.text == result.answer == "".join(got).strip()
    assert "(stopped)" in chat_app.chat.export_session(sid, "markdown")
    # A stopped answer is no round to remember: no episode, nothing queued for fact extraction.
    assert chat_app.memory.list(kind="episode") == [] and chat_app.memory.extraction_queue.counts() == {}


def test_a_turn_through_another_app_is_remembered_with_that_apps_source_and_trust(chat_app):
    from storage.enums import Source

    sid = chat_app.chat.new_session().id
    chat_app.chat.send(sid, "My sister lives in Porto.", source=Source.API)
    [episode] = chat_app.memory.list(kind="episode")
    assert (episode.source, episode.trust) == ("api", 0.5)


def test_a_model_failure_keeps_the_question_and_says_why(chat_app):
    use_model(chat_app, FailingModel(chat_app.llm))
    sid = chat_app.chat.new_session().id
    with pytest.raises(LLMError, match="crashed"):
        chat_app.chat.send(sid, "Remember that my passport expires in June.")
    [message] = chat_app.chat.messages(sid)
    assert message.role == "user" and message.text == "Remember that my passport expires in June."
    assert "crashed" in message.error


def test_an_overlong_question_is_refused_and_still_kept(chat_app):
    sid = chat_app.chat.new_session().id
    with pytest.raises(ContextOverflowError):
        chat_app.chat.send(sid, "blah " * 3000)
    assert chat_app.chat.messages(sid)[0].error


def test_a_long_conversation_never_overflows_the_context(chat_app):
    sid = chat_app.chat.new_session().id
    for i in range(40):
        chat_app.chat.store.add_message(sid, "user", f"Question {i}: " + "tell me about the weather " * 12, {})
        chat_app.chat.store.add_message(sid, "assistant", f"Answer {i}: " + "it is sunny and warm today " * 12, {})
    for i in range(8):
        chat_app.memory.remember(f"Note {i}: the user likes hiking in the Alps in summer " * 4)
    history = chat_app.chat._history(sid)
    hits = chat_app.memory.recall("hiking weather")
    prompt = chat_app.chat._prompt("What is the weather like?", history, hits)
    exact = chat_app.llm.count_prompt_tokens(prompt.messages)
    reply = min(chat_app.settings.max_tokens, chat_app.llm.context_size // 2)
    assert exact <= chat_app.llm.context_size - reply
    assert prompt.turns_dropped > 0 and prompt.turns_kept > 0
    assert prompt.messages[-3]["content"].startswith("Question 39:")


def test_empty_question_is_refused_and_nothing_is_stored(chat_app):
    sid = chat_app.chat.new_session().id
    with pytest.raises(UserError, match="empty"):
        chat_app.chat.send(sid, "   \n ")
    assert chat_app.chat.messages(sid) == []


def test_sessions_rename_list_search_export_delete(app):
    chat = app.chat
    a = chat.new_session("Gardening")
    b = chat.new_session()
    chat.store.add_message(a.id, "user", "When should I plant tomatoes?", {})
    chat.store.add_message(a.id, "assistant", "Plant tomatoes after the last frost.", {"partial": False})
    chat.store.add_message(b.id, "user", "Book the dentist appointment", {})
    chat.rename_session(b.id, "  Errands\n list ")
    listed = chat.list_sessions()
    assert [(s.title, s.message_count) for s in listed] == [("Errands list", 1), ("Gardening", 2)]

    hits = chat.search_messages("tomato")  # porter stemming: tomatoes ~ tomato
    assert {h.message_id for h in hits} == {1, 2} and all(h.session_title == "Gardening" for h in hits)
    assert "[tomatoes]" in hits[0].snippet
    assert chat.search_messages('dentist" OR NEAR(') [0].session_id == b.id  # FTS syntax is just words

    data = json.loads(chat.export_session(a.id, "json"))
    assert data["title"] == "Gardening" and [m["text"] for m in data["messages"]][0].startswith("When should")
    everything = json.loads(chat.export_all("json"))
    assert [s["title"] for s in everything["sessions"]] == ["Gardening", "Errands list"]
    assert "# Gardening" in chat.export_all("markdown") and "**You**" in chat.export_session(a.id, "markdown")

    chat.delete_session(a.id)
    assert chat.search_messages("tomatoes") == []
    assert [s.id for s in chat.list_sessions()] == [b.id]
    with pytest.raises(NotFound, match="secondme sessions list"):
        chat.messages(a.id)
    with pytest.raises(UserError, match="format"):
        chat.export_session(b.id, "pdf")
    with pytest.raises(UserError, match="empty"):
        chat.rename_session(b.id, "   ")
    with pytest.raises(UserError, match="Nothing to search"):
        chat.search_messages("  ")


def test_message_search_covers_messages_written_before_the_migration(home):
    """0002 builds the index over existing messages, and its triggers follow every later write."""
    from alembic import command

    from storage.db import Database, alembic_config

    home.mkdir(parents=True, exist_ok=True)
    db = Database(home / "old.db")
    cfg = alembic_config(db.engine)
    command.upgrade(cfg, "0001")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO sessions (id, title, created_at, updated_at, meta) "
                             "VALUES (1, 'old', '2024-01-01', '2024-01-01', '{}')")
        conn.exec_driver_sql("INSERT INTO messages (session_id, role, text, created_at, meta) "
                             "VALUES (1, 'user', 'my bicycle was stolen', '2024-01-01', '{}')")
    db.migrate()
    with db.engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT rowid FROM message_fts WHERE message_fts MATCH 'bicycle'").all() == [(1,)]
        conn.exec_driver_sql("UPDATE messages SET text = 'my scooter was stolen' WHERE id = 1")
        assert conn.exec_driver_sql("SELECT rowid FROM message_fts WHERE message_fts MATCH 'bicycle'").all() == []
        assert conn.exec_driver_sql("SELECT rowid FROM message_fts WHERE message_fts MATCH 'scooter'").all() == [(1,)]
    command.downgrade(cfg, "0001")
    with db.engine.begin() as conn:
        assert not conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'message_fts'").all()
    db.dispose()


def test_regenerate_replaces_the_last_answer_in_place(chat_app):
    model = RecordingModel(chat_app.llm)
    use_model(chat_app, model)
    sid = chat_app.chat.new_session().id
    first = chat_app.chat.send(sid, "My cat is called Miso.")
    chat_app.settings.temperature = 1.5  # a different answer this time (the seed stays fixed otherwise)
    pieces: list[str] = []
    again = chat_app.chat.regenerate(sid, on_token=pieces.append)
    assert "".join(pieces).strip() == again.answer
    # The model was asked the question afresh: no earlier turn, and the old answer's episode was not recalled.
    assert [m["role"] for m in model.calls[1]] == ["system", "user"]
    assert "User: My cat is called Miso." not in model.calls[1][-1]["content"]
    assert (again.user_message_id, again.assistant_message_id) == (first.user_message_id, first.assistant_message_id)
    messages = chat_app.chat.messages(sid)
    assert [(m.role, m.id) for m in messages] == [("user", first.user_message_id),
                                                  ("assistant", first.assistant_message_id)]
    assert messages[1].text == again.answer
    # Chat search finds the new answer's words (the FTS5 update trigger followed the new text).
    word = max(re.findall(r"[A-Za-z]{3,}", again.answer), key=len)
    assert first.assistant_message_id in [h.message_id for h in chat_app.chat.search_messages(word)]
    # Recall holds only the answer kept: the old round's episode is archived (restorable), a new one is active.
    episodes = {m.status: m for m in chat_app.memory.list(kind="episode", status=None)}
    assert set(episodes) == {"active", "archived"}
    assert again.answer in episodes["active"].text and first.answer in episodes["archived"].text


def test_regenerate_after_a_model_failure_answers_the_question(chat_app):
    real = chat_app.llm
    use_model(chat_app, FailingModel(real))
    sid = chat_app.chat.new_session().id
    with pytest.raises(LLMError):
        chat_app.chat.send(sid, "Where did I park the car?")
    # A failing regenerate of an answered question keeps the earlier answer as it was.
    use_model(chat_app, real)
    answered = chat_app.chat.regenerate(sid)
    [user, assistant] = chat_app.chat.messages(sid)
    assert user.error is None and assistant.id == answered.assistant_message_id
    use_model(chat_app, FailingModel(real))
    with pytest.raises(LLMError):
        chat_app.chat.regenerate(sid)
    [user, kept] = chat_app.chat.messages(sid)
    assert user.error is None and kept.text == assistant.text and kept.id == assistant.id
    use_model(chat_app, real)


def test_regenerate_needs_a_question(chat_app):
    sid = chat_app.chat.new_session().id
    with pytest.raises(UserError, match="no question"):
        chat_app.chat.regenerate(sid)
    with pytest.raises(NotFound):
        chat_app.chat.regenerate(sid + 999)
