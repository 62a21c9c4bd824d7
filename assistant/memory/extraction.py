"""Fact extraction: a language model turns a stored chat turn into atomic, self-contained facts.

It never runs on the UI thread and never blocks storing the turn: `record_turn` stores the episode, then puts
it on a persistent queue in SQLite (`extraction_queue`). A worker thread (or `secondme extract`) takes jobs from
the queue. A failed or crashed attempt leaves the job to be retried, up to settings.extraction_max_attempts; after
that the job is marked failed and the ledger says why. The episode is never touched, so nothing is lost.

The model answers under a JSON schema (every array has maxItems, every string maxLength); its output is then
checked again here, because a small model gives schema-valid nonsense: facts that copy the prompt's example, quote
the turn, loop, or are not grounded in the turn (a name, number or negation it does not hold, or too few of its
words: assistant/memory/support.py) are dropped. Only the user's words count: the assistant's reply is context
for references, never a source. Slot keys are not asked of the model: the write path reads them from the
wording (assistant/memory/attributes.py), and the user's own sentences that state a personal attribute are kept
as facts verbatim, so updates work without a capable model. Time expressions are resolved to absolute dates by
`assistant.memory.dates` relative to when the turn was said, not by the model.
Facts are written through the normal write path (duplicates, supersession, plugin checks) and linked
`derived_from` their episode.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from assistant.llm.protocol import LanguageModel, LLMError
from assistant.memory import ledger
from assistant.memory.attributes import PersonalAttribute, personal_attribute
from assistant.memory.dates import resolve_when, with_absolute_date
from assistant.memory.support import in_person, missing_specifics, overlap, repeats_itself
from assistant.memory.text_rules import text_hash
from storage.db import Database
from storage.enums import EventOp, ExtractionStatus, LinkKind, MemoryKind, MemoryStatus, Source
from storage.errors import NotFound
from storage.models import ExtractionJob, Memory
from storage.records import NewMemory
from storage.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.memory.write_path import WriteOutcome

# The write path's write(items, reason, operation_id): extracted facts go through it like any other memory.
WriteMemories = Callable[[Sequence[NewMemory], str, "str | None"], "list[WriteOutcome]"]

log = logging.getLogger(__name__)

MAX_FACT_CHARS = 240
MIN_FACT_WORDS = 4  # "The user is vegan." is the shortest statement; "Melanie." or "The user's family." is none
# Share of a fact's content words that must appear in its turn (assistant/memory/support.py): a paraphrase
# ("I'm a nurse" -> "The user works as a nurse") keeps half of them. Measured on SmolLM2-135M's facts from
# LoCoMo's first conversation: this and the other checks drop most of the 1,030 it wrote (invented names,
# "Sister Ana" taken from the worked example, loops, quotes).
FACT_MIN_OVERLAP = 0.5
STALE_CLAIM = timedelta(minutes=10)  # a job "running" for longer than this was left by a crashed process
EXTRACTED_TRUST = 0.9  # the user's own words, but read by a model


class ExtractionError(Exception):
    """The model's answer could not be used (not JSON, not valid against the schema, nothing grounded)."""


def extraction_schema(max_facts: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "maxItems": max_facts,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_FACT_CHARS},
                        "subject": {"type": "string", "maxLength": 60},
                        "when": {"type": "string", "maxLength": 40},
                    },
                    "required": ["text", "subject", "when"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["facts"],
        "additionalProperties": False,
    }


SYSTEM_PROMPT = """You extract facts about the user from one conversation turn.
Write each fact as one short sentence that is true on its own: \
name the subject ("The user", "The user's sister Ana"), never "I", "he" or "she".
Only use what the User says; ignore what the Assistant says.
subject: who the fact is about.
when: the time words exactly as the user said them ("last March", "yesterday"), or "" if none.
Small talk, questions and greetings contain no facts: answer {"facts": []}."""

EXAMPLE_TURN = ("Said on 2026-05-02.\nUser: I moved to Lisbon last March, and my sister Ana just started as a nurse "
                "at Santa Maria hospital.\nAssistant: Congratulations to Ana!")
EXAMPLE_FACTS = {"facts": [
    {"text": "The user moved to Lisbon last March.", "subject": "user", "when": "last March"},
    {"text": "The user's sister Ana works as a nurse at Santa Maria hospital.", "subject": "user's sister Ana",
     "when": ""},
]}
NO_FACTS_TURN = "Said on 2026-05-02.\nUser: Hi! What's a good name for a chess club?\nAssistant: How about Knight Owls?"
_EXAMPLE_HASHES = {text_hash(f["text"]) for f in EXAMPLE_FACTS["facts"]}


