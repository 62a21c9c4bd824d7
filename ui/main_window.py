"""The main window: chats sidebar, and tabs for the chat, the memory browser and the jobs panel."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QTabWidget

from ui.chat_view import ChatView
from ui.icon import app_icon
from ui.jobs_panel import JobsPanel
from ui.maintenance import ask_and_import, start_reindex
from ui.memory_browser import MemoryBrowser
from ui.progress import ProgressIndicator
from ui.quick_recall import QuickRecallPopup
from ui.sessions_sidebar import SessionsSidebar

STATUS_MS = 6000


class MainWindow(QMainWindow):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.tray = None
        self.hotkey = None
        self._quitting = False
        self.setWindowTitle("secondme")
        self.setWindowIcon(app_icon())
        self.sidebar = SessionsSidebar(ctx)
        self.chat_view = ChatView(ctx)
        self.memory_browser = MemoryBrowser(ctx)
        self.jobs_panel = JobsPanel(ctx)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.chat_view, "Chat")
        self.tabs.addTab(self.memory_browser, "Memory")
        self.tabs.addTab(self.jobs_panel, "Jobs")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 860])
        self.setCentralWidget(self.splitter)
        self.quick_recall = QuickRecallPopup(ctx)

        self.sidebar.session_selected.connect(self._session_selected)
        self.chat_view.session_created.connect(lambda sid: self.sidebar.refresh(select=sid))
        self.chat_view.turn_finished.connect(lambda _sid: self.sidebar.refresh())
        ctx.events.open_memory.connect(self.open_memory)
        ctx.events.open_session.connect(self.open_session)
        ctx.events.status.connect(lambda text: self.statusBar().showMessage(text, STATUS_MS))
        ctx.tasks.error.connect(lambda text: self.statusBar().showMessage(text, STATUS_MS))
        self.progress = ProgressIndicator(ctx.activities)
        self.statusBar().addPermanentWidget(self.progress)
        self._menus()
        self._shortcuts()
        self.restore_state()

    # -- menus and keys ----------------------------------------------------------------------------
    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&secondme")
        for text, slot, keys in (("New chat", self.new_chat, QKeySequence.StandardKey.New),
                                 ("Quick recall", self.show_quick_recall, None),
                                 ("Import…", lambda: ask_and_import(self.ctx, self), None),
                                 ("Rebuild search indexes", lambda: start_reindex(self.ctx), None),
                                 ("Settings…", self.open_settings, QKeySequence.StandardKey.Preferences),
                                 ("Quit", self.quit_app, QKeySequence.StandardKey.Quit)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            if keys is not None:
                action.setShortcut(keys)
            menu.addAction(action)

    def _shortcuts(self) -> None:
        for keys, slot in (("Ctrl+K", self.search_chats), ("Ctrl+F", self.search_memories),
                           ("Esc", self.chat_view.stop)):
            QShortcut(QKeySequence(keys), self, slot)

    def new_chat(self) -> None:
        if self.ctx.chat is None:
            return
        self.sidebar.new_session()
        self.tabs.setCurrentWidget(self.chat_view)
        self.chat_view.input.setFocus()

    def search_chats(self) -> None:
        self.sidebar.focus_search()

    def search_memories(self) -> None:
        self.tabs.setCurrentWidget(self.memory_browser)
        self.memory_browser.focus_search()

    # -- navigation --------------------------------------------------------------------------------
    def _session_selected(self, session_id) -> None:
        self.chat_view.set_session(session_id)
        if session_id is not None:
            self.ctx.qsettings.setValue("last_session_id", session_id)
            self.tabs.setCurrentWidget(self.chat_view)

    def open_session(self, session_id: int) -> None:
        self.sidebar.select(session_id)

    def open_memory(self, memory_id: int) -> None:
        self.tabs.setCurrentWidget(self.memory_browser)
        self.memory_browser.open_memory(memory_id)

    def _tab_changed(self, _index: int) -> None:
        current = self.tabs.currentWidget()
        if current is self.memory_browser and not self.memory_browser.search_tab.table.records:
            self.memory_browser.refresh()
        elif current is self.jobs_panel:
            self.jobs_panel.refresh()

    def open_settings(self):
        from ui.settings_dialog import SettingsDialog  # imports llama_cpp for the model catalogue: only when asked

        dialog = SettingsDialog(self.ctx, self)
        dialog.open()
        return dialog

    def show_quick_recall(self) -> None:
        self.quick_recall.popup()

    def start_global_hotkey(self, platform: str | None = None) -> str:
        """Watch for the quick-recall hotkey where the platform allows; the status bar says whether it works."""
        from assistant.hotkey_spec import normalize_hotkey
        from ui.hotkey import GlobalHotkey  # (pynput is imported only where the platform has a hotkey)

        try:
            spec = normalize_hotkey(self.ctx.app.settings.quick_recall_hotkey)
        except ValueError as exc:  # a typo in config.toml: no hotkey, but the app runs
            spec, message = "", f"Global hotkey is off: {exc}; fix it in Settings → App."
        else:
            message = "No global hotkey: it is turned off in Settings → App."
        if spec:
            self.hotkey = GlobalHotkey(spec, self)
            self.hotkey.activated.connect(self.show_quick_recall)
            message = self.hotkey.start(platform)
        self.statusBar().showMessage(message, STATUS_MS)
        return message

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def set_memory_paused(self, paused: bool) -> None:
        """While paused, chat still works but nothing new is remembered from it."""
        if self.ctx.chat is None:
            return
        self.ctx.chat.memory_paused = paused
        self.statusBar().showMessage("Memory paused: new chats are not remembered." if paused else "Memory on.",
                                     STATUS_MS)

    # -- state -------------------------------------------------------------------------------------
    def restore_state(self) -> None:
        s = self.ctx.qsettings
        geometry = s.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 720)
        last = s.value("last_session_id")
        if last is not None and self.ctx.chat is not None:
            self.sidebar.select(int(last))

    def save_state(self) -> None:
        self.ctx.qsettings.setValue("geometry", self.saveGeometry())
        self.ctx.qsettings.sync()

    def closeEvent(self, event) -> None:
        keep_in_tray = self.tray is not None and self.tray.isVisible() and \
            self.ctx.qsettings.value("close_to_tray", True, type=bool)
        self.save_state()
        if keep_in_tray and not self._quitting:
            self.hide()
            self.tray.showMessage("secondme", "Still running in the tray; quit from its menu.")
            event.ignore()
            return
        self._shutdown()
        event.accept()
        QApplication.quit()

    def quit_app(self) -> None:
        self._quitting = True
        self.close()

    def _shutdown(self) -> None:
        self.sidebar.commit_pending_deletes()
        self.quick_recall.close()
        if self.hotkey is not None:
            self.hotkey.stop()
        if self.tray is not None:
            self.tray.hide()
        self.ctx.shutdown()

    def start_background_loading(self) -> None:
        """After the window shows: load the chat model on its thread and the embedder on the task runner."""
        if self.ctx.chat_turns is not None:
            self.ctx.chat_turns.warm_up()
        app = self.ctx.app
        QTimer.singleShot(0, lambda: self.ctx.tasks.run(lambda _progress: app.warm_up(), None,
                                                        lambda exc: self.statusBar().showMessage(str(exc)),
                                                        activity="Loading the memory model…"))
        # The window is the long-running process: it runs the upkeep scheduler and the fact-extraction worker.
        self.ctx.tasks.run(app.start_background_work, None,
                           lambda exc: self.statusBar().showMessage(f"Background upkeep not started: {exc}"))
