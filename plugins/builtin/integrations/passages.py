"""Cutting a Markdown note into passages the embedder reads whole.

The embedder reads 256 tokens (storage/embedder.py MAX_TOKENS); what lies beyond is invisible to dense search.
So a note becomes heading-aware passages of about PASSAGE_TOKENS tokens: a section is never mixed with the next
one's text, a paragraph is split only when it alone is too long, and each passage starts with the note's title
and the headings above it, so it can be found (and read) on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PASSAGE_TOKENS = 200  # estimated; the estimate runs high, and the header adds a few: well under 256 real tokens
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TOKENS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]|\w+|[^\w\s]")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+")


def estimate_tokens(text: str) -> int:
    """A cautious count of MiniLM's WordPiece tokens: a long or rare word is several pieces, a CJK character one."""
    count = 0
    for token in _TOKENS.findall(text):
        count += 1 + len(token) // 6 if token[0].isalnum() or token[0] == "_" else 1
    return count


@dataclass(frozen=True)
class Passage:
    headings: tuple[str, ...]
    text: str


def sections(body: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, text) for each section of a Markdown body; headings inside code fences are text."""
    out: list[tuple[tuple[str, ...], list[str]]] = [((), [])]
    stack: list[tuple[int, str]] = []
    fenced = False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            level = len(match.group(1))
            stack = [(lvl, h) for lvl, h in stack if lvl < level] + [(level, match.group(2).strip())]
            out.append((tuple(h for _, h in stack), []))
        else:
            out[-1][1].append(line)
    return [(path, "\n".join(lines).strip()) for path, lines in out if "\n".join(lines).strip() or path]


def _split_block(block: str, budget: int) -> list[str]:
    """One paragraph over the budget: by sentences, then by words."""
    pieces: list[str] = []
    current = ""
    for unit in _SENTENCE.split(block):
        if estimate_tokens(unit) > budget:
            words = unit.split(" ")
            unit_pieces, part = [], ""
            for word in words:
                candidate = f"{part} {word}" if part else word
                if part and estimate_tokens(candidate) > budget:
                    unit_pieces.append(part)
                    part = word
                else:
                    part = candidate
            while estimate_tokens(part) > budget:  # one enormous "word" (a URL, a base64 blob): cut on characters
                cut = max(budget * 2, 16)
                unit_pieces.append(part[:cut])
                part = part[cut:]
            if part:
                unit_pieces.append(part)
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(unit_pieces[:-1])
            current = unit_pieces[-1] if unit_pieces else ""
            continue
        candidate = f"{current} {unit}" if current else unit
        if current and estimate_tokens(candidate) > budget:
            pieces.append(current)
            current = unit
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def passages(body: str, budget: int = PASSAGE_TOKENS) -> list[Passage]:
    out: list[Passage] = []
    for path, text in sections(body):
        blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
        if not blocks:
            continue
        current = ""
        for block in blocks:
            parts = [block] if estimate_tokens(block) <= budget else _split_block(block, budget)
            for part in parts:
                candidate = f"{current}\n\n{part}" if current else part
                if current and estimate_tokens(candidate) > budget:
                    out.append(Passage(path, current))
                    current = part
                else:
                    current = candidate
        if current:
            out.append(Passage(path, current))
    return out


def header(title: str, folder: str, headings: tuple[str, ...]) -> str:
    """The first line of each passage: where it sits ("Trip planning › Lisbon › Hotels (in trips)")."""
    line = " › ".join((title, *headings))
    return f"{line} (in {folder})" if folder else line
