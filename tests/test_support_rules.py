"""The keyword rules that keep invented or copied lines out of the profile and the thoughts."""

from __future__ import annotations

import pytest

from assistant.memory.support import echoes, missing_specifics, strip_lead_in, supported

NOTE = "Caroline: I went to the LGBTQ support group yesterday and it was so powerful."


@pytest.mark.parametrize("line, missing", [
    ("Caroline went to an LGBTQ support group", []),
    ("Melanie went to an LGBTQ support group", ["Melanie"]),  # the note is Caroline's
    ("Caroline went to 3 LGBTQ support groups", ["3"]),
    ("Caroline never went to the LGBTQ support group", ["never"]),
    ("Caroline didn't find the support group powerful", ["n't"]),
])
def test_names_numbers_and_negations_must_come_from_the_note(line, missing):
    assert missing_specifics(line, [NOTE]) == missing
    assert supported(line, [NOTE], 0.5) is (not missing)


def test_overlap_alone_still_has_to_reach_the_threshold():
    assert not supported("Caroline plays cello in an orchestra", [NOTE], 0.5)
    assert not supported("Caroline went to an LGBTQ support group", [], 0.5)


@pytest.mark.parametrize("raw, clean", [
    ("1. Melanie: Thanks, Caroline!", "Thanks, Caroline!"),
    ("2) - \"Caroline loves hiking\"", "Caroline loves hiking"),
    ("Running matters to the user: Sunday runs", "Running matters to the user: Sunday runs"),
])
def test_lead_ins_are_stripped_but_a_colon_inside_a_sentence_is_kept(raw, clean):
    assert strip_lead_in(raw) == clean


@pytest.mark.parametrize("line, echo", [
    (NOTE, True),
    ("1. " + NOTE, True),
    ("Caroline: the LGBTQ support group was so powerful", True),
    ("Went to the LGBTQ support group yesterday and it", True),  # a run of 6+ words
    ("Caroline draws strength from community: support groups and pride events", False),
])
def test_echo_catches_copies_in_any_wrapping(line, echo):
    assert echoes(line, NOTE) is echo
