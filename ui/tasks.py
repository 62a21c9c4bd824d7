"""Background work that must not freeze the window: a QThreadPool whose results come back on the main thread."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ui.progress import Activities

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the main thread; signals emitted from a pool thread are queued to it."""

    done = Signal(object, object, object, object)  # (owner, callback, result, activity key)
    failed = Signal(object, object, object, object)  # (owner, callback, exception, activity key)
    progressed = Signal(object, int, int)  # (activity key, done, total)


class _Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], relay: _Relay, on_done, on_error, owner, activity: int | None):
        super().__init__()
        self.fn, self.relay, self.on_done, self.on_error, self.owner = fn, relay, on_done, on_error, owner
        self.activity = activity

    def _progress(self, done: int, total: int) -> None:
        """Called by the core on this pool thread; the count reaches the status bar on the main thread."""
        self.relay.progressed.emit(self.activity, int(done), int(total))

    def run(self) -> None:
        try:
            result = self.fn() if self.activity is None else self.fn(self._progress)
        except Exception as exc:  # reported on the main thread, never lost in a worker
            log.debug("background task failed: %s", traceback.format_exc())
            self.relay.failed.emit(self.owner, self.on_error, exc, self.activity)
        else:
            self.relay.done.emit(self.owner, self.on_done, result, self.activity)


class TaskRunner(QObject):
    """Runs callables off the main thread; `on_done(result)` / `on_error(exc)` run on the main thread.

    Anki's taskman pattern: one place for background work, so widgets never manage threads themselves.
    """

    error = Signal(str)  # one line for the status bar when a task has no error callback of its own

    def __init__(self, parent: QObject | None = None, max_threads: int = 2, activities: Activities | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.activities = activities if activities is not None else Activities(self)
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)
        self._relay.failed.connect(self._fail)
        self._relay.progressed.connect(self.activities.update)
        self.pending = 0

    def run(self, fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[Exception], None] | None = None, owner: QObject | None = None,
            activity: str | None = None) -> None:
        """`owner`: the widget the callbacks update; they are skipped if it was destroyed meanwhile.

        `activity`: long work the user should see going on ("Importing…"): it shows in the status bar until the
        task ends, and `fn` is called with a `progress(done, total)` callable to hand to the core.
        """
        self.pending += 1
        key = self.activities.begin(activity) if activity is not None else None
        self.pool.start(_Job(fn, self._relay, on_done, on_error, owner, key))

    @staticmethod
    def _gone(owner) -> bool:
        return owner is not None and not shiboken6.isValid(owner)

    @Slot(object, object, object, object)
    def _deliver(self, owner, callback, result, activity) -> None:
        self.pending -= 1
        if activity is not None:
            self.activities.end(activity)
        if callback is not None and not self._gone(owner):
            callback(result)

    @Slot(object, object, object, object)
    def _fail(self, owner, callback, exc, activity) -> None:
        self.pending -= 1
        if activity is not None:
            self.activities.end(activity)
        if self._gone(owner):
            return
        if callback is not None:
            callback(exc)
        else:
            self.error.emit(str(exc))

    def wait(self, msecs: int = 30_000) -> bool:
        return self.pool.waitForDone(msecs)
