"""LoCoMo retrieval: does recall find the turns that answer each question?

Each of the 10 LoCoMo conversations is one user's memory: its turns go, turn by turn, through the real write
path (MemoryManager.remember_many, kind episode, the session's date as valid time, provenance with dia_id and
speaker) into its own temporary SECONDME_HOME. Every question is then asked through MemoryManager.recall as of
the conversation's last session date, and the ranked turns are scored against the question's evidence ids.

Figures: turn-level evidence recall @1/5/10/25 and MRR, session recall @1/3/5/10, per category and overall for
categories 1-4, category 5 (adversarial) separately, recall latency p50/p95. Baselines in the same run: BM25
over turns (bm25s, k1 1.2, b 0.75, English stop words), dense-only (the product's embedder and Chroma index),
and naive reciprocal rank fusion of the two (k 60, top 200 each).

    python benchmarks/locomo_retrieval.py            # all 10 conversations
    python benchmarks/locomo_retrieval.py --quick    # 1 conversation, within about a minute
    python benchmarks/locomo_retrieval.py --json     # last line: one JSON object of figures
    python benchmarks/locomo_retrieval.py --audited-evidence   # the audit's corrected citations (57 questions)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from storage.records import NewMemory  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "locomo10.json"
AUDIT = REPO.parent / "shared" / "data" / "locomo10_audit_errors.json"

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
TURN_KS = (1, 5, 10, 25)
SESSION_KS = (1, 3, 5, 10)
DEPTH = 50  # ranked turns kept per question (enough to rank 10 sessions)
TOKENS_PER_WORD = 4 / 3  # English text in a Llama-style tokenizer, roughly: for comparing prompt sizes only
_DIA = re.compile(r"D(\d+):(\d+)")


def session_date(text: str) -> datetime:
    """LoCoMo writes "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    """"Speaker: text", plus what a shared photo shows (the caption is all a text memory can keep of it)."""
    body = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        body += f" [shares a photo: {turn['blip_caption']}]"
    return body


def sessions_of(conversation: dict[str, Any]) -> list[tuple[int, datetime, list[dict[str, Any]]]]:
    out = []
    for key, turns in conversation.items():
        m = re.fullmatch(r"session_(\d+)", key)
        if m and isinstance(turns, list) and turns:
            out.append((int(m.group(1)), session_date(conversation[f"{key}_date_time"]), turns))
    return sorted(out)


def audited_citations(path: Path, data: list[dict[str, Any]]) -> dict[tuple[int, int], list[str]]:
    """{(conversation index, question index): corrected evidence} for the audit's WRONG_CITATION findings
    (dial481/locomo-audit, ids "locomo_<conversation>_qa<question>", both counted from 0). A finding whose
    question text does not match the data is left out."""
    out = {}
    for finding in json.loads(path.read_text(encoding="utf-8")):
        m = re.fullmatch(r"locomo_(\d+)_qa(\d+)", finding.get("question_id", ""))
        if not m or finding.get("error_type") != "WRONG_CITATION":
            continue
        c, q = int(m.group(1)), int(m.group(2))
        if c < len(data) and q < len(data[c]["qa"]) and data[c]["qa"][q]["question"] == finding["question"]:
            out[(c, q)] = list(finding["correct_evidence"])
    return out


def normalise_evidence(evidence: list[Any], known: set[str]) -> tuple[list[str], int]:
    """Evidence ids as "D<session>:<turn>"; malformed ones ("D10:11:4", "D8:6; D9:17", "D:3") are repaired where
    the pattern is there and the turn exists, else dropped. Returns (ids, number dropped)."""
    ids: list[str] = []
    dropped = 0
    for raw in evidence or []:
        found = [f"D{s}:{t}" for s, t in _DIA.findall(str(raw))]
        if not found:
            dropped += 1
            continue
        for dia in found:
            if dia in known and dia not in ids:
                ids.append(dia)
            elif dia not in known:
                dropped += 1
    return ids, dropped


# -- metrics -------------------------------------------------------------------------------------------
def session_of(dia: str) -> str:
    return dia.split(":")[0]


