"""Forgetting: the curve, the exemptions, the inbox and restore, with the clock moved by time-machine."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from assistant.memory.retention import reinforced_strength, retention, stability_days
from storage.models import MemoryLink
from tests.jobs_helpers import snapshot


@pytest.fixture(autouse=True)
def _no_chat_model(app):
    """These tests cover the jobs' own logic: no real chat model (it has its own end-to-end test)."""
    app.settings.jobs_use_llm = False


T0 = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def test_stability_grows_with_importance_and_spaced_recall_not_with_massed_recall():
    assert stability_days(1.0, 0.5, 30) == 30
    assert stability_days(1.0, 1.0, 30) > stability_days(1.0, 0.0, 30)
    assert retention(30, 1.0, 0.5, 30) == pytest.approx(math.exp(-1))
    # Larger strength means slower forgetting (MemoryBank's code has it the other way round).
    assert retention(60, 4.0, 0.5, 30) > retention(60, 1.0, 0.5, 30)
    assert reinforced_strength(1.0, None, T0, 12) == 2.5
    assert reinforced_strength(2.5, T0, T0 + timedelta(days=3), 12) == 4.75
    assert reinforced_strength(2.5, T0, T0 + timedelta(hours=1), 12) == 2.5  # same chat: no growth


def test_reinforce_applies_the_spacing_rule(app):
    m = app.memory.remember("The spare key is under the blue flower pot.")
    with time_machine.travel(T0, tick=False):
        app.memory.reinforce([m.id])
        app.memory.reinforce([m.id])
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        app.memory.reinforce([m.id])
    got = app.memory.get(m.id)
    assert got.recall_count == 3 and got.strength == pytest.approx(4.75)


def test_a_year_later_only_unused_unprotected_memories_are_archived_and_can_come_back(app):
    with time_machine.travel(T0, tick=False):
        old = app.memory.remember("The plumber's name was Dave.", importance=0.2)
        pinned = app.memory.remember("My blood type is O negative.", importance=0.2)
        app.memory.pin(pinned.id)
        recalled = app.memory.remember("Mum's birthday is on 12 June.", importance=0.2)
        source = app.memory.remember("I am vegetarian.", importance=0.2)
        line = app.memory.remember("Vegetarian", kind="profile", source="assistant")
        with app.db.session() as s:
            s.add(MemoryLink(src_id=line.id, dst_id=source.id, kind="derived_from"))
    with time_machine.travel(T0 + timedelta(days=350), tick=False):
        app.memory.reinforce([recalled.id])
    with time_machine.travel(T0 + timedelta(days=365), tick=False):
        before = snapshot(app)
        plan = app.jobs.run("forgetting", dry_run=True)
        assert plan.counts["archived"] == 1 and snapshot(app) == before
        result = app.jobs.run("forgetting")
    assert result.counts["archived"] == 1
    assert app.memory.get(old.id).status == "archived"
    for kept in (pinned, recalled, source, line):
        assert app.memory.get(kept.id).status == "active"
    assert old.id not in [h.memory.id for h in app.memory.recall("plumber Dave")]
    inbox = app.jobs.forgetting_inbox()
    assert [r["id"] for r in inbox] == [old.id] and inbox[0]["reason"].startswith("forgetting: retention")

    with time_machine.travel(T0 + timedelta(days=366), tick=False):
        app.memory.restore(old.id)
    assert app.jobs.forgetting_inbox() == []
    with time_machine.travel(T0 + timedelta(days=367), tick=False):
        assert app.jobs.run("forgetting").counts["archived"] == 0  # a restored memory starts a fresh curve
    assert app.memory.get(old.id).status == "active"


def test_fresh_and_important_memories_stay(app):
    with time_machine.travel(T0, tick=False):
        weak = app.memory.remember("Had a sandwich for lunch.", importance=0.0)
        strong = app.memory.remember("My passport expires in March 2027.", importance=1.0)
    with time_machine.travel(T0 + timedelta(days=80), tick=False):
        app.jobs.run("forgetting")
    # S(weak) = 30 * 0.5 = 15 days, R(80) = 0.005; S(strong) = 45 days, R(80) = 0.17
    assert app.memory.get(weak.id).status == "archived"
    assert app.memory.get(strong.id).status == "active"


def test_settings_change_the_threshold(app):
    with time_machine.travel(T0, tick=False):
        m = app.memory.remember("Parked on level 3.", importance=0.5)
    app.settings.forgetting_threshold = 0.5
    with time_machine.travel(T0 + timedelta(days=25), tick=False):  # R = exp(-25/30) = 0.43
        assert app.jobs.run("forgetting").counts["archived"] == 1
    assert app.memory.get(m.id).status == "archived"
