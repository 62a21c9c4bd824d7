"""`secondme --screenshot DIR`: the main window, memory browser, settings and quick-recall popup as PNGs.

Rendered offscreen in a temporary data folder filled with demo data, so the user's own data is never shown.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

SIZE = (1200, 760)


def _settle(qapp, ctx, seconds: float = 60.0) -> None:
    """Let background tasks and queued signals finish, so the pictures show results, not 'Loading…'."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        qapp.processEvents()
        busy = ctx.tasks.pending or (ctx.chat_turns is not None and ctx.chat_turns.busy)
        if not busy:
            for _ in range(5):
                qapp.processEvents()
                time.sleep(0.02)
            return
        time.sleep(0.02)


def render_screenshots(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    # A background thread of Chroma's may still be finishing a file when the folder goes: demo data only, so a
    # straggler must not fail the command after the pictures are written.
    with tempfile.TemporaryDirectory(prefix="secondme-demo-", ignore_cleanup_errors=True) as home:
        previous = os.environ.get("SECONDME_HOME")
        os.environ["SECONDME_HOME"] = home
        try:
            return _render(out_dir)
        finally:
            if previous is None:
                os.environ.pop("SECONDME_HOME", None)
            else:
                os.environ["SECONDME_HOME"] = previous


def _render(out_dir: Path) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from assistant.app import App
    from ui.demo_data import seed_demo
    from ui.window import build_window, qapplication

    qapp = qapplication()
    core = App()
    window = build_window(core, qapp)
    ctx = window.ctx
    made = seed_demo(core, ctx.chat)
    ctx.qsettings.setValue("first_run_done", True)
    window.resize(*SIZE)
    window.sidebar.refresh(select=made.get("session"))
    window.show()
    if made.get("session"):
        window.chat_view.set_session(made["session"])
        for w in window.chat_view.messages:
            w.recalled_toggle.setChecked(True)
    _settle(qapp, ctx)
    paths = []

    def shoot(widget, name: str) -> None:
        _settle(qapp, ctx)
        path = out_dir / name
        widget.grab().save(str(path))
        paths.append(path)

    shoot(window, "main-window.png")
    window.tabs.setCurrentWidget(window.memory_browser)
    window.memory_browser.search_tab.query.setText("sister")
    window.memory_browser.search_tab.refresh()
    _settle(qapp, ctx)
    window.memory_browser.open_memory(made["facts"][0])
    shoot(window, "memory-browser.png")
    window.memory_browser.tabs.setCurrentWidget(window.memory_browser.conflicts_tab)
    window.memory_browser.conflicts_tab.list.setCurrentRow(0)
    shoot(window, "memory-conflicts.png")
    dialog = window.open_settings()
    dialog.resize(640, 460)
    shoot(dialog, "settings.png")
    dialog.close()
    window.quick_recall.popup()
    window.quick_recall.input.setText("allergy")
    window.quick_recall.search()
    shoot(window.quick_recall, "quick-recall.png")
    window.quit_app()
    QApplication.processEvents()
    core.close()
    return paths
