"""Delete cost: Chroma's own delete (vector left in its files) against VectorIndex.delete (vector purged).

For each size, an index of random 384-d vectors is built (with Chroma's HNSW files persisted), then single
deletes and one batch delete are timed both ways, and recall@10 is measured against exact search after 10 % of the
vectors were deleted, to show that overwriting the deleted elements does not hurt the graph (110 + n/10 deleted in all).

    python benchmarks/vector_delete.py                  # 1k and 10k vectors
    python benchmarks/vector_delete.py --sizes 100000   # building the index takes minutes on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.vector_index import VectorIndex  # noqa: E402

DIM = 384


def build(root: Path, n: int) -> tuple[VectorIndex, np.ndarray]:
    v = np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)
    index = VectorIndex(root)
    index.upsert(list(range(1, n + 1)), v)
    return index, v


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def recall_at_10(index: VectorIndex, v: np.ndarray, kept: np.ndarray, queries: np.ndarray) -> float:
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    hits = 0
    for q in queries:
        exact = kept[np.argsort(-(unit[kept - 1] @ (q / np.linalg.norm(q))))[:10]]
        hits += len(set(exact) & {i for i, _ in index.query(q, 10)})
    return hits / (10 * len(queries))


def run(n: int, workdir: Path) -> dict:
    row: dict = {"vectors": n}
    for mode in ("chroma", "purged"):
        index, v = build(workdir / f"{mode}-{n}", n)
        def chroma_only(ids, index=index):  # Chroma's own delete, which leaves the vectors in its files
            index.collection.delete(ids=[str(i) for i in ids])

        delete = chroma_only if mode == "chroma" else index.delete
        singles = [timed(lambda i=i, delete=delete: delete([i])) for i in range(1, 11)]
        row[f"{mode} 1 (ms, median)"] = statistics.median(singles)
        row[f"{mode} 100 (ms)"] = timed(lambda delete=delete: delete(list(range(11, 111))))
        rest = np.arange(111, n + 1)
        doomed = np.random.default_rng(1).choice(rest, size=n // 10, replace=False)
        delete([int(i) for i in doomed])
        kept = np.setdiff1d(rest, doomed)
        queries = np.random.default_rng(2).standard_normal((100, DIM)).astype(np.float32)
        row[f"{mode} recall@10"] = recall_at_10(index, v, kept, queries)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="Comma-separated index sizes.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(int(n), Path(tmp)) for n in args.sizes.split(",")]
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys))


if __name__ == "__main__":
    main()
