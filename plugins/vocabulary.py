"""The words that flip or pin a statement, negations and numbers: one definition for the whole app.

The write path (two texts differing in a "not" or a number are never duplicates), the grounding rules of
assistant/memory/support.py (a line may not add a negation or a number its sources lack) and the conflict checker
(the same statement with its polarity flipped is a contradiction) must agree on what counts, or a pair one of
them treats as "the same" another treats as contradicting. This lives in the plugin layer, below assistant/, so
the built-in conflict checker and third-party plugins can use it without importing the core.
"""

from __future__ import annotations

import re

# Whole words that negate. Contractions ("don't", "can’t") are found by their "n't" ending instead of a list.
NEGATIONS = frozenset("not no never none nobody nothing nowhere neither nor cannot without".split())
_NEGATION = re.compile(r"\b(?:" + "|".join(sorted(NEGATIONS)) + r")\b|n['’]t\b", re.IGNORECASE)
# Digits with their decimal point or separators: "3.5" and "1,000" are one number each, not "3" and "5".
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS_COMMA = re.compile(r",(?=\d{3}(?!\d))")
# The verb of a contraction is not always what precedes "n't": can't, won't, shan't.
_CONTRACTED_VERBS = {"ca": "can", "wo": "will", "sha": "shall"}


def negations_in(text: str) -> list[str]:
    """The negations of the text as written, in order: "never", "n't" (of "didn't"), "cannot"..."""
    return _NEGATION.findall(text)


def negation_count(text: str) -> int:
    return len(negations_in(text))


def canonical_number(number: str) -> str:
    """The number less its thousands commas, so "1,000" and "1000" are equal; "3,5" (a decimal comma) is kept."""
    return _THOUSANDS_COMMA.sub("", number)


def numbers_in(text: str) -> list[str]:
    """The numbers of the text in order, canonical: "It cost 1,000 euros for 3.5 days" -> ["1000", "3.5"]."""
    return [canonical_number(n) for n in _NUMBER.findall(text)]


def split_negation(word: str) -> list[str] | None:
    """A contraction as its verb and "not" ("don't" -> do, not; "can’t" -> can, not); None for any other word."""
    low = word.lower().replace("’", "'")
    if not low.endswith("n't"):
        return None
    verb = low[:-3]
    return [_CONTRACTED_VERBS.get(verb, verb), "not"] if verb else ["not"]


def same_numbers_and_negations(a: str, b: str) -> bool:
    """Near-identical wording can still differ in a number ("I am 30" / "I am 31") or a "not": never duplicates."""
    return set(numbers_in(a)) == set(numbers_in(b)) and negation_count(a) == negation_count(b)