def extraction_messages(turn_text: str, said_at: datetime) -> list[dict[str, str]]:
    """The prompt: instructions, one worked example, one "no facts" example, then the turn."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": EXAMPLE_TURN},
        {"role": "assistant", "content": json.dumps(EXAMPLE_FACTS)},
        {"role": "user", "content": NO_FACTS_TURN},
        {"role": "assistant", "content": json.dumps({"facts": []})},
        {"role": "user", "content": f"Said on {as_utc(said_at):%Y-%m-%d}.\n{turn_text}"},
    ]


@dataclass(frozen=True)
class ExtractedFact:
    text: str
    subject: str | None
    valid_from: datetime
    when: dict[str, Any]


def users_words(turn_text: str) -> str:
    """The user's part of an episode ("User: ...\nAssistant: ..."): the only source a fact may come from. The
    assistant's reply is in the prompt to resolve references ("yes, that one"), never as evidence."""
    user, _, _ = turn_text.partition("\nAssistant:")
    return user[len("User:"):].strip() if user.startswith("User:") else ""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def attribute_sentences(said: str) -> list[tuple[str, PersonalAttribute]]:
    """The user's sentences that state a single-valued personal attribute ("I moved to Lisbon."), each with it."""
    found = [(sentence.strip(), personal_attribute(sentence)) for sentence in _SENTENCE_END.split(said)]
    return [(sentence, attribute) for sentence, attribute in found if attribute is not None]


def parse_facts(answer: Any, schema: dict[str, Any], turn_text: str,
                said_at: datetime) -> tuple[list[ExtractedFact], list[str]]:
    """The usable facts in a model's answer, and why each other one was dropped. Raises ExtractionError.

    A fact must be grounded in what the user said (`turn_text`'s user part): a name, number or negation only the
    assistant said makes it invented. Its slot key is the write path's to read from the wording, so the model's
    guess is dropped: a wrong key would retire whatever fact held it."""
    import jsonschema

    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError as exc:
            raise ExtractionError(f"the model's answer is not JSON ({exc})") from None
    try:
        jsonschema.validate(answer, schema)
    except jsonschema.ValidationError as exc:
        raise ExtractionError(f"the model's answer does not fit the schema: {exc.message[:200]}") from None
    said = users_words(turn_text)
    facts, dropped = [], []
    for raw in answer["facts"]:
        text = " ".join(raw["text"].split())
        if len(text.split()) < MIN_FACT_WORDS:
            dropped.append(f"too short to be a statement: {text!r}")
            continue
        if text_hash(text) in _EXAMPLE_HASHES:
            dropped.append(f"copied the prompt's example: {text!r}")
            continue
        if in_person(text) or repeats_itself(text):
            dropped.append(f"{'quotes the turn (first or second person)' if in_person(text) else 'repeats itself'}: "
                           f"{text[:80]!r}")
            continue
        invented = missing_specifics(text, [said]) if said else ["nothing the user said"]
        if invented or overlap(text, [said]) < FACT_MIN_OVERLAP:
            why = (f"names {', '.join(invented[:3])}, which the user did not say" if invented
                   else "too few of the user's words")
            dropped.append(f"not grounded in the user's words ({why}): {text[:80]!r}")
            continue
        when: dict[str, Any] = {}
        valid_from = as_utc(said_at)
        expression = raw["when"].strip()
        if expression:
            resolved = resolve_when(expression, said_at)
            if resolved is None:
                when = {"text": expression, "resolved": None}
                dropped.append(f"time {expression!r} could not be resolved; fact kept, dated when it was said")
            else:
                text = with_absolute_date(text, expression, resolved)
                valid_from = resolved.start
                when = {"text": expression, "resolved": resolved.label, "granularity": resolved.granularity,
                        "future": resolved.is_after(said_at)}
        facts.append(ExtractedFact(text=text, subject=raw["subject"].strip() or None,
                                   valid_from=valid_from, when=when))
    return facts, dropped


def _job(s: Session, job_id: int) -> ExtractionJob:
    job = s.get(ExtractionJob, job_id)
    if job is None:
        raise NotFound(f"No extraction job with id {job_id}; see: secondme extract --status")
    return job


