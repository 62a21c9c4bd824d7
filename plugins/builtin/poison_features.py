"""Features of the poisoning classifier: the MiniLM sentence embedding plus a few hand-made signals.

Shared by the guard (plugins/builtin/poisoning.py) and its training script (benchmarks/train_poisoning.py),
so the features at training time and at run time cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import math
import re
import unicodedata

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


# -- normalising before judging (issue 17) --------------------------------------------------------------------------
# Obfuscation hides an attack from the rules and the classifier: invisible characters, combining accents, l e t t e r
# spacing, look-alike letters from other scripts, base64 or rot13. The guard judges the text as given *and* as
# normalised here; the stored text is never changed.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_LETTER_SPACED = re.compile(r"(?<!\w)\w(?:[ .\-_*·|/]\w){2,}(?!\w)")
_RUNS_OF_SPACES = re.compile(r"[ \t]{2,}")
_SPACED_GAP = re.compile(r"[ .\-_*·|/]")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_CONFUSABLES: dict[str, str] | None = None


def _confusables() -> dict[str, str]:
    """Non-ASCII characters that look like one ASCII letter, from the Unicode confusables table (the
    confusable_homoglyphs package ships it as JSON): Cyrillic "о" -> "o", Greek "Α" -> "A", "ⅰ" -> "i"..."""
    global _CONFUSABLES
    if _CONFUSABLES is None:
        import json
        from importlib.resources import files

        table = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
        mapping: dict[str, str] = {}
        for char, glyphs in table.items():
            if len(char) != 1 or char.isascii():
                continue
            ascii_letters = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
            if not ascii_letters:
                continue
            # The table maps to a skeleton ("I" and "l" both to "l"): the letter the character's Unicode name ends
            # with when it is one ("CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I"), else the skeleton in the
            # character's case (an upper-case look-alike of "l" is an "I").
            last = unicodedata.name(char, "").rsplit(" ", 1)[-1]
            chosen = last if len(last) == 1 and last.isascii() and last.isalpha() else ascii_letters[0]
            if char.isupper():
                chosen = "I" if chosen == "l" else chosen.upper()
            elif char.islower():
                chosen = chosen.lower()
            mapping[char] = chosen
        _CONFUSABLES = mapping
    return _CONFUSABLES


def fold_marks(text: str) -> str:
    """Combining marks removed ("é" -> "e", "i̶g̶n̶o̶r̶e̶" -> "ignore")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _map_confusables(text: str) -> str:
    table = _confusables()
    letters = [c for c in text if c.isalpha()]
    ascii_share = sum(1 for c in letters if c.isascii()) / max(len(letters), 1)
    if ascii_share >= 0.5:  # mostly Latin text: every look-alike is mapped
        return "".join(table.get(c, c) for c in text)
    # Mostly another script (Russian, Greek, Chinese): only words that mix in ASCII letters are suspicious.
    return re.sub(r"\w+", lambda m: "".join(table.get(c, c) for c in m.group())
                  if _ASCII_LETTER.search(m.group()) else m.group(), text)


def _join_spaced(text: str) -> str:
    return _RUNS_OF_SPACES.sub(" ", _LETTER_SPACED.sub(lambda m: _SPACED_GAP.sub("", m.group()), text))


def normalise(text: str) -> str:
    """NFKC, invisible and bidi controls removed, combining marks folded, look-alikes mapped, letter-spaced
    words joined. For judging only."""
    out = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    out = fold_marks(out)
    out = _map_confusables(out)
    return _join_spaced(out)


def decoded_spans(text: str) -> list[str]:
    """What base64 spans and rot13 would say: texts to judge alongside the original."""
    out = []
    for span in _BASE64.findall(text):
        try:
            decoded = base64.b64decode(span + "=" * (-len(span) % 4), validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) / len(decoded) > 0.95:
            out.append(decoded)
    if _ASCII_LETTER.search(text):
        out.append(codecs.encode(text, "rot13"))
    return out


