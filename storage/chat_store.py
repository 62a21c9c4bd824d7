"""Chat sessions and their messages: every SQL statement about conversations, and the plain values it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session as DbSession

from storage.db import Database
from storage.errors import InvalidInput, NotFound
from storage.keyword_index import match_expression, query_terms
from storage.models import Message, Session
from storage.timeutil import utcnow

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int


@dataclass(frozen=True)
class MessageInfo:
    id: int
    session_id: int
    role: str  # user | assistant
    text: str
    created_at: datetime
    partial: bool = False  # an answer stopped before it was finished
    error: str | None = None  # why the model gave no answer to this user message
    recalled_ids: tuple[int, ...] = ()  # memories shown to the model for this answer


@dataclass(frozen=True)
class MessageHit:
    message_id: int
    session_id: int
    session_title: str
    role: str
    snippet: str  # the matching words in [brackets]
    created_at: datetime


def clean_title(title: str) -> str:
    line = " ".join((title or "").split())
    if not line:
        raise InvalidInput("The title is empty; give the session a name.")
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def _message_info(m: Message) -> MessageInfo:
    meta = m.meta or {}
    return MessageInfo(id=m.id, session_id=m.session_id, role=m.role, text=m.text, created_at=m.created_at,
                       partial=bool(meta.get("partial")), error=meta.get("error"),
                       recalled_ids=tuple(meta.get("recalled_ids", ())))


def _session_row(s: DbSession, session_id: int) -> Session:
    row = s.get(Session, session_id)
    if row is None:
        raise NotFound(f"No chat session with id {session_id}; list them with: secondme sessions list")
    return row


class ChatStore:
    def __init__(self, db: Database):
        self.db = db

    # -- sessions -------------------------------------------------------------------------------
    def new_session(self, title: str | None = None) -> SessionInfo:
        with self.db.session() as s:
            row = Session(title=clean_title(title) if title else DEFAULT_TITLE)
            s.add(row)
            s.flush()
            return SessionInfo(row.id, row.title, row.created_at, row.updated_at, 0)

    def list_sessions(self) -> list[SessionInfo]:
        """Most recently used first."""
        with self.db.read_session() as s:
            counts = (select(Message.session_id, func.count(Message.id).label("n"))
                      .group_by(Message.session_id).subquery())
            rows = s.execute(select(Session, func.coalesce(counts.c.n, 0))
                             .outerjoin(counts, counts.c.session_id == Session.id)
                             .order_by(Session.updated_at.desc(), Session.id.desc()))
            return [SessionInfo(r.id, r.title, r.created_at, r.updated_at, n) for r, n in rows]

    def get_session(self, session_id: int) -> SessionInfo:
        with self.db.read_session() as s:
            row = _session_row(s, session_id)
            n = s.scalar(select(func.count(Message.id)).where(Message.session_id == session_id)) or 0
            return SessionInfo(row.id, row.title, row.created_at, row.updated_at, n)

    def rename_session(self, session_id: int, title: str) -> None:
        with self.db.session() as s:
            row = _session_row(s, session_id)
            row.title = clean_title(title)
            row.updated_at = utcnow()

    def delete_session(self, session_id: int) -> None:
        """Delete the conversation and its messages for good (their words leave the search index too)."""
        with self.db.session() as s:
            s.delete(_session_row(s, session_id))
            s.flush()
            # FTS5 keeps a deleted row's terms until its segments merge; merging now drops them.
            s.execute(text("INSERT INTO message_fts(message_fts) VALUES ('optimize')"))
        self.db.checkpoint()

    # -- messages -------------------------------------------------------------------------------
    def messages(self, session_id: int) -> list[MessageInfo]:
        with self.db.read_session() as s:
            _session_row(s, session_id)
            rows = s.scalars(select(Message).where(Message.session_id == session_id).order_by(Message.id))
            return [_message_info(m) for m in rows]

    def search_messages(self, query: str, limit: int = 50) -> list[MessageHit]:
        """Full-text search (FTS5, BM25) over every message of every session, best match first."""
        terms = query_terms(query or "")
        if not terms:
            raise InvalidInput("Nothing to search for; give one or more words.")
        if limit < 1:
            raise InvalidInput("The limit must be at least 1.")
        with self.db.read_session() as s:
            found = s.execute(text(
                "SELECT rowid, snippet(message_fts, 0, '[', ']', '…', 12) FROM message_fts "
                "WHERE message_fts MATCH :q ORDER BY bm25(message_fts) LIMIT :limit"),
                {"q": match_expression(terms), "limit": limit}).all()
            rows = {m.id: m for m in s.scalars(select(Message).where(Message.id.in_([r[0] for r in found])))}
            titles: dict[int, str] = {sid: title for sid, title in s.execute(select(Session.id, Session.title).where(
                Session.id.in_({m.session_id for m in rows.values()})))}
            return [MessageHit(i, rows[i].session_id, titles[rows[i].session_id], rows[i].role, snippet,
                               rows[i].created_at) for i, snippet in found if i in rows]

    def add_message(self, session_id: int, role: str, body: str, meta: dict[str, Any],
                    retitle: bool = False) -> int:
        """Append a message; `retitle`: a session still called "New chat" is named after it."""
        with self.db.session() as s:
            row = _session_row(s, session_id)
            msg = Message(session_id=session_id, role=role, text=body, meta=meta)
            s.add(msg)
            row.updated_at = utcnow()
            if retitle and row.title == DEFAULT_TITLE:
                row.title = clean_title(body)
            s.flush()
            return msg.id

    def update_meta(self, message_id: int, set_: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> None:
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            if msg is None:
                raise NotFound(f"No message with id {message_id}.")
            meta = {k: v for k, v in (msg.meta or {}).items() if k not in drop}
            msg.meta = {**meta, **(set_ or {})}

    def replace_answer(self, session_id: int, message_id: int, body: str, meta: dict[str, Any]) -> None:
        """A regenerated answer takes the old one's place (the FTS5 update trigger keeps chat search in step)."""
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            if msg is None:
                raise NotFound(f"No message with id {message_id}.")
            msg.text = body
            msg.meta = {**meta, "regenerated": int((msg.meta or {}).get("regenerated", 0)) + 1}
            msg.created_at = utcnow()
            _session_row(s, session_id).updated_at = utcnow()
