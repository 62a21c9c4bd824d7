"""The conflict checker: does a new memory contradict one of its nearest active facts?

Three text-level tests on each pair (candidate, similar memory), no language model needed:
- negation: the same statement with the polarity flipped ("Anna likes jazz" / "Anna does not like jazz");
- different value: the same words around one short differing span that holds a value (a number, a name, a
  place): "my sister lives in Lyon" / "my sister lives in Porto";
- incompatible dates: the same statement pinned to different dates or years.
When both memories fill the same slot (slot_key), the newer one supersedes the older; otherwise the checker cannot
know which is right, so it accepts the candidate and names the memories it contradicts (Verdict.contradicts_ids):
the write path links both with `contradicts` for the user to resolve.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from plugins.api import Candidate, Verdict, hookimpl
from plugins.vocabulary import NEGATIONS, canonical_number, split_negation
from storage.enums import MemoryStatus

# Words with a straight or curly apostrophe ("don't", "can’t"), and numbers with the separators of dates and
# times as well as of decimals ("3/5/2021", "10:30", "3.5"), so that a date or a time is one token.
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?|\d+(?:[.,:/-]\d+)*")
# Words that carry no content for the "same statement" test.
STOP = {"a", "an", "the", "is", "are", "was", "were", "be", "been", "do", "does", "did", "to", "of", "in", "on",
        "at", "and", "or", "that", "this", "it", "its", "for", "with", "as", "by", "has", "have", "had", "will",
        "would", "can", "could", "than", "so", "very", "really", "also", "i", "my", "me", "we", "our", "you", "your"}
MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
NUMBER_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "billion"}
MAX_VALUE_SPAN = 4  # tokens; a longer differing span is a different statement, not a different value


def _stem(word: str) -> str:
    """A light stemmer: enough that "likes" meets "like" and "lived" meets "lives"."""
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    return list(_tokens(text))


@lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[str, ...]:
    """tokens(), remembered for recent texts: each new memory is compared with several neighbours, and the same
    neighbours come up again across a batch. A pure function of the text, so the cache cannot go stale."""
    out = []
    for tok in _TOKEN.findall(text):
        low = tok.lower().replace("’", "'")
        contraction = split_negation(low)
        if contraction:
            out.extend(contraction)
        elif low[0].isdigit():
            out.append(canonical_number(low))
        elif low in NEGATIONS or low in STOP or low in MONTHS:
            out.append(low)
        else:
            out.append(_stem(low))
    return tuple(out)


@dataclass(frozen=True)
class Conflict:
    kind: str  # negation | value | date
    detail: str


def _is_value(span: Sequence[str], original: str) -> bool:
    for tok in span:
        if tok[0].isdigit() or tok in MONTHS or tok in NUMBER_WORDS:
            return True
        # A capitalised word inside the sentence (a name or place), not the first word.
        if re.search(rf"(?<![.!?]\s)(?<!^)\b{re.escape(tok.capitalize())}", original):
            return True
    return False


def _is_date(span: Sequence[str]) -> bool:
    return any(t in MONTHS or re.fullmatch(r"(1[5-9]|20)\d\d|\d{1,4}[/-]\d{1,2}([/-]\d{1,4})?", t) for t in span)


def find_conflict(new: str, old: str, min_shared: int = 2, min_overlap: float = 0.6) -> Conflict | None:
    a, b = tokens(new), tokens(old)
    neg_a, neg_b = sum(t in NEGATIONS for t in a), sum(t in NEGATIONS for t in b)
    core_a = [t for t in a if t not in NEGATIONS and t not in STOP]
    core_b = [t for t in b if t not in NEGATIONS and t not in STOP]
    if not core_a or not core_b:
        return None
    shared = set(core_a) & set(core_b)
    overlap = len(shared) / min(len(set(core_a)), len(set(core_b)))
    if len(shared) < min(min_shared, len(set(core_a)), len(set(core_b))) or overlap < min_overlap:
        return None
    # Negation: the same content words (Jaccard, so a long sentence merely containing the short one does not
    # count), the polarity flipped.
    jaccard = len(shared) / len(set(core_a) | set(core_b))
    if (neg_a % 2) != (neg_b % 2) and jaccard >= 0.6:
        return Conflict("negation", f"one says '{' '.join(sorted(NEGATIONS & set(a + b)))}', the other does not")
    # Different value: one short differing span each, in the same surrounding words.
    matcher = difflib.SequenceMatcher(a=core_a, b=core_b, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not changes:
        return None
    if all(op[0] == "replace" for op in changes) and len(changes) <= 2:
        spans = [(core_a[i1:i2], core_b[j1:j2]) for _, i1, i2, j1, j2 in changes]
        if all(0 < len(x) <= MAX_VALUE_SPAN and 0 < len(y) <= MAX_VALUE_SPAN for x, y in spans):
            x, y = spans[0]
            if _is_date(x) and _is_date(y):
                return Conflict("date", f"'{' '.join(x)}' vs '{' '.join(y)}'")
            if _is_value(x, new) and _is_value(y, old):
                return Conflict("value", f"'{' '.join(x)}' vs '{' '.join(y)}'")
    return None


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
MAX_SENTENCES = 12  # per text: bounds the pairwise work on long documents


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()][:MAX_SENTENCES]


def find_conflict_in(new: str, old: str) -> Conflict | None:
    """The first conflict between any sentence of `new` and any sentence of `old` (whole texts first)."""
    found = find_conflict(new, old)
    if found is not None:
        return found
    parts_new, parts_old = sentences(new), sentences(old)
    if len(parts_new) == 1 and len(parts_old) == 1:
        return None
    for a in parts_new:
        for b in parts_old:
            found = find_conflict(a, b)
            if found is not None:
                return found
    return None


class ConflictChecker:
    @hookimpl
    def check_memory(self, candidate: Candidate, context: dict[str, Any]) -> Verdict | None:
        supersede, contradicts, details = [], [], []
        for record in context.get("similar") or ():
            if getattr(record, "status", MemoryStatus.ACTIVE) != MemoryStatus.ACTIVE or record.text == candidate.text:
                continue
            conflict = find_conflict_in(candidate.text, record.text)
            if conflict is None:
                continue
            details.append(f"#{record.id} {conflict.kind}: {conflict.detail}")
            # Same single-valued slot: the newer statement replaces the older; otherwise flag both for the user.
            if candidate.slot_key and candidate.slot_key == getattr(record, "slot_key", None):
                supersede.append(record.id)
            else:
                contradicts.append(record.id)
        if not details:
            return None
        reason = "contradicts " + "; ".join(details)
        if supersede:
            return Verdict("supersede", reason, 0.8, supersede_ids=tuple(supersede), contradicts_ids=tuple(contradicts))
        return Verdict("accept", reason, 0.6, contradicts_ids=tuple(contradicts))