def is_obfuscated(text: str, normal: str) -> bool:
    """Did normalising change more than case and ordinary accents? Then the classifier scores the normal form too."""
    composed = unicodedata.normalize("NFKC", text)
    if any(unicodedata.combining(c) for c in composed):  # marks no letter takes in writing: s̶t̶r̶u̶c̶k̶ text
        return True
    return fold_marks(composed) != normal or bool(_BASE64.search(text))


def hidden_views(text: str) -> list[str]:
    """What the classifier also scores for an obfuscated text: its normal form and its decoded base64 spans."""
    normal = normalise(text)
    decoded = decoded_spans(normal)
    if _ASCII_LETTER.search(normal):
        decoded = decoded[:-1]  # its rot13 reading: gibberish for most texts, so for the rules only
    return [normal] + [normalise(d) for d in decoded if d.strip()]


# Strong rules in the other languages the guard covers (matched on the normal form, lower-cased, accents folded):
# overriding earlier instructions and claiming to be the system. English is in RULES above.
_MULTILINGUAL: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("fr", "overrides earlier instructions", re.compile(
        r"\b(ignore[rz]?|oublie[rz]?|ne tiens? pas compte|ne tenez pas compte|contourne[rz]?)\b[^.\n]{0,50}"
        r"\b(instructions?|consignes?|regles|directives|ordres|indications|consignes)\b")),
    ("de", "overrides earlier instructions", re.compile(
        r"\b(ignorier\w*|vergiss\w*|vergessen|missacht\w*|uberschreib\w*|umgeh\w*)\b[^.\n]{0,50}"
        r"\b(anweisung\w*|instruktion\w*|regeln|vorgaben|befehle|richtlinien)\b")),
    ("es", "overrides earlier instructions", re.compile(
        r"\b(ignora\w*|olvida\w*|omite|omitir|descarta\w*|pasa por alto)\b[^.\n]{0,50}"
        r"\b(instrucciones|reglas|indicaciones|directrices|ordenes)\b")),
    ("pt", "overrides earlier instructions", re.compile(
        r"\b(ignore|ignora\w*|esqueca\w*|esquece\w*|desconsidere|desconsidera\w*)\b[^.\n]{0,50}"
        r"\b(instrucoes|regras|orientacoes|diretrizes|ordens|comandos)\b")),
    ("it", "overrides earlier instructions", re.compile(
        r"\b(ignora\w*|dimentica\w*|trascura\w*|non considerare)\b[^.\n]{0,50}"
        r"\b(istruzioni|regole|indicazioni|direttive|ordini)\b")),
    ("zh", "overrides earlier instructions", re.compile(
        r"(忽略|无视|忽视|忘记|忘掉|不要理会|不理会|不要遵守|不用遵守|忽略掉)[^。\n]{0,16}(指令|指示|说明|规则|提示|命令|要求)")),
    ("fr/es/pt/it/de", "claims to come from the system or developer", re.compile(
        r"(^|\n)\s*[\[<(#]*\s*(systeme|sistema|developpeur|desarrollador|desenvolvedor|sviluppatore|entwickler|"
        r"administrateur|administrador|amministratore)\s*[\]>):]|"
        r"\b(message|mensaje|mensagem|messaggio|nachricht) (du|del|do|dal|vom) (systeme|sistema|system)\b")),
    ("zh", "claims to come from the system or developer",
     re.compile(r"(^|\n)\s*[\[<(（【]*\s*(系统|开发者|管理员)\s*[\]>):：）】]")),
)


def _views(text: str) -> list[str]:
    normal = normalise(text)
    views = [text] + ([normal] if normal != text else [])
    views += [normalise(d) for d in decoded_spans(normal)]
    return views


def strong_hits(text: str) -> list[str]:
    """Names of the strong rules the text breaks, in any of its views (as given, normalised, decoded) and in any
    of the covered languages (en, fr, de, es, pt, it, zh)."""
    names: dict[str, None] = {}
    for view in _views(text):
        for name, pattern, strong in RULES:
            if strong and pattern.search(view):
                names[name] = None
        lowered = view.casefold()
        for _lang, name, pattern in _MULTILINGUAL:
            if pattern.search(lowered):
                names[name] = None
    return list(names)
