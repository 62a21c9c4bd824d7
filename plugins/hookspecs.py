"""Hook specifications: the whole plugin API. Implement any of these with `@hookimpl` from `plugins`."""

from __future__ import annotations

from typing import Any

import pluggy

from plugins.api import MemoryCandidate, Verdict

PROJECT = "secondme"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def check_memory(candidate: MemoryCandidate, context: dict[str, Any]) -> Verdict | None:
    """Judge a memory before it is stored. Return a Verdict, or None to abstain.

    `context` holds read-only helpers, e.g. `context["similar"]`: the nearest active memories
    (list of MemoryRecord) so conflict checks need no database access of their own.
    """
