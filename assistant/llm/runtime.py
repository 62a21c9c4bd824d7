"""LlamaRuntime: one GGUF model in-process through llama-cpp-python, behind the LanguageModel protocol.

Not thread-safe by design: `assistant.llm.worker.ModelWorker` gives it one owning thread.
The prompt is rendered with the model's own chat template (GGUF metadata) and tokenised here, and the token
list goes to llama.cpp, which keeps its KV cache between calls and re-evaluates only the tokens after the
longest common prefix with the previous call: an append-only conversation costs only its new tokens.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2
from llama_cpp import Llama, LlamaGrammar
from llama_cpp import llama_chat_format as chat_format

from assistant.llm import llama_logs
from assistant.llm.gguf import check_gguf_header
from assistant.llm.json_schema import require_bounded
from assistant.llm.protocol import ChatMessage, ContextOverflowError, LLMError, ModelLoadError

log = logging.getLogger(__name__)

# Templates for a GGUF that carries none, by the names settings accept (chat_template_fallback).
FALLBACK_TEMPLATES = {
    "chatml": chat_format.CHATML_CHAT_TEMPLATE,
    "llama-3": chat_format.LLAMA3_INSTRUCT_CHAT_TEMPLATE,
    "mistral-instruct": chat_format.MISTRAL_INSTRUCT_CHAT_TEMPLATE,
}
# Fallback templates name their stop marker in text; the model's own EOS may be another token.
FALLBACK_STOPS = {"chatml": ["<|im_end|>"], "llama-3": ["<|eot_id|>"], "mistral-instruct": ["</s>"]}
# Sampling for structured output: first greedy, then the retry samples a little so it can take another path.
JSON_TEMPERATURES = (0.0, 0.6)


class LlamaRuntime:
    def __init__(self, model_path: Path, *, context_size: int = 4096, threads: int = 2, gpu_layers: int = 0,
                 temperature: float = 0.7, max_tokens: int = 512, template_fallback: str = "chatml",
                 seed: int | None = None, batch_size: int = 512):
        path = Path(model_path).expanduser()
        check_gguf_header(path)
        if template_fallback not in FALLBACK_TEMPLATES:
            raise ModelLoadError(f"Unknown chat template '{template_fallback}'; set chat_template_fallback to one of: "
                                 + ", ".join(FALLBACK_TEMPLATES) + ".")
        llama_logs.install()
        llama_logs.take_first_error()
        started = time.perf_counter()
        try:
            self.llm = Llama(model_path=str(path), n_ctx=context_size, n_threads=threads, n_threads_batch=threads,
                             n_gpu_layers=gpu_layers, n_batch=min(batch_size, context_size), verbose=False,
                             seed=seed if seed is not None else 0xFFFFFFFF)
        except (ValueError, RuntimeError) as exc:
            why = llama_logs.take_first_error() or str(exc)
            raise ModelLoadError(f"Cannot load the model {path.name} ({why}); it may be damaged, incomplete or "
                                 "made for a newer llama.cpp: download it again or pick another with "
                                 "`secondme models use`.") from None
        self.load_seconds = time.perf_counter() - started
        self.path = path
        self.metadata: dict[str, str] = dict(self.llm.metadata)
        self.name = self.metadata.get("general.name") or path.stem
        self.context_size = self.llm.n_ctx()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.threads = threads

        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        eos = self.llm.detokenize([eos_id], special=True).decode("utf-8", "replace") if eos_id != -1 else ""
        bos = self.llm.detokenize([bos_id], special=True).decode("utf-8", "replace") if bos_id != -1 else ""
        own = self.metadata.get("tokenizer.chat_template")
        self.template_name = "gguf" if own else template_fallback
        self._extra_stops = [] if own else FALLBACK_STOPS[template_fallback]
        try:
            self._formatter = chat_format.Jinja2ChatFormatter(
                template=own or FALLBACK_TEMPLATES[template_fallback], eos_token=eos, bos_token=bos,
                stop_token_ids=[eos_id] if eos_id != -1 else None)
        except jinja2.TemplateError as exc:
            raise ModelLoadError(f"The chat template inside {path.name} is broken ({exc}); set "
                                 "chat_template_fallback and remove the template, or pick another model.") from None

    # -- prompt ---------------------------------------------------------------------------------
    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model sees for these messages (its chat template applied)."""
        return self._format(messages).prompt

    def _format(self, messages: Sequence[ChatMessage]):
        try:
            return self._formatter(messages=[dict(m) for m in messages])
        except (jinja2.TemplateError, ValueError) as exc:
            raise LLMError(f"The chat template of {self.name} rejected the conversation: {exc}") from None

    def _prompt_tokens(self, messages: Sequence[ChatMessage]):
        formatted = self._format(messages)
        tokens = self.llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special,
                                   special=True)
        if len(tokens) >= self.context_size:
            raise ContextOverflowError(
                f"The prompt is {len(tokens)} tokens, more than the model's context of {self.context_size}; "
                "shorten the message or raise context_size in the settings.")
        stops = ([formatted.stop] if isinstance(formatted.stop, str) else list(formatted.stop or []))
        return tokens, stops + self._extra_stops, formatted.stopping_criteria

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Exact size of the rendered prompt, template markup included."""
        formatted = self._format(messages)
        return len(self.llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special,
                                     special=True))

    # -- generation -----------------------------------------------------------------------------
    def _complete(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float,
                  should_stop: Callable[[], bool] | None, grammar: LlamaGrammar | None = None) -> Iterator[str]:
        tokens, stops, criteria = self._prompt_tokens(messages)
        budget = min(max_tokens, self.context_size - len(tokens))
        stream = self.llm.create_completion(tokens, max_tokens=budget, temperature=temperature, stop=stops,
                                            stopping_criteria=criteria, grammar=grammar, stream=True)
        try:
            for chunk in stream:
                if should_stop is not None and should_stop():
                    break
                piece = chunk["choices"][0]["text"]
                if piece:
                    yield piece
        finally:
            stream.close()

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None,
                    temperature: float | None = None, should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        return self._complete(messages, max_tokens=max_tokens or self.max_tokens,
                              temperature=self.temperature if temperature is None else temperature,
                              should_stop=should_stop)

    def generate_json(self, messages: Sequence[ChatMessage], schema: dict[str, Any], *,
                      max_tokens: int = 512) -> dict[str, Any]:
        require_bounded(schema)
        try:
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        except Exception as exc:  # the converter raises plain exceptions for schema features it lacks
            raise ValueError(f"Cannot turn this JSON schema into a grammar: {exc}") from None
        problem = ""
        for attempt, temperature in enumerate(JSON_TEMPERATURES, start=1):
            text = "".join(self._complete(messages, max_tokens=max_tokens, temperature=temperature,
                                          should_stop=None, grammar=grammar))
            try:
                # strict=False: llama-cpp-python's schema grammar lets a raw newline or tab into a string
                # (its `char` rule is [^"\\]); that is still the answer the schema asked for, not a reason to retry.
                value = json.loads(text, strict=False)
            except json.JSONDecodeError as exc:
                problem = f"{exc.msg} at character {exc.pos} of {len(text)}"
            else:
                if isinstance(value, dict):
                    return value
                problem = f"a JSON {type(value).__name__}, not an object"
            log.warning("generate_json attempt %d of %d gave invalid output (%s): %.200r",
                        attempt, len(JSON_TEMPERATURES), problem, text)
        raise LLMError(f"{self.name} gave no valid JSON after {len(JSON_TEMPERATURES)} tries ({problem}).")

    def close(self) -> None:
        self.llm.close()
