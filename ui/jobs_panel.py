"""The background jobs panel: each job's schedule, next and last run with Run now (where the app has a job
service, `app.jobs`), and the recorded runs with what each one changed."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

RUN_COLUMNS = ("job", "status", "started", "finished", "what changed")
JOB_COLUMNS = ("job", "schedule", "next run", "last run", "")


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _table(columns) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(len(columns) - 1, QHeaderView.ResizeMode.Stretch)
    return table


class JobsPanel(QWidget):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.jobs = ctx.app.jobs  # the core's JobService (a test may put a stand-in with list() and run())
        layout = QVBoxLayout(self)
        self.jobs_table = _table(JOB_COLUMNS)
        self.jobs_table.hide()
        layout.addWidget(self.jobs_table)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = _table(RUN_COLUMNS)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)

    def refresh(self) -> None:
        self._show_jobs()
        runs = self.ctx.review.job_runs()
        self.table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            changed = r.error or (json.dumps(r.counts, ensure_ascii=False) if r.counts else "")
            for col, value in enumerate((r.job, r.status, _when(r.started_at), _when(r.finished_at), changed)):
                self.table.setItem(row, col, QTableWidgetItem(value))
        if runs:
            last = runs[0]
            self.summary.setText(f"Last run: {last.job} at {_when(last.started_at)} ({last.status}).")
        else:
            self.summary.setText("No background job has run yet. Consolidation, reflection and forgetting runs "
                                 "are listed here once they have run.")

    def _show_jobs(self) -> None:
        try:
            jobs = self.jobs.list()
        except Exception as exc:
            self.ctx.events.status.emit(str(exc))
            return
        self.jobs_table.show()
        self.jobs_table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            last = job.get("last_run") or {}
            last_text = f"{_when(last.get('started_at'))} ({last.get('status')})" if last else "never"
            for col, value in enumerate((job["job"], job.get("schedule", ""), _when(job.get("next_run")), last_text)):
                self.jobs_table.setItem(row, col, QTableWidgetItem(value))
            button = QPushButton("Run now")
            button.clicked.connect(lambda _c=False, name=job["job"]: self.run_now(name))
            self.jobs_table.setCellWidget(row, len(JOB_COLUMNS) - 1, button)

    def run_now(self, name: str) -> None:
        def done(_result) -> None:
            self.refresh()
            self.ctx.events.status.emit(f"{name} finished.")
            self.ctx.events.memories_changed.emit()

        self.ctx.tasks.run(lambda _progress: self.jobs.run(name), done,
                           lambda exc: self.ctx.events.status.emit(f"{name} failed: {exc}"), owner=self,
                           activity=f"Running {name}…")
