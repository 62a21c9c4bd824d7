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
def chat_app(app, chat_model):
    """The app with the shared model in place of its own (App.close would otherwise free it)."""
    app.__dict__["llm"] = chat_model
    app.settings.max_tokens = 16
    app.settings.temperature = 0.0
    yield app
    app.__dict__.pop("llm", None)
