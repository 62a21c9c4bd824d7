"""The forgetting curve, as pure functions (no database): MemoryManager.reinforce, the forgetting job and its
benchmark share them.

Retention R = exp(-t / S): t days since the memory was last recalled (or recorded, or restored), S its
stability in days. S = base_days * (0.5 + importance) * strength, where `strength` (a column, 1.0 for a new
memory) grows with each spaced recall. A larger S means slower forgetting; MemoryBank's published code
multiplies t by the strength instead, so there a well-rehearsed memory fades faster, the opposite of the
spacing effect it cites.
"""

from __future__ import annotations

import math
from datetime import datetime


def stability_days(strength: float, importance: float, base_days: float) -> float:
    """S in days: important memories and often-recalled ones fade more slowly."""
    return base_days * (0.5 + max(0.0, min(1.0, importance))) * max(strength, 0.1)


def retention(age_days: float, strength: float, importance: float, base_days: float) -> float:
    """R in (0, 1]: the chance the memory is still worth recalling after `age_days` without use."""
    return math.exp(-max(age_days, 0.0) / stability_days(strength, importance, base_days))


def reinforced_strength(strength: float, last_recalled_at: datetime | None, now: datetime,
                        min_gap_hours: float) -> float:
    """Strength after one real recall.

    Spaced repetition: a recall after a gap grows stability (x1.5 + 1, as before); recalls closer together
    than `min_gap_hours` (the same memory fetched on every turn of one chat) are massed practice and add
    nothing, otherwise one long conversation would make a memory practically unforgettable.
    """
    if last_recalled_at is not None and (now - last_recalled_at).total_seconds() < min_gap_hours * 3600:
        return strength
    return strength * 1.5 + 1.0
