"""Reflection ("post-thinking"): the chat model reads recent memories and writes `thought` memories and
profile lines, each citing the memories it came from. Output is schema-constrained and short (prompts and
schemas in reflection_prompts.py), and every line faces the same rules before it is stored (`_verdict`):
- supported: its cited memories contain enough of its words and all its names, numbers and negations
  (assistant/memory/support.py; profile lines, which restate one memory, need more of their words than thoughts);
- not a quote: no first- or second-person words (a copied turn of dialogue, not a statement about someone);
- thoughts only: not a copy of any one memory, however numbered or quoted, and drawn from two memories at least.
What fails is counted and dropped, never stored.

Without a model (or when it fails) the run still does its maintenance: profile lines whose sources were
superseded or archived, or no longer support them, are retired.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from assistant.jobs.base import JobContext, JobResult
from assistant.jobs.profile import SECTIONS, profile_lines
from assistant.jobs.reflection_prompts import (
    NO_FACT,
    PROFILE_MAX_TOKENS,
    profile_candidates,
    profile_messages,
    profile_schema,
    thought_max_tokens,
    thought_messages,
    thought_schema,
)
from assistant.memory import ledger
from assistant.memory.support import (
    content_words,
    echoes,
    in_person,
    jaccard,
    missing_specifics,
    strip_lead_in,
    supported,
)
from assistant.memory.text_rules import text_hash
from assistant.memory.write_path import WriteAction
from storage.enums import EventOp, LinkKind, MemoryKind, MemoryStatus, Source
from storage.models import Memory
from storage.records import NewMemory
from storage.timeutil import utcnow

log = logging.getLogger(__name__)

SOURCE_KINDS = ("fact", "summary", "episode")
NOTE_CHARS = 200


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
        profile = self._ask_profile(llm, ctx, notes, result)
        ctx.checkpoint()
        thoughts = self._ask_thoughts(llm, ctx, notes, result)
        self._add_profile_lines(ctx, profile, result)
        self._add_thoughts(ctx, thoughts, result)
        return result

    # -- maintenance ------------------------------------------------------------------------------------
    def _retire_unsupported(self, ctx: JobContext, result: JobResult) -> None:
        """A line whose sources are no longer active, or no longer support it, leaves the profile."""
        lines = profile_lines(ctx.db)
        if not lines:
            return
        with ctx.db.session() as s:
            cited = {m.id: m for m in s.scalars(select(Memory).where(
                Memory.id.in_({i for line in lines for i in line["sources"]})))}
            for line in lines:
                active = [cited[i].text for i in line["sources"]
                          if i in cited and cited[i].status == MemoryStatus.ACTIVE]
                if supported(line["text"], active, ctx.settings.profile_min_overlap):
                    continue
                gone = [f"#{i} {cited[i].status}" for i in line["sources"]
                        if i in cited and cited[i].status != MemoryStatus.ACTIVE]
                reason = "reflection: its sources no longer support it" + (f" ({', '.join(gone)})" if gone else "")
                result.count("profile_removed")
                result.change(f"{'would remove' if ctx.dry_run else 'removed'} profile line #{line['id']} "
                              f"{line['text']!r}: {reason}")
                if not ctx.dry_run:
                    row = s.get(Memory, line["id"])
                    before = ledger.snapshot(row)
                    row.status, row.expired_at, row.updated_at = MemoryStatus.SUPERSEDED, utcnow(), utcnow()
                    ledger.record(s, EventOp.SUPERSEDE, reason, operation_id=ctx.operation_id, memory_id=row.id,
                                  source="job", before=before, after=ledger.snapshot(row))

    # -- the model's part -------------------------------------------------------------------------------
    @staticmethod
    def _recent_notes(ctx: JobContext) -> list[dict[str, Any]]:
        with ctx.db.session() as s:
            rows = s.scalars(select(Memory).where(Memory.status == MemoryStatus.ACTIVE, Memory.kind.in_(SOURCE_KINDS))
                             .order_by(Memory.recorded_at.desc(), Memory.id.desc())
                             .limit(ctx.settings.reflection_max_memories))
            notes = [{"id": m.id, "text": " ".join(m.text.split())[:NOTE_CHARS]} for m in rows]
        return list(reversed(notes))  # oldest first reads like a story

    def _generate(self, llm, messages, schema, max_tokens: int, result: JobResult) -> dict[str, Any] | None:
        from assistant.llm.protocol import LLMError

        try:
            return llm.generate_json(messages, schema, max_tokens=max_tokens)
        except LLMError as exc:
            log.warning("reflection by the model failed: %s", exc)
            result.count("_model_failed")
            return None

    def _ask_profile(self, llm, ctx: JobContext, notes, result: JobResult) -> list[dict[str, Any]]:
        """One question per candidate note; the line cites that note, and faces the same checks as any line."""
        cited = {i for line in profile_lines(ctx.db) for i in line["sources"]}
        candidates = profile_candidates(notes, cited, ctx.settings.profile_max_lines)
        lines = []
        for note in candidates:
            ctx.checkpoint()
            out = self._generate(llm, profile_messages(note["text"]), profile_schema(), PROFILE_MAX_TOKENS, result)
            if out is None:
                continue
            if out.get("section") == NO_FACT:
                result.count("_no_fact")
                continue
            result.count("_proposed")
            lines.append({"text": str(out.get("text", "")), "sources": [note], "section": out.get("section")})
        return self._checked(lines, notes, True, ctx.settings.profile_min_overlap, result)

    def _ask_thoughts(self, llm, ctx: JobContext, notes, result: JobResult) -> list[dict[str, Any]]:
        max_items = ctx.settings.reflection_max_thoughts
        if max_items <= 0:
            return []
        out = self._generate(llm, thought_messages([n["text"] for n in notes]), thought_schema(len(notes), max_items),
                             thought_max_tokens(max_items), result)
        items = ((out or {}).get("items") or [])[:max_items]
        result.count("_proposed", len(items))
        lines = [{"text": str(item.get("text", "")), "section": None,
                  "sources": [notes[n - 1] for n in sorted(set(item.get("sources", [])))
                              if isinstance(n, int) and 1 <= n <= len(notes)]} for item in items]
        return self._checked(lines, notes, False, ctx.settings.support_min_overlap, result)

    def _checked(self, lines, notes, with_section: bool, min_overlap: float, result: JobResult) -> list[dict[str, Any]]:
        """The lines that pass every rule in `_verdict`, with their sources as memory ids; the rest are counted
        and dropped. Each line arrives with `sources` as the note dicts it cites."""
        kept: list[dict[str, Any]] = []
        what = "line" if with_section else "thought"
        for raw in lines:
            text = strip_lead_in(raw["text"])
            line = {"text": text, "sources": sorted({n["id"] for n in raw["sources"]}), "section": raw["section"]}
            counter, reason = self._verdict(line, [n["text"] for n in raw["sources"]], notes, with_section,
                                            min_overlap)
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
        if in_person(text):
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
        existing = profile_lines(ctx.db)
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
        with ctx.db.session() as s:
            known = set(s.scalars(select(Memory.text_hash).where(Memory.kind == MemoryKind.THOUGHT,
                                                                 Memory.status == MemoryStatus.ACTIVE)))
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
        outcome = ctx.memory.write([NewMemory(line["text"], kind=kind, source=Source.ASSISTANT, provenance=provenance,
                                              links=tuple((LinkKind.DERIVED_FROM, i) for i in line["sources"]))],
                                   reason=f"reflection: {kind} derived from {cites}",
                                   operation_id=ctx.operation_id)[0]
        return outcome.record if outcome.action == WriteAction.STORED else None
