"""Contradictions reach the store: the write path links them, the user settles them, and undo reverses that."""

from __future__ import annotations

import json

import pytest

from assistant.memory.attributes import personal_attribute
from storage.records import NewMemory
from tests.conftest import run_cli


@pytest.mark.parametrize("text, slot, value, update", [
    ("I live in Porto", "user.home_city", "porto", False),
    ("I moved to Lisbon in March", "user.home_city", "lisbon", True),
    ("I'm based in New York", "user.home_city", "new york", False),
    ("My sister lives in Lyon.", "sister.home_city", "lyon", False),
    ("my friend Priya lives in Pune", "priya.home_city", "pune", False),
    ("Tom now works at Globex", "tom.employer", "globex", True),
    ("Ana's employer is Santa Maria", "ana.employer", "santa maria", False),
    ("I work as a nurse", "user.job", "nurse", False),
    ("My wife is Ana", "user.partner", "ana", False),
    ("my new phone number is 555 0100", "user.phone", "5550100", True),
    ("My e-mail is ana@example.com", "user.email", "ana@example.com", False),
    ("My birthday is 3 May", "user.birthday", "05-03", False),
    ("I was born on May 3rd, 1990", "user.birthday", "05-03", False),
    ("Correction: my mum was born on 12 June", "mother.birthday", "06-12", True),
    ("I no longer live in Cardiff; I live in Curitiba now.", "user.home_city", "curitiba", True),
    ("I left Acme and joined Initech.", "user.employer", "initech", True),
    ("Call my dad on (555) 598-8829.", "father.phone", "5555988829", False),
    ("I just turned 32", "user.age", "32", True),
    ("The user's sister Ana works as a nurse at Santa Maria hospital.", "ana.job", "nurse", False),
])
def test_single_valued_personal_attributes_are_read_from_the_wording(text, slot, value, update):
    found = personal_attribute(text)
    assert found is not None and (found.slot_key, found.value, found.update) == (slot, value, update)


@pytest.mark.parametrize("text", ["I am tired", "I love Porto's food", "The meeting with Tom is on Tuesday",
                                  "Yesterday I went to Porto", "I live with my parents", "I am from Porto"])
def test_other_sentences_set_no_attribute(text):
    assert personal_attribute(text) is None


def test_an_update_supersedes_a_different_value_contradicts_and_the_same_value_is_a_duplicate(app):
    mm = app.memory
    porto = mm.remember("I live in Porto")
    lisbon = mm.remember("I moved to Lisbon in March")
    assert mm.get(porto.id).status == "superseded" and lisbon.slot_key == "user.home_city"
    assert mm.remember("I'm based in Lisbon").id == lisbon.id  # the same value, said otherwise
    ana_porto = mm.remember("My sister lives in Porto")
    lyon = mm.write([NewMemory("My sister lives in Lyon")])[0]
    assert lyon.contradicts == (ana_porto.id,) and mm.get(ana_porto.id).status == "active"
    tuesday = mm.remember("The meeting with Tom is on Tuesday")
    not_tuesday = mm.remember("The meeting with Tom is not on Tuesday")
    pairs = {(c.first.id, c.second.id) for c in app.review.conflicts()}
    assert pairs == {(lyon.memory_id, ana_porto.id), (not_tuesday.id, tuesday.id)}
    # Compatible facts are neither superseded nor flagged.
    mm.remember("I love Porto's food")
    mm.remember("Tom works at Acme")
    mm.remember("My sister works at Santa Maria")
    assert len(app.review.conflicts()) == 2 and mm.get(lisbon.id).status == "active"
    events = [e["op"] for e in mm.events(ana_porto.id)]
    assert "link" in events  # the ledger of both sides says which memory contradicts it


def test_conflicts_are_listed_and_settled_from_the_command_line_and_each_resolution_is_undone(home):
    assert run_cli("remember", "My sister lives in Porto").returncode == 0
    out = run_cli("remember", "My sister lives in Lyon")
    assert out.returncode == 0 and "contradicts #1" in out.stdout.decode()
    listed = json.loads(run_cli("memories", "conflicts", "--json").stdout)
    assert [(c["first"]["id"], c["second"]["id"]) for c in listed] == [(2, 1)]
    conflict = listed[0]["conflict"]

    # Keep the old one, corrected; then undo puts everything back.
    out = run_cli("memories", "resolve", str(conflict), "--keep", "1", "--text", "My sister lives in Porto, Portugal")
    assert out.returncode == 0, out.stderr
    shown = {m["id"]: m for m in json.loads(run_cli("memories", "list", "--status", "all", "--json").stdout)}
    assert shown[1]["text"] == "My sister lives in Porto, Portugal" and shown[2]["status"] == "superseded"
    assert json.loads(run_cli("memories", "conflicts", "--json").stdout) == []
    assert run_cli("undo").returncode == 0
    shown = {m["id"]: m for m in json.loads(run_cli("memories", "list", "--status", "all", "--json").stdout)}
    assert shown[1]["text"] == "My sister lives in Porto" and shown[2]["status"] == "active"
    assert [c["conflict"] for c in json.loads(run_cli("memories", "conflicts", "--json").stdout)] == [conflict]

    # Both true: the link becomes `related`; undo makes it a conflict again.
    assert run_cli("memories", "resolve", str(conflict), "--both").returncode == 0
    assert json.loads(run_cli("memories", "conflicts", "--json").stdout) == []
    assert run_cli("undo").returncode == 0
    assert len(json.loads(run_cli("memories", "conflicts", "--json").stdout)) == 1

    bad = run_cli("memories", "resolve", str(conflict), "--keep", "7")
    err = bad.stderr.decode()
    assert bad.returncode == 2 and "not part of conflict" in err and err.count("\n") == 1
    bad = run_cli("memories", "resolve", "99", "--both")
    assert bad.returncode == 2 and "No open conflict" in bad.stderr.decode()
