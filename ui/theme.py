"""Light and dark following the system: the Fusion style with a palette matched to the colour scheme."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_DARK = {
    QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a", QPalette.ColorRole.AlternateBase: "#26272b",
    QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2b2c30",
    QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.Highlight: "#3b6fd8",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2b2c30",
    QPalette.ColorRole.ToolTipText: "#e8eaed", QPalette.ColorRole.Link: "#8ab4f8",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in _DARK.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))
    return palette


def is_dark(scheme: Qt.ColorScheme | None = None) -> bool:
    scheme = QGuiApplication.styleHints().colorScheme() if scheme is None else scheme
    return scheme == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, scheme: Qt.ColorScheme | None = None) -> bool:
    """Apply the palette for `scheme` (default: the system's); True when dark."""
    dark = is_dark(scheme)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return dark


def follow_system(app: QApplication) -> None:
    app.setStyle("Fusion")  # the same widgets everywhere; the native styles ignore a custom dark palette
    apply_theme(app)
    app.styleHints().colorSchemeChanged.connect(lambda scheme: apply_theme(app, scheme))
