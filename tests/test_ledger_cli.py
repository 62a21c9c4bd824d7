"""undo, forget-session, memories history and extract through the real `secondme` entry point."""

from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import run_cli as _run_cli


def run_cli(*args):
    """The real entry point, with its output decoded."""
    out = _run_cli(*args)
    out.stdout, out.stderr = out.stdout.decode(), out.stderr.decode()
    return out


def test_slot_supersession_history_and_undo_from_the_terminal(home):
    old = json.loads(run_cli("remember", "I live in Paris", "--slot", "user.home_city", "--at", "2024-01-01",
                             "--json").stdout)["id"]
    new = json.loads(run_cli("remember", "I live in Berlin", "--slot", "user.home_city", "--json").stdout)["id"]
    again = json.loads(run_cli("remember", "I live in Berlin", "--slot", "user.home_city", "--json").stdout)
    assert again["id"] == new  # a duplicate returns the original

    out = run_cli("memories", "history", str(old))
    assert out.returncode == 0, out.stderr
    assert "superseded" in out.stdout and f"#{new} supersedes #{old}" in out.stdout
    history = json.loads(run_cli("memories", "history", str(new), "--json").stdout)
    assert [e["op"] for e in history["events"]] == ["add", "duplicate"]

    out = run_cli("undo")  # undoes the duplicate's reinforcement
    assert out.returncode == 0 and "reversed 1 change" in out.stdout, out.stdout + out.stderr
    out = run_cli("undo", "--json")  # undoes Berlin: Paris is current again
    assert {e["memory_id"] for e in json.loads(out.stdout)["events"]} == {old, new}
    assert json.loads(run_cli("memories", "show", str(old), "--json").stdout)["status"] == "active"


def test_undo_with_nothing_to_undo_and_bad_ids_are_one_line_errors(home):
    for args, words in [(("undo",), "Nothing to undo"), (("forget-session", "42"), "No memories from session 42"),
                        (("memories", "history", "9"), "No memory with id 9"),
                        (("forget-session", "abc"), "")]:
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert words in out.stderr


def test_forget_session_from_the_terminal(home, app):
    from storage.models import Session

    with app.db.session() as s:
        s.add(Session(id=4, title="t"))
    app.memory.remember("I live in Paris.", slot_key="user.home_city", at=datetime(2024, 1, 1))
    berlin = app.memory.remember("I live in Berlin.", slot_key="user.home_city", session_id=4)
    app.close()
    out = run_cli("forget-session", "4")
    assert (out.returncode == 0 and "1 memories archived" in out.stdout
            and "1 earlier fact(s) current again" in out.stdout)
    listed = json.loads(run_cli("memories", "list", "--json").stdout)
    assert [m["text"] for m in listed] == ["I live in Paris."] and berlin.id not in [m["id"] for m in listed]


def test_extract_status_shows_the_queue(home, app):
    app.memory.record_turn(None, "I like tea", "Noted", [])
    app.close()
    out = run_cli("extract", "--status", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["queue"] == {"pending": 1}
