"""The plugin loader: built-ins, the loose plugins folder, disabling, SECONDME_LOAD_PLUGINS, failing plugins."""

from __future__ import annotations

import json
import textwrap

import pytest

from plugins.api import Candidate, Tool, hookimpl
from plugins.manager import PluginHost
from storage.errors import UserError
from tests.conftest import run_cli

LOOSE = textwrap.dedent('''
    import pluggy
    from plugins.api import Verdict
    __version__ = "2.0"
    hookimpl = pluggy.HookimplMarker("secondme")

    @hookimpl
    def check_memory(candidate, context):
        if "pineapple" in candidate.text:
            return Verdict("reject", "no pineapple facts")

    @hookimpl
    def register_commands(cli):
        @cli.command("loose-hello")
        def hello():
            print("hello from a loose plugin")
''')
CANDIDATE = Candidate(text="pineapple belongs on pizza", kind="fact", source="user", trust=1.0)


def write_loose(home, name="loose", body=LOOSE):
    folder = home / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(body)
    return folder


def test_builtins_then_the_plugins_folder_are_loaded_with_their_hooks(home):
    folder = write_loose(home)
    host = PluginHost()
    host.load_all(folder)
    info = {p.name: p for p in host.list()}
    assert {"poisoning-guard", "conflict-checker", "integrations", "memory-tools"} <= set(info)
    assert info["poisoning-guard"].source == "builtin" and "check_memory" in info["poisoning-guard"].hooks
    assert info["loose"].version == "2.0" and info["loose"].hooks == ["check_memory", "register_commands"]
    assert host.check_memory(CANDIDATE).decision == "reject"


def test_a_file_that_resolves_outside_the_folder_is_refused(home, tmp_path):
    outside = tmp_path / "evil.py"
    outside.write_text(LOOSE)
    folder = home / "plugins"
    folder.mkdir(parents=True)
    (folder / "evil.py").symlink_to(outside)
    host = PluginHost()
    host.load_folder(folder)
    assert host.get_plugin("evil") is None and "outside" in host.failed["evil"]


def test_settings_disable_a_plugin_by_name_and_the_env_restricts_third_party_loading(home, monkeypatch):
    folder = write_loose(home)
    write_loose(home, "other", "X = 1\n")
    host = PluginHost(disabled=["loose", "conflict-checker"])
    host.load_all(folder)
    names = {p.name for p in host.list()}
    assert "loose" not in names and "conflict-checker" not in names and "other" in names
    monkeypatch.setenv("SECONDME_LOAD_PLUGINS", "other")
    host = PluginHost()
    host.load_all(folder)
    names = {p.name for p in host.list()}
    assert "loose" not in names and "other" in names and "poisoning-guard" in names


def test_a_plugin_that_fails_to_import_or_raises_in_startup_is_disabled_and_the_rest_run(home):
    folder = write_loose(home)
    write_loose(home, "broken_import", "raise RuntimeError('cannot import me')\n")

    class CrashOnStartup:
        @hookimpl
        def startup(self, context):
            raise ValueError("boom")

        @hookimpl
        def check_memory(self, candidate, context):
            raise AssertionError("must not be called after being disabled")

    host = PluginHost()
    host.load_all(folder)
    host.register(CrashOnStartup(), name="crash")
    host.startup(None)
    assert "RuntimeError" in host.failed["broken_import"] and "ValueError" in host.failed["crash"]
    assert host.check_memory(CANDIDATE).decision == "reject"
    assert {p.name: p.status for p in host.list()}["crash"] == "failed"


def test_tools_carry_a_json_schema_and_arguments_are_validated():
    class Adder:
        @hookimpl
        def register_tools(self, register):
            register(Tool("add", "Add two integers.", {"type": "object", "properties": {
                "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}, lambda a, b: a + b))

    host = PluginHost()
    host.register(Adder(), name="adder")
    assert host.tools()["add"].plugin == "adder"
    assert host.call_tool("add", {"a": 2, "b": 3}) == 5
    with pytest.raises(UserError, match="Bad arguments"):
        host.call_tool("add", {"a": "two", "b": 3})
    with pytest.raises(UserError, match="No tool named"):
        host.call_tool("subtract", {})


def test_the_memory_tools_recall_and_remember_through_the_real_app(app):
    app.plugins.call_tool("remember", {"text": "The spare key is under the blue flowerpot."})
    hits = app.plugins.call_tool("recall", {"query": "where is the spare key", "k": 3})
    assert "flowerpot" in hits[0]["text"]


def test_secondme_plugins_lists_loaded_plugins_and_a_plugin_command_runs(home):
    write_loose(home)
    listed = run_cli("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {p["name"]: p for p in json.loads(listed.stdout)}
    assert (rows["loose"]["source"].endswith("loose.py")
            and rows["memory-tools"]["hooks"] == ["register_tools", "startup"])
    text = run_cli("plugins")
    assert "poisoning-guard" in text.stdout.decode() and "hooks: check_memory" in text.stdout.decode()
    hello = run_cli("loose-hello")
    assert hello.returncode == 0 and b"hello from a loose plugin" in hello.stdout
