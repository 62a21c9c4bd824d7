"""The conflict checker: negation, different values and incompatible dates against the nearest active facts."""

from __future__ import annotations

import pytest

from plugins.api import Candidate
from plugins.builtin.conflicts import find_conflict


@pytest.mark.parametrize("new, old, kind", [
    ("Anna likes jazz", "Anna does not like jazz", "negation"),
    ("My sister lives in Lyon.", "My sister lives in Porto.", "value"),
    ("My sister is 34 years old", "My sister is 35 years old", "value"),
    ("We met on 3 May 2021 at the park", "We met on 9 June 2021 at the park", "date"),
])
def test_contradictions_are_found(new, old, kind):
    assert find_conflict(new, old).kind == kind


@pytest.mark.parametrize("new, old", [
    ("I have two cats", "I have two dogs"),  # both can be true
    ("Caroline went hiking with friends", "Melanie baked a cake yesterday"),
    ("I went to the gym", "I went to the gym with Tom"),
    ("Anna likes jazz", "Anna likes jazz a lot"),
])
def test_compatible_statements_are_not_flagged(new, old):
    assert find_conflict(new, old) is None


def test_the_checker_links_what_it_cannot_decide_and_supersedes_the_same_slot(app):
    old = app.memory.remember("My sister lives in Porto.")
    other = app.memory.remember("My brother has a dog named Rex.")
    similar = [app.memory.get(old.id), app.memory.get(other.id)]
    candidate = Candidate(text="My sister lives in Lyon.", kind="fact", source="user", trust=1.0)
    verdict = app.plugins.check_memory(candidate, {"similar": similar})
    assert verdict.decision == "accept" and verdict.contradicts_ids == (old.id,)
    assert "conflict-checker" in verdict.reason and "lyon" in verdict.reason
    slotted = Candidate(text="My sister lives in Lyon.", kind="fact", source="user", trust=1.0,
                              slot_key="sister.home_city")
    from dataclasses import replace

    verdict = app.plugins.check_memory(slotted, {"similar": [replace(similar[0], slot_key="sister.home_city")]})
    assert verdict.decision == "supersede" and verdict.supersede_ids == (old.id,) and not verdict.contradicts_ids
