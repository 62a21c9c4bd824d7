"""What encryption at rest costs: the same store, plain SQLite vs SQLCipher, measured in one run.

Every store gets the same texts (LoCoMo turns when ../shared/data is there, else generated sentences) and the
same questions. Embeddings are computed once up front and served from memory to both stores, so the figures
isolate what the database does (SQLite/SQLCipher, FTS5, the ledger, the outbox, Chroma) from the embedding
model, which costs the same either way. Work alternates between the two stores, batch by batch and query by
query, so background load on the machine falls on both alike.

    python benchmarks/encryption_cost.py            # full: 5,882 turns, 500 questions
    python benchmarks/encryption_cost.py --quick    # about a minute
    python benchmarks/encryption_cost.py --json     # last line: one JSON object of figures
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import storage.offline  # noqa: E402,F401

# isort: split

LOCOMO = REPO.parent / "shared" / "data" / "locomo10.json"


def load_corpus(n_texts: int, n_queries: int) -> tuple[list[str], list[str], str]:
    if LOCOMO.exists():
        data = json.loads(LOCOMO.read_text(encoding="utf-8"))
        texts, questions = [], []
        for conv in data:
            c = conv["conversation"]
            for key in sorted((k for k in c if k.startswith("session_") and not k.endswith("date_time")),
                              key=lambda k: int(k.split("_")[1])):
                texts += [f"{t['speaker']}: {t['text']}" for t in c[key]]
            questions += [q["question"] for q in conv["qa"]]
        return texts[:n_texts], questions[:n_queries], f"LoCoMo ({LOCOMO})"
    print(f"note: {LOCOMO} is absent; using generated sentences instead", file=sys.stderr)
    import random

    rng = random.Random(7)
    words = "garden sister nurse Porto car level river jazz chess kite harbour bakery train Lisbon tea rowing".split()
    texts = [f"Note {i}: " + " ".join(rng.choice(words) for _ in range(14)) for i in range(n_texts)]
    questions = [" ".join(rng.choice(words) for _ in range(5)) + "?" for _ in range(n_queries)]
    return texts, questions, "generated sentences"


class PrecomputedEmbedder:
    """Serves embeddings computed once by the real model, so both stores pay nothing for embedding."""

    def __init__(self, real, texts: list[str]):
        from assistant.memory.text_rules import clean_text

        self.name, self.dim, self._real = real.name, real.dim, real
        texts = list(dict.fromkeys(clean_text(t, 10**9) for t in texts))  # the text as the store will see it
        self._vectors = {}
        for start in range(0, len(texts), 256):
            chunk = texts[start:start + 256]
            for text, vec in zip(chunk, real.embed(chunk)):
                self._vectors[text] = vec
        self.misses = 0

    def embed(self, texts):
        import numpy as np

        missing = [t for t in texts if t not in self._vectors]
        if missing:  # a text the store transformed differently: embed it for real (counted)
            self.misses += len(missing)
            self._vectors.update(zip(missing, self._real.embed(missing)))
        return np.stack([self._vectors[t] for t in texts])


# name: (encrypted, SQLite build). The product's plain mode uses Python's own sqlite3, an older SQLite than the
# one inside SQLCipher; "same build" runs SQLCipher's build without a key, so plain vs encrypted differs only
# by the cipher.
MODES = {"plain": (False, "python"), "same-build": (False, "sqlcipher"), "encrypted": (True, "sqlcipher")}


def open_app(home: Path, mode: str, embedder):
    import storage.db
    from assistant.app import App
    from assistant.config import Settings

    encrypted, build = MODES[mode]
    real_driver = storage.db.driver
    if build == "sqlcipher" and not encrypted:
        storage.db.driver = lambda _encrypted: real_driver(True)  # the engine keeps the module it was given
    try:
        app = App(Settings(home=home, encrypt_database=encrypted, secrets_backend="file"), embedder=embedder)
    finally:
        storage.db.driver = real_driver
    return app


def turns(apps: dict, i: int):
    """Every store, in an order that rotates step by step (no store always goes first)."""
    items = list(apps.items())
    shift = i % len(items)
    return items[shift:] + items[:shift]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run, about a minute")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()
    n_texts, n_queries, n_single = (600, 100, 60) if args.quick else (5882, 500, 400)

    from storage.embedder import load_embedder

    texts, questions, source = load_corpus(n_texts, n_queries)
    t0 = time.perf_counter()
    embedder = PrecomputedEmbedder(load_embedder(), texts + questions)
    embed_s = time.perf_counter() - t0

    root = Path(tempfile.mkdtemp(prefix="secondme-enc-bench-"))
    os.environ["SECONDME_HOME"] = str(root / "unused")
    modes = list(MODES)
    apps = {m: open_app(root / m, m, embedder) for m in modes}
    fig: dict[str, dict[str, float]] = {m: {} for m in modes}

    # 1. Single remembers (one transaction each: the chat path), alternating stores.
    cpu = {m: {"single": 0.0, "batch": 0.0, "recall": [], "fts": [], "write": 0.0} for m in modes}
    single = {m: 0.0 for m in modes}
    for i, text in enumerate(texts[:n_single]):
        for m, app in turns(apps, i):
            t, c = time.perf_counter(), time.process_time()
            app.memory.remember(text)
            single[m] += time.perf_counter() - t
            cpu[m]["single"] += time.process_time() - c
    # 2. Batched ingest (import path), 64 per transaction.
    batch = {m: 0.0 for m in modes}
    rest = texts[n_single:]
    for start in range(0, len(rest), 64):
        items = [{"text": t} for t in rest[start:start + 64]]
        for m, app in turns(apps, start // 64):
            t, c = time.perf_counter(), time.process_time()
            app.memory.remember_many(items)
            batch[m] += time.perf_counter() - t
            cpu[m]["batch"] += time.process_time() - c
    # 3. Recall latency, query by query on both stores.
    lat = {m: [] for m in modes}
    for i, q in enumerate(questions):
        for m, app in turns(apps, i):
            t, c = time.perf_counter(), time.process_time()
            app.memory.recall(q, k=10)
            lat[m].append((time.perf_counter() - t) * 1000)
            cpu[m]["recall"].append((time.process_time() - c) * 1000)
    # 4. The database alone (no Chroma, no model): FTS5 keyword search, and small ledgered writes.
    from storage.keyword_index import KeywordIndex

    fts = {m: [] for m in modes}
    for i, q in enumerate(questions):
        for m, app in turns(apps, i):
            t, c = time.perf_counter(), time.process_time()
            with app.db.session() as s:
                KeywordIndex.search(s, q, 50, ("active",))
            fts[m].append((time.perf_counter() - t) * 1000)
            cpu[m]["fts"].append((time.process_time() - c) * 1000)
    writes = {m: 0.0 for m in modes}
    n_writes = len(questions)
    for i in range(n_writes):
        for m, app in turns(apps, i):
            t, c = time.perf_counter(), time.process_time()
            app.memory.pin(1 + i % n_single, pinned=bool(i % 2))
            writes[m] += time.perf_counter() - t
            cpu[m]["write"] += time.process_time() - c
    for m, app in apps.items():
        fig[m]["fts_p50_ms"] = statistics.median(fts[m])
        fig[m]["ledgered_write_per_s"] = n_writes / writes[m]
        fig[m]["single_remember_per_s"] = n_single / single[m]
        fig[m]["batch_ingest_per_s"] = len(rest) / batch[m]
        fig[m]["recall_p50_ms"] = statistics.median(lat[m])
        fig[m]["recall_p95_ms"] = pct(lat[m], 0.95)
        # CPU time of this process: what the work itself costs, much less disturbed by a busy machine.
        fig[m]["cpu_ms_per_single_remember"] = cpu[m]["single"] * 1000 / n_single
        fig[m]["cpu_ms_per_batched_memory"] = cpu[m]["batch"] * 1000 / len(rest)
        fig[m]["cpu_recall_mean_ms"] = statistics.fmean(cpu[m]["recall"])
        fig[m]["cpu_fts_mean_ms"] = statistics.fmean(cpu[m]["fts"])
        fig[m]["cpu_ms_per_pin"] = cpu[m]["write"] * 1000 / n_writes
        app.db.checkpoint()
        fig[m]["db_mb"] = app.settings.db_path.stat().st_size / 1e6
        app.close()
    # 5. Start-up: opening the database (key from the secrets file, schema check), median of 5.
    for m in modes:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            app = open_app(root / m, m, embedder)
            app.memory.count()
            times.append((time.perf_counter() - t) * 1000)
            app.close()
        fig[m]["open_ms"] = statistics.median(times)
    # 6. One-off: encrypting the plain store in place (what an upgrade from an unencrypted install costs).
    t = time.perf_counter()
    app = open_app(root / "plain", "encrypted", embedder)
    migrate_s = time.perf_counter() - t
    assert app.db.encrypted and app.memory.count() == len(texts)
    app.close()

    rows = [("single remember / s", "single_remember_per_s", "{:.1f}"),
            ("batch ingest / s (64 per txn)", "batch_ingest_per_s", "{:.0f}"),
            ("recall p50 ms", "recall_p50_ms", "{:.2f}"), ("recall p95 ms", "recall_p95_ms", "{:.2f}"),
            ("FTS5 search p50 ms (DB only)", "fts_p50_ms", "{:.2f}"),
            ("pin toggle / s (DB only)", "ledgered_write_per_s", "{:.0f}"),
            ("open + first query ms", "open_ms", "{:.1f}"),
            ("CPU ms / single remember", "cpu_ms_per_single_remember", "{:.2f}"),
            ("CPU ms / batched memory", "cpu_ms_per_batched_memory", "{:.3f}"),
            ("CPU ms / recall (mean)", "cpu_recall_mean_ms", "{:.2f}"),
            ("CPU ms / FTS5 search (mean)", "cpu_fts_mean_ms", "{:.3f}"),
            ("CPU ms / pin toggle", "cpu_ms_per_pin", "{:.3f}"), ("database MB", "db_mb", "{:.2f}")]
    print(f"\nEncryption cost: {len(texts)} memories, {len(questions)} questions from {source}; "
          f"embeddings precomputed ({embed_s:.1f} s, the same for every store)")
    print(f"wall-clock figures move with the machine's load (load average now {os.getloadavg()[0]:.1f}); "
          "the CPU-time rows are steadier")
    print(f"{'figure':<32}{'plain':>10}{'same build':>12}{'encrypted':>11}{'cipher cost':>13}")
    for label, key, f in rows:
        p, b, e = fig["plain"][key], fig["same-build"][key], fig["encrypted"][key]
        print(f"{label:<32}{f.format(p):>10}{f.format(b):>12}{f.format(e):>11}{(e - b) / b * 100:>+12.1f}%")
    print(f"{'encrypt a plain store in place':<32}{'':>10}{migrate_s:>11.2f}s")
    if embedder.misses:
        print(f"note: {embedder.misses} texts were embedded during the timed part")
    if args.json:
        print(json.dumps({"memories": len(texts), "questions": len(questions), "source": source, **fig,
                          "encrypt_in_place_s": migrate_s, "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
