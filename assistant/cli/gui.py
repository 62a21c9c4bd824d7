"""Opening the desktop app from the command line."""

from __future__ import annotations

import typer


def launch_gui() -> int:
    from assistant.cli import has_display

    if not has_display():
        typer.echo("No display found, so the desktop window cannot open; use `secondme chat` in this terminal.")
        return 0
    try:
        from ui.main import run_gui  # the desktop app (ui/)
    except ImportError:
        typer.echo("The desktop window is not part of this build yet; use `secondme chat` in this terminal.")
        return 0
    return run_gui()
