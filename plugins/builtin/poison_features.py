"""Features of the poisoning classifier: the MiniLM sentence embedding plus a few hand-made signals.

Shared by the guard (plugins/builtin/poisoning.py) and its training script (benchmarks/train_poisoning.py),
so the features at training time and at run time cannot drift apart.
"""

from __future__ import annotations

import math
import re

import numpy as np

_I = re.IGNORECASE

# Each rule: (name, pattern, strong). A strong rule quarantines on its own; a weak one only feeds the classifier.
# A line starting "Assistant:" is no claim to be the system: transcripts, scripts and secondme's own episodes are
# written that way (issue 17); only a bracketed [assistant] / <assistant> tag, a chat-template marker, counts.
RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("overrides earlier instructions", re.compile(
        r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|"
        r"all|any|your|the)\b[^.\n]{0,30}\b(instructions?|prompts?|rules|directions|guidelines|tasks?|context)\b", _I),
     True),
    ("claims to come from the system or developer", re.compile(
        r"(^|\n)\s*[\[<(#]*\s*(system|developer|admin(istrator)?|openai|anthropic)\s*(message|prompt|note|"
        r"override)?\s*[\]>):]|(^|\n)\s*[\[<]\s*assistant\s*[\]>]|<\|?(im_start|system)\|?>|"
        r"\b(message|note|instruction|update)s? from (the )?"
        r"(system|developer|admin|openai|anthropic|your creators?)\b|"
        r"\bas (the|your) (system|developer|administrator)\b",
        _I), True),
    ("plants a trigger phrase", re.compile(
        r"\b(whenever|every time|each time|if ever)\b[^.\n]{0,60}\b(say|says|said|mention|mentions|ask|asks|see|"
        r"hear|type|types|write|writes)\b[^.\n]{0,80}\b(you (must|should|will)|always|respond|reply|answer|say|"
        r"output|recommend)\b|\btrigger (word|phrase)\b|\b(secret|magic|code) (word|phrase)\b", _I), True),
    ("instructs the assistant", re.compile(
        r"\b(you (must|should always|will now|are now|have to|are required to)|from now on|always (answer|respond|"
        r"reply|say|recommend|tell)|never (mention|reveal|tell|say|disclose)|(respond|reply|answer) (only )?with|"
        r"your (new )?(task|instructions?|role|goal|job) (is|are)|new instructions?)\b", _I), False),
    ("asks for a persona or jailbreak", re.compile(
        r"\b(DAN|jailbreak|developer mode|do anything now|act as|pretend (to be|you are|that you)|roleplay as|"
        r"you are no longer|unfiltered|no restrictions|without (any )?restrictions)\b", _I), False),
    ("asks to reveal the prompt", re.compile(
        r"\b(system prompt|your (initial |original )?(prompt|instructions)|prompt texts?|reveal (your|the) "
        r"(instructions|prompt|password|secret))\b", _I), False),
    ("addresses an AI", re.compile(r"\b(AI|language model|assistant|chatbot|LLM|GPT|ChatGPT)\b", _I), False),
    ("carries code", re.compile(r"```|^\s*(import|from \w+ import|def |curl |wget )", _I | re.MULTILINE), False),
    ("carries a link", re.compile(r"https?://|www\.", _I), False),
)

_IMPERATIVE = re.compile(
    r"^\W*(please\s+)?(write|create|generate|tell|give|provide|explain|ignore|forget|show|print|output|say|respond|"
    r"answer|list|describe|draft|compose|translate|make|develop|include|insert|add|send|visit|click|download|run|"
    r"execute|merge|ensure|use|consider|remember|summarize|summarise|repeat|act|pretend|imagine|disregard|stop)\b", _I)
_SECOND_PERSON = re.compile(r"\b(you|your|yours|yourself)\b", _I)
_WORDS = re.compile(r"\w+")

HAND_FEATURES = tuple(name for name, _, _ in RULES) + (
    "starts with an imperative", "second person density", "ends with a question", "log length")


def rule_hits(text: str) -> list[tuple[str, bool]]:
    return [(name, strong) for name, pattern, strong in RULES if pattern.search(text)]


def hand_features(text: str) -> np.ndarray:
    words = _WORDS.findall(text)
    n = max(len(words), 1)
    flags = [1.0 if pattern.search(text) else 0.0 for _, pattern, _ in RULES]
    return np.array(flags + [
        1.0 if _IMPERATIVE.search(text) else 0.0,
        min(len(_SECOND_PERSON.findall(text)) / n * 10.0, 3.0),
        1.0 if text.rstrip().endswith("?") else 0.0,
        math.log1p(n) / 5.0,
    ], dtype=np.float32)


def feature_matrix(texts: list[str], embeddings: np.ndarray) -> np.ndarray:
    hand = np.stack([hand_features(t) for t in texts]) if texts else np.zeros((0, len(HAND_FEATURES)), np.float32)
    return np.hstack([embeddings.astype(np.float32), hand])
