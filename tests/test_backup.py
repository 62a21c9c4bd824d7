"""Backup, restore and delete-everything on a real, populated store (SQLCipher database + Chroma)."""

from __future__ import annotations

import json

import pytest

from storage.errors import UserError
from storage.records import NewMemory
from tests.conftest import run_cli

FACTS = [f"Fact number {i}: my colleague {name} likes {thing}" for i, (name, thing) in enumerate(
    [("Ana", "tea"), ("Bo", "chess"), ("Cy", "jazz"), ("Di", "Lisbon"), ("Ed", "kites"), ("Flo", "rowing")])]


def _populate(app):
    records = app.memory.remember_many([NewMemory(t) for t in FACTS])
    app.memory.pin(records[0].id)
    app.memory.forget(records[1].id)
    app.memory.delete(records[2].id)
    return records


def _state(app):
    """Everything a restore must bring back: rows, statuses, ledger, and what recall finds."""
    memories = [(m.id, m.text, m.status, m.pinned) for m in app.memory.list(status=None, limit=1000)]
    events = {m[0]: [(e["op"], e["reason"]) for e in app.memory.events(m[0])] for m in memories}
    top = [h.memory.id for h in app.memory.recall("who likes jazz or chess", k=3, statuses=("active", "archived"))]
    # The best hit and the set found: a restore re-embeds in other batches, and the int8 embedder's vectors
    # depend on the batch (cosine >= 0.984), enough to swap two near-tied lower places.
    return memories, events, top[0], set(top)


def _clean(report):
    return not any(v for k, v in report.items() if isinstance(v, list)) and report["pending_vector_writes"] == 0


def test_backup_restore_round_trip_brings_back_rows_ledger_and_indexes(app, tmp_path):
    from assistant.backup import backup, list_backups, restore

    _populate(app)
    before = _state(app)
    result = backup(app, tmp_path / "snap.db")
    assert result.memories == 5 and result.encrypted_with == "data key"
    assert str((tmp_path / "snap.db").resolve()) in list_backups(app)
    assert b"colleague" not in (tmp_path / "snap.db").read_bytes()  # the copy is as encrypted as the original

    # Change the store after the backup, then go back to it.
    extra = app.memory.remember("Written after the backup")
    app.memory.delete(app.memory.list()[0].id)
    with pytest.raises(UserError, match="--force"):
        restore(app, tmp_path / "snap.db")
    outcome = restore(app, tmp_path / "snap.db", force=True)
    assert outcome["memories"] == 5 and outcome["indexed"] == 5
    assert _state(app) == before
    assert extra.id not in {m.id for m in app.memory.list(status=None)}
    assert _clean(app.memory.index_report())
    assert app.db.integrity() == "ok"
    # The replaced store was itself saved first, and is a valid backup.
    saved = outcome["previous_saved_as"]
    assert saved and saved in list_backups(app)


def test_passphrase_backup_restores_into_another_data_folder(app, tmp_path, monkeypatch):
    from assistant.app import App
    from assistant.backup import backup, restore

    _populate(app)
    before = _state(app)
    backup(app, tmp_path / "portable.db", passphrase="correct horse battery")
    app.close()
    monkeypatch.setenv("SECONDME_HOME", str(tmp_path / "new-computer"))
    other = App(embedder=app.embedder)
    try:
        assert other.db.key != app.db.key
        with pytest.raises(UserError, match="passphrase"):
            restore(other, tmp_path / "portable.db")
        with pytest.raises(UserError, match="check the passphrase"):
            restore(other, tmp_path / "portable.db", passphrase="wrong horse battery")
        restore(other, tmp_path / "portable.db", passphrase="correct horse battery")
        assert _state(other) == before
        assert _clean(other.memory.index_report())
    finally:
        other.close()


def test_restore_refuses_bad_files_with_one_line_errors(home, tmp_path):
    assert run_cli("remember", "Keep me").returncode == 0
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "text.db").write_text("hello, not a database")
    (tmp_path / "folder").mkdir()
    import sqlite3

    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t(x)")
    other.commit()
    other.close()
    cases = [
        ("nope.db", "No backup at"), ("empty.db", "is empty"), ("text.db", "Cannot read"),
        ("folder", "is a folder"), ("other.db", "not a secondme backup"),
    ]
    for name, message in cases:
        out = run_cli("restore", str(tmp_path / name), "--force")
        err = out.stderr.decode()
        assert out.returncode == 2 and message in err and err.count("\n") == 1, (name, err)
    assert run_cli("backup", str(tmp_path / "b.db")).returncode == 0
    out = run_cli("backup", str(tmp_path / "b.db"))
    assert out.returncode == 2 and "--force" in out.stderr.decode()
    out = run_cli("backup", str(tmp_path / "missing-dir" / "b.db"))
    assert out.returncode == 2 and "does not exist" in out.stderr.decode()
    out = run_cli("backup", str(tmp_path / "c.db"), "--passphrase", env={"SECONDME_BACKUP_PASSPHRASE": "short"})
    assert out.returncode == 2 and "shorter than 8" in out.stderr.decode()
    hits = json.loads(run_cli("recall", "keep", "--json").stdout)
    assert [h["text"] for h in hits] == ["Keep me"]


def test_wipe_deletes_rows_indexes_backups_and_keys(home, tmp_path):
    (home).mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("recall_k = 5\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for text in ("My bank PIN hint is a birthday", "I met Zoe at the harbour"):
        assert run_cli("remember", text).returncode == 0
    assert run_cli("backup", str(outside / "one.db")).returncode == 0
    assert run_cli("backup", str(outside)).returncode == 0  # a dated file in that folder
    assert len(list(outside.iterdir())) == 2
    out = run_cli("wipe")
    assert out.returncode == 2 and "--yes" in out.stderr.decode()
    assert (home / "secondme.db").exists()
    out = run_cli("wipe", "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["secrets_removed"] == ["data-key"]
    # Only the settings file is left in the data folder; the backups elsewhere are gone too.
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]
    assert list(outside.iterdir()) == []
    # The app starts fresh afterwards, with a new key and nothing remembered.
    assert json.loads(run_cli("recall", "bank PIN", "--json").stdout) == []
    assert json.loads(run_cli("memories", "list", "--json").stdout) == []


def test_a_backup_with_one_damaged_page_is_refused_in_one_line_and_nothing_changes(app, tmp_path):
    from assistant.backup import backup

    _populate(app)
    before = _state(app)
    path = backup(app, tmp_path / "snap.db").path
    with open(path, "r+b") as fh:  # one page in the middle: SQLCipher's HMAC for it no longer matches
        fh.seek(4096 * 2 + 100)
        fh.write(b"\x00damaged" * 8)
    out = run_cli("restore", str(path), "--force")
    err = out.stderr.decode()
    assert out.returncode == 2 and "is damaged" in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert _state(app) == before
