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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from storage.backup_files import export_database, inspect_backup, key_sql, passphrase_pragma
from storage.db import connect, zero_file
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
            export_database(app.db.path, key_sql(key) if key else None, tmp, passphrase_pragma(passphrase))
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
    memories = inspect_backup(dest, key if not passphrase else None, passphrase)["memories"]
    return BackupResult(dest, dest.stat().st_size, memories,
                        "passphrase" if passphrase else ("data key" if key else "nothing"))


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
def restore(app: App, src: Path, passphrase: str | None = None, force: bool = False) -> dict:
    """Replace the live database with a backup (after checking it), then rebuild the indexes from it.

    Without --force a store that holds memories is never replaced; with it, the current database is first
    saved as backups/pre-restore-*.db, so a mistaken restore can itself be undone.
    """
    src = Path(src).expanduser()
    key = app.db.key
    found = inspect_backup(src, key, passphrase)
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
        export_database(src, found["key_sql"], staged, key_sql(key))
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
