"""Precision and recall of the conflict checker on ConflictQA (StrategyQA part), or through the real write path
on personal-fact pairs (--personal).

    python benchmarks/conflicts.py [--quick] [--json]                               ConflictQA, checker alone
    python benchmarks/conflicts.py --personal [--quick] [--json] [--errors N] [--seed N]   personal facts, write path

Each ConflictQA row gives a claim (memory_answer), its negation (counter_answer), a passage supporting the claim
(parametric_memory) and one arguing the opposite (counter_memory). Pairs judged, claim vs:
- counter_answer (a contradiction: must be flagged),
- the supporting passage, and the claim of the next row (no contradiction: must not be flagged);
and, harder, passage level: claim vs counter_memory (contradiction) and vs parametric_memory (agreement).
Baseline in the same run: "flag when the two texts differ in negation words alone", i.e. the negation test
without the content-overlap requirement.

--personal: the pairs of benchmarks/personal_facts.py (416 from templates, fixed seed, no external data: updates,
contradictions, compatible and unrelated pairs about the user and eight other people; see that module). They go
through the real write path: one App per batch of the set (a temporary data folder; pairs in a batch share no
person+attribute and no value, so they cannot interact), and for each pair app.memory.write() of the first text,
then of the second, as `remember` does. Then, read back:
  update         the first memory was superseded by the second (outcome.superseded, or a `supersedes` link from
                 the second to the first, as app.memory.history shows);
  contradiction  otherwise, a `contradicts` link between the two (either way);
  none           otherwise (also when the second was a duplicate of the first, rejected or quarantined).
Figures: "flagged" = update or contradiction; its precision (over every pair) and recall (over the update and
contradiction pairs); exact-class accuracy; per class precision and recall for update and contradiction;
compatible and unrelated pairs wrongly flagged (%). Targets (issue 18): precision >= 0.9, recall >= 0.8,
compatible flagged <= 3%. Also: the same pairs judged by the conflict checker's text test alone
(plugins.builtin.conflicts.find_conflict_in) for reference, the write actions of the second texts, how many
flagged contradictions app.review.conflicts() lists, and cross-pair links (a supersedes/contradicts link between
two different pairs of a batch, which share no person+attribute and no value: a false flag, so also shown as
"precision counting cross-pair links"; the targets use the per-pair precision).
--quick: the first 10 batches (about a quarter of the pairs, under a minute); --errors N prints up to N wrongly
judged pairs of each class and of the cross-pair links.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
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
    parser.add_argument("--personal", action="store_true",
                        help="personal-fact pairs through the real write path instead of ConflictQA")
    parser.add_argument("--errors", type=int, default=0, metavar="N",
                        help="with --personal: print up to N wrongly judged pairs of each class")
    parser.add_argument("--seed", type=int, default=None, help="with --personal: the generator's seed")
    args = parser.parse_args()
    if args.personal:
        return run_personal(args)
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


# -- personal facts through the write path ----------------------------------------------------------------
QUICK_BATCHES = 10
GOLD = {"update": "update", "contradiction": "contradiction", "compatible": "none", "unrelated": "none"}
PREDICTIONS = ("update", "contradiction", "none")


def judge_pair(app, pair, new_memory) -> dict:
    """Write the pair's two texts, in order, through the write path; what did it do with the second?"""
    o1 = app.memory.write([new_memory(pair.first)], reason="personal-fact benchmark")[0]
    o2 = app.memory.write([new_memory(pair.second)], reason="personal-fact benchmark")[0]
    return classify(app, o1, o2)


def classify(app, o1, o2) -> dict:
    """From two write outcomes (first text, then second): predicted update, contradiction or none, read back from
    the outcome and the links app.memory.history shows."""
    id1, id2 = o1.memory_id, o2.memory_id
    out = {"first_action": str(o1.action), "second_action": str(o2.action), "ids": (id1, id2), "reversed": False}
    if id1 is None or id2 is None or id1 == id2:
        out["predicted"] = "none"
        return out
    links = app.memory.history(id2)["links"]
    superseded = id1 in o2.superseded or any(
        link["kind"] == "supersedes" and link["from"] == id2 and link["to"] == id1 for link in links)
    out["reversed"] = any(link["kind"] == "supersedes" and link["from"] == id1 and link["to"] == id2 for link in links)
    linked = any(link["kind"] == "contradicts" and {link["from"], link["to"]} == {id1, id2} for link in links)
    out["predicted"] = "update" if superseded else "contradiction" if linked else "none"
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def _pct(num: int, den: int) -> float | None:
    return round(100 * num / den, 1) if den else None


