"""Splitting a long chat turn into chunks small enough to embed well, without dropping a single character."""

from __future__ import annotations

import re

# Preferred cut points, strongest first: a blank line, a line end, a sentence end, any whitespace.
_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?。！？])\s+"), re.compile(r"\s+"))


def split_text(text: str, max_chars: int) -> list[str]:
    """Chunks of at most max_chars whose concatenation is exactly `text`.

    Each cut is made at the strongest boundary found in the second half of the window, so chunks stay
    readable; a run with no boundary at all (a long URL, text without spaces) is cut hard at max_chars.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[str] = []
    start = 0
    while len(text) - start > max_chars:
        window = text[start:start + max_chars]
        cut = max_chars
        for boundary in _BOUNDARIES:
            ends = [m.end() for m in boundary.finditer(window) if m.end() >= max_chars // 2]
            if ends:
                cut = ends[-1]
                break
        chunks.append(text[start:start + cut])
        start += cut
    chunks.append(text[start:])
    return [c for c in chunks if c]
