"""Loads plugins and calls their hooks. A plugin that raises is disabled for the session, never fatal."""

from __future__ import annotations

import logging
from typing import Any

import pluggy

from plugins import hookspecs
from plugins.api import MemoryCandidate, Verdict, combine_verdicts

log = logging.getLogger(__name__)


class PluginHost:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failed: dict[str, str] = {}

    def register(self, plugin: object, name: str | None = None) -> str:
        return self.pm.register(plugin, name=name)

    def check_memory(self, candidate: MemoryCandidate, context: dict[str, Any] | None = None) -> Verdict:
        """Every plugin's verdict on the candidate, combined deterministically (see plugins.api)."""
        verdicts = []
        for impl in self.pm.hook.check_memory.get_hookimpls():
            name = self.pm.get_name(impl.plugin)
            try:
                verdict = impl.function(candidate=candidate, context=context or {})
            except Exception as exc:
                self._disable(name, impl.plugin, exc)
                continue
            if verdict is not None:
                verdicts.append(verdict if verdict.plugin else _named(verdict, name))
        return combine_verdicts(verdicts)

    def _disable(self, name: str, plugin: object, exc: Exception) -> None:
        log.error("plugin %s raised %s: %s; disabled for this session", name, type(exc).__name__, exc)
        self.failed[name] = f"{type(exc).__name__}: {exc}"
        self.pm.unregister(plugin)


def _named(verdict: Verdict, plugin: str) -> Verdict:
    from dataclasses import replace

    return replace(verdict, plugin=plugin)
