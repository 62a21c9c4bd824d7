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
_CONTRACTED = ((re.compile(r"^I['’]m\b"), "I am"), (re.compile(r"^I['’]ve\b"), "I have"),
               (re.compile(r"^(he|she)['’]s\b", re.IGNORECASE), r"\1 is"))
# Words a spoken sentence may open with before its subject: "Actually no, I live in Berlin now."
_LEAD_IN = re.compile(
    r"^(?:(?:actually|well|oh|so|and|but|also|yes|no|ok|okay|btw|by the way|anyway|oh and|correction|sorry|"
    r"i was (?:mistaken|wrong)|i got it wrong|sorry, i got it wrong|to correct myself|from now on|by profession|"
    r"since (?:\w+ ){0,2}\w+|as of (?:\w+ ){0,2}\w+)[,!:]?\s+)+", re.IGNORECASE)
# A correction or a change of state said in a lead-in or anywhere in the sentence.
_CORRECTION = re.compile(r"\b(?:correction|mistaken|got it wrong|i was wrong|really|not \w+ \w+)\b",
                         re.IGNORECASE)
_NAMED = re.compile(rf"^(?P<name>{_NAME})(?P<poss>['’]s)?\s+")
_NOT_NAMES = {"the", "this", "that", "there", "it", "we", "you", "they", "he", "she", "my", "our", "a", "an",
              "today", "yesterday", "tomorrow", "yes", "no", "please", "thanks", "hi", "hello"}
UPDATE_CUES = re.compile(
    r"\b(?:moved|relocated|now|new|no longer|not anymore|any ?more|changed|switched|joined|started|became|"
    r"turned|got a job|recently|these days|from now on|left|split up|divorced|correction|mistaken|got it wrong|"
    r"i was wrong|really)\b", re.IGNORECASE)
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
    ("home_city", rf"^(?:(?:have|has) )?(?:just |recently )?(?:moved|relocated) (?:back )?to {_VALUE}"),
    ("employer", rf"^(?:now |still |currently )?(?:works?|worked|{_BE} (?:now )?working) (?:at|for) {_VALUE}"),
    ("employer", rf"^(?:(?:have|has|'ve|’ve) )?(?:just |recently )?(?:joined|started (?:working )?at|"
                 rf"started a (?:new )?job at|got a (?:new )?job at|(?:have|has) been working (?:at|for)) {_VALUE}"),
    ("employer", rf"^{_BE} (?:now )?employed by {_VALUE}"),
    ("job", rf"^(?:now |still |currently )?(?:works?|worked|{_BE} (?:now )?working) as (?:an? )?{_VALUE}"),
    ("job", rf"^(?:{_BE}|became|has become|have become) (?:now )?(?:an? )"
            rf"(?P<occupation>(?:[a-z-]+ ){{0,2}}(?:{_OCCUPATION}))\b"),
    ("job", rf"^(?:became|has become|have become|earns? (?:my|his|her|their) living as) (?:an? )?{_VALUE}"),
    ("job", rf"^{_BE} (?:now )?(?:an? )?{_VALUE} by profession"),
    ("partner", rf"^{_BE} (?:now )?(?:married to|engaged to|dating|seeing) {_VALUE}"),
    ("partner", rf"^(?:just |recently )?(?:married|got married to) {_VALUE}"),
    ("partner", rf"^{_BE} (?:now )?(?:in a relationship with|together with|with) (?P<value>{_NAME})"),
    ("partner", rf"^lives? with (?:my|his|her|their) (?:{_PARTNERS}),? (?P<value>{_NAME})"),
    ("birthday", rf"^(?:was )?born on {_DATE}"),
    ("age", r"^(?:am|is|'m|’m|just turned|turned|will be) (?:now )?(?:aged )?(?P<value>\d{1,3})(?: years? old)?\b"),
    ("phone", r"^can be reached at (?P<value>\+?[\d ()-]{6,})"),
    ("email", r"^switched to a new e-?mail(?: address)?:? (?P<value>[\w.+-]+@[\w-]+\.[\w.-]+)"),
))
_NOUN_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((a, re.compile(p, re.IGNORECASE)) for a, p in (
    ("home_city", rf"^(?:new )?(?:home(?: town| city)?|city) {_BE} (?:now )?(?:in )?{_VALUE}"),
    ("employer", rf"^(?:new )?(?:employer|company|workplace) {_BE} (?:now )?{_VALUE}"),
    ("job", rf"^(?:new )?(?:job|occupation|profession|role) {_BE} (?:now )?(?:an? )?{_VALUE}"),
    ("partner", rf"^(?:new )?(?:wife|husband|partner|girlfriend|boyfriend|fianc[eé]e?) {_BE} (?:now )?{_VALUE}"),
    ("home_city", rf"^(?:new )?(?:home )?address {_BE} (?:now )?in {_VALUE}"),
    ("job", rf"^(?:new )?job title {_BE} (?:now )?(?:an? )?{_VALUE}"),
    ("phone", r"^(?:new )?(?:(?:phone|mobile|cell)(?: number)?|number)\s*(?:is|'s|’s|:|changed to)\s*(?:now )?"
              r"(?P<value>\+?[\d ()-]{6,})"),
    ("email", r"^(?:new )?e-?mail(?: address)?\s*(?:is|'s|’s|:|changed to)\s*(?:now )?"
              r"(?P<value>[\w.+-]+@[\w-]+\.[\w.-]+)"),
    ("birthday", rf"^birthday (?:{_BE}|falls) (?:really )?(?:on )?{_DATE}"),
    ("age", r"^age (?:is|'s|’s) (?:now )?(?P<value>\d{1,3})\b"),
))
# Trailing words that date or qualify a value rather than being part of it: "Lisbon in March", "Acme since 2020".
_VALUE_TAIL = re.compile(
    r"\s+(?:(?:in|since|from|last|this|next|on|at|for|as|as of|starting|until|again|now|too|already|anymore|"
    r"any more|with .*|and .*|but .*|because .*|where .*|which .*|who .*)\b.*)$", re.IGNORECASE)


