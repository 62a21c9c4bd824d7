"""The SQLite database: engine set-up, encryption at rest, sessions, and migrations applied at start-up.

With a data key the file is a SQLCipher database (AES-256 pages, HMAC per page, WAL and FTS5 included): every
table, the FTS5 index and the write-ahead log are ciphertext on disk. Without a key it is plain SQLite.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import NewerSchema, UserError, WrongKey, translate

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
DEFAULT_CACHE_MB = 64  # the default of the db_cache_mb setting
READ_ONLY = "secondme_read_only"  # execution option set by Database.read_session
PLAIN_HEADER = b"SQLite format 3\x00"
KEY_BYTES = 32


def driver(encrypted: bool) -> ModuleType:
    """The DB-API module: SQLCipher's build of SQLite for an encrypted database, the standard one otherwise."""
    if not encrypted:
        return sqlite3
    try:
        from sqlcipher3 import dbapi2
    except ImportError:  # pragma: no cover - the package is a dependency
        raise UserError("Encryption at rest needs the 'sqlcipher3' package; reinstall secondme, "
                        "or set encrypt_database = false in the settings.") from None
    module: ModuleType = dbapi2
    return module


def key_pragma(key: bytes) -> str:
    """A raw 256-bit key (no passphrase derivation: the key is already random, and opening stays fast)."""
    if len(key) != KEY_BYTES:
        raise ValueError("the data key must be 32 bytes")
    return f"PRAGMA key = \"x'{key.hex()}'\""


def connect(path: Path, key: bytes | None = None, **kwargs: Any) -> sqlite3.Connection:
    """A DB-API connection to `path`, unlocked with `key` when given (for backup, restore and checks)."""
    # SQLCipher's connection has the standard module's interface.
    con: sqlite3.Connection = driver(key is not None).connect(str(path), **kwargs)
    if key is not None:
        con.execute("PRAGMA cipher_log_level = NONE")
        con.execute(key_pragma(key))
    return con


def file_state(path: Path) -> str:
    """'missing', 'empty', 'plain' (readable SQLite) or 'encrypted' (anything else: SQLCipher or damage)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(PLAIN_HEADER))
    except FileNotFoundError:
        return "missing"
    if not head:
        return "empty"
    return "plain" if head == PLAIN_HEADER else "encrypted"


def encrypt_plain_database(path: Path, key: bytes) -> None:
    """Rewrite a plain SQLite database as an encrypted one in place (sqlcipher_export), leaving no plain copy.

    The encrypted copy is written beside the original and swapped in with an atomic rename, so a crash in the
    middle leaves either the old plain file or the new encrypted one, never half of each.
    """
    tmp = path.with_name(path.name + ".encrypting")
    tmp.unlink(missing_ok=True)
    plain = driver(True).connect(str(path), isolation_level=None)  # no key: SQLCipher reads plain SQLite
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        version = plain.execute("PRAGMA user_version").fetchone()[0]
        plain.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{key.hex()}'\"", (str(tmp),))
        plain.execute("SELECT sqlcipher_export('encrypted')")
        plain.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        plain.execute("DETACH DATABASE encrypted")
    finally:
        plain.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    zero_file(path)
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def zero_file(path: Path) -> None:
    """Best effort: zero a plain file's bytes before it is replaced (an SSD may still keep old blocks)."""
    try:
        size = path.stat().st_size
        with open(path, "rb+") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        pass


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


