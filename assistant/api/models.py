"""The local API's request bodies as pydantic models, and the OpenAPI document built from them.

Bodies are parsed by pydantic straight from bytes: its JSON parser stops at a nesting limit with a validation
error (Python's json module raises RecursionError), strict types keep a number out of a text field, and integer
ranges keep SQLite's 64-bit limit out of reach. Every problem becomes one line for a 400 answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from pydantic.json_schema import models_json_schema

SQLITE_INT_MAX = 2**63 - 1
MAX_MESSAGES = 512
# The embedder reads about 256 tokens; and at 12 bytes a character percent-encoded, 1000 keep a URL under the
# 16 KiB request-head limit.
MAX_QUERY_CHARS = 1000


class AddMemory(BaseModel):
    """POST /v1/memories."""

    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field(min_length=1, pattern=r"\S", description="What to remember.")
    kind: Literal["fact", "episode", "thought"] = "fact"


class SearchMemories(BaseModel):
    """GET /v1/memories query parameters (strings from the URL, so numbers are read from text)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt parameter (?Q=, ?limit=) is an error, not ignored
    q: StrictStr = Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")
    k: int = Field(5, ge=1, le=50)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: StrictStr
    text: StrictStr | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[TextPart] | None = None


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions: OpenAI's shape; fields this API does not use (temperature ...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: StrictStr | None = None
    stream: StrictBool = False
    session_id: Annotated[int, Field(strict=True, ge=1, le=SQLITE_INT_MAX)] | None = None


# What to tell the caller about each top-level field, instead of pydantic's wording.
FIELD_HELP = {
    "text": "Give the memory as a JSON object with a non-empty string field 'text'.",
    "kind": "kind must be fact, episode or thought.",
    "q": f"Give the search words as ?q=... (1 to {MAX_QUERY_CHARS} characters).",
    "k": "k must be a whole number between 1 and 50.",
    "messages": f"'messages' must be a list of 1 to {MAX_MESSAGES} {{role, content}} objects, each content a "
                "string or a list of {type, text} parts with string text.",
    "model": "model must be a string, e.g. \"secondme\".",
    "stream": "stream must be true or false.",
    "session_id": f"session_id must be a whole number from 1 to {SQLITE_INT_MAX} (from an earlier response).",
}


def validation_message(exc: ValidationError) -> str:
    """One line saying what to fix, from the first problem pydantic found."""
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        if "recursion" in first.get("msg", "").lower():
            return "The request body is nested too deeply; send a flatter JSON object."
        return "The request body is not valid JSON; send a JSON object."
    if first["type"] in ("model_type", "dict_type", "model_attributes_type") and not first["loc"]:
        return "The request body must be a JSON object."
    if first["type"] == "extra_forbidden":
        return f"Unknown field or parameter '{first['loc'][0]}'; see GET /v1/openapi.json for what this route takes."
    field = str(first["loc"][0]) if first["loc"] else ""
    return FIELD_HELP.get(field, f"{field}: {first['msg']}; see GET /v1/openapi.json.")


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the local API (served at GET /v1/openapi.json)."""
    _, schemas = models_json_schema(
        [(m, "validation") for m in (AddMemory, ChatCompletionRequest)],
        ref_template="#/components/schemas/{model}")
    components = schemas.get("$defs", {})
    error = {"description": "An error",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    components["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"}}}}}
    errors = {str(code): error for code in (400, 401, 413, 429, 431)}

    def body(model: type[BaseModel]) -> dict:
        return {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}

    def ok(description: str, code: str = "200") -> dict:
        return {code: {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}}

    search_params = [
        {"name": "q", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}},
        {"name": "k", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "secondme local API", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/v1/memories": {
                "get": {"operationId": "searchMemories", "parameters": search_params,
                        "responses": {**ok("Memories that match, best first"), **errors}},
                "post": {"operationId": "addMemory", "requestBody": body(AddMemory),
                         "responses": {**ok("The stored memory", "201"), **errors}},
            },
            "/v1/models": {"get": {"operationId": "listModels", "responses": {**ok("The model list"), **errors}}},
            "/v1/chat/completions": {"post": {
                "operationId": "chatCompletions", "requestBody": body(ChatCompletionRequest),
                "responses": {**ok("The answer (server-sent events when stream is true)"), **errors}}},
            "/v1/openapi.json": {"get": {"operationId": "openapi", "responses": {**ok("This document"), **errors}}},
        },
    }
