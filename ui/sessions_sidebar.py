"""The chats sidebar: new, rename, delete with undo, full-text search across all chats, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from storage.errors import UserError

if TYPE_CHECKING:
    from assistant.chat import MessageHit

UNDO_MS = 8000  # how long a deleted chat can still be brought back
SEARCH_DEBOUNCE_MS = 250
EXPORT_SUFFIX = {"markdown": ".md", "json": ".json"}


def hit_preview(hit: MessageHit) -> str:
    """One line for a search hit: its chat's title and the matching words."""
    return f"{hit.session_title}: {' '.join(hit.snippet.split())[:120]}"


class SessionsSidebar(QWidget):
    session_selected = Signal(object)  # session id or None

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.chat = ctx.chat
        self.pending_deletes: dict[int, QTimer] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_session)
        layout.addWidget(self.new_button)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search all chats (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.stack = QStackedWidget(self)
        self.list = QListWidget(self)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._current_changed)
        self.results = QListWidget(self)
        self.results.itemActivated.connect(self._open_hit)
        self.results.itemClicked.connect(self._open_hit)
        self.stack.addWidget(self.list)
        self.stack.addWidget(self.results)
        layout.addWidget(self.stack, 1)
        self.undo_bar = QWidget(self)
        undo_layout = QHBoxLayout(self.undo_bar)
        undo_layout.setContentsMargins(0, 0, 0, 0)
        self.undo_label = QLabel("")
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_layout.addWidget(self.undo_label, 1)
        undo_layout.addWidget(self.undo_button)
        self.undo_bar.hide()
        layout.addWidget(self.undo_bar)

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self.search_timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _t: self.search_timer.start())
        self.setEnabled(self.chat is not None)
        self.refresh()

    # -- the list ----------------------------------------------------------------------------------
    def refresh(self, select: int | None = None) -> None:
        if self.chat is None:
            return
        keep = select if select is not None else self.current_session_id()
        self.list.blockSignals(True)
        self.list.clear()
        for info in self.chat.list_sessions():
            if info.id in self.pending_deletes:
                continue
            item = QListWidgetItem(info.title or "New chat")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(f"chat {info.id}")
            self.list.addItem(item)
            if info.id == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def current_session_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select(self, session_id: int | None) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == session_id:
                self.list.setCurrentRow(row)
                return

    def _current_changed(self, current, _previous) -> None:
        self.session_selected.emit(current.data(Qt.ItemDataRole.UserRole) if current else None)

    # -- actions -----------------------------------------------------------------------------------
    def new_session(self) -> int:
        info = self.chat.new_session()
        self.refresh(select=info.id)
        self.session_selected.emit(info.id)
        return info.id

    def rename_session(self, session_id: int, title: str) -> None:
        try:
            self.chat.rename_session(session_id, title)
        except UserError as exc:
            self.ctx.events.status.emit(str(exc))
            return
        self.refresh()

    def _ask_rename(self, session_id: int, current: str) -> None:
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
        if ok:
            self.rename_session(session_id, title)

    def delete_session(self, session_id: int) -> None:
        """Hidden at once, deleted for good when the undo time runs out (or the app closes)."""
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(UNDO_MS)
        timer.timeout.connect(lambda: self._commit_delete(session_id))
        self.pending_deletes[session_id] = timer
        timer.start()
        was_current = self.current_session_id() == session_id
        self.refresh()
        if was_current:
            self.list.setCurrentRow(-1)
            self.session_selected.emit(None)
        self.undo_label.setText("Chat deleted.")
        self.undo_bar.show()

    def undo_delete(self) -> None:
        for session_id, timer in list(self.pending_deletes.items()):
            timer.stop()
            del self.pending_deletes[session_id]
        self.undo_bar.hide()
        self.refresh()

    def _commit_delete(self, session_id: int) -> None:
        timer = self.pending_deletes.pop(session_id, None)
        if timer is None:
            return
        timer.stop()
        try:
            self.chat.delete_session(session_id)
        except UserError as exc:
            self.ctx.events.status.emit(str(exc))
        if not self.pending_deletes:
            self.undo_bar.hide()

    def commit_pending_deletes(self) -> None:
        for session_id in list(self.pending_deletes):
            self._commit_delete(session_id)

    def export_session(self, session_id: int, fmt: str, path: Path) -> Path:
        text = self.chat.export_session(session_id, fmt)
        path = Path(path)
        path.write_text(text, encoding="utf-8")
        self.ctx.events.status.emit(f"Exported chat to {path}")
        return path

    def _ask_export(self, session_id: int, fmt: str) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export chat", f"chat-{session_id}{EXPORT_SUFFIX[fmt]}")
        if name:
            self.export_session(session_id, fmt, Path(name))

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        session_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self._ask_rename(session_id, item.text()))
        menu.addAction("Export as Markdown…", lambda: self._ask_export(session_id, "markdown"))
        menu.addAction("Export as JSON…", lambda: self._ask_export(session_id, "json"))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_session(session_id))
        menu.exec(self.list.mapToGlobal(pos))

    # -- search ------------------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def run_search(self) -> None:
        query = self.search.text().strip()
        if not query or self.chat is None:
            self.stack.setCurrentWidget(self.list)
            return
        self.results.clear()
        try:
            hits = self.chat.search_messages(query, limit=50)
        except UserError as exc:
            hits = []
            self.ctx.events.status.emit(str(exc))
        for hit in hits:
            if hit.session_id in self.pending_deletes:
                continue
            item = QListWidgetItem(hit_preview(hit))
            item.setData(Qt.ItemDataRole.UserRole, hit.session_id)
            self.results.addItem(item)
        if not self.results.count():
            self.results.addItem(QListWidgetItem("No messages match."))
        self.stack.setCurrentWidget(self.results)

    def _open_hit(self, item: QListWidgetItem) -> None:
        session_id = item.data(Qt.ItemDataRole.UserRole)
        if session_id is None:
            return
        self.search.clear()
        self.stack.setCurrentWidget(self.list)
        self.select(session_id)
