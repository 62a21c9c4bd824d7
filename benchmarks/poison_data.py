"""The labelled texts behind the poisoning guard: loaders and the fixed train / held-out split.

Attacks (label 1): deepset, Giskard and JailbreakBench prompt injections (direct: typed by someone) and BIPIA's
attack instructions (indirect: hidden in a document). Benign (label 0): deepset and JailbreakBench benign prompts,
BIPIA's email contexts, and ConflictQA's evidence passages and one-sentence answers (ordinary factual prose and
statements, the kind a document import holds).
Ordinary conversation is missing from those sets, and without it the classifier learns "chatty second person =
attack" (43% of LoCoMo turns flagged in a first try). So the turns of LoCoMo conversations 1-5 are benign training
examples too; conversations 6-10 are never trained on and give the honest false-positive rate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
HELD_OUT_PERCENT = 30


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    source: str  # which data set
    channel: str  # the memory source channel it stands for: user (typed) or document (imported)


def held_out(text: str) -> bool:
    """A stable split: the same text is always on the same side, whatever order the files are read in."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100 < HELD_OUT_PERCENT


def data_present() -> bool:
    return (DATA / "injection").is_dir() and (DATA / "bipia").is_dir()


def load_examples() -> list[Example]:
    out: list[Example] = []
    for path in sorted((DATA / "injection").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append(Example(row["text"], int(row["label"]), path.stem, "user"))
    for name in ("code_attack_train.json", "text_attack_train.json"):
        for texts in json.loads((DATA / "bipia" / name).read_text(encoding="utf-8")).values():
            out.extend(Example(t, 1, f"bipia_{name.split('_')[0]}_attacks", "document") for t in texts)
    for line in (DATA / "bipia" / "email_train.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(Example(json.loads(line)["context"], 0, "bipia_emails", "document"))
    conflict = DATA / "conflictqa" / "conflictQA-strategyQA-llama2-7b.jsonl"
    if conflict.exists():
        rows = [json.loads(line) for line in conflict.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows[:400]:
            out.append(Example(row["parametric_memory"].strip(), 0, "conflictqa_passages", "document"))
        # Its one-sentence answers, true and counterfactual: plain statements ("The capital of France is Paris."),
        # what a notes or facts import is full of. Without them such lines scored as attacks (49 of the 455
        # FactConsolidation facts quarantined); a false claim is not an instruction, so they are benign here.
        for row in rows:
            for key in ("memory_answer", "counter_answer"):
                out.append(Example(row[key].strip(), 0, "conflictqa_claims", "document"))
    seen: set[str] = set()
    unique = []
    for ex in out:
        if ex.text.strip() and ex.text not in seen:
            seen.add(ex.text)
            unique.append(ex)
    return unique


LOCOMO_TRAIN_CONVERSATIONS = 5


def locomo_training_turns() -> list[str]:
    return [t for conv, t in locomo_turns(with_conversation=True) if conv < LOCOMO_TRAIN_CONVERSATIONS]


def locomo_turns(with_conversation: bool = False) -> list:
    """All 5,882 LoCoMo turns as "Speaker: text" (with the image caption where there is one)."""
    convs = json.loads((DATA / "locomo10.json").read_text(encoding="utf-8"))
    turns = []
    for index, conv in enumerate(convs):
        c = conv["conversation"]
        for key in sorted(k for k in c if k.startswith("session_") and not k.endswith("date_time")):
            for t in c[key] if isinstance(c[key], list) else []:
                text = t["text"]
                if t.get("blip_caption"):
                    text += f" [shares a photo: {t['blip_caption']}]"
                line = f"{t['speaker']}: {text}"
                turns.append((index, line) if with_conversation else line)
    return turns
