"""Precision and recall of the conflict checker on ConflictQA (StrategyQA part).

    python benchmarks/conflicts.py [--quick] [--json]

Each ConflictQA row gives a claim (memory_answer), its negation (counter_answer), a passage supporting the claim
(parametric_memory) and one arguing the opposite (counter_memory). Pairs judged, claim vs:
- counter_answer (a contradiction: must be flagged),
- the supporting passage, and the claim of the next row (no contradiction: must not be flagged);
and, harder, passage level: claim vs counter_memory (contradiction) and vs parametric_memory (agreement).
Baseline in the same run: "flag when the two texts differ in negation words alone", i.e. the negation test
without the content-overlap requirement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "conflictqa"

from plugins.builtin.conflicts import NEGATIONS, find_conflict_in, tokens  # noqa: E402


def negation_baseline(a: str, b: str) -> bool:
    return (sum(t in NEGATIONS for t in tokens(a)) % 2) != (sum(t in NEGATIONS for t in tokens(b)) % 2)


def score(pairs, judge) -> dict:
    tp = sum(1 for a, b, y in pairs if y and judge(a, b))
    fp = sum(1 for a, b, y in pairs if not y and judge(a, b))
    pos = sum(1 for *_, y in pairs if y)
    neg = len(pairs) - pos
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(pos, 1), "fpr": fp / max(neg, 1),
            "positives": pos, "negatives": neg}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(DATA.glob("*.jsonl"))
    if not files:
        print("ConflictQA data not found under ../shared/data/conflictqa; skipped")
        return 0
    started = time.perf_counter()
    rows = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.quick:
        rows = rows[:300]
    answer_pairs, passage_pairs = [], []
    for i, row in enumerate(rows):
        claim = row["memory_answer"]
        answer_pairs.append((claim, row["counter_answer"], True))
        answer_pairs.append((claim, row["parametric_memory"], False))
        answer_pairs.append((claim, rows[(i + 1) % len(rows)]["memory_answer"], False))
        passage_pairs.append((claim, row["counter_memory"], True))
        passage_pairs.append((claim, row["parametric_memory"], False))
    checker = lambda a, b: find_conflict_in(a, b) is not None  # noqa: E731
    figures = {"rows": len(rows), "quick": args.quick}
    print(f"ConflictQA rows: {len(rows)} ({', '.join(f.name for f in files)})")
    print(f"{'pairs':9s} {'method':18s} {'precision':>9s} {'recall':>7s} {'FPR':>7s} {'pos':>5s} {'neg':>5s}")
    for level, pairs in (("answers", answer_pairs), ("passages", passage_pairs)):
        for name, judge in (("conflict checker", checker), ("negation baseline", negation_baseline)):
            r = score(pairs, judge)
            figures[f"{level}/{name}"] = r
            print(f"{level:9s} {name:18s} {r['precision']:9.3f} {r['recall']:7.3f} {r['fpr']:7.3f} "
                  f"{r['positives']:5d} {r['negatives']:5d}")
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(f"{figures['seconds']} s")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
