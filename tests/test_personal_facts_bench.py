"""The personal-fact pairs of benchmarks/conflicts.py --personal: enough of each class, unique, independent within a
batch, the same on every run; and the benchmark reads the write path's answer the way the write path records it."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks.personal_facts import ATTRIBUTES, LABELS, UPDATE_CUES, batches, generate


@pytest.fixture(scope="module")
def pairs():
    return generate()


def test_at_least_300_pairs_of_the_four_classes(pairs):
    assert len(pairs) >= 300
    by_label = Counter(p.label for p in pairs)
    assert set(by_label) == set(LABELS)
    assert min(by_label.values()) >= 50
    assert {p.subtype for p in pairs if p.label == "compatible"} == {
        "restated", "related", "other_attribute", "other_person"}


def test_texts_are_unique(pairs):
    assert all(p.first != p.second for p in pairs)
    assert len({(p.first, p.second) for p in pairs}) == len(pairs)
    for batch in batches(pairs):
        texts = [t for p in batch for t in (p.first, p.second)]
        assert len(set(texts)) == len(texts), "a text repeated inside a batch would be a duplicate write"


def test_pairs_in_a_batch_share_no_slot(pairs):
    for batch in batches(pairs):
        slots = [s for p in batch for s in p.slots]
        assert len(set(slots)) == len(slots)


def test_deterministic_and_seeded(pairs):
    assert generate() == pairs
    assert generate(seed=7) != pairs


def test_several_phrasings_and_people(pairs):
    for attribute in ATTRIBUTES:
        firsts = {p.templates[0] for p in pairs if p.attribute == attribute}
        seconds = {p.templates[1] for p in pairs if p.attribute == attribute and p.label == "update"}
        assert len(firsts) >= 4 and len(seconds) >= 4, attribute
    people = Counter(p.person for p in pairs)
    assert people["user"] >= 100 and len(people) >= 6
    assert sum(p.ref == "mixed" for p in pairs) >= 20


def test_gold_labels_follow_the_cues(pairs):
    cue = re.compile(r"\b(?:" + "|".join(map(re.escape, UPDATE_CUES)) + r")\b", re.IGNORECASE)

    def cued(text: str) -> bool:
        return cue.search(text) is not None

    assert all(cued(p.second) for p in pairs if p.label == "update")
    assert not any(cued(p.second) or cued(p.first) for p in pairs if p.label == "contradiction")


def test_classify_reads_supersession_and_contradiction_links(app):
    from benchmarks.conflicts import classify
    from storage.records import NewMemory

    def write(text: str, slot_key: str | None = None):
        return app.memory.write([NewMemory(text, slot_key=slot_key)])[0]

    old = write("Quinn's locker code is 4411.", slot_key="quinn.locker_code")
    new = write("Quinn's locker code is now 9032.", slot_key="quinn.locker_code")
    assert classify(app, old, new)["predicted"] == "update"
    a = write("Remember to water the basil on Monday.")
    b = write("The handball match starts at 19:15 on Sunday.")
    assert classify(app, a, b)["predicted"] == "none"
    app.review.link(b.memory_id, a.memory_id, "contradicts")
    assert classify(app, a, b)["predicted"] == "contradiction"
    assert classify(app, a, write("Remember to water the basil on Monday."))["predicted"] == "none"  # duplicate
