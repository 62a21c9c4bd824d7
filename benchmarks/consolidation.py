"""Consolidation on the LoCoMo ingest: what it changes, and whether recall survives it.

Each LoCoMo conversation (loaded with the helpers of benchmarks/locomo_retrieval.py) goes into its own temporary
SECONDME_HOME through the real write path, one memory per turn (kind `fact` by default so the near-duplicate merge
has work; `--kind episode` stores them as chat turns), one `sessions` row per LoCoMo session. Evidence recall (turn
R@5 and R@10 through MemoryManager.recall, questions of categories 1-4) is measured before consolidation and after
it, a day later on the clock; a memory merged into another passes its evidence ids on to the survivor, summaries
count for nothing. Then consolidation runs a second time, which must change nothing. Acceptance: R@10 after >= R@10
before - 1 point.

    python benchmarks/consolidation.py            # all 10 conversations
    python benchmarks/consolidation.py --quick    # the first conversation only
    python benchmarks/consolidation.py --json     # last line: one JSON object of figures
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.locomo_retrieval import DATA, normalise_evidence, sessions_of, turn_text  # noqa: E402
from storage.records import NewMemory

KS = (5, 10)


def questions(sample, known: set[str]):
    """(question, evidence ids, category) for categories 1-4 with at least one valid evidence turn."""
    for qa in sample["qa"]:
        if qa.get("category") in (1, 2, 3, 4):
            ids, _ = normalise_evidence(qa.get("evidence", []), known)
            if ids:
                yield qa["question"], ids, qa["category"]


def ingest(app, sample, kind: str) -> dict[int, set[str]]:
    """Write every turn; returns memory id -> the dia ids it stands for (a write-time duplicate adds its own)."""
    from storage.models import Session

    owner: dict[int, set[str]] = {}
    for number, date, turns in sessions_of(sample["conversation"]):
        with app.db.session() as s:
            row = Session(title=f"LoCoMo {sample['sample_id']} session {number}", created_at=date, updated_at=date)
            s.add(row)
            s.flush()
            session_id = row.id
        items = [NewMemory(text=turn_text(t), kind=kind, source="user", at=date, session_id=session_id,
                      provenance={"dia_id": t["dia_id"], "speaker": t["speaker"]}) for t in turns]
        for turn, outcome in zip(turns, app.memory.write(items, reason="LoCoMo ingest")):
            if outcome.record is not None:
                owner.setdefault(outcome.record.id, set()).add(turn["dia_id"])
    return owner


def follow_merges(app, owner: dict[int, set[str]]) -> dict[int, set[str]]:
    """A merged memory's evidence now lives in the memory it was merged into."""
    from sqlalchemy import select

    from storage.models import MemoryLink

    with app.db.session() as s:
        into = dict(s.execute(select(MemoryLink.src_id, MemoryLink.dst_id)
                              .where(MemoryLink.kind == "merged_into")).all())
    out = {k: set(v) for k, v in owner.items()}
    for src, dst in into.items():
        while dst in into:
            dst = into[dst]
        out.setdefault(dst, set()).update(owner.get(src, ()))
    return out


def evidence_recall(app, qs, owner: dict[int, set[str]], as_of: datetime) -> dict[str, float]:
    scores = {k: [] for k in KS}
    for question, evidence, _ in qs:
        # Asked as of the conversation's end, as benchmarks/locomo_retrieval.py does.
        hits = app.memory.recall(question, k=max(KS), reference_time=as_of)
        for k in KS:
            found = set().union(*(owner.get(h.memory.id, set()) for h in hits[:k])) if hits else set()
            scores[k].append(len(found & set(evidence)) / len(evidence))
    return {f"R@{k}": round(100 * statistics.fmean(v), 2) for k, v in scores.items()}


