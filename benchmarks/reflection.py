"""Reflection on one LoCoMo conversation with the real chat model: the profile it produces, and whether each
line is backed by the memories it cites.

The conversation's turns go through the real write path (one `fact` per turn); reflection runs after every
chunk of sessions, as the nightly job would. Figures: lines the model proposed, lines dropped because their
citations did not support them, the final profile, the share of its lines citing at least one active memory and
the share whose cited memories support them (keyword overlap, recomputed here). Target: 100% cited, 0 uncited.

    python benchmarks/reflection.py            # conversation 1, reflection after every 5 sessions
    python benchmarks/reflection.py --quick    # reflection once, after all sessions
    python benchmarks/reflection.py --json     # last line: one JSON object of figures
    python benchmarks/reflection.py --model /tmp/qwen2.5-coder-0.5b.gguf   # a stronger model (fetch_qwen.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.locomo_retrieval import DATA, sessions_of, turn_text  # noqa: E402
from storage.records import NewMemory


def ingest_sessions(app, sample, sessions) -> None:
    from storage.models import Session

    for number, date, turns in sessions:
        with app.db.session() as s:
            row = Session(title=f"LoCoMo {sample['sample_id']} session {number}", created_at=date, updated_at=date)
            s.add(row)
            s.flush()
            session_id = row.id
        app.memory.write([NewMemory(turn_text(t), kind="fact", at=date, session_id=session_id,
                               provenance={"dia_id": t["dia_id"], "speaker": t["speaker"]}) for t in turns],
                         reason="LoCoMo ingest")


def audit_profile(app, min_overlap: float) -> list[dict]:
    """Each profile line, re-checked from the database: its citations' status, the keyword overlap with the
    active ones, and the names, numbers and negations they do not contain. Supported = at least one active
    citation, overlap at the threshold and nothing missing (the same strict rule the job applies, recomputed)."""
    from sqlalchemy import select

    from assistant.memory.support import missing_specifics, overlap
    from storage.models import Memory

    out = []
    for line in app.jobs.profile_lines():
        with app.db.session() as s:
            cited = list(s.scalars(select(Memory).where(Memory.id.in_(line["sources"]))))
        active = [m.text for m in cited if m.status == "active"]
        score = overlap(line["text"], active) if active else 0.0
        missing = missing_specifics(line["text"], active) if active else []
        out.append({**line, "active_citations": len(active), "overlap": round(score, 2), "missing": missing,
                    "cited_texts": active,
                    "supported": bool(active) and score >= min_overlap and not missing})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one reflection run after all sessions")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of figures")
    parser.add_argument("--conversation", type=int, default=0, help="index of the LoCoMo conversation")
    parser.add_argument("--every", type=int, default=5, help="reflect after every N sessions")
    parser.add_argument("--model", type=Path, help="a GGUF chat model instead of the packaged SmolLM2-135M")
    args = parser.parse_args(argv)
    if args.model is not None and not args.model.is_file():
        print(f"error: no model file at {args.model} (benchmarks/fetch_qwen.sh fetches the Qwen one)", file=sys.stderr)
        return 2

    if not DATA.is_file():
        print(f"skipped: LoCoMo data not found at {DATA}")
        return 0
    data = json.loads(DATA.read_text(encoding="utf-8"))
    import time_machine

    import storage.offline  # noqa: F401
    from assistant.app import App

    sample = data[args.conversation]
    sessions = sessions_of(sample["conversation"])
    every = len(sessions) if args.quick else args.every
    chunks = [sessions[i:i + every] for i in range(0, len(sessions), every)]
    totals = {"proposed": 0, "dropped_unsupported": 0, "dropped_echo": 0, "dropped_quote": 0, "dropped_repeat": 0,
              "profile_added": 0, "profile_removed": 0, "thoughts": 0, "model_failed": 0}
    model_seconds = 0.0
    dropped_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="secondme-reflection-") as home:
        os.environ["SECONDME_HOME"] = home
        if args.model is not None:
            os.environ["SECONDME_CHAT_MODEL_PATH"] = str(args.model.resolve())
        app = App()
        model_name = None
        for chunk in chunks:
            ingest_sessions(app, sample, chunk)
            with time_machine.travel(chunk[-1][1] + timedelta(days=1), tick=True):
                started = time.perf_counter()
                result = app.jobs.run("reflection")
                model_seconds += time.perf_counter() - started
            model_name = model_name or getattr(app.llm, "name", "?")
            dropped_lines.extend(c for c in result.changes if c.startswith("dropped"))
            for key in totals:
                totals[key] += result.counts.get(key, result.counts.get(f"_{key}", 0))
            print(f"  after session {chunk[-1][0]}: {json.dumps({k: v for k, v in result.counts.items()})}",
                  file=sys.stderr)
        lines = audit_profile(app, app.settings.profile_min_overlap)
        thoughts = app.memory.list(kind="thought", limit=100)
        profile = app.jobs.profile_text()
        app.close()

    n = len(lines)
    cited = sum(1 for line in lines if line["active_citations"] > 0)
    supported = sum(1 for line in lines if line["supported"])
    proposed = totals["proposed"]
    figures = {
        "conversation": sample["sample_id"], "sessions": len(sessions), "reflection_runs": len(chunks),
        "model": model_name, "proposed_by_model": proposed, "dropped_unsupported": totals["dropped_unsupported"],
        "dropped_echo": totals["dropped_echo"], "dropped_quote": totals["dropped_quote"],
        "dropped_repeat": totals["dropped_repeat"],
        "model_lines_supported_pct": (round(100 * (proposed - totals["dropped_unsupported"]) / proposed, 1)
                                      if proposed else None),
        "profile_lines": n, "thoughts": len(thoughts), "profile_removed": totals["profile_removed"],
        "cited_pct": round(100 * cited / n, 1) if n else None, "uncited_lines": n - cited,
        "supported_pct": round(100 * supported / n, 1) if n else None, "model_failures": totals["model_failed"],
        "seconds_in_reflection": round(model_seconds, 1),
    }
    print(f"\nReflection on LoCoMo {sample['sample_id']} ({len(sessions)} sessions, {len(chunks)} run(s), "
          f"model {model_name})")
    print("Profile:\n" + (profile or "(empty)"))
    for line in lines:  # each line beside what it cites, so a reader can judge the support for themselves
        print(f"  #{line['id']} {line['text']!r} overlap {line['overlap']}"
              + (f" missing {line['missing']}" if line["missing"] else "")
              + ("" if line["supported"] else " UNSUPPORTED"))
        for text in line["cited_texts"]:
            print(f"      cites: {text[:160]}")
    if thoughts:
        print("Thoughts:\n" + "\n".join(f"- {t.text} [" + ", ".join(f"#{i}" for i in t.provenance.get("sources", []))
                                         + "]" for t in thoughts))
    if dropped_lines:
        print("Dropped by the checks:\n" + "\n".join(f"- {line}" for line in dropped_lines))
    print(f"\n{'figure':<44}{'value':>10}")
    for key in ("proposed_by_model", "dropped_unsupported", "dropped_echo", "dropped_quote", "dropped_repeat",
                "model_lines_supported_pct", "profile_lines", "thoughts",
                "cited_pct", "uncited_lines", "supported_pct", "model_failures", "seconds_in_reflection"):
        print(f"{key:<44}{str(figures[key]):>10}")
    ok = figures["uncited_lines"] == 0 and (n == 0 or figures["supported_pct"] == 100.0)
    figures["pass"] = ok
    print("PASS" if ok else "FAIL")
    if args.json:
        print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
