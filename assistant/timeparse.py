"""Turning the user's words for a moment in time into datetimes and ranges.

`parse_when` reads one date the user typed (a CLI flag, a setting). `find_time_range` looks inside a question
for the period it asks about ("last week", "in May 2023", "yesterday", "before I moved") so recall can filter or
boost memories by when they were true. Everything is relative to a reference time (default: now), which lets a
benchmark or an import ask questions "as of" another date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.errors import UserError
from storage.timeutil import as_utc, utcnow

EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def parse_when(text: str, relative_to: datetime | None = None) -> datetime:
    """Parse an absolute or relative date ("2023-05-08 13:56", "8 May 2023", "yesterday") as UTC.

    Only the years 1900 to 2200 are accepted: nothing a person remembers lies outside them, and datetimes near
    year 1 or 9999 overflow as soon as a time zone or a "3 weeks ago" window is applied to them.
    """
    import dateparser

    base = relative_to or utcnow()
    try:
        parsed = dateparser.parse(
            text.strip(),
            settings={"RELATIVE_BASE": base.replace(tzinfo=None), "RETURN_AS_TIMEZONE_AWARE": False,
                      "PREFER_DATES_FROM": "past"},
        )
    except (ValueError, OverflowError):  # dateparser raises these on some out-of-range numbers
        parsed = None
    if parsed is None:
        raise UserError(f"Cannot understand the date '{text}'; try a form like 2023-05-08 or '8 May 2023 13:56'.")
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise UserError(f"The date '{text}' is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}; "
                        "give a date between them.")
    return as_utc(parsed)


@dataclass(frozen=True)
class TimeRange:
    """A half-open period [start, end) in UTC; either end may be open (None).

    `event` is set instead of dates for ranges anchored on something the user did ("before I moved"):
    recall resolves it against memory, since only memory knows when that was.
    """

    start: datetime | None = None
    end: datetime | None = None
    phrase: str = ""
    event: str | None = None
    relation: str = "within"  # within | before | after

    def contains(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        moment = as_utc(moment)
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def anchored(self, moment: datetime) -> TimeRange:
        """This event-anchored range with the event's date filled in."""
        moment = as_utc(moment)
        if self.relation == "before":
            return TimeRange(None, moment, self.phrase)
        return TimeRange(moment, None, self.phrase)

    def to_json(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "phrase": self.phrase, "event": self.event, "relation": self.relation}


MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3}

_MONTH = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_NUM = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|couple of|few)"
_UNIT = r"(day|week|month|year)s?"

