"""The app icon, drawn at run time so no image file has to ship."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setBrush(QColor("#3b6fd8"))
        p.setPen(Qt.PenStyle.NoPen)
        p.drawEllipse(QRectF(0.5, 0.5, size - 1, size - 1))
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(size * 0.55))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "2")
        p.end()
        icon.addPixmap(pixmap)
    return icon
