"""Does a line say only what its cited memories say? A cheap keyword-overlap check, no model needed.

Used to drop summaries, thoughts and profile lines a small model invented: every content word of the line
(stemmed crudely) should appear in the cited texts, up to a tolerance for paraphrase.
"""

from __future__ import annotations

import re
from typing import Iterable

from storage.keyword_index import STOP_WORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words a profile or insight line adds around the facts without adding a claim.
FRAME_WORDS = frozenset(
    """user user's person people likes like loves love enjoys enjoy prefers prefer often usually sometimes seems
    seem appears appear tends tend mentioned mentions said says talked talks also really much many lot lots
    well one ones thing things someone something currently recently pattern insight preference interest
    interested named called""".split()
)


def stem(word: str) -> str:
    """Crude suffix stripping so 'hiking'/'hikes'/'hiked' and 'paintings'/'painting' meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower())
            if w not in STOP_WORDS and w not in FRAME_WORDS and (len(w) > 1 or w.isdigit())}


def overlap(line: str, sources: Iterable[str]) -> float:
    """Share of the line's content words found in the sources (1.0 for a line with none)."""
    words = content_words(line)
    if not words:
        return 0.0
    found = set().union(*(content_words(t) for t in sources)) if sources else set()
    return len(words & found) / len(words)


def supported(line: str, sources: list[str], min_overlap: float) -> bool:
    return bool(sources) and overlap(line, sources) >= min_overlap


def jaccard(a: str, b: str) -> float:
    wa, wb = content_words(a), content_words(b)
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)
