"""Quick recall: a small always-on-top popup. Type to see memories (debounced); Enter copies the selected one;
Ctrl+Enter (or a line ending in '?') asks the assistant in one line; Esc closes."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from storage.errors import UserError

DEBOUNCE_MS = 200
RESULTS = 8
QUICK_SESSION_TITLE = "Quick questions"


class _Input(QLineEdit):
    """Up/Down move through the results while the cursor stays in the input."""

    move = Signal(int)
    ask = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.move.emit(1)
        elif event.key() == Qt.Key.Key_Up:
            self.move.emit(-1)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.ask.emit()
        else:
            super().keyPressEvent(event)


class QuickRecallPopup(QWidget):
    copied = Signal(str)
    results_shown = Signal(int)

    def __init__(self, ctx, parent=None):
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.ctx = ctx
        self.setWindowTitle("secondme — quick recall")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        self.input = _Input()
        self.input.setPlaceholderText("Recall… (Enter copies; Ctrl+Enter or end with ? to ask; Esc closes)")
        layout.addWidget(self.input)
        self.results = QListWidget()
        self.results.setWordWrap(True)
        layout.addWidget(self.results)
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer.hide()
        layout.addWidget(self.answer)
        self.hint = QLabel("")
        layout.addWidget(self.hint)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.search)
        self.input.textChanged.connect(lambda _t: self.timer.start())
        self.input.returnPressed.connect(self.enter)
        self.input.move.connect(self._move)
        self.input.ask.connect(self.ask)
        self.results.itemActivated.connect(lambda _i: self.copy_selected())
        self._generation = 0
        self._asking = False
        if ctx.chat_turns is not None:
            ctx.chat_turns.token.connect(self._on_token)
            ctx.chat_turns.finished.connect(self._on_finished)
            ctx.chat_turns.failed.connect(self._on_failed)

    def popup(self) -> None:
        """Show centred near the top of the screen, focused and ready to type."""
        screen = QGuiApplication.primaryScreen().availableGeometry()
        self.adjustSize()
        self.move(screen.center().x() - self.width() // 2, screen.top() + screen.height() // 5)
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()
        self.input.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        if self._asking and self.ctx.chat_turns is not None:
            self.ctx.chat_turns.stop()
        super().closeEvent(event)

    # -- recall ------------------------------------------------------------------------------------
    def search(self) -> None:
        query = self.input.text().strip()
        self._generation += 1
        generation = self._generation
        if not query:
            self.results.clear()
            return
        memory = self.ctx.app.memory

        def show(hits) -> None:
            if generation != self._generation:
                return  # typing went on; a newer search is coming
            self.results.clear()
            for hit in hits:
                item = QListWidgetItem(" ".join(hit.memory.text.split()))
                item.setData(Qt.ItemDataRole.UserRole, hit.memory.text)
                item.setToolTip(f"#{hit.memory.id}, {hit.memory.kind}, {hit.memory.recorded_at:%Y-%m-%d}")
                self.results.addItem(item)
            if hits:
                self.results.setCurrentRow(0)
            self.hint.setText("" if hits else "Nothing remembered about that.")
            self.results_shown.emit(len(hits))

        def failed(exc) -> None:
            if generation == self._generation:
                self.hint.setText(str(exc))
                self.results_shown.emit(-1)

        self.ctx.tasks.run(lambda: memory.recall(query, k=RESULTS), show, failed, owner=self)

    def _move(self, step: int) -> None:
        if self.results.count():
            row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
            self.results.setCurrentRow(row)

    def enter(self) -> None:
        if self.input.text().strip().endswith("?"):
            self.ask()
        else:
            self.copy_selected()

    def copy_selected(self) -> str | None:
        item = self.results.currentItem()
        if item is None:
            return None
        text = item.data(Qt.ItemDataRole.UserRole)
        QGuiApplication.clipboard().setText(text)
        self.hint.setText("Copied to the clipboard.")
        self.copied.emit(text)
        return text

    # -- asking in one line ------------------------------------------------------------------------
    def _quick_session(self) -> int:
        """One chat collects the quick questions, so they stay searchable like any other chat."""
        chat = self.ctx.chat
        saved = self.ctx.qsettings.value("quick_session_id", None)
        known = {s.id for s in chat.list_sessions()}
        if saved is not None and int(saved) in known:
            return int(saved)
        session_id = chat.new_session(QUICK_SESSION_TITLE).id
        self.ctx.qsettings.setValue("quick_session_id", session_id)
        return session_id

    def ask(self) -> bool:
        text = self.input.text().strip()
        if not text or self.ctx.chat_turns is None or self._asking:
            if self.ctx.chat_turns is None:
                self.hint.setText(f"Asking is unavailable: {self.ctx.chat_unavailable}.")
            return False
        try:
            session_id = self._quick_session()
        except UserError as exc:
            self.hint.setText(str(exc))
            return False
        self._asking = True
        self.answer.setText("")
        self.answer.show()
        self.hint.setText("Thinking…")
        self.ctx.chat_turns.submit(self, session_id, text)
        return True

    def _on_token(self, owner, text: str) -> None:
        if owner is self:
            self.answer.setText(self.answer.text() + text)

    def _on_finished(self, owner, result) -> None:
        if owner is self:
            self._asking = False
            self.answer.setText(result.answer)
            self.hint.setText("Stopped." if result.stopped else "")

    def _on_failed(self, owner, message: str) -> None:
        if owner is self:
            self._asking = False
            self.hint.setText(f"The answer failed: {message}")
