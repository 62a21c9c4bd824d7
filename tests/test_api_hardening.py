"""The local API under hostile callers: token before rate limits, strict Host, validated bodies, JSON errors,
and a real uvicorn server that drops connections trickling their request head or body."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from starlette.testclient import TestClient

from assistant.api.server import create_api, server_config
from tests.test_api import TOKEN, api_app, client  # noqa: F401  (the fixtures)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_flood_without_the_token_cannot_lock_the_token_holder_out(api_app):
    with TestClient(create_api(api_app, TOKEN), base_url="http://127.0.0.1:8765") as c:
        wrong = [c.get("/v1/models", headers={"Authorization": "Bearer nope"}).status_code for _ in range(40)]
        assert wrong == [401] * 10 + [429] * 30  # failures are slowed down after 10 a minute
        assert [c.get("/v1/models", headers=AUTH).status_code for _ in range(30)] == [200] * 30
        limited = c.get("/v1/models", headers=AUTH)  # the token's own budget (30 a minute here) still holds
        assert limited.status_code == 429 and "this token" in limited.json()["error"]["message"]


def test_failed_auth_is_limited_per_address_and_across_addresses(api_app):
    api = create_api(api_app, TOKEN)

    def failures(address: str, n: int) -> list[int]:
        with TestClient(api, base_url="http://127.0.0.1:8765", client=(address, 40000)) as c:
            return [c.get("/v1/models").status_code for _ in range(n)]

    assert failures("127.0.0.2", 11) == [401] * 10 + [429]
    assert failures("127.0.0.3", 1) == [401]  # another address has its own budget ...
    for i in range(4, 9):  # ... until failures from all addresses together reach 60 a minute
        failures(f"127.0.0.{i}", 10)
    assert failures("127.0.0.9", 1) == [429]


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1", True), ("127.0.0.1:8765", True), ("localhost", True), ("LocalHost:80", True), ("[::1]", True),
    ("[::1]:8765", True),
    ("[::1]evil.com", False), ("[::1]:8765evil.com", False), ("localhost.evil.com", False), ("evil.com", False),
    ("127.0.0.1.nip.io", False), ("127.0.0.1:99999", False), ("127.0.0.1:0", False), ("127.0.0.1:", False),
    ("localhost:80:80", False), ("", False), ("127.0.0.1 ", False), ("[::1", False), ("0x7f.0.0.1", False),
])
def test_the_host_header_must_be_exactly_a_loopback_name(api_app, host, ok):
    with TestClient(create_api(api_app, TOKEN), base_url="http://127.0.0.1:8765") as c:
        response = c.get("/v1/models", headers={**AUTH, "Host": host})
    assert response.status_code == (200 if ok else 421), (host, response.text)


DEEP = b'{"messages": ' + b"[" * 1000 + b"]" * 1000 + b"}"
USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize("path, body, words", [
    ("/v1/chat/completions", DEEP, "nested too deeply"),
    ("/v1/memories", b"[" * 1500, "nested too deeply"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "string text"),
    ("/v1/chat/completions", {"messages": [USER], "session_id": 10**40}, "session_id must be a whole number"),
    ("/v1/chat/completions", {"messages": [USER], "session_id": -1}, "session_id must be a whole number"),
    ("/v1/chat/completions", {"messages": [USER], "session_id": True}, "session_id must be a whole number"),
    ("/v1/chat/completions", {"messages": [USER], "session_id": "3"}, "session_id must be a whole number"),
    ("/v1/chat/completions", {"messages": [USER], "stream": "yes"}, "stream must be true or false"),
    ("/v1/chat/completions", {"messages": []}, "'messages' must be a list"),
    ("/v1/chat/completions", {"messages": "hi"}, "'messages' must be a list"),
    ("/v1/chat/completions", {"messages": [["user", "hi"]]}, "'messages' must be a list"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": {"text": "hi"}}]}, "'messages' must be a list"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": ""}]}, "has no text"),
    ("/v1/memories", {"text": 12}, "non-empty string field 'text'"),
    ("/v1/memories", {"text": "x", "kind": "profile"}, "kind must be"),
    ("/v1/memories", {"text": "x", "txt": "y"}, "Unknown field or parameter 'txt'"),
    ("/v1/memories", b"\xff\xfe{", "not valid JSON"),
    ("/v1/memories", b"", "must be a JSON object"),
])
def test_malformed_bodies_get_a_400_json_error_never_a_500(client, path, body, words):
    kwargs = {"content": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) \
        else {"json": body}
    response = client.post(path, **kwargs)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]


@pytest.mark.parametrize("params, words", [
    ({"q": "x", "k": "99999999999999999999999"}, "k must be a whole number between 1 and 50"),
    ({"q": "x", "k": "0"}, "k must be"), ({"q": "x", "k": "two"}, "k must be"),
    ({"k": "3"}, "?q="), ({"q": "   "}, "?q="), ({"q": "x" * 1001}, "?q="),
    ({"q": "x", "limit": "3"}, "Unknown field or parameter 'limit'"),
])
def test_search_parameters_are_bounded(client, params, words):
    response = client.get("/v1/memories", params=params)
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_the_longest_query_fits_in_the_request_head_limit(client):
    response = client.get("/v1/memories", params={"q": "\U0001F600" * 1000, "k": 50})  # 12 bytes each, encoded
    assert response.status_code == 200, response.text


def test_every_error_answer_is_json(api_app, monkeypatch):
    def fail(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api_app.memory, "recall", fail)
    api = create_api(api_app, TOKEN)
    with TestClient(api, base_url="http://127.0.0.1:8765", headers=AUTH, raise_server_exceptions=False) as c:
        answers = {
            404: c.get("/v1/nothing-here"),
            405: c.delete("/v1/memories"),
            413: c.post("/v1/memories", content=b"x" * 5000),
            400: c.post("/v1/memories", content=b"{"),
            500: c.get("/v1/memories", params={"q": "anything"}),
            421: c.get("/v1/models", headers={"Host": "evil.example"}),
            401: c.get("/v1/models", headers={"Authorization": "Bearer wrong"}),
        }
        for _ in range(40):
            answers[429] = c.get("/v1/models")
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"] == "application/json", (status, response.headers)
        message = response.json()["error"]["message"]
        assert message and "\n" not in message and "disk on fire" not in message


def test_the_openapi_document_describes_the_routes(client):
    doc = client.get("/v1/openapi.json").json()
    assert set(doc["paths"]) == {"/v1/memories", "/v1/models", "/v1/chat/completions", "/v1/openapi.json"}
    session_id = doc["components"]["schemas"]["ChatCompletionRequest"]["properties"]["session_id"]
    assert json.dumps(2**63 - 1) in json.dumps(session_id)


# -- a real server on a socket ------------------------------------------------------------------------------


@pytest.fixture
def live_server(api_app):
    """uvicorn on a free loopback port with short head and body time limits."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(server_config(api_app, TOKEN, port, head_timeout=1.0, body_timeout=1.0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API server did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _request(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b'"}' in chunk:
                break
        return b"".join(chunks)


