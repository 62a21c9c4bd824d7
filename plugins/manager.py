"""Loads plugins and calls their hooks. A plugin that raises, answers with something that is not what the hook
promises, or takes longer than the time limit, is disabled for the session; the others, and the write path, go on.

Load order: the built-ins, then third-party packages from the `secondme.plugins` entry-point group, then loose
`*.py` files in the data folder's `plugins/` directory. Every plugin, built-in or not, is registered the same way.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from plugins import hookspecs
from plugins.api import Candidate, Integration, PluginContext, Tool, Verdict, combine_verdicts, host_version
from storage.errors import UserError

log = logging.getLogger(__name__)

LOAD_ENV = "SECONDME_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # "builtin", "entry point <dist>", or the loose file's path
    hooks: list[str]
    status: str = "loaded"  # loaded | failed
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source, "hooks": self.hooks,
                "status": self.status, "error": self.error}


def allowed_names() -> set[str] | None:
    """SECONDME_LOAD_PLUGINS="a,b" loads only third-party plugins a and b; set but empty loads none."""
    raw = os.environ.get(LOAD_ENV)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


DEFAULT_TIMEOUT_S = 2.0


class PluginTimeout(Exception):
    """A hook ran past the host's time limit."""


class PluginHost:
    def __init__(self, disabled: Iterable[str] = (), timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.failed: dict[str, str] = {}
        self.disabled = set(disabled)
        self.info: dict[str, PluginInfo] = {}
        self._tools: dict[str, Tool] | None = None
        self.context: PluginContext | None = None  # given at startup
        # Hooks run on worker threads so a slow plugin can be given up on after timeout_s. Python cannot stop a
        # thread: a plugin that hangs keeps its thread, but it is disabled and nothing waits for it again.
        self.timeout_s = timeout_s
        self._workers: ThreadPoolExecutor | None = None  # started on the first call, again after a shutdown
        self.started = False
        self._integrations: dict[tuple[str, str], Integration] | None = None

    # -- loading ---------------------------------------------------------------------------------
    def register(self, plugin: object, name: str | None = None, version: str = "",
                 source: str = "runtime") -> str | None:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.disabled:
            log.info("plugin %s is disabled in the settings", name)
            return None
        if self._pm.has_plugin(name) or self._pm.get_plugin(name) is not None:
            log.warning("a plugin named %s is already loaded; %s skipped", name, source)
            return None
        try:
            registered = self._pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hook signatures at registration
            self._record_failure(name, version, source, exc)
            return None
        self.info[name] = PluginInfo(name, version, source, self._hooks_of(plugin))
        self._tools = self._integrations = None
        return registered

    def load_all(self, plugins_dir: Path | None = None) -> None:
        self.load_builtins()
        self.load_entry_points()
        if plugins_dir is not None:
            self.load_folder(plugins_dir)

    def load_builtins(self) -> None:
        from plugins.builtin import BUILTINS

        for name, value in BUILTINS:
            # The same EntryPoint.load() a third-party plugin goes through.
            ep = metadata.EntryPoint(name=name, value=value, group=hookspecs.ENTRY_POINT_GROUP)
            try:
                obj = ep.load()
                plugin = obj() if inspect.isclass(obj) else obj
            except Exception as exc:
                self._record_failure(name, host_version(), "builtin", exc)
                continue
            self.register(plugin, name=name, version=host_version(), source="builtin")

    def load_entry_points(self) -> None:
        allowed = allowed_names()
        for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            dist = getattr(ep, "dist", None)
            version = dist.version if dist is not None else ""
            source = f"entry point {dist.name if dist is not None else ep.value}"
            try:
                obj = ep.load()
                plugin = obj() if inspect.isclass(obj) else obj
            except Exception as exc:
                self._record_failure(ep.name, version, source, exc)
                continue
            self.register(plugin, name=ep.name, version=version, source=source)

    def load_folder(self, folder: Path) -> None:
        """Loose `*.py` files; each must resolve inside the folder (a symlink pointing elsewhere is refused)."""
        if not folder.is_dir():
            return
        allowed = allowed_names()
        root = folder.resolve()
        for path in sorted(folder.glob("*.py")):
            name = path.stem
            if allowed is not None and name not in allowed:
                continue
            real = path.resolve()
            if not real.is_relative_to(root) or not real.is_file():
                self._record_failure(name, "", str(path), UserError(f"{path} resolves outside {root}; refused"))
                continue
            try:
                spec = importlib.util.spec_from_file_location(f"secondme_plugin_{name}", real)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(f"secondme_plugin_{name}", None)
                self._record_failure(name, "", str(real), exc)
                continue
            self.register(module, name=name, version=str(getattr(module, "__version__", "")), source=str(real))

    # -- calling hooks ---------------------------------------------------------------------------
    def call(self, hook: str, expect: type | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call one hook on every plugin, in registration order, each guarded: a plugin that raises, runs past
        the time limit, or (with `expect`) returns something other than None or an `expect`, is disabled; the
        rest still run."""
        results = []
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            name = self._pm.get_name(impl.plugin)
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="secondme-plugin")
            future = self._workers.submit(impl.function, **{arg: kwargs[arg] for arg in impl.argnames})
            try:
                result = future.result(timeout=self.timeout_s)
            except FutureTimeout:
                self._disable(name, impl.plugin, PluginTimeout(
                    f"{hook} took longer than {self.timeout_s:g} s (plugin_timeout_s)"))
                continue
            except Exception as exc:
                self._disable(name, impl.plugin, exc)
                continue
            if expect is not None and result is not None and not isinstance(result, expect):
                self._disable(name, impl.plugin, TypeError(
                    f"{hook} returned {type(result).__name__}, not a plugins.api.{expect.__name__} or None"))
                continue
            results.append((name, result))
        return results

    def check_memory(self, candidate: Candidate, context: dict[str, Any] | None = None) -> Verdict:
        """Every plugin's verdict on the candidate, combined deterministically (see plugins.api)."""
        verdicts = [v if v.plugin else replace(v, plugin=name)
                    for name, v in self.call("check_memory", expect=Verdict, candidate=candidate,
                                             context=context or {})
                    if v is not None]
        return combine_verdicts(verdicts)

    def tools(self) -> dict[str, Tool]:
        if self._tools is None:
            self._tools = self._collect("register_tools", Tool)
        return self._tools

    def integrations(self) -> dict[tuple[str, str], Integration]:
        """Importers and exporters keyed by (kind, name)."""
        if self._integrations is None:
            found = self._collect("register_integrations", Integration)
            self._integrations = {(i.kind, i.name): i for i in found.values()}
        return self._integrations

    def run_integration(self, kind: str, name: str, path: Path,
                        progress: Callable[[int, int], None] | None = None) -> Any:
        """Run the importer or exporter `name`. `progress(done, total)` reaches the ones that take a `progress`
        keyword (the built-in importers do), so a front end can show how far a long import is."""
        found = self.integrations()
        if (kind, name) not in found:
            names = sorted(n for k, n in found if k == kind)
            raise UserError(f"No {kind}er named '{name}'; available: {', '.join(names) or 'none'}.")
        function = found[(kind, name)].function
        if self.context is None:
            raise RuntimeError("run_integration before startup(context)")
        if progress is not None and "progress" in inspect.signature(function).parameters:
            return function(self.context, Path(path), progress=progress)
        return function(self.context, Path(path))

    def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        import jsonschema

        tool = self.tools().get(name)
        if tool is None:
            raise UserError(f"No tool named '{name}'; available: {', '.join(sorted(self.tools())) or 'none'}.")
        try:
            jsonschema.validate(arguments, tool.parameters)
        except jsonschema.ValidationError as exc:
            raise UserError(f"Bad arguments for tool '{name}': {exc.message}.") from None
        return tool.function(**arguments)

    def on_turn(self, turn: dict[str, Any]) -> None:
        self.call("on_turn", turn=turn)

    def startup(self, context: PluginContext) -> None:
        self.context, self.started = context, True
        self.call("startup", context=context)

    def shutdown(self) -> None:
        if self.started:
            self.started = False
            self.call("shutdown", context=self.context)
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
            self._workers = None

    def register_commands(self, cli: Any) -> None:
        self.call("register_commands", cli=cli)

    def get_plugin(self, name: str) -> object | None:
        """The loaded plugin object registered under `name`, or None (not loaded, disabled or failed)."""
        return self._pm.get_plugin(name)

    def list(self) -> list[PluginInfo]:
        return sorted(self.info.values(), key=lambda i: (i.source != "builtin", i.name))

    # -- internals -------------------------------------------------------------------------------
    def _collect(self, hook: str, kind: type) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            plugin_name = self._pm.get_name(impl.plugin)
            collected: list[Any] = []

            def register(item: Any, _collected=collected) -> None:
                if not isinstance(item, kind):
                    raise TypeError(f"register() takes a plugins.api.{kind.__name__}, got {type(item).__name__}")
                _collected.append(item)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:
                self._disable(plugin_name, impl.plugin, exc)
                continue
            for item in collected:
                key = item.name if kind is Tool else f"{item.kind}:{item.name}"
                if key in found:
                    log.warning("%s %s from %s ignored: %s already provides it", kind.__name__, key, plugin_name,
                                found[key].plugin)
                    continue
                found[key] = replace(item, plugin=item.plugin or plugin_name)
        return found

    @staticmethod
    def _hooks_of(plugin: object) -> list[str]:
        names = [n for n in dir(plugin) if hasattr(hookspecs, n) and callable(getattr(plugin, n, None))]
        return sorted(n for n in names if getattr(getattr(plugin, n), f"{hookspecs.PROJECT}_impl", None) is not None)

    def _record_failure(self, name: str, version: str, source: str, exc: BaseException) -> None:
        log.error("plugin %s (%s) failed to load: %s: %s", name, source, type(exc).__name__, exc)
        self.failed[name] = f"{type(exc).__name__}: {exc}"
        self.info[name] = PluginInfo(name, version, source, [], status="failed", error=self.failed[name])

    def _disable(self, name: str, plugin: object, exc: Exception) -> None:
        log.error("plugin %s raised %s: %s; disabled for this session", name, type(exc).__name__, exc)
        self.failed[name] = f"{type(exc).__name__}: {exc}"
        if name in self.info:
            self.info[name].status, self.info[name].error = "failed", self.failed[name]
        self._pm.unregister(plugin)
        self._tools = self._integrations = None