_WHO = rf"(?P<who>me|{_MY} (?i:{_RELATION})(?: {_NAME})?|{_NAME})"
# Addressed to the reader: "Call my dad on 0123 ...", "email me at ...", "you can reach Ana at ...".
_IMPERATIVE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("phone", re.compile(rf"^(?i:call|ring|phone|text) {_WHO} (?i:on|at) (?P<value>\+?[\d ()-]{{6,}})")),
    ("phone", re.compile(rf"^(?i:you can (?:reach|call)) {_WHO} (?i:on|at) (?P<value>\+?[\d ()-]{{6,}})")),
    ("email", re.compile(rf"^(?i:e-?mail|write to|you can (?:reach|e-?mail)) {_WHO} (?i:at|on) "
                         rf"(?P<value>[\w.+-]+@[\w-]+\.[\w.-]+)")),
)
_PRONOUN = re.compile(r"^(?:he|she|they)\s+", re.IGNORECASE)
_POSSESSIVE_PRONOUN = re.compile(r"^(?:his|her|their)\s+", re.IGNORECASE)
_BY_PROFESSION = re.compile(r"^by profession,?\s+", re.IGNORECASE)
_ANY_JOB = re.compile(rf"{_BE} (?:an? )?{_VALUE}", re.IGNORECASE)
_CLAUSES = re.compile(r";\s*|,?\s+and\s+(?=(?:am|is|are|has|have|joined|married|now|moved|works?|lives?)\b)")


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
        person = (m.group("name") or m.group("rel")).split()[0].lower()
        return _SAME_PERSON.get(person, person), text[m.end():], bool(m.group("poss"))
    if (m := _MY_NOUN.match(text)) is not None:
        return "user", text[m.end():], True
    if (m := _NAMED.match(text)) is not None and m.group("name").split()[0].lower() not in _NOT_NAMES:
        person = m.group("name").split()[0].lower()
        return _SAME_PERSON.get(person, person), text[m.end():], bool(m.group("poss"))
    return None


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
# One person, several words: "mum" and "my mother" are the same slot.
_SAME_PERSON = {"mum": "mother", "mom": "mother", "mommy": "mother", "dad": "father", "daddy": "father",
                "grandma": "grandmother", "grandpa": "grandfather", "neighbor": "neighbour", "coworker": "colleague",
                "flatmate": "roommate", "fiancee": "fiance"}


