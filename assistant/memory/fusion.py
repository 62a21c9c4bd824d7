"""Combining ranked lists from several retrievers."""

from __future__ import annotations

from typing import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float] | None = None, k: int = RRF_K
) -> dict[int, float]:
    """score(d) = sum over retrievers of weight / (k + rank), rank starting at 1 (Cormack et al., 2009)."""
    fused: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, item in enumerate(ids, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused
