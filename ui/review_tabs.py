"""The memory browser's review tabs: what the poisoning guard held back, contradictions, archived memories, profile."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ui.memory_table import MemoryTable

TAB_LIMIT = 500


class _RecordsTab(QWidget):
    """A hint, a table of records, and buttons that act on the selected one. Subclasses define `records()`."""

    memory_selected = Signal(object)
    hint = ""

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        label = QLabel(self.hint)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.table = MemoryTable()
        self.table.memory_selected.connect(self.memory_selected)
        self.table.memory_selected.connect(lambda _id: self._update_buttons())
        layout.addWidget(self.table, 1)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        layout.addLayout(self.buttons)
        self.empty = QLabel("")
        layout.addWidget(self.empty)

    def add_button(self, text: str, action) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda: self._act(action))
        self.buttons.addWidget(button)
        return button

    def _act(self, action) -> None:
        memory_id = self.table.selected_id()
        if memory_id is None:
            return
        self.act(action, memory_id)

    def act(self, action, memory_id: int) -> None:
        def done(record) -> None:
            self.ctx.events.status.emit(f"Memory #{memory_id} is now {record.status}.")
            self.ctx.events.memories_changed.emit()

        self.ctx.tasks.run(lambda: action(memory_id), done, lambda exc: self.ctx.events.status.emit(str(exc)),
                           owner=self)

    def refresh(self) -> None:
        records = self.records()
        self.table.set_records(records)
        self.empty.setText("" if records else self.empty_text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = self.table.selected_id() is not None
        for i in range(self.buttons.count()):
            w = self.buttons.itemAt(i).widget()
            if w is not None:
                w.setEnabled(selected)


class QuarantineTab(_RecordsTab):
    hint = ("Memories the poisoning guard held back (e.g. instructions hidden in a document, or claims from a "
            "low-trust source). Release one you trust; reject one that is wrong (it is deleted for good).")
    empty_text = "Nothing is held back."

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.release_button = self.add_button("Release", ctx.review.release)
        self.reject_button = self.add_button("Reject", ctx.review.reject)

    def records(self):
        return self.ctx.review.quarantined(TAB_LIMIT)


class ForgettingInboxTab(_RecordsTab):
    hint = ("Memories that faded (not recalled for a long time) or that you forgot. They are out of recall but "
            "nothing is lost: restore any of them.")
    empty_text = "Nothing has been forgotten."

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.restore_button = self.add_button("Restore", ctx.app.memory.restore)

    def records(self):
        return self.ctx.app.memory.list(status="archived", limit=TAB_LIMIT)


class ProfileTab(_RecordsTab):
    hint = ("What secondme has concluded about you, section by section. Select a line to see the memories it "
            "was drawn from (History and links).")
    empty_text = "No profile yet: it is written by the reflection job from your memories."

    def records(self):
        return self.ctx.app.memory.list(kind="profile", status="active", limit=TAB_LIMIT)


def _side(record) -> str:
    when = (record.valid_from or record.recorded_at).strftime("%Y-%m-%d")
    return f"#{record.id} ({record.source}, {when}): {html.escape(' '.join(record.text.split())[:160])}"


class ConflictsTab(QWidget):
    """Pairs of memories linked `contradicts`: keep one (the other is superseded, never overwritten) or keep both."""

    memory_selected = Signal(object)

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        hint = QLabel("Memories that contradict each other. Keep the one that is true now; the other is marked "
                      "superseded (kept in history). If both are true, keep both.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._current_changed)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.keep_first = QPushButton("Keep first")
        self.keep_second = QPushButton("Keep second")
        self.keep_both = QPushButton("Both are true")
        for b in (self.keep_first, self.keep_second, self.keep_both):
            row.addWidget(b)
        layout.addLayout(row)
        self.empty = QLabel("")
        layout.addWidget(self.empty)
        self.keep_first.clicked.connect(lambda: self._resolve(0))
        self.keep_second.clicked.connect(lambda: self._resolve(1))
        self.keep_both.clicked.connect(self._dismiss)
        self.conflicts = []

    def refresh(self) -> None:
        self.conflicts = self.ctx.review.conflicts()
        self.list.clear()
        for c in self.conflicts:
            item = QListWidgetItem(f"1. {_side(c.first)}\n2. {_side(c.second)}".replace("&amp;", "&"))
            item.setData(Qt.ItemDataRole.UserRole, c.link_id)
            self.list.addItem(item)
        self.empty.setText("" if self.conflicts else "No contradictions to resolve.")
        self._update_buttons()

    def current(self):
        row = self.list.currentRow()
        return self.conflicts[row] if 0 <= row < len(self.conflicts) else None

    def _current_changed(self, *_args) -> None:
        c = self.current()
        if c is not None:
            self.memory_selected.emit(c.first.id)
        self._update_buttons()

    def _update_buttons(self) -> None:
        on = self.current() is not None
        for b in (self.keep_first, self.keep_second, self.keep_both):
            b.setEnabled(on)

    def resolve(self, link_id: int, keep_id: int) -> None:
        self._run(lambda: self.ctx.review.resolve_conflict(link_id, keep_id), f"Kept memory #{keep_id}.")

    def _resolve(self, side: int) -> None:
        c = self.current()
        if c is not None:
            self.resolve(c.link_id, (c.first, c.second)[side].id)

    def _dismiss(self) -> None:
        c = self.current()
        if c is not None:
            self._run(lambda: self.ctx.review.dismiss_conflict(c.link_id), "Kept both memories.")

    def _run(self, fn, message: str) -> None:
        def done(_result) -> None:
            self.ctx.events.status.emit(message)
            self.ctx.events.memories_changed.emit()

        self.ctx.tasks.run(fn, done, lambda exc: self.ctx.events.status.emit(str(exc)), owner=self)
