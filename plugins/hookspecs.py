"""Hook specifications: the whole plugin API. Implement any of these with `@hookimpl` from `plugins.api`.

Every hook is optional. Hooks are called with keyword arguments, so an implementation may accept only the
arguments it needs (pluggy matches them by name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.api import ENTRY_POINT_GROUP, PROJECT, Candidate, PluginContext, Verdict, hookimpl, hookspec

__all__ = ["ENTRY_POINT_GROUP", "PROJECT", "hookimpl", "hookspec"]


@hookspec
def check_memory(candidate: Candidate, context: dict[str, Any]) -> Verdict | None:
    """Judge a memory before it is stored. Return a Verdict, or None to abstain.

    `context` holds read-only helpers, e.g. `context["similar"]`: the nearest active memories
    (list of MemoryRecord) so conflict checks need no database access of their own, and
    `context["embedding"]`: the candidate's L2-normalised vector (numpy array) when the write path has one.
    """


@hookspec
def register_integrations(register: Callable[..., None]) -> None:
    """Offer importers and exporters: call `register(plugins.api.Integration(...))` once per integration."""


@hookspec
def register_tools(register: Callable[..., None]) -> None:
    """Offer functions the assistant may call: `register(plugins.api.Tool(name, description, parameters, function))`.

    `parameters` is a JSON schema (type "object") describing the keyword arguments of `function`.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add CLI commands: `cli` is the root typer.Typer, e.g. `@cli.command() def hello(): ...`."""


@hookspec
def on_turn(turn: dict[str, Any]) -> None:
    """Told after each chat turn: {"session_id", "user", "assistant", "memory_ids", "episode_id"}. Keep it quick."""


@hookspec
def startup(context: PluginContext) -> None:
    """Called once when the application's plugin host is built: keep `context` (settings, data folder, logger,
    memory access, embedder) for later hooks."""


@hookspec
def shutdown(context: PluginContext) -> None:
    """Called once when the application closes."""
