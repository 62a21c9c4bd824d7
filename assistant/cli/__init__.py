"""The `secondme` command. Each command group lives in its own module and registers itself on `app`."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Optional

import storage.offline  # noqa: F401  (first: keep libraries off the network)

import typer

from assistant import __version__
from storage.errors import UserError

app = typer.Typer(
    name="secondme",
    help="secondme: a private assistant with a long-term memory that stays on this computer.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_app_instance = None


def get_app():
    """The composition root, built once per process on first use."""
    global _app_instance
    if _app_instance is None:
        from assistant.app import App

        _app_instance = App()
    return _app_instance


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"secondme {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens to stderr."),
) -> None:
    """With no command, open the desktop app."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if ctx.invoked_subcommand is not None:
        return
    from assistant.cli.gui import launch_gui

    raise typer.Exit(launch_gui())


def main(argv: Optional[list[str]] = None) -> None:
    from assistant.app import storage_error_message

    try:
        app(args=argv, prog_name="secondme", standalone_mode=False)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors and storage failures the user can act on
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        message = storage_error_message(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(2)


# Command groups register themselves on import.
from assistant.cli import doctor, gui, jobs_cmds, memory_cmds  # noqa: E402,F401
