"""ChatService: sessions, messages and one chat turn grounded in memory. The GUI, CLI and API all use it.

One turn (send): the user's message is stored first, so nothing they said is lost whatever happens next;
memories are recalled; the prompt is built within the context budget (assistant.prompt); the answer streams
from the model; the answer is stored (a stopped one as partial); the round becomes an episode memory and the
memories that were shown to the model are reinforced.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Literal

from sqlalchemy import func, select, text

from assistant.llm.protocol import LLMError
from assistant.memory.records import RecallHit
from assistant.prompt import BuiltPrompt, Turn, build_prompt
from storage.errors import NotFound, UserError
from storage.keyword_index import match_expression, query_terms
from storage.models import Message, Session
from storage.timeutil import utcnow

if TYPE_CHECKING:
    from assistant.app import App

log = logging.getLogger(__name__)

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60
# Room kept free at the end of the context beyond the answer, against template tokens the estimate missed.
SAFETY_MARGIN_TOKENS = 16
ExportFormat = Literal["markdown", "json"]


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


@dataclass(frozen=True)
class TurnResult:
    session_id: int
    user_message_id: int
    assistant_message_id: int
    answer: str
    recalled: list[RecallHit]
    timings: dict[str, float] = field(default_factory=dict)  # first_token_s, total_s, prompt_tokens, generated_tokens
    stopped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "user_message_id": self.user_message_id,
            "assistant_message_id": self.assistant_message_id, "answer": self.answer, "stopped": self.stopped,
            "recalled_memory_ids": [h.memory.id for h in self.recalled], "timings": self.timings,
        }


def _message_info(m: Message) -> MessageInfo:
    meta = m.meta or {}
    return MessageInfo(id=m.id, session_id=m.session_id, role=m.role, text=m.text, created_at=m.created_at,
                       partial=bool(meta.get("partial")), error=meta.get("error"),
                       recalled_ids=tuple(meta.get("recalled_ids", ())))


class ChatService:
    def __init__(self, app: "App"):
        self.app = app
        # "Pause memory" (the tray): chat goes on, but rounds are not kept as episode memories meanwhile.
        self.memory_paused = False
        self.db = app.db
        self.settings = app.settings

    # -- sessions -------------------------------------------------------------------------------
    def new_session(self, title: str | None = None) -> SessionInfo:
        with self.db.session() as s:
            row = Session(title=self._clean_title(title) if title else DEFAULT_TITLE)
            s.add(row)
            s.flush()
            return SessionInfo(row.id, row.title, row.created_at, row.updated_at, 0)

    def list_sessions(self) -> list[SessionInfo]:
        """Most recently used first."""
        with self.db.session() as s:
            counts = (select(Message.session_id, func.count(Message.id).label("n"))
                      .group_by(Message.session_id).subquery())
            rows = s.execute(select(Session, func.coalesce(counts.c.n, 0))
                             .outerjoin(counts, counts.c.session_id == Session.id)
                             .order_by(Session.updated_at.desc(), Session.id.desc()))
            return [SessionInfo(r.id, r.title, r.created_at, r.updated_at, n) for r, n in rows]

    def get_session(self, session_id: int) -> SessionInfo:
        with self.db.session() as s:
            row = self._session(s, session_id)
            n = s.scalar(select(func.count(Message.id)).where(Message.session_id == session_id)) or 0
            return SessionInfo(row.id, row.title, row.created_at, row.updated_at, n)

    def rename_session(self, session_id: int, title: str) -> SessionInfo:
        with self.db.session() as s:
            row = self._session(s, session_id)
            row.title = self._clean_title(title)
            row.updated_at = utcnow()
        return self.get_session(session_id)

    def delete_session(self, session_id: int) -> None:
        """Delete the conversation's messages for good (their words leave the search index too).

        Memories made from it stay: they are the memory's to keep or forget (`secondme memories delete`).
        """
        with self.db.session() as s:
            s.delete(self._session(s, session_id))
            s.flush()
            # FTS5 keeps a deleted row's terms until its segments merge; merging now drops them.
            s.execute(text("INSERT INTO message_fts(message_fts) VALUES ('optimize')"))
        self.db.checkpoint()

    def messages(self, session_id: int) -> list[MessageInfo]:
        with self.db.session() as s:
            self._session(s, session_id)
            rows = s.scalars(select(Message).where(Message.session_id == session_id).order_by(Message.id))
            return [_message_info(m) for m in rows]

    def search_messages(self, query: str, limit: int = 50) -> list[MessageHit]:
        """Full-text search (FTS5, BM25) over every message of every session, best match first."""
        terms = query_terms(query or "")
        if not terms:
            raise UserError("Nothing to search for; give one or more words.")
        if limit < 1:
            raise UserError("The limit must be at least 1.")
        with self.db.session() as s:
            found = s.execute(text(
                "SELECT rowid, snippet(message_fts, 0, '[', ']', '…', 12) FROM message_fts "
                "WHERE message_fts MATCH :q ORDER BY bm25(message_fts) LIMIT :limit"),
                {"q": match_expression(terms), "limit": limit}).all()
            rows = {m.id: m for m in s.scalars(select(Message).where(Message.id.in_([r[0] for r in found])))}
            titles = dict(s.execute(select(Session.id, Session.title).where(
                Session.id.in_({m.session_id for m in rows.values()}))).all())
            return [MessageHit(i, rows[i].session_id, titles[rows[i].session_id], rows[i].role, snippet,
                               rows[i].created_at) for i, snippet in found if i in rows]

    # -- one turn -------------------------------------------------------------------------------
    def send(self, session_id: int, text: str, *, on_token: Callable[[str], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> TurnResult:
        """Answer `text` in the session, streaming pieces through on_token; blocks until done or stopped."""
        question = (text or "").strip()
        if not question:
            raise UserError("The message is empty; type a question or something to remember.")
        started = time.perf_counter()
        history = self._history(session_id)  # also checks the session exists
        user_id = self._store(session_id, "user", question, {}, retitle=True)
        return self._answer(session_id, question, user_id, history, on_token, should_stop, started)

    def regenerate(self, session_id: int, *, on_token: Callable[[str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> TurnResult:
        """Answer the session's last question again; the new answer replaces the old one (same message id).

        The old answer stays until the new one is complete or stopped, so a model failure loses nothing. The
        round's episode memory is archived (restorable) and a new one is recorded for the answer kept.
        A last question that never got an answer (the model failed) is simply answered now.
        """
        started = time.perf_counter()
        messages = self.messages(session_id)
        asked = [i for i, m in enumerate(messages) if m.role == "user"]
        if not asked:
            raise UserError("This chat has no question to answer again; send one first.")
        at = asked[-1]
        question = messages[at]
        old = next((m for m in messages[at + 1:] if m.role == "assistant"), None)
        result = self._answer(session_id, question.text, question.id, _turns(messages[:at]), on_token,
                              should_stop, started, replacing=old)
        if question.error:
            self._clear_error(question.id)
        return result

    def _answer(self, session_id: int, question: str, user_id: int, history: list[Turn], on_token, should_stop,
                started: float, replacing: MessageInfo | None = None) -> TurnResult:
        """Recall, prompt, stream and store the answer to the stored user message `user_id`."""
        try:
            hits = self.app.memory.recall(question, k=self.settings.recall_k)
            # The round being answered again must not come back as a memory: its old answer would be copied.
            old_round = [] if replacing is None else [Turn(question, replacing.text, (user_id, replacing.id))]
            hits = _not_in_history(hits, history + old_round)
            prompt = self._prompt(question, history, hits)
            answer, first_token_s, stopped = self._stream(prompt, on_token, should_stop)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, LLMError) else f"{type(exc).__name__}: {exc}"
            if replacing is None:  # with an earlier answer kept, the question did get one
                self._mark_failed(user_id, reason)
            else:
                log.warning("regenerating the answer to message %d failed, the earlier answer kept: %s",
                            user_id, reason)
            raise
        total_s = time.perf_counter() - started
        prompt_tokens = self._prompt_tokens(prompt)
        timings = {"first_token_s": round(first_token_s, 4) if first_token_s is not None else None,
                   "total_s": round(total_s, 4), "prompt_tokens": prompt_tokens,
                   "generated_tokens": self.app.llm.count_tokens(answer) if answer else 0}
        used = [h for h in hits if h.memory.id in set(prompt.memory_ids)]
        meta = {"partial": stopped, "recalled_ids": prompt.memory_ids, "timings": timings,
                "model": self.app.llm.name}
        if replacing is None:
            assistant_id = self._store(session_id, "assistant", answer, meta)
        else:
            assistant_id = replacing.id
            self._replace_answer(session_id, assistant_id, answer, meta)
            # The old round's episode holds an answer the chat no longer shows: out of recall, not lost.
            self.app.memory.forget_turn(session_id, [user_id, assistant_id], reason="the answer was regenerated")
        if not self.memory_paused:
            episode = self.app.memory.record_turn(session_id, question, answer, [user_id, assistant_id])
            # Plugins hear about every finished turn (a plugin that raises is disabled, never fatal).
            self.app.plugins.on_turn({"session_id": session_id, "user": question, "assistant": answer,
                                      "memory_ids": list(prompt.memory_ids), "episode_id": episode.id})
        if prompt.memory_ids:
            self.app.memory.reinforce(prompt.memory_ids)
        return TurnResult(session_id=session_id, user_message_id=user_id, assistant_message_id=assistant_id,
                          answer=answer, recalled=used, timings=timings, stopped=stopped)

    def _prompt(self, question: str, history: list[Turn], hits: list[RecallHit]) -> BuiltPrompt:
        llm = self.app.llm
        reply = min(self.settings.max_tokens, llm.context_size // 2)
        budget = llm.context_size - reply - SAFETY_MARGIN_TOKENS
        profile = [m.text for m in self.app.memory.list(kind="profile", status="active", limit=20)]
        profile.reverse()  # oldest first: a stable prefix for the KV cache
        for _ in range(3):
            prompt = build_prompt(system=self.settings.system_prompt, profile=profile, history=history,
                                  memories=hits, question=question, count_tokens=llm.count_tokens,
                                  budget_tokens=budget)
            exact = self._prompt_tokens(prompt)
            if exact is None or exact <= llm.context_size - reply:
                return prompt
            budget -= exact - (llm.context_size - reply) + SAFETY_MARGIN_TOKENS  # the estimate was short
        return prompt

    def _prompt_tokens(self, prompt: BuiltPrompt) -> int | None:
        counter = getattr(self.app.llm, "count_prompt_tokens", None)
        return counter(prompt.messages) if counter else prompt.estimated_tokens

    def _stream(self, prompt: BuiltPrompt, on_token, should_stop) -> tuple[str, float | None, bool]:
        pieces: list[str] = []
        first_token_s = None
        started = time.perf_counter()
        stopped = False
        for piece in self.app.llm.stream_chat(prompt.messages, max_tokens=self.settings.max_tokens,
                                              temperature=self.settings.temperature, should_stop=should_stop):
            if first_token_s is None:
                first_token_s = time.perf_counter() - started
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)
        if should_stop is not None and should_stop():
            stopped = True
        return "".join(pieces).strip(), first_token_s, stopped

    def _history(self, session_id: int) -> list[Turn]:
        return _turns(self.messages(session_id))

    def _store(self, session_id: int, role: str, body: str, meta: dict, retitle: bool = False) -> int:
        with self.db.session() as s:
            row = self._session(s, session_id)
            msg = Message(session_id=session_id, role=role, text=body, meta=meta)
            s.add(msg)
            row.updated_at = utcnow()
            if retitle and row.title == DEFAULT_TITLE:
                row.title = self._clean_title(body)
            s.flush()
            return msg.id

    def _mark_failed(self, message_id: int, reason: str) -> None:
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            msg.meta = {**(msg.meta or {}), "error": reason}
        log.warning("chat turn failed, message %d kept: %s", message_id, reason)

    def _clear_error(self, message_id: int) -> None:
        """A question the model failed on once, answered now."""
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            msg.meta = {k: v for k, v in (msg.meta or {}).items() if k != "error"}

    def _replace_answer(self, session_id: int, message_id: int, body: str, meta: dict) -> None:
        with self.db.session() as s:
            msg = s.get(Message, message_id)
            msg.text = body  # the FTS5 update trigger keeps chat search in step
            msg.meta = {**meta, "regenerated": int((msg.meta or {}).get("regenerated", 0)) + 1}
            msg.created_at = utcnow()
            self._session(s, session_id).updated_at = utcnow()

    # -- export ---------------------------------------------------------------------------------
    def export_session(self, session_id: int, fmt: ExportFormat = "markdown") -> str:
        data = self._export_data(session_id)
        if fmt == "json":
            return json.dumps(data, ensure_ascii=False, indent=2)
        if fmt == "markdown":
            return _markdown(data)
        raise UserError(f"Unknown export format '{fmt}'; use markdown or json.")

    def export_all(self, fmt: ExportFormat = "markdown") -> str:
        if fmt not in ("markdown", "json"):
            raise UserError(f"Unknown export format '{fmt}'; use markdown or json.")
        sessions = [self._export_data(info.id) for info in reversed(self.list_sessions())]
        if fmt == "json":
            return json.dumps({"sessions": sessions}, ensure_ascii=False, indent=2)
        return "\n\n---\n\n".join(_markdown(d) for d in sessions)

    def _export_data(self, session_id: int) -> dict[str, Any]:
        info = self.get_session(session_id)
        return {
            "id": info.id, "title": info.title, "created_at": info.created_at.isoformat(),
            "updated_at": info.updated_at.isoformat(),
            "messages": [{**asdict(m), "created_at": m.created_at.isoformat(), "recalled_ids": list(m.recalled_ids)}
                         for m in self.messages(session_id)],
        }

    # -- the model ------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the chat model now rather than on the first turn, so the first answer starts quickly."""
        self.app.llm  # noqa: B018  (the App builds the model, and waits for it to load, on first access)

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _session(s, session_id: int) -> Session:
        row = s.get(Session, session_id)
        if row is None:
            raise NotFound(f"No chat session with id {session_id}; list them with: secondme sessions list")
        return row

    @staticmethod
    def _clean_title(title: str) -> str:
        line = " ".join((title or "").split())
        if not line:
            raise UserError("The title is empty; give the session a name.")
        return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def _turns(messages: list[MessageInfo]) -> list[Turn]:
    """Earlier rounds as (user, assistant) pairs; a question the model never answered is left out."""
    turns, pending = [], None
    for m in messages:
        if m.role == "user":
            pending = m
        elif m.role == "assistant" and pending is not None:
            turns.append(Turn(pending.text, m.text, (pending.id, m.id)))
            pending = None
    return turns


def _not_in_history(hits: list[RecallHit], history: list[Turn]) -> list[RecallHit]:
    """Drop episode memories of rounds the prompt already holds verbatim as conversation."""
    in_history = {i for t in history for i in t.message_ids}
    kept = []
    for h in hits:
        ids = set(h.memory.provenance.get("message_ids") or ())
        if h.memory.kind == "episode" and ids and ids <= in_history:
            continue
        kept.append(h)
    return kept


def _markdown(data: dict[str, Any]) -> str:
    lines = [f"# {data['title']}", "", f"_Session {data['id']}, started {data['created_at'][:16].replace('T', ' ')} UTC_", ""]
    for m in data["messages"]:
        who = "You" if m["role"] == "user" else "secondme"
        flags = " (stopped)" if m["partial"] else ""
        flags += " (no answer: model failed)" if m.get("error") else ""
        lines += [f"**{who}** · {m['created_at'][:16].replace('T', ' ')}{flags}", "", m["text"], ""]
    return "\n".join(lines).rstrip() + "\n"
