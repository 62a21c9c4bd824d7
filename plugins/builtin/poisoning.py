"""The poisoning guard: quarantines memories that try to steer the assistant instead of informing it.

Two layers. Strong rules (overriding earlier instructions, claiming to be the system or developer, planting a
trigger phrase) quarantine on their own. Everything else is scored by a logistic-regression classifier over the
MiniLM sentence embedding plus hand features (plugins/builtin/poison_features.py), trained at build time by
benchmarks/train_poisoning.py; its weights ship as poisoning_model.npz. The threshold follows trust:
0.5 + 0.2 * trust, so an imported document (0.6) needs a score of 0.62 and another app through the API (0.5) 0.6.
The user's own channel (source "user") gets the strong rules only: see check_memory.
Every check reads the text as given and normalised (poison_features.normalise: NFKC, invisible and bidi characters
out, combining marks folded, look-alike letters mapped, letter-spaced words joined) and judges decoded base64 and
rot13 too; the strong rules cover English, French, German, Spanish, Portuguese, Italian and Chinese, on every
channel. So trust only moves the classifier's threshold: api <= document <= user in leniency, never the reverse.
`secondme check` and benchmarks/poisoning.py report the classifier at each trust level, the user's (0.7) included,
for comparison.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from plugins.api import Candidate, Decision, PluginContext, Verdict, hookimpl
from plugins.builtin.framing import unframe
from plugins.builtin.poison_features import (
    HAND_FEATURES,
    feature_matrix,
    hidden_views,
    is_obfuscated,
    normalise,
    rule_hits,
    strong_hits,
)
from storage.enums import Source

MODEL_PATH = Path(__file__).with_name("poisoning_model.npz")
ROLE_LABEL = re.compile(r"^(User|Assistant): ", re.MULTILINE)
BASE_THRESHOLD = 0.5
# The most a turn of a framed episode is trusted by its role, whatever the episode's channel.
ROLE_TRUST = {"assistant": 0.7, "tool": 0.5}
TRUST_SLOPE = 0.2


def threshold_for(trust: float) -> float:
    return BASE_THRESHOLD + TRUST_SLOPE * min(max(trust, 0.0), 1.0)


class PoisoningClassifier:
    def __init__(self, path: Path = MODEL_PATH):
        with np.load(path) as data:
            self.weights = data["weights"].astype(np.float32)
            self.bias = float(data["bias"])
            names = tuple(str(n) for n in data["hand_features"])
        if names != HAND_FEATURES:
            raise RuntimeError(f"{path} was trained with other features; rerun benchmarks/train_poisoning.py")

    def scores(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        z = feature_matrix(texts, embeddings) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


class PoisoningGuard:
    """The plugin. `startup` hands it the context, whose embedder it shares; standalone it loads its own."""

    def __init__(self) -> None:
        self._embed: Callable[[Sequence[str]], np.ndarray] | None = None
        self._classifier: PoisoningClassifier | None = None
        self._lock = threading.Lock()

    @hookimpl
    def startup(self, context: PluginContext) -> None:
        self._embed = context.embed

    @hookimpl
    def check_memory(self, candidate: Candidate, context: dict[str, Any]) -> Verdict | None:
        turns = unframe(candidate.text, candidate.provenance)
        if turns is not None:
            # An episode our importers framed: each turn is judged alone, as what it is; our labels are no evidence.
            return self.judge_turns(turns, candidate.source, candidate.trust)
        if candidate.source == Source.USER:
            # "User:" / "Assistant:" are secondme's own labels for a chat round, not a claim to be the assistant.
            return self.judge_user([ROLE_LABEL.sub("", candidate.text)])
        embedding = context.get("embedding")
        return self.judge([candidate.text], [candidate.trust],
                          None if embedding is None else np.asarray(embedding)[None, :])[0]

    def judge_user(self, texts: list[str], prefix: str = "") -> Verdict:
        """The user's own channel. What the user says to their own assistant is trusted: requests and commands are
        a chat's normal content, and the classifier flags many ordinary requests and much non-English text
        (deepset's benign prompts, German in its training data). Only the strong rules apply to it; documents,
        other apps (api), plugins and the assistant's own words get the classifier too."""
        strong = [name for text in texts for name in strong_hits(text)]
        if strong:
            reasons = dict.fromkeys(f"{prefix}text {name}" for name in strong)
            return Verdict(Decision.QUARANTINE, "; ".join(reasons), confidence=0.9)
        return Verdict(Decision.ACCEPT, "", confidence=1.0)

    def judge_turns(self, turns: list[tuple[str, str]], source: str, trust: float) -> Verdict:
        """Verdict on a framed episode: the user's turns of the user's own channel by the user's rules, every other
        turn by the full checks at the lower of the episode's trust and its role's (an assistant's words 0.7,
        a tool's output 0.5: text from outside, such as a web page)."""
        verdicts: list[Verdict] = []
        judged: list[tuple[str, str, float]] = []
        for role, text in turns:
            if source == Source.USER and role == "user":
                verdicts.append(self.judge_user([text], prefix="user turn: "))
            else:
                judged.append((role, text, min(trust, ROLE_TRUST.get(role, trust))))
        if judged:
            for (role, _, _), verdict in zip(judged, self.judge([t for _, t, _ in judged], [x for _, _, x in judged])):
                reason = "; ".join(f"{role} turn: {part}" for part in verdict.reason.split("; ") if part)
                verdicts.append(replace(verdict, reason=reason))
        held = [v for v in verdicts if v.decision == Decision.QUARANTINE]
        score = max((v.score for v in verdicts), default=0.0)
        if held:
            return Verdict(Decision.QUARANTINE, "; ".join(v.reason for v in held),
                           confidence=max(v.confidence for v in held), score=score)
        return Verdict(Decision.ACCEPT, "", confidence=min(v.confidence for v in verdicts), score=score)

    def judge(self, texts: list[str], trusts: list[float], embeddings: np.ndarray | None = None) -> list[Verdict]:
        """Verdicts for many texts at once (benchmarks and `secondme check` batch their embeddings)."""
        if embeddings is None:
            embeddings = self.embed(texts)
        scores = self.classifier.scores(texts, embeddings)
        normals = [normalise(t) for t in texts]
        # Obfuscated text (invisible characters, look-alikes, letter spacing, encodings) is also scored as it reads
        # once normalised; the higher score counts.
        hidden = [i for i, (t, n) in enumerate(zip(texts, normals)) if is_obfuscated(t, n)]
        if hidden:
            views = [(i, view) for i in hidden for view in hidden_views(texts[i])]
            again = self.classifier.scores([v for _, v in views], self.embed([v for _, v in views]))
            for (i, _), score in zip(views, again):
                scores[i] = max(scores[i], score)
        out = []
        for text, normal, trust, score in zip(texts, normals, trusts, scores):
            strong = strong_hits(text)
            threshold = threshold_for(trust)
            reasons = [f"text {name}" for name in strong]
            if score >= threshold:
                weak = [name for name, is_strong in rule_hits(normal) if not is_strong]
                reasons.append(f"classifier score {score:.2f} >= {threshold:.2f} for trust {trust:.2f}"
                               + (f" ({', '.join(weak)})" if weak else ""))
            if reasons:
                out.append(Verdict(Decision.QUARANTINE, "; ".join(reasons),
                                   confidence=max(float(score), 0.9 if strong else 0), score=float(score)))
            else:
                out.append(Verdict(Decision.ACCEPT, "", confidence=1.0 - float(score), score=float(score)))
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._embed is None:  # used on its own (benchmarks): load the default embedder once
                from storage.embedder import load_embedder

                self._embed = load_embedder().embed
        return self._embed(texts)

    @property
    def classifier(self) -> PoisoningClassifier:
        with self._lock:
            if self._classifier is None:
                self._classifier = PoisoningClassifier()
            return self._classifier
