"""An in-memory ChatBackend (assistant.chat_backend) for unit-level UI tests only.

It stores sessions and messages in memory, as the real service's own types, and streams a fixed answer word by
word, honouring should_stop, so the widgets can be driven fast and deterministically. The end-to-end tests use
the real service.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

from assistant.chat import MessageHit, MessageInfo, SessionInfo, TurnResult
from storage.enums import Source
from storage.errors import NotFound, UserError


class FakeChat:
    def __init__(self, answer: str = "Ana is a **nurse** in Porto.", token_delay: float = 0.0, recall=None):
        self.answer = answer
        self.token_delay = token_delay
        self.recall = recall  # optional callable(text) -> list[RecallHit]
        self.sessions: dict[int, SessionInfo] = {}
        self.msgs: list[MessageInfo] = []
        self._ids = 0
        self.lock = threading.Lock()
        self.warmed = 0
        self.memory_paused = False
        self.fail: Exception | None = None  # raised mid-answer, after the first word, like a crashing model

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def warm_up(self) -> None:
        self.warmed += 1

    def new_session(self, title=None) -> SessionInfo:
        now = datetime.now(UTC)
        with self.lock:
            info = SessionInfo(self._next(), title or "New chat", now, now, 0)
            self.sessions[info.id] = info
        return info

    def list_sessions(self):
        return sorted(self.sessions.values(), key=lambda s: (s.updated_at, s.id), reverse=True)

    def _get(self, session_id):
        if session_id not in self.sessions:
            raise NotFound(f"No chat with id {session_id}.")
        return self.sessions[session_id]

    def _touch(self, session_id, when, added_messages):
        """The session's infos are frozen, like the real service's: a change replaces them."""
        info = self._get(session_id)
        self.sessions[session_id] = replace(info, updated_at=when, message_count=info.message_count + added_messages)

    def rename_session(self, session_id, title):
        if not title.strip():
            raise UserError("A chat title cannot be empty; type a few words.")
        self.sessions[session_id] = replace(self._get(session_id), title=title.strip())
        return self.sessions[session_id]

    def delete_session(self, session_id):
        self._get(session_id)
        del self.sessions[session_id]
        self.msgs = [m for m in self.msgs if m.session_id != session_id]

    def messages(self, session_id):
        self._get(session_id)
        return [m for m in self.msgs if m.session_id == session_id]

    def search_messages(self, query, limit=50):
        q = query.lower()
        return [MessageHit(m.id, m.session_id, self.sessions[m.session_id].title, m.role, m.text, m.created_at)
                for m in self.msgs if q in m.text.lower()][:limit]

    def send(self, session_id, text, *, on_token=None, should_stop=None, source=Source.USER):
        self._get(session_id)
        now = datetime.now(UTC)
        with self.lock:
            user = MessageInfo(self._next(), session_id, "user", text, now)
            self.msgs.append(user)
            self._touch(session_id, now, 1)
        return self._answer(session_id, user, None, on_token, should_stop)

    def regenerate(self, session_id, *, on_token=None, should_stop=None, source=Source.USER):
        msgs = self.messages(session_id)
        users = [i for i, m in enumerate(msgs) if m.role == "user"]
        if not users:
            raise UserError("This chat has no question to answer again; send one first.")
        old = next((m for m in msgs[users[-1] + 1:] if m.role == "assistant"), None)
        return self._answer(session_id, msgs[users[-1]], old, on_token, should_stop)

    def _answer(self, session_id, user, replacing, on_token, should_stop):
        self._get(session_id)
        out, stopped = [], False
        for word in self.answer.split(" "):
            if should_stop and should_stop():
                stopped = True
                break
            piece = word if not out else " " + word
            out.append(piece)
            if on_token:
                on_token(piece)
            if self.fail is not None:
                raise self.fail  # nothing stored: an earlier answer stays as it was
            if self.token_delay:
                time.sleep(self.token_delay)
        answer = "".join(out)
        recalled = self.recall(user.text) if self.recall else []
        now = datetime.now(UTC)
        with self.lock:
            reply = MessageInfo(self._next() if replacing is None else replacing.id, session_id, "assistant", answer,
                                now, partial=stopped, recalled_ids=tuple(h.memory.id for h in recalled))
            if replacing is None:
                self.msgs.append(reply)
            else:
                self.msgs[self.msgs.index(replacing)] = reply
            self._touch(session_id, now, 1 if replacing is None else 0)
        return TurnResult(session_id, user.id, reply.id, answer, recalled, {"total_s": 0.0}, stopped)

    def export_session(self, session_id, fmt="markdown"):
        info = self._get(session_id)
        msgs = self.messages(session_id)
        if fmt == "json":
            return json.dumps({"title": info.title, "messages": [{"role": m.role, "text": m.text} for m in msgs]})
        if fmt == "markdown":
            return f"# {info.title}\n\n" + "\n\n".join(f"**{m.role}**: {m.text}" for m in msgs)
        raise UserError(f"Unknown export format '{fmt}'; use markdown or json.")

    def export_all(self, fmt="markdown"):
        return json.dumps([json.loads(self.export_session(s, "json")) for s in self.sessions]) if fmt == "json" else \
            "\n\n".join(self.export_session(s, "markdown") for s in self.sessions)
