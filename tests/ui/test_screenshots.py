"""`secondme --screenshot DIR` through the real entry point: four screens rendered offscreen from demo data."""

from __future__ import annotations

from PySide6.QtGui import QImage

from tests.conftest import run_cli

SCREENS = ("main-window.png", "memory-browser.png", "memory-conflicts.png", "settings.png", "quick-recall.png")


def test_screenshot_renders_every_screen_without_touching_the_users_data(tmp_path, home):
    out = tmp_path / "shots"
    result = run_cli("--screenshot", str(out), env={"SECONDME_MAX_TOKENS": "16"}, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    for name in SCREENS:
        image = QImage(str(out / name))
        assert not image.isNull(), name
        assert image.width() >= 400 and image.height() >= 200
        # Not a blank picture: many distinct colours means widgets and text were drawn.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 20, name
    assert not (home / "secondme.db").exists()  # the demo lived in a temporary folder


def test_screenshot_refuses_a_file_as_folder(tmp_path):
    target = tmp_path / "file.png"
    target.write_text("x")
    result = run_cli("--screenshot", str(target))
    assert result.returncode == 2
    assert "give a folder" in result.stderr.decode()
