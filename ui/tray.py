"""The system tray icon: Open, Quick recall, Pause memory, Quit. Only where the desktop has a tray."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.icon import app_icon


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


class Tray(QSystemTrayIcon):
    def __init__(self, window, parent=None):
        super().__init__(app_icon(), parent)
        self.window = window
        self.setToolTip("secondme")
        menu = QMenu()
        menu.addAction("Open", window.bring_to_front)
        menu.addAction("Quick recall", window.show_quick_recall)
        self.pause_action = QAction("Pause memory", menu, checkable=True)
        self.pause_action.toggled.connect(window.set_memory_paused)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction("Quit", window.quit_app)
        self.menu = menu
        self.setContextMenu(menu)
        self.activated.connect(self._activated)

    def _activated(self, reason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.window.bring_to_front()