class ExtractionQueue:
    """The persistent queue of episodes waiting for fact extraction, and the code that works through it."""

    def __init__(self, db: Database, write: WriteMemories, settings: Settings):
        self.db = db
        self.write = write
        self.settings = settings
        self._worker: ExtractionWorker | None = None

    # -- queue -----------------------------------------------------------------------------------
    def enqueue(self, episode_ids: Sequence[int]) -> None:
        now = utcnow()
        with self.db.session() as s:
            s.add_all([ExtractionJob(episode_id=i, status="pending", attempts=0, created_at=now, updated_at=now)
                       for i in episode_ids])
        if self._worker is not None:
            self._worker.wake()

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(ExtractionJob.status, func.count()).group_by(ExtractionJob.status))
            return {status: n for status, n in rows}

    def jobs(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [{"id": j.id, "episode_id": j.episode_id, "status": j.status, "attempts": j.attempts,
                     "last_error": j.last_error} for j in s.scalars(select(ExtractionJob).order_by(ExtractionJob.id))]

    def _claim(self, skip: Sequence[int] = ()) -> int | None:
        """Take the oldest pending job (or one a crashed process left running), other than those in `skip`."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(update(ExtractionJob).where(ExtractionJob.status == "running",
                                                  ExtractionJob.claimed_at < now - STALE_CLAIM)
                      .values(status="pending"))
            job_id = s.scalar(select(ExtractionJob.id).where(ExtractionJob.status == "pending",
                                                             ExtractionJob.id.not_in(list(skip)))
                              .order_by(ExtractionJob.id).limit(1))
            if job_id is None:
                return None
            claimed = cast(CursorResult[Any], s.execute(update(ExtractionJob).where(ExtractionJob.id == job_id,
                                                            ExtractionJob.status == "pending")
                                .values(status="running", attempts=ExtractionJob.attempts + 1, claimed_at=now,
                                        updated_at=now)))
            return job_id if claimed.rowcount == 1 else None

    # -- work ------------------------------------------------------------------------------------
    def run_pending(self, llm: LanguageModel, limit: int | None = None,
                    should_stop: Callable[[], bool] | None = None) -> dict[str, int]:
        """Work through the queue with `llm`; returns how many jobs ended done, retried and failed.

        A job that fails is retried on a later run, not at once: a model that just gave garbage for a turn
        is likely to do so again right away.
        """
        done = retried = failed = 0
        tried: list[int] = []
        while limit is None or done + retried + failed < limit:
            if should_stop and should_stop():
                break
            job_id = self._claim(tried)
            if job_id is None:
                break
            tried.append(job_id)
            result = self.process(job_id, llm)
            done += result == "done"
            retried += result == "retry"
            failed += result == "failed"
        return {"done": done, "retried": retried, "failed": failed}

    def process(self, job_id: int, llm: LanguageModel) -> str:
        with self.db.session() as s:
            job = _job(s, job_id)
            episode = s.get(Memory, job.episode_id)
            if episode is None or episode.status != MemoryStatus.ACTIVE:
                # A quarantined turn must not leak into facts; a forgotten or deleted one has nothing to give.
                job.status, job.updated_at = "done", utcnow()
                job.last_error = f"skipped: the episode is {episode.status if episode else 'gone'}"
                return "done"
            turn, said_at, session_id = episode.text, episode.valid_from or episode.recorded_at, episode.session_id
            episode_id, source, turn_trust = episode.id, episode.source, episode.trust
        schema = extraction_schema(self.settings.extraction_max_facts)
        try:
            # Room for every fact at its longest, so a grammar-bound answer is never cut off mid-object.
            max_tokens = 40 + 120 * self.settings.extraction_max_facts
            answer = llm.generate_json(extraction_messages(turn, said_at), schema, max_tokens=max_tokens)
            facts, dropped = parse_facts(answer, schema, turn, said_at)
        except (LLMError, ExtractionError) as exc:
            return self._failed(job_id, episode_id, session_id, str(exc))
        except Exception as exc:  # a bug in a model runtime must not lose the job either
            log.exception("fact extraction crashed on episode %s", episode_id)
            return self._failed(job_id, episode_id, session_id, f"{type(exc).__name__}: {exc}")
        op_id = ledger.new_operation_id()
        # The user's own sentences that state a personal attribute come first, verbatim: they need no model (so
        # "I moved to Lisbon" updates the home city even with the small packaged model), and their wording says
        # whether a value changed. A model's restatement of the same value is then a duplicate.
        said_attributes = attribute_sentences(users_words(turn))
        stated = [NewMemory(sentence, kind=MemoryKind.FACT, source=Source(source), at=said_at,
                            session_id=session_id, trust=turn_trust,
                            provenance={"extracted_from": episode_id, "rule": "personal attribute"},
                            links=((LinkKind.DERIVED_FROM, episode_id),))
                  for sentence, _ in said_attributes]
        # Where the user's own sentence states an attribute, the model's version of it (perhaps of an older value
        # in the same turn) adds nothing and could only contradict it.
        stated_slots = {attribute.slot_key for _, attribute in said_attributes}
        facts = [f for f in facts
                 if (found := personal_attribute(f.text)) is None or found.slot_key not in stated_slots]
        # A fact is as trustworthy as the turn it came from (a chat through the local API is another app's), and
        # a little less: a model read it.
        items = stated + [
            NewMemory(f.text, kind=MemoryKind.FACT, source=Source(source), at=f.valid_from, session_id=session_id,
                      trust=min(EXTRACTED_TRUST, turn_trust), subject=f.subject,
                      provenance={"extracted_from": episode_id, "model": getattr(llm, "name", "?"),
                                  **({"when": f.when} if f.when else {})},
                      links=((LinkKind.DERIVED_FROM, episode_id),)) for f in facts]
        outcomes = self.write(items, f"extracted from episode {episode_id}", op_id)
        with self.db.session() as s:
            summary = ", ".join(f"{o.action} #{o.memory_id}" if o.memory_id else o.action for o in outcomes)
            reason = (f"{len(items)} fact(s) extracted: {summary}" if items else "no facts in this turn")
            if dropped:
                reason += f"; dropped or changed {len(dropped)}: " + "; ".join(dropped)[:800]
            ledger.record(s, EventOp.EXTRACT, reason, operation_id=op_id, memory_id=episode_id, source="assistant",
                          session_id=session_id, facts=[o.memory_id for o in outcomes], model=getattr(llm, "name", "?"))
            job = _job(s, job_id)
            job.status, job.updated_at, job.last_error = "done", utcnow(), ("; ".join(dropped)[:2000] or None)
        return "done"

    def _failed(self, job_id: int, episode_id: int, session_id: int | None, error: str) -> str:
        with self.db.session() as s:
            job = _job(s, job_id)
            job.last_error, job.updated_at = error[:2000], utcnow()
            if job.attempts < self.settings.extraction_max_attempts:
                job.status = "pending"
                return "retry"
            job.status = "failed"
            ledger.record(s, EventOp.EXTRACT_FAILED,
                          f"fact extraction gave up after {job.attempts} attempt(s): {error[:500]}; the turn itself "
                          "is kept", operation_id=ledger.new_operation_id(), memory_id=episode_id,
                          source="assistant", session_id=session_id)
            return "failed"

    def retry_failed(self) -> int:
        """Put failed jobs back on the queue (e.g. after switching to a stronger model)."""
        with self.db.session() as s:
            result = cast(CursorResult[Any], s.execute(update(ExtractionJob).where(
                ExtractionJob.status == ExtractionStatus.FAILED).values(
                status=ExtractionStatus.PENDING, attempts=0, updated_at=utcnow())))
            return int(result.rowcount)

    # -- background worker -----------------------------------------------------------------------
    def start_worker(self, llm_provider: Callable[[], LanguageModel], interval_s: float = 30.0) -> ExtractionWorker:
        if self._worker is None or not self._worker.is_alive():
            self._worker = ExtractionWorker(self, llm_provider, interval_s)
            self._worker.start()
        return self._worker

    def stop_worker(self, timeout: float = 10.0) -> None:
        if self._worker is not None:
            self._worker.stop(timeout)
            self._worker = None


class ExtractionWorker(threading.Thread):
    """Works through the queue in the background: woken by each new turn, and every interval_s for retries."""

    def __init__(self, queue: ExtractionQueue, llm_provider: Callable[[], LanguageModel], interval_s: float):
        super().__init__(name="fact-extraction", daemon=True)
        self.queue = queue
        self.llm_provider = llm_provider
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout)

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.queue.run_pending(self.llm_provider(), should_stop=self._stopping.is_set)
            except Exception:  # keep the worker alive; the job stays queued and is retried
                log.exception("fact extraction worker: run failed; retrying in %.0f s", self.interval_s)
            self._wake.wait(self.interval_s)
