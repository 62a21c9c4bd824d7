"""backup, restore, wipe."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from assistant.cli.base import app, forget_app, get_app, print_json
from storage.errors import UserError

PASSPHRASE_ENV = "SECONDME_BACKUP_PASSPHRASE"


def _passphrase(asked: bool, confirm: bool) -> str | None:
    """From SECONDME_BACKUP_PASSPHRASE, else a hidden prompt when --passphrase is given."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None and asked:
        value = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
    if value is not None and len(value) < 8:
        raise UserError("The passphrase is shorter than 8 characters; choose a longer one.")
    return value


@app.command()
def backup(
    path: Path = typer.Argument(..., help="The backup file to write (or a folder to put a dated file in)."),
    passphrase: bool = typer.Option(False, "--passphrase",
                                    help=f"Encrypt with a passphrase (asked, or from {PASSPHRASE_ENV}) so it can be "
                                         "restored on another computer; otherwise the data key of this one is used."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write a consistent copy of all memories and conversations (safe while secondme runs)."""
    from assistant.backup import backup as make_backup

    result = make_backup(get_app(), path, passphrase=_passphrase(passphrase, confirm=True), force=force)
    if as_json:
        print_json(result.to_json())
    else:
        typer.echo(f"Backed up {result.memories} memories to {result.path} "
                   f"({result.bytes / 1e6:.1f} MB, encrypted with {result.encrypted_with}).")


@app.command()
def restore(
    path: Path = typer.Argument(..., help="A file made by `secondme backup`."),
    passphrase: bool = typer.Option(False, "--passphrase",
                                    help=f"Ask for the backup's passphrase (or {PASSPHRASE_ENV})."),
    force: bool = typer.Option(False, "--force", help="Replace the memories stored now (they are saved first)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Check a backup, replace the database with it, and rebuild the search indexes."""
    from assistant.backup import restore as do_restore

    result = do_restore(get_app(), path, passphrase=_passphrase(passphrase, confirm=False), force=force)
    if as_json:
        print_json(result)
    else:
        typer.echo(f"Restored {result['memories']} memories from {result['restored_from']}.")
        if result["previous_saved_as"]:
            typer.echo(f"The previous database was saved as {result['previous_saved_as']}.")


@app.command()
def wipe(
    yes: bool = typer.Option(False, "--yes", help="Really delete everything (there is no undo)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was removed as JSON."),
) -> None:
    """Delete everything: memories, conversations, indexes, the backups secondme made, and its keys."""
    from assistant.backup import wipe as do_wipe

    if not yes:
        raise UserError("This deletes all memories, conversations, backups made by secondme and its keys, for good; "
                        "add --yes to confirm.")
    result = do_wipe(get_app())
    forget_app()  # the old App's files and keys are gone
    if as_json:
        print_json(result)
    else:
        typer.echo(f"Deleted {len(result['removed'])} files and folders and {len(result['secrets_removed'])} secrets. "
                   "Settings, models and plugins were kept.")
