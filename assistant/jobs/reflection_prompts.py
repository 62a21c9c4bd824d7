"""What reflection asks the chat model, and in which shape: prompts, one worked example each, bounded schemas,
and which notes are worth a profile question.

Profile lines are asked for one note at a time: the model sees a single note and states its lasting fact (or
says there is none). Measured on LoCoMo with Qwen2.5-Coder-0.5B, a single question over 24 notes gave lines
that copied the worked example with the names swapped, or invented an age, and cited notes 1, 2, 3 whatever
they said; with one note per question the citation is fixed by the code and the model only has to restate.
Thoughts connect notes, so they are asked over all recent notes at once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assistant.jobs.profile import SECTIONS
from assistant.memory.support import content_words

MAX_SOURCES = 3
PROFILE_LINE_CHARS = 90
THOUGHT_CHARS = 110
NO_FACT = "none"  # the section a model picks for a note with no lasting fact in it
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|my|mine|me)\b", re.IGNORECASE)

SYSTEM_PROMPT = ("You read notes from people's conversations and answer in JSON. "
                 "Use only what the notes say; never guess.")
PROFILE_TASK = (
    "If this note says a lasting fact about the person who wrote it (who they are, their people, work, places, "
    "likes, habits or goals), state it as one short sentence about them by name, not a quote (no I, my or you), "
    f"and pick its section: {', '.join(SECTIONS)}. If it says nothing lasting, pick section {NO_FACT}."
)
THOUGHT_TASK = (
    "Write insights about the people in these notes. An insight connects two or more notes into something no "
    "single note says: a pattern, a habit, a preference shown more than once. Write it in your own words, not "
    "a quote (no I, my or you), and cite the number of every note it connects in sources."
)
# Worked examples, given as earlier questions and answers: they measurably help small models find the format,
# and a finished exchange about another note is copied less than an example inside the task. Their names
# (Sam, Leeds, Tom) are in no real note, so a line copied from one still fails the support check.
PROFILE_EXAMPLES = (
    ("Sam: I moved to Leeds in May to work at the library.",
     {"section": "places", "text": "Sam moved to Leeds in May to work at the library"}),
    ("Sam: Haha, that's so cool! Thanks!", {"section": NO_FACT, "text": "nothing lasting"}),
)
THOUGHT_EXAMPLE = (
    ["Sam: Went swimming before work again.", "Sam: Cycled to the coast on Saturday!",
     "Sam: I went running by the canal."],
    {"items": [{"sources": [1, 2, 3], "text": "Sam stays active by swimming, cycling and running"}]},
)


def profile_schema() -> dict[str, Any]:
    return {"type": "object",
            "properties": {"section": {"type": "string", "enum": [*SECTIONS, NO_FACT]},
                           "text": {"type": "string", "minLength": 3, "maxLength": PROFILE_LINE_CHARS}},
            "required": ["section", "text"]}


def thought_schema(n_notes: int, max_items: int) -> dict[str, Any]:
    """Sources first: the model picks the notes before it writes. Two at least, since a thought connects notes."""
    item = {"type": "object",
            "properties": {"sources": {"type": "array", "minItems": 2, "maxItems": MAX_SOURCES,
                                       "items": {"type": "integer", "minimum": 1, "maximum": n_notes}},
                           "text": {"type": "string", "minLength": 3, "maxLength": THOUGHT_CHARS}},
            "required": ["sources", "text"]}
    # minItems 1: an empty list is a tiny model's favourite answer; whatever it writes still faces the checks.
    return {"type": "object",
            "properties": {"items": {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}},
            "required": ["items"]}


# Room for the longest answer each schema allows (about 3 characters a token, plus the JSON around it), so a
# full answer is never cut off into invalid JSON and retried.
PROFILE_MAX_TOKENS = 24 + PROFILE_LINE_CHARS // 3


def thought_max_tokens(max_items: int) -> int:
    return 16 + max_items * (THOUGHT_CHARS // 3 + 12 + 3 * MAX_SOURCES)


_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def statements(note: str) -> str:
    """The note without its questions: "What's your vision for the future?" states nothing about its writer,
    yet Qwen2.5-0.5B turned exactly that into "Melanie's vision for the future is to be a family friend"."""
    kept = [m.group(0).strip() for m in _SENTENCE.finditer(note) if not m.group(0).rstrip().endswith("?")]
    return " ".join(k for k in kept if k)


def profile_messages(note: str) -> list[dict[str, str]]:
    note = statements(note)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example_note, answer in PROFILE_EXAMPLES:
        messages += [{"role": "user", "content": f"Note: {example_note}\n\n{PROFILE_TASK} Answer as JSON."},
                     {"role": "assistant", "content": json.dumps(answer)}]
    return messages + [{"role": "user", "content": f"Note: {note}\n\n{PROFILE_TASK} Answer as JSON."}]


def _numbered(notes: list[str]) -> str:
    listing = "\n".join(f"[{n}] {text}" for n, text in enumerate(notes, start=1))
    return f"Notes:\n{listing}\n\n{THOUGHT_TASK} Answer as JSON."


def thought_messages(notes: list[str]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _numbered(THOUGHT_EXAMPLE[0])},
            {"role": "assistant", "content": json.dumps(THOUGHT_EXAMPLE[1])},
            {"role": "user", "content": _numbered(notes)}]


def profile_candidates(notes: list[dict[str, Any]], already_cited: set[int], limit: int) -> list[dict[str, Any]]:
    """The notes most likely to state a lasting fact about their writer, in story order: first-person
    statements with the most content, not questions, not already behind a profile line. Each costs one
    short model call, so only `limit` are asked about."""
    def score(note: dict[str, Any]) -> float:
        text = statements(note["text"])
        return len(_FIRST_PERSON.findall(text)) + len(content_words(text)) / 4

    pool = [n for n in notes if n["id"] not in already_cited and _FIRST_PERSON.search(statements(n["text"]))]
    best = sorted(pool, key=lambda n: -score(n))[:limit]
    return sorted(best, key=lambda n: notes.index(n))
