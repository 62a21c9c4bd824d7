"""The real default chat model, loaded once per test session and shared (it loads in under a second)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def chat_model():
    from assistant.llm.gguf import default_chat_model_path
    from assistant.llm.runtime import LlamaRuntime
    from assistant.llm.worker import ModelWorker

    worker = ModelWorker(lambda: LlamaRuntime(default_chat_model_path(), context_size=2048, threads=2,
                                              temperature=0.0, max_tokens=32, seed=7))
    yield worker
    worker.close()


@pytest.fixture
def chat_app(home, embedder, chat_model):
    """The app with the shared model handed in (so App.close leaves it loaded for the next test)."""
    from assistant.app import App

    app = App(embedder=embedder, llm=chat_model)
    app.settings.max_tokens = 16
    app.settings.temperature = 0.0
    yield app
    app.close()


def use_model(app, model) -> None:
    """Chat with `model` from now on (a wrapper that records or fails, around the real one)."""
    app.chat.load_model = lambda: model
