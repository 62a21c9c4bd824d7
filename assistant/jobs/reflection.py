"""Reflection ("post-thinking"): the chat model reads recent memories and writes `thought` memories and
profile lines, each citing the memories it came from. Output is schema-constrained and short, and every line is
checked against its cited memories (keyword overlap): a line they do not support is dropped, never stored.

Without a model (or when it fails) the run still does its maintenance: profile lines whose sources were
superseded or archived are retired.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from assistant.jobs.base import JobContext, JobResult
from assistant.jobs.profile import SECTIONS, profile_lines
from assistant.jobs.support import jaccard, supported
from assistant.memory.text_rules import text_hash
from assistant.memory import ledger
from storage.models import Memory, MemoryLink
from storage.timeutil import utcnow

log = logging.getLogger(__name__)

SOURCE_KINDS = ("fact", "summary", "episode")
NOTE_CHARS = 200
MAX_SOURCES = 3
ECHO_OVERLAP = 0.8  # a thought sharing this much of its wording with one cited note merely repeats it


def _cited_schema(n_notes: int, max_items: int, with_section: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 3, "maxLength": 120},
            "sources": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": n_notes},
                        "minItems": 1, "maxItems": MAX_SOURCES},
        },
        "required": ["text", "sources"],
    }
    if with_section:
        item["properties"] = {"section": {"type": "string", "enum": list(SECTIONS)}, **item["properties"]}
        item["required"] = ["section", "text", "sources"]
    # minItems 1: an empty list is a tiny model's favourite answer; whatever it writes still faces the check.
    return {"type": "object",
            "properties": {"items": {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}},
            "required": ["items"]}


# No example output in the prompts: SmolLM2-135M copied an example line verbatim (and the support check
# dropped it). minItems 1 in the schema keeps it from answering with an empty list instead.
PROFILE_PROMPT = (
    "You keep a short profile of the people in numbered notes. Write short lines, each in one section "
    f"({', '.join(SECTIONS)}). Each line restates one note in that note's own words and cites its number "
    "in sources. Write nothing the notes do not say."
)
THOUGHT_PROMPT = (
    "You read numbered notes and write a few short insights (patterns, preferences, habits) that the notes "
    "show, in the notes' own words, citing the note numbers each insight comes from in sources. Do not guess."
)


class ReflectionJob:
    name = "reflection"

    def run(self, ctx: JobContext) -> JobResult:
        result = JobResult(self.name, ctx.dry_run)
        for key in ("profile_removed", "profile_added", "thoughts", "dropped_unsupported", "dropped_echo"):
            result.counts[key] = 0
        self._retire_unsupported(ctx, result)
        llm = ctx.llm_factory() if ctx.llm_factory else None
        if llm is None:
            result.counts["_no_model"] = 1
            return result
        notes = self._recent_notes(ctx)
        if len(notes) < 2:
            return result
        ctx.checkpoint()
        profile = self._ask(llm, ctx, notes, PROFILE_PROMPT, ctx.settings.profile_max_lines, True, result)
        ctx.checkpoint()
        thoughts = self._ask(llm, ctx, notes, THOUGHT_PROMPT, ctx.settings.reflection_max_thoughts, False, result)
        self._add_profile_lines(ctx, profile, result)
        self._add_thoughts(ctx, thoughts, result)
        return result

    # -- maintenance ------------------------------------------------------------------------------------
    def _retire_unsupported(self, ctx: JobContext, result: JobResult) -> None:
        """A line whose sources are no longer active, or no longer support it, leaves the profile."""
        lines = profile_lines(ctx.app)
        if not lines:
            return
        with ctx.app.db.session() as s:
            cited = {m.id: m for m in s.scalars(select(Memory).where(
                Memory.id.in_({i for line in lines for i in line["sources"]})))}
            for line in lines:
                active = [cited[i].text for i in line["sources"] if i in cited and cited[i].status == "active"]
                if supported(line["text"], active, ctx.settings.support_min_overlap):
                    continue
                gone = [f"#{i} {cited[i].status}" for i in line["sources"] if i in cited and cited[i].status != "active"]
                reason = "reflection: its sources no longer support it" + (f" ({', '.join(gone)})" if gone else "")
                result.count("profile_removed")
                result.change(f"{'would remove' if ctx.dry_run else 'removed'} profile line #{line['id']} "
                              f"{line['text']!r}: {reason}")
                if not ctx.dry_run:
                    row = s.get(Memory, line["id"])
                    before = ledger.snapshot(row)
                    row.status, row.expired_at, row.updated_at = "superseded", utcnow(), utcnow()
                    ledger.record(s, "supersede", reason, operation_id=ctx.operation_id, memory_id=row.id,
                                  source="job", before=before, after=ledger.snapshot(row))

    # -- the model's part -------------------------------------------------------------------------------
    @staticmethod
    def _recent_notes(ctx: JobContext) -> list[dict[str, Any]]:
        with ctx.app.db.session() as s:
            rows = s.scalars(select(Memory).where(Memory.status == "active", Memory.kind.in_(SOURCE_KINDS))
                             .order_by(Memory.recorded_at.desc(), Memory.id.desc())
                             .limit(ctx.settings.reflection_max_memories))
            notes = [{"id": m.id, "text": " ".join(m.text.split())[:NOTE_CHARS]} for m in rows]
        return list(reversed(notes))  # oldest first reads like a story

    def _ask(self, llm, ctx: JobContext, notes, prompt: str, max_items: int, with_section: bool,
             result: JobResult) -> list[dict[str, Any]]:
        """Lines the model wrote that cite real notes and are supported by them; the rest are counted and dropped."""
        from assistant.llm.protocol import LLMError

        if max_items <= 0:
            return []
        listing = "\n".join(f"[{n}] {note['text']}" for n, note in enumerate(notes, start=1))
        messages = [{"role": "system", "content": prompt},
                    {"role": "user", "content": f"Notes:\n{listing}\n\nAnswer as JSON."}]
        try:
            out = llm.generate_json(messages, _cited_schema(len(notes), max_items, with_section), max_tokens=400)
        except LLMError as exc:
            log.warning("reflection by the model failed: %s", exc)
            result.count("_model_failed")
            return []
        kept = []
        items = (out.get("items") or [])[:max_items]
        result.count("_proposed", len(items))
        for item in items:
            text = " ".join(str(item.get("text", "")).split())
            numbers = [n for n in item.get("sources", []) if isinstance(n, int) and 1 <= n <= len(notes)]
            sources = sorted({notes[n - 1]["id"] for n in numbers})
            section = item.get("section", "identity") if with_section else None
            if with_section and section not in SECTIONS:
                section = None
            texts = [notes[n - 1]["text"] for n in numbers]
            if not text or not sources or (with_section and section is None) or \
                    not supported(text, texts, ctx.settings.support_min_overlap):
                result.count("dropped_unsupported")
                cites = ", ".join(f"#{i}" for i in sources) or "nothing valid"
                result.change(f"dropped the model's line {text[:100]!r} citing {cites}: its sources do not say it")
                continue
            if not with_section and max(jaccard(text, note["text"]) for note in notes) >= ECHO_OVERLAP:
                # A thought that only repeats a note (cited or not) adds no insight, just a second copy of it.
                result.count("dropped_echo")
                result.change(f"dropped the model's thought {text[:100]!r}: it only repeats a note")
                continue
            kept.append({"text": text, "sources": sources, "section": section})
        return kept

    # -- writing ----------------------------------------------------------------------------------------
    def _add_profile_lines(self, ctx: JobContext, lines: list[dict[str, Any]], result: JobResult) -> None:
        existing = profile_lines(ctx.app)
        for line in lines:
            if any(e["section"] == line["section"] and jaccard(e["text"], line["text"]) >= 0.8 for e in existing):
                continue
            existing.append({"section": line["section"], "text": line["text"], "sources": line["sources"]})
            result.count("profile_added")
            label = f"{line['section']}: {line['text']!r} citing " + ", ".join(f"#{i}" for i in line["sources"])
            if ctx.dry_run:
                result.change(f"would add profile line {label}")
                continue
            record = self._store(ctx, line, "profile", {"section": line["section"], "sources": line["sources"]})
            if record is None:
                result.counts["profile_added"] -= 1
                continue
            result.change(f"added profile line #{record.id} {label}")

    def _add_thoughts(self, ctx: JobContext, thoughts: list[dict[str, Any]], result: JobResult) -> None:
        with ctx.app.db.session() as s:
            known = set(s.scalars(select(Memory.text_hash).where(Memory.kind == "thought", Memory.status == "active")))
        for thought in thoughts:
            if text_hash(thought["text"]) in known:
                continue
            known.add(text_hash(thought["text"]))
            result.count("thoughts")
            label = f"{thought['text']!r} citing " + ", ".join(f"#{i}" for i in thought["sources"])
            if ctx.dry_run:
                result.change(f"would add thought {label}")
                continue
            record = self._store(ctx, thought, "thought", {"sources": thought["sources"]})
            if record is None:
                result.counts["thoughts"] -= 1
                continue
            result.change(f"added thought #{record.id} {label}")

    @staticmethod
    def _store(ctx: JobContext, line: dict[str, Any], kind: str, provenance: dict[str, Any]):
        cites = ", ".join(f"#{i}" for i in line["sources"])
        outcome = ctx.app.memory.write([dict(text=line["text"], kind=kind, source="assistant", provenance=provenance,
                                             links=[("derived_from", i) for i in line["sources"]])],
                                       reason=f"reflection: {kind} derived from {cites}",
                                       operation_id=ctx.operation_id)[0]
        return outcome.record if outcome.action == "stored" else None
