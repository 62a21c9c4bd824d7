"""What every screen shares: the services, the task runner, the chat-turn queue and the window's settings store."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Signal

from assistant.chat_backend import ChatBackend
from assistant.memory.review import MemoryReview
from ui.chat_turns import ChatTurnQueue, chat_service_of
from ui.progress import Activities
from ui.tasks import TaskRunner


class Events(QObject):
    """App-wide notifications, so screens stay independent of each other."""

    memories_changed = Signal()
    open_memory = Signal(int)
    open_session = Signal(int)
    status = Signal(str)


@dataclass
class UiContext:
    app: object
    tasks: TaskRunner
    qsettings: QSettings
    events: Events
    review: MemoryReview
    chat: ChatBackend | None = None
    chat_unavailable: str = ""
    chat_turns: ChatTurnQueue | None = None

    @property
    def activities(self) -> Activities:
        """Long work in progress, shown in the status bar."""
        return self.tasks.activities

    @classmethod
    def create(cls, app, parent: QObject | None = None, chat: ChatBackend | None = None) -> UiContext:
        """`chat` replaces the app's chat service (the unit tests pass an in-memory ChatBackend)."""
        # Under SECONDME_HOME, so a temporary home (tests, demos) never touches the user's window state.
        qsettings = QSettings(str(app.settings.home / "ui.ini"), QSettings.Format.IniFormat)
        chat, why = (chat, "") if chat is not None else chat_service_of(app)
        tasks = TaskRunner(parent, activities=Activities(parent))
        ctx = cls(app=app, tasks=tasks, qsettings=qsettings, events=Events(parent),
                  review=app.review, chat=chat, chat_unavailable=why)
        if chat is not None:
            ctx.chat_turns = ChatTurnQueue(chat, parent, activities=tasks.activities)
        return ctx

    def shutdown(self) -> None:
        if self.chat_turns is not None:
            self.chat_turns.shutdown()
        self.tasks.wait(10_000)
        self.qsettings.sync()
