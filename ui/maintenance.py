"""Import notes or chat history, and rebuild the search indexes: long work, run on the task runner with its
progress in the status bar. The work itself is the core's (PluginHost.run_integration, PortableStore for a full
JSON export, MemoryManager.reindex)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from assistant.imports import run_import
from assistant.memory.portable import RestoreReport
from ui.import_report import ImportReportDialog, status_line

# Importers that read a folder; every other importer reads one file.
FOLDER_IMPORTERS = {"obsidian"}


def importers(ctx) -> dict[str, str]:
    """name -> description of every importer the plugins offer."""
    return {name: i.description for (kind, name), i in sorted(ctx.app.plugins.integrations().items())
            if kind == "import"}


def start_import(ctx, name: str, path: Path, mine: bool = False, parent: QWidget | None = None) -> None:
    """Import in the background; the status bar counts the items written, then sums up the report. With a
    `parent` (the menu's import), the full report opens in a window of its own."""
    app = ctx.app

    def done(report) -> None:
        ctx.events.memories_changed.emit()
        if isinstance(report, RestoreReport):
            n = report.counts
            ctx.events.status.emit(f"Restored {n['memories']} memories and {n['sessions']} chats from "
                                   f"{Path(path).name}.")
            return
        ctx.events.status.emit(status_line(report, Path(path).name))
        if parent is not None:
            dialog = ImportReportDialog(report, Path(path).name, parent)
            dialog.show()

    def work(progress):
        # A full export (version 2) is restored exactly, into an empty data folder only; older JSON exports
        # and every other importer go through the plugins, adding new memories.
        archive = app.portable.read(path) if name == "json" else None
        if archive is not None:
            return app.portable.restore(archive, progress=progress)
        return run_import(app.plugins, name, path, progress=progress, mine=mine)

    ctx.tasks.run(work, done, lambda exc: ctx.events.status.emit(f"Import failed: {exc}"),
                  activity=f"Importing {Path(path).name}…")


def start_reindex(ctx) -> None:
    """Rebuild the keyword and vector indexes from the database; the status bar counts memories re-embedded."""
    memory = ctx.app.memory

    def done(count: int) -> None:
        ctx.events.status.emit(f"Search indexes rebuilt for {count} memories.")
        ctx.events.memories_changed.emit()

    ctx.tasks.run(lambda progress: memory.reindex(progress=progress), done,
                  lambda exc: ctx.events.status.emit(f"Rebuilding the indexes failed: {exc}"),
                  activity="Rebuilding the search indexes…")


def ask_and_import(ctx, parent: QWidget) -> None:
    """Menu action: choose an importer, then its folder or file."""
    offered = importers(ctx)
    labels = [f"{name} — {description}" for name, description in offered.items()]
    label, ok = QInputDialog.getItem(parent, "Import", "What to import:", labels, 0, False)
    if not ok:
        return
    name = list(offered)[labels.index(label)]
    if name in FOLDER_IMPORTERS:
        chosen = QFileDialog.getExistingDirectory(parent, f"Choose the {name} folder", str(Path.home()))
    else:
        chosen, _ = QFileDialog.getOpenFileName(parent, f"Choose the {name} file", str(Path.home()))
    if not chosen:
        return
    mine = QMessageBox.question(
        parent, "Import", "Did you write these yourself (your own notes or chats)?\n\nYour own are checked as "
        "what you tell secondme; anything else is checked as a document from outside.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes
    start_import(ctx, name, Path(chosen), mine=mine, parent=parent)
