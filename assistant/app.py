"""The composition root: builds every service from the settings. The CLI, GUI and local API all start here."""

from __future__ import annotations

import errno
import gc
import logging
import sqlite3
from functools import cached_property

from sqlalchemy.exc import OperationalError

from assistant.config import Settings, load_settings
from storage.db import Database
from storage.errors import UserError

log = logging.getLogger(__name__)


def _check_writable(settings: Settings) -> None:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(f"The disk holding {home} is full; free some space and try again.") from None
        raise UserError(
            f"Cannot write to the data folder {home} ({exc.strerror}); fix its permissions or set SECONDME_HOME."
        ) from None


def open_database(settings: Settings, secrets) -> Database:
    """The database, encrypted with the data key when encryption is on; migrated to the newest schema.

    A lock file serialises first start-ups: two processes must never each create a data key for one database.
    """
    from filelock import FileLock

    from storage.db import file_state

    with FileLock(str(settings.home / ".open.lock")):
        key = None
        if settings.encrypt_database:
            state = file_state(settings.db_path)
            key = secrets.data_key(create=state in ("missing", "empty", "plain"))
            if key is None:
                raise UserError(f"The database {settings.db_path} is encrypted but its key is not in "
                                f"{secrets.backend_name}; restore the key, or restore a backup with `secondme restore`.")
        db = Database(settings.db_path, key, cache_mb=settings.db_cache_mb)
        db.migrate()
    return db


class App:
    """Owns the database, the embedder, the indexes and the services built on them.

    Heavy parts (embedder, Chroma, the chat model) load lazily on first use, so quick commands stay quick.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        _check_writable(self.settings)
        self.db = open_database(self.settings, self.secrets)
        from assistant.memory import MemoryManager

        self.memory = MemoryManager(self)
        # Replay vector writes a crash left in the outbox (one cheap query when there are none).
        self.memory.sync_vector_index()

    @cached_property
    def secrets(self):
        from assistant.secrets import SecretStore

        s = self.settings
        return SecretStore(s.home, s.config_dir, s.secrets_backend)

    @cached_property
    def embedder(self):
        from storage.embedder import load_embedder

        s = self.settings
        return load_embedder(s.embedder, threads=s.threads, model_path=s.embedder_model_path,
                             tokenizer_path=s.embedder_tokenizer_path, cache_dir=s.cache_dir)

    @cached_property
    def vector_index(self):
        from storage.vector_index import VectorIndex

        return VectorIndex(self.settings.chroma_path, dim=self.embedder.dim)

    @cached_property
    def llm(self):
        """The chat model on its own thread (loads on first use; a bad file raises a one-line UserError)."""
        from assistant.llm.catalog import active_model_path
        from assistant.llm.runtime import LlamaRuntime
        from assistant.llm.worker import ModelWorker

        s = self.settings
        path = active_model_path(s)
        return ModelWorker(lambda: LlamaRuntime(
            path, context_size=s.context_size, threads=s.threads, gpu_layers=s.gpu_layers,
            temperature=s.temperature, max_tokens=s.max_tokens, template_fallback=s.chat_template_fallback))

    @cached_property
    def chat(self):
        from assistant.chat import ChatService

        return ChatService(self)

    @cached_property
    def plugins(self):
        from plugins.manager import PluginHost

        host = PluginHost(disabled=self.settings.disabled_plugins)
        host.load_all(self.settings.plugins_dir)
        host.startup(self)
        return host

    @cached_property
    def jobs(self):
        """Scheduled upkeep (consolidation, reflection, forgetting); start() runs the background scheduler."""
        from assistant.jobs import JobService

        return JobService(self)

    def start_background_work(self) -> None:
        """For the long-running front ends (desktop app, `secondme serve`, `secondme chat`): the upkeep
        scheduler and the fact-extraction worker. One-shot commands leave queued extraction for the next
        long-running one (or `secondme extract`)."""
        if self.settings.extract_facts:
            self.memory.extraction_queue.start_worker(lambda: self.llm)
        self.jobs.start()

    def warm_up(self) -> None:
        """For the long-running front ends: load what recall needs before the first question.

        Then take the objects loaded so far out of Python's garbage collector (gc.freeze). They live as long
        as the process, and a full collection walking them (about 150k objects, ~100 ms) would otherwise land
        in the middle of a recall now and then: at 100k memories it was the slowest recall in 50.
        """
        self.embedder.embed(["warm up"])
        self.vector_index.count()
        gc.collect()
        gc.freeze()

    def close(self) -> None:
        if "extraction_queue" in self.memory.__dict__:
            self.memory.extraction_queue.stop_worker()
        if "jobs" in self.__dict__:
            self.jobs.shutdown()
        if "plugins" in self.__dict__:
            self.plugins.shutdown(self)
        if "llm" in self.__dict__:
            self.llm.close()
        self.memory.recaller.close()
        self.db.dispose()

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def storage_error_message(exc: BaseException) -> str | None:
    """A one-line, actionable message for the storage failures a user can fix, else None."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    if isinstance(orig, (sqlite3.OperationalError, OperationalError)) or isinstance(exc, OperationalError):
        if "readonly" in text or "read-only" in text:
            return "The database is read-only; fix the permissions of the data folder or set SECONDME_HOME."
        if "disk is full" in text or "database or disk is full" in text:
            return "The disk is full; free some space and try again (nothing stored was lost)."
        if "locked" in text:
            return "The database is busy in another secondme process; try again in a moment."
    if isinstance(orig, OSError) and orig.errno == errno.ENOSPC:
        return "The disk is full; free some space and try again (nothing stored was lost)."
    if "disk is full" in text or "no space left on device" in text:  # Chroma's own SQLite and HNSW files too
        return "The disk is full; free some space and try again (nothing stored was lost)."
    if "not a database" in text:
        return "The database file is damaged or encrypted with another key; restore a backup or set SECONDME_HOME."
    return None
