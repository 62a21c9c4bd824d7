"""Running an importer for a front end (CLI, desktop app): the plugin host's run_integration, plus `mine`.

An import marked as the user's own (`mine=True`: the user's notes, the user's chat exports) is stored through the
user's channel and meets the user channel's rules; importers that take a `mine` keyword support it (the built-in
ones do). Whatever an importer returns is turned into one report shape for display.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins.manager import PluginHost
from storage.errors import UserError


def run_import(plugins: PluginHost, name: str, path: Path, progress: Callable[[int, int], None] | None = None,
               mine: bool = False) -> Any:
    if not mine:
        return plugins.run_integration("import", name, path, progress=progress)
    found = plugins.integrations().get(("import", name))
    if found is None or plugins.context is None:
        return plugins.run_integration("import", name, path, progress=progress)  # its one-line error
    parameters = inspect.signature(found.function).parameters
    if "mine" not in parameters:
        raise UserError(f"The {name} importer cannot mark an import as your own; import it without --mine.")
    options: dict[str, Any] = {"mine": True}
    if progress is not None and "progress" in parameters:
        options["progress"] = progress
    return found.function(plugins.context, Path(path), **options)


def report_json(report: Any) -> dict[str, Any]:
    """The report as JSON; a third-party importer returning a plain count becomes {"stored": count}."""
    if hasattr(report, "to_json"):
        out: dict[str, Any] = report.to_json()
        return out
    return {"stored": int(report) if isinstance(report, int) else 0}


def report_lines(report: Any) -> list[str]:
    if hasattr(report, "summary"):
        lines: list[str] = report.summary()
        return lines
    return [f"Stored {report_json(report)['stored']} memories."]
