"""Encryption at rest: SQLCipher on by default, plain databases encrypted in place, clear errors for wrong keys."""

from __future__ import annotations

import json

import pytest

from storage.errors import UserError
from tests.conftest import run_cli

SECRET_TEXT = "My locker code is 4417 and my doctor is Dr Quimby"


def _all_bytes(home, pattern):
    return b"".join(p.read_bytes() for p in home.glob(pattern) if p.is_file())


def _app(embedder, **overrides):
    from assistant.app import App
    from assistant.config import load_settings

    app = App(load_settings(**overrides), embedder=embedder)
    return app


def test_no_plain_text_on_disk_by_default(home, embedder):
    app = _app(embedder)
    m = app.memory.remember(SECRET_TEXT)
    assert app.db.encrypted and app.memory.recall("locker code")[0].memory.id == m.id
    db_bytes = _all_bytes(home, "secondme.db*")  # the file and its write-ahead log, before any checkpoint
    assert not db_bytes.startswith(b"SQLite format 3")
    for needle in (b"locker", b"Quimby", b"memories", b"memory_fts"):  # text, and even the schema's names
        assert needle not in db_bytes
    assert b"Quimby" not in _all_bytes(home, "chroma/**/*")  # the vector index never held text
    app.close()


def test_a_plain_database_is_encrypted_in_place_at_the_next_start(home, embedder):
    plain = _app(embedder, encrypt_database=False)
    m = plain.memory.remember(SECRET_TEXT)
    plain.db.checkpoint()
    plain.close()
    assert b"Quimby" in (home / "secondme.db").read_bytes()

    app = _app(embedder)
    try:
        assert app.db.encrypted and app.memory.get(m.id).text == SECRET_TEXT
        assert app.memory.events(m.id)[0]["op"] == "add"
        assert b"Quimby" not in _all_bytes(home, "secondme.db*")
        assert not list(home.glob("*.encrypting"))
        assert app.db.integrity() == "ok"
    finally:
        app.close()
    with pytest.raises(UserError, match="encrypted, but encrypt_database is off"):
        _app(embedder, encrypt_database=False)


def test_a_wrong_key_is_a_one_line_error_and_the_data_survives(home):
    assert run_cli("remember", SECRET_TEXT).returncode == 0
    secrets_file = home / "secrets.json"
    data = json.loads(secrets_file.read_text())
    (service,) = data
    good = data[service]["data-key"]
    data[service]["data-key"] = "00" * 32
    secrets_file.write_text(json.dumps(data))
    out = run_cli("recall", "locker")
    err = out.stderr.decode()
    assert out.returncode == 2 and "Cannot decrypt the database" in err and err.count("\n") == 1, err
    data[service]["data-key"] = good
    secrets_file.write_text(json.dumps(data))
    hits = json.loads(run_cli("recall", "locker", "--json").stdout)
    assert [h["text"] for h in hits] == [SECRET_TEXT]
