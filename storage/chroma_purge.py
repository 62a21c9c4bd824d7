"""Removing deleted vectors from every file Chroma keeps, not only from its answers.

A delete in Chroma (chromadb 1.5.9, local persistent mode) hides a record but leaves its vector on disk in
three places, each measured:

1. chroma.sqlite3, table embeddings_queue (Chroma's write-ahead log): the upsert row with the vector stays until
   every segment has persisted past it, and a purged row's bytes stay in SQLite's free pages after that.
2. The HNSW segment folder's data_level0.bin: hnswlib's delete only sets a flag on the element (mark_deleted);
   the vector bytes stay, and Chroma writes them back at each persist. An upsert of an existing id allocates a
   new element and flags the old one the same way, so earlier versions of a vector linger too.
3. After delete_collection (used by clear), the whole segment folder stays on disk, no longer referenced.

Chroma has no call that removes these: its `chroma vacuum` purges only log rows that every segment has
consumed (not the rows of a fresh delete) and prints to stdout, and rebuilding a collection re-inserts every
vector (about 1.5 ms each here: minutes at 100k memories). So this module edits the files directly, with
Chroma's client closed in this process (other processes reopen theirs before their next call, see
VectorIndex), and checks the HNSW file layout first: a layout it does not recognise raises
UnknownSegmentLayout, and the caller rebuilds the collection instead.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

SQLITE_FILE = "chroma.sqlite3"
# Chroma's persistence version (i32), then hnswlib's saveIndex header: offsetLevel0, max_elements,
# cur_element_count, size_data_per_element, label_offset, offsetData (size_t each), maxlevel (int),
# enterpoint_node (uint32), maxM, maxM0, M (size_t), mult (double), ef_construction (size_t).
_HEADER = struct.Struct("<i6QiI3QdQ")
_DELETE_MARK = 0x01  # hnswlib: bit 0 of byte 2 of an element's level-0 link list header


class UnknownSegmentLayout(Exception):
    """The HNSW files are not laid out as this module expects (another Chroma or hnswlib version)."""


def purge(root: Path, deleted_ids: Iterable[str]) -> None:
    """Remove the vectors of `deleted_ids`, and of every flagged element, from all of Chroma's files under root.
    Call with no Chroma client open on root in this process."""
    if not (root / SQLITE_FILE).exists():
        return
    deleted = set(deleted_ids)
    dim = _dimension(root / SQLITE_FILE)
    for folder in remove_orphan_segments(root):
        if dim is not None:  # a collection that never held a vector has no HNSW data to scrub
            scrub_hnsw(folder, deleted, dim)
    purge_log(root / SQLITE_FILE, deleted)


def _dimension(db_path: Path) -> int | None:
    """The vectors' dimension, as Chroma records it for the collection once it holds one."""
    con = sqlite3.connect(db_path)
    try:
        row = con.execute("SELECT max(dimension) FROM collections").fetchone()
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else None


def remove_orphan_segments(root: Path) -> list[Path]:
    """Delete the segment folders no collection uses (delete_collection leaves them); return the others."""
    live = _live_segment_folders(root)
    kept = []
    for folder in [p for p in root.iterdir() if p.is_dir() and (p / "header.bin").exists()]:
        if folder.name in live:
            kept.append(folder)
        else:
            shutil.rmtree(folder)
    return kept


def _live_segment_folders(root: Path) -> set[str]:
    con = _connect(root / SQLITE_FILE)
    try:
        return {row[0] for row in con.execute("SELECT id FROM segments")}
    finally:
        con.close()


