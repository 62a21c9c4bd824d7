"""Recall end to end on the real stack (SQLite, FTS5, Chroma, the ONNX embedder)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from storage.errors import UserError
from storage.models import Memory, Session
from storage.records import NewMemory


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ids(hits):
    return [h.memory.id for h in hits]


def test_hits_carry_a_score_breakdown(app):
    m = app.memory.remember("My sister Olga works as a marine biologist in Bergen.")
    app.memory.remember("The bakery on the corner sells rye bread.")
    hits = app.memory.recall("What is Olga's job?", k=2)
    assert hits[0].memory.id == m.id
    b = hits[0].breakdown
    for key in ("rrf", "keyword_rank", "dense_rank", "bm25", "dense_similarity", "recency", "retention",
                "rerank_factor", "final", "position"):
        assert key in b, key
    assert hits[0].score == pytest.approx(b["final"])
    assert hits[0].to_json()["breakdown"]["position"] == 1


def test_status_filter_hides_history_unless_asked(app):
    old = app.memory.remember("My employer is Acme Corp.")
    new = app.memory.remember("My employer is Globex.")
    gone = app.memory.remember("My employer was Initech for a summer.")
    with app.db.session() as s:
        s.execute(update(Memory).where(Memory.id == old.id).values(status="superseded"))
    app.memory.forget(gone.id)
    default = ids(app.memory.recall("who is my employer", k=5))
    assert new.id in default and old.id not in default and gone.id not in default
    history = ids(app.memory.recall("who is my employer", k=5, history=True))
    assert {old.id, new.id, gone.id} <= set(history)
    only_old = ids(app.memory.recall("who is my employer", k=5, statuses=["superseded"]))
    assert only_old == [old.id]


def test_kinds_filter(app):
    fact = app.memory.remember("Tomas plays the cello.", kind="fact")
    app.memory.remember("We talked about Tomas and the cello.", kind="episode")
    assert ids(app.memory.recall("Tomas cello", kinds=["fact"])) == [fact.id]


def test_time_phrase_boosts_the_asked_period(app):
    may = app.memory.remember("We went to the seaside for a picnic.", at=d(2023, 5, 20))
    march = app.memory.remember("We went to the seaside for a long walk.", at=d(2023, 3, 5))
    ref = d(2023, 6, 14)
    hits = app.memory.recall("what did we do at the seaside in May 2023?", k=2, reference_time=ref)
    assert ids(hits)[0] == may.id and hits[0].breakdown["time_factor"] > 1
    hits = app.memory.recall("seaside in March", k=2, reference_time=ref)
    assert ids(hits)[0] == march.id


def test_time_only_question_finds_what_happened_then(app):
    app.memory.remember("Fixed the garden fence.", at=d(2023, 6, 1))
    yesterday = app.memory.remember("Dinner with Priya at the Thai place.", at=d(2023, 6, 13, 19))
    hits = app.memory.recall("what did I do yesterday?", k=1, reference_time=d(2023, 6, 14, 9))
    assert ids(hits) == [yesterday.id]


def test_time_filter_mode_keeps_only_the_period(app):
    app.settings.recall_time_mode = "filter"
    app.memory.remember("Bought running shoes.", at=d(2023, 2, 1))
    june = app.memory.remember("Bought a rain jacket.", at=d(2023, 6, 2))
    hits = app.memory.recall("what did I buy last month?", k=5, reference_time=d(2023, 7, 10))
    assert ids(hits) == [june.id]


def test_event_anchored_range(app):
    app.memory.remember("I moved to Lisbon with two suitcases.", at=d(2022, 4, 1))
    before = app.memory.remember("I worked at a bookshop in Porto.", at=d(2021, 9, 1))
    after = app.memory.remember("I worked at a tech startup in Lisbon.", at=d(2022, 9, 1))
    hits = app.memory.recall("where did I work before I moved?", k=3, reference_time=d(2023, 1, 1))
    assert ids(hits)[0] == before.id and hits[0].breakdown["time_factor"] > 1
    assert after.id in ids(hits)  # a boost, not a filter: the later job is still there


def test_stronger_fresher_memory_wins_a_tie(app):
    weak = app.memory.remember("The spare key is under the blue flowerpot.")
    strong = app.memory.remember("The spare key is in the kitchen drawer now.")
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with app.db.session() as s:
        s.execute(update(Memory).where(Memory.id == weak.id).values(strength=1.0, recorded_at=long_ago))
        s.execute(update(Memory).where(Memory.id == strong.id).values(strength=60.0, recorded_at=long_ago))
    app.settings.recall_retention_weight = 1.0
    hits = app.memory.recall("where is the spare key", k=2)
    by_id = {h.memory.id: h for h in hits}
    assert by_id[strong.id].breakdown["retention"] > by_id[weak.id].breakdown["retention"]
    assert ids(hits)[0] == strong.id


def test_neighbouring_turn_brings_in_the_short_answer(app):
    with app.db.session() as s:
        row = Session(title="chat")
        s.add(row)
        s.flush()
        sid = row.id
    filler = [f"Alex: random chatter number {i} about nothing much" for i in range(6)]
    turns = ["Sam: Did you ever finish restoring that old Vespa scooter?", "Alex: Yes! Last weekend, finally."]
    records = app.memory.remember_many([NewMemory(t, kind="episode", session_id=sid) for t in filler + turns])
    answer = records[-1].id
    app.settings.recall_neighbour_weight = 0.0
    without = app.memory.recall("Did Alex finish the Vespa scooter?", k=2)
    # The keyword index holds each turn's neighbours (storage.keyword_index), so the answer is found even
    # without score sharing...
    assert answer in ids(without) and without[ids(without).index(answer)].breakdown["context"] == 0
    app.settings.recall_neighbour_weight = 0.8
    hits = app.memory.recall("Did Alex finish the Vespa scooter?", k=2)
    assert answer in ids(hits)
    assert hits[ids(hits).index(answer)].breakdown["context"] > 0  # ...and sharing adds its neighbour's score


def test_mmr_demotes_a_duplicate(app):
    a = app.memory.remember("Lena's birthday party is on Saturday at the lake house.")
    app.memory.remember("Lena's birthday party is on Saturday at the lake house!")
    c = app.memory.remember("Lena asked us to bring a cake to the lake house.")
    app.settings.recall_mmr_lambda = 0.5
    hits = app.memory.recall("Lena birthday party lake house", k=2)
    assert set(ids(hits)) == {a.id, c.id}


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0), "k must be at least 1"),
    (dict(statuses=["deleted"]), "Cannot recall status"),
    (dict(statuses=["bogus"]), "Cannot recall status"),
    (dict(kinds=["diary"]), "Unknown memory kind"),
])
def test_bad_input_is_a_user_error(app, kwargs, message):
    app.memory.remember("anything at all")
    with pytest.raises(UserError, match=message):
        app.memory.recall("anything", **kwargs)


def test_empty_and_stopword_queries(app):
    app.memory.remember("The the the.")
    with pytest.raises(UserError):
        app.memory.recall("   ")
    assert app.memory.recall("the", k=1)  # a stop-word-only query still gets an answer
    assert app.memory.recall('"NEAR(* OR" AND', k=1) is not None  # FTS5 syntax is plain text


def test_cli_recall_as_of_and_history(app):
    from tests.conftest import run_cli

    june = app.memory.remember("Painted the fence green.", at=d(2023, 6, 13))
    app.memory.remember("Painted the fence blue.", at=d(2023, 1, 2))
    old = app.memory.remember("Painted the fence red.", at=d(2022, 1, 2))
    app.memory.forget(old.id)
    app.close()
    import json

    out = run_cli("recall", "what did I paint yesterday?", "--as-of", "2023-06-14", "-k", "1", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["id"] == june.id
    out = run_cli("recall", "fence red", "--history", "--json")
    assert old.id in [h["id"] for h in json.loads(out.stdout)]
    bad = run_cli("recall", "fence", "--as-of", "qqq never")
    assert bad.returncode == 2 and "Cannot understand the date" in bad.stderr.decode()


def test_expansion_leaves_out_words_most_memories_hold(app):
    """An everyday word matches most of a large store and costs BM25 over all of it; a rare word stays."""
    from storage.keyword_index import uncommon_terms

    app.memory.remember_many([NewMemory(f"today was a nice day, note {i}") for i in range(40)]
                             + [NewMemory("the violin lesson moved to Thursday")])
    with app.db.session() as s:
        assert uncommon_terms(s, ["today", "violin", "nice"], 0.05) == ["violin"]
        assert uncommon_terms(s, ["today", "violin"], 1.0) == ["today", "violin"]


def test_large_store_keyword_search_skips_rows_holding_few_common_words(app, monkeypatch):
    """At scale, rows holding just one of a question's common words are not ranked; the best rows still are."""
    import storage.keyword_index as keyword_index
    from storage.keyword_index import KeywordIndex

    names, places, doings = ["Anna", "Ben", "Chloe", "Dora"], ["Lisbon", "Kyoto", "Oslo", "Lima"], \
        ["hiking", "sailing", "skiing", "rowing"]
    texts = [f"{n} went {d} in {p}, note {i}" for i, (n, p, d) in
             enumerate((n, p, d) for n in names for p in places for d in doings)]
    texts.append("Anna bought a violin in Kyoto")
    app.memory.remember_many([NewMemory(t) for t in texts])
    text_of = {m.id: m.text for m in app.memory.list(limit=200)}
    monkeypatch.setattr(keyword_index, "NARROW_MIN_ROWS", 10)  # this store has 65 rows, not 20,000
    monkeypatch.setattr(keyword_index, "COMMON_SHARE", 0.05)  # common: in more than 3 rows
    monkeypatch.setattr(keyword_index, "EVERYDAY_SHARE", 0.5)  # "went" is in nearly all of them

    def search(question, limit, narrow=True):
        with app.db.session() as s:
            return [text_of[i] for i, _ in KeywordIndex.search(s, question, limit, ("active",), narrow=narrow)]

    with app.db.session() as s:  # violin is rare; anna and kyoto are common; went is everyday
        assert keyword_index._narrowed_matches(s, ["anna", "went", "kyoto", "violin"]) == [
            '"violin" OR ("anna" AND "kyoto")']
    question = "When did Anna go to Kyoto for the violin?"
    found, plain = search(question, 3), search(question, 50, narrow=False)
    assert found[0] == "Anna bought a violin in Kyoto"
    assert all("Anna" in t and "Kyoto" in t for t in found)  # none with only one of the two
    assert len(plain) == 16 + 16 - 4 + 1 and found == plain[:3]  # plain BM25's head, in its order
    # Asked for more rows than hold both words: the search widens to plain OR rather than return fewer.
    assert search(question, 10) == plain[:10]

    # Three common words: the rows holding all three; too few of them for the limit: any two.
    assert search("Anna hiking in Kyoto", 1) == ["Anna went hiking in Kyoto, note 4"]
    assert search("Anna hiking in Kyoto", 1, narrow=False) == ["Anna went hiking in Kyoto, note 4"]
    wider = search("Anna hiking in Kyoto", 8)
    assert len(wider) == 8 and all(sum(w in t for w in ("Anna", "hiking", "Kyoto")) >= 2 for t in wider)

    # Too few common words (or a small store) keeps the plain OR query.
    with app.db.session() as s:
        assert keyword_index._narrowed_matches(s, ["anna", "went", "violin"]) == []
    monkeypatch.setattr(keyword_index, "NARROW_MIN_ROWS", 20_000)
    with app.db.session() as s:
        assert keyword_index._narrowed_matches(s, ["anna", "kyoto", "violin"]) == []


