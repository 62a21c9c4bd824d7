"""The QApplication and the main window over a core App: shared by the app's start-up and the screenshot tour."""

from __future__ import annotations

import sys


def qapplication():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("secondme")
    app.setOrganizationName("secondme")
    app.setDesktopFileName("secondme")
    return app


def build_window(core, qapp):
    """The main window over `core` (an assistant.app.App), with the tray where the desktop has one."""
    from ui.context import UiContext
    from ui.icon import app_icon
    from ui.main_window import MainWindow
    from ui.theme import follow_system
    from ui.tray import Tray, tray_available

    follow_system(qapp)
    qapp.setWindowIcon(app_icon())
    ctx = UiContext.create(core, qapp)
    window = MainWindow(ctx)
    if tray_available():
        window.tray = Tray(window, qapp)
        window.tray.show()
        qapp.setQuitOnLastWindowClosed(False)  # the window may close into the tray
    return window
