"""Starting the desktop app: one instance per data folder, the window first, the models after it shows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import storage.offline  # noqa: F401  (first: keep every library off the network)

# isort: split

from storage.errors import UserError
from ui.window import build_window, qapplication

# Set by benchmarks/gui_startup.py: write when the window was shown to this file, then quit.
STARTUP_PROBE_ENV = "SECONDME_GUI_STARTUP_PROBE"


def run_gui(quick_recall: bool = False, screenshot_dir: Path | None = None, minimized: bool = False) -> int:
    """Open the app; with `quick_recall`, raise the quick-recall popup (in the running instance if there is one).

    `minimized` (the autostart entry) keeps the window hidden when there is a tray icon to bring it back from.
    """
    if screenshot_dir is not None:
        from ui.screenshot import render_screenshots

        for path in render_screenshots(Path(screenshot_dir)):
            print(path)
        return 0
    from assistant.config import load_settings
    from ui.single_instance import QUICK_RECALL, SHOW, InstanceServer, notify_running

    qapp = qapplication()
    home = load_settings().home
    if notify_running(home, QUICK_RECALL if quick_recall else SHOW):
        print("secondme is already running; asked it to "
              + ("show quick recall." if quick_recall else "come to the front."))
        return 0
    server = InstanceServer(home, qapp)
    from assistant.app import App

    try:
        core = App()
    except UserError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "secondme cannot start", str(exc))
        raise
    window = build_window(core, qapp)
    server.message_received.connect(
        lambda m: window.show_quick_recall() if m == QUICK_RECALL else window.bring_to_front())
    if not (minimized and window.tray is not None):
        window.show()
    probe = os.environ.get(STARTUP_PROBE_ENV)
    if probe:
        from PySide6.QtCore import QTimer

        # After the first paint, so "shown" means the user can see it.
        QTimer.singleShot(0, lambda: (Path(probe).write_text(json.dumps({"shown_at": time.time()})),
                                      window.quit_app()))
        return qapp.exec()
    _first_run(window)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, window.start_background_loading)
    QTimer.singleShot(0, window.start_global_hotkey)
    if quick_recall:
        window.show_quick_recall()
    code = qapp.exec()
    server.close()
    core.close()
    return code


def _first_run(window) -> None:
    s = window.ctx.qsettings
    if s.value("first_run_done", False, type=bool):
        return
    from ui.first_run import FirstRunDialog

    dialog = FirstRunDialog(window.ctx, window)
    dialog.finished.connect(lambda _r: s.setValue("first_run_done", True))
    dialog.open()
    dialog.check_models()