def test_warm_up_loads_what_recall_needs_and_freezes_start_up_objects(app):
    import gc

    try:
        app.warm_up()
        assert app.vector_index.is_open  # Chroma is open before the first question
        assert gc.get_freeze_count() > 0  # the objects loaded so far are out of the collector's way
    finally:
        gc.unfreeze()  # other tests expect an ordinary collector


def test_each_connection_keeps_the_configured_page_cache(home, monkeypatch):
    from assistant.app import App

    monkeypatch.setenv("SECONDME_DB_CACHE_MB", "16")
    with App() as a, a.db.session() as s:
        assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -16 * 1024


def test_recall_reads_beside_a_writer_instead_of_waiting_for_it(app):
    """A long write (an import holds its transaction for seconds) must not hold up a question."""
    import threading
    import time

    from storage.models import Memory

    kept = app.memory.remember("The spare key is under the blue flower pot.")
    writing, done = threading.Event(), threading.Event()

    def long_write():
        with app.db.session() as s:  # BEGIN IMMEDIATE: holds the write lock until the block ends
            s.add(app.memory.write_path.new_row(NewMemory("The spare key moved to the garage shelf.")))
            s.flush()
            writing.set()
            done.wait(20)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert writing.wait(10)
        started = time.perf_counter()
        hits = app.memory.recall("where is the spare key", k=5)
        assert time.perf_counter() - started < 5  # the writer holds its lock for up to 20 s
        assert [h.memory.id for h in hits] == [kept.id]  # the writer's row is not committed yet
    finally:
        done.set()
        writer.join()
    with app.db.session() as s:
        assert s.query(Memory).count() == 2


def test_the_relevance_floor_leaves_unrelated_memories_out_and_weaker_matches_can_be_shown(app):
    """'Am I allergic to anything?' must not bring back the Wi-Fi password just because it is the nearest."""
    wifi = app.memory.remember("The Wi-Fi password at home is daisy77")
    sister = app.memory.remember("My sister Ana is a nurse in Porto")
    app.memory.remember("I bought a blue bike last spring")
    assert app.memory.recall("Am I allergic to anything?") == []
    weaker = app.memory.recall("Am I allergic to anything?", include_weak=True)
    assert {h.memory.id for h in weaker} >= {wifi.id, sister.id}
    assert all(h.breakdown.get("below_floor") == 1.0 for h in weaker)
    # A word of the question, or a close enough meaning, passes the floor.
    assert [h.memory.id for h in app.memory.recall("what does my sister do")][:1] == [sister.id]
    assert wifi.id in [h.memory.id for h in app.memory.recall("wireless network passphrase")]
    app.settings.recall_min_similarity = -1.0  # the floor off: the nearest memory comes back whatever it is
    assert app.memory.recall("Am I allergic to anything?")
