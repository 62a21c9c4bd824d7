"""The chat screen over a fake chat service: send and stream, stop, regenerate, copy, keys, recalled memories."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from storage.records import RecallHit


def test_send_streams_tokens_then_renders_markdown(window, ctx, qtbot):
    view = window.chat_view
    ctx.chat.answer = "Ana is a **nurse** in Porto."
    ctx.chat.token_delay = 0.02
    flushes = []
    view.flush_timer.timeout.connect(lambda: flushes.append(view._answer.text if view._answer else None))
    view.input.setPlainText("What does Ana do?")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    assert view.busy and not view.send_button.isEnabled() and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    answer = view.messages[-1]
    assert [m.role for m in view.messages] == ["user", "assistant"]
    assert answer.text == "Ana is a **nurse** in Porto."
    # Markdown is rendered only when the answer completes: the ** markers are gone, the word is bold.
    assert "**" not in answer.body.toPlainText() and "nurse" in answer.body.toPlainText()
    assert "font-weight:700" in answer.body.toHtml().replace(" ", "")
    # Tokens reached the widget in several batches while streaming, not all at the end.
    partial = [t for t in flushes if t and t != answer.text]
    assert len(set(partial)) >= 2
    assert ctx.chat.messages(view.session_id)[0].text == "What does Ana do?"
    assert window.sidebar.current_session_id() == view.session_id


def test_shift_enter_adds_a_newline_instead_of_sending(window, qtbot):
    view = window.chat_view
    qtbot.keyClicks(view.input, "line one")
    qtbot.keyClick(view.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(view.input, "line two")
    assert view.input.toPlainText() == "line one\nline two"
    assert not view.busy and view.messages == []


def test_stop_ends_the_answer_early(window, ctx, qtbot):
    view = window.chat_view
    ctx.chat.answer = " ".join(f"word{i}" for i in range(200))
    ctx.chat.token_delay = 0.01
    view.send("tell me a long story")
    qtbot.waitUntil(lambda: len(view._pending) + len(view._answer.text if view._answer else "") > 0, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    answer = view.messages[-1]
    assert answer.note.text() == "stopped"
    assert 0 < len(answer.text.split()) < 200


def test_regenerate_replaces_the_last_answer_and_copy_copies(window, ctx, qtbot):
    view = window.chat_view
    assert not view.regenerate_button.isEnabled()
    view.send("first question")
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    old_answer = view.messages[-1]
    ctx.chat.answer = "A different answer."
    view.regenerate_button.click()
    assert view.busy and old_answer.text == ""  # streams into the old answer's place
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert [(m.role, m.text) for m in view.messages] == [("user", "first question"),
                                                          ("assistant", "A different answer.")]
    assert view.messages[-1] is old_answer
    assert [m.text for m in ctx.chat.messages(view.session_id)] == ["first question", "A different answer."]
    view.messages[-1].copy_button.click()
    assert QGuiApplication.clipboard().text() == "A different answer."


def test_a_failed_regenerate_shows_the_answer_that_was_kept(window, ctx, qtbot):
    view = window.chat_view
    view.send("first question")
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    kept = view.messages[-1].text
    ctx.chat.fail = RuntimeError("the model crashed")
    assert view.regenerate()
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert [(m.role, m.text) for m in view.messages] == [("user", "first question"), ("assistant", kept)]
    assert view.status.text().startswith("The answer failed: the model crashed")
    assert view.regenerate_button.isEnabled()


def test_recalled_memories_show_under_the_answer_and_open_the_browser(window, ctx, app, qtbot):
    m = app.memory.remember("My sister Ana is a nurse in Porto")
    ctx.chat.recall = lambda text: [RecallHit(app.memory.get(m.id), 0.5)]
    view = window.chat_view
    view.send("what does Ana do")
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    answer = view.messages[-1]
    assert answer.recalled_toggle.text() == "Recalled 1 memory"
    answer.recalled_toggle.click()
    assert answer.recalled_view.isVisible() and f"memory:{m.id}" in answer.recalled_view.text()
    answer.recalled_view.linkActivated.emit(f"memory:{m.id}")
    assert window.tabs.currentWidget() is window.memory_browser
    assert window.memory_browser.detail.record.id == m.id
    assert "Porto" in window.memory_browser.detail.text.toPlainText()


def test_a_failed_answer_says_so_and_keeps_the_window_usable(window, ctx, qtbot):
    def broken(*_a, **_k):
        raise RuntimeError("the model ran out of memory")

    ctx.chat.send = broken
    view = window.chat_view
    view.send("hello")
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert "ran out of memory" in view.status.text()
    assert view.send_button.isEnabled()


def test_switching_chats_mid_answer_leaves_the_old_answer_behind(window, ctx, qtbot):
    view = window.chat_view
    ctx.chat.answer = " ".join(f"w{i}" for i in range(100))
    ctx.chat.token_delay = 0.01
    view.send("a long one")
    first = view.session_id
    qtbot.waitUntil(lambda: bool(view._pending or (view._answer and view._answer.text)), timeout=5000)
    other = window.sidebar.new_session()  # switches the view to a new, empty chat
    assert view.session_id == other and view.messages == [] and not view.busy
    ctx.chat.answer = "Short."
    ctx.chat.token_delay = 0.0
    view.send("hello")
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert [m.text for m in view.messages] == ["hello", "Short."]  # no stray words from the first answer
    stored = ctx.chat.messages(first)
    assert stored[-1].role == "assistant" and len(stored[-1].text.split()) < 100  # stopped, kept as partial
