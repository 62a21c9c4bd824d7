"""Time phrases in questions become ranges on valid time, relative to a reference time."""

from datetime import UTC, datetime

import pytest

from assistant.timeparse import TimeRange, find_time_range, parse_when
from storage.errors import UserError

REF = datetime(2023, 6, 14, 15, 30, tzinfo=UTC)  # a Wednesday


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("question, start, end", [
    ("what did I do yesterday?", d(2023, 6, 13), d(2023, 6, 14)),
    ("anything today", d(2023, 6, 14), d(2023, 6, 15)),
    ("what happened last week", d(2023, 6, 5), d(2023, 6, 12)),
    ("plans for this week", d(2023, 6, 12), d(2023, 6, 19)),
    ("what did we discuss in May 2023?", d(2023, 5, 1), d(2023, 6, 1)),
    ("trips in March", d(2023, 3, 1), d(2023, 4, 1)),
    ("what about in September", d(2022, 9, 1), d(2022, 10, 1)),  # no year: the latest September begun
    ("last month", d(2023, 5, 1), d(2023, 6, 1)),
    ("last year", d(2022, 1, 1), d(2023, 1, 1)),
    ("in 2021", d(2021, 1, 1), d(2022, 1, 1)),
    ("on 8 May, 2023", d(2023, 5, 8), d(2023, 5, 9)),
    ("on May 8th, 2023", d(2023, 5, 8), d(2023, 5, 9)),
    ("on 2023-05-30", d(2023, 5, 30), d(2023, 5, 31)),
    ("last Friday", d(2023, 6, 9), d(2023, 6, 10)),
    ("two days ago", d(2023, 6, 12), d(2023, 6, 13)),
])
def test_ranges_within(question, start, end):
    r = find_time_range(question, REF)
    assert r is not None and (r.start, r.end) == (start, end) and r.event is None


def test_open_ranges_before_and_after():
    assert (find_time_range("before 2022", REF).start, find_time_range("before 2022", REF).end) == (None, d(2022, 1, 1))
    after = find_time_range("after May 2023", REF)
    assert (after.start, after.end) == (d(2023, 6, 1), None)
    since = find_time_range("since March 2023", REF)
    assert (since.start, since.end) == (d(2023, 3, 1), None)


def test_past_n_units_reaches_now():
    r = find_time_range("in the past 2 weeks", REF)
    assert r.start == d(2023, 5, 31) and r.contains(REF)


def test_event_anchored_range_needs_memory_to_resolve():
    r = find_time_range("where did I work before I moved to Lisbon?", REF)
    assert r.event == "I moved to Lisbon" and r.relation == "before" and r.start is None and r.end is None
    anchored = r.anchored(d(2022, 4, 2))
    assert anchored.end == d(2022, 4, 2) and anchored.contains(d(2022, 1, 1)) and not anchored.contains(d(2022, 5, 1))


@pytest.mark.parametrize("question", ["May I ask you something?", "hello there", "I ran 2023 metres",
                                      "before you go", "on 31 February, 2023"])
def test_no_range_where_none_is_meant(question):
    assert find_time_range(question, REF) is None


def test_reference_time_defaults_to_now(time_machine):
    time_machine.move_to(datetime(2024, 1, 10, 12, tzinfo=UTC))
    assert find_time_range("yesterday").start == d(2024, 1, 9)


def test_contains_is_half_open():
    r = TimeRange(d(2023, 1, 1), d(2023, 2, 1))
    assert r.contains(d(2023, 1, 1)) and not r.contains(d(2023, 2, 1)) and not r.contains(None)


def test_parse_when_rejects_nonsense():
    with pytest.raises(UserError, match="Cannot understand the date"):
        parse_when("not a date at all qqq")
    assert parse_when("8 May 2023") == d(2023, 5, 8)