def scrub_hnsw(folder: Path, deleted_ids: set[str], dim: int) -> int:
    """Overwrite the vector of each dead element: flagged deleted, or labelled with a deleted id (its flag may not
    be persisted yet: Chroma persists every sync_threshold writes and replays its log on open).
    Returns how many elements were overwritten."""
    data_file = folder / "data_level0.bin"
    if not data_file.exists() or data_file.stat().st_size == 0:
        return 0
    fields = _HEADER.unpack((folder / "header.bin").read_bytes()[:_HEADER.size])
    version, offset_level0, _max, count, size, label_offset, offset_data = fields[:7]
    file_size = data_file.stat().st_size
    # The file holds at least the header's element count (a new index preallocates zeroed elements).
    layout_ok = (version == 1 and offset_level0 == 0 and size > 0 and file_size % size == 0
                 and file_size >= count * size and offset_data + dim * 4 == label_offset and label_offset + 8 == size)
    if not layout_ok:
        raise UnknownSegmentLayout(f"unexpected HNSW header in {folder}: {fields}")
    labels_of_deleted = _labels(folder, deleted_ids)
    elements = np.memmap(data_file, dtype=np.uint8, mode="r+", shape=(file_size // size, size))
    try:
        labels = np.ascontiguousarray(elements[:, label_offset:label_offset + 8]).view("<u8").ravel()
        dead = (elements[:, 2] & _DELETE_MARK).astype(bool) | np.isin(labels, list(labels_of_deleted))
        written = 0
        for row in np.flatnonzero(dead):
            replacement = _stand_in(elements, int(row), dead, count, offset_data, label_offset, dim)
            if not np.array_equal(elements[row, offset_data:label_offset], replacement):  # not done before
                elements[row, offset_data:label_offset] = replacement
                written += 1
        elements.flush()
    finally:
        del elements
    if written:
        with open(data_file, "rb+") as fh:
            os.fsync(fh.fileno())
    return written


def _stand_in(elements: np.ndarray, row: int, dead: np.ndarray, count: int, offset_data: int, label_offset: int,
              dim: int) -> np.ndarray:
    """What a dead element's vector becomes: the normalised mean of its live level-0 neighbours' vectors.

    A dead element still routes searches through the graph, so its stand-in should sit where its neighbours are
    (a constant vector cost 2 to 5 points of recall@10 with 10 % of elements deleted); and the stand-in holds
    nothing the file does not keep anyway (the element's links and its neighbours' vectors). With no live
    neighbour, a constant unit vector (a zero vector would divide by zero in the cosine space)."""
    links = int.from_bytes(bytes(elements[row, 0:2]), "little")  # level-0 link count, then the links (uint32)
    neighbours = np.frombuffer(bytes(elements[row, 4:4 + 4 * links]), dtype="<u4")
    neighbours = neighbours[neighbours < count]
    neighbours = neighbours[~dead[neighbours]]
    if len(neighbours):
        mean = elements[neighbours, offset_data:label_offset].view("<f4").astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(mean)
        if np.isfinite(norm) and norm > 1e-6:
            return np.frombuffer((mean / norm).astype("<f4").tobytes(), dtype=np.uint8)
    return np.frombuffer(np.full(dim, 1 / math.sqrt(dim), dtype="<f4").tobytes(), dtype=np.uint8)


def _labels(folder: Path, ids: set[str]) -> set[int]:
    """The HNSW labels the persisted id map gives these ids."""
    path = folder / "index_metadata.pickle"
    if not ids or not path.exists():
        return set()
    with open(path, "rb") as fh:
        id_map = _PlainUnpickler(fh).load()
    if not isinstance(id_map, dict) or not isinstance(id_map.get("id_to_label"), dict):
        raise UnknownSegmentLayout(f"unexpected id map in {path}")
    return {id_map["id_to_label"][i] for i in ids if i in id_map["id_to_label"]}


class _PlainUnpickler(pickle.Unpickler):
    """Chroma writes the id map with serde_pickle: dicts, strings and numbers only. Refuse anything that would
    import code, so a tampered file cannot run any."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a Chroma id map")


def purge_log(db_path: Path, deleted_ids: set[str]) -> None:
    """Drop the log rows that carry a vector of a deleted id, then VACUUM so no free page keeps their bytes.

    Safe for Chroma: every such row is followed by the id's delete row, which stays, so replaying the log on
    open ends in the same state."""
    if not db_path.exists():
        return
    ids = sorted(deleted_ids)
    con = _connect(db_path)
    try:
        con.execute("PRAGMA secure_delete = ON")
        con.execute("BEGIN IMMEDIATE")
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            con.execute("DELETE FROM embeddings_queue WHERE vector IS NOT NULL "
                        f"AND id IN ({','.join('?' * len(chunk))})", chunk)
        con.execute("COMMIT")
        # Chroma purges consumed log rows on its own, without secure_delete: their bytes sit in free pages until
        # a VACUUM rewrites the file (tens of milliseconds at 10k memories).
        con.execute("VACUUM")
    finally:
        con.close()


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode (VACUUM cannot run inside a transaction); wait for Chroma's own connections, not fail.
    return sqlite3.connect(path, timeout=30, isolation_level=None)
