"""Helpers shared by the job tests: a scripted language model (unit tests only) and a database snapshot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from assistant.llm.protocol import LLMError
from storage.models import Memory, MemoryEvent, MemoryLink


class ScriptedLLM:
    """Implements the LanguageModel protocol by answering generate_json from a script of responses."""

    name = "scripted"
    context_size = 2048

    def __init__(self, *responses: Any):
        self.responses = list(responses)
        self.calls: list[dict[str, Any]] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def stream_chat(self, messages, *, max_tokens=None, temperature=None, should_stop=None):
        yield ""

    def generate_json(self, messages, schema, *, max_tokens=512):
        self.calls.append({"messages": list(messages), "schema": schema, "max_tokens": max_tokens})
        if not self.responses:
            raise LLMError("script exhausted")
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer(messages) if callable(answer) else answer


def snapshot(app) -> dict[str, Any]:
    """Everything a job may change, for before/after comparisons (job_runs excluded)."""
    with app.db.session() as s:
        memories = [(m.id, m.kind, m.status, m.text, m.strength, m.importance, m.pinned, m.recall_count,
                     m.embedding_model, repr(m.provenance), m.expired_at)
                    for m in s.scalars(select(Memory).order_by(Memory.id))]
        links = [(link.src_id, link.dst_id, link.kind, link.score)
                 for link in s.scalars(select(MemoryLink).order_by(MemoryLink.id))]
        events = s.query(MemoryEvent).count()
    return {"memories": memories, "links": links, "events": events, "vectors": app.vector_index.count()}


class ReflectionLLM(ScriptedLLM):
    """A LanguageModel for reflection unit tests: profile questions (one note each) are answered from `profile`,
    a map from a word of the note to the answer (unmatched notes get section "none"); the thoughts question
    by `thoughts`, a function of the messages. Either may be an exception to raise instead."""

    name = "scripted-reflection"

    def __init__(self, profile: Any, thoughts: Any):
        super().__init__()
        self.profile, self.thoughts = profile, thoughts

    def generate_json(self, messages, schema, *, max_tokens=512):
        self.calls.append({"messages": list(messages), "schema": schema, "max_tokens": max_tokens})
        answer = self.profile if "section" in schema["properties"] else self.thoughts
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(messages)
        note = messages[-1]["content"].split("\n")[0]
        return next((a for word, a in answer.items() if word in note), {"section": "none", "text": "nothing"})