def personal_scores(results: list[tuple]) -> dict:
    """results: (pair, predicted label). Detection, exact class and false-alarm figures."""
    gold = [(p, GOLD[p.label], pred) for p, pred in results]
    pos = [(p, g, pred) for p, g, pred in gold if g != "none"]
    neg = [(p, g, pred) for p, g, pred in gold if g == "none"]
    tp = sum(pred != "none" for *_, pred in pos)
    fp = sum(pred != "none" for *_, pred in neg)
    figures: dict = {
        "pairs": len(results),
        "flagged": {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, len(pos)), "tp": tp, "fp": fp,
                    "fn": len(pos) - tp},
        "exact_accuracy": _ratio(sum(g == pred for _, g, pred in gold), len(gold)),
    }
    for cls in ("update", "contradiction"):
        hit = sum(g == cls and pred == cls for _, g, pred in gold)
        figures[cls] = {"precision": _ratio(hit, sum(pred == cls for *_, pred in gold)),
                        "recall": _ratio(hit, sum(g == cls for _, g, _ in gold))}
    for label in ("compatible", "unrelated"):
        rows = [pred for p, _, pred in gold if p.label == label]
        figures[f"{label}_flagged_pct"] = _pct(sum(pred != "none" for pred in rows), len(rows))
    figures["confusion"] = {label: {pred: sum(p.label == label and x == pred for p, _, x in gold)
                                    for pred in PREDICTIONS} for label in GOLD}

    def group(key) -> dict:
        out: dict = {}
        for name in sorted({key(p) for p, *_ in gold}):
            rows = [(g, pred) for p, g, pred in gold if key(p) == name]
            positives = [pred for g, pred in rows if g != "none"]
            negatives = [pred for g, pred in rows if g == "none"]
            out[name] = {"n": len(rows), "recall": _ratio(sum(x != "none" for x in positives), len(positives)),
                         "false_flag_pct": _pct(sum(x != "none" for x in negatives), len(negatives))}
        return out

    figures["by_attribute"] = group(lambda p: p.attribute)
    figures["by_subtype"] = group(lambda p: f"{p.label}/{p.subtype}")
    figures["by_person"] = group(lambda p: "user" if p.person == "user" else "other people")
    figures["by_ref"] = group(lambda p: p.ref)
    figures["targets_met"] = {
        "precision>=0.9": (figures["flagged"]["precision"] or 0) >= 0.9,
        "recall>=0.8": (figures["flagged"]["recall"] or 0) >= 0.8,
        "compatible_flagged<=3%": (figures["compatible_flagged_pct"] or 0) <= 3.0,
    }
    return figures


def run_personal(args) -> int:
    from benchmarks.personal_facts import SEED, batches, generate

    started = time.perf_counter()
    seed = SEED if args.seed is None else args.seed
    groups = batches(generate(seed))
    total_batches = len(groups)
    if args.quick:
        groups = groups[:QUICK_BATCHES]

    os.environ.pop("SECONDME_CONFIG", None)  # each batch's settings come from its own temporary home
    from assistant.app import App
    from assistant.config import load_settings
    from storage.records import NewMemory

    results, details, leaks = [], [], []
    actions: Counter = Counter()
    first_not_stored = reversed_links = cross_pair = listed = 0
    embedder = None
    for group in groups:
        with tempfile.TemporaryDirectory(prefix="secondme-confbench-") as home:
            os.environ["SECONDME_HOME"] = home
            # The secrets file in the temporary home, so the benchmark leaves nothing in the OS keyring.
            app = App(load_settings(secrets_backend="file"), embedder=embedder)
            embedder = app.embedder  # the model loads once and is shared by every batch
            try:
                owner: dict[int, int] = {}
                text_of: dict[int, str] = {}
                flagged_contradictions = []
                for pair in group:
                    out = judge_pair(app, pair, NewMemory)
                    results.append((pair, out["predicted"]))
                    details.append((pair, out))
                    actions[(pair.label, out["second_action"])] += 1
                    first_not_stored += out["first_action"] != "stored"
                    reversed_links += out["reversed"]
                    for memory_id, text in zip(out["ids"], (pair.first, pair.second)):
                        if memory_id is not None:
                            owner.setdefault(memory_id, pair.pair_id)
                            text_of.setdefault(memory_id, text)
                    if out["predicted"] == "contradiction":
                        flagged_contradictions.append(frozenset(out["ids"]))
                open_pairs = {frozenset((c.first.id, c.second.id)) for c in app.review.conflicts()}
                listed += sum(ids in open_pairs for ids in flagged_contradictions)
                seen = set()
                for memory_id in owner:
                    for link in app.memory.history(memory_id)["links"]:
                        key = (link["kind"], link["from"], link["to"])
                        if link["kind"] in ("supersedes", "contradicts") and key not in seen:
                            seen.add(key)
                            if owner.get(link["from"], -1) != owner.get(link["to"], -2):
                                cross_pair += 1
                                leaks.append((link["kind"], text_of.get(link["from"], "?"),
                                              text_of.get(link["to"], "?")))
            finally:
                app.close()

    from plugins.builtin.conflicts import find_conflict_in

    reference = personal_scores([(p, "contradiction" if find_conflict_in(p.second, p.first) else "none")
                                 for p, _ in results])
    figures = {"set": "personal", "seed": seed, "quick": args.quick, "batches": len(groups),
               "of_batches": total_batches, **personal_scores(results)}
    figures["second_write_actions"] = {label: {a: n for (lab, a), n in sorted(actions.items()) if lab == label}
                                       for label in GOLD}
    figures["first_text_not_stored"] = first_not_stored
    figures["reversed_supersessions"] = reversed_links
    figures["contradictions_listed_in_review"] = listed
    figures["cross_pair_links"] = cross_pair
    # Pairs in a batch share no person+attribute and no value, so a link between two pairs is a false flag too.
    fl = figures["flagged"]
    figures["flagged"]["precision_counting_cross_pair"] = _ratio(fl["tp"], fl["tp"] + fl["fp"] + cross_pair)
    figures["checker_text_test_alone"] = {k: reference[k] for k in (
        "flagged", "compatible_flagged_pct", "unrelated_flagged_pct")}
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print_personal(figures, details, leaks, args.errors)
    if args.json:
        print(json.dumps(figures))
    return 0


