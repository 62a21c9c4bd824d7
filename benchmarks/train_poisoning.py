"""Train the poisoning guard's classifier: logistic regression (numpy) over MiniLM embeddings + hand features.

    python benchmarks/train_poisoning.py            # writes plugins/builtin/poisoning_model.npz

Trains on the training side of the fixed split in benchmarks/poison_data.py and prints held-out figures.
The decision threshold is not fitted here: it is 0.5 + 0.2 * trust (plugins/builtin/poisoning.py), so the user
(trust 1.0) needs a score of 0.7 and an imported document (0.6) only 0.62.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import storage.offline  # noqa: E402,F401

# isort: split
from poison_data import data_present, held_out, load_examples, locomo_training_turns  # noqa: E402

from plugins.builtin.poison_features import HAND_FEATURES, feature_matrix  # noqa: E402

MODEL_PATH = ROOT / "plugins" / "builtin" / "poisoning_model.npz"


def train_logreg(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 3000, lr: float = 0.05):
    """Class-balanced, L2-regularised logistic regression fitted with Adam (full batch; the data is small)."""
    w = np.zeros(x.shape[1])
    b = 0.0
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), 0.0, 0.0
    for t in range(1, steps + 1):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = weight * (p - y) / len(y)
        gw, gb = x.T @ g + l2 * w, g.sum()
        m_w, v_w = 0.9 * m_w + 0.1 * gw, 0.999 * v_w + 0.001 * gw**2
        m_b, v_b = 0.9 * m_b + 0.1 * gb, 0.999 * v_b + 0.001 * gb**2
        w -= lr * (m_w / (1 - 0.9**t)) / (np.sqrt(v_w / (1 - 0.999**t)) + 1e-8)
        b -= lr * (m_b / (1 - 0.9**t)) / (np.sqrt(v_b / (1 - 0.999**t)) + 1e-8)
    return w, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    if not data_present():
        print("benchmark data not found under ../shared/data; nothing trained")
        return 0
    from storage.embedder import DEFAULT_EMBEDDER, load_embedder

    examples = load_examples()
    train = [e for e in examples if not held_out(e.text)]
    test = [e for e in examples if held_out(e.text)]
    embedder = load_embedder(DEFAULT_EMBEDDER)
    chat = locomo_training_turns()
    texts = [e.text for e in train] + chat
    x = feature_matrix(texts, embedder.embed(texts))
    y = np.array([e.label for e in train] + [0] * len(chat), dtype=np.float64)
    w, b = train_logreg(x, y)
    np.savez_compressed(args.out, weights=w.astype(np.float32), bias=np.float32(b),
                        hand_features=np.array(HAND_FEATURES), embedder=np.array(DEFAULT_EMBEDDER),
                        trained_on=np.array(f"{len(texts)} texts ({int(y.sum())} attacks, {len(chat)} LoCoMo "
                                            f"turns); held out {len(test)}"))
    tx = feature_matrix([e.text for e in test], embedder.embed([e.text for e in test]))
    ty = np.array([e.label for e in test])
    ts = 1 / (1 + np.exp(-(tx @ w + b)))
    print(f"trained on {len(texts)} texts ({int(y.sum())} attacks, {len(chat)} LoCoMo turns), held out {len(test)}; "
          f"wrote {args.out}")
    from plugins.builtin.poisoning import threshold_for

    for ch, t in {"user (trust 1.0)": threshold_for(1.0), "document (trust 0.6)": threshold_for(0.6)}.items():
        pred = ts >= t
        tp, fp = int((pred & (ty == 1)).sum()), int((pred & (ty == 0)).sum())
        print(f"{ch:9s} threshold {t:.3f}  held-out recall {tp / max((ty == 1).sum(), 1):.3f}  "
              f"FPR {fp / max((ty == 0).sum(), 1):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
