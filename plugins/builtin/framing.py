"""secondme's own framing of a conversation: the role labels put in front of each turn of a stored episode.

"User: …\nAssistant: …" is how an episode reads in recall and in prompts, but the labels are ours, not the
speaker's: a check must never take our "Assistant:" for a text claiming to be the assistant. So an importer that
frames turns records each turn's role and length in the memory's provenance (`turns`), and the poisoning guard
splits the text back into turns and judges each alone, as what it is (a user turn, an assistant turn, a tool's
output). The split is trusted only when the text is exactly the labels and turns the provenance describes: text
that differs in any character (an API caller's made-up provenance, an edited memory) is judged whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# The roles a turn can have, and the label each is stored under.
LABELS = {
    "user": "User: ",
    "assistant": "Assistant: ",
    "tool": "Tool output: ",  # what a tool returned to the assistant (web pages, code results): outside text
}
TURNS_KEY = "turns"
# What the write path strips before storing (storage cleans text the same way): framed text must survive it intact.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_turn(text: str) -> str:
    """A turn as it will be stored: control characters out, outer whitespace trimmed, lone surrogates replaced."""
    cleaned = _CONTROL.sub("", text).strip()
    return cleaned.encode("utf-8", errors="replace").decode("utf-8")


def frame(turns: Sequence[tuple[str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """The episode text for (role, text) turns, and the provenance entry that lets a check split it again.

    Empty turns are left out; the turns are cleaned as the write path would clean them."""
    lines, spans = [], []
    for role, text in turns:
        if role not in LABELS:
            raise ValueError(f"unknown turn role {role!r}")
        body = clean_turn(text)
        if body:
            lines.append(LABELS[role] + body)
            spans.append({"role": role, "chars": len(body)})
    return "\n".join(lines), spans


def unframe(text: str, provenance: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """The (role, text) turns of a framed episode, or None when the text is not exactly what `turns` describes."""
    spans = (provenance or {}).get(TURNS_KEY)
    if not isinstance(spans, list) or not spans:
        return None
    out: list[tuple[str, str]] = []
    at = 0
    for index, span in enumerate(spans):
        if not isinstance(span, dict):
            return None
        role, chars = span.get("role"), span.get("chars")
        if role not in LABELS or not isinstance(chars, int) or isinstance(chars, bool) or chars < 1:
            return None
        label = ("\n" if index else "") + LABELS[role]
        if not text.startswith(label, at):
            return None
        at += len(label)
        body = text[at:at + chars]
        if len(body) != chars:
            return None
        out.append((role, body))
        at += chars
    return out if at == len(text) else None


def parse_labelled(text: str) -> list[tuple[str, str]] | None:
    """Turns of an episode written by secondme's chat ("User: …\nAssistant: …", no provenance to say so), as
    read back from its own JSON export; None for any other text. Only these two shapes are accepted."""
    user, assistant = LABELS["user"], "\n" + LABELS["assistant"]
    if text.startswith(user) and assistant in text:
        head, _, tail = text[len(user):].partition(assistant)
        return [("user", head), ("assistant", tail)]
    if text.startswith(LABELS["assistant"]):
        return [("assistant", text[len(LABELS["assistant"]):])]
    if text.startswith(user):
        return [("user", text[len(user):])]
    return None
