"""The background jobs panel: recent runs, what each changed, and Run now where the app has a job scheduler."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ("job", "status", "started", "finished", "what changed")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


class JobsPanel(QWidget):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.refresh_button)
        self.jobs = getattr(ctx.app, "jobs", None) if hasattr(type(ctx.app), "jobs") else None
        self.run_buttons = []
        for name in getattr(self.jobs, "names", lambda: [])() if self.jobs is not None else []:
            button = QPushButton(f"Run {name} now")
            button.clicked.connect(lambda _c=False, n=name: self.run_now(n))
            row.addWidget(button)
            self.run_buttons.append(button)
        layout.addLayout(row)

    def refresh(self) -> None:
        runs = self.ctx.review.job_runs()
        self.table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            changed = r.error or json.dumps(r.counts, ensure_ascii=False) if (r.error or r.counts) else ""
            for col, value in enumerate((r.job, r.status, _when(r.started_at), _when(r.finished_at), changed)):
                self.table.setItem(row, col, QTableWidgetItem(value))
        if runs:
            last = runs[0]
            self.summary.setText(f"Last run: {last.job} at {_when(last.started_at)} ({last.status}).")
        else:
            self.summary.setText("No background job has run yet. Consolidation, reflection and forgetting runs "
                                 "are listed here once the scheduler has run them.")

    def run_now(self, name: str) -> None:
        self.ctx.events.status.emit(f"Running {name}…")
        self.ctx.tasks.run(lambda: self.jobs.run_now(name), lambda _r: (self.refresh(), self.ctx.events.status.emit(f"{name} finished.")),
                           lambda exc: self.ctx.events.status.emit(f"{name} failed: {exc}"), owner=self)
