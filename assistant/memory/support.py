"""Does a line say only what its cited memories say? A cheap keyword check, no model needed.

Used to drop extracted facts, summaries, thoughts and profile lines a small model invented. Two rules, both must
hold:
- overlap: most content words of the line (stemmed crudely) appear in the cited texts, a tolerance for paraphrase;
- specifics: every name, number and negation in the line appears in the cited texts, no tolerance. A paraphrase
  may change a verb, but "Owns a yacht in Monaco", "is 25 years old" or "Melanie paints" (when only Caroline's
  note says so) must not slip through on the strength of its other words.

And two signs of a model that copied or looped instead of stating something: a line in the first or second
person (`in_person`: a quoted turn of dialogue, "I love painting!", not "Caroline loves painting"), and a line
that repeats a run of its own words (`repeats_itself`: "a game of the game of the game"). For thoughts: is a
line an insight or only a copy of one note (`echoes`)?
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from plugins.vocabulary import negations_in, numbers_in
from storage.keyword_index import STOP_WORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words written with a capital (names, places), checked in the original case.
_CAPITALISED = re.compile(r"\b[A-Z][\w'’]*")
# "1. ", "2) ", "- ", "* ", quotes and a "Speaker: " lead-in: wrapping a model puts around a copied note.
_LEAD_IN = re.compile(r"^\s*(?:(?:\d+[.)]|[-*•]|[\"'“‘])\s*)+")
_SPEAKER = re.compile(r"^\s*[A-Z][\w'’]*(?: [A-Z][\w'’]*)?:\s+")  # "Melanie: ", "Mary Ann: "
_PERSONAL = re.compile(r"\b(i|i'm|i've|me|my|mine|we|our|us|you|your|yours)\b", re.IGNORECASE)
LOOP_RUN = 3  # a run of this many words said twice in one line: the model looped
ECHO_CONTAINMENT = 0.8  # this share of a thought's content words inside one note: it only restates that note
ECHO_RUN = 6  # this many consecutive words shared with one note: it quotes that note
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


def missing_specifics(line: str, sources: Iterable[str]) -> list[str]:
    """Names, numbers and negations of the line that no cited text contains (empty: nothing invented there)."""
    sources = list(sources)
    found = set().union(*(content_words(t) for t in sources)) if sources else set()
    missing = []
    for word in _CAPITALISED.findall(line):
        key = content_words(word)
        if key and not key <= found:
            missing.append(word)
    # Numbers are compared whole, not as words: "3" is not in "3.5 hours" although the word "3" is.
    source_numbers = {n for t in sources for n in numbers_in(t)}
    missing += [n for n in numbers_in(line) if n not in source_numbers]
    negations = negations_in(line)
    if negations and not any(negations_in(t) for t in sources):
        missing.append(negations[0])
    return list(dict.fromkeys(missing))


def supported(line: str, sources: list[str], min_overlap: float) -> bool:
    """The cited texts say this line: enough of its words, and all of its names, numbers and negations."""
    return bool(sources) and overlap(line, sources) >= min_overlap and not missing_specifics(line, sources)


def in_person(line: str) -> bool:
    """First- or second-person words: a quote of someone, not a statement about them."""
    return bool(_PERSONAL.search(line))


def repeats_itself(line: str) -> bool:
    """The line says the same run of LOOP_RUN words twice (case and punctuation ignored)."""
    words = _WORD.findall(line.lower())
    runs = [tuple(words[i:i + LOOP_RUN]) for i in range(len(words) - LOOP_RUN + 1)]
    return len(set(runs)) < len(runs)


def strip_lead_in(text: str) -> str:
    """The line without list numbering, bullets, quotes or a "Name: " dialogue prefix."""
    text = _LEAD_IN.sub("", " ".join(text.split()))
    return _SPEAKER.sub("", text, count=1).strip().strip("\"“”")


def _longest_shared_run(a: str, b: str) -> int:
    """Length in words of the longest word sequence a and b share (case and punctuation ignored)."""
    wa, wb = _WORD.findall(a.lower()), _WORD.findall(b.lower())
    best, prev = 0, [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def echoes(line: str, note: str) -> bool:
    """The line only restates this note: it quotes a run of its words or nearly all its words come from it."""
    body = strip_lead_in(line)
    words = content_words(body)
    if not words:
        return True
    contained = len(words & content_words(note)) / len(words)
    return contained >= ECHO_CONTAINMENT or _longest_shared_run(body, note) >= ECHO_RUN


def jaccard(a: str, b: str) -> float:
    wa, wb = content_words(a), content_words(b)
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)
