"""Single-valued personal attributes, read from English wording without a language model.

"I live in Porto", "my sister Ana works at Santa Maria", "Tom's phone number is 555 0100": each sets one
attribute (home city, employer, phone...) of one person (the user, "sister", "tom"), which can hold one value at a
time. The write path gives such a fact a slot key (`user.home_city`, `sister.employer`) so that a newer value is
recognised. Whether it replaces the old one depends on the wording: "I moved to Lisbon", "Tom now works at Acme",
"my new number is ..." say the value changed (an update: the old fact is superseded); a plain "my sister lives in
Lyon" after "my sister lives in Porto" may be a correction or a mistake, so both stay and are linked as a
contradiction for the user to settle.

Deliberately narrow: a sentence must start with its subject and use one of the phrasings below. A miss costs only
the slot (the fact is stored either way); a false hit would let one fact retire another, so when in doubt, no slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# People a fact can be about, as the user names them: "my sister", "my sister Ana", "Ana", "the user's sister".
RELATIONS = (
    "sister", "brother", "mother", "mom", "mum", "father", "dad", "wife", "husband", "partner", "boyfriend",
    "girlfriend", "fiance", "fiancee", "son", "daughter", "friend", "best friend", "colleague", "coworker", "boss",
    "manager", "cousin", "aunt", "uncle", "grandma", "grandmother", "grandpa", "grandfather", "neighbour",
    "neighbor", "roommate", "flatmate", "niece", "nephew", "stepmother", "stepfather", "sibling",
)
_RELATION = "|".join(sorted((re.escape(r) for r in RELATIONS), key=len, reverse=True))
_NAME = r"[A-Z][a-zà-ÿ-]+(?: [A-Z][a-zà-ÿ-]+)?"  # case-sensitive: names are capitalised
_MY = r"(?i:my|the user['’]s|user['’]s)"
# Who a sentence is about, at its start: "I", "the user", "my sister (Ana)('s)", "my <attribute noun>", "Ana('s)".
_I = re.compile(r"^(?i:I|the user)\s+")
_RELATIVE = re.compile(rf"^{_MY} (?i:(?P<rel>{_RELATION}))(?: (?P<name>{_NAME}))?(?P<poss>['’]s)?\s+")
_MY_NOUN = re.compile(rf"^{_MY}\s+")
_PARTNERS = "wife|husband|partner|girlfriend|boyfriend|fianc[eé]e?"
# "My wife is Ana": the relation itself is the attribute (the user's partner), not the subject of a sentence.
_MY_PARTNER = re.compile(rf"^{_MY} (?i:(?:new )?(?:{_PARTNERS})) (?i:is|'s|’s) (?:now )?(?P<value>{_NAME})")
_CONTRACTED_I = re.compile(r"^I['’]m\b")
# Words a spoken sentence may open with before its subject: "Actually no, I live in Berlin now."
_LEAD_IN = re.compile(r"^(?:(?:actually|well|oh|so|and|but|also|yes|no|ok|okay|btw|by the way|anyway|oh and)"
                      r"[,!:]?\s+)+", re.IGNORECASE)
_NAMED = re.compile(rf"^(?P<name>{_NAME})(?P<poss>['’]s)?\s+")
_NOT_NAMES = {"the", "this", "that", "there", "it", "we", "you", "they", "he", "she", "my", "our", "a", "an",
              "today", "yesterday", "tomorrow", "yes", "no", "please", "thanks", "hi", "hello"}
UPDATE_CUES = re.compile(
    r"\b(?:moved|relocated|now|new|no longer|not anymore|any ?more|changed|switched|joined|started|became|"
    r"turned|got a job|recently|these days|from now on)\b", re.IGNORECASE)
OCCUPATIONS = (
    "nurse", "teacher", "engineer", "doctor", "developer", "programmer", "designer", "lawyer", "accountant",
    "architect", "chef", "cook", "pilot", "dentist", "pharmacist", "student", "professor", "researcher",
    "scientist", "writer", "journalist", "photographer", "artist", "musician", "electrician", "plumber",
    "carpenter", "mechanic", "firefighter", "police officer", "paramedic", "therapist", "psychologist",
    "consultant", "manager", "salesperson", "cashier", "waiter", "waitress", "barista", "librarian", "farmer",
    "veterinarian", "vet", "surgeon", "midwife", "translator", "data scientist", "software engineer",
)
_OCCUPATION = "|".join(sorted((re.escape(o) for o in OCCUPATIONS), key=len, reverse=True))
_VALUE = r"(?P<value>[^,.;!?]+)"
_DATE = r"(?P<value>(?:\d{1,2}(?:st|nd|rd|th)? (?:of )?[A-Z][a-z]+|[A-Z][a-z]+ \d{1,2}(?:st|nd|rd|th)?)(?:,? \d{4})?)"
_BE = r"(?:is|am|was|'m|’m|are|'s|’s)"

# (attribute, pattern after the subject; `poss`: the pattern follows "X's" / "my" + attribute noun).
_VERB_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((a, re.compile(p, re.IGNORECASE)) for a, p in (
    ("home_city", rf"^(?:now |still |currently )?(?:live[sd]?|reside[sd]?|(?:{_BE}|have been|has been) "
                  rf"(?:now )?(?:living|based|settled)) (?:now )?in {_VALUE}"),
    ("home_city", rf"^(?:just |recently |have |has )?(?:moved|relocated) (?:back )?to {_VALUE}"),
    ("employer", rf"^(?:now |still |currently )?(?:works?|worked|{_BE} (?:now )?working) (?:at|for) {_VALUE}"),
    ("employer", rf"^(?:just |recently |have |has )?(?:joined|started (?:working )?at|got a (?:new )?job at) "
                 rf"{_VALUE}"),
    ("employer", rf"^{_BE} (?:now )?employed by {_VALUE}"),
    ("job", rf"^(?:now |still |currently )?(?:works?|worked|{_BE} (?:now )?working) as (?:an? )?{_VALUE}"),
    ("job", rf"^(?:{_BE}|became|has become|have become) (?:now )?(?:an? )(?P<occupation>{_OCCUPATION})\b"),
    ("partner", rf"^{_BE} (?:now )?(?:married to|engaged to|dating|seeing) {_VALUE}"),
    ("partner", rf"^(?:just |recently )?(?:married|got married to) {_VALUE}"),
    ("birthday", rf"^(?:was )?born on {_DATE}"),
    ("age", r"^(?:am|is|'m|’m|just turned|turned|will be) (?P<value>\d{1,3})(?: years? old)?\b"),
    ("phone", r"^can be reached at (?P<value>\+?[\d ()-]{6,})"),
))
_NOUN_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((a, re.compile(p, re.IGNORECASE)) for a, p in (
    ("home_city", rf"^(?:new )?(?:home(?: town| city)?|city) {_BE} (?:now )?(?:in )?{_VALUE}"),
    ("employer", rf"^(?:new )?(?:employer|company|workplace) {_BE} (?:now )?{_VALUE}"),
    ("job", rf"^(?:new )?(?:job|occupation|profession|role) {_BE} (?:now )?(?:an? )?{_VALUE}"),
    ("partner", rf"^(?:new )?(?:wife|husband|partner|girlfriend|boyfriend|fianc[eé]e?) {_BE} (?:now )?{_VALUE}"),
    ("phone", r"^(?:new )?(?:phone|mobile|cell)(?: number)? (?:is|'s|’s) (?:now )?(?P<value>\+?[\d ()-]{6,})"),
    ("email", r"^(?:new )?e-?mail(?: address)? (?:is|'s|’s) (?:now )?(?P<value>[\w.+-]+@[\w-]+\.[\w.-]+)"),
    ("birthday", rf"^birthday {_BE} (?:on )?{_DATE}"),
    ("age", r"^age (?:is|'s|’s) (?:now )?(?P<value>\d{1,3})\b"),
))
# Trailing words that date or qualify a value rather than being part of it: "Lisbon in March", "Acme since 2020".
_VALUE_TAIL = re.compile(
    r"\s+(?:(?:in|since|from|last|this|next|on|at|for|as|as of|starting|until|again|now|too|already|anymore|"
    r"any more|with .*|and .*|but .*|because .*|where .*|which .*|who .*)\b.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class PersonalAttribute:
    person: str  # "user", a relation ("sister") or a lower-case name ("tom")
    attribute: str  # home_city, employer, job, partner, phone, email, birthday, age
    value: str  # normalised for comparison
    update: bool  # the wording says the value changed ("moved", "now", "new")

    @property
    def slot_key(self) -> str:
        return f"{self.person}.{self.attribute}"


def _subject(text: str) -> tuple[str, str, bool] | None:
    """(person, the rest of the sentence, whether the rest starts with an attribute noun), or None."""
    if (m := _I.match(text)) is not None:
        return "user", text[m.end():], False
    if (m := _RELATIVE.match(text)) is not None:
        # "my friend Priya" and "my friend Tom" are two people: a name, when given, names the person.
        person = m.group("name") or m.group("rel")
        return person.split()[0].lower().replace(" ", "_"), text[m.end():], bool(m.group("poss"))
    if (m := _MY_NOUN.match(text)) is not None:
        return "user", text[m.end():], True
    if (m := _NAMED.match(text)) is not None and m.group("name").split()[0].lower() not in _NOT_NAMES:
        return m.group("name").split()[0].lower(), text[m.end():], bool(m.group("poss"))
    return None


def _normalise(value: str, attribute: str) -> str:
    value = value.strip().strip("\"'“”‘’")
    if attribute in ("phone",):
        return re.sub(r"[^\d+]", "", value)
    if attribute not in ("email", "age", "birthday"):
        value = _VALUE_TAIL.sub("", value)
    value = re.sub(r"^(?:the|a|an)\s+", "", value, flags=re.IGNORECASE)
    return " ".join(value.split()).casefold()


def personal_attribute(sentence: str) -> PersonalAttribute | None:
    """The single-valued attribute one sentence states about one person, or None."""
    text = _CONTRACTED_I.sub("I am", _LEAD_IN.sub("", " ".join(sentence.split()).strip()))
    if (partner := _MY_PARTNER.match(text)) is not None:
        return PersonalAttribute("user", "partner", _normalise(partner.group("value"), "partner"),
                                 bool(UPDATE_CUES.search(text.replace(partner.group("value"), " "))))
    found_subject = _subject(text)
    if found_subject is None:
        return None
    person, rest, noun_first = found_subject
    forms = _NOUN_FORMS if noun_first else _VERB_FORMS
    for attribute, pattern in forms:
        found = pattern.match(rest)
        if found is None:
            continue
        raw = found.groupdict().get("occupation") or found.group("value")
        value = _normalise(raw, attribute)
        if not value or len(value.split()) > 6:
            continue
        # The cue must be in the wording, not in the value ("I live in New York" says nothing changed).
        wording = re.sub(re.escape(value), " ", text, flags=re.IGNORECASE)
        return PersonalAttribute(person, attribute, value, bool(UPDATE_CUES.search(wording)))
    return None
