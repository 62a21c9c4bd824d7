"""The composition root: builds every service from the settings and wires them together. The CLI, the GUI and the
local API all start here, and nothing else constructs a service.

Each service receives the collaborators it uses in its constructor; none of them knows this class. Heavy parts
load on first use, behind objects that are cheap to build: the embedder (LazyEmbedder), Chroma (VectorIndex opens
on first query), the chat model (load_model) and the plugins (loaded at the first write or plugin call).
"""

from __future__ import annotations

import errno
import gc
import logging
import threading
from typing import Any

from assistant.chat import ChatService
from assistant.config import Settings, load_settings
from assistant.jobs import JobService
from assistant.llm.worker import ModelWorker
from assistant.memory.extraction import ExtractionQueue
from assistant.memory.indexes import IndexKeeper
from assistant.memory.ledger import Ledger
from assistant.memory.manager import MemoryManager
from assistant.memory.portable import PortableStore
from assistant.memory.recall import Recaller
from assistant.memory.review import MemoryReview
from assistant.memory.write_path import WritePath
from assistant.secrets import SecretStore
from plugins.api import Candidate, PluginContext, Verdict
from plugins.manager import PluginHost
from storage.chat_store import ChatStore
from storage.db import Database
from storage.embedder import Embedder, LazyEmbedder, load_embedder
from storage.errors import DiskFull, ReadOnly, UserError
from storage.memory_store import MemoryStore
from storage.vector_index import VectorIndex

log = logging.getLogger(__name__)


def check_writable(settings: Settings) -> None:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"The disk holding {home} is full; free some space and try again.") from None
        raise ReadOnly(
            f"Cannot write to the data folder {home} ({exc.strerror}); fix its permissions or set SECONDME_HOME."
        ) from None


def open_database(settings: Settings, secrets: SecretStore) -> Database:
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
                                f"{secrets.backend_name}; restore the key, "
                                "or restore a backup with `secondme restore`.")
        db = Database(settings.db_path, key, cache_mb=settings.db_cache_mb)
        db.migrate()
    return db


def default_embedder(settings: Settings) -> Embedder:
    s = settings
    return LazyEmbedder(lambda: load_embedder(s.embedder, threads=s.threads, model_path=s.embedder_model_path,
                                              tokenizer_path=s.embedder_tokenizer_path, cache_dir=s.cache_dir),
                        name=s.embedder)


class App:
    """Owns the database, the embedder, the indexes and the services built on them.

    `embedder`, `llm` and `plugins` may be handed in (tests share one loaded model; the CLI loads plugins before
    it parses the command line); otherwise the settings say what to load.
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 llm: Any = None, plugins: PluginHost | None = None):
        self.settings = s = settings or load_settings()
        check_writable(s)
        self.secrets = SecretStore(s.home, s.config_dir, s.secrets_backend)
        self.db = open_database(s, self.secrets)
        self.embedder: Embedder = embedder or default_embedder(s)
        self.vector_index = VectorIndex(s.chroma_path)
        self._llm = llm
        self._owns_llm = llm is None  # a model handed in belongs to whoever made it
        self._llm_lock = threading.Lock()
        self._plugins = plugins
        self._plugins_lock = threading.RLock()

        store = MemoryStore(self.db)
        indexes = IndexKeeper(store, self.vector_index, self.embedder, s.embedder)
        write_path = WritePath(self.db, store, self.embedder, self.vector_index, self._check_memory, s)
        self.memory = MemoryManager(
            self.db, store, write_path,
            recaller=Recaller(self.db, store, self.vector_index, self.embedder, s),
            ledger=Ledger(self.db, indexes.sync_vectors),
            indexes=indexes,
            extraction_queue=ExtractionQueue(self.db, write_path.write, s),
            settings=s,
        )
        self.review = MemoryReview(self.db, self.memory, s.max_text_bytes)
        self.portable = PortableStore(self.db, self.memory, s.embedder)
        self.chat = ChatService(ChatStore(self.db), self.memory, self._load_llm, self._on_turn, s)
        self.jobs = JobService(self.db, self.memory, self.vector_index, self.embedder, s, load_model=self._load_llm)
        # Replay vector writes a crash left in the outbox (one cheap query when there are none).
        indexes.sync_vectors()

    # -- the heavy parts, loaded on first use ------------------------------------------------------
    @property
    def llm(self) -> Any:
        """The chat model on its own thread (loads on first use; a bad file raises a one-line UserError)."""
        return self._load_llm()

    def _load_llm(self) -> Any:
        with self._llm_lock:
            if self._llm is None:
                from assistant.llm.catalog import active_model_path
                from assistant.llm.runtime import LlamaRuntime

                s = self.settings
                path = active_model_path(s)
                self._llm = ModelWorker(lambda: LlamaRuntime(
                    path, context_size=s.context_size, threads=s.threads, gpu_layers=s.gpu_layers,
                    temperature=s.temperature, max_tokens=s.max_tokens, template_fallback=s.chat_template_fallback))
            return self._llm

    @property
    def plugins(self) -> PluginHost:
        """Every plugin, loaded and started on first use."""
        with self._plugins_lock:
            if self._plugins is None:
                host = PluginHost(disabled=self.settings.disabled_plugins, timeout_s=self.settings.plugin_timeout_s)
                host.load_all(self.settings.plugins_dir)
                self._plugins = host
            if not self._plugins.started:
                self._plugins.startup(self.plugin_context())
            return self._plugins

    def plugin_context(self) -> PluginContext:
        return PluginContext(settings=self.settings, data_dir=self.settings.home,
                             logger=logging.getLogger("secondme.plugins"), memory=self.memory,
                             embed=self.embedder.embed)

    def _check_memory(self, candidate: Candidate, context: dict[str, Any]) -> Verdict:
        return self.plugins.check_memory(candidate, context)

    def _on_turn(self, turn: dict[str, Any]) -> None:
        self.plugins.on_turn(turn)

    # -- long-running front ends -----------------------------------------------------------------
    def start_background_work(self) -> None:
        """For the long-running front ends (desktop app, `secondme serve`, `secondme chat`): the upkeep
        scheduler and the fact-extraction worker. One-shot commands leave queued extraction for the next
        long-running one (or `secondme extract`)."""
        if self.settings.extract_facts:
            self.memory.extraction_queue.start_worker(self._load_llm)
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
        self.memory.extraction_queue.stop_worker()
        self.jobs.shutdown()
        if self._plugins is not None:
            self._plugins.shutdown()
        if self._owns_llm and self._llm is not None:
            self._llm.close()
        self.memory.recaller.close()
        self.db.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
