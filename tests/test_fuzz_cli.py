"""Fuzzing the `secondme` command line: random commands, options and values through the real entry point.

Every command and parameter is read from the CLI itself (a new option is fuzzed without touching this file), and
run in this process through `main()` on a temporary data folder. Whatever comes in, the command must end with
exit code 0, 1, 2 or 130 and no traceback; an out-of-range number must end with exit code 2 and a one-line error.
SECONDME_FUZZ_EXAMPLES sets the number of cases (default 2000, under a minute on 2 cores).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import typing
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assistant.cli as cli
import assistant.cli.base as cli_base

EXAMPLES = int(os.environ.get("SECONDME_FUZZ_EXAMPLES", "2000"))

# Left out, with why: each runs a language model, a server or a window, or waits for a person.
EXCLUDED = {
    ("chat",): "an interactive session with the chat model",
    ("ask",): "answers with the chat model (seconds a case)",
    ("serve",): "serves until stopped",
    ("mcp",): "serves on standard input until it closes",
    ("models", "download"): "downloads from the network",
    ("jobs", "run"): "reflection and consolidation run the chat model",
    ("extract",): "runs the chat model over queued turns",
}
# Commands after which the App is built anew: they replace or remove the data folder under it.
REBUILDS_APP = {("wipe",), ("restore",)}

DATES = ["1 Jan 0001", "3000-01-01", "1899-12-31", "1900-01-01", "2200-12-31", "2201-01-01", "9999-12-31",
         "0000-00-00", "yesterday", "2023-05-08 13:56", "8 May 2023", "in 500 years", "10000 years ago",
         "99999999999999999999", "-1", "", " ", "tomorrow at 25:61", "31 Feb 2023"]
SQLITE_EDGES = [0, 1, -1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30]
# What a real argv can hold: any Unicode but NUL (execve cannot pass it), including the lone surrogates Python
# makes of bytes that are not UTF-8 (surrogateescape).
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
               | st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), max_size=30)


def _commands() -> list[tuple[tuple[str, ...], object]]:
    found = []

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, path + (name,))
        elif path not in EXCLUDED:
            found.append((path, command))

    walk(typer.main.get_command(cli.app), ())
    return found


def _base_type(param) -> type:
    annotation = param.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def _value(param, paths: list[str]) -> st.SearchStrategy[str]:
    kind = _base_type(param)
    if kind is int:
        low = param.min if param.min is not None else -(2**63)
        high = param.max if param.max is not None else 2**63 - 1
        edges = SQLITE_EDGES + [low - 1, low, high, high + 1]
        return st.one_of(st.integers(-5, 50), st.sampled_from(edges), st.integers(-(2**70), 2**70)).map(str) | TEXT
    if kind is Path:
        return st.sampled_from(paths)
    if param.name in ("at", "as_of"):
        return st.sampled_from(DATES) | TEXT
    if param.name in ("kind", "source", "status", "fmt", "name"):
        choices = ["fact", "episode", "summary", "thought", "profile", "user", "api", "plugin", "active", "all",
                   "deleted", "markdown", "json", "obsidian", "chatgpt", "forgetting", "-"]
        return st.sampled_from(choices) | TEXT
    return st.sampled_from(["-", "My sister Ana is a nurse in Porto", "what does my sister do"]) | TEXT


@st.composite
def invocations(draw, commands, paths):
    """(argv, the out-of-range number in it or None)."""
    path, command = draw(st.sampled_from(commands))
    argv, options, out_of_range = list(path), [], None
    for param in command.params:
        if param.param_type_name == "argument":
            if not param.required and draw(st.booleans()):
                continue
            value = draw(_value(param, paths))
            argv.append(value)
        elif draw(st.integers(0, 2)) == 0:
            if param.is_flag:
                options.append(param.opts[0])
                continue
            value = draw(_value(param, paths))
            options += [draw(st.sampled_from(param.opts)), value]
        else:
            continue
        if _base_type(param) is int and re.fullmatch(r"-?[0-9]+", value):
            number = int(value)
            if (param.min is not None and number < param.min) or (param.max is not None and number > param.max):
                out_of_range = out_of_range or f"{param.name}={value}"
    if draw(st.integers(0, 20)) == 0:
        options.append(draw(st.sampled_from(["--bogus", "-x", "--json=maybe", "extra"])))
    return argv + options, out_of_range


_build = typer.main.get_command


def _run(argv: list[str], stdin: bytes) -> tuple[int, str]:
    """main(argv) as the process would run it: (exit code, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = saved_stdin
    return code, err.getvalue()


@pytest.fixture
def fuzz_home(home, embedder, tmp_path, monkeypatch):
    """The real App on the test's data folder, with plugins loaded once (as one process does), and files for
    the path arguments, all inside tmp_path."""
    cli.load_plugin_commands()
    monkeypatch.setattr(cli, "load_plugin_commands", lambda: None)
    # Typer builds the click command tree from the app on each call (about 50 ms, most of a case's time):
    # a process does it once, and so does this test.
    built = typer.main.get_command(cli.app)
    monkeypatch.setattr(typer.main, "get_command", lambda app: built if app is cli.app else _build(app))
    monkeypatch.setenv("SECONDME_MAX_TOKENS", "8")
    files = tmp_path / "files"
    files.mkdir()
    (files / "note.txt").write_text("I keep the spare key under the blue pot.\n", encoding="utf-8")
    (files / "lines.jsonl").write_text('{"text": "The dentist is Dr. Silva"}\n{"text": 5}\n', encoding="utf-8")
    (files / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (files / "notes").mkdir()
    (files / "notes" / "a.md").write_text("---\ntitle: a\n---\nI like tea.\n", encoding="utf-8")
    paths = [str(p) for p in (files / "note.txt", files / "lines.jsonl", files / "latin1.txt", files / "notes",
                              files / "missing.txt", files / "out", files / "backup.secondme")]
    app = _fresh_app(embedder)
    app.memory.remember("My sister Ana is a nurse in Porto")
    yield paths
    if cli_base._app_instance is not None:
        cli_base._app_instance.close()


def _fresh_app(embedder):
    """The CLI's App, built with the shared embedder (loading it per command would take the whole time budget)."""
    from assistant.app import App

    cli_base._app_instance = App(embedder=embedder, plugins=cli_base._plugin_host)
    return cli_base._app_instance


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # a passphrase prompt reading from a pipe
def test_no_command_line_ends_in_a_traceback(fuzz_home, embedder):
    commands = _commands()
    assert len(commands) >= 25, [p for p, _ in commands]
    ran = []

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=invocations(commands, fuzz_home), stdin=st.sampled_from([b"", b"yes\n", b"I like tea\n", b"\xff\xfe"]))
    def one(case, stdin):
        argv, out_of_range = case
        ran.append(argv)
        code, err = _run(argv, stdin)
        assert "Traceback" not in err, (argv, err)
        assert code in (0, 1, 2, 130), (argv, code, err)
        if out_of_range:
            assert code == 2, (argv, out_of_range, err)
        if code == 2:  # one error line, the last (a prompt read from stdin may stand before it on that line)
            lines = [line for line in err.splitlines() if line.strip()]
            assert [line for line in lines if "error: " in line] == lines[-1:], (argv, err)
        if tuple(argv[:1]) in REBUILDS_APP or cli_base._app_instance is None:
            if cli_base._app_instance is not None:
                cli_base._app_instance.close()
            _fresh_app(embedder)

    one()
    assert len(ran) >= EXAMPLES


@pytest.mark.parametrize("argv", [
    ["recall", "x", "--k", "99999999999"],
    ["memories", "list", "--limit", str(2**63)], ["memories", "list", "--limit", "-1"],
    ["memories", "list", "--offset", "-1"], ["memories", "show", str(2**63)], ["memories", "delete", "0", "--yes"],
    ["sessions", "search", "x", "--limit", "0"], ["jobs", "history", "--limit", "-5"],
    ["jobs", "inbox", "--limit", "0"],
    ["forget-session", str(2**64)], ["extract", "--limit", "0"],
    ["ask", "hello", "--session", str(2**63)], ["chat", "--session", "0"], ["serve", "--port", "80"],
    ["recall", "x", "--as-of", "1 Jan 0001"], ["remember", "x", "--at", "1 Jan 0001"],
    ["remember", "x", "--at", "3000-01-01"], ["remember", "x", "--at", "99999999999999999999"],
])
def test_out_of_range_numbers_and_dates_end_in_one_line_and_exit_2(argv, home):
    code, err = _run(argv, b"")
    assert code == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
