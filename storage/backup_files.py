"""Backup files: SQLCipher copies of the database under another key, and the checks a backup must pass before
it is restored. File-level SQL lives here; assistant/backup.py decides when to use it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from storage.db import driver, file_state
from storage.errors import UserError


def passphrase_pragma(passphrase: str) -> str:
    return "'" + passphrase.replace("'", "''") + "'"


def key_sql(key: bytes | None) -> str:
    return f"\"x'{key.hex()}'\"" if key else "''"


def export_database(src_path: Path, src_key_sql: str | None, dest: Path, dest_key_sql: str) -> None:
    """Copy a database into a new file under another key (SQLCipher's sqlcipher_export, in one read transaction).

    A key of '' writes a plain SQLite file; src_key_sql None reads a plain one.
    """
    dest.unlink(missing_ok=True)
    con = driver(True).connect(str(src_path), isolation_level=None)
    try:
        con.execute("PRAGMA cipher_log_level = NONE")
        if src_key_sql:
            con.execute(f"PRAGMA key = {src_key_sql}")
        con.execute(f"ATTACH DATABASE ? AS target KEY {dest_key_sql}", (str(dest),))
        con.execute("BEGIN")
        version = con.execute("PRAGMA main.user_version").fetchone()[0]
        con.execute("SELECT sqlcipher_export('target')")
        con.execute(f"PRAGMA target.user_version = {int(version)}")
        con.execute("COMMIT")
        con.execute("DETACH DATABASE target")
    finally:
        con.close()


def open_backup(path: Path, data_key: bytes | None, passphrase: str | None) -> tuple[Any, str | None]:
    """A connection to the backup and the key SQL that unlocked it; a clear error when nothing does."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the backup file inside it.")
    try:
        state = file_state(path)
    except OSError as exc:
        raise UserError(f"Cannot read {path} ({exc.strerror}); check its permissions.") from None
    if state == "missing":
        raise UserError(f"No backup at {path}; give the path of a file made by `secondme backup`.")
    if state == "empty":
        raise UserError(f"{path} is empty; it is not a secondme backup.")
    attempts: list[str | None] = []
    if state == "plain":
        attempts = [None]
    else:
        if passphrase:
            attempts.append(passphrase_pragma(passphrase))
        if data_key:
            attempts.append(key_sql(data_key))
    for attempt in attempts:
        con = driver(True).connect(str(path))
        con.execute("PRAGMA cipher_log_level = NONE")
        if attempt:
            con.execute(f"PRAGMA key = {attempt}")
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con, attempt
        except Exception:
            con.close()
    hint = "give the passphrase it was made with (--passphrase)" if not passphrase else "check the passphrase"
    raise UserError(f"Cannot read {path}: it is not a SQLite file, or it is encrypted with another key; {hint}.")


def inspect_backup(path: Path, data_key: bytes | None, passphrase: str | None) -> dict[str, Any]:
    """What a restore needs to know of a backup (memories, schema revision, the key SQL that opens it), after
    checking it is a whole, known secondme database; a one-line UserError otherwise."""
    con, unlocked_with = open_backup(path, data_key, passphrase)
    try:
        return validate_backup(con, path) | {"key_sql": unlocked_with}
    finally:
        con.close()


def validate_backup(con: Any, path: Path) -> dict[str, Any]:
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS_DIR

    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except Exception:
        raise UserError(f"{path} is not a SQLite database; give a file made by `secondme backup`.") from None
    if not {"memories", "alembic_version", "memory_events"} <= tables:
        raise UserError(f"{path} is a SQLite database but not a secondme backup (no memories table).")
    try:
        check = [str(r[0]) for r in con.execute("PRAGMA integrity_check").fetchall()]
    except (sqlite3.DatabaseError, driver(True).DatabaseError) as exc:  # SQLCipher stops at a page whose HMAC fails
        check = [str(exc)]
    if check != ["ok"]:
        raise UserError(f"{path} is damaged (integrity check: {check[0]}); nothing was changed, use another backup.")
    revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    try:
        known = revision is not None and script.get_revision(revision[0]) is not None
    except Exception:
        known = False
    if not known:
        raise UserError(f"{path} has schema '{revision[0] if revision else None}', which this version of secondme "
                        "does not know; upgrade secondme to restore it.")
    memories = con.execute("SELECT count(*) FROM memories WHERE status != 'deleted'").fetchone()[0]
    return {"memories": memories, "revision": revision[0]}
