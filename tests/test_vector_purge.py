"""A deleted memory's vector leaves every file Chroma keeps: its SQLite log and the HNSW segment files.

Each test reads the files themselves, looking for the vector as float32 at every byte offset (raw or scaled:
Chroma's cosine space stores it normalised), and first checks that the same search finds a vector still kept,
so a search that finds nothing proves something.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from storage import chroma_purge
from storage.vector_index import VectorIndex
from tests.conftest import REPO

DIM = 16
PERSIST_EVERY = 1000  # Chroma's default sync_threshold: the HNSW files are written after this many writes


def best_cosine(data: bytes, vector: np.ndarray) -> float:
    """The highest cosine between `vector` and any run of float32 values in `data`, at any byte alignment."""
    v = np.asarray(vector, dtype=np.float64)
    v = v / np.linalg.norm(v)
    d, best = len(v), 0.0
    for shift in range(4):
        usable = (len(data) - shift) // 4
        if usable < d:
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            a = np.frombuffer(data, dtype="<f4", count=usable, offset=shift).astype(np.float64)
        a[~np.isfinite(a) | (np.abs(a) > 1e6)] = 0.0
        dots = sliding_window_view(a, d) @ v
        squares = np.concatenate([[0.0], np.cumsum(a * a)])
        norms = np.sqrt(np.maximum(squares[d:] - squares[:-d], 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cosines = np.where(norms > 1e-6, dots / norms, 0.0)
        best = max(best, float(cosines.max()))
    return best


def files_holding(root: Path, vector: np.ndarray) -> list[str]:
    return [str(f.relative_to(root)) for f in sorted(root.rglob("*"))
            if f.is_file() and best_cosine(f.read_bytes(), vector) > 0.999]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_a_delete_leaves_no_copy_in_the_log_of_a_small_index(tmp_path):
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(20)
    index.upsert(list(range(1, 21)), v)
    assert files_holding(root, v[2]) == ["chroma.sqlite3"]  # the upsert row of Chroma's log
    index.delete([3])
    assert files_holding(root, v[2]) == []
    assert files_holding(root, v[3]) == ["chroma.sqlite3"]  # the others stay
    assert index.count() == 19 and index.query(v[3], 1)[0][0] == 4


def test_a_delete_leaves_no_copy_in_the_persisted_hnsw_files_nor_in_a_later_persist(tmp_path):
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(PERSIST_EVERY + 100)
    index.upsert(list(range(1, len(v) + 1)), v)
    segment = next(p.name for p in root.iterdir() if p.is_dir())
    assert f"{segment}/data_level0.bin" in files_holding(root, v[6])
    newer = vectors(1, seed=7)[0]
    index.upsert([7], newer[None, :])  # an old version of id 7 is now a flagged element of the HNSW file
    index.delete([7, 8])
    for gone in (v[6], newer, v[7]):
        assert files_holding(root, gone) == []
    assert f"{segment}/data_level0.bin" in files_holding(root, v[8])

    more = vectors(PERSIST_EVERY + 10, seed=1)  # enough writes for Chroma to persist the HNSW index again
    index.upsert(list(range(5000, 5000 + len(more))), more)
    assert files_holding(root, v[6]) == [] and files_holding(root, newer) == []
    again = VectorIndex(root)  # a fresh process's view: recall still works around the scrubbed elements
    assert again.count() == len(v) - 2 + len(more)
    assert [again.query(v[i], 1)[0][0] for i in (0, 5, 8, 500)] == [1, 6, 9, 501]
    assert {7, 8} & again.ids() == set()


def test_clear_removes_the_dropped_collections_files(tmp_path):
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(PERSIST_EVERY + 10)
    index.upsert(list(range(1, len(v) + 1)), v)
    index.clear()
    assert files_holding(root, v[0]) == [] and files_holding(root, v[-1]) == []
    assert index.count() == 0
    index.upsert([1], v[:1])
    assert index.query(v[0], 1)[0][0] == 1


HOLDER = """
import sys
import numpy as np
from storage.vector_index import VectorIndex
index = VectorIndex(sys.argv[1])
index.query(np.ones(16, dtype=np.float32), 1)  # the whole index is now in this process's memory
print("loaded", flush=True)
sys.stdin.readline()  # meanwhile the test deletes in its own process
more = np.random.default_rng(3).standard_normal((1010, 16)).astype(np.float32)
index.upsert(list(range(9000, 10010)), more)  # enough to make Chroma persist what this process holds
print(index.count(), flush=True)
"""


def test_a_process_that_had_the_vector_in_memory_does_not_write_it_back(tmp_path):
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(PERSIST_EVERY + 100)
    index.upsert(list(range(1, len(v) + 1)), v)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "loaded", holder.stderr.read()
        index.delete([10])
        out, err = holder.communicate("go\n", timeout=300)
    finally:
        holder.kill()
    assert holder.returncode == 0, err[-2000:]
    assert int(out.split()[-1]) == len(v) - 1 + 1010
    assert files_holding(root, v[9]) == []


def test_a_second_index_on_the_folder_in_this_process_does_not_keep_the_vector(tmp_path):
    root = tmp_path / "vectors"
    index, other = VectorIndex(root), VectorIndex(root)  # one Chroma system behind both
    v = vectors(PERSIST_EVERY + 10)
    index.upsert(list(range(1, len(v) + 1)), v)
    assert other.query(v[3], 1)[0][0] == 4  # the other one has the index in memory too
    index.delete([4])
    assert files_holding(root, v[3]) == []
    more = vectors(PERSIST_EVERY + 10, seed=1)
    other.upsert(list(range(5000, 5000 + len(more))), more)  # the other one writes until Chroma persists
    assert files_holding(root, v[3]) == []
    assert index.count() == other.count() == len(v) - 1 + len(more)
    assert index.query(v[4], 1)[0][0] == 5 and other.query(more[0], 1)[0][0] == 5000


def test_an_hnsw_layout_it_does_not_know_is_purged_by_rebuilding_the_collection(tmp_path, monkeypatch):
    def unknown(folder, *_):
        raise chroma_purge.UnknownSegmentLayout(f"test: pretend {folder.name} is another Chroma's layout")

    monkeypatch.setattr(chroma_purge, "scrub_hnsw", unknown)
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(PERSIST_EVERY + 10)
    index.upsert(list(range(1, len(v) + 1)), v)
    index.delete([2])
    assert files_holding(root, v[1]) == []
    assert index.count() == len(v) - 1 and index.query(v[2], 1)[0][0] == 3
    assert VectorIndex(root).query(v[700], 1)[0][0] == 701  # and another process sees the rebuilt index


def test_an_interrupted_rebuild_leaves_a_whole_index(tmp_path):
    root = tmp_path / "vectors"
    index = VectorIndex(root)
    v = vectors(5)
    index.upsert([1, 2, 3, 4, 5], v)
    # A crash after the new collection was filled and the old one dropped, before the rename.
    new = index._get_collection("memories-rebuilding")
    new.upsert(ids=["1", "2"], embeddings=v[:2])
    index.client.delete_collection("memories")
    reopened = VectorIndex(root)
    assert reopened.ids() == {1, 2}


def test_deleting_a_memory_purges_its_embedding_from_the_whole_data_folder(app, home):
    text = "My bank PIN hint is the year grandma was born"
    kept = app.memory.remember("I water the plants on Mondays")
    doomed = app.memory.remember(text)
    embedding = app.embedder.embed([text])[0]
    assert files_holding(app.vector_index.path, embedding)  # the search finds it while it is stored
    app.memory.delete(doomed.id)
    assert files_holding(home, embedding) == []
    assert app.memory.recall("when do I water the plants")[0].memory.id == kept.id


@pytest.mark.parametrize("ids", [[], ["1"]])
def test_purge_of_a_folder_without_chroma_files_does_nothing(tmp_path, ids):
    chroma_purge.purge(tmp_path, ids)
    assert list(tmp_path.iterdir()) == []
