"""Imports on realistic data: what a vault and chat exports become, and whether deep content is found.

    python benchmarks/imports.py [--quick] [--json]

Data (read from ../shared/data, never copied into the repository; skipped with a message when absent):
- A vault: one long journal note per LoCoMo speaker (20 notes, CC BY-NC 4.0, used for evaluation only), a section
  per session ("## Session 7 (8 May 2023)") holding that session's observations as bullets; plus this repository's
  own Markdown docs (Apache-2.0) as notes of another kind. Front matter tags, a wikilink to the other speaker's
  note and a %%comment%% in each journal.
- Deep-note questions: LoCoMo single-hop questions (category 4) whose evidence lies in session 4 or later, so the
  answer sits deep in a long note. A hit: one of the top 5 recalled memories holds an evidence observation, as the
  prompt would show it (its first 1,000 characters; a passage is shorter than that).
- Baseline, same run: each note stored as one memory (the importer before issue 17), recalled the same way.
- Chat exports: LoCoMo sessions written as a ChatGPT conversations.json (mapping, current_node, parts) and a
  Claude.ai conversations.json (chat_messages, sender, content), speaker A as the user. Counted: conversations
  with a quarantined memory, now and with the old framing (each round's "User: …\\nAssistant: …" judged whole).
--json makes the last line one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage.offline  # noqa: E402,F401

DATA = ROOT.parent / "shared" / "data"
SHOWN_CHARS = 1000
DEEP_FROM_SESSION = 4
TARGETS = {"conversations_quarantined_for_framing": 0, "benign_passages_quarantined": 0.02, "deep_recall_at_5": 0.80}


def session_no(key: str) -> int:
    return int(re.findall(r"\d+", key)[0])


def build_vault(folder: Path, convs: list[dict]) -> dict[str, str]:
    """Writes the vault; returns evidence id -> observation text (per conversation: "conv:D4:3")."""
    evidence: dict[str, str] = {}
    for index, conv in enumerate(convs):
        c = conv["conversation"]
        speakers = (c["speaker_a"], c["speaker_b"])
        for speaker in speakers:
            other = speakers[1] if speaker == speakers[0] else speakers[0]
            lines = ["---", f"tags: [journal, locomo{index}]", f"person: {speaker}", "---",
                     f"# {speaker}'s journal", "", f"Notes about {speaker}, who often talks with [[{other} {index}]].",
                     "%%kept from the original LoCoMo observations%%", ""]
            for key in sorted(conv["observation"], key=session_no):
                number = session_no(key)
                when = c.get(f"session_{number}_date_time", "")
                lines += [f"## Session {number} ({when})", ""]
                for text, dia in conv["observation"][key].get(speaker, []):
                    lines.append(f"- {text}")
                    for d in dia if isinstance(dia, list) else [dia]:
                        evidence.setdefault(f"{index}:{d}", text)
                lines.append("")
            (folder / f"{speaker} {index}.md").write_text("\n".join(lines), encoding="utf-8")
    docs = folder / "secondme docs"
    docs.mkdir()
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        (docs / md.name).write_text(md.read_text(encoding="utf-8"), encoding="utf-8")
    return evidence


def deep_questions(convs: list[dict], evidence: dict[str, str], limit: int) -> list[tuple[str, list[str]]]:
    out = []
    for index, conv in enumerate(convs):
        for qa in conv["qa"]:
            ids = [e for e in qa.get("evidence", []) if re.fullmatch(r"D\d+:\d+", e)]
            if qa.get("category") != 4 or not ids or min(int(e[1:].split(":")[0]) for e in ids) < DEEP_FROM_SESSION:
                continue
            texts = [evidence[f"{index}:{e}"] for e in ids if f"{index}:{e}" in evidence]
            if texts:
                out.append((qa["question"], texts))
    step = max(len(out) // limit, 1)
    return out[::step][:limit]


def recall_hits(app, questions: list[tuple[str, list[str]]]) -> float:
    hits = 0
    for question, texts in questions:
        shown = [h.memory.text[:SHOWN_CHARS] for h in app.memory.recall(question, k=5)]
        hits += any(t in s for t in texts for s in shown)
    return hits / max(len(questions), 1)


def chatgpt_export(sessions: list[tuple[str, list[dict]]], user: str) -> list[dict]:
    out = []
    for n, (title, turns) in enumerate(sessions):
        mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        parent = "root"
        for i, turn in enumerate(turns):
            node_id = f"n{i}"
            role = "user" if turn["speaker"] == user else "assistant"
            mapping[node_id] = {"id": node_id, "parent": parent, "children": [], "message": {
                "id": node_id, "author": {"role": role}, "create_time": 1683500000 + n * 86400 + i,
                "content": {"content_type": "text", "parts": [turn["text"]]}, "recipient": "all"}}
            mapping[parent]["children"].append(node_id)
            parent = node_id
        out.append({"title": title, "id": f"chatgpt-{n}", "create_time": 1683500000 + n * 86400,
                    "current_node": parent, "mapping": mapping})
    return out


def claude_export(sessions: list[tuple[str, list[dict]]], user: str) -> list[dict]:
    return [{"uuid": f"claude-{n}", "name": title, "created_at": "2023-05-08T13:56:00Z",
             "chat_messages": [{"uuid": f"m{n}-{i}", "sender": "human" if t["speaker"] == user else "assistant",
                                "created_at": "2023-05-08T13:56:00Z", "text": t["text"],
                                "content": [{"type": "text", "text": t["text"]}], "attachments": [], "files": []}
                               for i, t in enumerate(turns)]}
            for n, (title, turns) in enumerate(sessions)]


def old_framing_quarantined(guard, sessions: list[tuple[str, list[dict]]], user: str) -> int:
    """Conversations the importer before issue 17 quarantined: rounds framed "User: …\\nAssistant: …" judged whole."""
    held = 0
    for _title, turns in sessions:
        rounds: list[str] = []
        pending = None
        for t in turns:
            if t["speaker"] == user:
                if pending is not None:
                    rounds.append(f"User: {pending}\nAssistant: ")
                pending = t["text"]
            else:
                rounds.append(f"User: {pending}\nAssistant: {t['text']}" if pending else f"Assistant: {t['text']}")
                pending = None
        if pending is not None:
            rounds.append(f"User: {pending}\nAssistant: ")
        verdicts = guard.judge(rounds, [0.6] * len(rounds))
        held += any(v.decision == "quarantine" for v in verdicts)
    return held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 conversations' notes, 30 questions, 50 chats")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (DATA / "locomo10.json").exists():
        print("benchmark data not found under ../shared/data; skipped")
        return 0
    from assistant.app import App
    from assistant.config import Settings
    from plugins.builtin.integrations.obsidian import parse_note
    from plugins.builtin.poisoning import PoisoningGuard
    from storage.embedder import load_embedder
    from storage.records import NewMemory

    started = time.perf_counter()
    convs = json.loads((DATA / "locomo10.json").read_text(encoding="utf-8"))
    vault_convs = convs[:3] if args.quick else convs
    embedder = load_embedder()
    figures: dict = {"quick": args.quick, "targets": TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault"
        vault.mkdir()
        evidence = build_vault(vault, vault_convs)
        questions = deep_questions(vault_convs, evidence, 30 if args.quick else 60)
        notes = sorted(vault.rglob("*.md"))
        with App(Settings(home=Path(tmp) / "new"), embedder=embedder) as app:
            report = app.plugins.run_integration("import", "obsidian", vault)
            passages = report.stored + report.quarantined
            figures["vault"] = {"notes": len(notes), "passages": passages, "stored": report.stored,
                                "quarantined": report.quarantined,
                                "quarantined_share": report.quarantined / max(passages, 1),
                                "top_reasons": report.top_reasons(), "deep_questions": len(questions),
                                "deep_recall_at_5": recall_hits(app, questions)}
        with App(Settings(home=Path(tmp) / "old"), embedder=embedder) as app:
            items = []
            for note in notes:
                _, body, _ = parse_note(note.read_text(encoding="utf-8"))
                items.append(NewMemory(f"{note.stem}\n\n{body.strip()}"[:32_000], kind="fact", source="document"))
            records = app.memory.remember_many(items, reason="baseline: one memory per note")
            held = sum(1 for r in records if r is not None and r.status == "quarantined")
            figures["vault_baseline_whole_note"] = {"notes": len(notes), "quarantined": held,
                                                    "deep_recall_at_5": recall_hits(app, questions)}
        # Chat exports from LoCoMo sessions.
        sessions: list[tuple[str, list[dict], str]] = []
        for index, conv in enumerate(convs):
            c = conv["conversation"]
            for key in sorted((k for k in c if re.fullmatch(r"session_\d+", k)), key=session_no):
                sessions.append((f"{c['speaker_a']} & {c['speaker_b']}, {key} ({index})", c[key], c["speaker_a"]))
        sessions = sessions[:: max(len(sessions) // (50 if args.quick else 120), 1)][: 50 if args.quick else 120]
        half = len(sessions) // 2
        chatgpt = [(t, turns) for t, turns, _ in sessions[:half]]
        claude = [(t, turns) for t, turns, _ in sessions[half:]]
        users = [u for _, _, u in sessions]
        (Path(tmp) / "chatgpt.json").write_text(json.dumps(
            [c for (t, turns), u in zip(chatgpt, users[:half]) for c in chatgpt_export([(t, turns)], u)]))
        (Path(tmp) / "claude.json").write_text(json.dumps(
            [c for (t, turns), u in zip(claude, users[half:]) for c in claude_export([(t, turns)], u)]))
        guard = PoisoningGuard()
        guard._embed = embedder.embed
        with App(Settings(home=Path(tmp) / "chats"), embedder=embedder) as app:
            out = {}
            for name, part, who in (("chatgpt", chatgpt, users[:half]), ("claude", claude, users[half:])):
                report = app.plugins.run_integration("import", name, Path(tmp) / f"{name}.json")
                before = sum(old_framing_quarantined(guard, [s], u) for s, u in zip(part, who))
                out[name] = {"conversations": len(part), "episodes": report.stored + report.quarantined,
                             "quarantined": report.quarantined,
                             "conversations_quarantined": len(report.held_groups),
                             "top_reasons": report.top_reasons(),
                             "baseline_conversations_quarantined_old_framing": before}
            figures["chats"] = out
    figures["seconds"] = round(time.perf_counter() - started, 1)
    v, b = figures["vault"], figures["vault_baseline_whole_note"]
    print(f"\nVault: {v['notes']} notes -> {v['passages']} passages; quarantined {v['quarantined']} "
          f"({v['quarantined_share']:.1%}; target <= 2%)")
    print(f"{'deep-note questions':24s} {'recall@5':>9s}")
    print(f"{'passages (this importer)':24s} {v['deep_recall_at_5']:9.3f}   ({v['deep_questions']} questions; "
          "target >= 0.80)")
    print(f"{'whole note (baseline)':24s} {b['deep_recall_at_5']:9.3f}   (baseline quarantined {b['quarantined']} "
          f"of {b['notes']} notes)")
    print(f"\n{'chat export':10s} {'convs':>6s} {'episodes':>9s} {'quarantined':>12s} {'convs held':>11s} "
          f"{'old framing: convs held':>24s}")
    for name, r in figures["chats"].items():
        print(f"{name:10s} {r['conversations']:6d} {r['episodes']:9d} {r['quarantined']:12d} "
              f"{r['conversations_quarantined']:11d} {r['baseline_conversations_quarantined_old_framing']:24d}")
    for name, r in figures["chats"].items():
        if r["top_reasons"]:
            print(f"  {name} reasons: {r['top_reasons']}")
    print(f"\n{figures['seconds']} s")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SECONDME_HOME", tempfile.mkdtemp(prefix="secondme-bench-"))
    raise SystemExit(main())
