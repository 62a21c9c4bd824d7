"""The local HTTP API: OpenAI-compatible chat completions grounded in memory, plus memory search and add.

Loopback only, and guarded in layers (outermost first): Host header must name the loopback address (against DNS
rebinding), a per-process request-rate limit, a body size limit, then the bearer token (constant-time compare).
No CORS headers are ever sent, so a web page in the user's browser cannot read any answer.
Writes through the API carry source `api`, whose default trust (0.5) is the lowest of all channels.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from storage.errors import NotFound, UserError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
MODEL_NAME = "secondme"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class RateLimiter:
    """A sliding one-minute window shared by all callers (the API serves one machine)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.calls: deque[float] = deque()
        self.lock = threading.Lock()

    def allow(self) -> float | None:
        """None when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            while self.calls and now - self.calls[0] > 60:
                self.calls.popleft()
            if len(self.calls) >= self.per_minute:
                return 60 - (now - self.calls[0])
            self.calls.append(now)
            return None


class Guard:
    """ASGI middleware: host check, rate limit, body size limit and bearer token, before any route runs."""

    def __init__(self, asgi, token: str, max_body: int, limiter: RateLimiter):
        self.asgi, self.token, self.max_body, self.limiter = asgi, token, max_body, limiter

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.asgi(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").rsplit(":", 1)[0] if not headers.get("host", "").startswith("[") else \
            headers["host"].split("]")[0] + "]"
        if host not in LOOPBACK_HOSTS:
            return await _error(421, "This API answers only on the loopback address.")(scope, receive, send)
        wait = self.limiter.allow()
        if wait is not None:
            response = _error(429, f"Too many requests; retry in {wait:.0f} s.", "rate_limit_error")
            response.headers["Retry-After"] = str(max(1, int(wait) + 1))
            return await response(scope, receive, send)
        auth = headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not token_matches(given.strip(), self.token):
            response = _error(401, "Missing or wrong bearer token; see `secondme serve --show-token`.",
                              "authentication_error")
            response.headers["WWW-Authenticate"] = "Bearer"
            return await response(scope, receive, send)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _error(413, f"The request body is over the {self.max_body:,}-byte limit.")(scope, receive, send)
        return await self.asgi(scope, self._limited(receive, scope, send), send)

    def _limited(self, receive, scope, send):
        """Count the bytes of a body sent without Content-Length (chunked) and stop at the limit."""
        seen = 0
        limit = self.max_body

        async def wrapped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        return wrapped


class BodyTooLarge(Exception):
    pass


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.body()
    except BodyTooLarge:
        raise UserError("The request body is over the size limit.") from None
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise UserError("The request body must be a JSON object.")
    return data


def create_api(app, token: str) -> Starlette:
    """The ASGI application over one App (the same composition root as the CLI and GUI)."""
    settings = app.settings

    async def search_memories(request: Request) -> JSONResponse:
        query = request.query_params.get("q", "").strip()
        if not query:
            raise UserError("Give the search words as ?q=...")
        try:
            k = int(request.query_params.get("k", "5"))
        except ValueError:
            raise UserError("k must be a whole number.") from None
        if not 1 <= k <= 50:
            raise UserError("k must be between 1 and 50.")
        hits = await run_in_threadpool(app.memory.recall, query, k)
        return JSONResponse({"object": "list", "data": [h.to_json() for h in hits]})

    async def add_memory(request: Request) -> JSONResponse:
        data = await _json_body(request)
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise UserError("Give the memory as a JSON object with a non-empty string field 'text'.")
        kind = data.get("kind", "fact")
        if kind not in ("fact", "episode", "thought"):
            raise UserError("kind must be fact, episode or thought.")
        record = await run_in_threadpool(
            lambda: app.memory.remember(text, kind=kind, source="api", provenance={"via": "local api"},
                                        reason="added through the local API"))
        return JSONResponse(record.to_json(), status_code=201)

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "local"}]})

    async def chat_completions(request: Request):
        data = await _json_body(request)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise UserError("'messages' must be a non-empty list of {role, content} objects.")
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "user":
            raise UserError("The last message must have role 'user'.")
        question = _content_text(last.get("content"))
        session_id = data.get("session_id")
        if session_id is not None and not isinstance(session_id, int):
            raise UserError("session_id must be an integer (from an earlier response).")
        if session_id is None:
            session_id = (await run_in_threadpool(app.chat.new_session, f"API: {question[:40]}")).id
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if data.get("stream"):
            return _stream_completion(app, session_id, question, completion_id, created)
        result = await run_in_threadpool(app.chat.send, session_id, question)
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_NAME,
            "session_id": session_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": result.timings.get("prompt_tokens") or 0,
                      "completion_tokens": result.timings.get("generated_tokens") or 0,
                      "total_tokens": (result.timings.get("prompt_tokens") or 0)
                      + (result.timings.get("generated_tokens") or 0)},
            "memories": [h.memory.id for h in result.recalled],
        })

    routes = [
        Route("/v1/memories", search_memories, methods=["GET"]),
        Route("/v1/memories", add_memory, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
    exception_handlers = {
        UserError: lambda request, exc: _error(404 if isinstance(exc, NotFound) else 400, str(exc)),
        BodyTooLarge: lambda request, exc: _error(413, "The request body is over the size limit."),
    }
    inner = Starlette(routes=routes, exception_handlers=exception_handlers)
    return Guard(inner, token, settings.api_max_body_bytes, RateLimiter(settings.api_rate_per_minute))


def _content_text(content: Any) -> str:
    """OpenAI content is a string or a list of parts; only text parts are understood."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    else:
        text = ""
    if not text.strip():
        raise UserError("The last user message has no text.")
    return text


def _stream_completion(app, session_id: int, question: str, completion_id: str, created: int) -> StreamingResponse:
    """Server-sent events in OpenAI's chunk format; the model runs on a worker thread and feeds a queue."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def chunk(delta: dict, finish: str | None = None) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_NAME,
                "session_id": session_id, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def work() -> None:
        try:
            app.chat.send(session_id, question, on_token=lambda t: loop.call_soon_threadsafe(queue.put_nowait, t),
                          should_stop=stop.is_set)
        except Exception as exc:  # reported in the stream: the status line has already gone out
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    async def events():
        threading.Thread(target=work, name="api-chat", daemon=True).start()
        yield chunk({"role": "assistant"})
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    yield f"data: {json.dumps({'error': {'message': str(item)}})}\n\n"
                else:
                    yield chunk({"content": item})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"
        finally:
            stop.set()  # the client went away: stop generating

    return StreamingResponse(events(), media_type="text/event-stream")
