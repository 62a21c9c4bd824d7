"""Turning the user's words for a moment in time into datetimes."""

from __future__ import annotations

from datetime import datetime

from storage.errors import UserError
from storage.timeutil import as_utc, utcnow


def parse_when(text: str, relative_to: datetime | None = None) -> datetime:
    """Parse an absolute or relative date ("2023-05-08 13:56", "8 May 2023", "yesterday") as UTC."""
    import dateparser

    base = relative_to or utcnow()
    parsed = dateparser.parse(
        text.strip(),
        settings={"RELATIVE_BASE": base.replace(tzinfo=None), "RETURN_AS_TIMEZONE_AWARE": False,
                  "PREFER_DATES_FROM": "past"},
    )
    if parsed is None:
        raise UserError(f"Cannot understand the date '{text}'; try a form like 2023-05-08 or '8 May 2023 13:56'.")
    return as_utc(parsed)
