"""Long work in progress (model load, import, reindex, a job run) and the status-bar widget that shows it.

`Activities` is app-wide state on the main thread; the task runner and the chat thread begin and end entries in
it, and report counts where the core can give them. The widget shows the newest entry: a determinate bar when
a total is known, a busy bar otherwise, and hides itself when nothing is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

BAR_WIDTH = 160


@dataclass
class Activity:
    text: str
    done: int = 0
    total: int = 0  # 0: unknown, a busy bar


class Activities(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: dict[int, Activity] = {}  # in the order they began
        self._keys = count(1)

    def begin(self, text: str, total: int = 0) -> int:
        key = next(self._keys)
        self._running[key] = Activity(text, 0, total)
        self.changed.emit()
        return key

    def update(self, key: int, done: int, total: int) -> None:
        activity = self._running.get(key)
        if activity is not None:  # a late report of work already ended is dropped
            activity.done, activity.total = done, total
            self.changed.emit()

    def end(self, key: int) -> None:
        if self._running.pop(key, None) is not None:
            self.changed.emit()

    def newest(self) -> Activity | None:
        return next(reversed(self._running.values()), None)

    def __len__(self) -> int:
        return len(self._running)


class ProgressIndicator(QWidget):
    """For the status bar: "Importing… 128 / 300" with a bar; hidden while nothing runs."""

    def __init__(self, activities: Activities, parent: QWidget | None = None):
        super().__init__(parent)
        self.activities = activities
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(BAR_WIDTH)
        self.bar.setTextVisible(False)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        activities.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        activity = self.activities.newest()
        if activity is None:
            self.hide()
            return
        more = len(self.activities) - 1
        text = activity.text
        if activity.total:
            text += f" {activity.done:,} / {activity.total:,}"
        if more:
            text += f"  (+{more} more)"
        self.label.setText(text)
        if activity.total:
            self.bar.setRange(0, activity.total)
            self.bar.setValue(min(activity.done, activity.total))
        else:
            self.bar.setRange(0, 0)  # Qt's busy indicator
        self.show()
