"""What stands in front of the local API's routes: the Host check, the bearer token, rate limits, body limits.

Order matters. The token is checked before any rate limit: a limit shared by every caller would let any local
process lock the real client out with a burst of requests. Callers with the token share that token's budget;
callers without it are answered 401, and those that keep failing are slowed down (429) by a stricter budget kept
per client address, which never touches the token's budget.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque

# Host must be exactly one loopback name, with an optional port: a looser parse (prefix or split on ':') lets a
# rebinding page through with `Host: [::1]evil.com` or `Host: localhost.evil.com`.
_LOOPBACK_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?", re.ASCII | re.IGNORECASE)
FAILED_AUTH_PER_MINUTE = 10
# A process can connect from any address in 127.0.0.0/8, so failures are also counted across all addresses.
FAILED_AUTH_ALL_PER_MINUTE = 60
BODY_TIMEOUT_S = 10.0  # the whole body, from the end of the request head
HEAD_TIMEOUT_S = 10.0  # the whole request head, from the connection or the previous response
MAX_HEAD_BYTES = 16 * 1024  # h11 enforces this only on a head still incomplete, so Guard checks whole heads too


def host_is_loopback(value: str) -> bool:
    match = _LOOPBACK_HOST.fullmatch(value)
    return match is not None and (match.group(1) is None or 1 <= int(match.group(1)) <= 65535)


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class RateLimiter:
    """A sliding one-minute window per key (a token's digest, a client address)."""

    def __init__(self, per_minute: int, max_keys: int = 4096):
        self.per_minute = per_minute
        self.max_keys = max_keys
        self.calls: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None when allowed (and counted), else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            if key not in self.calls and len(self.calls) >= self.max_keys:
                self._forget_idle(now)
            calls = self.calls.setdefault(key, deque())
            while calls and now - calls[0] > 60:
                calls.popleft()
            if len(calls) >= self.per_minute:
                return 60 - (now - calls[0])
            calls.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        """Bound the memory a caller rotating addresses can make us keep."""
        for key in [k for k, calls in self.calls.items() if not calls or now - calls[-1] > 60]:
            del self.calls[key]
        if len(self.calls) >= self.max_keys:  # all busy: drop the oldest rather than grow
            del self.calls[min(self.calls, key=lambda k: self.calls[k][-1])]


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


def json_error(status: int, message: str, kind: str = "invalid_request_error",
               headers: dict[str, str] | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


def _too_many(wait: float, who: str):
    return json_error(429, f"Too many requests {who}; retry in {max(1, int(wait) + 1)} s.", "rate_limit_error",
                      {"Retry-After": str(max(1, int(wait) + 1))})


class Guard:
    """ASGI middleware: Host check, bearer token, rate limits, body size and body read time, before any route."""

    def __init__(self, asgi, token: str, max_body: int, per_minute: int, body_timeout: float = BODY_TIMEOUT_S,
                 failed_per_minute: int = FAILED_AUTH_PER_MINUTE):
        self.asgi, self.token, self.max_body, self.body_timeout = asgi, token, max_body, body_timeout
        self.token_key = hashlib.sha256(token.encode()).hexdigest()[:16]  # never keep the token itself as a key
        self.per_token = RateLimiter(per_minute)
        self.failed = RateLimiter(failed_per_minute)
        self.failed_all = RateLimiter(max(failed_per_minute, FAILED_AUTH_ALL_PER_MINUTE))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.asgi(scope, receive, send)
        if scope["type"] != "http":  # no WebSocket route exists; refuse before anything runs
            return await send({"type": "websocket.close", "code": 1008})
        response = self._refusal(scope)
        if response is not None:
            return await response(scope, receive, send)
        return await self.asgi(scope, self._limited(receive), send)

    def _refusal(self, scope):
        """The error response for a request that must not reach a route, or None."""
        head_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(
            len(k) + len(v) + 4 for k, v in scope["headers"])
        if head_bytes > MAX_HEAD_BYTES:
            return json_error(431, f"The request head is over {MAX_HEAD_BYTES // 1024} KiB; send fewer or shorter "
                                   "headers and a shorter URL.")
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"]
        if len(hosts) != 1 or not host_is_loopback(hosts[0]):
            return json_error(421, "This API answers only on 127.0.0.1, localhost or [::1]; call it at one of those.")
        auth = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"authorization"]
        scheme, _, given = (auth[0] if len(auth) == 1 else "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(given.strip(), self.token):
            address = (scope.get("client") or ("unknown",))[0]
            wait = self.failed.allow(address)
            if wait is None:
                wait = self.failed_all.allow("*")
            if wait is not None:
                return _too_many(wait, "with a missing or wrong token")
            return json_error(401, "Missing or wrong bearer token; see `secondme serve --show-token`.",
                              "authentication_error", {"WWW-Authenticate": "Bearer"})
        wait = self.per_token.allow(self.token_key)
        if wait is not None:
            return _too_many(wait, "for this token")
        declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        if len(declared) > 1 or (declared and not (declared[0].isdigit() and len(declared[0]) <= 18)):
            return json_error(400, "Send one Content-Length header holding a whole number of bytes.")
        if declared and int(declared[0]) > self.max_body:
            return json_error(413, f"The request body is over the {self.max_body:,}-byte limit; send less.")
        return None

    def _limited(self, receive):
        """receive() that stops a body at the size limit (chunked bodies declare no length) and at the time limit
        (a client trickling a body would otherwise hold a worker for as long as it likes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        seen, finished = 0, False

        async def wrapped():
            nonlocal seen, finished
            if finished:  # later receives wait for the client to leave, for as long as the response takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTimeout() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        return wrapped



def head_timeout_protocol(seconds: float = HEAD_TIMEOUT_S):
    """uvicorn's h11 protocol with a deadline on each request head.

    uvicorn times out idle keep-alive connections, but a client that trickles a request's header lines one byte
    at a time is never dropped (any data cancels the keep-alive timer), so a few hundred such connections would
    hold the server's sockets forever (slowloris). This closes a connection whose request head is not complete
    `seconds` after the connection opened or its previous response ended. Bodies have their own limit in Guard.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_timer()

        def connection_lost(self, exc) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = asyncio.get_running_loop().call_later(seconds, self._head_deadline)

        def send_400_response(self, msg: str) -> None:
            # uvicorn answers a request it cannot parse (or a head over the size limit) in plain text; every
            # answer of this API is JSON.
            body = json.dumps({"error": {"message": f"{msg.rstrip('.')}; send a well-formed HTTP/1.1 request "
                                                   "with a head under 16 KiB.", "type": "invalid_request_error"}})
            head = h11.Response(status_code=400, reason=b"Bad Request",
                                headers=[(b"content-type", b"application/json"), (b"connection", b"close")])
            for event in (head, h11.Data(data=body.encode()), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def _head_deadline(self) -> None:
            # Their state IDLE: no whole request head since the timer was armed. Our state DONE while theirs is
            # not: we have answered, and the client still trickles a body nobody will read.
            waiting_for_head = self.conn.their_state is h11.IDLE
            answered = self.conn.our_state in (h11.DONE, h11.MUST_CLOSE) and self.conn.their_state is not h11.DONE
            if (waiting_for_head or answered) and not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutH11Protocol
