"""Several threads (and another process) writing and recalling at once: no "database is locked", nothing lost."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import traceback

from storage.records import NewMemory
from tests.conftest import REPO

SECONDS = 8.0

OTHER_PROCESS = """
import sys, time
from assistant.app import App
app = App()
app.embedder.embed(["warm up"])
print("READY", flush=True)
end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    n += 1
    r = app.memory.remember(f"other process note {n} about the garden")
    print(f"ACK {r.id}", flush=True)
"""


def test_threads_and_a_second_process_write_and_recall_without_lock_errors(app):
    seed = app.memory.remember_many([NewMemory(f"seed memory {i} about cooking") for i in range(10)])
    app.vector_index.count()
    other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, str(SECONDS)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "READY", other.stderr.read()
    errors: list[str] = []
    written: list[int] = []
    counts = {"remember": 0, "remember_many": 0, "recall": 0, "pin/forget/restore": 0}
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def worker(name: str, step) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            try:
                ids = step(i)
            except Exception:
                errors.append(f"{name}: {traceback.format_exc(limit=3)}")
                return
            with lock:
                counts[name] += 1
                written.extend(ids or [])

    def remember(i):
        return [app.memory.remember(f"thread note {threading.get_ident()}-{i} about travel").id]

    def remember_many(i):
        return [r.id for r in app.memory.remember_many([NewMemory(f"batch {i}.{j} about music") for j in range(4)])]

    def recall(i):
        app.memory.recall("notes about travel and music", k=5)

    def toggle(i):
        target = seed[i % len(seed)].id
        app.memory.pin(target, pinned=bool(i % 2))
        app.memory.forget(target)
        app.memory.restore(target)

    threads = [threading.Thread(target=worker, args=args) for args in
               [("remember", remember), ("remember", remember), ("remember_many", remember_many),
                ("recall", recall), ("recall", recall), ("pin/forget/restore", toggle)]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err[-2000:]
    other_ids = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ACK")]
    print(f"\nconcurrency in {SECONDS:.0f} s: {counts}, other process {len(other_ids)} remembers, errors {len(errors)}")
    assert errors == [], errors[0]
    assert all(counts.values()) and other_ids
    stored = {m.id for m in app.memory.list(status=None, limit=100_000)}
    assert set(written) | set(other_ids) <= stored
    app.memory.sync_vector_index()
    report = app.memory.index_report()
    assert {k: v for k, v in report.items() if isinstance(v, list) and v} == {}, report
    assert app.db.integrity() == "ok"
