"""Combining and re-ordering ranked lists: weighted fusion, context smoothing, forgetting curve, MMR.

Pure functions on ids, scores and vectors, so each rule is tested on its own (tests/test_fusion.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

RRF_K = 60
# A transcript line: "Name: text" (how chat turns are kept: "User: ...", or "Anna: ..." in an imported chat).
_SPEAKER = re.compile(r"\s*([^\W\d_][\w'-]{0,40}):", re.UNICODE)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float] | None = None, k: int = RRF_K
) -> dict[int, float]:
    """score(d) = sum over retrievers of weight / (k + rank), rank starting at 1 (Cormack et al., 2009).

    Weights let the stronger retriever lead: on conversational memory, names, dates and rare words carry the
    questions, so keyword ranks deserve more say than a small dense model's.
    """
    fused: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        if weight == 0:
            continue
        for rank, item in enumerate(ids, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def spread_to_neighbours(scores: Mapping[int, float], neighbours: Mapping[int, Sequence[int]],
                         weight: float) -> dict[int, float]:
    """Each item also gets `weight` times the best score of its neighbours (the turns around it).

    A question is often answered by a short turn ("Yes, last Friday!") whose topic words sit in the turn before
    it; letting neighbours share evidence finds it. Neighbours absent from `scores` enter with their share.
    """
    out = dict(scores)
    if weight <= 0:
        return out
    for item, around in neighbours.items():
        best = max((scores.get(n, 0.0) for n in around), default=0.0)
        if best > 0:
            out[item] = out.get(item, 0.0) + weight * best
    return out


def group_boost(scores: Mapping[int, float], group_of: Mapping[int, int | None], weight: float,
                top: int = 3) -> tuple[dict[int, float], dict[int, float]]:
    """Add `weight` times the group's score (sum of its `top` best items) to every item of the group.

    Groups are conversations (sessions): a session that matches the question in several turns is more likely
    the one it is about. Returns the new scores and each group's score.
    """
    per_group: dict[int, list[float]] = {}
    for item, score in scores.items():
        group = group_of.get(item)
        if group is not None:
            per_group.setdefault(group, []).append(score)
    group_score = {g: sum(sorted(v, reverse=True)[:top]) for g, v in per_group.items()}
    if weight <= 0:
        return dict(scores), group_score
    out = {}
    for item, score in scores.items():
        group = group_of.get(item)
        out[item] = score + (weight * group_score[group] if group is not None else 0.0)
    return out, group_score


def speaker(text: str) -> str | None:
    """Who says a transcript line, lower-cased, or None. Recall lifts the lines of someone the question names:
    "What did Anna say about the trip?" is most likely answered by a line Anna said, not one that mentions her."""
    m = _SPEAKER.match(text)
    return m.group(1).lower() if m else None


def recency(age_days: float, half_life_days: float) -> float:
    """1 for something true now, 0.5 one half-life ago: how fresh the memory's content is in the world."""
    if half_life_days <= 0:
        return 1.0
    return float(0.5 ** (max(0.0, age_days) / half_life_days))


def rerank_factor(recency_value: float, retention_value: float, recency_weight: float,
                  retention_weight: float) -> float:
    """A multiplier in (0, 1]: 1 for a fresh, well-remembered memory, lower as either fades.

    Multiplicative and bounded so relevance stays the main signal: with weights a and b the oldest, most
    forgotten memory keeps 1 / (1 + a + b) of its score.
    """
    return (1.0 + recency_weight * recency_value + retention_weight * retention_value) / (
        1.0 + recency_weight + retention_weight)


def mmr(candidates: Sequence[int], relevance: Mapping[int, float], vectors: Mapping[int, np.ndarray],
        k: int, lambda_: float) -> list[int]:
    """Maximal marginal relevance (Carbonell & Goldstein, 1998): pick, one at a time, the item that is most
    relevant and least like those already picked (cosine of L2-normalised vectors; an item without a vector
    counts as unlike everything). lambda_ = 1 keeps the relevance order."""
    pool = list(candidates)
    if lambda_ >= 1.0 or len(pool) <= 1:
        return pool[:k]
    dim = next((len(v) for v in vectors.values()), 1)
    matrix = np.array([vectors.get(c, np.zeros(dim)) for c in pool], dtype=np.float32)
    top = max(relevance[c] for c in pool) or 1.0
    rel = np.array([relevance[c] / top for c in pool])
    best_sim = np.zeros(len(pool))
    left = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    while left.any() and len(chosen) < k:
        value = np.where(left, lambda_ * rel - (1 - lambda_) * best_sim, -np.inf)
        pick = int(np.argmax(value))  # ties go to the earlier (more relevant) item
        chosen.append(pool[pick])
        left[pick] = False
        best_sim = np.maximum(best_sim, matrix @ matrix[pick])
    return chosen