def _fmt(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_personal(f: dict, details: list, leaks: list, errors: int) -> None:
    counts = Counter(p.label for p, _ in details)
    print(f"Personal-fact pairs through the write path: {f['pairs']} pairs in {f['batches']} of {f['of_batches']} "
          f"batches (seed {f['seed']}{', quick' if f['quick'] else ''}): "
          + ", ".join(f"{label} {counts[label]}" for label in GOLD))
    print(f"{'class':14s} {'n':>4s} {'->update':>9s} {'->contra':>9s} {'->none':>7s} {'flagged%':>9s} {'exact%':>7s}")
    for label in GOLD:
        row, n = f["confusion"][label], counts[label]
        flagged = row["update"] + row["contradiction"]
        print(f"{label:14s} {n:4d} {row['update']:9d} {row['contradiction']:9d} {row['none']:7d} "
              f"{_fmt(_pct(flagged, n), '9.1f')} {_fmt(_pct(row[GOLD[label]], n), '7.1f')}")
    fl = f["flagged"]
    print(f"flagged (update or contradiction): precision {_fmt(fl['precision'])}  recall {_fmt(fl['recall'])}  "
          f"(tp {fl['tp']}, fp {fl['fp']}, fn {fl['fn']}); counting cross-pair links as false flags "
          f"{_fmt(fl['precision_counting_cross_pair'])}; exact-class accuracy {_fmt(f['exact_accuracy'])}")
    print(f"update: precision {_fmt(f['update']['precision'])} recall {_fmt(f['update']['recall'])};  "
          f"contradiction: precision {_fmt(f['contradiction']['precision'])} "
          f"recall {_fmt(f['contradiction']['recall'])}")
    print(f"compatible wrongly flagged {_fmt(f['compatible_flagged_pct'], '.1f')}%;  "
          f"unrelated wrongly flagged {_fmt(f['unrelated_flagged_pct'], '.1f')}%")
    t = f["targets_met"]
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in t.items()))
    ref = f["checker_text_test_alone"]
    print(f"reference, checker text test alone (no write path): precision {_fmt(ref['flagged']['precision'])} "
          f"recall {_fmt(ref['flagged']['recall'])}, compatible flagged {_fmt(ref['compatible_flagged_pct'], '.1f')}%,"
          f" unrelated flagged {_fmt(ref['unrelated_flagged_pct'], '.1f')}%")
    print(f"{'by attribute':18s} {'n':>4s} {'recall':>7s} {'false flag%':>12s}")
    for name, row in f["by_attribute"].items():
        print(f"  {name:16s} {row['n']:4d} {_fmt(row['recall'], '7.3f')} {_fmt(row['false_flag_pct'], '12.1f')}")
    for title, key in (("by subtype", "by_subtype"), ("by person", "by_person"), ("by reference", "by_ref")):
        print(f"{title}: " + "; ".join(
            f"{name} n={row['n']}" + (f" recall {_fmt(row['recall'])}" if row["recall"] is not None else "")
            + (f" false {_fmt(row['false_flag_pct'], '.1f')}%" if row["false_flag_pct"] is not None else "")
            for name, row in f[key].items()))
    print("second write: " + "; ".join(f"{label} " + ", ".join(f"{a} {n}" for a, n in row.items())
                                       for label, row in f["second_write_actions"].items()))
    print(f"first text not stored {f['first_text_not_stored']}; reversed supersessions "
          f"{f['reversed_supersessions']}; flagged contradictions listed by review.conflicts() "
          f"{f['contradictions_listed_in_review']}; cross-pair links {f['cross_pair_links']} "
          "(false flags: should be 0)")
    if errors:
        for kind, src, dst in leaks[:errors]:
            print(f"  [cross-pair {kind}] {src!r} -> {dst!r}")
        for label in GOLD:
            wrong = [(p, out) for p, out in details if p.label == label and out["predicted"] != GOLD[label]]
            for p, out in wrong[:errors]:
                print(f"  [{label}/{p.subtype} -> {out['predicted']}, second {out['second_action']}] "
                      f"{p.first!r} / {p.second!r}")
    print(f"{f['seconds']} s")


if __name__ == "__main__":
    raise SystemExit(main())
