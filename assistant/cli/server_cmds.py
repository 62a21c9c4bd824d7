"""serve (the local HTTP API) and mcp (the MCP stdio server)."""

from __future__ import annotations

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


@app.command()
def mcp() -> None:
    """Run the MCP server on standard input/output, exposing the recall and remember tools."""
    from assistant.api.mcp_server import create_mcp_server

    create_mcp_server(get_app()).run("stdio")
