"""An example secondme plugin. secondme finds it through the `secondme.plugins` entry point in pyproject.toml."""

from __future__ import annotations

import re

# hookimpl is secondme's marker: implementations are matched to its hook specifications by name.
from plugins.api import Decision, PluginContext, Tool, Verdict, hookimpl

__version__ = "0.1.0"

SECRET = re.compile(r"\b(password|passwd|api[_ -]?key|secret key)\b\s*(is|=|:)\s*\S+|\bsk-[A-Za-z0-9]{16,}", re.I)


class ExamplePlugin:
    def __init__(self) -> None:
        self.turns = 0
        self.started = False

    @hookimpl
    def check_memory(self, candidate, context):
        if SECRET.search(candidate.text):
            return Verdict(Decision.QUARANTINE, "looks like it holds a password or API key", confidence=0.9)
        return None  # abstain: no opinion on everything else

    @hookimpl
    def register_tools(self, register):
        register(Tool(
            name="word_count",
            description="Count the words in a text.",
            parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
                        "additionalProperties": False},
            function=lambda text: {"words": len(text.split())},
        ))

    @hookimpl
    def register_commands(self, cli):
        import typer

        @cli.command("example-hello")
        def hello(name: str = typer.Argument("world")) -> None:
            """Say hello (from the example plugin)."""
            typer.echo(f"hello, {name}, from secondme-plugin-example")

    @hookimpl
    def on_turn(self, turn):
        self.turns += 1

    @hookimpl
    def startup(self, context: PluginContext):
        self.started = True

    @hookimpl
    def shutdown(self, context: PluginContext):
        self.started = False
