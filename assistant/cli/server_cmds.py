"""serve (the local HTTP API) and mcp (the MCP stdio server)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import typer

from assistant.cli.base import app, get_app


@app.command()
def serve(
    port: int = typer.Option(None, "--port", min=1024, max=65535,
                            help="Port on 127.0.0.1 (default from settings: api_port)."),
    show_token: bool = typer.Option(False, "--show-token", help="Print the bearer token and exit."),
    rotate_token: bool = typer.Option(False, "--rotate-token", help="Make a new token (the old one stops working)."),
) -> None:
    """Serve the local API on 127.0.0.1: OpenAI-compatible /v1/chat/completions and /v1/memories."""
    a = get_app()
    token = a.secrets.api_token(rotate=rotate_token)
    if show_token:
        typer.echo(token)
        return
    from assistant.api.server import run_server

    a.start_background_work()  # a server runs for long: upkeep jobs and fact extraction run beside it
    a.warm_up()
    port = port or a.settings.api_port
    typer.echo(f"secondme API on http://127.0.0.1:{port}/v1 (bearer token in {a.secrets.backend_name}; "
               "print it with: secondme serve --show-token)", err=True)
    run_server(a, token, port)


HOSTS = ("claude", "cursor", "vscode")


@app.command()
def mcp(
    print_config: str = typer.Option(None, "--print-config", metavar="claude|cursor|vscode",
                                     help="Print the JSON that registers this server with the host, and exit."),
) -> None:
    """Run the MCP server on standard input/output: recall, remember, forget, list_memories and profile."""
    if print_config is not None:
        if print_config not in HOSTS:
            raise typer.BadParameter(f"use one of: {', '.join(HOSTS)}", param_hint="--print-config")
        typer.echo(json.dumps(mcp_host_config(print_config), indent=2))
        return
    from assistant.api.mcp_server import announce, create_mcp_server

    a = get_app()
    announce(a)  # stderr: stdout is the protocol
    create_mcp_server(a).run("stdio")


def mcp_host_config(host: str) -> dict[str, Any]:
    """The host's MCP configuration for this installation: the executable's absolute path and the data folder
    in use now, so a host that starts the server with a bare environment still serves the same memory."""
    from assistant.config import load_settings

    env = {"SECONDME_HOME": str(Path(load_settings().home).expanduser().resolve())}
    if os.environ.get("SECONDME_CONFIG"):
        env["SECONDME_CONFIG"] = str(Path(os.environ["SECONDME_CONFIG"]).expanduser().resolve())
    script = Path(sys.executable).parent / ("secondme.exe" if os.name == "nt" else "secondme")
    found = shutil.which("secondme")
    if script.is_file():
        command, args = str(script), ["mcp"]
    elif found:
        command, args = str(Path(found).resolve()), ["mcp"]
    else:  # running from a source tree without the entry point installed
        command, args = str(Path(sys.executable).absolute()), ["-m", "assistant", "mcp"]
    server: dict[str, Any] = {"command": command, "args": args, "env": env}
    if host == "vscode":  # .vscode/mcp.json
        return {"servers": {"secondme": {"type": "stdio", **server}}}
    return {"mcpServers": {"secondme": server}}  # Claude Desktop's and Cursor's mcp.json
