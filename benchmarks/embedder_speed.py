"""Embedders side by side: the packaged MiniLM file as it is (float products) and its int8-quantised copy.

For each: texts per second in batches (the write path), milliseconds for one question (recall), and, where the
LoCoMo data is present, dense-only evidence recall@10 over each conversation's turns (categories 1-4). Between
the two: the cosine of their vectors for the same texts. The two run in alternation, twice, so a busy machine
slows both alike; the better of the two rounds is printed.

    python benchmarks/embedder_speed.py            # 2,048 synthetic texts, 4 LoCoMo conversations
    python benchmarks/embedder_speed.py --quick    # 512 texts, 1 conversation
    python benchmarks/embedder_speed.py --json     # last line: one JSON object of figures
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
LOCOMO = REPO.parent / "shared" / "data" / "locomo10.json"

import storage.offline  # noqa: E402,F401

# isort: split
import scale  # noqa: E402  (the synthetic sentences of the scale benchmark)


def throughput(embedder, texts: list[str]) -> float:
    embedder.embed(texts[:64])  # warm: first runs allocate
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def single_ms(embedder, texts: list[str]) -> float:
    times = []
    for text in texts:
        started = time.perf_counter()
        embedder.embed([text])
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def locomo_dense_recall(embedder, conversations: list[dict]) -> float | None:
    """Dense-only turn recall@10 for LoCoMo's questions of categories 1-4 (evidence ids as given)."""
    found = []
    for conversation in conversations:
        turns = {t["dia_id"]: f"{t['speaker']}: {t['text']}"
                 for key, session in conversation["conversation"].items() if re.fullmatch(r"session_\d+", key)
                 for t in session}
        ids = list(turns)
        asked = [(q["question"], set(q.get("evidence", [])) & set(turns)) for q in conversation["qa"]
                 if q["category"] != 5]
        asked = [(q, gold) for q, gold in asked if gold]
        docs = embedder.embed([turns[i] for i in ids])
        questions = np.vstack([embedder.embed([q]) for q, _ in asked])  # one at a time, as recall asks
        top = np.argsort(-(questions @ docs.T), axis=1)[:, :10]
        found += [len(gold & {ids[j] for j in row}) / len(gold) for (_, gold), row in zip(asked, top)]
    return round(100 * statistics.fmean(found), 1) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="512 texts, 1 LoCoMo conversation")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()

    from storage.embedder import MINILM_DYNAMIC_NAME, MINILM_NAME, load_embedder

    texts = [item["text"] for item in scale.synthetic(512 if args.quick else 2048, random.Random(3), 100_000)]
    names = (MINILM_NAME, MINILM_DYNAMIC_NAME)
    embedders = {name: load_embedder(name) for name in names}
    rates: dict[str, list[float]] = {n: [] for n in names}
    singles: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(2):
        for name in names:
            rates[name].append(throughput(embedders[name], texts))
            singles[name].append(single_ms(embedders[name], texts[:100]))
    sample = texts[:256]
    cosine = (embedders[names[0]].embed(sample) * embedders[names[1]].embed(sample)).sum(axis=1)
    conversations = json.loads(LOCOMO.read_text())[: 1 if args.quick else 4] if LOCOMO.is_file() else []
    if not conversations:
        print(f"LoCoMo data not found at {LOCOMO}; dense recall skipped (see ../shared/data/README.md).")
    figures = {name: {"texts_per_s": round(max(rates[name]), 1), "one_text_ms": round(min(singles[name]), 2),
                      "locomo_dense_recall@10": locomo_dense_recall(embedders[name], conversations)}
               for name in names}
    figures["speedup"] = round(figures[names[1]]["texts_per_s"] / figures[names[0]]["texts_per_s"], 2)
    figures["cosine_mean"] = round(float(cosine.mean()), 4)
    figures["cosine_min"] = round(float(cosine.min()), 4)
    figures["texts"] = len(texts)

    print(f"{'embedder':<32} {'texts/s':>8} {'one text ms':>11} {'LoCoMo dense R@10':>17}")
    for name in names:
        f = figures[name]
        print(f"{name:<32} {f['texts_per_s']:>8} {f['one_text_ms']:>11} {f['locomo_dense_recall@10'] or '-':>17}")
    print(f"speed-up {figures['speedup']}x; cosine between their vectors: mean {figures['cosine_mean']}, "
          f"min {figures['cosine_min']} ({len(sample)} texts)")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
