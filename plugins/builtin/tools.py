"""The assistant's own memory tools (recall, remember), offered through register_tools like any plugin's.

The MCP server and any tool-calling chat loop expose exactly these, so the two stay one implementation.
"""

from __future__ import annotations

from typing import Any

from plugins.api import PluginContext, Tool, hookimpl

RECALL_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "description": "What to look for, in plain words."},
        "k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
    },
    "required": ["query"],
    "additionalProperties": False,
}
REMEMBER_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1, "description": "The fact to remember."}},
    "required": ["text"],
    "additionalProperties": False,
}


class MemoryTools:
    def __init__(self) -> None:
        self.context: PluginContext | None = None
        # The channel tool writes are attributed to; the MCP server and local API set their own.
        self.source = "plugin"

    @hookimpl
    def startup(self, context: PluginContext) -> None:
        self.context = context

    @hookimpl
    def register_tools(self, register) -> None:
        register(Tool("recall", "Search the user's long-term memory; returns the best-matching memories.",
                      RECALL_SCHEMA, self.recall))
        register(Tool("remember", "Store a new fact in the user's long-term memory (checked for poisoning).",
                      REMEMBER_SCHEMA, self.remember))

    def recall(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        return [{"id": h.memory.id, "text": h.memory.text, "kind": h.memory.kind, "source": h.memory.source,
                 "recorded_at": h.memory.recorded_at.isoformat(), "score": round(h.score, 6)}
                for h in self._context().memory.recall(query, k=k)]

    def remember(self, text: str, source: str | None = None) -> dict[str, Any]:
        record = self._context().memory.remember(text, source=source or self.source)
        return {"id": record.id, "status": record.status}

    def _context(self) -> PluginContext:
        if self.context is None:
            raise RuntimeError("memory tools used before startup(context)")
        return self.context
