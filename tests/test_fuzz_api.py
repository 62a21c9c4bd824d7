"""Fuzzing the local API from its own OpenAPI document with schemathesis: no request may get a 5xx.

Requests valid for the schema and requests that break it (wrong types, missing fields, out-of-range numbers)
go to the real App on a temporary data folder through the ASGI app, with the bearer token and a loopback Host.
Besides schemathesis's checks (no server error; status codes and content types as documented; requests that
break the schema are refused), every answer must be JSON, or server-sent events for a streamed chat answer.
SECONDME_FUZZ_EXAMPLES sets the number of cases across all routes (default 2000, under a minute on 2 cores).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    status_code_conformance,
)

from assistant.api.models import openapi
from assistant.api.server import create_api

TOKEN = "fuzz-token-" + "x" * 24
BASE_URL = "http://127.0.0.1:8765"
EXAMPLES = int(os.environ.get("SECONDME_FUZZ_EXAMPLES", "2000"))
# Share of the cases per route with parameters or a body; the two routes with neither have one case each.
SHARE = {("GET", "/v1/memories"): 0.6, ("POST", "/v1/memories"): 0.25, ("POST", "/v1/chat/completions"): 0.15}
PLAIN = [("GET", "/v1/models"), ("GET", "/v1/openapi.json")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, negative_data_rejection]
# Without its security requirement: every case carries the token (the guards are tested in test_api_hardening),
# and schemathesis would otherwise count a case whose generated Authorization header was left out as a request
# that should have been refused.
# A request too long to read is refused with 413 (body) or 431 (head), which schemathesis counts as accepted.
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [
    400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, 431, "5xx"]}}})
SCHEMA = schemathesis.openapi.from_dict({k: v for k, v in openapi().items() if k != "security"}, config=CONFIG)


@pytest.fixture(scope="module")
def counted():
    """How many cases each route ran, to check the total once all routes are done."""
    seen: dict[tuple[str, str], int] = {}
    yield seen
    if all(route in seen for route in SHARE):
        assert sum(seen[route] for route in SHARE) >= EXAMPLES, seen


@pytest.fixture
def api(home, embedder, monkeypatch):
    monkeypatch.setenv("SECONDME_API_RATE_PER_MINUTE", "1000000")
    monkeypatch.setenv("SECONDME_MAX_TOKENS", "4")  # the few valid chat requests run the real model, briefly
    from assistant.app import App

    app = App()
    app.__dict__["embedder"] = embedder
    app.memory.remember("My sister Ana is a nurse in Porto")
    yield create_api(app, TOKEN)
    app.close()


@pytest.mark.parametrize("method, path", list(SHARE) + PLAIN)
def test_no_request_gets_a_server_error(api, counted, method, path):
    operation = SCHEMA[path][method]
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if (method, path) in PLAIN:  # nothing to break in a route without parameters or body
        cases = positive
    elif path == "/v1/chat/completions":  # its negative cases take twice as long to generate: 1 in 3
        cases = st.one_of(positive, positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    else:
        cases = st.one_of(positive, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    counted[(method, path)] = 0

    @settings(max_examples=round(EXAMPLES * SHARE.get((method, path), 0)) or 5, derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def one(case):
        counted[(method, path)] += 1
        response = case.call(base_url=BASE_URL, app=api, headers={"Authorization": f"Bearer {TOKEN}"})
        case.validate_response(response, checks=CHECKS)
        kind = response.headers.get("content-type", [""])
        kind = kind[0] if isinstance(kind, list) else kind
        assert kind.startswith(("application/json", "text/event-stream")), (response.status_code, kind)
        if kind.startswith("application/json") and response.status_code >= 400:
            assert response.json()["error"]["message"], response.text

    one()