def _birthday(value: str) -> str:
    """Day and month only ("9 October 1982", "October 9th" -> "10-09"): a birthday restated with its year is
    the same birthday."""
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", value)
    month = next((i for i, name in enumerate(_MONTHS, start=1) if name in value.casefold()), None)
    return f"{month:02d}-{int(day.group(1)):02d}" if day and month else value.casefold()


def _normalise(value: str, attribute: str) -> str:
    value = value.strip().strip("\"'“”‘’")
    if attribute == "birthday":
        return _birthday(value)
    if attribute in ("phone",):
        return re.sub(r"[^\d+]", "", value)
    if attribute not in ("email", "age", "birthday"):
        value = _VALUE_TAIL.sub("", value)
    value = re.sub(r"^(?:the|a|an)\s+", "", value, flags=re.IGNORECASE)
    return " ".join(value.split()).casefold()


def personal_attribute(sentence: str) -> PersonalAttribute | None:
    """The single-valued attribute one sentence states about one person, or None.

    "I no longer live in Cardiff; I live in Curitiba now." and "I left Acme and joined Initech" state the new
    value in their last clause: each clause is read (a clause without a subject, or with "he"/"she", takes the
    sentence's), and the last that states an attribute wins, an update if anything in the sentence says so."""
    text = " ".join(sentence.split()).strip()
    whole = _expand(_LEAD_IN.sub("", text))
    correcting = bool(_CORRECTION.search(sentence))
    subject = _subject(whole)
    found = None
    for clause in _CLAUSES.split(whole):
        clause = _expand(clause.strip())
        if subject is not None and _POSSESSIVE_PRONOUN.match(clause):  # "...; her email is now ..."
            owner = "my" if subject[0] == "user" else whole[: len(whole) - len(subject[1])].strip() + "'s"
            clause = _POSSESSIVE_PRONOUN.sub(owner + " ", clause)
        elif subject is not None and (_PRONOUN.match(clause) or _subject(clause) is None):
            lead = whole[: len(whole) - len(subject[1])]  # the sentence's own subject words
            clause = lead + _PRONOUN.sub("", clause)
        found = _clause_attribute(clause) or found
    if found is None and _BY_PROFESSION.match(text) and subject is not None:
        # "By profession my mother is a pastry chef": the lead-in says the rest is a job, whatever it is.
        job = _ANY_JOB.match(subject[1])
        if job is not None:
            found = PersonalAttribute(subject[0], "job", _normalise(job.group("value"), "job"), False)
    if found is None:
        return None
    update = found.update or correcting or bool(UPDATE_CUES.search(re.sub(re.escape(found.value), " ", sentence,
                                                                             flags=re.IGNORECASE)))
    return PersonalAttribute(found.person, found.attribute, found.value, update)


def _expand(text: str) -> str:
    for contraction, full in _CONTRACTED:
        text = contraction.sub(full, text)
    return text


def _clause_attribute(text: str) -> PersonalAttribute | None:
    if (partner := _MY_PARTNER.match(text)) is not None:
        return PersonalAttribute("user", "partner", _normalise(partner.group("value"), "partner"), False)
    for attribute, pattern in _IMPERATIVE:
        if (m := pattern.match(text)) is not None:
            who = _subject(m.group("who") + " x") if m.group("who").lower() != "me" else ("user", "", False)
            if who is not None:
                return PersonalAttribute(who[0], attribute, _normalise(m.group("value"), attribute), False)
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
        return PersonalAttribute(person, attribute, value, False)
    return None
