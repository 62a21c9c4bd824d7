"""Bounded CLI parameters: every number a command takes has a range, checked by the parser before any work.

Out of range, the command stops with one line (`error: Invalid value for '--k': ...`) and exit code 2 instead of
reaching SQLite (which overflows past 2^63 - 1) or Chroma with a number it cannot take. Dates go through
assistant.timeparse.parse_when, which keeps them between the years 1900 and 2200.
"""

from __future__ import annotations

from typing import Any

import typer

SQLITE_INT_MAX = 2**63 - 1  # SQLite's INTEGER is 64-bit signed
RECALL_K_MAX = 200  # as settings.recall_k


def id_argument(help: str, default: Any = ...) -> Any:  # noqa: A002 (typer's parameter name)
    """A database id: 1 to SQLite's largest integer."""
    return typer.Argument(default, min=1, max=SQLITE_INT_MAX, help=help, show_default=False)


def id_option(*names: str, help: str) -> Any:  # noqa: A002
    return typer.Option(None, *names, min=1, max=SQLITE_INT_MAX, help=help)


def limit_option(default: int | None, help: str = "Show at most this many.") -> Any:  # noqa: A002
    return typer.Option(default, "--limit", min=1, max=SQLITE_INT_MAX, help=help)


def offset_option() -> Any:
    return typer.Option(0, "--offset", min=0, max=SQLITE_INT_MAX, help="Skip this many first.")
