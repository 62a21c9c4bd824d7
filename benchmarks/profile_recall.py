"""Where recall spends its time on a store kept by scale.py: wall and CPU percentiles, and optionally a profile.

Build a store once, then profile it as often as you like (settings come from SECONDME_* variables, so two
values of one setting can be compared side by side on the same store):

    python benchmarks/scale.py --sizes 100000 --home /tmp/scale100k
    python benchmarks/profile_recall.py /tmp/scale100k                  # 50 questions
    python benchmarks/profile_recall.py /tmp/scale100k --cprofile       # plus the 30 costliest calls
    SECONDME_RECALL_EXPANSION_MAX_SHARE=1 python benchmarks/profile_recall.py /tmp/scale100k
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale  # noqa: E402  (the questions and timeline the store was built with)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="a store kept by scale.py --home")
    parser.add_argument("--questions", type=int, default=50, help="recall calls timed")
    parser.add_argument("--quick", action="store_true", help="10 questions")
    parser.add_argument("--cprofile", action="store_true", help="print the costliest calls (CPU time)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    if not (args.home / "secondme.db").exists():
        parser.error(f"no store in {args.home}; build one with benchmarks/scale.py --home {args.home}")
    os.environ["SECONDME_HOME"] = str(args.home)  # the store's own config and secrets (its data key) live there

    from assistant.app import App
    from assistant.config import load_settings

    app = App(load_settings(home=args.home))
    size = app.memory.count()
    reference = scale.START + timedelta(minutes=17 * size)  # the store's "now", as scale.py dates its memories
    questions = scale.questions(random.Random(size), 10 if args.quick else args.questions)
    app.warm_up()  # as the desktop app and `secondme serve` do at start
    app.memory.recall(questions[0], k=10, reference_time=reference)  # warm: page cache
    profile = cProfile.Profile(time.process_time)
    wall, cpu = [], []
    for question in questions:
        started, cpu_started = time.perf_counter(), time.process_time()
        if args.cprofile:
            profile.enable()
        app.memory.recall(question, k=10, reference_time=reference)
        if args.cprofile:
            profile.disable()
        wall.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - cpu_started))
    figures = {"memories": size, "questions": len(questions),
               "wall_p50_ms": round(scale.percentile(wall, 0.5), 1),
               "wall_p95_ms": round(scale.percentile(wall, 0.95), 1),
               "cpu_p50_ms": round(scale.percentile(cpu, 0.5), 1), "cpu_p95_ms": round(scale.percentile(cpu, 0.95), 1),
               "keyword_top10_agreement": keyword_agreement(app, questions),
               "load_average": round(os.getloadavg()[0], 2)}
    print(f"{'memories':>9} {'questions':>9} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} "
          f"{'kw top10 same':>13} {'load':>5}")
    print(f"{size:>9} {len(questions):>9} {figures['wall_p50_ms']:>9} {figures['wall_p95_ms']:>9} "
          f"{figures['cpu_p50_ms']:>8} {figures['cpu_p95_ms']:>8} {figures['keyword_top10_agreement']:>13} "
          f"{figures['load_average']:>5}")
    if args.cprofile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    if args.json:
        print(json.dumps(figures))


def keyword_agreement(app, questions: list[str]) -> float:
    """Percent of the keyword search's top 10 that plain BM25 over every matching row also has in its top 10.

    In a large store, keyword search ranks only rows holding a rare word or several of the question's common words
    (storage/keyword_index.py, _narrowed_matches); this says how much that changes what it finds.
    """
    from storage.keyword_index import KeywordIndex

    same = total = 0
    with app.db.session() as s:
        for question in questions:
            narrowed = {i for i, _ in KeywordIndex.search(s, question, 10, ("active",))}
            plain = {i for i, _ in KeywordIndex.search(s, question, 10, ("active",), narrow=False)}
            same, total = same + len(narrowed & plain), total + len(plain)
    return round(100 * same / max(total, 1), 1)


if __name__ == "__main__":
    main()
