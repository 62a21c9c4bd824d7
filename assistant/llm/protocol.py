"""What the rest of the core needs from a language model. The llama.cpp runtime and test fakes implement it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from storage.errors import UserError

ChatMessage = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class LLMError(Exception):
    """The model could not produce a usable answer (load failure, invalid JSON after a retry, overflow)."""


class LanguageModel(Protocol):
    name: str
    context_size: int

    def count_tokens(self, text: str) -> int: ...

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None,
                    temperature: float | None = None, should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        """Yield the answer piece by piece; stops early when should_stop() turns true."""

    def generate_json(self, messages: Sequence[ChatMessage], schema: dict[str, Any], *,
                      max_tokens: int = 512) -> dict[str, Any]:
        """An object valid against `schema` (grammar-constrained); raises LLMError if none could be made."""


class ModelLoadError(LLMError, UserError):
    """The model file could not be loaded: a user-fixable problem (pick another file), shown as one line."""


class ContextOverflowError(LLMError, UserError):
    """The prompt alone does not fit the model's context window."""
