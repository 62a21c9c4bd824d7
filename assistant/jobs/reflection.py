"""Reflection ("post-thinking"): the chat model reads recent memories and writes `thought` memories and
profile lines, each citing the memories it came from. Output is schema-constrained and short, and every line is
checked against its cited memories (keyword overlap): a line they do not support is dropped, never stored.

Without a model (or when it fails) the run still does its maintenance: profile lines whose sources were
superseded or archived are retired.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy import select

from assistant.jobs.base import JobContext, JobResult
from assistant.jobs.profile import SECTIONS, profile_lines
from assistant.jobs.support import content_words, echoes, jaccard, missing_specifics, strip_lead_in, supported
from assistant.memory.text_rules import text_hash
from assistant.memory import ledger
from storage.models import Memory, MemoryLink
from storage.timeutil import utcnow

log = logging.getLogger(__name__)

SOURCE_KINDS = ("fact", "summary", "episode")
NOTE_CHARS = 200
MAX_SOURCES = 3
PROFILE_LINE_CHARS = 90
THOUGHT_CHARS = 110
# A profile or thought line is about people, not a quote from them: first- or second-person words mean the
# model copied a turn of dialogue ("I love painting!") instead of stating a fact ("Caroline loves painting").
_PERSONAL = re.compile(r"\b(i|i'm|i've|me|my|mine|we|our|us|you|your|yours)\b", re.IGNORECASE)


def _cited_schema(n_notes: int, max_items: int, with_section: bool) -> dict[str, Any]:
    """Sources come first: the model picks the note(s) before it writes, so the text follows a note it chose."""
    props: dict[str, Any] = {
        "sources": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": n_notes},
                    # A thought is a pattern across notes, so it must cite two; a profile line states one fact.
                    "minItems": 1 if with_section else 2, "maxItems": MAX_SOURCES},
    }
    if with_section:
        props["section"] = {"type": "string", "enum": list(SECTIONS)}
    props["text"] = {"type": "string", "minLength": 3,
                     "maxLength": PROFILE_LINE_CHARS if with_section else THOUGHT_CHARS}
    item = {"type": "object", "properties": props, "required": list(props)}
    # minItems 1: an empty list is a tiny model's favourite answer; whatever it writes still faces the checks.
    return {"type": "object",
            "properties": {"items": {"type": "array", "items": item, "minItems": 1, "maxItems": max_items}},
            "required": ["items"]}


def _max_tokens(max_items: int, with_section: bool) -> int:
    """Room for the longest answer the schema allows (about 3 characters a token, plus the JSON around it),
    so a full answer is never cut off into invalid JSON and retried."""
    per_item = (PROFILE_LINE_CHARS if with_section else THOUGHT_CHARS) // 3 + 12 + 3 * MAX_SOURCES + 6 * with_section
    return 16 + max_items * per_item


SYSTEM_PROMPT = ("You read numbered notes from people's conversations and answer in JSON. "
                 "Use only what the notes say; never guess.")
PROFILE_TASK = (
    "Write profile lines about the people in these notes. Each line states one fact that one note says, as a "
    "short sentence about the person by name (not a quote: no I, my or you). Give the number of the note that "
    f"says it in sources, and one section: {', '.join(SECTIONS)}."
)
THOUGHT_TASK = (
    "Write insights about the people in these notes. An insight connects two or more notes into something no "
    "single note says: a pattern, a habit, a preference shown more than once. Write it in your own words, not "
    "a quote (no I, my or you), and cite every note it connects in sources."
)
# One worked example each, given as an earlier question and answer: it measurably helps small models find the
# format, and as a finished exchange about other notes it is copied less than an example inside the task.
# Its names (Sam, Leeds, Tom) are in no real note, so a line copied from it still fails the support check.
PROFILE_EXAMPLE = (
    ["Sam: I moved to Leeds in May to work at the library.", "Sam: My brother Tom visits every month."],
    {"items": [{"sources": [1], "section": "places", "text": "Sam moved to Leeds in May"},
               {"sources": [1], "section": "work", "text": "Sam works at the library"},
               {"sources": [2], "section": "people", "text": "Sam's brother Tom visits every month"}]},
)
THOUGHT_EXAMPLE = (
    ["Sam: Went swimming before work again.", "Sam: Cycled to the coast on Saturday!",
     "Sam: I went running by the canal."],
    {"items": [{"sources": [1, 2, 3], "text": "Sam stays active by swimming, cycling and running"}]},
)


def _question(task: str, notes: list[str]) -> str:
    listing = "\n".join(f"[{n}] {text}" for n, text in enumerate(notes, start=1))
    return f"Notes:\n{listing}\n\n{task} Answer as JSON."


def reflection_messages(task: str, example: tuple[list[str], dict[str, Any]], notes: list[str]) -> list[dict[str, str]]:
    """System prompt, the worked example as a finished exchange, then the real notes with the same task."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _question(task, example[0])},
            {"role": "assistant", "content": json.dumps(example[1])},
            {"role": "user", "content": _question(task, notes)}]


