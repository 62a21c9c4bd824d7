"""The local HTTP API: OpenAI-compatible chat completions grounded in memory, plus memory search and add.

Loopback only, and guarded (assistant/api/guard.py) before any route runs: the Host header must name the loopback
address (against DNS rebinding), then the bearer token (constant-time compare), then the token's rate limit and the
body's size and read-time limits. Bodies are validated by the pydantic models of assistant/api/models.py, and every
answer, errors included, is JSON. No CORS headers are ever sent, so a web page in the user's browser cannot read
any answer.
Writes through the API carry source `api`, whose default trust (0.5) is the lowest of all channels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from assistant.api.guard import (
    HEAD_TIMEOUT_S,
    MAX_HEAD_BYTES,
    BodyTimeout,
    BodyTooLarge,
    Guard,
    head_timeout_protocol,
    json_error,
)
from assistant.api.models import AddMemory, ChatCompletionRequest, SearchMemories, openapi, validation_message
from storage.enums import Source
from storage.errors import NotFound, UserError

MODEL_NAME = "secondme"
log = logging.getLogger(__name__)


def _parse(model: type[BaseModel], data: bytes | dict) -> Any:
    try:
        if isinstance(data, dict):
            return model.model_validate(data)
        return model.model_validate_json(data or b"null")
    except ValidationError as exc:
        raise UserError(validation_message(exc)) from None


async def _body(request: Request, model: type[BaseModel]) -> Any:
    return _parse(model, await request.body())


def create_api(app, token: str, body_timeout: float | None = None) -> Guard:
    """The ASGI application over one App (the same composition root as the CLI and GUI)."""
    settings = app.settings
    schema = openapi()

    async def search_memories(request: Request) -> JSONResponse:
        query = _parse(SearchMemories, dict(request.query_params))
        hits = await run_in_threadpool(app.memory.recall, query.q, query.k)
        return JSONResponse({"object": "list", "data": [h.to_json() for h in hits]})

    async def add_memory(request: Request) -> JSONResponse:
        body = await _body(request, AddMemory)
        record = await run_in_threadpool(
            lambda: app.memory.remember(body.text, kind=body.kind, source="api", provenance={"via": "local api"},
                                        reason="added through the local API"))
        return JSONResponse(record.to_json(), status_code=201)

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "local"}]})

    async def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(schema)

    async def chat_completions(request: Request):
        body = await _body(request, ChatCompletionRequest)
        last = body.messages[-1]
        if last.role != "user":
            raise UserError("The last message must have role 'user'.")
        question = _content_text(last.content)
        session_id = body.session_id
        if session_id is None:
            session_id = (await run_in_threadpool(app.chat.new_session, f"API: {question[:40]}")).id
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.stream:
            return _stream_completion(app, session_id, question, completion_id, created)
        result = await run_in_threadpool(app.chat.send, session_id, question, source=Source.API)
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
        Route("/v1/openapi.json", openapi_document, methods=["GET"]),
    ]
    inner = Starlette(routes=routes, exception_handlers=_EXCEPTION_HANDLERS)
    return Guard(inner, token, settings.api_max_body_bytes, settings.api_rate_per_minute,
                 **({} if body_timeout is None else {"body_timeout": body_timeout}))


def server_config(app, token: str, port: int, head_timeout: float = HEAD_TIMEOUT_S,
                  body_timeout: float | None = None):
    """uvicorn's settings for the API. Loopback only, on purpose: nothing binds another address."""
    import uvicorn

    return uvicorn.Config(
        create_api(app, token, body_timeout), host="127.0.0.1", port=port, log_level="warning", server_header=False,
        proxy_headers=False,  # the client address is the socket's: a header must not pick its rate-limit bucket
        http=head_timeout_protocol(head_timeout),  # drops connections that trickle their request head (slowloris)
        ws="none",  # no WebSocket routes: refuse upgrades in the server itself
        lifespan="off",
        timeout_keep_alive=5,  # idle keep-alive connections close after 5 s
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,  # a request head over 16 KiB is refused
    )


def run_server(app, token: str, port: int) -> None:
    """Serve on 127.0.0.1 until interrupted."""
    import uvicorn

    uvicorn.Server(server_config(app, token, port)).run()


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own 404 and 405 answers, as JSON like every other answer."""
    hint = {404: "No such route; see GET /v1/openapi.json for the routes.",
            405: f"{request.method} is not allowed here; see GET /v1/openapi.json for the methods."}
    return json_error(exc.status_code, hint.get(exc.status_code, str(exc.detail)), headers=exc.headers)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("local API: %s %s failed", request.method, request.url.path, exc_info=exc)
    return json_error(500, "The server failed on this request; the log says why. Please report it.", "server_error")


_EXCEPTION_HANDLERS = {
    UserError: lambda request, exc: json_error(404 if isinstance(exc, NotFound) else 400, str(exc)),
    BodyTooLarge: lambda request, exc: json_error(413, "The request body is over the size limit; send less."),
    BodyTimeout: lambda request, exc: json_error(408, "The request body came too slowly; send it at once."),
    HTTPException: _http_error,
    Exception: _server_error,  # Starlette's default 500 answer is plain text
}


def _content_text(content: Any) -> str:
    """OpenAI content is a string or a list of parts; only text parts are understood."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(p.text or "" for p in content if p.type == "text")
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
            app.chat.send(session_id, question, source=Source.API, should_stop=stop.is_set,
                          on_token=lambda t: loop.call_soon_threadsafe(queue.put_nowait, t))
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
