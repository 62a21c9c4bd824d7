"""Shared fixtures: every test gets its own temporary SECONDME_HOME; the embedder is loaded once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data folder for each test, so nothing touches the user's real data or config."""
    h = tmp_path / "home"
    monkeypatch.setenv("SECONDME_HOME", str(h))
    monkeypatch.delenv("SECONDME_CONFIG", raising=False)
    import assistant.cli.base as cli_base

    monkeypatch.setattr(cli_base, "_app_instance", None)
    return h


@pytest.fixture(scope="session")
def embedder():
    from storage.embedder import load_embedder

    return load_embedder()


@pytest.fixture
def app(home, embedder):
    from assistant.app import App

    a = App(embedder=embedder)  # share the loaded model across tests
    yield a
    a.close()


def run_cli(*args: str, input: bytes | None = None, env: dict | None = None, timeout: int = 120):
    """Run the real `secondme` entry point in a child process."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", "from assistant.cli import main; main()", *args],
        input=input, capture_output=True, env=full_env, timeout=timeout, cwd=REPO,
    )


def open_db_file():
    """A DB-API connection to the test home's database file, unlocked with its data key (encrypted by default)."""
    from assistant.config import load_settings
    from assistant.secrets import SecretStore
    from storage.db import connect

    s = load_settings()
    key = SecretStore(s.home, s.config_dir, s.secrets_backend).data_key(create=False) if s.encrypt_database else None
    return connect(s.db_path, key)


from tests.llm_fixtures import chat_app, chat_model  # noqa: E402,F401  (the shared real chat model)
