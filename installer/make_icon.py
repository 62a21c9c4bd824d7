"""Draws the secondme icon (a speech bubble holding a second, echoing bubble) to PNGs with Qt, offscreen.

Run once when the design changes: python installer/make_icon.py; the PNGs are committed.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QLinearGradient, QPainter, QPainterPath, QPen

OUT = Path(__file__).with_name("icons")


def draw(size: int) -> QImage:
    img = QImage(size, size, QImage.Format_ARGB32)
    img.fill(Qt.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    s = size / 256
    grad = QLinearGradient(0, 0, size, size)
    grad.setColorAt(0, QColor("#5b6cff"))
    grad.setColorAt(1, QColor("#8e44ad"))
    p.setBrush(grad)
    p.setPen(Qt.NoPen)
    p.drawRoundedRect(QRectF(8 * s, 8 * s, 240 * s, 240 * s), 56 * s, 56 * s)
    # The outer bubble: you. The inner, offset bubble: your second me.
    for offset, alpha, width in ((0, 255, 14), (26, 170, 10)):
        path = QPainterPath()
        path.addRoundedRect(QRectF((56 + offset) * s, (60 + offset) * s, 130 * s, 96 * s), 30 * s, 30 * s)
        tail = QPainterPath()
        tail.moveTo((92 + offset) * s, (150 + offset) * s)
        tail.lineTo((80 + offset) * s, (186 + offset) * s)
        tail.lineTo((118 + offset) * s, (154 + offset) * s)
        pen = QPen(QColor(255, 255, 255, alpha), width * s)
        pen.setJoinStyle(Qt.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        p.drawPath(path.united(tail))
    p.end()
    return img


def main() -> None:
    QGuiApplication(sys.argv)
    OUT.mkdir(exist_ok=True)
    for size in (16, 32, 48, 64, 128, 256, 512):
        draw(size).save(str(OUT / f"secondme-{size}.png"))
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
