"""A writer for the crash-safety test: stores memories in a loop and prints each id once it is acknowledged.

Run as `python -m tests.crash_child SEED`; the parent kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import random
import sys

from storage.records import NewMemory


def main(seed: int) -> None:
    from assistant.app import App

    rng = random.Random(seed)
    app = App()
    app.embedder.embed(["warm up"])  # load the model and open Chroma before the parent starts its clock
    app.vector_index.count()
    print("READY", flush=True)
    n = 0
    while True:
        n += 1
        op = rng.random()
        if op < 0.08:
            app.memory.reindex()
            print("REINDEXED", flush=True)
        elif op < 0.5:
            # A random tag keeps texts apart: "1-13" and "13-1" with the same topic would be near-duplicates.
            text = f"crash test {seed}-{n} tag {rng.getrandbits(40):x}: a single memory about topic {rng.randrange(50)}"
            record = app.memory.remember(text)
            print(f"ACK {record.id} {text}", flush=True)
        else:
            texts = [f"crash test {seed}-{n}.{j} tag {rng.getrandbits(40):x}: "
                     f"batch memory about topic {rng.randrange(50)}"
                     for j in range(rng.randint(2, 8))]
            for record, text in zip(app.memory.remember_many([NewMemory(t) for t in texts]), texts):
                print(f"ACK {record.id} {text}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
