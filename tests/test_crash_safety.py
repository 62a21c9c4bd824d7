"""kill -9 at random moments while memories are written: nothing acknowledged is lost, nothing is half-written."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from tests.conftest import REPO

# Bounded both ways; on a busy machine a writer takes longer to start, so fewer kills fit in the time.
MAX_KILLS = 25
MAX_SECONDS = 90


def _run_and_kill(seed: int, rng: random.Random, during_start_up: bool) -> tuple[list[tuple[int, str]], str]:
    """Start a writer, kill it at a random moment (during start-up or writing), return what it acknowledged."""
    child = subprocess.Popen([sys.executable, "-m", "tests.crash_child", str(seed)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if during_start_up:
        time.sleep(rng.uniform(0.05, 1.5))  # sometimes during start-up: key, schema, outbox replay
        phase = "start-up"
    else:
        ready.wait(30)
        time.sleep(rng.uniform(0.3, 2.0))
        phase = "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    reader.join(10)
    stderr = child.stderr.read()
    assert child.returncode == -signal.SIGKILL, f"the writer died by itself:\n{stderr[-3000:]}"
    acked = []
    for line in lines:
        if line.startswith("ACK "):
            _, memory_id, text = line.split(" ", 2)
            acked.append((int(memory_id), text))
    return acked, phase


def test_random_kills_lose_nothing_acknowledged_and_leave_consistent_indexes(home, embedder):
    from assistant.app import App
    from storage.models import Memory, MemoryEvent

    rng = random.Random(int(os.environ.get("CRASH_SEED", "8")))
    acked: dict[int, str] = {}
    kills, phases, started = 0, {"start-up": 0, "writing": 0}, time.monotonic()
    while kills < MAX_KILLS and time.monotonic() - started < MAX_SECONDS:
        got, phase = _run_and_kill(kills, rng, during_start_up=kills % 6 == 5)
        for memory_id, text in got:
            assert memory_id not in acked, (f"id {memory_id} acknowledged twice (kill {kills}, {phase}): "
                                            f"first {acked.get(memory_id)!r}, then {text!r}")
            acked[memory_id] = text
        kills += 1
        phases[phase] += 1
    print(f"\ncrash safety: {kills} kills survived ({phases}), {len(acked)} acknowledged writes checked "
          f"in {time.monotonic() - started:.0f} s")
    assert kills >= 5 and phases["writing"] >= 3 and len(acked) >= 10

    app = App(embedder=embedder)  # start-up replays the vector outbox
    try:
        assert app.db.integrity() == "ok"
        app.memory.sync_vector_index()
        report = app.memory.index_report()
        assert report["pending_vector_writes"] == 0
        assert {k: v for k, v in report.items() if isinstance(v, list) and v} == {}, report
        with app.db.session() as s:
            rows = {m.id: m for m in s.scalars(select(Memory))}
            adds = {}
            for e in s.scalars(select(MemoryEvent).order_by(MemoryEvent.id)):
                if e.op == "add":
                    adds[e.memory_id] = adds.get(e.memory_id, 0) + 1
                last_after = e.payload.get("after", {})
                if e.memory_id in rows and "text" in last_after:
                    assert last_after["text"] == rows[e.memory_id].text
        for memory_id, text in acked.items():
            assert memory_id in rows, f"acknowledged memory {memory_id} was lost"
            assert rows[memory_id].text == text and rows[memory_id].status == "active"
        # The ledger is whole: every memory (acknowledged or committed just before a kill) has exactly one add.
        assert set(adds) == set(rows) and set(adds.values()) == {1}
        # And recall still works on what survived.
        some_id, some_text = next(iter(acked.items()))
        assert some_id in [h.memory.id for h in app.memory.recall(some_text, k=20)]
    finally:
        app.close()
