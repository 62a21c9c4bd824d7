"""The `secondme` command. Each command group lives in its own module and registers itself on `app`."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
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
# Plugins are loaded before the command line is parsed, so their register_commands hooks can add commands;
# the App then adopts this same host instead of loading every plugin a second time.
_plugin_host = None


def get_app():
    """The composition root, built once per process on first use."""
    global _app_instance
    if _app_instance is None:
        from assistant.app import App

        _app_instance = App()
        if _plugin_host is not None:
            _app_instance.__dict__["plugins"] = _plugin_host
            _plugin_host.startup(_app_instance)
    return _app_instance


def load_plugin_commands() -> None:
    """Let every plugin add its commands. Bad settings are reported later by the command that needs them."""
    global _plugin_host
    from assistant.config import load_settings
    from plugins.manager import PluginHost

    try:
        settings = load_settings()
    except UserError:
        return
    _plugin_host = PluginHost(disabled=settings.disabled_plugins)
    _plugin_host.load_all(settings.plugins_dir)
    _plugin_host.register_commands(app)


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
    quick_recall: bool = typer.Option(
        False, "--quick-recall", help="Open the quick-recall popup (in the running app if there is one); "
                                      "bind this to a desktop keyboard shortcut."),
    minimized: bool = typer.Option(
        False, "--minimized", help="Start in the system tray without showing the window (for autostart)."),
    screenshot: Optional[Path] = typer.Option(
        None, "--screenshot", metavar="DIR", help="Render the app's screens with demo data to PNGs in DIR and exit."),
) -> None:
    """With no command, open the desktop app."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if ctx.invoked_subcommand is not None:
        return
    from assistant.cli.gui import launch_gui

    raise typer.Exit(launch_gui(quick_recall=quick_recall, screenshot_dir=screenshot, minimized=minimized))


def _one_line(message: str) -> str:
    """Errors are one line even when they quote what the user typed (which may hold line breaks)."""
    return " ".join(message.splitlines())


def main(argv: Optional[list[str]] = None) -> None:
    from assistant.app import storage_error_message

    try:
        load_plugin_commands()
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(args=argv, prog_name="secondme", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as exc:
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except UnicodeDecodeError as exc:  # an answer to a prompt (passphrase, confirmation) read from stdin
        typer.echo(f"error: The input is not valid UTF-8 (byte {exc.start}); type or pipe UTF-8 text.", err=True)
        sys.exit(2)
    except Exception as exc:  # click usage errors and storage failures the user can act on
        import click

        # Typer 0.29 vendors its own copy of click (typer._click): its usage errors are not click's classes.
        usage_errors = [click.exceptions.ClickException]
        try:
            from typer._click.exceptions import ClickException as TyperClickException

            usage_errors.append(TyperClickException)
        except ImportError:
            pass
        if isinstance(exc, tuple(usage_errors)):
            # One line, like every other error: click's own show() adds a usage block and a hint line.
            ctx = getattr(exc, "ctx", None)
            hint = f" See: {ctx.command_path} --help" if ctx is not None else ""
            typer.echo(f"error: {_one_line(exc.format_message()).rstrip('.')}.{hint}", err=True)
            sys.exit(exc.exit_code)
        message = storage_error_message(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(2)


# Command groups register themselves on import.
from assistant.cli import (  # noqa: E402,F401
    backup_cmds, chat_cmds, doctor, gui, jobs_cmds, ledger_cmds, memory_cmds, models_cmds, plugin_cmds, server_cmds,
)