# Each pattern is tried in order; the first match wins. Longer, more specific forms come first.
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\.?,?\s+(?:of\s+)?(\d{{4}})\b", re.I)
_IN_MONTH = re.compile(rf"\b(?:in|during|since|before|after|last|this)\s+{_MONTH}\b(?!\s+\d)", re.I)
_YEAR = re.compile(r"\b(?:in|during|of|since|before|after)\s+(\d{4})\b", re.I)
_AGO = re.compile(rf"\b{_NUM}\s+{_UNIT}\s+ago\b", re.I)
_PAST_N = re.compile(rf"\b(?:in\s+|over\s+|during\s+|within\s+)?(?:the\s+)?(?:last|past)\s+{_NUM}\s+{_UNIT}\b", re.I)
_LAST_UNIT = re.compile(r"\b(last|this|previous|past)\s+(day|week|weekend|month|year)\b", re.I)
_DAY_WORD = re.compile(r"\b(today|tonight|yesterday|the day before yesterday)\b", re.I)
_WEEKDAY = re.compile(r"\b(?:last|on|this|past)\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)
_PAST_VERBS = frozenset("""began became bought built came did drove fell felt found flew gave got had heard knew
    left lost made met paid put quit ran said sold sent spent started stood took taught thought told went won
    wrote broke chose""".split())
_RELATION = re.compile(r"\b(before|after|since)\b", re.I)
_EVENT = re.compile(r"\b(before|after|since)\s+((?:i|we|my|our|he|she|they|you|your|his|her|their)\b[^?.!,;]*)", re.I)


def _day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def _month_range(year: int, month: int) -> tuple[datetime, datetime]:
    start = _day(year, month, 1)
    end = _day(year + 1, 1, 1) if month == 12 else _day(year, month + 1, 1)
    return start, end


def _number(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _relate(text: str, match: re.Match, start: datetime, end: datetime) -> TimeRange:
    """Turn "before/after/since <date>" into an open range; plain "in <date>" stays [start, end)."""
    before = text[max(0, match.start() - 8):match.start() + 7].lower()
    word = _RELATION.search(before)
    phrase = match.group(0).strip()
    if word and word.group(1).lower() == "before":
        return TimeRange(None, start, phrase, relation="before")
    if word and word.group(1).lower() in ("after", "since"):
        return TimeRange(end if word.group(1).lower() == "after" else start, None, phrase, relation="after")
    return TimeRange(start, end, phrase)


def find_time_range(text: str, reference: datetime | None = None) -> TimeRange | None:
    """The period a question is about, or None when it names none. `reference` stands for "now"."""
    ref = as_utc(reference) if reference else utcnow()
    today = ref.replace(hour=0, minute=0, second=0, microsecond=0)

    if m := _ISO_DAY.search(text):
        try:
            start = _day(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        return _relate(text, m, start, start + timedelta(days=1))
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        if m := pattern.search(text):
            if order == "dmy":
                day, month, year = int(m.group(1)), MONTHS[m.group(2).lower()[:3]], int(m.group(3))
            else:
                month, day, year = MONTHS[m.group(1).lower()[:3]], int(m.group(2)), int(m.group(3))
            try:
                start = _day(year, month, day)
            except ValueError:
                return None
            return _relate(text, m, start, start + timedelta(days=1))
    if m := _MONTH_YEAR.search(text):
        start, end = _month_range(int(m.group(2)), MONTHS[m.group(1).lower()[:3]])
        return _relate(text, m, start, end)
    if m := _DAY_WORD.search(text):
        word = m.group(1).lower()
        back = {"today": 0, "tonight": 0, "yesterday": 1, "the day before yesterday": 2}[word]
        start = today - timedelta(days=back)
        return TimeRange(start, start + timedelta(days=1), m.group(0))
    if m := _AGO.search(text):
        n, unit = _number(m.group(1)), m.group(2).lower()
        centre = today - timedelta(days=n * UNITS[unit])
        # "three weeks ago" is fuzzy: a window one unit wide around that moment.
        half = timedelta(days=max(1, UNITS[unit]) / 2)
        if unit == "day":
            return TimeRange(centre, centre + timedelta(days=1), m.group(0))
        return TimeRange(centre - half, centre + half, m.group(0))
    if m := _PAST_N.search(text):
        n, unit = _number(m.group(1)), m.group(2).lower()
        return TimeRange(today - timedelta(days=n * UNITS[unit]), ref + timedelta(seconds=1), m.group(0))
    if m := _LAST_UNIT.search(text):
        which, unit = m.group(1).lower(), m.group(2).lower()
        previous = which != "this"
        if unit == "day":
            start = today - timedelta(days=1 if previous else 0)
            return TimeRange(start, start + timedelta(days=1), m.group(0))
        if unit in ("week", "weekend"):
            monday = today - timedelta(days=today.weekday())
            start = monday - timedelta(days=7) if previous else monday
            if unit == "weekend":
                start = start + timedelta(days=5)
                return TimeRange(start, start + timedelta(days=2), m.group(0))
            return TimeRange(start, start + timedelta(days=7), m.group(0))
        if unit == "month":
            year, month = (ref.year, ref.month - 1) if previous else (ref.year, ref.month)
            if month == 0:
                year, month = year - 1, 12
            start, end = _month_range(year, month)
            return TimeRange(start, end, m.group(0))
        year = ref.year - 1 if previous else ref.year
        return TimeRange(_day(year, 1, 1), _day(year + 1, 1, 1), m.group(0))
    if m := _WEEKDAY.search(text):
        target = WEEKDAYS[m.group(1).lower()]
        back = (today.weekday() - target) % 7 or 7  # the most recent such day before today
        start = today - timedelta(days=back)
        return TimeRange(start, start + timedelta(days=1), m.group(0))
    if m := _IN_MONTH.search(text):
        month = MONTHS[m.group(1).lower()[:3]]
        # A month without a year means the latest one that has begun by the reference time.
        year = ref.year if month <= ref.month else ref.year - 1
        if m.group(0).lower().startswith("last") and month == ref.month:
            year -= 1
        start, end = _month_range(year, month)
        return _relate(text, m, start, end)
    if m := _YEAR.search(text):
        year = int(m.group(1))
        if 1900 <= year <= 2200:
            return _relate(text, m, _day(year, 1, 1), _day(year + 1, 1, 1))
    if m := _EVENT.search(text):
        clause = m.group(2).strip()
        # An event is something that happened: "before I moved", "after she left", not "before you go".
        if any(w.endswith("ed") or w in _PAST_VERBS for w in clause.lower().split()[1:]):
            relation = "before" if m.group(1).lower() == "before" else "after"
            return TimeRange(phrase=m.group(0).strip(), event=clause, relation=relation)
    return None
