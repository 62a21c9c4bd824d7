"""Importers and exporters on the real app: Obsidian vaults, ChatGPT and secondme JSON, JSON and Markdown exports."""

from __future__ import annotations

import json

import pytest

from storage.errors import UserError
from tests.conftest import run_cli

NOTE = """---
title: Trip planning
tags: [travel, family]
created: 2024-03-02
---
# Lisbon in May

Book the tram tour with [[Mum]] and check [[Hotels#Alfama|the hotel list]]. #todo #travel/portugal
"""


def integration(app, kind, name):
    return app.plugins.integrations()[(kind, name)].function


def make_vault(tmp_path):
    vault = tmp_path / "vault"
    (vault / "trips").mkdir(parents=True)
    (vault / ".obsidian").mkdir()
    (vault / ".obsidian" / "workspace.md").write_text("not a note")
    (vault / "trips" / "lisbon.md").write_text(NOTE)
    (vault / "binary.md").write_bytes(b"\x00\x01\x02binary")
    (vault / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (vault / "plain.md").write_text("Dentist is Dr. Ortiz on Elm Street.")
    return vault


def test_an_obsidian_vault_keeps_front_matter_links_and_tags_as_provenance(app, tmp_path):
    report = integration(app, "import", "obsidian")(app, make_vault(tmp_path))
    assert report.stored == 2 and len(report.skipped) == 2  # binary and non-UTF-8 notes are reported, not stored
    lisbon = next(app.memory.get(i) for i in report.ids if "Lisbon" in app.memory.get(i).text)
    prov = lisbon.provenance
    assert lisbon.source == "document" and prov["file"] == "trips/lisbon.md"
    assert prov["links"] == ["Hotels", "Mum"] and set(prov["tags"]) == {"todo", "travel/portugal", "travel", "family"}
    assert prov["front_matter"]["created"] == "2024-03-02"
    assert app.memory.recall("who is my dentist", k=1)[0].memory.text.startswith("plain")


def test_chatgpt_conversations_follow_the_current_branch(app, tmp_path):
    mapping = {
        "root": {"id": "root", "message": None, "parent": None, "children": ["u1"]},
        "u1": {"id": "u1", "parent": "root", "children": ["a-old", "a-new"], "message": {
            "author": {"role": "user"}, "create_time": 1700000000,
            "content": {"content_type": "text", "parts": ["What is a good name for my cat?"]}}},
        "a-old": {"id": "a-old", "parent": "u1", "children": [], "message": {
            "author": {"role": "assistant"}, "content": {"parts": ["Whiskers (regenerated away)"]}}},
        "a-new": {"id": "a-new", "parent": "u1", "children": [], "message": {
            "author": {"role": "assistant"}, "content": {"parts": ["How about Miso?"]}}},
    }
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"title": "Cat names", "id": "c1", "current_node": "a-new", "mapping": mapping}]))
    report = integration(app, "import", "chatgpt")(app, path)
    memory = app.memory.get(report.ids[0])
    assert report.stored == 1 and "Miso" in memory.text and "Whiskers" not in memory.text
    assert memory.kind == "episode" and memory.valid_from.year == 2023 and memory.provenance["title"] == "Cat names"


def test_export_json_then_import_it_into_a_fresh_home_and_export_markdown(app, tmp_path):
    app.memory.remember("I am allergic to peanuts.")
    archived = app.memory.remember("Old phone number 555-0100.")
    app.memory.forget(archived.id)
    out = tmp_path / "all.json"
    assert integration(app, "export", "json")(app, out) == 2
    doc = json.loads(out.read_text())
    assert doc["format"] == "secondme-export" and {m["status"] for m in doc["memories"]} == {"active", "archived"}
    md = tmp_path / "all.md"
    integration(app, "export", "markdown")(app, md)
    assert "> I am allergic to peanuts." in md.read_text() and "archived" in md.read_text()
    report = integration(app, "import", "json")(app, out)
    # Into the same home: the active memory is already there (a duplicate, not stored twice); the archived one is
    # no longer live, so it is stored again.
    assert (report.stored, report.duplicates) == (1, 1)


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"\x00\x01binary", "binary"),
    (b"[1, 2]", "not a ChatGPT conversations.json"),
])
def test_malformed_chat_exports_get_a_one_line_error_and_nothing_is_lost(app, tmp_path, content, message):
    keep = app.memory.remember("Keep me.")
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        integration(app, "import", "chatgpt")(app, path)
    assert app.memory.get(keep.id).status == "active" and app.memory.count() == 1


def test_the_import_and_export_commands(tmp_path):
    vault = make_vault(tmp_path)
    done = run_cli("import", "obsidian", str(vault))
    assert done.returncode == 0, done.stderr
    assert b"Imported 2 memories" in done.stdout and b"skipped binary.md: binary file" in done.stderr
    out = tmp_path / "export.md"
    assert run_cli("export", "markdown", str(out)).returncode == 0 and "Lisbon" in out.read_text()
    bad = run_cli("import", "chatgpt", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and bad.stderr.decode().startswith("error: File not found")
    unknown = run_cli("import", "evernote", str(vault))
    assert unknown.returncode == 2 and b"available: chatgpt, claude, json, obsidian" in unknown.stderr


def test_an_import_reports_progress_batch_by_batch(app, tmp_path):
    vault = tmp_path / "big-vault"
    vault.mkdir()
    for i in range(130):  # just over one write batch (128)
        (vault / f"note{i}.md").write_text(f"Shelf {i} holds the jars of plum jam number {i}.")
    seen: list[tuple[int, int]] = []
    report = app.plugins.run_integration("import", "obsidian", vault, progress=lambda d, t: seen.append((d, t)))
    assert report.stored == 130
    assert seen == [(0, 130), (128, 130), (130, 130)]
    # A function without a progress keyword (the exporters, a third-party plugin's importer) runs without it.
    assert app.plugins.run_integration("export", "json", tmp_path / "out.json", progress=seen.append) == 130
    with pytest.raises(UserError, match="No importer named 'evernote'"):
        app.plugins.run_integration("import", "evernote", vault)
