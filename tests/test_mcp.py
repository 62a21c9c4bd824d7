"""The MCP server, through an in-process MCP client session on the real app."""

from __future__ import annotations

import anyio
from mcp import Client

from assistant.api.mcp_server import create_mcp_server


def test_mcp_clients_can_remember_and_recall(app):
    server = create_mcp_server(app)

    async def session():
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"recall", "remember"} and "query" in tools["recall"].input_schema["properties"]
            stored = await client.call_tool("remember", {"text": "The wifi password hint is 'blue whale'."})
            recalled = await client.call_tool("recall", {"query": "wifi hint", "k": 2})
            empty = await client.call_tool("recall", {"query": "   "})
            return stored, recalled, empty

    stored, recalled, empty = anyio.run(session)
    assert not stored.is_error and not recalled.is_error
    assert "blue whale" in recalled.content[0].text
    memory = app.memory.list()[0]
    assert memory.source == "api" and memory.provenance == {"via": "mcp"}
    assert empty.is_error and "empty" in empty.content[0].text
