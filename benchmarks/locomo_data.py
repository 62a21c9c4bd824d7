"""LoCoMo loading shared by the memory-upkeep benchmarks: conversations, sessions, turns, questions.

Same conventions as the recall helper's benchmarks/locomo_retrieval.py (one memory per turn written as
"Speaker: text" plus the photo caption, session dates as valid time, evidence ids normalised to
"D<session>:<turn>"); once both are merged, locomo_retrieval.py can import these instead of its own copies.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "locomo10.json"
_DIA = re.compile(r"D(\d+):(\d+)")


def load(path: Path = DATA) -> list[dict[str, Any]] | None:
    """The conversations, or None (with the reason printed by the caller) when the data is absent."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def session_date(text: str) -> datetime:
    """LoCoMo writes "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=timezone.utc)


def turn_text(turn: dict[str, Any]) -> str:
    body = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        body += f" [shares a photo: {turn['blip_caption']}]"
    return body


def sessions_of(conversation: dict[str, Any]) -> list[tuple[int, datetime, list[dict[str, Any]]]]:
    """(session number, date, turns), in order."""
    out = []
    for key, turns in conversation.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(turns, list) and turns:
            out.append((int(m.group(1)), session_date(conversation[f"{key}_date_time"]), turns))
    return sorted(out)


def normalise_evidence(evidence: list[Any], known: set[str]) -> tuple[list[str], int]:
    """Evidence ids as "D<s>:<t>", repairing "D10:11:4"-style ids where the turn exists. (ids, dropped)."""
    ids: list[str] = []
    dropped = 0
    for raw in evidence or []:
        found = [f"D{s}:{t}" for s, t in _DIA.findall(str(raw))]
        if not found:
            dropped += 1
        for dia in found:
            if dia in known and dia not in ids:
                ids.append(dia)
            elif dia not in known:
                dropped += 1
    return ids, dropped


def questions(sample: dict[str, Any], known: set[str]) -> Iterator[tuple[str, list[str], int]]:
    """(question, evidence ids, category) for categories 1-4 with at least one valid evidence turn."""
    for qa in sample["qa"]:
        if qa.get("category") not in (1, 2, 3, 4):
            continue
        ids, _ = normalise_evidence(qa.get("evidence", []), known)
        if ids:
            yield qa["question"], ids, qa["category"]
