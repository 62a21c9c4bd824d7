"""The closed vocabularies of the data model. Each is a StrEnum, so a member is stored and compared as its text
("active" == MemoryStatus.ACTIVE) and a bad value fails in one place: `MemoryStatus.parse("actve")`."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from storage.errors import InvalidInput

E = TypeVar("E", bound="Vocabulary")


class Vocabulary(StrEnum):
    """A StrEnum with a parse that turns a bad value into the one-line error a user can act on."""

    @classmethod
    def parse(cls: type[E], value: str, what: str | None = None) -> E:
        try:
            return cls(value)
        except ValueError:
            name = what or (cls.__doc__ or cls.__name__).split(":")[0].strip()
            raise InvalidInput(f"Unknown {name} '{value}'; use one of: {', '.join(cls)}.") from None

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class MemoryKind(Vocabulary):
    """memory kind: what a memory is."""

    EPISODE = "episode"  # a chat round, verbatim
    FACT = "fact"  # one extracted or told statement
    SUMMARY = "summary"  # a finished chat, consolidated
    THOUGHT = "thought"  # a reflection insight
    PROFILE = "profile"  # a line of the user's profile


class MemoryStatus(Vocabulary):
    """status: where a memory stands."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"  # a newer value replaced it; kept as history
    QUARANTINED = "quarantined"  # a plugin check held it back; never reaches a prompt until released
    ARCHIVED = "archived"  # forgotten: out of default recall, restorable
    DELETED = "deleted"  # purged: a tombstone row that keeps the ledger whole


class Source(Vocabulary):
    """source: the channel a memory came through."""

    USER = "user"
    ASSISTANT = "assistant"
    DOCUMENT = "document"
    PLUGIN = "plugin"
    API = "api"


class LinkKind(Vocabulary):
    """link kind: how two memories relate."""

    RELATED = "related"
    DERIVED_FROM = "derived_from"
    SUPERSEDES = "supersedes"
    CONTRADICTS = "contradicts"
    MERGED_INTO = "merged_into"
    CONTINUES = "continues"  # a chunk of a long turn points at the chunk before it


class EventOp(Vocabulary):
    """ledger operation: what an event in the ledger did."""

    ADD = "add"
    UPDATE = "update"
    SUPERSEDE = "supersede"
    MERGE = "merge"
    QUARANTINE = "quarantine"
    RELEASE = "release"
    FORGET = "forget"
    RESTORE = "restore"
    PIN = "pin"
    UNPIN = "unpin"
    DELETE = "delete"
    LINK = "link"
    REJECT = "reject"
    DUPLICATE = "duplicate"
    EXTRACT = "extract"
    EXTRACT_FAILED = "extract_failed"
    UNDO = "undo"
    RESOLVE = "resolve"  # a contradiction settled by the user: the link's kind and ends before and after


class ExtractionStatus(Vocabulary):
    """extraction status: where a turn stands in the fact-extraction queue."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunStatus(Vocabulary):
    """job run status."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    STOPPED = "stopped"


# Statuses a memory can be recalled in (deleted rows hold no text).
RECALLABLE_STATUSES = tuple(s for s in MemoryStatus if s is not MemoryStatus.DELETED)
