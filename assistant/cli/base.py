"""The typer application every command module registers on, and the App they share (built once per process)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import storage.offline  # noqa: F401  (first: keep libraries off the network)

# isort: split

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

        _app_instance = App(plugins=_plugin_host)
    return _app_instance


def forget_app() -> None:
    """The next get_app() builds a new App (after `wipe` removed the old one's files and keys)."""
    global _app_instance
    if _app_instance is not None:
        _app_instance.close()
    _app_instance = None


def load_plugin_commands() -> None:
    """Let every plugin add its commands. Bad settings are reported later by the command that needs them."""
    global _plugin_host
    from assistant.config import load_settings
    from plugins.manager import PluginHost

    try:
        settings = load_settings()
    except UserError:
        return
    _plugin_host = PluginHost(disabled=settings.disabled_plugins, timeout_s=settings.plugin_timeout_s)
    _plugin_host.load_all(settings.plugins_dir)
    _plugin_host.register_commands(app)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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
    screenshot: Path | None = typer.Option(
        None, "--screenshot", metavar="DIR", help="Render the app's screens with demo data to PNGs in DIR and exit."),
) -> None:
    """With no command, open the desktop app."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if ctx.invoked_subcommand is not None:
        return
    from assistant.cli.gui import launch_gui

    raise typer.Exit(launch_gui(quick_recall=quick_recall, screenshot_dir=screenshot, minimized=minimized))
