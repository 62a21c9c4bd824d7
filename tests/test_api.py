"""The local API on the real app, through Starlette's test client: auth, limits, memories, chat completions."""

from __future__ import annotations

import json
import os
import stat

import pytest
from starlette.testclient import TestClient

from assistant.api.server import create_api
from tests.conftest import run_cli

TOKEN = "test-token-" + "x" * 20


@pytest.fixture
def api_app(home, embedder, monkeypatch):
    monkeypatch.setenv("SECONDME_MAX_TOKENS", "12")
    monkeypatch.setenv("SECONDME_API_RATE_PER_MINUTE", "30")
    monkeypatch.setenv("SECONDME_API_MAX_BODY_BYTES", "2048")
    from assistant.app import App

    a = App(embedder=embedder)
    yield a
    a.close()


@pytest.fixture
def client(api_app):
    with TestClient(create_api(api_app, TOKEN), base_url="http://127.0.0.1:8765",
                    headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_requests_without_the_right_token_or_from_another_host_are_refused(api_app):
    with TestClient(create_api(api_app, TOKEN), base_url="http://127.0.0.1:8765") as c:
        assert c.get("/v1/memories", params={"q": "x"}).status_code == 401
        wrong = c.get("/v1/memories", params={"q": "x"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    with TestClient(create_api(api_app, TOKEN), base_url="http://evil.example:8765") as c:  # DNS rebinding
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 421


def test_memories_added_through_the_api_carry_source_api_and_lower_trust_and_can_be_searched(client, api_app):
    added = client.post("/v1/memories", json={"text": "My passport expires in March 2031."})
    assert added.status_code == 201
    body = added.json()
    assert body["source"] == "api" and body["trust"] < 1.0 and body["provenance"] == {"via": "local api"}
    found = client.get("/v1/memories", params={"q": "when does my passport expire", "k": 3}).json()["data"]
    assert found[0]["id"] == body["id"]
    assert "access-control-allow-origin" not in {k.lower() for k in added.headers}


@pytest.mark.parametrize("kwargs, status, words", [
    ({"content": b"{oops"}, 400, "not valid JSON"),
    ({"json": {"text": ""}}, 400, "non-empty string field 'text'"),
    ({"json": ["a list"]}, 400, "JSON object"),
    ({"content": b"x" * 5000, "headers": {"Content-Type": "application/json"}}, 413, "limit"),
])
def test_bad_bodies_get_a_clear_error(client, kwargs, status, words):
    response = client.post("/v1/memories", **kwargs)
    assert response.status_code == status and words in response.json()["error"]["message"]


def test_the_rate_limit_answers_429_with_retry_after(client):
    codes = [client.get("/v1/models").status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


def test_chat_completions_answer_with_the_real_model_and_use_memory(client, api_app):
    from plugins.api import hookimpl

    turns = []

    class TurnRecorder:
        @hookimpl
        def on_turn(self, turn):
            turns.append(turn)

    api_app.plugins.register(TurnRecorder(), name="turn-recorder")
    remembered = api_app.memory.remember("My dog is called Biscuit.")
    response = client.post("/v1/chat/completions", json={
        "model": "secondme", "messages": [{"role": "user", "content": "What is my dog called?"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"].strip()
    assert remembered.id in body["memories"]
    assert turns[0]["user"] == "What is my dog called?" and turns[0]["episode_id"]
    stream = client.post("/v1/chat/completions", json={
        "stream": True, "session_id": body["session_id"], "messages": [{"role": "user", "content": "Say hi"}]})
    events = [line[6:] for line in stream.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"
    assert "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]).strip()
    bad = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert bad.status_code == 400 and "role 'user'" in bad.json()["error"]["message"]


def test_the_token_lives_in_the_secret_store_survives_restarts_rotates_and_is_wiped(home):
    env = {"SECONDME_SECRETS_BACKEND": "file"}

    def show_token(*extra: str) -> str:
        out = run_cli("serve", "--show-token", *extra, env=env)
        assert out.returncode == 0, out.stderr.decode()[-2000:]
        return out.stdout.decode().strip()

    token = show_token()
    assert len(token) >= 32
    store = home / "secrets.json"
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    (mine,) = json.loads(store.read_text()).values()
    assert mine["api-token"] == token and not (home / "api-token").exists()  # no file of its own any more
    assert show_token() == token  # another process: the same token
    rotated = show_token("--rotate-token")
    assert rotated != token and show_token() == rotated
    assert run_cli("wipe", "--yes", env=env).returncode == 0
    assert not store.exists()


def test_the_token_obeys_a_keyring_only_backend(home):
    # No OS keyring on this machine: "keyring" must refuse rather than write the token to a file.
    out = run_cli("serve", "--show-token", env={"SECONDME_SECRETS_BACKEND": "keyring"})
    assert out.returncode != 0 and "no OS keyring backend" in out.stderr.decode()
    assert not out.stdout.strip() and not (home / "api-token").exists() and not (home / "secrets.json").exists()
