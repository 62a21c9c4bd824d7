"""Hostile input to the write path and recall: each case ends in a stored memory or a UserError, never a crash
or a hang. Bounded: a fixed number of examples per property, each under a deadline."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import UserError

FTS_SYNTAX = ['"', "'", "*", "NEAR", "NEAR(", "OR", "AND", "NOT", "(", ")", ":", "^", "-", "+", "body:", "rowid",
              "memory_fts", "MATCH", ";", "--", "/*", "DROP TABLE memories;", "%", "_", "\\", "{", "}", "NULL"]

control_chars = st.characters(min_codepoint=0, max_codepoint=0x9F)
any_char = st.characters(codec=None)  # every code point, surrogates included
fts_soup = st.lists(st.sampled_from(FTS_SYNTAX) | st.text(string.ascii_letters, min_size=1, max_size=8),
                    min_size=1, max_size=40).map(" ".join)
json_like = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                         lambda inner: (st.lists(inner, max_size=4)
                                        | st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                         max_leaves=12).map(json.dumps)
path_like = st.lists(st.sampled_from(["..", ".", "~", "/etc/passwd", "C:\\Windows", "\\\\server\\share", "%00",
                                      "a b", "ünï", "$HOME", "file://x"]), min_size=1, max_size=6).map("/".join)
huge = st.integers(min_value=20_000, max_value=2_000_000).flatmap(
    lambda n: st.sampled_from(["x", "é", "😀", "a b ", "\x00", "NEAR "]).map(lambda unit: unit * (n // len(unit))))
many_words = st.integers(min_value=100, max_value=4000).map(lambda n: " OR ".join(f"w{i}*" for i in range(n)))
hostile_text = st.one_of(many_words, st.text(any_char, max_size=300), st.text(control_chars, max_size=50), fts_soup,
                         json_like, path_like, huge, st.text(max_size=20).map(lambda t: t + "\u202e\u200b\ufeff" + t))

FUZZ = settings(max_examples=120, deadline=20_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
SEEN = {"remember": {"stored": 0, "refused": 0}, "recall": {"answered": 0, "refused": 0}}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, embedder):
    import os

    from assistant.app import App
    from assistant.config import Settings

    home = tmp_path_factory.mktemp("fuzz-home")
    old = os.environ.get("SECONDME_HOME")
    os.environ["SECONDME_HOME"] = str(home)
    app = App(Settings(home=home), embedder=embedder)
    app.memory.remember("A plain memory so recall always has something to search")
    yield app
    app.close()
    if old is not None:
        os.environ["SECONDME_HOME"] = old
    print(f"\nhostile input: {SEEN}")


@FUZZ
@given(text=hostile_text, kind=st.sampled_from(["fact", "episode", "bogus"]))
def test_remember_stores_or_refuses_cleanly(fuzz_app, text, kind):
    try:
        record = fuzz_app.memory.remember(text, kind=kind)
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc)
        SEEN["remember"]["refused"] += 1
        return
    SEEN["remember"]["stored"] += 1
    stored = fuzz_app.memory.get(record.id)
    assert stored.text == record.text and stored.text.strip() and stored.status == "active"
    assert stored.text.encode("utf-8")  # valid UTF-8: no lone surrogates reached the database


@FUZZ
@given(query=hostile_text, k=st.integers(min_value=-3, max_value=500))
def test_recall_answers_or_refuses_cleanly(fuzz_app, query, k):
    try:
        hits = fuzz_app.memory.recall(query, k=k)
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc)
        SEEN["recall"]["refused"] += 1
        return
    SEEN["recall"]["answered"] += 1
    assert isinstance(hits, list) and len(hits) <= max(k, 0) + 200
    assert all(h.memory.status == "active" for h in hits)


def test_the_store_is_whole_after_the_fuzzing(fuzz_app):
    assert fuzz_app.db.integrity() == "ok"
    fuzz_app.memory.sync_vector_index()
    report = fuzz_app.memory.index_report()
    assert {k: v for k, v in report.items() if isinstance(v, list) and v} == {}, report


def test_hostile_arguments_through_the_real_command_line(home):
    from tests.conftest import run_cli

    texts = ['"unbalanced quote NEAR(a b, 2) OR *', '{"text": "json", "id": 1}', "../../etc/passwd \u202eevil\u200b",
             "--json"]
    for text in texts:
        out = run_cli("remember", "--json", "--", text)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["text"] == text.strip()
    out = run_cli("recall", "--json", "--", 'NEAR(" OR * unbalanced')
    assert out.returncode == 0 and "Traceback" not in out.stderr.decode()
    assert json.loads(out.stdout)[0]["text"] == texts[0]