def _closed_by_server(s: socket.socket) -> bool:
    try:
        return s.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_connections_trickling_their_headers_are_dropped_while_real_clients_are_served(live_server):
    port = live_server
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
    started = time.monotonic()
    for s in slow:
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    dropped = set()
    while len(dropped) < len(slow) and time.monotonic() - started < 4:
        for i, s in enumerate(slow):
            if i in dropped:
                continue
            try:
                s.sendall(b"X")  # one more byte of a header line that never ends
            except OSError:
                dropped.add(i)
        time.sleep(0.2)
    answer = _request(port, f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                            "Connection: close\r\n\r\n".encode())
    for i, s in enumerate(slow):
        s.settimeout(2)
        if i not in dropped and _closed_by_server(s):
            dropped.add(i)
        s.close()
    assert len(dropped) == len(slow), f"{len(slow) - len(dropped)} slow connections still open"
    assert time.monotonic() - started < 6
    assert answer.startswith(b"HTTP/1.1 200") and b'"secondme"' in answer


def test_a_body_sent_too_slowly_gets_408_json_and_the_connection_closes(live_server):
    with socket.create_connection(("127.0.0.1", live_server), timeout=10) as s:
        s.sendall(f"POST /v1/memories HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"te".encode())
        s.settimeout(5)
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"application/json" in answer and b"too slowly" in answer
        s.settimeout(0.2)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # the unread rest of the body is not waited for
            try:
                s.sendall(b"x")
            except OSError:
                break
            if _closed_by_server(s):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the server kept a connection whose body it had given up on")


def test_a_request_the_server_cannot_parse_gets_a_json_400(live_server):
    head, _, body = _request(live_server, b"GARBAGE\r\n\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head, head
    assert "well-formed" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("in_pieces", [False, True])
def test_a_request_head_over_16_kib_is_refused_with_json(live_server, in_pieces):
    raw = (f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
           f"X-Big: {'a' * 20_000}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", live_server), timeout=10) as s:
        if in_pieces:  # h11 refuses a head still incomplete past the limit
            for start in range(0, len(raw), 4096):
                try:
                    s.sendall(raw[start:start + 4096])
                except OSError:
                    break
                time.sleep(0.05)
        else:  # a whole head arriving at once is parsed by h11, and refused by Guard
            s.sendall(raw)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"400", b"431") and b"application/json" in head, head
    assert json.loads(body)["error"]["message"]