def score_ranking(ranked: list[str], evidence: list[str]) -> dict[str, float]:
    gold = set(evidence)
    out = {f"turn_recall@{k}": len(gold & set(ranked[:k])) / len(gold) for k in TURN_KS}
    first = next((r for r, d in enumerate(ranked, start=1) if d in gold), None)
    out["mrr"] = 1.0 / first if first else 0.0
    sessions = list(dict.fromkeys(session_of(d) for d in ranked))
    gold_sessions = {session_of(d) for d in gold}
    for k in SESSION_KS:
        out[f"session_recall@{k}"] = len(gold_sessions & set(sessions[:k])) / len(gold_sessions)
    return out


def average(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: round(100 * statistics.fmean(r[key] for r in rows), 1) for key in rows[0]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


# -- retrievers ----------------------------------------------------------------------------------------
class Bm25Baseline:
    def __init__(self, dia_ids: list[str], texts: list[str]):
        import bm25s

        self.dia_ids = dia_ids
        self.retriever = bm25s.BM25(k1=1.2, b=0.75)
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def rank(self, question: str, n: int) -> list[str]:
        import bm25s

        tokens = bm25s.tokenize([question], stopwords="en", show_progress=False)
        n = min(n, len(self.dia_ids))
        try:
            docs, scores = self.retriever.retrieve(tokens, k=n, show_progress=False)
        except ValueError:  # a question made only of stop words
            return []
        return [self.dia_ids[int(d)] for d, s in zip(docs[0], scores[0]) if s > 0]


def naive_rrf(a: list[str], b: list[str], k: int = 60) -> list[str]:
    score: dict[str, float] = {}
    for ranking in (a, b):
        for r, d in enumerate(ranking, start=1):
            score[d] = score.get(d, 0.0) + 1.0 / (k + r)
    return sorted(score, key=lambda d: -score[d])


# -- the run -------------------------------------------------------------------------------------------
def ingest(app, sample: dict[str, Any]) -> tuple[dict[int, str], dict[str, str], datetime]:
    """Write a conversation through the product's write path. Returns memory id -> dia_id, the turn texts,
    and the last session's date (the conversation's "now")."""
    from storage.models import Session

    conversation = sample["conversation"]
    memory_to_dia: dict[int, str] = {}
    texts: dict[str, str] = {}
    last = None
    for number, when, turns in sessions_of(conversation):
        with app.db.session() as s:
            row = Session(title=f"{sample['sample_id']} session {number}", created_at=when, updated_at=when,
                          meta={"locomo_sample": sample["sample_id"], "session": number})
            s.add(row)
            s.flush()
            session_id = row.id
        items = []
        for turn in turns:
            texts[turn["dia_id"]] = turn_text(turn)
            items.append(NewMemory(text=texts[turn["dia_id"]], kind="episode", source="user", at=when,
                              session_id=session_id,
                              provenance={"dia_id": turn["dia_id"], "speaker": turn["speaker"],
                                          "conversation": sample["sample_id"]}))
        for record in app.memory.remember_many(items, reason="locomo import"):
            memory_to_dia[record.id] = record.provenance.get("dia_id")
        last = when
    return memory_to_dia, texts, last


def reuse(app, sample: dict[str, Any]) -> tuple[dict[int, str], dict[str, str], datetime]:
    from sqlalchemy import select

    from storage.models import Memory

    with app.db.session() as s:
        memory_to_dia = {i: p.get("dia_id") for i, p in s.execute(select(Memory.id, Memory.provenance))}
    sessions = sessions_of(sample["conversation"])
    texts = {t["dia_id"]: turn_text(t) for _, _, turns in sessions for t in turns}
    return memory_to_dia, texts, sessions[-1][1]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.app import App
    from assistant.config import load_settings
    from storage.embedder import load_embedder

    data = json.loads(Path(args.data).read_text())
    corrected = audited_citations(AUDIT, data) if args.audited_evidence else {}
    samples = data[: args.conversations]
    root = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="secondme-locomo-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["SECONDME_HOME"] = str(root)  # keeps the user's real config away from the run
    os.environ.pop("SECONDME_CONFIG", None)
    overrides = dict(json.loads(args.settings)) if args.settings else {}
    if args.model:
        overrides["chat_model_path"] = args.model
    embedder = load_embedder(overrides["embedder"]) if "embedder" in overrides else load_embedder()

    rows: dict[str, dict[int, list[dict[str, float]]]] = {n: {c: [] for c in CATEGORIES} for n in
                                                          ("secondme", "bm25", "dense", "naive_rrf")}
    latencies: list[float] = []
    prompt_memories: list[int] = []
    prompt_tokens: list[float] = []
    dropped = questions_without_evidence = 0
    ingest_seconds = 0.0
    turns = ingested = 0
    for index, sample in enumerate(samples):
        settings = load_settings(home=root / sample["sample_id"], **overrides)
        app = App(settings, embedder=embedder)
        t0 = time.perf_counter()
        if app.memory.count():  # --home pointing at an earlier run: measure recall on what is there
            memory_to_dia, texts, now = reuse(app, sample)
        else:
            memory_to_dia, texts, now = ingest(app, sample)
            if args.with_extraction:
                extract(app)
            ingest_seconds += time.perf_counter() - t0
            ingested += len(texts)
        memory_to_dia.update(facts_to_turns(app, memory_to_dia))
        turns += len(texts)
        dia_ids = list(texts)
        bm25 = Bm25Baseline(dia_ids, [texts[d] for d in dia_ids])
        dia_of_memory = memory_to_dia.get
        for number, qa in enumerate(sample["qa"]):
            category = int(qa["category"])
            if category not in CATEGORIES:
                continue
            evidence, bad = normalise_evidence(corrected.get((index, number), qa.get("evidence")), set(texts))
            dropped += bad
            if not evidence:
                questions_without_evidence += 1
                continue
            question = qa["question"]
            t1 = time.perf_counter()
            hits = app.memory.recall(question, k=DEPTH, reference_time=now)
            latencies.append(time.perf_counter() - t1)
            # What the chat prompt would carry: the first recall_k hits (it quotes those), in approximate tokens.
            prompt_hits = hits[:app.settings.recall_k]
            prompt_memories.append(len(prompt_hits))
            prompt_tokens.append(sum(len(h.memory.text.split()) for h in prompt_hits) * TOKENS_PER_WORD)
            ours = list(dict.fromkeys(d for d in (dia_of_memory(h.memory.id) for h in hits) if d))
            vector = embedder.embed([question])[0]
            dense_all = [memory_to_dia[i] for i, _ in app.vector_index.query(vector, 200) if i in memory_to_dia]
            bm25_all = bm25.rank(question, 200)
            rankings = {"secondme": ours, "bm25": bm25_all[:DEPTH], "dense": dense_all[:DEPTH],
                        "naive_rrf": naive_rrf(bm25_all, dense_all)[:DEPTH]}
            for name, ranked in rankings.items():
                rows[name][category].append(score_ranking(ranked, evidence))
        app.close()
        if not args.json:
            print(f"  {sample['sample_id']}: {len(texts)} turns, "
                  f"{sum(len(v[c]) for v in [rows['secondme']] for c in v)} questions so far", file=sys.stderr)

    result: dict[str, Any] = {"conversations": len(samples), "turns": turns,
                              "evidence_ids_dropped": dropped,
                              "questions_without_valid_evidence": questions_without_evidence,
                              "ingest_turns_per_s": round(ingested / ingest_seconds, 1) if ingest_seconds else None,
                              "recall_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
                              "recall_p95_ms": round(1000 * percentile(latencies, 0.95), 1),
                              "prompt_memories_per_question": round(sum(prompt_memories) / len(prompt_memories), 2),
                              "prompt_memory_tokens_per_question": round(sum(prompt_tokens) / len(prompt_tokens), 1),
                              "with_extraction": bool(args.with_extraction),
                              "citations_corrected": sum(1 for c, _ in corrected if c < len(samples))}
    for name, per_cat in rows.items():
        main = [r for c in (1, 2, 3, 4) for r in per_cat[c]]
        result[name] = {"cat1-4": average(main), "questions_cat1-4": len(main),
                        "cat5": average(per_cat[5]), "questions_cat5": len(per_cat[5])}
        for c in (1, 2, 3, 4):
            result[name][CATEGORIES[c]] = average(per_cat[c])
    return result


def facts_to_turns(app, memory_to_dia: dict[int, str]) -> dict[int, str]:
    """Fact memory id -> dia_id of the turn it was extracted from: a recalled fact finds its turn (LongMemEval's
    fact-augmented keys), so extraction can add evidence, not only take result slots from the turns."""
    from sqlalchemy import select

    from assistant.memory.fact_keys import episodes_for_facts
    from storage.models import Memory

    with app.db.session() as s:
        facts = list(s.scalars(select(Memory.id).where(Memory.kind == "fact")))
        return {f: memory_to_dia[e] for f, e in episodes_for_facts(s, facts).items() if memory_to_dia.get(e)}


def extract(app) -> dict:
    """LLM fact extraction over every stored turn through the product's own queue (one model call per turn)."""
    queue = app.memory.extraction_queue
    queue.enqueue([m.id for m in app.memory.list(kind="episode", status="active", limit=1_000_000)])
    return queue.run_pending(app.llm)


def print_table(result: dict[str, Any]) -> None:
    keys = [f"turn_recall@{k}" for k in TURN_KS] + ["mrr"] + [f"session_recall@{k}" for k in SESSION_KS]
    short = ["R@1", "R@5", "R@10", "R@25", "MRR", "S@1", "S@3", "S@5", "S@10"]
    print(f"LoCoMo retrieval: {result['conversations']} conversations, {result['turns']} turns, "
          f"{result['secondme']['questions_cat1-4']} questions of categories 1-4, "
          f"{result['secondme']['questions_cat5']} of category 5")
    print(f"evidence ids dropped as malformed or unknown: {result['evidence_ids_dropped']}; "
          f"questions left without valid evidence: {result['questions_without_valid_evidence']}")
    if result["citations_corrected"]:
        print(f"evidence of {result['citations_corrected']} questions replaced by the LoCoMo audit's corrections")
    header = f"{'retriever':<10} {'subset':<12} " + " ".join(f"{s:>6}" for s in short)
    print(header)
    print("-" * len(header))
    for subset in ("cat1-4", "multi-hop", "temporal", "open-domain", "single-hop", "cat5"):
        for name in ("secondme", "bm25", "dense", "naive_rrf"):
            figures = result[name].get(subset) or {}
            if figures:
                print(f"{name:<10} {subset:<12} " + " ".join(f"{figures[k]:>6.1f}" for k in keys))
        print()
    print("reference, cats 1-4 turn R@10: BM25 56.7, dense MiniLM 43.8, naive RRF 53.8, DRAGON 66.2 (paper)")
    print(f"secondme recall latency: p50 {result['recall_p50_ms']} ms, p95 {result['recall_p95_ms']} ms "
          f"(k={DEPTH}); ingest {result['ingest_turns_per_s'] or 'not measured (reused --home)'} turns/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one conversation (about a minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--conversations", type=int, default=None, help="how many conversations (default all)")
    parser.add_argument("--data", default=str(DATA), help="path to locomo10.json")
    parser.add_argument("--model", default=None, help="a GGUF chat model for --with-extraction")
    parser.add_argument("--with-extraction", action="store_true", help="run LLM fact extraction after ingest")
    parser.add_argument("--audited-evidence", action="store_true",
                        help="use the corrected evidence of the LoCoMo audit's wrong citations (../shared/data)")
    parser.add_argument("--home", default=None, help="keep the ingested data here; a later run reuses it")
    parser.add_argument("--settings", default=None,
                        help='JSON of recall settings to override, e.g. {"recall_mmr_lambda": 1}')
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"LoCoMo data not found at {args.data}; skipping (see ../shared/data/README.md).")
        return
    if args.audited_evidence and not AUDIT.is_file():
        parser.error(f"--audited-evidence: {AUDIT} not found")
    if args.conversations is None:
        args.conversations = 1 if args.quick else 10
    if args.model and not Path(args.model).is_file():
        parser.error(f"--model {args.model}: no such file")
    if args.settings:
        from assistant.config import Settings

        try:
            unknown = set(json.loads(args.settings)) - set(Settings.model_fields)
        except (ValueError, TypeError):
            parser.error('--settings takes a JSON object, e.g. {"recall_mmr_lambda": 1}')
        if unknown:
            parser.error(f"--settings: unknown setting(s) {', '.join(sorted(unknown))}")
    result = run(args)
    print_table(result)
    if args.json:
        flat = {"turn_recall@10": result["secondme"]["cat1-4"]["turn_recall@10"],
                "session_recall@5": result["secondme"]["cat1-4"]["session_recall@5"]}
        flat.update(result)
        print(json.dumps(flat))


if __name__ == "__main__":
    main()
