"""The chat screen: transcript, streaming answers batched every ~40 ms, Stop, Regenerate, Copy."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget

from storage.errors import UserError
from ui.message_widget import MessageWidget

FLUSH_MS = 40  # tokens reach the widget in batches: one repaint per batch, not one per token


class ChatInput(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatView(QWidget):
    session_created = Signal(int)
    turn_finished = Signal(int)  # session id

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.session_id: int | None = None
        self.messages: list[MessageWidget] = []
        self._pending = ""
        self._answer: MessageWidget | None = None
        # Identifies the turn being shown: an answer that arrives after the user switched chats is not ours.
        self._turn: object | None = None
        self._last_user_text = ""

        layout = QVBoxLayout(self)
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.hide()
        layout.addWidget(self.banner)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.page = QWidget()
        self.page_layout = QVBoxLayout(self.page)
        self.page_layout.addStretch(1)
        self.scroll.setWidget(self.page)
        layout.addWidget(self.scroll, 1)

        self.input = ChatInput(self)
        self.input.setPlaceholderText("Ask anything, or tell me something to remember  "
                                      "(Enter sends, Shift+Enter: new line)")
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self.send)
        layout.addWidget(self.input)
        buttons = QHBoxLayout()
        self.status = QLabel("")
        buttons.addWidget(self.status, 1)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Answer the last question again, replacing the answer")
        self.regenerate_button.clicked.connect(self.regenerate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        for b in (self.regenerate_button, self.stop_button, self.send_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)

        self.flush_timer = QTimer(self)
        self.flush_timer.setInterval(FLUSH_MS)
        self.flush_timer.timeout.connect(self.flush)

        if ctx.chat_turns is None:
            self.banner.setText(f"Chat is unavailable: {ctx.chat_unavailable}.")
            self.banner.show()
            self.input.setEnabled(False)
        else:
            ctx.chat_turns.token.connect(self._on_token)
            ctx.chat_turns.finished.connect(self._on_finished)
            ctx.chat_turns.failed.connect(self._on_failed)
        self._update_buttons()

    # -- transcript --------------------------------------------------------------------------------
    def set_session(self, session_id: int | None) -> None:
        if self.busy:
            # The answer stops and is stored by the service as partial; this view lets go of it.
            self.stop()
            self.flush_timer.stop()
            self._answer, self._turn, self._pending = None, None, ""
        self.session_id = session_id
        for w in self.messages:
            w.setParent(None)
            w.deleteLater()
        self.messages.clear()
        self._last_user_text = ""
        if session_id is not None and self.ctx.chat is not None:
            for m in self.ctx.chat.messages(session_id):
                if m.role not in ("user", "assistant"):
                    continue
                w = self._add(m.role, m.text, m.id)
                if m.role == "user":
                    self._last_user_text = m.text
                    if m.error:
                        w.note.setText("no answer: " + m.error[:80])
                else:
                    w.note.setText("stopped" if m.partial else "")
                    w.set_recalled(self._records(m.recalled_ids))
        self._update_buttons()
        self._scroll_to_end()

    def _records(self, memory_ids) -> list:
        """The memories an earlier answer was given, minus any deleted since."""
        out = []
        for memory_id in memory_ids:
            try:
                record = self.ctx.app.memory.get(memory_id)
            except UserError:
                continue
            if record.status != "deleted":
                out.append(record)
        return out

    def _add(self, role: str, text: str, message_id: int | None = None) -> MessageWidget:
        w = MessageWidget(role, text, message_id, self.page)
        w.memory_clicked.connect(self.ctx.events.open_memory.emit)
        self.page_layout.insertWidget(self.page_layout.count() - 1, w)
        self.messages.append(w)
        return w

    def _scroll_to_end(self) -> None:
        QTimer.singleShot(0, lambda: self.scroll.verticalScrollBar().setValue(
            self.scroll.verticalScrollBar().maximum()))

    # -- sending -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._answer is not None

    def send(self, text: str | None = None) -> bool:
        """Send the input box (or `text`); False when there is nothing to send or an answer is still coming."""
        if self.ctx.chat_turns is None or self.busy:
            return False
        text = (text if isinstance(text, str) else self.input.toPlainText()).strip()
        if not text:
            return False
        if self.session_id is None:
            try:
                info = self.ctx.chat.new_session()
            except UserError as exc:
                self.status.setText(str(exc))
                return False
            self.session_id = info.id
            self.session_created.emit(info.id)
        self.input.clear()
        self._last_user_text = text
        self._add("user", text)
        self._answer = self._add("assistant", "")
        self._answer.note.setText("thinking…")
        self._pending = ""
        self.flush_timer.start()
        self._turn = object()
        self.ctx.chat_turns.submit(self._turn, self.session_id, text)
        self._update_buttons()
        self._scroll_to_end()
        return True

    def regenerate(self) -> bool:
        """Answer the last question again; the new answer streams into the place of the old one."""
        if self.ctx.chat_turns is None or self.busy or self.session_id is None or not self._last_user_text:
            return False
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant":
            self._answer = last
            last.set_final_text("")
            last.set_recalled([])
        else:  # the last question never got an answer
            self._answer = self._add("assistant", "")
        self._answer.note.setText("thinking…")
        self._pending = ""
        self.flush_timer.start()
        self._turn = object()
        self.ctx.chat_turns.regenerate(self._turn, self.session_id)
        self._update_buttons()
        self._scroll_to_end()
        return True

    def stop(self) -> None:
        if self.busy and self.ctx.chat_turns is not None:
            self.ctx.chat_turns.stop()
            self.status.setText("Stopping…")

    def flush(self) -> None:
        if self._answer is not None and self._pending:
            if not self._answer.text:
                self._answer.note.setText("")
            self._answer.append_stream(self._pending)
            self._pending = ""
            self._scroll_to_end()

    def _on_token(self, owner, text: str) -> None:
        if owner is not None and owner is self._turn:
            self._pending += text

    def _on_finished(self, owner, result) -> None:
        if owner is None or owner is not self._turn or self._answer is None:
            return
        self.flush_timer.stop()
        self._pending = ""
        answer, self._answer, self._turn = self._answer, None, None
        answer.message_id = result.assistant_message_id
        answer.set_final_text(result.answer, "stopped" if result.stopped else "")
        answer.set_recalled([h.memory for h in result.recalled])
        self.status.setText("")
        self._update_buttons()
        self._scroll_to_end()
        self.turn_finished.emit(result.session_id)

    def _on_failed(self, owner, message: str) -> None:
        if owner is None or owner is not self._turn or self._answer is None:
            return
        self.flush_timer.stop()
        self.flush()
        answer, self._answer, self._turn = self._answer, None, None
        if answer.message_id is not None:  # a new answer to a stored one failed: that one is kept, show it
            self.set_session(self.session_id)
        else:
            answer.note.setText("failed")
        self.status.setText(f"The answer failed: {message} (your message is saved)")
        self._update_buttons()

    def _update_buttons(self) -> None:
        available = self.ctx.chat_turns is not None
        self.send_button.setEnabled(available and not self.busy)
        self.stop_button.setEnabled(self.busy)
        self.regenerate_button.setEnabled(available and not self.busy and bool(self._last_user_text))
