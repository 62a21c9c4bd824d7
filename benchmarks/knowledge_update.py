"""Knowledge update on MemoryAgentBench FactConsolidation (single-hop): does the newest fact win?

The numbered facts are written in order through the real write path (later number = newer, so each gets a
later valid time); slot keys come from the deterministic subject + relation parse in assistant.memory.slots,
no language model. Then, for each single-hop question:
  top-1      the first memory recall returns contains the gold answer;
  superseded the gold fact is active and every older fact for the same slot is marked `superseded`;
  both       top-1 and superseded (the headline figure; target >= 95%).
Baselines from the same run, over the same facts with nothing superseded: BM25 (bm25s) top-1, and the newest of
BM25's top 2 (92% in ../shared/data/README.md).

Run:  python benchmarks/knowledge_update.py [--quick] [--json] [--data PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from storage.records import NewMemory  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "memoryagentbench" / "factconsolidation_official_6k.json"
QUICK_QUESTIONS = 30
START = datetime(2020, 1, 1, tzinfo=UTC)


def load(path: Path) -> tuple[list[tuple[int, str]], list[str], list[list[str]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    single_hop = next(d for d in data["data"] if d["metadata"]["qa_pair_ids"][0].startswith("factconsolidation_sh"))
    facts = []
    for line in single_hop["context"].splitlines():
        m = re.match(r"^(\d+)\.\s+(.*\S)\s*$", line)
        if m:
            facts.append((int(m.group(1)), m.group(2)))
    return facts, single_hop["questions"], single_hop["answers"]


def contains(text: str, answers: list[str]) -> bool:
    low = text.casefold()
    return any(a.casefold() in low for a in answers)


def gold_fact(question: str, answers: list[str], facts: list[tuple[int, str]], parses: dict) -> int | None:
    """The newest fact holding the answer whose subject the question names (else the newest holding the answer)."""
    q = question.casefold()
    holding = [n for n, t in facts if contains(t, answers)]
    named = [n for n in holding if parses.get(n) and parses[n].subject.casefold() in q]
    pool = named or holding
    return max(pool) if pool else None


def bm25_baselines(facts, questions, answers) -> tuple[float, float]:
    import bm25s

    texts = [t for _, t in facts]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    docs, _ = retriever.retrieve(bm25s.tokenize(questions, stopwords="en", show_progress=False), k=2,
                                 show_progress=False)
    top1 = newest2 = 0
    for row, gold in zip(docs, answers):
        top1 += contains(texts[row[0]], gold)
        newest2 += contains(texts[max(row[0], row[1])], gold)  # facts are in number order: higher index = newer
    return 100 * top1 / len(questions), 100 * newest2 / len(questions)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"only the first {QUICK_QUESTIONS} questions")
    ap.add_argument("--json", action="store_true", help="end with one line of JSON holding the figures")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"skipped: {args.data} not found (see ../shared/data/README.md)")
        return 0

    facts, questions, answers = load(args.data)
    if args.quick:
        questions, answers = questions[:QUICK_QUESTIONS], answers[:QUICK_QUESTIONS]

    with tempfile.TemporaryDirectory(prefix="secondme-ku-") as home:
        os.environ["SECONDME_HOME"] = home
        from assistant.app import App
        from assistant.memory.slots import parse_slot

        app = App()
        parses = {n: parse_slot(t) for n, t in facts}
        items = [NewMemory(text=t, kind="fact", source="document", at=START + timedelta(minutes=n),
                      subject=parses[n].subject if parses[n] else None,
                      slot_key=parses[n].slot_key if parses[n] else None, provenance={"fact_no": n})
                 for n, t in facts]
        app.embedder.embed(["warm up"])
        started = time.perf_counter()
        outcomes = app.memory.write(items, reason="FactConsolidation fact list")
        ingest_s = time.perf_counter() - started
        memory_of = {n: o.memory_id for (n, _), o in zip(facts, outcomes)}
        actions = {}
        for o in outcomes:
            actions[str(o.action)] = actions.get(str(o.action), 0) + 1

        top1 = superseded_ok = both = with_older = 0
        latencies = []
        for question, gold in zip(questions, answers):
            started = time.perf_counter()
            hits = app.memory.recall(question, k=5)
            latencies.append(time.perf_counter() - started)
            hit = bool(hits) and contains(hits[0].memory.text, gold)
            g = gold_fact(question, gold, facts, parses)
            ok = False
            if g is not None:
                slot = parses[g].slot_key if parses[g] else None
                older = [n for n, _ in facts if n < g and slot and parses[n] and parses[n].slot_key == slot]
                with_older += bool(older)
                statuses = {n: app.memory.get(memory_of[n]).status for n in [g, *older] if memory_of[n]}
                ok = statuses.get(g) == "active" and all(statuses.get(n) == "superseded" for n in older)
            top1 += hit
            superseded_ok += ok
            both += hit and ok
        app.close()

    n = len(questions)
    bm25_top1, bm25_newest2 = bm25_baselines(facts, questions, answers)
    latencies.sort()
    figures = {
        "questions": n, "facts": len(facts),
        "slot_parsed_pct": round(100 * sum(p is not None for p in parses.values()) / len(facts), 1),
        "questions_with_older_fact": with_older,
        "newest_top1_pct": round(100 * top1 / n, 1),
        "older_superseded_pct": round(100 * superseded_ok / n, 1),
        "newest_top1_and_older_superseded_pct": round(100 * both / n, 1),
        "bm25_top1_pct": round(bm25_top1, 1), "bm25_newest_of_top2_pct": round(bm25_newest2, 1),
        "write_actions": actions, "ingest_facts_per_s": round(len(facts) / ingest_s, 1),
        "recall_p50_ms": round(1000 * latencies[n // 2], 1),
        "recall_p95_ms": round(1000 * latencies[min(n - 1, int(n * 0.95))], 1),
    }
    print(f"FactConsolidation single-hop, {n} questions over {len(facts)} facts "
          f"({figures['questions_with_older_fact']} with an older conflicting fact)")
    print(f"{'method':<52}{'score':>8}")
    print(f"{'BM25 top-1 (baseline)':<52}{figures['bm25_top1_pct']:>7.1f}%")
    print(f"{'BM25 newest of top 2 (baseline)':<52}{figures['bm25_newest_of_top2_pct']:>7.1f}%")
    print("  (reference in shared/data/README.md: BM25 top-1 46%, newest of top 2 92%)")
    print(f"{'secondme recall top-1 is the newest fact':<52}{figures['newest_top1_pct']:>7.1f}%")
    print(f"{'secondme older facts marked superseded':<52}{figures['older_superseded_pct']:>7.1f}%")
    print(f"{'secondme both (target >= 95%)':<52}{figures['newest_top1_and_older_superseded_pct']:>7.1f}%")
    print(f"write path: {actions}; {figures['ingest_facts_per_s']} facts/s; slot parsed for "
          f"{figures['slot_parsed_pct']}% of facts; recall p50 {figures['recall_p50_ms']} ms, "
          f"p95 {figures['recall_p95_ms']} ms")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
