"""One vocabulary of negations and numbers, and the three places that must agree on it: the write path's
near-duplicate rule, the grounding rules (support.py) and the conflict checker."""

from __future__ import annotations

import pytest

from assistant.memory.support import missing_specifics
from plugins.api import MemoryCandidate
from plugins.builtin.conflicts import find_conflict
from plugins.vocabulary import negation_count, numbers_in, same_numbers_and_negations
from storage.records import NewMemory


@pytest.mark.parametrize("negated", [
    "I cannot swim", "I can't swim", "I can’t swim", "I don't swim", "I don’t swim", "I won't swim",
    "I won’t swim", "I never swim", "I swim nowhere", "I go without swimming",
])
def test_every_place_sees_the_negation(negated):
    assert negation_count(negated) == 1 and negation_count("I can swim") == 0
    assert not same_numbers_and_negations("I can swim", negated)
    assert missing_specifics(negated, ["I can swim"])  # a source without a negation does not ground one


@pytest.mark.parametrize("plain, negated", [
    ("I can swim", "I cannot swim"), ("I can swim", "I can't swim"), ("I can swim", "I can’t swim"),
    ("I will come to the party", "I won't come to the party"),
    ("Anna likes jazz", "Anna doesn’t like jazz"),
])
def test_the_conflict_checker_flags_the_flipped_polarity(plain, negated):
    assert find_conflict(negated, plain).kind == "negation"


def test_numbers_are_whole_and_thousands_commas_do_not_count():
    assert numbers_in("It took 3.5 hours and cost 1,000 euros for 30 people.") == ["3.5", "1000", "30"]
    assert numbers_in("I am 30.") == ["30"]  # the full stop ends the sentence, it is no decimal point
    assert numbers_in("3,5 km") == ["3,5"]  # a decimal comma is not a thousands separator
    assert same_numbers_and_negations("It cost 1,000 euros", "It cost 1000 euros")
    assert not same_numbers_and_negations("It took 3.5 hours", "It took 3 hours")
    assert not same_numbers_and_negations("It took 3.5 hours", "It took 5 hours")


def test_grounding_compares_whole_numbers():
    source = ["Caroline ran for 3.5 hours and raised 1,000 dollars."]
    assert missing_specifics("Caroline ran for 3.5 hours", source) == []
    assert missing_specifics("Caroline raised 1000 dollars", source) == []
    assert missing_specifics("Caroline ran for 3 hours", source) == ["3"]  # not the "3" of "3.5"
    assert missing_specifics("Caroline ran for 5 hours", source) == ["5"]


def test_the_conflict_checker_reads_1000_and_1_000_as_one_value():
    said = "My sister has 1,000 followers on Instagram"
    assert find_conflict(said, "My sister has 1000 followers on Instagram") is None
    assert find_conflict(said, "My sister has 2,000 followers on Instagram").kind == "value"


def test_the_write_path_keeps_both_and_the_checker_flags_them(app):
    plain, negated = "I can swim.", "I cannot swim."
    # A threshold this pair passes (cosine 0.86; consolidation's default is 0.85), so that only the negation
    # can keep the second from being taken for a near duplicate of the first.
    app.settings.near_duplicate_threshold = 0.85
    vectors = app.embedder.embed([plain, negated])
    assert float(vectors[0] @ vectors[1]) >= app.settings.near_duplicate_threshold
    first = app.memory.remember(plain)
    outcome = app.memory.write([NewMemory(negated)])[0]
    assert outcome.action == "stored" and outcome.memory_id != first.id
    candidate = MemoryCandidate(text=negated, kind="fact", source="user", trust=1.0)
    verdict = app.plugins.check_memory(candidate, {"similar": [app.memory.get(first.id)]})
    assert verdict.contradicts_ids == (first.id,) and "negation" in verdict.reason
