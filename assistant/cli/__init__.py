"""The `secondme` command. Each command group lives in its own module and registers itself on the typer app of
assistant.cli.base; this package imports them all and runs the command line."""

from __future__ import annotations

import sys

import storage.offline  # noqa: F401  (first: keep libraries off the network)

# isort: split

import typer

# Command groups register themselves on import.
from assistant.cli import (  # noqa: F401
    backup_cmds,
    chat_cmds,
    doctor,
    gui,
    jobs_cmds,
    ledger_cmds,
    memory_cmds,
    models_cmds,
    plugin_cmds,
    server_cmds,
)
from assistant.cli.base import app, load_plugin_commands
from storage.errors import UserError, translate


def _one_line(message: str) -> str:
    """Errors are one line even when they quote what the user typed (which may hold line breaks)."""
    return " ".join(message.splitlines())


def main(argv: list[str] | None = None) -> None:
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
        typed = translate(exc)  # a storage failure that escaped the boundary: still one line
        if typed is None:
            raise
        typer.echo(f"error: {typed}", err=True)
        sys.exit(typed.exit_code)
