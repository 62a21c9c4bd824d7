"""Two processes on one vector index: each sees what the other wrote (Chroma's local client alone does not)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from storage.vector_index import VectorIndex
from tests.conftest import REPO

WRITER = """
import sys
import numpy as np
from storage.vector_index import VectorIndex
index = VectorIndex(sys.argv[1])
first = int(sys.argv[2])
index.upsert([first, first + 1], np.eye(16, dtype=np.float32)[[first // 5, first // 5 + 1]])
if len(sys.argv) > 3:
    index.delete([int(sys.argv[3])])
"""


def write_in_another_process(path, first: int, delete: int | None = None) -> None:
    args = [sys.executable, "-c", WRITER, str(path), str(first)] + ([str(delete)] if delete is not None else [])
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def basis(first: int) -> np.ndarray:
    """The vector the writer gives id `first`: a direction no other id in this test has."""
    return np.eye(16, dtype=np.float32)[first // 5]


def test_writes_of_another_process_are_seen_by_queries_and_gets(tmp_path):
    index = VectorIndex(tmp_path / "vectors")
    index.upsert([1, 2], np.eye(16, dtype=np.float32)[[0, 1]])
    assert index.count() == 2
    for first in (10, 20, 30):  # each round, the other process writes after this one has read
        write_in_another_process(tmp_path / "vectors", first)
        top = index.query(basis(first), 1)
        assert top[0][0] == first, top
        got = index.vectors([1, first, first + 1])
        assert sorted(got) == [1, first, first + 1]
        np.testing.assert_allclose(got[first], basis(first), atol=1e-6)
    write_in_another_process(tmp_path / "vectors", 40, delete=1)
    assert 1 not in index.ids()
    assert index.ids() == {2, 10, 11, 20, 21, 30, 31, 40, 41}
    index.upsert([50], np.eye(16, dtype=np.float32)[[15]])  # and this process's writes still land
    assert index.count() == 10
