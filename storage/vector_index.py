"""Dense vector search with Chroma. Holds ids and embeddings only: the text stays in SQLite."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from filelock import FileLock

import storage.offline  # noqa: F401
from storage import chroma_purge

COLLECTION = "memories"
REBUILDING = "memories-rebuilding"  # the collection a rebuild fills before it takes COLLECTION's name
GENERATION_FILE = "secondme-generation"
log = logging.getLogger(__name__)
T = TypeVar("T")


class VectorIndex:
    """Chroma in local mode, shared by every secondme process on this data folder.

    Chroma's local client keeps its view of the index in memory and does not notice what another process writes
    (measured, chromadb 1.5.9: ids another process added are missing from queries, and get() of them fails with
    "Error executing plan: Internal error: Error finding id"). The CLI writing while the desktop app runs is
    normal use, so every write bumps a generation number kept in a file beside the index, under a file lock that
    also keeps two processes from writing Chroma at once, and a process that finds a generation it did not write
    reopens its client before it reads (tens of milliseconds). Within a process one lock orders the calls, so a
    reopen never pulls the client from under another thread.

    Chroma's delete leaves the vectors in its files; delete and clear take them out (storage/chroma_purge.py).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        # Chroma opens on first use (about a second at 100k vectors): commands that never search stay quick.
        self.client: Any = None  # chromadb's ClientAPI, once open
        self.collection: Any = None
        self._generation_file = self.path / GENERATION_FILE
        self._file_lock: FileLock | None = None
        self._seen = -1

    @property
    def is_open(self) -> bool:
        return self.client is not None

    def open(self) -> None:
        """Open Chroma now (front ends do it before the first question); later calls do nothing."""
        with self._lock:
            self._ensure_open()

    def _ensure_open(self) -> None:
        if self.client is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._file_lock = FileLock(str(self.path / (GENERATION_FILE + ".lock")))
            self._seen = self._generation()
            self._open()

    def _open(self) -> None:
        import chromadb
        from chromadb.config import Settings

        self.client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=True)
        )
        self._open_collection()

    def _open_collection(self) -> None:
        names = {c.name for c in self.client.list_collections()}
        if REBUILDING in names:  # a rebuild was interrupted: keep the whole index, old or new
            if COLLECTION in names:
                self.client.delete_collection(REBUILDING)
            else:
                self._get_collection(REBUILDING).modify(name=COLLECTION)
        self.collection = self._get_collection(COLLECTION)

    def _get_collection(self, name: str) -> Any:
        # We always pass vectors ourselves; with no embedding function configured Chroma would try to
        # download its default model, so give it one that refuses loudly instead.
        return self.client.get_or_create_collection(
            name,
            embedding_function=_RefuseToEmbed(),
            configuration={"hnsw": {"space": "cosine", "ef_search": 100}},
        )

    def _reopen(self) -> None:
        self.client.close()
        self._open()

    def _generation(self) -> int:
        try:
            return int(self._generation_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _read(self, call: Callable[[], T]) -> T:
        """Run a read on an up-to-date client. A read can still meet another process's write between its
        Chroma write and its generation bump ("Error finding id"); reopening then answers it."""
        from chromadb.errors import InternalError

        with self._lock:
            self._ensure_open()
            if self._generation() != self._seen:
                self._reopen()
                self._seen = self._generation()
            try:
                return call()
            except InternalError as exc:
                log.info("vector index changed under this process (%s); reopening it", exc)
                self._reopen()
                return call()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            self._ensure_open()
        assert self._file_lock is not None  # made by _ensure_open
        with self._lock, self._file_lock:
            current = self._generation()
            if current != self._seen:
                self._reopen()
            try:
                yield
            finally:  # bumped even after a failed write: part of it may have landed
                tmp = self._generation_file.with_suffix(".tmp")
                tmp.write_text(str(current + 1))
                tmp.replace(self._generation_file)
                self._seen = current + 1

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._writing():
            for start in range(0, len(ids), 4096):  # Chroma caps the batch size
                self.collection.upsert(
                    ids=[str(i) for i in ids[start:start + 4096]],
                    embeddings=np.asarray(vectors[start:start + 4096], dtype=np.float32),
                )

    def delete(self, ids: Sequence[int]) -> None:
        """Delete these vectors from the index and from every file Chroma keeps."""
        if ids:
            with self._writing():
                self.collection.delete(ids=[str(i) for i in ids])
                self._purge([str(i) for i in ids])

    def _purge(self, ids: list[str]) -> None:
        """Take deleted vectors out of Chroma's files. The client is closed meanwhile: its in-memory index still
        holds them and would write them back at its next persist; reopened, it reads the scrubbed files."""
        identifier = self.client._identifier
        self.client.close()
        if _system_still_open(identifier):
            # Another client in this process (a second VectorIndex on this folder) shares Chroma's in-memory
            # index, which would write the vectors back: only Chroma's API can drop them from it.
            log.info("vector index shared within this process; rebuilding it to purge deleted vectors")
            self._open()
            self._rebuild()
            return
        try:
            chroma_purge.purge(self.path, ids)
        except chroma_purge.UnknownSegmentLayout as exc:
            log.warning("%s; rebuilding the vector index to purge deleted vectors (slow)", exc)
            self._open()
            self._rebuild()
            return
        self._open()

    def _rebuild(self) -> None:
        """Copy the kept vectors into a new collection that then takes the index's name, and purge the old one's
        files: what purge() does in place, through Chroma's API only (about 1.5 ms a vector). A crash midway
        leaves the old or the new collection whole (see _open_collection)."""
        kept = sorted(self.ids())
        vectors = self.vectors(kept)
        new = self._get_collection(REBUILDING)
        for start in range(0, len(kept), 4096):
            chunk = kept[start:start + 4096]
            new.upsert(ids=[str(i) for i in chunk], embeddings=np.stack([vectors[i] for i in chunk]))
        self.client.delete_collection(COLLECTION)
        new.modify(name=COLLECTION)
        self.client.close()
        chroma_purge.remove_orphan_segments(self.path)
        chroma_purge.purge_log(self.path / chroma_purge.SQLITE_FILE, set())
        self._open()

    def query(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(memory id, cosine similarity), best first."""
        return self.query_many(np.asarray(vector, dtype=np.float32)[None, :], n)[0]

    def query_many(self, vectors: np.ndarray, n: int) -> list[list[tuple[int, float]]]:
        """query() for several vectors in one call (the write path checks a whole batch at once).

        Chroma returns fewer than n results when it holds fewer (none when empty), so there is no need to
        count first: counting costs as much as a query at 100k vectors.
        """
        if len(vectors) == 0:
            return []
        result = self._read(lambda: self.collection.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32), n_results=n, include=["distances"]))
        return [[(int(i), 1.0 - float(d)) for i, d in zip(ids, dists)]
                for ids, dists in zip(result["ids"], result["distances"])]

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these ids (those Chroma has), for diversification without re-embedding."""
        if not ids:
            return {}
        got = self._read(lambda: self.collection.get(ids=[str(i) for i in ids], include=["embeddings"]))
        return {int(i): np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def ids(self) -> set[int]:
        def all_ids() -> set[int]:
            out: set[int] = set()
            offset, page = 0, 10_000
            while True:
                got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
                out.update(int(i) for i in got)
                if len(got) < page:
                    return out
                offset += page

        return self._read(all_ids)

    def count(self) -> int:
        return int(self._read(lambda: self.collection.count()))

    def clear(self) -> None:
        with self._writing():
            self.client.delete_collection(COLLECTION)
            self._purge([])  # Chroma leaves the dropped collection's segment folder on disk


def _system_still_open(identifier: str) -> bool:
    """Whether Chroma still runs the system (its in-memory index) behind a client just closed: it does while
    another client in this process uses the same folder."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return identifier in SharedSystemClient._identifier_to_system


class _RefuseToEmbed:
    """An embedding function that never downloads anything: callers must pass vectors."""

    def __call__(self, input: Any) -> Any:  # noqa: A002 (Chroma's parameter name)
        raise RuntimeError("secondme passes its own embeddings; Chroma must not embed text itself")

    @staticmethod
    def name() -> str:
        return "secondme-external"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> _RefuseToEmbed:
        return _RefuseToEmbed()

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]
