"""ModelWorker: one long-lived thread owns the language model; the GUI, CLI, API and jobs queue requests to it.

llama.cpp state (weights, KV cache, sampler) must not be touched by two threads at once, and keeping the same
context alive between requests is what lets a follow-up turn reuse the cached prompt prefix. Callers get
streamed pieces back through a per-request queue; stopping is a flag the owning thread checks between tokens.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from assistant.llm.protocol import ChatMessage, LanguageModel

log = logging.getLogger(__name__)

_TOKEN, _DONE, _ERROR = "token", "done", "error"


class ModelWorker:
    """A LanguageModel whose every call runs on the one thread that loaded the model."""

    def __init__(self, load: Callable[[], LanguageModel]):
        self._requests: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._load_error: BaseException | None = None
        self._model: LanguageModel | None = None
        self._thread = threading.Thread(target=self._run, args=(load,), name="secondme-llm", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._load_error is not None:
            self._thread.join()
            raise self._load_error
        self.name = self._model.name
        self.context_size = self._model.context_size

    @property
    def model(self) -> LanguageModel:
        """The runtime itself, for read-only facts (path, template name). Call it only through this worker."""
        return self._model

    # -- the owning thread ----------------------------------------------------------------------
    def _run(self, load: Callable[[], LanguageModel]) -> None:
        try:
            self._model = load()
        except BaseException as exc:  # handed to the constructor's caller
            self._load_error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            job = self._requests.get()
            if job is None:
                break
            job()
        close = getattr(self._model, "close", None)
        if close:
            close()

    def _call(self, fn: Callable[[LanguageModel], Any]) -> Any:
        """Run fn(model) on the owning thread and wait for its result (or its exception)."""
        self._check_open()
        done = threading.Event()
        box: dict[str, Any] = {}

        def job() -> None:
            try:
                box["value"] = fn(self._model)
            except BaseException as exc:
                box["error"] = exc
            done.set()

        self._requests.put(job)
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _check_open(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("The model worker is closed.")

    # -- LanguageModel --------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self._call(lambda m: m.count_tokens(text))

    def count_prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self._call(lambda m: m.count_prompt_tokens(messages))

    def render(self, messages: Sequence[ChatMessage]) -> str:
        return self._call(lambda m: m.render(messages))

    def generate_json(self, messages: Sequence[ChatMessage], schema: dict[str, Any], *,
                      max_tokens: int = 512) -> dict[str, Any]:
        return self._call(lambda m: m.generate_json(messages, schema, max_tokens=max_tokens))

    def stream_chat(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None,
                    temperature: float | None = None, should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        self._check_open()
        replies: queue.Queue = queue.Queue()
        abandoned = threading.Event()  # the caller stopped reading: stop generating for nobody

        def stop_now() -> bool:
            return abandoned.is_set() or (should_stop is not None and bool(should_stop()))

        def job() -> None:
            try:
                for piece in self._model.stream_chat(messages, max_tokens=max_tokens, temperature=temperature,
                                                     should_stop=stop_now):
                    replies.put((_TOKEN, piece))
                replies.put((_DONE, None))
            except BaseException as exc:
                replies.put((_ERROR, exc))

        self._requests.put(job)
        return self._pieces(replies, abandoned)

    @staticmethod
    def _pieces(replies: queue.Queue, abandoned: threading.Event) -> Iterator[str]:
        try:
            while True:
                kind, value = replies.get()
                if kind == _TOKEN:
                    yield value
                elif kind == _DONE:
                    return
                else:
                    raise value
        finally:
            abandoned.set()

    def close(self) -> None:
        """Finish queued work, free the model on its own thread, end the thread."""
        if self._thread.is_alive():
            self._requests.put(None)
            self._thread.join()
