"""Scale: ingest rate, recall latency, disk and memory as the store grows to 10k, 100k, 300k memories.

Synthetic memories (sentences built from names, places, activities and dates with a fixed seed) go through the
real write path, MemoryManager.remember_many, in batches, without a language model. The store grows in stages;
at each size, recall is timed on questions built the same way (some with a time phrase).

    python benchmarks/scale.py                        # 10k, 100k, 300k
    python benchmarks/scale.py --sizes 10000,100000   # what you have time for
    python benchmarks/scale.py --quick                # 10k only
    python benchmarks/scale.py --json                 # last line: one JSON object of figures
    python benchmarks/scale.py --sizes 100000 --home /tmp/scale100k   # keep the store; a second run reuses it
Targets (2 cores): ingest >= 200 memories/s; recall p95 <= 50 ms at 100k.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from storage.records import NewMemory  # noqa: E402

NAMES = ["Anna", "Ben", "Chloe", "Daniel", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
         "Marta", "Nikos", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Ximena"]
PLACES = ["Lisbon", "the office", "the gym", "Kyoto", "the library", "my parents' house", "Berlin", "the lake",
          "the dentist", "the bakery", "Toronto", "the hospital", "the park", "Nairobi", "the airport", "Oslo"]
ACTIVITIES = ["went hiking", "started a pottery class", "fixed the bike", "read a novel about whales",
              "planned a trip", "cooked lentil soup", "adopted a cat", "ran a half marathon", "painted the kitchen",
              "learned three chords on guitar", "wrote a grant proposal", "visited an old friend",
              "bought a new laptop", "argued about politics", "planted tomatoes", "watched a documentary on bees"]
FEELINGS = ["and loved it", "but it rained all day", "which took longer than planned", "with a lot of laughter",
            "and felt tired afterwards", "for the first time", "again", "and want to do it more often"]
TOPICS = ["work", "health", "family", "travel", "money", "hobbies", "friends", "books"]
START = datetime(2019, 1, 1, tzinfo=UTC)


def synthetic(n: int, rng: random.Random, offset: int) -> list[dict]:
    items = []
    for i in range(n):
        when = START + timedelta(minutes=17 * (offset + i))
        text = (f"{rng.choice(NAMES)} {rng.choice(ACTIVITIES)} at {rng.choice(PLACES)} {rng.choice(FEELINGS)} "
                f"(about {rng.choice(TOPICS)}, note {offset + i}).")
        items.append(NewMemory(text=text, kind=rng.choice(["episode", "fact"]), at=when,
                          importance=round(rng.random(), 2)))
    return items


def questions(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        q = f"When did {rng.choice(NAMES)} {rng.choice(ACTIVITIES).split(' ', 1)[1]} at {rng.choice(PLACES)}?"
        if i % 4 == 0:
            q = q[:-1] + rng.choice([" last month?", " in May 2021?", " last week?", " three weeks ago?"])
        out.append(q)
    return out


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rss_mb() -> float:
    # ru_maxrss is KiB on Linux: the peak resident set of this process so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(sizes: list[int], batch: int, n_questions: int, quiet: bool, home: Path | None = None) -> dict:
    from assistant.app import App
    from assistant.config import load_settings

    home = home or Path(tempfile.mkdtemp(prefix="secondme-scale-"))
    os.environ["SECONDME_HOME"] = str(home)
    os.environ.pop("SECONDME_CONFIG", None)
    app = App(load_settings(home=home))
    rng = random.Random(7)
    # A kept store (--home) resumes where it stopped: replay the generator past what it holds, so the
    # memories are the same as in a run that built it in one go.
    stored = app.memory.count()
    if stored > max(sizes):
        raise SystemExit(f"{home} already holds {stored} memories, more than the largest size asked for")
    synthetic(stored, rng, 0)
    rows = []
    reference = START + timedelta(minutes=17 * max(sizes))
    for size in sorted(sizes):
        t0 = time.perf_counter()
        added = 0
        while stored < size:
            n = min(batch, size - stored)
            app.memory.remember_many(synthetic(n, rng, stored), reason="scale benchmark")
            stored += n
            added += n
        ingest_s = time.perf_counter() - t0
        qs = questions(random.Random(size), n_questions)
        app.warm_up()  # as the desktop app and `secondme serve` do at start
        app.memory.recall(qs[0], k=10, reference_time=reference)  # warm caches once
        latencies = []
        for q in qs:
            t1 = time.perf_counter()
            app.memory.recall(q, k=10, reference_time=reference)
            latencies.append(1000 * (time.perf_counter() - t1))
        row = {"memories": size, "ingest_per_s": round(added / ingest_s, 1) if added else None,
               "recall_p50_ms": round(percentile(latencies, 0.5), 1),
               "recall_p95_ms": round(percentile(latencies, 0.95), 1),
               "disk_mb": round(disk_bytes(home) / 2**20, 1), "peak_rss_mb": round(rss_mb(), 1)}
        rows.append(row)
        if not quiet:
            print(f"  {row}", file=sys.stderr)
    app.close()
    return {"sizes": rows, "batch": batch, "questions": n_questions, "threads": app.settings.threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,300000", help="comma-separated store sizes")
    parser.add_argument("--quick", action="store_true", help="10k only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--batch", type=int, default=1000, help="memories per remember_many call")
    parser.add_argument("--questions", type=int, default=200, help="recall calls timed at each size")
    parser.add_argument("--home", type=Path, default=None,
                        help="keep the store in this folder and reuse what it already holds (default: a new "
                             "temporary folder)")
    args = parser.parse_args()
    try:
        sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 10000,100000")
    if not sizes or min(sizes) < 1 or args.batch < 1 or args.questions < 1:
        parser.error("sizes, --batch and --questions must be positive")
    result = run(sizes, args.batch, args.questions, args.json, args.home)
    print(f"{'memories':>9} {'ingest/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'disk MB':>8} {'peak RSS MB':>11}")
    for r in result["sizes"]:
        print(f"{r['memories']:>9} {r['ingest_per_s'] or '-':>9} {r['recall_p50_ms']:>7} {r['recall_p95_ms']:>7} "
              f"{r['disk_mb']:>8} {r['peak_rss_mb']:>11}")
    print("targets on 2 cores: ingest >= 200 memories/s, recall p95 <= 50 ms at 100k (k=10)")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