def active_by_kind(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.models import Memory

    with app.db.session() as s:
        return dict(s.execute(select(Memory.kind, func.count()).where(Memory.status == "active")
                              .group_by(Memory.kind)).all())


def run_conversation(sample, embedder, kind: str, use_llm: bool) -> dict:
    import time_machine

    from assistant.app import App

    with tempfile.TemporaryDirectory(prefix="secondme-consolidation-") as home:
        os.environ["SECONDME_HOME"] = home
        app = App(embedder=embedder)
        app.settings.jobs_use_llm = use_llm
        started = time.perf_counter()
        owner = ingest(app, sample, kind)
        ingest_s = time.perf_counter() - started
        turns = sum(len(t) for _, _, t in sessions_of(sample["conversation"]))
        known = {d for ids in owner.values() for d in ids}
        qs = list(questions(sample, known))
        before_kinds = active_by_kind(app)
        as_of = sessions_of(sample["conversation"])[-1][1] + timedelta(days=1)
        before = evidence_recall(app, qs, owner, as_of)
        # A day later: every session is finished.
        with time_machine.travel(datetime.now(UTC) + timedelta(days=1), tick=True):
            started = time.perf_counter()
            result = app.jobs.run("consolidation")
            job_s = time.perf_counter() - started
            second = app.jobs.run("consolidation")
        after_kinds = active_by_kind(app)
        after = evidence_recall(app, qs, follow_merges(app, owner), as_of)
        app.close()
    return {
        "conversation": sample["sample_id"], "turns": turns, "questions": len(qs),
        "stored_at_ingest": sum(before_kinds.values()), "write_path_duplicates": turns - len(owner),
        "active_before": sum(before_kinds.values()), "active_after": sum(after_kinds.values()),
        "merged": result.counts["merged"], "summaries": result.counts["summaries"],
        "related_links": result.counts["linked"], "reembedded": result.counts["reembedded"],
        "summary_model_rejected": result.counts.get("_summary_llm_rejected", 0),
        "second_run_changes": second.changed,
        "before": before, "after": after, "ingest_s": round(ingest_s, 1), "consolidation_s": round(job_s, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="first conversation only")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of figures")
    parser.add_argument("--kind", choices=("fact", "episode"), default="fact", help="memory kind of each turn")
    parser.add_argument("--llm", action="store_true", help="let consolidation write summaries with the chat model")
    parser.add_argument("--conversations", type=int, default=None, help="how many conversations (default all)")
    args = parser.parse_args(argv)

    if not DATA.is_file():
        print(f"skipped: LoCoMo data not found at {DATA}")
        return 0
    data = json.loads(DATA.read_text(encoding="utf-8"))
    import storage.offline  # noqa: F401
    from storage.embedder import load_embedder

    count = 1 if args.quick else (args.conversations or len(data))
    embedder = load_embedder()
    rows = []
    for sample in data[:count]:
        row = run_conversation(sample, embedder, args.kind, args.llm)
        rows.append(row)
        print(f"  {row['conversation']}: {row['active_before']} -> {row['active_after']} active, "
              f"merged {row['merged']}, summaries {row['summaries']}, links {row['related_links']}, "
              f"R@10 {row['before']['R@10']} -> {row['after']['R@10']}", file=sys.stderr)

    def total(key):
        return sum(r[key] for r in rows)

    n_q = total("questions")

    def pooled(which, k):  # question-weighted over conversations
        return round(sum(r[which][k] * r["questions"] for r in rows) / n_q, 2)

    summary = {
        "conversations": len(rows), "turns": total("turns"), "questions": n_q, "kind": args.kind,
        "summaries_by": "model" if args.llm else "extractive",
        "write_path_duplicates": total("write_path_duplicates"), "active_before": total("active_before"),
        "active_after": total("active_after"), "merged": total("merged"), "summaries": total("summaries"),
        "related_links": total("related_links"), "second_run_changes": total("second_run_changes"),
        **{f"before_{k}": pooled("before", k) for k in ("R@5", "R@10")},
        **{f"after_{k}": pooled("after", k) for k in ("R@5", "R@10")},
        "consolidation_s": round(total("consolidation_s"), 1),
    }
    summary["r10_change_points"] = round(summary["after_R@10"] - summary["before_R@10"], 2)
    summary["pass"] = summary["r10_change_points"] >= -1.0 and summary["second_run_changes"] == 0

    print(f"\nConsolidation on LoCoMo ({len(rows)} conversation(s), turns stored as {args.kind}, "
          f"summaries {summary['summaries_by']})")
    print(f"{'conversation':<14}{'turns':>6}{'before':>8}{'after':>7}{'merged':>8}{'summ.':>7}{'links':>7}"
          f"{'R@10 before':>13}{'R@10 after':>12}{'2nd run':>9}{'job s':>8}")
    for r in rows:
        print(f"{r['conversation']:<14}{r['turns']:>6}{r['active_before']:>8}{r['active_after']:>7}{r['merged']:>8}"
              f"{r['summaries']:>7}{r['related_links']:>7}{r['before']['R@10']:>13}{r['after']['R@10']:>12}"
              f"{r['second_run_changes']:>9}{r['consolidation_s']:>8}")
    print(f"{'all':<14}{summary['turns']:>6}{summary['active_before']:>8}{summary['active_after']:>7}"
          f"{summary['merged']:>8}{summary['summaries']:>7}{summary['related_links']:>7}{summary['before_R@10']:>13}"
          f"{summary['after_R@10']:>12}{summary['second_run_changes']:>9}{summary['consolidation_s']:>8}")
    print(f"R@5 {summary['before_R@5']} -> {summary['after_R@5']}; R@10 change {summary['r10_change_points']:+} points "
          f"(limit -1); write-path duplicates at ingest {summary['write_path_duplicates']}; "
          f"{'PASS' if summary['pass'] else 'FAIL'}")
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
