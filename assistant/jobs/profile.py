"""The profile: a few sections of short lines about the user, each line a `profile` memory citing its sources.

The chat prompt starts from `profile_text()` (reachable as `JobService.profile_text()`). Reflection adds lines;
a line whose sources stopped being active (superseded, archived, deleted) or no longer support it is retired
on the next reflection run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.enums import LinkKind, MemoryKind, MemoryStatus
from storage.models import Memory, MemoryLink

SECTIONS = ("identity", "people", "work", "places", "preferences", "routines", "goals")


def profile_lines(db: Database) -> list[dict[str, Any]]:
    """Active profile lines with their section and cited memory ids, in section order then age."""
    with db.read_session() as s:
        rows = list(s.scalars(select(Memory).where(Memory.kind == MemoryKind.PROFILE,
                                                   Memory.status == MemoryStatus.ACTIVE)
                              .order_by(Memory.id)))
        links = s.execute(select(MemoryLink.src_id, MemoryLink.dst_id).where(
            MemoryLink.kind == LinkKind.DERIVED_FROM, MemoryLink.src_id.in_([m.id for m in rows]))).all()
    cites: dict[int, list[int]] = {}
    for src, dst in links:
        cites.setdefault(src, []).append(dst)
    lines = [{"id": m.id, "section": (m.provenance or {}).get("section", "identity"), "text": m.text,
              "sources": sorted(cites.get(m.id, []))} for m in rows]
    order = {name: i for i, name in enumerate(SECTIONS)}
    return sorted(lines, key=lambda d: (order.get(d["section"], len(SECTIONS)), d["id"]))


def profile_text(db: Database, with_sources: bool = True) -> str:
    """The profile as plain text for a system prompt, one '## Section' heading per non-empty section.

    Example:
        ## Work
        - Works as a nurse at the city hospital [#12]
    Empty string when there is no profile yet. Each line cites the memory ids it rests on, so the chat model
    and the user can see where it came from.
    """
    out: list[str] = []
    current = None
    for line in profile_lines(db):
        if line["section"] != current:
            current = line["section"]
            out.append(f"## {current.capitalize()}")
        cite = " [" + ", ".join(f"#{i}" for i in line["sources"]) + "]" if with_sources and line["sources"] else ""
        out.append(f"- {line['text']}{cite}")
    return "\n".join(out)
