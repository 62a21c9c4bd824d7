"""Reflection and session summaries with the real packaged chat model (SmolLM2-135M): whatever the weak model
writes, nothing unsupported or uncited may reach the profile, the thoughts or a summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from assistant.jobs.summaries import SUMMARY_MIN_SUPPORT
from assistant.memory.support import overlap, supported
from storage.models import Memory, MemoryLink, Session

FACTS = [
    "I work as a nurse at Lisbon city hospital.",
    "My sister Ana lives in Porto with her two cats.",
    "I go running by the river every Sunday morning.",
    "I want to run a marathon next year.",
]


def _cited(app, memory_id):
    with app.db.session() as s:
        ids = list(s.scalars(select(MemoryLink.dst_id).where(
            MemoryLink.src_id == memory_id, MemoryLink.kind == "derived_from")))
        return [m for m in s.scalars(select(Memory).where(Memory.id.in_(ids)))]


def test_reflection_with_the_real_model_keeps_only_cited_supported_lines(app):
    for text in FACTS:
        app.memory.remember(text)
    app.settings.profile_max_lines = 4
    app.settings.reflection_max_thoughts = 2
    result = app.jobs.run("reflection")
    assert "_no_model" not in result.counts
    assert result.counts.get("_proposed", 0) + result.counts.get("_model_failed", 0) >= 1  # the model was asked
    for line in app.jobs.profile_lines():
        cited = _cited(app, line["id"])
        assert cited and all(m.status == "active" for m in cited)
        assert supported(line["text"], [m.text for m in cited], app.settings.profile_min_overlap)
    for thought in app.memory.list(kind="thought"):
        cited = _cited(app, thought.id)
        assert cited and supported(thought.text, [m.text for m in cited], app.settings.support_min_overlap)
    assert app.jobs.history("reflection")[0]["status"] == "ok"


def test_session_summary_with_the_real_model_is_supported_or_extractive(app):
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        with app.db.session() as s:
            row = Session(title="chat")
            s.add(row)
            s.flush()
            session_id = row.id
        app.memory.record_turn(session_id, "I adopted a beagle puppy called Biscuit.", "Congratulations!", [1])
        app.memory.record_turn(session_id, "Biscuit chews my shoes every day.", "Puppies do that.", [2])
    with time_machine.travel(t0 + timedelta(hours=2), tick=False):
        app.jobs.run("consolidation")
    summary = app.memory.list(kind="summary")[0]
    assert summary.provenance["method"] in ("llm", "extractive-fallback")
    episodes = [m.text for m in _cited(app, summary.id)]
    assert len(episodes) == 2
    body = summary.text.split(": ", 1)[1]
    assert overlap(body, episodes) >= (SUMMARY_MIN_SUPPORT if summary.provenance["method"] == "llm" else 0.99)
