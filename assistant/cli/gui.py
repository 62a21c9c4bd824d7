"""Opening the desktop app from the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from storage.errors import UserError


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_gui(quick_recall: bool = False, screenshot_dir: Path | None = None, minimized: bool = False) -> int:
    if screenshot_dir is not None:
        if screenshot_dir.exists() and not screenshot_dir.is_dir():
            raise UserError(f"{screenshot_dir} is a file; give a folder for the screenshots.")
        # Rendered offscreen, so the same PNGs come out with or without a desktop.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not has_display():
        typer.echo("No display found, so the desktop window cannot open; use `secondme chat` in this terminal.")
        return 0
    try:
        from ui.main import run_gui  # the desktop app (ui/)
    except ImportError as exc:
        typer.echo(f"The desktop window cannot start ({exc}); use `secondme chat` in this terminal.")
        return 0
    return run_gui(quick_recall=quick_recall, screenshot_dir=screenshot_dir, minimized=minimized)
