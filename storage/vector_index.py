"""Dense vector search with Chroma. Holds ids and embeddings only: the text stays in SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import storage.offline  # noqa: F401

import numpy as np

COLLECTION = "memories"


class VectorIndex:
    def __init__(self, path: Path, dim: int):
        import chromadb
        from chromadb.config import Settings

        self.path = Path(path)
        self.dim = dim
        self.client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False, allow_reset=True)
        )
        self.collection = self._collection()

    def _collection(self):
        # We always pass vectors ourselves; with no embedding function configured Chroma would try to
        # download its default model, so give it one that refuses loudly instead.
        return self.client.get_or_create_collection(
            COLLECTION,
            embedding_function=_RefuseToEmbed(),
            configuration={"hnsw": {"space": "cosine", "ef_search": 100}},
        )

    def upsert(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        for start in range(0, len(ids), 4096):  # Chroma caps the batch size
            self.collection.upsert(
                ids=[str(i) for i in ids[start:start + 4096]],
                embeddings=np.asarray(vectors[start:start + 4096], dtype=np.float32),
            )

    def delete(self, ids: Sequence[int]) -> None:
        if ids:
            self.collection.delete(ids=[str(i) for i in ids])

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
        result = self.collection.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32), n_results=n, include=["distances"]
        )
        return [[(int(i), 1.0 - float(d)) for i, d in zip(ids, dists)]
                for ids, dists in zip(result["ids"], result["distances"])]

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these ids (those Chroma has), for diversification without re-embedding."""
        if not ids:
            return {}
        got = self.collection.get(ids=[str(i) for i in ids], include=["embeddings"])
        return {int(i): np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def ids(self) -> set[int]:
        out: set[int] = set()
        offset, page = 0, 10_000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
            out.update(int(i) for i in got)
            if len(got) < page:
                return out
            offset += page

    def count(self) -> int:
        return self.collection.count()

    def clear(self) -> None:
        self.client.delete_collection(COLLECTION)
        self.collection = self._collection()


class _RefuseToEmbed:
    """An embedding function that never downloads anything: callers must pass vectors."""

    def __call__(self, input):  # noqa: A002 (Chroma's parameter name)
        raise RuntimeError("secondme passes its own embeddings; Chroma must not embed text itself")

    @staticmethod
    def name() -> str:
        return "secondme-external"

    def get_config(self) -> dict:
        return {}

    @staticmethod
    def build_from_config(config: dict) -> "_RefuseToEmbed":
        return _RefuseToEmbed()

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]
