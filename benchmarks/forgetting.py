"""Forgetting over a simulated year of daily use, on the real app with the clock moved by time-machine.

Every simulated day at 09:00: a few new memories (random importance, ~3% pinned), a few recall events (a fifth of
the memories are "useful" and recalled far more often, recent ones more than old ones; a recall reinforces the
memory, a recall of an archived memory is a miss), then the daily forgetting job. The same pre-drawn events are
replayed in pure Python under two other rules for comparison: stability that never grows with recall, and
MemoryBank's published direction (t multiplied by the strength, so practice speeds forgetting up).

Checks: no memory recalled in the 30 days before a run, and no pinned memory, is ever archived; the pure-Python
replay of our rule archives exactly what the app archived.

    python benchmarks/forgetting.py            # 365 days
    python benchmarks/forgetting.py --quick    # 90 days
    python benchmarks/forgetting.py --json     # last line: one JSON object of figures
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from storage.records import NewMemory  # noqa: E402

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
WORDS = ("garden invoice dentist concert sister recipe train passport meeting bicycle library yoga budget "
         "holiday plumber birthday school laptop insurance neighbour museum marathon coffee piano doctor").split()


@dataclass
class Plan:
    """Pre-drawn events, so every rule sees the same year."""
    created: list[int] = field(default_factory=list)        # day each memory is added
    importance: list[float] = field(default_factory=list)
    pinned: list[bool] = field(default_factory=list)
    useful: list[bool] = field(default_factory=list)
    recalls: dict[int, list[int]] = field(default_factory=dict)  # day -> memory indices recalled


def draw_plan(days: int, seed: int) -> Plan:
    rng = random.Random(seed)
    plan = Plan()
    for day in range(days):
        for _ in range(rng.randint(1, 4)):
            plan.created.append(day)
            plan.importance.append(round(min(1.0, max(0.0, rng.betavariate(2, 3))), 2))
            plan.pinned.append(rng.random() < 0.03)
            plan.useful.append(rng.random() < 0.2)
        known = [i for i, d in enumerate(plan.created) if d < day]
        if not known:
            continue
        weights = [(1.0 if plan.useful[i] else 0.03) / (1 + (day - plan.created[i]) / 60) for i in known]
        plan.recalls[day] = sorted(set(rng.choices(known, weights=weights, k=rng.randint(2, 6))))
    return plan


def replay(plan: Plan, days: int, settings, rule: str) -> dict:
    """The year under a rule, without the app: what is archived and how many recalls miss."""
    from assistant.memory.retention import reinforced_strength, retention

    n = len(plan.created)
    strength, last, archived, misses = [1.0] * n, [None] * n, set(), 0
    for day in range(days):
        now = START + timedelta(days=day)
        for i in plan.recalls.get(day, ()):
            if i in archived:
                misses += 1
                continue
            if rule != "fixed":
                strength[i] = reinforced_strength(strength[i], last[i], now, settings.reinforce_min_gap_hours)
            last[i] = now
        for i in range(n):
            if plan.created[i] > day or i in archived or plan.pinned[i]:
                continue
            if last[i] is not None and (now - last[i]).days < settings.forgetting_recent_days:
                continue
            since = last[i] or START + timedelta(days=plan.created[i])
            age = (now - since).total_seconds() / 86400
            if rule == "memorybank":  # R = exp(-t * S / base): more practice, faster decay
                s_days = settings.forgetting_base_days * (0.5 + plan.importance[i])
                r = math.exp(-age * strength[i] / s_days)
            else:
                r = retention(age, strength[i], plan.importance[i], settings.forgetting_base_days)
            if r < settings.forgetting_threshold:
                archived.add(i)
    useful = [i for i in range(n) if plan.useful[i]]
    return {"archived": len(archived), "share_archived": round(100 * len(archived) / n, 1), "misses": misses,
            "useful_archived": sum(1 for i in useful if i in archived), "archived_ids": archived}


def run_app(plan: Plan, days: int, embedder) -> dict:
    import time_machine
    from sqlalchemy import select

    from assistant.app import App
    from storage.models import Memory

    with tempfile.TemporaryDirectory(prefix="secondme-forgetting-") as home:
        os.environ["SECONDME_HOME"] = home
        app = App(embedder=embedder)
        app.settings.jobs_use_llm = False
        last_recall: dict[int, datetime] = {}
        violations, misses, runs = [], 0, 0
        order = sorted(range(len(plan.created)), key=lambda i: plan.created[i])
        by_day: dict[int, list[int]] = {}
        for i in order:
            by_day.setdefault(plan.created[i], []).append(i)
        index_of: dict[int, int] = {}
        for day in range(days):
            now = START + timedelta(days=day)
            with time_machine.travel(now, tick=False):
                new = by_day.get(day, [])
                if new:
                    outcomes = app.memory.write([NewMemory(
                        text=f"Day {day} note {i}: {' '.join(random.Random(i).sample(WORDS, 4))} ({i})",
                        importance=plan.importance[i]) for i in new], reason="simulated day")
                    for i, outcome in zip(new, outcomes):
                        index_of[i] = outcome.record.id
                        if plan.pinned[i]:
                            app.memory.pin(outcome.record.id)
                targets = [index_of[i] for i in plan.recalls.get(day, ())]
                with app.db.session() as s:
                    status = dict(s.execute(select(Memory.id, Memory.status).where(Memory.id.in_(targets))).all())
                live = [t for t in targets if status.get(t) == "active"]
                misses += len(targets) - len(live)
                app.memory.reinforce(live)
                for t in live:
                    last_recall[t] = now
                with app.db.session() as s:
                    before = set(s.scalars(select(Memory.id).where(Memory.status == "archived")))
                app.jobs.run("forgetting")
                runs += 1
                with app.db.session() as s:
                    rows = s.execute(select(Memory.id, Memory.pinned).where(Memory.status == "archived")).all()
                for memory_id, pinned in rows:
                    if memory_id in before:
                        continue
                    recent = last_recall.get(memory_id)
                    if pinned or (recent is not None and now - recent < timedelta(days=30)):
                        violations.append(memory_id)
        with app.db.session() as s:
            archived_db = set(s.scalars(select(Memory.id).where(Memory.status == "archived")))
            total = s.query(Memory).count()
            pinned_archived = s.query(Memory).filter(Memory.pinned.is_(True), Memory.status == "archived").count()
        app.close()
    reverse = {v: k for k, v in index_of.items()}
    return {"memories": total, "archived": len(archived_db), "share_archived": round(100 * len(archived_db) / total, 1),
            "misses": misses, "violations": len(violations), "pinned_archived": pinned_archived, "runs": runs,
            "archived_ids": {reverse[m] for m in archived_db},
            "useful_archived": sum(1 for m in archived_db if plan.useful[reverse[m]])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="90 days instead of 365")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of figures")
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    days = args.days or (90 if args.quick else 365)

    import storage.offline  # noqa: F401
    from assistant.config import load_settings
    from storage.embedder import load_embedder

    plan = draw_plan(days, args.seed)
    settings = load_settings()
    started = time.perf_counter()
    app_result = run_app(plan, days, load_embedder())
    seconds = time.perf_counter() - started
    ours = replay(plan, days, settings, "ours")
    fixed = replay(plan, days, settings, "fixed")
    memorybank = replay(plan, days, settings, "memorybank")
    recall_events = sum(len(v) for v in plan.recalls.values())

    print(f"\nForgetting over {days} simulated days: {len(plan.created)} memories, {recall_events} recall events, "
          f"{sum(plan.pinned)} pinned, {sum(plan.useful)} 'useful'")
    print(f"(base {settings.forgetting_base_days:g} d, threshold {settings.forgetting_threshold}, "
          f"recent-recall exemption {settings.forgetting_recent_days:g} d)")
    print(f"{'rule':<44}{'archived':>9}{'share %':>9}{'useful archived':>17}{'recall misses':>15}")
    for name, r in (("secondme (app, time-machine clock)", app_result),
                    ("same rule, replayed in Python", ours),
                    ("no growth on recall (fixed S)", fixed),
                    ("MemoryBank direction (t x S)", memorybank)):
        print(f"{name:<44}{r['archived']:>9}{r['share_archived']:>9}{r['useful_archived']:>17}{r['misses']:>15}")
    agree = app_result["archived_ids"] == ours["archived_ids"]
    ok = app_result["violations"] == 0 and app_result["pinned_archived"] == 0 and agree
    print(f"archived while recalled in the last 30 days or pinned: {app_result['violations']}; pinned archived at the "
          f"end: {app_result['pinned_archived']}; app and replay agree: {agree}; {app_result['runs']} job runs in "
          f"{seconds:.0f} s; {'PASS' if ok else 'FAIL'}")
    if args.json:
        figures = {"days": days, "memories": len(plan.created), "recall_events": recall_events,
                   "archived": app_result["archived"], "share_archived": app_result["share_archived"],
                   "useful_archived": app_result["useful_archived"], "recall_misses": app_result["misses"],
                   "violations_recent_or_pinned": app_result["violations"],
                   "pinned_archived": app_result["pinned_archived"], "replay_agrees": agree,
                   "fixed_share_archived": fixed["share_archived"], "fixed_misses": fixed["misses"],
                   "memorybank_share_archived": memorybank["share_archived"], "memorybank_misses": memorybank["misses"],
                   "seconds": round(seconds, 1), "pass": ok}
        print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
