"""End to end on the real thing: the real ChatService, the packaged SmolLM2 model, SQLite, FTS5 and Chroma."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt


def _send(window, qtbot, text, timeout=60_000):
    view = window.chat_view
    view.input.setPlainText(text)
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.busy, timeout=timeout)
    return view.messages[-1]


def test_send_streams_a_real_answer_and_stores_the_turn(real_window, real_app, qtbot):
    view = real_window.chat_view
    real_app.memory.remember("My sister Ana is a nurse in Porto")
    streamed = []
    real_window.ctx.chat_turns.token.connect(lambda owner, text: streamed.append(text))
    answer = _send(real_window, qtbot, "What does my sister Ana do?")
    assert streamed, "no token was streamed"
    assert answer.text == "".join(streamed).strip() and answer.text
    stored = real_app.chat.messages(view.session_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].text == answer.text
    # The memory it was given shows under the answer and opens in the browser.
    assert stored[1].recalled_ids and answer.recalled_toggle.isVisible()
    answer.recalled_view.linkActivated.emit(f"memory:{stored[1].recalled_ids[0]}")
    assert real_window.memory_browser.detail.record.id == stored[1].recalled_ids[0]
    # The round became an episode memory.
    episodes = real_app.memory.list(kind="episode")
    assert len(episodes) == 1 and "What does my sister Ana do?" in episodes[0].text
    # Reopening the chat shows the same transcript.
    session_id = view.session_id
    view.set_session(None)
    assert view.messages == []
    view.set_session(session_id)
    assert [m.text for m in view.messages] == [s.text for s in stored]


def test_stop_a_real_answer(real_window, real_app, qtbot, monkeypatch):
    view = real_window.chat_view
    real_app.settings.max_tokens = 400
    got_tokens = []
    real_window.ctx.chat_turns.token.connect(lambda owner, text: got_tokens.append(text))
    view.send("Write a very long story about a lighthouse keeper and the sea.")
    qtbot.waitUntil(lambda: len(got_tokens) >= 3, timeout=60_000)
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.busy, timeout=30_000)
    answer = view.messages[-1]
    assert answer.note.text() == "stopped"
    stored = real_app.chat.messages(view.session_id)[-1]
    assert stored.partial and stored.text == answer.text


def test_regenerate_replaces_a_real_answer_in_place(real_window, real_app, qtbot):
    view = real_window.chat_view
    first = _send(real_window, qtbot, "Name a colour of the sky.")
    [user, answer] = real_app.chat.messages(view.session_id)
    streamed = []
    real_window.ctx.chat_turns.token.connect(lambda owner, text: streamed.append(text))
    view.regenerate_button.click()
    assert view.busy and view.messages[-1] is first and first.text == ""
    qtbot.waitUntil(lambda: not view.busy, timeout=60_000)
    assert streamed and first.text == "".join(streamed).strip()
    # One question, one answer: the same stored message, now holding the new text.
    stored = real_app.chat.messages(view.session_id)
    assert [(m.role, m.id) for m in stored] == [("user", user.id), ("assistant", answer.id)]
    assert stored[1].text == first.text and [w.role for w in view.messages] == ["user", "assistant"]
    episodes = real_app.memory.list(kind="episode", status=None)
    assert sorted(m.status for m in episodes) == ["active", "archived"]


def test_pause_memory_keeps_chatting_without_remembering(real_window, real_app, qtbot):
    real_window.set_memory_paused(True)
    _send(real_window, qtbot, "Remember that my locker code is 4411")
    assert real_app.memory.list(kind="episode") == []  # (unpaused, a round becomes an episode: see above)
    assert len(real_app.chat.messages(real_window.chat_view.session_id)) == 2
    real_window.set_memory_paused(False)
    assert real_app.chat.memory_paused is False


def test_sessions_search_rename_delete_undo_and_export(real_window, real_app, qtbot, tmp_path):
    sidebar = real_window.sidebar
    _send(real_window, qtbot, "My bicycle is a green Brompton")
    first = real_window.chat_view.session_id
    real_window.new_chat()
    second = real_window.chat_view.session_id
    assert first != second and sidebar.list.count() == 2

    # Ctrl+K focuses the search; a word from the first chat finds it; clicking the hit opens it.
    qtbot.keyClick(real_window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert sidebar.search.hasFocus()
    qtbot.keyClicks(sidebar.search, "brompton")
    qtbot.waitUntil(lambda: sidebar.stack.currentWidget() is sidebar.results, timeout=5000)
    hits = [sidebar.results.item(i) for i in range(sidebar.results.count())]
    assert [h.data(Qt.ItemDataRole.UserRole) for h in hits] == [first]
    assert "[Brompton]" in hits[0].text()
    sidebar.results.itemClicked.emit(hits[0])
    assert real_window.chat_view.session_id == first

    sidebar.search.setText("???")  # nothing searchable: a message, no crash, no results
    sidebar.run_search()
    assert sidebar.results.item(0).text() == "No messages match."
    assert "search" in real_window.statusBar().currentMessage().lower()
    sidebar.search.clear()

    sidebar.rename_session(first, "Bike")
    assert real_app.chat.get_session(first).title == "Bike"
    sidebar.rename_session(first, "   ")  # refused with a message, nothing changes
    assert real_app.chat.get_session(first).title == "Bike"

    md = sidebar.export_session(first, "markdown", tmp_path / "bike.md")
    assert "Brompton" in md.read_text()
    js = json.loads(sidebar.export_session(first, "json", tmp_path / "bike.json").read_text())
    assert "Brompton" in json.dumps(js)

    # Delete hides the chat at once; Undo brings it back; without undo it is deleted when the time runs out.
    sidebar.delete_session(first)
    assert first not in [s.id for s in _listed(sidebar)] and sidebar.undo_bar.isVisible()
    sidebar.undo_button.click()
    assert first in [s.id for s in _listed(sidebar)]
    assert len(real_app.chat.messages(first)) == 2
    sidebar.delete_session(first)
    sidebar.pending_deletes[first].setInterval(10)
    sidebar.pending_deletes[first].start()
    qtbot.waitUntil(lambda: first not in sidebar.pending_deletes, timeout=5000)
    assert [s.id for s in real_app.chat.list_sessions()] == [second]


class _Listed:
    def __init__(self, session_id):
        self.id = session_id


def _listed(sidebar):
    return [_Listed(sidebar.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(sidebar.list.count())]
