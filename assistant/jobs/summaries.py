"""Session summaries: a short schema-constrained summary from the chat model when one is available and
supported by the session's text, else a deterministic extractive one, so consolidation never depends on a model."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from assistant.jobs.base import JobContext
from assistant.memory.support import content_words, overlap

log = logging.getLogger(__name__)

EXTRACT_SENTENCES = 3
SENTENCE_CHARS = 180
SUMMARY_MIN_SUPPORT = 0.7  # share of the summary's content words that must appear in the session


def _date(members: list[dict[str, Any]]) -> str:
    first = members[0].get("valid_from")
    return f"{first:%d %B %Y}".lstrip("0") if first else ""


def extractive_summary(members: list[dict[str, Any]], max_chars: int) -> str:
    """The most central lines of the session, in their original order (centrality = shared content words)."""
    df = Counter(w for m in members for w in content_words(m["text"]))
    scored = []
    for pos, m in enumerate(members):
        line = " ".join(m["text"].split())
        if len(line) > SENTENCE_CHARS:
            line = line[: SENTENCE_CHARS - 1].rsplit(" ", 1)[0] + "…"
        words = content_words(line)
        if not words:
            continue
        score = sum(df[w] - 1 for w in words) / len(words) ** 0.5 + 0.1 * len(words)
        scored.append((score, pos, line))
    best = sorted(sorted(scored, key=lambda t: -t[0])[:EXTRACT_SENTENCES], key=lambda t: t[1])
    date = _date(members)
    text = (f"Conversation on {date}: " if date else "Conversation: ") + " | ".join(t[2] for t in best)
    return text[:max_chars]


SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 10, "maxLength": 400}},
    "required": ["summary"],
}


def _transcript(members: list[dict[str, Any]], budget_chars: int) -> str:
    lines, used = [], 0
    for m in members:
        line = " ".join(m["text"].split())
        if used + len(line) > budget_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def llm_summary(llm, members: list[dict[str, Any]], max_chars: int) -> str | None:
    """A model-written summary, or None when the model fails or writes something the session does not say."""
    from assistant.llm.protocol import LLMError

    budget = max(1000, int(getattr(llm, "context_size", 2048)) * 2)  # ~half the context, at ~4 chars a token
    transcript = _transcript(members, budget)
    messages = [
        {"role": "system", "content": "You summarise conversations. Write at most three short sentences using only "
                                      "facts stated in the conversation. Do not add anything."},
        {"role": "user", "content": f"Conversation:\n{transcript}\n\nSummarise it as JSON."},
    ]
    try:
        out = llm.generate_json(messages, SUMMARY_SCHEMA, max_tokens=160)
    except LLMError as exc:
        log.warning("summary by the model failed: %s", exc)
        return None
    summary = re.sub(r"\s+", " ", str(out.get("summary", ""))).strip()
    if not summary or overlap(summary, [m["text"] for m in members]) < SUMMARY_MIN_SUPPORT:
        return None
    date = _date(members)
    return ((f"Conversation on {date}: " if date else "") + summary)[:max_chars]


def summarise(ctx: JobContext, members: list[dict[str, Any]]) -> tuple[str, str]:
    """(summary text, method): method is llm, extractive (no model) or extractive-fallback (model output rejected)."""
    max_chars = ctx.settings.summary_max_chars
    llm = ctx.llm_factory() if ctx.llm_factory else None
    if llm is None:
        return extractive_summary(members, max_chars), "extractive"
    text = llm_summary(llm, members, max_chars)
    if text is None:
        return extractive_summary(members, max_chars), "extractive-fallback"
    return text, "llm"
