"""The `secondme` command end to end, in child processes on a temporary SECONDME_HOME."""

from __future__ import annotations

import json
import os

from tests.conftest import open_db_file, run_cli


def test_remember_then_recall_returns_it_first_without_any_llm(home):
    out = run_cli("remember", "My sister Ana is a nurse in Porto", "--json")
    assert out.returncode == 0, out.stderr
    stored = json.loads(out.stdout)
    assert stored["kind"] == "fact" and stored["status"] == "active" and stored["text"].startswith("My sister")
    run_cli("remember", "I parked the car on level 3")
    run_cli("remember", "The WiFi password is on the fridge")
    out = run_cli("recall", "what does my sister do", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert hits[0]["id"] == stored["id"]
    assert {"id", "text", "kind", "status", "score", "recorded_at"} <= hits[0].keys()


def test_remember_at_backfills_valid_time(home):
    out = run_cli("remember", "We moved to Berlin", "--at", "8 May 2023 13:56", "--json")
    assert json.loads(out.stdout)["valid_from"].startswith("2023-05-08T13:56")


def test_memories_commands_pin_forget_restore_delete(home):
    mid = json.loads(run_cli("remember", "I am allergic to peanuts", "--json").stdout)["id"]
    assert run_cli("memories", "pin", str(mid)).returncode == 0
    shown = json.loads(run_cli("memories", "show", str(mid), "--json").stdout)
    assert shown["pinned"] is True
    assert run_cli("memories", "forget", str(mid)).returncode == 0
    assert json.loads(run_cli("recall", "allergies", "--json").stdout) == []
    assert run_cli("memories", "restore", str(mid)).returncode == 0
    listed = json.loads(run_cli("memories", "list", "--json").stdout)
    assert [m["id"] for m in listed] == [mid]
    assert run_cli("memories", "delete", str(mid), "--yes").returncode == 0
    assert json.loads(run_cli("memories", "show", str(mid), "--json").stdout)["status"] == "deleted"


def test_bad_input_gets_one_line_and_exit_code_2_and_keeps_what_is_stored(home, tmp_path):
    assert run_cli("remember", "Keep me safe").returncode == 0
    bad_file = tmp_path / "latin1.txt"
    bad_file.write_bytes("caf\xe9 au lait".encode("latin-1"))
    cases = [
        (("remember", ""), "empty"),
        (("remember", "   \n\t "), "empty"),
        (("remember", "x" * 40_000), "limit"),
        (("remember", "--file", str(bad_file)), "not valid UTF-8"),
        (("remember", "--file", str(tmp_path / "nope.txt")), "not found"),
        (("remember", "hello", "--at", "the day after never"), "Cannot understand the date"),
        (("memories", "show", "12345"), "No memory with id 12345"),
        (("memories", "forget", "12345"), "No memory with id 12345"),
        (("recall", ""), "empty"),
    ]
    for args, message in cases:
        out = run_cli(*args)
        err = out.stderr.decode()
        assert out.returncode == 2, (args, err)
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    out = run_cli("recall", "keep safe", "--json")
    assert [h["text"] for h in json.loads(out.stdout)] == ["Keep me safe"]


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = run_cli("remember", "hello", env={"SECONDME_HOME": str(blocker / "home")})
    assert out.returncode == 2 and "Cannot write to the data folder" in out.stderr.decode()


def test_newer_schema_database_is_refused_with_exit_2(home):
    assert run_cli("remember", "I was here first").returncode == 0
    con = open_db_file()
    con.execute("UPDATE alembic_version SET version_num = '9999_future'")
    con.commit()
    con.close()
    out = run_cli("recall", "first")
    assert out.returncode == 2 and "newer than this version" in out.stderr.decode()
    con = open_db_file()
    assert con.execute("SELECT text FROM memories").fetchall() == [("I was here first",)]


def test_doctor_passes_on_a_fresh_install(home):
    out = run_cli("doctor", "--json")
    assert out.returncode == 0, out.stdout
    checks = {c["name"]: c["status"] for c in json.loads(out.stdout)}
    assert checks["database"] == checks["embedder"] == checks["chat model"] == checks["indexes"] == "OK"
    assert checks["keyring"] in ("OK", "WARN") and checks["display"] in ("OK", "WARN")


def test_no_display_points_to_the_terminal_chat(home):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = run_cli(env=env)
    assert out.returncode == 0 and "secondme chat" in out.stdout.decode()


def test_version(home):
    from assistant import __version__

    out = run_cli("--version")
    assert out.returncode == 0 and __version__ in out.stdout.decode()


def test_reindex_command(home):
    run_cli("remember", "Tea, not coffee, in the morning")
    assert "Reindexed 1" in run_cli("reindex").stdout.decode()
    assert "repaired" in run_cli("reindex", "--check").stdout.decode()
