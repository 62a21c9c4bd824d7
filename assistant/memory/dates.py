"""Resolving the time words of an extracted fact ("last March", "yesterday") to absolute dates, deterministically.

The language model only copies the time expression the user used; the date itself is computed here with
dateparser relative to when the turn was said, so a small model cannot get the arithmetic wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.timeutil import as_utc

# dateparser knows "last year" and "last week" but not "last March" or "this May": for those, drop the word
# and steer the search towards the past, the future or the current year.
_DIRECTION = re.compile(r"^(last|past|previous|this|next|coming)\s+(.+)$", re.IGNORECASE)
_PREPOSITION_BEFORE = re.compile(r"\b(in|on|at|since|by|until|from|during|before|after|of)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedDate:
    start: datetime  # UTC, the first instant of the period
    granularity: str  # day | week | month | year | time
    label: str  # how the fact text should say it: "March 2026", "2 May 2026"

    def is_after(self, moment: datetime) -> bool:
        """True for a period that starts after `moment` (a plan, a booking, a deadline)."""
        return self.start > as_utc(moment)


def _parse(text: str, base: datetime, prefer: str) -> tuple[datetime | None, str | None]:
    from dateparser.date import DateDataParser

    parser = DateDataParser(settings={"RELATIVE_BASE": base.replace(tzinfo=None), "PREFER_DATES_FROM": prefer,
                                      "RETURN_AS_TIMEZONE_AWARE": False, "PREFER_DAY_OF_MONTH": "first"})
    data = parser.get_date_data(text)
    return (data.date_obj, data.period) if data and data.date_obj else (None, None)


def resolve_when(expression: str, said_at: datetime) -> ResolvedDate | None:
    """The period an expression names, relative to `said_at`; None when it cannot be parsed."""
    expression = (expression or "").strip().rstrip(".,;")
    if not expression:
        return None
    base = as_utc(said_at)
    parsed, period = _parse(expression, base, "past")
    direction = _DIRECTION.match(expression)
    if parsed is None and direction:
        word, rest = direction.group(1).lower(), direction.group(2)
        prefer = {"last": "past", "past": "past", "previous": "past", "next": "future", "coming": "future"}.get(
            word, "current_period")
        parsed, period = _parse(rest, base, prefer)
        if parsed is not None and word in ("last", "past", "previous") and as_utc(parsed) >= base:
            parsed = parsed.replace(year=parsed.year - 1)
        if parsed is not None and word in ("next", "coming") and as_utc(parsed) <= base:
            parsed = parsed.replace(year=parsed.year + 1)
    if parsed is None:
        return None
    parsed = as_utc(parsed)
    if period == "year":
        start = parsed.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        label = f"{start:%Y}"
    elif period == "month":
        start = parsed.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        label = f"{start:%B %Y}"
    elif period == "week":
        start = (parsed - timedelta(days=parsed.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        label = f"the week of {start.day} {start:%B %Y}"
    elif period == "time":
        start = parsed
        label = f"{start.day} {start:%B %Y %H:%M}"
    else:
        period = "day"
        start = parsed.replace(hour=0, minute=0, second=0, microsecond=0)
        label = f"{start.day} {start:%B %Y}"
    return ResolvedDate(start=start, granularity=period, label=label)


def with_absolute_date(fact: str, expression: str, resolved: ResolvedDate) -> str:
    """The fact with its relative time words replaced by the absolute date, so it reads true on its own."""
    expression = expression.strip().rstrip(".,;")
    at = fact.lower().find(expression.lower()) if expression else -1
    if at < 0:
        if resolved.label in fact:
            return fact
        return f"{fact.rstrip('. ')} ({resolved.label})."
    before = fact[:at]
    if _PREPOSITION_BEFORE.search(before) or re.match(r"^(in|on|at|since|by|until|from|during)\b", expression, re.I):
        # "since last March" -> "since March 2026"; "in March" -> "in March 2026"
        lead = re.match(r"^(in|on|at|since|by|until|from|during)\s+", expression, re.I)
        replacement = (lead.group(0) if lead else "") + resolved.label
    else:
        replacement = ("on " if resolved.granularity in ("day", "time") else "in ") + resolved.label
    if not before:
        replacement = replacement[:1].upper() + replacement[1:]
    return before + replacement + fact[at + len(expression):]
