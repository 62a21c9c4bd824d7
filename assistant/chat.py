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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from assistant.llm.protocol import LanguageModel, LLMError
from assistant.prompt import BuiltPrompt, Turn, build_prompt
from storage.chat_store import DEFAULT_TITLE, ChatStore, MessageHit, MessageInfo, SessionInfo
from storage.enums import MemoryKind, MemoryStatus, Source
from storage.errors import UserError
from storage.records import RecallHit

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.memory.manager import MemoryManager

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TITLE", "ChatService", "MessageHit", "MessageInfo", "SessionInfo", "TurnResult"]

# Room kept free at the end of the context beyond the answer, against template tokens the estimate missed.
SAFETY_MARGIN_TOKENS = 16
ExportFormat = Literal["markdown", "json"]
# Told after each finished turn (PluginHost.on_turn): {"session_id", "user", "assistant", "memory_ids", "episode_id"}.
OnTurn = Callable[[dict[str, Any]], None]


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


class ChatService:
    def __init__(self, store: ChatStore, memory: MemoryManager, load_model: Callable[[], LanguageModel],
                 on_turn: OnTurn, settings: Settings):
        self.store = store
        self.memory = memory
        # The chat model, loaded on first use (a bad model file is a UserError then, not at start-up).
        self.load_model = load_model
        self.on_turn = on_turn
        self.settings = settings
        # "Pause memory" (the tray): chat goes on, but rounds are not kept as episode memories meanwhile.
        self.memory_paused = False

    def warm_up(self) -> None:
        """Load the model now (the window does it in the background right after it shows)."""
        self.load_model()

    # -- sessions -------------------------------------------------------------------------------
    def new_session(self, title: str | None = None) -> SessionInfo:
        return self.store.new_session(title)

    def list_sessions(self) -> list[SessionInfo]:
        """Most recently used first."""
        return self.store.list_sessions()

    def get_session(self, session_id: int) -> SessionInfo:
        return self.store.get_session(session_id)

    def rename_session(self, session_id: int, title: str) -> SessionInfo:
        self.store.rename_session(session_id, title)
        return self.get_session(session_id)

    def delete_session(self, session_id: int) -> None:
        """Delete the conversation's messages for good (their words leave the search index too).

        Memories made from it stay: they are the memory's to keep or forget (`secondme memories delete`).
        """
        self.store.delete_session(session_id)

    def messages(self, session_id: int) -> list[MessageInfo]:
        return self.store.messages(session_id)

    def search_messages(self, query: str, limit: int = 50) -> list[MessageHit]:
        """Full-text search (FTS5, BM25) over every message of every session, best match first."""
        return self.store.search_messages(query, limit)

    # -- one turn -------------------------------------------------------------------------------
    def send(self, session_id: int, text: str, *, on_token: Callable[[str], None] | None = None,
             should_stop: Callable[[], bool] | None = None, source: Source = Source.USER) -> TurnResult:
        """Answer `text` in the session, streaming pieces through on_token; blocks until done or stopped.

        `source`: who is talking: the user in the app or terminal, or another app through the local API (its
        turns, and the facts drawn from them, carry that source and its lower trust)."""
        question = (text or "").strip()
        if not question:
            raise UserError("The message is empty; type a question or something to remember.")
        started = time.perf_counter()
        history = self._history(session_id)  # also checks the session exists
        user_id = self.store.add_message(session_id, "user", question, {}, retitle=True)
        return self._answer(session_id, question, user_id, history, on_token, should_stop, started, source=source)

    def regenerate(self, session_id: int, *, on_token: Callable[[str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, source: Source = Source.USER) -> TurnResult:
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
                              should_stop, started, replacing=old, source=source)
        if question.error:
            self._clear_error(question.id)
        return result

    def _answer(self, session_id: int, question: str, user_id: int, history: list[Turn], on_token, should_stop,
                started: float, replacing: MessageInfo | None = None, source: Source = Source.USER) -> TurnResult:
        """Recall, prompt, stream and store the answer to the stored user message `user_id`."""
        try:
            hits = self.memory.recall(question, k=self.settings.recall_k)
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
                   "generated_tokens": self.load_model().count_tokens(answer) if answer else 0}
        used = [h for h in hits if h.memory.id in set(prompt.memory_ids)]
        meta = {"partial": stopped, "recalled_ids": prompt.memory_ids, "timings": timings,
                "model": self.load_model().name}
        if replacing is None:
            assistant_id = self.store.add_message(session_id, "assistant", answer, meta)
        else:
            assistant_id = replacing.id
            self.store.replace_answer(session_id, assistant_id, answer, meta)
            # The old round's episode holds an answer the chat no longer shows: out of recall, not lost.
            self.memory.forget_turn(session_id, [user_id, assistant_id], reason="the answer was regenerated")
        # A stopped or empty answer is no round to remember (the user's message itself is kept in the chat).
        if not self.memory_paused and answer and not stopped:
            episode = self.memory.record_turn(session_id, question, answer, [user_id, assistant_id],
                                              source=source)
            # Plugins hear about every finished turn (a plugin that raises is disabled, never fatal).
            self.on_turn({"session_id": session_id, "user": question, "assistant": answer,
                          "memory_ids": list(prompt.memory_ids), "episode_id": episode.id})
        if prompt.memory_ids:
            self.memory.reinforce(prompt.memory_ids)
        return TurnResult(session_id=session_id, user_message_id=user_id, assistant_message_id=assistant_id,
                          answer=answer, recalled=used, timings=timings, stopped=stopped)

    def _prompt(self, question: str, history: list[Turn], hits: list[RecallHit]) -> BuiltPrompt:
        llm = self.load_model()
        reply = min(self.settings.max_tokens, llm.context_size // 2)
        budget = llm.context_size - reply - SAFETY_MARGIN_TOKENS
        profile = [m.text for m in self.memory.list(kind=MemoryKind.PROFILE, status=MemoryStatus.ACTIVE, limit=20)]
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
        counter = getattr(self.load_model(), "count_prompt_tokens", None)
        return counter(prompt.messages) if counter else prompt.estimated_tokens

    def _stream(self, prompt: BuiltPrompt, on_token, should_stop) -> tuple[str, float | None, bool]:
        pieces: list[str] = []
        first_token_s = None
        started = time.perf_counter()
        stopped = False
        for piece in self.load_model().stream_chat(prompt.messages, max_tokens=self.settings.max_tokens,
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

    def _mark_failed(self, message_id: int, reason: str) -> None:
        self.store.update_meta(message_id, {"error": reason})
        log.warning("chat turn failed, message %d kept: %s", message_id, reason)

    def _clear_error(self, message_id: int) -> None:
        """A question the model failed on once, answered now."""
        self.store.update_meta(message_id, drop=("error",))

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
    lines = [f"# {data['title']}", "",
             f"_Session {data['id']}, started {data['created_at'][:16].replace('T', ' ')} UTC_", ""]
    for m in data["messages"]:
        who = "You" if m["role"] == "user" else "secondme"
        flags = " (stopped)" if m["partial"] else ""
        flags += " (no answer: model failed)" if m.get("error") else ""
        lines += [f"**{who}** · {m['created_at'][:16].replace('T', ' ')}{flags}", "", m["text"], ""]
    return "\n".join(lines).rstrip() + "\n"
