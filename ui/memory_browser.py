"""The memory browser: search and filters, a detail pane, and the review tabs
(quarantine, conflicts, inbox, profile)."""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from storage.models import MEMORY_KINDS, MEMORY_STATUSES, SOURCES
from ui.memory_detail import MemoryDetail
from ui.memory_filters import MemoryFilter, find_memories
from ui.memory_table import MemoryTable
from ui.review_tabs import ConflictsTab, ForgettingInboxTab, ProfileTab, QuarantineTab

SEARCH_DEBOUNCE_MS = 300
ANY = "any"


def _combo(values, default: str = ANY) -> QComboBox:
    box = QComboBox()
    box.addItem(ANY)
    box.addItems(list(values))
    box.setCurrentText(default)
    return box


class SearchTab(QWidget):
    """Every memory, searchable with the same hybrid recall the chat uses, narrowed by filters."""

    memory_selected = Signal(object)
    loaded = Signal(int)  # rows shown

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search memories (Ctrl+F)")
        self.query.setClearButtonEnabled(True)
        layout.addWidget(self.query)
        row = QHBoxLayout()
        self.kind = _combo(MEMORY_KINDS)
        self.status = _combo([s for s in MEMORY_STATUSES if s != "deleted"], "active")
        self.source = _combo(SOURCES)
        self.use_dates = QCheckBox("from")
        self.date_from = QDateEdit(QDate.currentDate().addMonths(-1))
        self.date_to = QDateEdit(QDate.currentDate())
        for d in (self.date_from, self.date_to):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
        self.pinned = QCheckBox("pinned only")
        self.weaker = QCheckBox("show weaker matches")
        self.weaker.setToolTip("Also list memories that share no word with the search and are only loosely similar")
        for label, w in (("kind", self.kind), ("status", self.status), ("source", self.source)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        dates = QHBoxLayout()  # a second row keeps the window usable on small screens
        dates.addWidget(self.use_dates)
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addWidget(self.pinned)
        dates.addStretch(1)
        layout.addLayout(dates)
        self.table = MemoryTable()
        self.table.memory_selected.connect(self.memory_selected)
        layout.addWidget(self.table, 1)
        self.count_label = QLabel("")
        counted = QHBoxLayout()  # the floor's switch sits by the count it changes
        counted.addWidget(self.count_label, 1)
        counted.addWidget(self.weaker)
        layout.addLayout(counted)

        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SEARCH_DEBOUNCE_MS)
        self.timer.timeout.connect(self.refresh)
        self.query.textChanged.connect(lambda _t: self.timer.start())
        for box in (self.kind, self.status, self.source):
            box.currentTextChanged.connect(lambda _t: self.refresh())
        for check in (self.use_dates, self.pinned, self.weaker):
            check.toggled.connect(lambda _b: self.refresh())
        for d in (self.date_from, self.date_to):
            d.dateChanged.connect(lambda _d: self.use_dates.isChecked() and self.refresh())
        self._generation = 0

    def current_filter(self) -> MemoryFilter:
        def pick(box):
            return None if box.currentText() == ANY else box.currentText()

        dates = self.use_dates.isChecked()
        return MemoryFilter(query=self.query.text().strip(), kind=pick(self.kind), status=pick(self.status),
                            source=pick(self.source),
                            date_from=self.date_from.date().toPython() if dates else None,
                            date_to=self.date_to.date().toPython() if dates else None,
                            pinned_only=self.pinned.isChecked(), include_weak=self.weaker.isChecked())

    def refresh(self) -> None:
        flt = self.current_filter()
        self._generation += 1
        generation = self._generation
        memory = self.ctx.app.memory

        def show(records) -> None:
            if generation != self._generation:  # a newer search superseded this one
                return
            self.table.set_records(records)
            self.count_label.setText(f"{len(records)} memor{'y' if len(records) == 1 else 'ies'}"
                                     + (f" matching “{flt.query}”" if flt.query else ""))
            self.loaded.emit(len(records))

        def failed(exc) -> None:
            if generation == self._generation:
                self.count_label.setText(str(exc))
                self.loaded.emit(-1)

        self.count_label.setText("Searching…" if flt.query else "Loading…")
        self.ctx.tasks.run(lambda: find_memories(memory, flt), show, failed, owner=self)


class MemoryBrowser(QWidget):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.tabs = QTabWidget()
        self.search_tab = SearchTab(ctx)
        self.quarantine_tab = QuarantineTab(ctx)
        self.conflicts_tab = ConflictsTab(ctx)
        self.inbox_tab = ForgettingInboxTab(ctx)
        self.profile_tab = ProfileTab(ctx)
        self.tabs.addTab(self.search_tab, "Memories")
        self.tabs.addTab(self.quarantine_tab, "Quarantine")
        self.tabs.addTab(self.conflicts_tab, "Conflicts")
        self.tabs.addTab(self.inbox_tab, "Forgetting inbox")
        self.tabs.addTab(self.profile_tab, "Profile")
        self.detail = MemoryDetail(ctx)
        splitter.addWidget(self.tabs)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.detail.setMinimumWidth(220)
        splitter.setSizes([620, 420])
        layout.addWidget(splitter)
        for tab in (self.search_tab, self.quarantine_tab, self.conflicts_tab, self.inbox_tab, self.profile_tab):
            tab.memory_selected.connect(self._select)
        ctx.events.memories_changed.connect(self.refresh)
        self.tabs.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, _index: int) -> None:
        current = self.tabs.currentWidget()
        if current is not None and self.isVisible():  # not while the window is being torn down
            current.refresh()

    def _select(self, memory_id) -> None:
        if memory_id is not None:
            self.detail.show_memory(memory_id)

    def refresh(self) -> None:
        for tab in (self.search_tab, self.quarantine_tab, self.conflicts_tab, self.inbox_tab, self.profile_tab):
            tab.refresh()

    def open_memory(self, memory_id: int) -> None:
        """Show one memory (e.g. clicked under a chat answer) in the detail pane."""
        self.detail.show_memory(memory_id)
        self.search_tab.table.select_id(memory_id)

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.search_tab)
        self.search_tab.query.setFocus()
        self.search_tab.query.selectAll()
