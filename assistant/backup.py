"""Backup, restore and "delete everything".

A backup is one SQLite file: a consistent online copy made with SQLite's backup API (readers and writers may
go on meanwhile), encrypted with the data key like the live database, or with a passphrase of the user's
choice (sqlcipher_export) so it can be restored on another machine. The vector index is not copied: it is
derived data, rebuilt from the restored rows.

Every backup the app writes is listed in backups.json (paths only), so `wipe` can find and remove it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from storage.db import connect, driver, file_state, zero_file
from storage.errors import UserError
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from assistant.app import App

REGISTRY = "backups.json"
# What `wipe` removes from the data folder. A fixed list, not "everything in the folder": SECONDME_HOME may
# point at a folder that also holds the user's other files. Settings, models and plugins are kept.
WIPED_ENTRIES = ("secondme.db", "secondme.db-wal", "secondme.db-shm", "secondme.db-journal",
                 "secondme.db.encrypting", "secondme.db.restoring", "chroma", "backups", REGISTRY, "ui.ini",
                 ".open.lock")


@dataclass
class BackupResult:
    path: Path
    bytes: int
    memories: int
    encrypted_with: str  # "data key", "passphrase" or "nothing"

    def to_json(self) -> dict:
        return {"path": str(self.path), "bytes": self.bytes, "memories": self.memories,
                "encrypted_with": self.encrypted_with}


# -- backup -------------------------------------------------------------------------------------------
def backup(app: App, dest: Path, passphrase: str | None = None, force: bool = False) -> BackupResult:
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / f"secondme-{utcnow():%Y%m%d-%H%M%S}.db"
    if dest.resolve() == app.settings.db_path.resolve():
        raise UserError("The backup cannot be the live database itself; give another path.")
    if dest.exists() and not force:
        raise UserError(f"{dest} already exists; choose another path or add --force to overwrite it.")
    if not dest.parent.is_dir():
        raise UserError(f"The folder {dest.parent} does not exist; create it first.")
    tmp = dest.with_name(f".{dest.name}.partial")
    key = app.db.key
    try:
        if passphrase:
            _export(app.db.path, _key_sql(key) if key else None, tmp, passphrase_pragma(passphrase))
        else:
            src = app.db.raw_connection()
            dst = connect(tmp, key)
            try:
                src.backup(dst)  # one step: a consistent snapshot, writers elsewhere just wait for it
            finally:
                dst.close()
                src.close()
        os.chmod(tmp, 0o600)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"Cannot write the backup {dest} ({exc.strerror}); "
                        "check the space and permissions there.") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _register(app, dest)
    memories = _inspect(dest, key if not passphrase else None, passphrase)["memories"]
    return BackupResult(dest, dest.stat().st_size, memories,
                        "passphrase" if passphrase else ("data key" if key else "nothing"))


def passphrase_pragma(passphrase: str) -> str:
    return "'" + passphrase.replace("'", "''") + "'"


def _key_sql(key: bytes | None) -> str:
    return f"\"x'{key.hex()}'\"" if key else "''"


def _export(src_path: Path, src_key_sql: str | None, dest: Path, dest_key_sql: str) -> None:
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


def _register(app: App, path: Path) -> None:
    registry = app.settings.home / REGISTRY
    known = list_backups(app)
    if str(path.resolve()) not in known:
        known.append(str(path.resolve()))
    tmp = registry.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
    os.replace(tmp, registry)


def list_backups(app: App) -> list[str]:
    try:
        data = json.loads((app.settings.home / REGISTRY).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [p for p in data if isinstance(p, str)]


# -- restore ------------------------------------------------------------------------------------------
def _open_backup(path: Path, data_key: bytes | None, passphrase: str | None):
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
            attempts.append(_key_sql(data_key))
    for key_sql in attempts:
        con = driver(True).connect(str(path))
        con.execute("PRAGMA cipher_log_level = NONE")
        if key_sql:
            con.execute(f"PRAGMA key = {key_sql}")
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return con, key_sql
        except Exception:
            con.close()
    hint = "give the passphrase it was made with (--passphrase)" if not passphrase else "check the passphrase"
    raise UserError(f"Cannot read {path}: it is not a SQLite file, or it is encrypted with another key; {hint}.")


def _inspect(path: Path, data_key: bytes | None, passphrase: str | None) -> dict:
    con, key_sql = _open_backup(path, data_key, passphrase)
    try:
        return _validate(con, path) | {"key_sql": key_sql}
    finally:
        con.close()


def _validate(con, path: Path) -> dict:
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


def restore(app: App, src: Path, passphrase: str | None = None, force: bool = False) -> dict:
    """Replace the live database with a backup (after checking it), then rebuild the indexes from it.

    Without --force a store that holds memories is never replaced; with it, the current database is first
    saved as backups/pre-restore-*.db, so a mistaken restore can itself be undone.
    """
    src = Path(src).expanduser()
    key = app.db.key
    found = _inspect(src, key, passphrase)
    current = app.memory.count()
    if current and not force:
        raise UserError(f"This store holds {current} memories that the restore would replace; "
                        "add --force to replace them (a copy is kept in the backups folder).")
    safety = None
    if current:
        app.settings.backups_dir.mkdir(parents=True, exist_ok=True)
        safety = backup(app, app.settings.backups_dir / f"pre-restore-{datetime.now():%Y%m%d-%H%M%S}.db").path
    staged = app.settings.db_path.with_name(app.settings.db_path.name + ".restoring")
    try:
        # Re-key the backup to the live database's key, then copy it in with the backup API: other
        # connections see either the old or the new database, never a half-copied file.
        _export(src, found["key_sql"], staged, _key_sql(key))
        staged_con = connect(staged, key)
        live = app.db.raw_connection()
        try:
            staged_con.backup(live)
        finally:
            live.close()
            staged_con.close()
    except OSError as exc:
        raise UserError(f"Cannot restore into {app.settings.home} ({exc.strerror}); "
                        "check space and permissions.") from None
    finally:
        staged.unlink(missing_ok=True)
    app.db.dispose()  # pooled connections may cache the old schema
    app.db.migrate()
    indexed = app.memory.reindex()
    return {"restored_from": str(src), "memories": found["memories"], "indexed": indexed,
            "previous_saved_as": str(safety) if safety else None}


# -- delete everything --------------------------------------------------------------------------------
def wipe(app: App) -> dict:
    """Delete every memory, message, index entry, backup the app made and secret of this data folder.

    With encryption on, deleting the key already makes any leftover copy of the database unreadable; the
    files are also zeroed before they are unlinked (best effort: SSDs and snapshots may keep old blocks).
    """
    home = app.settings.home
    registered = list_backups(app)
    app.close()
    _drop_chroma_cache()
    removed: list[str] = []
    for entry in registered:
        p = Path(entry)
        if p.is_file():
            _shred(p)
            removed.append(str(p))
    for name in WIPED_ENTRIES:
        p = home / name
        if p.is_dir() and not p.is_symlink():
            for f in p.rglob("*"):
                if f.is_file() and not f.is_symlink():
                    _shred(f)
            shutil.rmtree(p)
            removed.append(str(p))
        elif p.exists() or p.is_symlink():
            if p.is_file() and not p.is_symlink():
                _shred(p)
            else:
                p.unlink()
            removed.append(str(p))
    secrets_removed = app.secrets.wipe()
    return {"removed": removed, "secrets_removed": secrets_removed, "kept": ["config.toml", "models", "plugins"]}


def _shred(path: Path) -> None:
    zero_file(path)
    path.unlink(missing_ok=True)


def _drop_chroma_cache() -> None:
    """Chroma caches one client per path in the process; a later App on the same path must start clean."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:
        pass