class ReflectionJob:
    name = "reflection"

    def run(self, ctx: JobContext) -> JobResult:
        result = JobResult(self.name, ctx.dry_run)
        for key in ("profile_removed", "profile_added", "thoughts", "dropped_unsupported", "dropped_echo",
                    "dropped_quote"):
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
        profile = self._ask(llm, ctx, notes, ctx.settings.profile_max_lines, True, result)
        ctx.checkpoint()
        thoughts = self._ask(llm, ctx, notes, ctx.settings.reflection_max_thoughts, False, result)
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
                if supported(line["text"], active, ctx.settings.profile_min_overlap):
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

    def _ask(self, llm, ctx: JobContext, notes, max_items: int, with_section: bool,
             result: JobResult) -> list[dict[str, Any]]:
        """Lines the model wrote that pass every rule in `_verdict`; the rest are counted and dropped."""
        from assistant.llm.protocol import LLMError

        if max_items <= 0:
            return []
        task, example = (PROFILE_TASK, PROFILE_EXAMPLE) if with_section else (THOUGHT_TASK, THOUGHT_EXAMPLE)
        messages = reflection_messages(task, example, [note["text"] for note in notes])
        try:
            out = llm.generate_json(messages, _cited_schema(len(notes), max_items, with_section),
                                    max_tokens=_max_tokens(max_items, with_section))
        except LLMError as exc:
            log.warning("reflection by the model failed: %s", exc)
            result.count("_model_failed")
            return []
        kept: list[dict[str, Any]] = []
        items = (out.get("items") or [])[:max_items]
        result.count("_proposed", len(items))
        what = "line" if with_section else "thought"
        for item in items:
            text = strip_lead_in(str(item.get("text", "")))
            numbers = sorted({n for n in item.get("sources", []) if isinstance(n, int) and 1 <= n <= len(notes)})
            line = {"text": text, "sources": sorted({notes[n - 1]["id"] for n in numbers}),
                    "section": item.get("section") if with_section else None}
            counter, reason = self._verdict(line, [notes[n - 1]["text"] for n in numbers], notes, with_section,
                                            ctx.settings.profile_min_overlap if with_section
                                            else ctx.settings.support_min_overlap)
            if counter is None and any(k["text"].lower() == text.lower() for k in kept):
                counter, reason = "_dropped_repeat", "the model wrote it twice"
            if counter is not None:
                result.count(counter)
                cites = ", ".join(f"#{i}" for i in line["sources"]) or "nothing valid"
                result.change(f"dropped the model's {what} {text[:100]!r} citing {cites}: {reason}")
                continue
            kept.append(line)
        return kept

    @staticmethod
    def _verdict(line: dict[str, Any], cited: list[str], notes: list[dict[str, Any]], with_section: bool,
                 min_overlap: float) -> tuple[str | None, str]:
        """(None, "") for a line to keep, else (the counter to raise, why it is dropped)."""
        text = line["text"]
        if not text or not line["sources"] or (with_section and line["section"] not in SECTIONS):
            return "dropped_unsupported", "it cites no valid note"
        if not supported(text, cited, min_overlap):
            missing = missing_specifics(text, cited)
            return "dropped_unsupported", ("its sources do not say " + ", ".join(repr(w) for w in missing)
                                           if missing else "its sources do not say it")
        if _PERSONAL.search(text):
            return "dropped_quote", "it quotes a turn (first or second person) instead of stating a fact"
        if with_section:
            return None, ""
        if any(echoes(text, note["text"]) for note in notes):
            # A thought that only repeats a note (cited or not) adds no insight, just a second copy of it.
            return "dropped_echo", "it only repeats a note"
        words = content_words(text)
        if sum(1 for note in cited if words & content_words(note)) < 2:
            return "dropped_echo", "it draws on a single note, so it is no pattern"
        return None, ""

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
