"""Long work shows progress in the status bar and never freezes the window: import, reindex, a job, model load.

Real app, real SQLite/FTS5/Chroma/embedder; the window offscreen.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from tests.ui.conftest import wait_tasks
from ui.maintenance import importers, start_import, start_reindex

NOTES = 300  # three write batches of 128: the bar moves twice before the end


def _watch(window):
    """Every state the status-bar indicator shows, as (visible, label, value, maximum)."""
    seen = []
    progress = window.progress
    window.ctx.activities.changed.connect(lambda: seen.append(
        (progress.isVisible(), progress.label.text(), progress.bar.value(), progress.bar.maximum())))
    return seen


def test_an_import_counts_its_progress_while_the_window_keeps_running(window, ctx, app, qtbot, tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    for i in range(NOTES):
        (vault / f"note{i}.md").write_text(f"Box {i} in the attic holds winter coats and {i} old letters.")
    assert "obsidian" in importers(ctx)
    seen = _watch(window)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(ctx.tasks.pending))
    timer.start()

    start_import(ctx, "obsidian", vault)
    assert window.progress.isVisible() and window.progress.label.text().startswith("Importing vault…")
    wait_tasks(qtbot, ctx, timeout=180_000)
    timer.stop()

    assert not window.progress.isVisible()
    # The counts came from the core, batch by batch, while the import was still running.
    counts = [(value, maximum) for visible, _label, value, maximum in seen if visible and maximum == NOTES]
    assert (128, NOTES) in counts and (256, NOTES) in counts
    assert any(pending for pending in ticks), "the event loop did not run while the import was working"
    assert app.memory.count(status="active") == NOTES
    assert window.statusBar().currentMessage() == f"Imported {NOTES} memories from vault."


def test_a_failed_import_ends_its_progress_and_says_why(window, ctx, tmp_path, qtbot):
    start_import(ctx, "chatgpt", tmp_path / "missing.json")
    wait_tasks(qtbot, ctx)
    assert not window.progress.isVisible()
    assert window.statusBar().currentMessage().startswith("Import failed: File not found")


def test_importing_a_full_json_export_restores_it_and_refuses_a_second_time(window, ctx, app, qtbot, tmp_path,
                                                                             embedder):
    from assistant.app import App
    from assistant.config import load_settings

    other = App(load_settings(home=tmp_path / "other-home"), embedder=embedder)
    try:
        pinned = other.memory.pin(other.memory.remember("My cat is called Miso", source="api").id)
        other.memory.remember("I work at a bakery")
        export = other.portable.export(tmp_path / "everything.json").path
    finally:
        other.close()
    start_import(ctx, "json", export)
    wait_tasks(qtbot, ctx)
    assert window.statusBar().currentMessage() == "Restored 2 memories and 0 chats from everything.json."
    restored = app.memory.get(pinned.id)
    assert (restored.text, restored.pinned, restored.source) == ("My cat is called Miso", True, "api")
    start_import(ctx, "json", export)  # the store is not empty any more
    wait_tasks(qtbot, ctx)
    assert window.statusBar().currentMessage().startswith("Import failed: The data folder ")
    assert app.memory.count() == 2


def test_rebuilding_the_indexes_shows_progress_then_recall_works(window, ctx, app, qtbot):
    for text in ("I like green tea", "My cat is called Miso", "I work at a bakery"):
        app.memory.remember(text)
    seen = _watch(window)
    start_reindex(ctx)
    assert window.progress.isVisible() and window.progress.bar.maximum() == 0  # busy until the first count
    wait_tasks(qtbot, ctx)
    assert not window.progress.isVisible()
    assert (True, "Rebuilding the search indexes… 0 / 3", 0, 3) in seen
    assert window.statusBar().currentMessage() == "Search indexes rebuilt for 3 memories."
    assert app.memory.recall("what is my cat called", k=1)[0].memory.text == "My cat is called Miso"


def test_running_a_job_now_shows_a_busy_bar(window, ctx, app, qtbot):
    panel = window.jobs_panel
    window.tabs.setCurrentWidget(panel)  # builds the real job service on first view
    assert panel.jobs is not None
    row = [panel.jobs_table.item(r, 0).text() for r in range(panel.jobs_table.rowCount())].index("forgetting")
    panel.jobs_table.cellWidget(row, 4).click()
    assert window.progress.isVisible() and window.progress.label.text() == "Running forgetting…"
    wait_tasks(qtbot, ctx)
    assert not window.progress.isVisible()
    assert window.statusBar().currentMessage() == "forgetting finished."


def test_the_model_load_shows_until_the_model_is_ready(window, ctx, qtbot):
    ctx.chat_turns.warm_up()
    ctx.chat_turns.warm_up()  # a second request while loading adds no second entry
    assert window.progress.label.text() == "Loading the chat model…" and len(ctx.activities) == 1
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=10_000)
    assert ctx.chat.warmed == 2 and len(ctx.activities) == 0
