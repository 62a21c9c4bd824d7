"""Errors the user can act on, typed at the storage boundary. Each carries a one-line message that says what to
do and the exit code the CLI prints it with; front ends show `str(error)` and never classify by message text."""

from __future__ import annotations

import errno
import sqlite3


class UserError(Exception):
    """Bad input or an unusable environment: shown as one line, exit code 2, nothing stored is harmed."""

    exit_code = 2


class InvalidInput(UserError):
    """A value the user or a caller gave is out of range, unknown, empty or too long."""


class NotFound(UserError):
    """An id that names nothing stored."""


class StorageError(UserError):
    """The database or an index cannot be used as things stand; the message says how to fix it."""


class DatabaseLocked(StorageError):
    pass


class DiskFull(StorageError):
    pass


class ReadOnly(StorageError):
    pass


class WrongKey(StorageError):
    """The database is encrypted with another key than the one in the keyring, or its file is damaged."""


class NewerSchema(StorageError):
    """The database was written by a newer version of secondme."""


DISK_FULL = "The disk is full; free some space and try again (nothing stored was lost)."


def translate(exc: BaseException) -> StorageError | None:
    """The typed error for a failure of SQLite, SQLCipher, Chroma or the file system, or None when it is not one
    a user can fix. Raised at the storage boundary (Database sessions, the vector index), so callers above it
    see only typed errors."""
    if isinstance(exc, StorageError):
        return exc
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    text = str(orig).lower()
    if isinstance(orig, OSError) and orig.errno == errno.ENOSPC:
        return DiskFull(DISK_FULL)
    if "disk is full" in text or "no space left on device" in text:  # SQLite, and Chroma's SQLite and HNSW files
        return DiskFull(DISK_FULL)
    if isinstance(orig, sqlite3.Error) or type(orig).__module__.startswith("sqlcipher3"):
        if "readonly" in text or "read-only" in text:
            return ReadOnly("The database is read-only; fix the permissions of the data folder or set SECONDME_HOME.")
        if "locked" in text or "busy" in text:
            return DatabaseLocked("The database is busy in another secondme process; try again in a moment.")
        if "not a database" in text or "malformed" in text:
            return WrongKey("The database file is damaged or encrypted with another key; restore a backup "
                            "or set SECONDME_HOME.")
    return None
