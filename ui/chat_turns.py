"""Chat turns run on one Qt thread of their own, so the window never blocks while an answer streams.

The model itself lives on assistant.llm.worker.ModelWorker's thread; a turn on this thread recalls, builds the
prompt and waits on the model's streamed pieces. Turns are queued to this thread's event loop, so they run one
after another; tokens come back to the window as queued signals. Stop is a flag the model checks between tokens,
set from the main thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from PySide6.QtCore import QObject, QThread, Signal, Slot

from assistant.chat_backend import ChatBackend

log = logging.getLogger(__name__)


def chat_service_of(app) -> tuple[ChatBackend | None, str]:
    """The app's chat service and "", or None and why not (the window then says so instead of chatting)."""
    try:
        return app.chat, ""
    except Exception as exc:  # building it can fail on the settings, e.g. a configured model file that is missing
        return None, str(exc)


class ChatTurnRunner(QObject):
    """Lives on the chat-turn thread: runs each queued turn (and the model warm-up) and reports by signals."""

    ready = Signal(float)  # seconds the model took to load
    load_failed = Signal(str)
    started = Signal(int, str)  # session id, user text
    token = Signal(str)
    finished = Signal(object)  # TurnResult
    failed = Signal(str)

    def __init__(self, chat: ChatBackend):
        super().__init__()
        self.chat = chat
        self._stop = threading.Event()

    # The slots below run on the chat-turn thread (queued connections from the main thread).
    @Slot()
    def warm_up(self) -> None:
        """Load the model in the background right after the window shows, so the first send is quick."""
        begin = time.perf_counter()
        try:
            self.chat.warm_up()
        except Exception as exc:
            self.load_failed.emit(str(exc))
            return
        self.ready.emit(time.perf_counter() - begin)

    @Slot(int, str)
    def send(self, session_id: int, text: str) -> None:
        self._turn(session_id, text, lambda **kw: self.chat.send(session_id, text, **kw))

    @Slot(int)
    def regenerate(self, session_id: int) -> None:
        self._turn(session_id, "", lambda **kw: self.chat.regenerate(session_id, **kw))

    def _turn(self, session_id: int, text: str, answer) -> None:
        self._stop.clear()
        self.started.emit(session_id, text)
        try:
            result = answer(on_token=self.token.emit, should_stop=self._stop.is_set)
        except Exception as exc:  # the user's message is already stored by the service; say what failed
            log.warning("chat turn failed: %s", exc)
            self.failed.emit(str(exc))
            return
        self.finished.emit(result)

    def stop(self) -> None:
        """Called from the main thread: the model stops at its next token."""
        self._stop.set()


class ChatTurnQueue(QObject):
    """Owns the chat-turn thread and its runner. `submit` queues a send; the signals below name who asked for it,
    so the chat view and the quick-recall popup can share the one model without reading each other's answers."""

    token = Signal(object, str)  # owner, text
    finished = Signal(object, object)  # owner, TurnResult
    failed = Signal(object, str)  # owner, message
    _send = Signal(int, str)
    _regenerate = Signal(int)
    _warm = Signal()

    def __init__(self, chat: ChatBackend, parent: QObject | None = None, activities=None):
        super().__init__(parent)
        self.activities = activities  # ui.progress.Activities: the model load shows in the status bar
        self._loading: int | None = None
        self.thread = QThread()
        self.thread.setObjectName("chat-turns")
        self.runner = ChatTurnRunner(chat)
        self.runner.moveToThread(self.thread)
        self._owners: deque[object] = deque()
        self.current_owner: object | None = None
        self._send.connect(self.runner.send)
        self._regenerate.connect(self.runner.regenerate)
        self._warm.connect(self.runner.warm_up)
        self.runner.started.connect(self._on_started)
        # Bound slots of this main-thread object: Qt queues them, so they run on the main thread, in order.
        self.runner.token.connect(self._on_token)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.ready.connect(self._loaded)
        self.runner.load_failed.connect(self._loaded)
        self.thread.start()

    @Slot(int, str)
    def _on_started(self, _session_id: int, _text: str) -> None:
        self.current_owner = self._owners.popleft() if self._owners else None

    @Slot(str)
    def _on_token(self, text: str) -> None:
        self.token.emit(self.current_owner, text)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self._end(self.finished, result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._end(self.failed, message)

    def _end(self, signal, payload) -> None:
        owner, self.current_owner = self.current_owner, None
        signal.emit(owner, payload)

    @property
    def busy(self) -> bool:
        return self.current_owner is not None or bool(self._owners)

    def warm_up(self) -> None:
        if self.activities is not None and self._loading is None:
            self._loading = self.activities.begin("Loading the chat model…")
        self._warm.emit()

    def _loaded(self, *_args) -> None:
        if self._loading is not None:
            self.activities.end(self._loading)
            self._loading = None

    def submit(self, owner: object, session_id: int, text: str) -> None:
        self._owners.append(owner)
        self._send.emit(session_id, text)

    def regenerate(self, owner: object, session_id: int) -> None:
        """Queue a new answer to the session's last question, replacing its old answer when it completes."""
        self._owners.append(owner)
        self._regenerate.emit(session_id)

    def stop(self) -> None:
        self.runner.stop()

    def shutdown(self, msecs: int = 10_000) -> None:
        self.runner.stop()
        self.thread.quit()
        self.thread.wait(msecs)
