"""What encryption at rest costs: the same store, plain SQLite vs SQLCipher, measured in one run.

Both stores get the same texts (LoCoMo turns when ../shared/data is there, else generated sentences) and the
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


def open_app(home: Path, encrypted: bool, embedder):
    from assistant.app import App
    from assistant.config import Settings

    app = App(Settings(home=home, encrypt_database=encrypted, secrets_backend="file"))
    app.__dict__["embedder"] = embedder
    return app


def turns(apps: dict, i: int):
    """Both stores, the first one going first on even steps and second on odd ones (no order bias)."""
    items = list(apps.items())
    return items if i % 2 == 0 else items[::-1]


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
    embedder = PrecomputedEmbedder(load_embedder("all-MiniLM-L6-v2-int8"), texts + questions)
    embed_s = time.perf_counter() - t0

    root = Path(tempfile.mkdtemp(prefix="secondme-enc-bench-"))
    os.environ["SECONDME_HOME"] = str(root / "unused")
    modes = {"plain": False, "encrypted": True}
    apps = {m: open_app(root / m, enc, embedder) for m, enc in modes.items()}
    fig: dict[str, dict[str, float]] = {m: {} for m in modes}

    # 1. Single remembers (one transaction each: the chat path), alternating stores.
    single = {m: 0.0 for m in modes}
    for i, text in enumerate(texts[:n_single]):
        for m, app in turns(apps, i):
            t = time.perf_counter()
            app.memory.remember(text)
            single[m] += time.perf_counter() - t
    # 2. Batched ingest (import path), 64 per transaction.
    batch = {m: 0.0 for m in modes}
    rest = texts[n_single:]
    for start in range(0, len(rest), 64):
        items = [{"text": t} for t in rest[start:start + 64]]
        for m, app in turns(apps, start // 64):
            t = time.perf_counter()
            app.memory.remember_many(items)
            batch[m] += time.perf_counter() - t
    # 3. Recall latency, query by query on both stores.
    lat = {m: [] for m in modes}
    for i, q in enumerate(questions):
        for m, app in turns(apps, i):
            t = time.perf_counter()
            app.memory.recall(q, k=10)
            lat[m].append((time.perf_counter() - t) * 1000)
    # 4. The database alone (no Chroma, no model): FTS5 keyword search, and small ledgered writes.
    from storage.keyword_index import KeywordIndex

    fts = {m: [] for m in modes}
    for i, q in enumerate(questions):
        for m, app in turns(apps, i):
            t = time.perf_counter()
            with app.db.session() as s:
                KeywordIndex.search(s, q, 50, ("active",))
            fts[m].append((time.perf_counter() - t) * 1000)
    writes = {m: 0.0 for m in modes}
    n_writes = len(questions)
    for i in range(n_writes):
        for m, app in turns(apps, i):
            t = time.perf_counter()
            app.memory.pin(1 + i % n_single, pinned=bool(i % 2))
            writes[m] += time.perf_counter() - t
    for m, app in apps.items():
        fig[m]["fts_p50_ms"] = statistics.median(fts[m])
        fig[m]["ledgered_write_per_s"] = n_writes / writes[m]
        fig[m]["single_remember_per_s"] = n_single / single[m]
        fig[m]["batch_ingest_per_s"] = len(rest) / batch[m]
        fig[m]["recall_p50_ms"] = statistics.median(lat[m])
        fig[m]["recall_p95_ms"] = pct(lat[m], 0.95)
        app.db.checkpoint()
        fig[m]["db_mb"] = app.settings.db_path.stat().st_size / 1e6
        app.close()
    # 5. Start-up: opening the database (key from the secrets file, schema check), median of 5.
    for m, enc in modes.items():
        times = []
        for _ in range(5):
            t = time.perf_counter()
            app = open_app(root / m, enc, embedder)
            app.memory.count()
            times.append((time.perf_counter() - t) * 1000)
            app.close()
        fig[m]["open_ms"] = statistics.median(times)
    # 6. One-off: encrypting the plain store in place (what an upgrade from an unencrypted install costs).
    t = time.perf_counter()
    app = open_app(root / "plain", True, embedder)
    migrate_s = time.perf_counter() - t
    assert app.db.encrypted and app.memory.count() == len(texts)
    app.close()

    rows = [("single remember / s", "single_remember_per_s", "{:.1f}"),
            ("batch ingest / s (64 per txn)", "batch_ingest_per_s", "{:.0f}"),
            ("recall p50 ms", "recall_p50_ms", "{:.2f}"), ("recall p95 ms", "recall_p95_ms", "{:.2f}"),
            ("FTS5 search p50 ms (DB only)", "fts_p50_ms", "{:.2f}"),
            ("pin toggle / s (DB only)", "ledgered_write_per_s", "{:.0f}"),
            ("open + first query ms", "open_ms", "{:.1f}"), ("database MB", "db_mb", "{:.2f}")]
    print(f"\nEncryption cost: {len(texts)} memories, {len(questions)} questions from {source}; "
          f"embeddings precomputed ({embed_s:.1f} s, same for both)")
    print(f"{'figure':<32}{'plain':>10}{'SQLCipher':>12}{'change':>10}")
    for label, key, f in rows:
        p, e = fig["plain"][key], fig["encrypted"][key]
        print(f"{label:<32}{f.format(p):>10}{f.format(e):>12}{(e - p) / p * 100:>+9.1f}%")
    print(f"{'encrypt a plain store in place':<32}{'':>10}{migrate_s:>11.2f}s")
    if embedder.misses:
        print(f"note: {embedder.misses} texts were embedded during the timed part")
    if args.json:
        print(json.dumps({"memories": len(texts), "questions": len(questions), "source": source,
                          "plain": fig["plain"], "encrypted": fig["encrypted"], "encrypt_in_place_s": migrate_s}))


if __name__ == "__main__":
    main()
