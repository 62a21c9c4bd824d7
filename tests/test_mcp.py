"""The MCP server: in process on the real app, and as `secondme mcp` driven by the official client over stdio."""

from __future__ import annotations

import json
import os
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

from assistant.api.mcp_server import create_mcp_server
from tests.conftest import REPO, run_cli

TOOLS = {"recall", "remember", "forget", "list_memories", "profile"}


def _json(result):
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def test_tools_advertise_what_they_enforce(app):
    async def session():
        async with Client(create_mcp_server(app)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                schema = tool.input_schema
                assert schema["additionalProperties"] is False and len(tool.description) > 60
                assert all(p.get("description") for p in schema["properties"].values()), tool.name
            k = tools["recall"].input_schema["properties"]["k"]
            assert (k["minimum"], k["maximum"]) == (1, 20) and tools["recall"].input_schema["required"] == ["query"]
            assert tools["recall"].annotations.read_only_hint is True
            assert tools["forget"].annotations.destructive_hint is True
            assert tools["remember"].annotations.read_only_hint is False
            bad = {
                "pinned": await client.call_tool("remember", {"text": "I like tea.", "pinned": True}),
                "type": await client.call_tool("recall", {"query": "tea", "k": "two"}),
                "range": await client.call_tool("recall", {"query": "tea", "k": 500}),
                "missing": await client.call_tool("recall", {}),
                "blank": await client.call_tool("recall", {"query": "   "}),
                "unknown": await client.call_tool("delete_everything", {}),
                "no such id": await client.call_tool("forget", {"id": 999}),
            }
            return bad

    bad = anyio.run(session)
    for case, result in bad.items():
        text = result.content[0].text
        assert result.is_error, case
        # One sentence: no pydantic dump, no link, no traceback.
        assert "\n" not in text and "http" not in text and "pydantic" not in text.lower(), (case, text)
    assert "'pinned'" in bad["pinned"].content[0].text and "text" in bad["pinned"].content[0].text
    assert "whole number" in bad["type"].content[0].text
    assert "between 1 and 20" in bad["range"].content[0].text
    assert "query" in bad["missing"].content[0].text
    assert "empty" in bad["blank"].content[0].text
    assert "recall" in bad["unknown"].content[0].text
    assert app.memory.list() == []  # the refused `pinned` call stored nothing


def test_remember_recall_list_forget_and_profile(app):
    async def session():
        async with Client(create_mcp_server(app)) as client:
            stored = _json(await client.call_tool("remember", {"text": "The wifi password hint is 'blue whale'."}))
            _json(await client.call_tool("remember", {"text": "I play the cello on Sundays."}))
            recalled = _json(await client.call_tool("recall", {"query": "wifi password hint", "k": 2}))
            unrelated = _json(await client.call_tool("recall", {"query": "quantum chromodynamics lattice"}))
            listed = _json(await client.call_tool("list_memories", {"limit": 5}))
            forgotten = _json(await client.call_tool("forget", {"id": stored["id"], "reason": "changed"}))
            after = _json(await client.call_tool("recall", {"query": "wifi password hint"}))
            profile = _json(await client.call_tool("profile", {}))
            return stored, recalled, unrelated, listed, forgotten, after, profile

    stored, recalled, unrelated, listed, forgotten, after, profile = anyio.run(session)
    assert stored["status"] == "active"
    top = recalled[0]
    assert "blue whale" in top["text"] and top["rank"] == 1 and "shares words" in top["matched"]
    assert top["source"] == "api" and top["recorded_at"][:4].isdigit() and "score" not in top
    assert unrelated == []  # the relevance floor: nothing relevant is an empty answer
    assert [m["text"] for m in listed][0] == "I play the cello on Sundays." and len(listed) == 2
    assert forgotten["status"] == "archived" and all(h["id"] != stored["id"] for h in after)
    assert profile == []
    memory = app.memory.list(status=None)[-1]
    assert memory.source == "api" and memory.provenance == {"via": "mcp"}


def test_profile_lines_come_back_with_their_section(app):
    app.memory.remember("Works as a nurse at the city hospital.", kind="profile", source="assistant",
                        provenance={"section": "work"})

    async def session():
        async with Client(create_mcp_server(app)) as client:
            return _json(await client.call_tool("profile", {}))

    lines = anyio.run(session)
    assert [(line["section"], line["text"]) for line in lines] == [("work", "Works as a nurse at the city hospital.")]


def test_the_stdio_server_over_the_official_client_lists_calls_refuses_and_survives_a_cancel(home):
    env = {**os.environ, "SECONDME_HOME": str(home), "PYTHONPATH": str(REPO)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant", "mcp"], env=env, cwd=REPO)

    async def session():
        async with Client(params, read_timeout_seconds=120) as client:
            assert str(home) in (client.instructions or "")  # the data folder it serves
            tools = {t.name for t in (await client.list_tools()).tools}
            with anyio.move_on_after(0.05) as scope:  # the first recall loads the embedder: still running
                await client.call_tool("recall", {"query": "anything at all"})
            cancelled = scope.cancelled_caught
            stored = _json(await client.call_tool("remember", {"text": "My bike is a green Gazelle."}))
            refused = await client.call_tool("remember", {"text": "x", "pinned": True})
            recalled = _json(await client.call_tool("recall", {"query": "what bike do I have"}))
            return tools, cancelled, stored, refused, recalled

    tools, cancelled, stored, refused, recalled = anyio.run(session)
    assert tools == TOOLS and cancelled and stored["status"] == "active"
    assert refused.is_error and "pinned" in refused.content[0].text
    assert recalled[0]["id"] == stored["id"]


def test_the_server_says_on_stderr_which_data_folder_it_serves_and_keeps_stdout_clean(home):
    out = run_cli("mcp", input=b"")  # stdin closed at once: it starts, announces and exits
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"" and str(home).encode() in out.stderr


@pytest.mark.parametrize("host, key", [("claude", "mcpServers"), ("cursor", "mcpServers"), ("vscode", "servers")])
def test_print_config_gives_the_host_json_with_absolute_paths(home, host, key):
    out = run_cli("mcp", "--print-config", host)
    assert out.returncode == 0, out.stderr
    server = json.loads(out.stdout)[key]["secondme"]
    assert os.path.isabs(server["command"]) and os.path.exists(server["command"])
    assert server["args"][-1] == "mcp" and server["env"]["SECONDME_HOME"] == str(home.resolve())
    assert host != "vscode" or server["type"] == "stdio"
    assert run_cli("mcp", "--print-config", "emacs").returncode != 0