class Database:
    """Owns the engine and hands out sessions. One per process.

    Every transaction starts with BEGIN IMMEDIATE: it takes SQLite's write lock up front (waiting up to the busy
    timeout), so two writers queue instead of one failing with "database is locked" when a read transaction
    tries to become a write transaction after another writer committed (SQLITE_BUSY_SNAPSHOT, which the busy
    timeout cannot wait out).
    """

    def __init__(self, path: Path, key: bytes | None = None, cache_mb: int = DEFAULT_CACHE_MB):
        self.path = Path(path)
        self.encrypted = key is not None
        self.key = key  # in memory only: backup and restore re-key copies with it
        state = file_state(self.path)
        if key is not None and state == "plain":
            encrypt_plain_database(self.path, key)
        elif not self.encrypted and state == "encrypted":
            raise UserError(f"The database {self.path} is encrypted, but encrypt_database is off in the settings; "
                            "turn it back on (the key is in the keyring), or set SECONDME_HOME to another folder.")
        self.engine = create_engine(
            f"sqlite:///{self.path}", module=driver(self.encrypted),
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "isolation_level": None, "check_same_thread": False},
        )
        # insert=True: the key must be the first statement on a new connection, before any dialect set-up.
        event.listen(self.engine, "connect", _configurer(key, cache_mb), insert=True)
        event.listen(self.engine, "begin", _begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def raw_connection(self, **kwargs: Any) -> sqlite3.Connection:
        """A DB-API connection outside the pool, already unlocked (the backup API needs one)."""
        return connect(self.path, self.key, **kwargs)

    # -- schema ---------------------------------------------------------------------------------
    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        head = ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()
        assert head is not None  # the package ships its migrations
        return head

    def migrate(self) -> None:
        """Bring the schema to the newest revision this version knows; refuse a newer database."""
        cfg = alembic_config(self.engine)
        script = ScriptDirectory.from_config(cfg)
        try:
            current = self.schema_revision()
        except DBAPIError as exc:
            if "not a database" in str(exc.orig) and self.encrypted:
                raise WrongKey(
                    f"Cannot decrypt the database {self.path}: the data key in the keyring is not the one it was "
                    "encrypted with (or the file is damaged); restore the key or a backup, or set SECONDME_HOME."
                ) from None
            raise UserError(f"Cannot open the database {self.path}: {exc.orig}. "
                            "Check the file and its permissions.") from exc
        if current is not None and not _known(script, current):
            raise NewerSchema(
                f"The database {self.path} has schema '{current}', newer than this version of secondme knows; "
                "upgrade secondme, or set SECONDME_HOME to another folder."
            )
        if current != script.get_current_head():
            command.upgrade(cfg, "head")

    # -- sessions -------------------------------------------------------------------------------
    def session(self) -> AbstractContextManager[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        return self._unit_of_work(read_only=False)

    def read_session(self) -> AbstractContextManager[Session]:
        """A unit of work that only reads: a deferred transaction, so in WAL mode it reads its snapshot beside a
        writer instead of queueing for the write lock (a recall does not wait for a 1,000-memory import).
        Writing through it could fail with SQLITE_BUSY_SNAPSHOT; use session() for anything that writes."""
        return self._unit_of_work(read_only=True)

    @contextmanager
    def _unit_of_work(self, read_only: bool) -> Iterator[Session]:
        s = self._sessions()
        try:
            if read_only:
                s.connection(execution_options={READ_ONLY: True})  # seen by _begin
            yield s
            s.commit()
        except Exception as exc:
            s.rollback()
            typed = translate(exc)
            if typed is None or typed is exc:
                raise
            raise typed from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database and empty it (old page images leave the disk)."""
        self._outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity(self) -> str:
        """'ok', or what SQLite's full integrity check found.

        It runs on a new connection, never a pooled one: SQLite 3.53's integrity_check checks FTS5 against the
        index structure the connection cached, without first asking whether another connection has written
        since, so on a pooled connection it reports "fts5: checksum mismatch" for a healthy index. Measured:
        the same connection says "ok" right after any FTS5 query refreshes its cache, a new one always does.
        """
        con = self.raw_connection(timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            return "; ".join(str(r[0]) for r in con.execute("PRAGMA integrity_check").fetchall())
        finally:
            con.close()

    def quick_check(self) -> str:
        """'ok', or what SQLite's quick check (no index cross-checks, seconds even for a big store) found."""
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA quick_check").scalar())

    def _outside_transaction(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a statement on a pooled connection without the BEGIN IMMEDIATE every session starts with
        (a checkpoint cannot run inside a transaction)."""
        con = self.engine.raw_connection()
        try:
            assert con.driver_connection is not None
            rows: list[tuple[Any, ...]] = con.driver_connection.execute(sql).fetchall()
            return rows
        finally:
            con.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE for sessions that may write (see the class docstring); plain BEGIN for read_session().
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def _configurer(key: bytes | None, cache_mb: int = DEFAULT_CACHE_MB) -> Callable[[Any, Any], None]:
    def configure(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if key is not None:
            cur.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our UserError, not a stderr dump
            cur.execute(key_pragma(key))
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes; WAL keeps it consistent
        cur.execute("PRAGMA secure_delete=ON")  # a deleted memory's text is overwritten, not left in free pages
        cur.execute("PRAGMA temp_store=MEMORY")  # big sorts never spill rows into temporary files on disk
        # SQLite's default page cache is 2 MB. Each page read from an encrypted file is decrypted (and its HMAC
        # checked), so a cache that holds the hot part of the store makes scattered row lookups ~5x cheaper.
        cur.execute(f"PRAGMA cache_size = -{int(cache_mb) * 1024}")  # negative: KiB, not pages
        cur.close()

    return configure


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False
