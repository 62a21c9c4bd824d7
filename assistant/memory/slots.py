"""Slot keys without a language model: a deterministic subject + relation parse of simple declarative sentences.

Meant for templated statements (knowledge-base exports, fact lists from an importer), where each sentence sets
one attribute of one subject. It is not applied to chat: "I am tired" and "I am a teacher" would share a slot.
Two forms are recognised:
  "The <attribute> of <subject> is <value>."      -> slot "<the attribute of subject>"
  "<Subject> <verb ... preposition> <value>."     -> slot "<subject>.<verb ... preposition>"
The subject of the second form is the leading run of capitalised words (with name particles such as "of",
"von", "de" between them), a lower-case first word ("quarterback is ..."), a pronoun ("I" -> user), or a
determiner with its noun ("My sister"). The relation is the lower-case run after it, up to its last
preposition; the value is the rest. Same subject + same relation = same slot, whatever the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_AUX = {"is", "was", "are", "were", "am", "has", "had", "have", "will", "does", "did"}
_PARTICLES = {"of", "von", "van", "de", "der", "den", "del", "della", "la", "le", "du", "da", "di", "al", "el",
              "bin", "ibn", "y", "and", "the", "on", "upon"}
_PREPOSITIONS = {"of", "to", "by", "for", "in", "with", "at", "from", "as", "on", "into", "under", "about"}
_DETERMINERS = {"the", "my", "our", "his", "her", "their", "your", "a", "an"}
_PRONOUNS = {"i": "user", "me": "user", "we": "user"}
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class SlotParse:
    subject: str
    relation: str
    value: str
    slot_key: str


def _norm(text: str) -> str:
    return _NON_WORD.sub("_", text.casefold()).strip("_")


def _is_capitalised(token: str) -> bool:
    return token[:1].isupper() or token[:1].isdigit()


def parse_slot(sentence: str) -> SlotParse | None:
    """The subject, relation and value of a simple statement, or None when it has no recognisable shape."""
    text = " ".join(sentence.split()).rstrip(".!")
    tokens = text.split(" ")
    if len(tokens) < 3:
        return None
    if tokens[0].casefold() == "the" and " is " in text:
        head, value = text.split(" is ", 1)
        if not value.strip():
            return None
        match = re.match(r"(?i)the\s+(.+?)\s+(?:of|where|that|in|for)\s+(.+)$", head)
        subject = match.group(2) if match else head[4:]
        return SlotParse(subject=subject, relation=head[4:], value=value.strip(), slot_key=_norm(head[4:]))

    first = tokens[0].casefold()
    if first in _PRONOUNS:
        subject_len, subject = 1, _PRONOUNS[first]
    elif first in _DETERMINERS:
        # "My sister lives in ...": the determiner, its noun, and any possessive chain ("sister's husband").
        subject_len = 2
        while subject_len < len(tokens) and tokens[subject_len - 1].endswith("'s"):
            subject_len += 1
        subject = " ".join(tokens[:subject_len])
    else:
        subject_len = 1
        if _is_capitalised(tokens[0]):
            while subject_len < len(tokens):
                token = tokens[subject_len]
                if token.casefold() in _AUX:
                    break
                if _is_capitalised(token):
                    subject_len += 1
                elif (token.casefold() in _PARTICLES and subject_len + 1 < len(tokens)
                      and _is_capitalised(tokens[subject_len + 1])):
                    subject_len += 2
                else:
                    break
        subject = " ".join(tokens[:subject_len])
    rest = tokens[subject_len:]
    run = 0
    while run < len(rest) and not _is_capitalised(rest[run]):
        run += 1
    if run == 0:
        return None
    preposition_at = max((i for i in range(run) if rest[i].casefold() in _PREPOSITIONS), default=-1)
    if run == len(rest) and preposition_at == run - 1:
        return None  # ends on a preposition: no value
    relation_len = preposition_at + 1 if preposition_at >= 0 else 1
    relation, value = " ".join(rest[:relation_len]), " ".join(rest[relation_len:])
    if not value:
        return None
    return SlotParse(subject=subject, relation=relation, value=value, slot_key=f"{_norm(subject)}.{_norm(relation)}")
