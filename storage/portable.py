"""The portable export: the whole store as one JSON file, and back into an empty store with nothing lost.

Version 2 of the format (written by `secondme export json`, read by `secondme import json`):

    {"format": "secondme-export", "version": 2, "app_version": "0.9.0", "exported_at": "2026-05-01T09:30:00+00:00",
     "memories": [{"id": 1, "kind": "fact", "text": "...", "subject": ..., "slot_key": ..., "status": ...,
                   "pinned": ..., "trust": ..., "source": ..., "session_id": ..., "valid_from": ..., ...}, ...],
     "links": [{"id", "src_id", "dst_id", "kind", "score", "created_at"}, ...],
     "events": [the ledger: {"id", "memory_id", "op", "reason", "source", "payload", "created_at",
                             "operation_id", "session_id"}, ...],
     "sessions": [{"id", "title", "created_at", "updated_at", "meta", "messages": [{"id", "role", "text",
                                                                                  "created_at", "meta"}, ...]}],
     "extraction_queue": [turns still waiting for fact extraction: {"id", "episode_id", "status", ...}]}

Each row holds every column of its table (the columns of storage/models.py, so a column added there is exported
without touching this file) under its own id; times are ISO-8601 with their offset (+00:00). A deleted memory is
kept as its tombstone, with no text, so the ledger that names it stays whole. What is derived from the rows is
left out and rebuilt on import: each memory's text_hash, the keyword index (FTS5) and the vectors (so each
memory's embedding_model then names the embedder that made its new vector, as after any `reindex`). Not in the
file: the job-run history (a log of upkeep, not data) and the vector outbox (derived).

A file is checked completely before anything is written; the rows then go in in one transaction, together with
the keyword index and the vector outbox (so a crash right after it leaves a queue the next start replays).
Restoring keeps every id, so it is done only into an empty store.

Version 1 (`{"format": "secondme-export", "version": 1, "memories": [...]}` with fewer fields) and the chat
export (`{"sessions": [...]}`) are not read here: `read_export` returns None for them and the `json` importer
plugin adds what they hold as new memories, as before.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, String, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from storage.db import Database
from storage.enums import EventOp, ExtractionStatus, LinkKind, MemoryKind, MemoryStatus, Source
from storage.errors import InvalidInput, UserError, translate
from storage.json_files import read_json_file
from storage.memory_store import refill_indexes
from storage.models import Base, ExtractionJob, Memory, MemoryEvent, MemoryLink, Message, Session
from storage.timeutil import UTCDateTime, as_utc, utcnow

FORMAT = "secondme-export"
VERSION = 2
LEGACY_VERSION = 1
DEFAULT_NAME = "secondme-export.json"
# The file is parsed whole (Python's objects take about ten times its size in memory); a bigger store than this
# fits is beyond what this format is for.
MAX_FILE_BYTES = 512 * 1024 * 1024
# Columns left out of the file because they are computed from others on import.
DERIVED: dict[type[Base], tuple[str, ...]] = {Memory: ("text_hash",)}
# Sections in the order they are written; sessions carry their messages.
SECTIONS: tuple[tuple[str, type[Base]], ...] = (
    ("memories", Memory), ("links", MemoryLink), ("events", MemoryEvent), ("sessions", Session),
    ("extraction_queue", ExtractionJob),
)
OPTIONAL_SECTIONS = ("extraction_queue",)
HEADER = ("format", "version", "app_version", "exported_at")
MESSAGE_ROLES = ("user", "assistant", "system")
# Closed vocabularies: a value outside them would break the code that reads the row.
VOCABULARIES: dict[tuple[type[Base], str], tuple[str, ...]] = {
    (Memory, "kind"): MemoryKind.values(), (Memory, "status"): MemoryStatus.values(),
    (Memory, "source"): Source.values(), (MemoryLink, "kind"): LinkKind.values(),
    (MemoryEvent, "op"): EventOp.values(), (ExtractionJob, "status"): ExtractionStatus.values(),
    (Message, "role"): MESSAGE_ROLES,
}
SQLITE_INT = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Archive:
    """A checked version-2 export: rows as column -> value (datetimes aware, in UTC), ready to insert."""

    app_version: str | None
    exported_at: str | None
    memories: list[dict[str, Any]]
    links: list[dict[str, Any]]
    events: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    extraction_queue: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"memories": len(self.memories), "links": len(self.links), "events": len(self.events),
                "sessions": len(self.sessions), "messages": len(self.messages),
                "extraction_queue": len(self.extraction_queue)}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    counts: dict[str, int]


class _Bad(Exception):
    """What is wrong with one place in the file (becomes the tail of a one-line InvalidInput)."""


@functools.cache
def columns(model: type[Base]) -> tuple[Column[Any], ...]:
    """The columns of a table that go into the file, in table order."""
    skip = DERIVED.get(model, ())
    return tuple(c for c in inspect(model).columns if c.key not in skip)


# -- export -----------------------------------------------------------------------------------------------------

def write_export(db: Database, path: Path, *, app_version: str) -> ExportResult:
    """Write every row to `path` (or to secondme-export.json inside it, when it is a folder).

    One read transaction, so the file is one consistent moment of the store; written beside the target and
    renamed over it, so an interrupted export never leaves half a file, and readable by its owner only.
    """
    target = Path(path)
    if target.is_dir():
        target = target / DEFAULT_NAME
    if not target.parent.is_dir():
        raise UserError(f"Folder not found: {target.parent}; create it first.")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".secondme-export-", suffix=".tmp")
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            with db.read_session() as s:
                counts = _dump(s, fh, app_version)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(target, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ExportResult(target, counts)


def _write_error(target: Path, exc: OSError) -> UserError:
    return translate(exc) or UserError(f"Cannot write {target}: {exc.strerror or exc}.")


def _dump(s: DbSession, fh: IO[str], app_version: str) -> dict[str, int]:
    header = {"format": FORMAT, "version": VERSION, "app_version": app_version,
              "exported_at": utcnow().isoformat()}
    fh.write(json.dumps(header, ensure_ascii=False)[:-1])  # the object stays open for the sections
    counts: dict[str, int] = {}
    messages: dict[int, list[dict[str, Any]]] = {}
    for row in rows_of(s, Message):
        messages.setdefault(row.pop("session_id"), []).append(row)
    counts["messages"] = sum(len(m) for m in messages.values())
    for name, model in SECTIONS:
        rows = rows_of(s, model)
        if model is Session:
            rows = ({**row, "messages": messages.get(row["id"], [])} for row in rows)
        counts[name] = _write_section(fh, name, rows)
    fh.write("\n}\n")
    return counts


def _write_section(fh: IO[str], name: str, rows: Iterable[dict[str, Any]]) -> int:
    """One row per line: a big export stays readable with grep and diff."""
    fh.write(f',\n"{name}": [')
    count = 0
    for row in rows:
        fh.write(("\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        count += 1
    fh.write("\n]" if count else "]")
    return count


def rows_of(s: DbSession, model: type[Base]) -> Iterator[dict[str, Any]]:
    """Every row of a table as it goes into the file, by id."""
    cols = columns(model)
    key = inspect(model).primary_key[0]
    for values in s.execute(select(*cols).order_by(key)):
        yield {c.key: _encode(v) for c, v in zip(cols, values, strict=True)}


def _encode(value: Any) -> Any:
    return as_utc(value).isoformat() if isinstance(value, datetime) else value


# -- reading a file ---------------------------------------------------------------------------------------------

def read_export(path: Path) -> Archive | None:
    """The checked contents of a version-2 export; None for a version-1 or chat export (the json importer's).

    Anything else is a one-line InvalidInput: not a file, too big, not JSON, another format, a newer version, a
    row with a missing, unknown or wrongly typed field, an id used twice, a reference to a row that is not there.
    """
    path = Path(path)
    data = read_json_file(path, "secondme export", MAX_FILE_BYTES, "limit")
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} is not a secondme export (expected a JSON object, found "
                           f"{_json_type(data)}).")
    if "format" not in data:
        return None  # the older shapes: {"memories": [...]} or a chat export {"sessions": [...]}
    if data["format"] != FORMAT:
        raise InvalidInput(f"{path} is not a secondme export (its format is {_show(data['format'])}).")
    version = data.get("version")
    if type(version) is int and version == LEGACY_VERSION:
        return None
    if type(version) is int and version > VERSION:
        raise InvalidInput(f"{path} was written by a newer secondme (export version {version}; this version "
                           f"reads 1 and 2); upgrade secondme to import it.")
    if not (type(version) is int and version == VERSION):
        raise InvalidInput(f"{path} has an unknown export version {_show(version)}; this version reads 1 and 2.")
    try:
        return _parse(data)
    except _Bad as exc:
        raise InvalidInput(f"{path} is not a valid secondme export: {exc}; nothing was imported.") from None


def _parse(data: dict[str, Any]) -> Archive:
    known = set(HEADER) | {name for name, _ in SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _Bad(f"unknown section {_show(unknown[0])}")
    for name in ("app_version", "exported_at"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise _Bad(f"'{name}' must be text")
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, model in SECTIONS:
        if name not in data and name in OPTIONAL_SECTIONS:
            sections[name] = []
            continue
        raw = data.get(name)
        if not isinstance(raw, list):
            raise _Bad(f"'{name}' must be a list" if name in data else f"there is no '{name}' list")
        if model is Session:
            sections[name], sections["messages"] = _sessions(raw)
        else:
            sections[name] = [_row(model, item, f"{name}[{i}]") for i, item in enumerate(raw)]
    _check_memories(sections["memories"])
    _check_references(sections)
    return Archive(app_version=data.get("app_version"), exported_at=data.get("exported_at"),
                   memories=sections["memories"], links=sections["links"], events=sections["events"],
                   sessions=sections["sessions"], messages=sections["messages"],
                   extraction_queue=sections["extraction_queue"])


def _sessions(raw: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sessions, messages = [], []
    for i, item in enumerate(raw):
        where = f"sessions[{i}]"
        if not isinstance(item, dict):
            raise _Bad(f"{where} is not an object")
        item = dict(item)
        nested = item.pop("messages", None)
        if not isinstance(nested, list):
            raise _Bad(f"{where} has no 'messages' list")
        session = _row(Session, item, where)
        sessions.append(session)
        for j, message in enumerate(nested):
            row = _row(Message, message, f"{where}.messages[{j}]", implied=("session_id",))
            messages.append({**row, "session_id": session["id"]})
    return sessions, messages


def _row(model: type[Base], raw: Any, where: str, implied: tuple[str, ...] = ()) -> dict[str, Any]:
    """One row, each of its table's columns present, typed and in range; no other field."""
    if not isinstance(raw, dict):
        raise _Bad(f"{where} is not an object")
    cols = [c for c in columns(model) if c.key not in implied]
    unknown = sorted(set(raw) - {c.key for c in cols})
    if unknown:
        raise _Bad(f"{where} has an unknown field {_show(unknown[0])}")
    row: dict[str, Any] = {}
    for col in cols:
        if col.key not in raw:
            raise _Bad(f"{where} has no '{col.key}'")
        row[col.key] = _value(col, raw[col.key], f"{where}.{col.key}")
        allowed = VOCABULARIES.get((model, col.key))
        if allowed is not None and row[col.key] not in allowed:
            raise _Bad(f"{where}.{col.key} is {_show(row[col.key])}, not one of: {', '.join(allowed)}")
    return row


def _value(col: Column[Any], value: Any, where: str) -> Any:
    if value is None:
        if col.nullable and not col.primary_key:
            return None
        raise _Bad(f"{where} must not be null")
    kind = col.type
    if isinstance(kind, UTCDateTime):
        return _time(value, where)
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise _Bad(f"{where} must be true or false, not {_show(value)}")
        return value
    if isinstance(kind, Integer):
        if type(value) is not int or not SQLITE_INT[0] <= value <= SQLITE_INT[1]:
            raise _Bad(f"{where} must be a whole number, not {_show(value)}")
        if col.primary_key and value < 1:
            raise _Bad(f"{where} must be a positive id, not {value}")
        return value
    if isinstance(kind, Float):
        if type(value) not in (int, float) or not math.isfinite(value):
            raise _Bad(f"{where} must be a number, not {_show(value)}")
        return float(value)
    if isinstance(kind, String):  # Text too
        if not isinstance(value, str):
            raise _Bad(f"{where} must be text, not {_show(value)}")
        return value
    if isinstance(kind, JSON):
        if not isinstance(value, dict):
            raise _Bad(f"{where} must be an object, not {_show(value)}")
        return value
    raise AssertionError(f"no rule for the column type {kind!r} of {where}")  # a new type in models.py


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise _Bad(f"{where} must be an ISO-8601 time, not {_show(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{where} is not an ISO-8601 time: {_show(value)}") from None
    if moment.tzinfo is None:
        raise _Bad(f"{where} has no UTC offset: {_show(value)} (write it as ...+00:00)")
    return as_utc(moment)


def _check_memories(memories: list[dict[str, Any]]) -> None:
    for i, m in enumerate(memories):
        if m["status"] == MemoryStatus.DELETED and m["text"]:
            raise _Bad(f"memories[{i}] is deleted but holds text (a deleted memory keeps no text)")
        if m["status"] != MemoryStatus.DELETED and not m["text"].strip():
            raise _Bad(f"memories[{i}] has no text")


def _check_references(sections: Mapping[str, list[dict[str, Any]]]) -> None:
    """Ids are unique per table, and every id a row names is in the file."""
    ids: dict[str, set[int]] = {}
    for name, rows in sections.items():
        seen: set[int] = set()
        for row in rows:
            if row["id"] in seen:
                raise _Bad(f"two {name} have the id {row['id']}")
            seen.add(row["id"])
        ids[name] = seen
    refs = (("memories", "session_id", "sessions"), ("links", "src_id", "memories"), ("links", "dst_id", "memories"),
            ("events", "memory_id", "memories"), ("extraction_queue", "episode_id", "memories"))
    for name, column, target in refs:
        for i, row in enumerate(sections[name]):
            if row[column] is not None and row[column] not in ids[target]:
                what = "session" if target == "sessions" else "memory"
                raise _Bad(f"{name}[{i}].{column} is {row[column]}, but the file has no {what} with that id")


def _json_type(value: Any) -> str:
    return {list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, datetime) else value.isoformat()
    return text if len(text) <= 40 else text[:39] + "…"


# -- restoring --------------------------------------------------------------------------------------------------

def restore(db: Database, archive: Archive, *, text_hash: Callable[[str], str], embedder_name: str) -> None:
    """Insert every row of `archive` under its own id, in one transaction, into a store that holds nothing yet;
    fill the keyword index and queue every vector in the same transaction. `text_hash` computes the derived
    duplicate-detection hash of a memory's text."""
    memories = [{**m, "text_hash": "" if m["status"] == MemoryStatus.DELETED else text_hash(m["text"])}
                for m in archive.memories]
    tables: tuple[tuple[type[Base], list[dict[str, Any]]], ...] = (
        (Session, archive.sessions), (Message, archive.messages), (Memory, memories), (MemoryLink, archive.links),
        (MemoryEvent, archive.events), (ExtractionJob, archive.extraction_queue))
    try:
        with db.session() as s:
            if holds_anything(s):
                raise InvalidInput(
                    f"The data folder {db.path.parent} already holds memories or chats; a full export is restored "
                    "only into an empty one: set SECONDME_HOME to a new folder and import again.")
            for model, rows in tables:
                if rows:
                    s.execute(insert(model), rows)
            refill_indexes(s, embedder_name)
    except IntegrityError as exc:
        raise InvalidInput(f"The export's rows do not fit together ({str(exc.orig)[:80]}); "
                           "nothing was imported.") from None


def holds_anything(s: DbSession) -> bool:
    """Whether the store has any memory, ledger event, chat or queued turn (job history does not count)."""
    tables: tuple[type[Base], ...] = (Memory, MemoryEvent, Session, Message, ExtractionJob)
    return any(s.scalar(select(inspect(model).primary_key[0]).limit(1)) is not None for model in tables)
