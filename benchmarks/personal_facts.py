"""Personal-fact pairs for the conflict benchmark, built from templates with a fixed seed (no external data).

    python benchmarks/personal_facts.py [--seed N] [--out pairs.jsonl]    prints the counts, optionally writes the set

Each pair is two texts written one after the other; its label says what the write path should do with the second:
  update         same person, same single-valued attribute, a new value and an update cue ("I moved to Lisbon",
                 "Tom now works at ...", "my new phone number is ...", "no longer"); for birthdays, which do not
                 change, a correction ("Actually, my birthday is ...") -> the first is superseded;
  contradiction  same person, same attribute, a different value, no cue -> both stay, linked `contradicts`;
  compatible     neither superseded nor linked: `restated` (same value, other wording), `related` (mentions the
                 attribute's kind of value without stating the attribute: "I love Porto's food", "I spent last
                 summer in Lyon", "I ran my first marathon at 27"), `other_attribute` (same person, two
                 attributes), `other_person` (same attribute, two people: "my sister lives in Lyon" / "my
                 colleague Tom lives in Porto");
  unrelated      a personal fact and a note on another topic, or a fact about another person's other attribute.
Attributes: home city, employer, job, partner, phone, e-mail, birthday, age; several phrasings of each.
People: the user ("I", "my") and eight others (my sister Ana, my brother Marco, my colleague Tom, my friend Priya,
my dad, my mum, my neighbour Kofi, my cousin Leila), named the same way in both texts or, for `ref` "mixed", first
introduced in full ("my sister Ana") and then by name or relation only ("Ana", "my sister"; "my dad" / "my father").

Pairs are grouped in batches meant to share one data folder: inside a batch no (person, attribute) is used by two
pairs and no value (city, company, name, number, date, age...) is drawn for two pairs, so pairs cannot interact.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SEED = 18
LABELS = ("update", "contradiction", "compatible", "unrelated")
ATTRIBUTES = ("home", "employer", "job", "partner", "phone", "email", "birthday", "age")
# Pairs per attribute and class; 8 attributes x 52 = 416 pairs.
PER_ATTRIBUTE = {"update": 13, "contradiction": 13, "restated": 4, "related": 5, "other_attribute": 4,
                 "other_person": 5, "unrelated": 8}
USER_SHARE = 0.4  # of the pairs about one person, this share is about the user
MIXED_REF_SHARE = 0.2  # of the pairs about one other person, this share names them differently in the two texts


# -- people ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    key: str
    forms: tuple[str, ...]  # ways to name them as a subject; forms[full] introduces them in full
    pron: str = "I"
    full: int = 0  # index of the form that names both relation and name (the one a mixed pair starts with)

    @property
    def is_user(self) -> bool:
        return self.key == "user"


USER = Person("user", ("I",))
OTHERS = (
    Person("sister", ("my sister", "my sister Ana", "Ana"), "she", 1),
    Person("brother", ("my brother", "my brother Marco", "Marco"), "he", 1),
    Person("colleague", ("my colleague Tom", "Tom"), "he", 0),
    Person("friend", ("my friend Priya", "Priya"), "she", 0),
    Person("dad", ("my dad", "my father"), "he", 0),
    Person("mum", ("my mum", "my mother"), "she", 0),
    Person("neighbour", ("my neighbour Kofi", "Kofi"), "he", 0),
    Person("cousin", ("my cousin Leila", "Leila"), "she", 0),
)
PEOPLE = {p.key: p for p in (USER, *OTHERS)}


def person_tokens(person: Person, form: str) -> dict[str, str]:
    """The grammatical pieces a template uses for one way of naming a person."""
    if person.is_user:
        return {"S": "I", "P": "my", "O": "me", "be": "am", "S_be": "I'm", "has": "have", "S_has": "I've",
                "s": "", "pron": "I", "pron_be": "I'm", "pp": "my"}
    pp = "her" if person.pron == "she" else "his"
    return {"S": form, "P": f"{form}'s", "O": form, "be": "is", "S_be": f"{form} is", "has": "has",
            "S_has": f"{form} has", "s": "s", "pron": person.pron, "pron_be": f"{person.pron}'s", "pp": pp}


# -- templates ---------------------------------------------------------------------------------------------
# {v} the value ({a_v} with its article, {V} title case, {spouse} wife/husband, {d} {dth} {month} {year} for dates);
# {old_...} the first text's value; {x_...} another value of the same kind. Person pieces: see person_tokens.
STATEMENTS = {
    "home": ["{S} live{s} in {v}.", "{S_be} based in {v}.", "{P} home is in {v}.", "{S} reside{s} in {v}.",
             "{P} address is in {v}."],
    "employer": ["{S} work{s} at {v}.", "{P} employer is {v}.", "{S_be} employed by {v}.", "{S} work{s} for {v}.",
                 "{S} work{s} at {v} as {job_a}."],
    "job": ["{S_be} {a_v}.", "{S} work{s} as {a_v}.", "{P} job title is {V}.", "{S} earn{s} {pp} living as {a_v}.",
            "By profession {S} {be} {a_v}."],
    "partner": ["{P} partner is {v}.", "{S_be} married to {v}.", "{P} {spouse} is {v}.",
                "{S_be} in a relationship with {v}.", "{S} live{s} with {pp} partner, {v}."],
    "phone": ["{P} phone number is {v}.", "You can reach {O} at {v}.", "{P} mobile number is {v}.",
              "{P} number is {v}.", "Call {O} on {v}."],
    "email": ["{P} e-mail is {v}.", "{P} email address is {v}.", "You can email {O} at {v}.",
              "Write to {O} at {v}.", "{P} e-mail address: {v}."],
    "birthday": ["{P} birthday is {d} {month}.", "{P} birthday is on the {dth} of {month}.",
                 "{S} was born on {d} {month} {year}.", "{S} was born on {month} {d}, {year}.",
                 "{P} birthday falls on {month} {d}."],
    "age": ["{S_be} {v}.", "{S_be} {v} years old.", "{P} age is {v}.", "{S_be} aged {v}."],
}
UPDATES = {
    "home": ["{S} moved to {v}.", "{S_has} just moved to {v}.", "{S} now live{s} in {v}.",
             "{S} no longer live{s} in {old_v}; {pron} live{s} in {v} now.", "{S} relocated to {v} last month.",
             "{P} new home is in {v}.", "Since March, {S} {has} been living in {v}."],
    "employer": ["{S} now work{s} at {v}.", "{S} started a new job at {v}.", "{S} left {old_v} and joined {v}.",
                 "{S} no longer work{s} at {old_v}; {pron} work{s} for {v} now.", "{P} new employer is {v}.",
                 "{S} changed jobs and {be} now at {v}.", "Since January, {S} {has} been working at {v}."],
    "job": ["{S_be} now {a_v}.", "{S} retrained and now work{s} as {a_v}.", "{S} became {a_v} this year.",
            "{S_be} no longer {old_a_v}; {pron_be} {a_v} now.", "{P} new job title is {V}.",
            "{S} quit being {old_a_v} and now work{s} as {a_v}."],
    "partner": ["{P} new partner is {v}.", "{S_be} now with {v}.", "{S} split up with {old_v} and {be} now with {v}.",
                "{S} divorced {old_v} and married {v}.", "{S_be} no longer with {old_v}; {pron_be} with {v} now."],
    "phone": ["{P} new phone number is {v}.", "{S} changed {pp} number; it's now {v}.",
              "{P} phone number changed to {v}.", "From now on, you can reach {O} at {v}.",
              "{P} old number {old_v} no longer works; use {v}."],
    "email": ["{P} new e-mail address is {v}.", "{S} switched to a new email: {v}.", "{P} email changed to {v}.",
              "{S} no longer use{s} {old_v}; {pp} email is now {v}.", "From now on, email {O} at {v}."],
    # Birthdays do not change: the update is a correction of what was said.
    "birthday": ["Correction: {P} birthday is {d} {month}, not {old_d} {old_month}.",
                 "Actually, {P} birthday is on the {dth} of {month}.",
                 "Sorry, I got it wrong: {S} was born on {d} {month} {year}.",
                 "I was mistaken, {P} birthday is really {month} {d}."],
    "age": ["{S} just turned {v}.", "{S} turned {v} last week.", "{S_be} {v} now.",
            "{S} had {pp} birthday yesterday and {be} {v} now."],
}
# Related but compatible: (template, the other single-valued attribute it states, if any). Such a template takes
# that (person, attribute) in its batch too, so two of them cannot meet.
RELATED: dict[str, list[tuple[str, str | None]]] = {
    "home": [("{S} love{s} the food in {v}.", None), ("{S} love{s} {v}'s food.", None),
             ("{S} spent last summer in {x_v}.", None), ("{S} {be} flying to {x_v} next week.", None),
             ("{S} grew up near {x_v}.", "hometown"), ("{P} favourite weekend trip is to {x_v}.", "favourite_trip")],
    "employer": [("{P} office at {v} has a rooftop garden.", None),
                 ("{S} had a meeting with people from {x_v} today.", None),
                 ("{S} did an internship at {x_v} years ago.", None), ("{S} bought shares in {x_v}.", None)],
    "job": [("{S} find{s} working as {a_v} tiring.", None), ("{S} once considered becoming {x_a_v}.", None),
            ("{S} went to a talk by {x_a_v} yesterday.", None), ("{S} studied with {x_a_v} at school.", None)],
    "partner": [("{P} partner {v} loves hiking.", None), ("{v} and {S} are going to the coast in June.", None),
                ("{S} met {x_v} at a conference.", None), ("{x_v} organised {P} wedding.", None),
                ("{P} wedding anniversary is in {any_month}.", "anniversary")],
    "phone": [("Calls to {v} are best after 6 pm.", None), ("{P} phone is {model}.", "phone_model"),
              ("{S} lost {pp} phone charger again.", None), ("{P} phone bill is {bill} euros a month.", "phone_bill")],
    "email": [("{S} check{s} {pp} email every morning.", None), ("The inbox at {v} is nearly full.", None),
              ("{S} unsubscribed from the {company2} newsletter.", None),
              ("{S} keep{s} {pp} email password in a password manager.", None)],
    "birthday": [("{S} celebrate{s} {pp} birthday with a big dinner every year.", None),
                 ("{P} birthday party this year is on {x_d} {x_month}.", "birthday_party"),
                 ("{P} name day is {x_d} {x_month}.", "name_day"),
                 ("{S} share{s} a birthday with {pp} best friend.", None)],
    "age": [("{S} ran {pp} first marathon at {x_v}.", None), ("{S} learned to swim at {x_v}.", None),
            ("{S} started working at {x_v}.", None), ("{S} feel{s} younger than {v}.", None)],
}
# Notes on other topics, for unrelated pairs: (template, the value kinds that must not repeat in a batch).
NOTES = ["Remember to water the {plant} on {weekday}.", "The {appointment} is at {time} on {weekday}.",
         "Buy {item} and {item2} on the way home.", "The Wi-Fi password for the {place} is {password}.",
         "The next book for the reading club is {book}.", "The {team} match starts at {time} on {weekday}."]
UPDATE_CUES = ("now", "new", "moved", "no longer", "changed", "since", "just", "turned", "became", "retrained",
               "left", "quit", "switched", "split up", "divorced", "relocated", "correction", "actually", "mistaken",
               "wrong")

# -- values ------------------------------------------------------------------------------------------------
CITIES = ["Porto", "Lisbon", "Lyon", "Braga", "Coimbra", "Seville", "Valencia", "Bilbao", "Toulouse", "Nantes",
          "Bordeaux", "Marseille", "Turin", "Bologna", "Naples", "Verona", "Munich", "Hamburg", "Leipzig", "Cologne",
          "Dresden", "Vienna", "Graz", "Zurich", "Basel", "Geneva", "Ghent", "Antwerp", "Utrecht", "Rotterdam",
          "Leiden", "Aarhus", "Malmo", "Uppsala", "Bergen", "Tampere", "Gdansk", "Krakow", "Brno", "Ljubljana",
          "Zagreb", "Split", "Thessaloniki", "Galway", "Cork", "Edinburgh", "Glasgow", "Leeds", "Bristol", "Cardiff",
          "Nairobi", "Accra", "Lagos", "Pune", "Chennai", "Osaka", "Busan", "Montreal", "Halifax", "Denver",
          "Austin", "Recife", "Curitiba", "Valparaiso", "Cusco", "Hobart", "Perth", "Dunedin"]
_CO_HEAD = ["North", "Blue", "Silver", "Red", "Oak", "Harbor", "Summit", "Cedar", "Iron", "Bright", "Stone",
            "River", "Maple", "Falcon", "Lumen", "Vector"]
_CO_TAIL = ["field Bank", "wind Logistics", "gate Labs", "bridge Insurance", "point Foods", "ridge Pharma",
            "line Energy", "works Studio", "haven Hotels", "crest Media"]
COMPANIES = [h + t for h in _CO_HEAD for t in _CO_TAIL]
JOBS = ["nurse", "teacher", "architect", "accountant", "pharmacist", "electrician", "software engineer", "lawyer",
        "translator", "chef", "dentist", "journalist", "photographer", "physiotherapist", "librarian", "pilot",
        "paramedic", "baker", "carpenter", "economist", "data analyst", "graphic designer", "midwife",
        "social worker", "vet", "plumber", "surveyor", "optician", "firefighter", "police officer", "civil engineer",
        "interpreter", "pastry chef", "optometrist", "airline dispatcher", "museum curator", "urban planner",
        "sound engineer", "tax adviser", "speech therapist"]
PARTNERS = [("Clara", "wife"), ("Miguel", "husband"), ("Sofia", "wife"), ("Jonas", "husband"), ("Beatriz", "wife"),
            ("Hugo", "husband"), ("Ines", "wife"), ("Rafael", "husband"), ("Marta", "wife"), ("Diego", "husband"),
            ("Elena", "wife"), ("Felix", "husband"), ("Greta", "wife"), ("Ivan", "husband"), ("Julia", "wife"),
            ("Karim", "husband"), ("Lucia", "wife"), ("Mateo", "husband"), ("Nadia", "wife"), ("Oscar", "husband"),
            ("Paula", "wife"), ("Samir", "husband"), ("Rosa", "wife"), ("Victor", "husband"), ("Tania", "wife"),
            ("Yusuf", "husband"), ("Zoe", "wife"), ("Bruno", "husband"), ("Carla", "wife"), ("Daniel", "husband"),
            ("Helena", "wife"), ("Filipe", "husband"), ("Joana", "wife"), ("Lars", "husband"), ("Mira", "wife"),
            ("Nuno", "husband"), ("Olga", "wife"), ("Emil", "husband")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
PHONE_MODELS = ["an old Nokia", "a Pixel 7", "an iPhone 12", "a Fairphone 4", "a Galaxy S21", "a Moto G"]
EMAIL_DOMAINS = ["example.com", "mail.example.org", "example.net", "post.example.pt"]
EMAIL_HANDLES = ["jmartins", "a.silva", "sunny", "bookworm", "hikerjo", "m.costa", "r.oliveira", "nina.p", "dk",
                 "ferreira.l", "lena.s", "w.okafor", "blue.kite", "night.owl", "pereira.j", "tide", "sam.v", "olive"]
NOTE_VALUES = {
    "plant": ["basil", "ferns", "orchid", "lemon tree", "cactus", "tomatoes", "mint", "roses", "bonsai", "ivy"],
    "appointment": ["dentist appointment", "haircut", "car service", "vet visit", "eye test", "bank meeting",
                    "physio session", "parent-teacher meeting", "tax meeting", "boiler check"],
    "place": ["cabin", "studio", "beach house", "office annex", "garden shed", "boat", "caravan", "loft"],
    "book": ["The Leopard", "Middlemarch", "Blindness", "Stoner", "Piranesi", "Beloved", "The Remains of the Day",
             "Pedro Paramo", "Kindred", "The Master and Margarita"],
    "team": ["handball", "rugby", "volleyball", "water polo", "cricket", "basketball", "hockey", "futsal"],
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ITEMS = ["milk", "eggs", "bread", "rice", "apples", "coffee", "batteries", "bin bags", "olive oil", "soap",
         "lentils", "tea", "cheese", "onions"]


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 11 <= n % 100 <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


class Draw:
    """Values for one batch: each kind of value is drawn at most once per batch, so pairs cannot interact."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: dict[str, set[Any]] = {}

    def _pick(self, kind: str, options: Iterable[Any]) -> Any:
        used = self.used.setdefault(kind, set())
        free = [o for o in options if o not in used]
        if not free:
            raise RuntimeError(f"batch ran out of {kind} values")
        choice = self.rng.choice(free)
        used.add(choice)
        return choice

    def value(self, attribute: str, person: Person, like: dict[str, str] | None = None,
              relation: str = "other") -> dict[str, str]:
        """A value of the attribute's kind, as template tokens. relation 'update' (ages) = a little older than
        `like`; 'other' = different from it."""
        rng = self.rng
        if attribute == "home":
            return {"v": str(self._pick("city", CITIES))}
        if attribute == "employer":
            return {"v": str(self._pick("company", COMPANIES))}
        if attribute == "job":
            job = str(self._pick("job", JOBS))
            return {"v": job, "a_v": _article(job), "V": job.title()}
        if attribute == "partner":
            name, spouse = self._pick("partner", PARTNERS)
            return {"v": name, "spouse": spouse}
        if attribute == "phone":
            while True:
                digits = "".join(rng.choice(string.digits) for _ in range(9))
                style = rng.randrange(4)
                if style == 0:
                    text = f"+351 9{digits[1:3]} {digits[3:6]} {digits[6:9]}"
                elif style == 1:
                    text = f"06{digits[1:3]} {digits[3:6]} {digits[6:9]}"
                elif style == 2:
                    text = f"(555) {digits[:3]}-{digits[3:7]}"
                else:
                    text = f"07700 {digits[:6]}"
                if text not in self.used.setdefault("phone", set()):
                    self.used["phone"].add(text)
                    return {"v": text}
        if attribute == "email":
            while True:
                handle = rng.choice(EMAIL_HANDLES)
                address = f"{handle}{rng.randrange(10, 99)}@{rng.choice(EMAIL_DOMAINS)}"
                if address not in self.used.setdefault("email", set()):
                    self.used["email"].add(address)
                    return {"v": address}
        if attribute == "birthday":
            while True:
                day, month = rng.randint(1, 28), rng.randrange(12)
                if (day, month) not in self.used.setdefault("date", set()):
                    self.used["date"].add((day, month))
                    break
            year = rng.randint(1950, 1975) if person.key in ("dad", "mum") else rng.randint(1970, 2004)
            return {"v": f"{day} {MONTHS[month]}", "d": str(day), "dth": _ordinal(day), "month": MONTHS[month],
                    "year": str(year)}
        if attribute == "age":
            low, high = (52, 88) if person.key in ("dad", "mum") else (19, 70)
            used = self.used.setdefault("age", set())
            if like is not None and relation == "update":
                old = int(like["v"])
                options = [a for a in (old + 1, old + 2) if a not in used][:1]  # a year older, else two
            elif like is not None:
                old = int(like["v"])
                options = [a for a in range(low, high + 1) if abs(a - old) >= 3 and a not in used]
            else:
                options = [a for a in range(low, high) if a not in used and a + 1 not in used]
            if not options:
                raise RuntimeError("batch ran out of ages")
            age = rng.choice(options)
            used.add(age)
            return {"v": str(age)}
        raise ValueError(attribute)

    def extra(self, name: str) -> str:
        """Values some templates need besides the attribute's own."""
        rng = self.rng
        if name == "job_a":
            return _article(str(self._pick("job", JOBS)))
        if name == "company2":
            return str(self._pick("company", COMPANIES))
        if name == "model":
            return str(self._pick("model", PHONE_MODELS))
        if name == "bill":
            return str(self._pick("bill", range(12, 90)))
        if name == "any_month":
            return str(self._pick("anniversary", MONTHS))
        if name in NOTE_VALUES:
            return str(self._pick(name, NOTE_VALUES[name]))
        if name == "weekday":
            return rng.choice(WEEKDAYS)
        if name == "time":
            return f"{rng.randint(7, 20)}:{rng.choice(['00', '15', '30', '45'])}"
        if name in ("item", "item2"):
            return str(self._pick("item", ITEMS))
        if name == "password":
            return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        raise KeyError(name)


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def render(template: str, tokens: dict[str, str], draw: Draw, shared: dict[str, str] | None = None) -> str:
    values = dict(tokens)
    shared = {} if shared is None else shared
    for name in _fields(template):
        if name not in values:
            if name not in shared:
                shared[name] = draw.extra(name)
            values[name] = shared[name]
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _prefixed(prefix: str, value: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}{k}": v for k, v in value.items()}


# -- pairs -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    pair_id: int
    batch: int
    label: str  # update | contradiction | compatible | unrelated
    subtype: str  # cue | correction | value | restated | related | other_attribute | other_person | note | other_fact
    attribute: str  # the first text's attribute
    person: str  # who the first text is about
    ref: str  # same | mixed: how the person is named in the two texts
    first: str
    second: str
    templates: tuple[str, str]  # which template made each text, e.g. ("statement.home.0", "update.home.3")
    slots: tuple[str, ...]  # the (person.attribute) slots the pair uses in its batch

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Spec:
    """One pair before its values are drawn: who, which attribute(s), which templates."""

    label: str
    subtype: str
    attribute: str
    person: Person
    first: tuple[str, str, int]  # (template table, attribute, index): ("statement", "home", 2)
    second: tuple[str, str, int]
    person2: Person | None = None  # the second text's person, when it is someone else
    forms: tuple[str, str] = ("I", "I")
    ref: str = "same"

    @property
    def slots(self) -> frozenset[str]:
        """The (person.attribute) slots the two texts touch; a batch holds each slot once."""
        out = set()
        second_person = self.person2 or self.person
        for (table, attribute, index), person in ((self.first, self.person), (self.second, second_person)):
            if table == "note":
                continue
            out.add(f"{person.key}.{attribute}")
            if table == "related" and RELATED[attribute][index][1]:
                out.add(f"{person.key}.{RELATED[attribute][index][1]}")
            if "{job_a}" in _template(table, attribute, index):
                out.add(f"{person.key}.job")  # "Tom works at X as a nurse" states his job too
        return frozenset(out)


def _template(table: str, attribute: str, index: int) -> str:
    if table == "statement":
        return STATEMENTS[attribute][index]
    if table == "update":
        return UPDATES[attribute][index]
    if table == "related":
        return RELATED[attribute][index][0]
    return NOTES[index]


# Attribute pairs that are not independent (a birth date fixes the age; "works at X as a nurse" states the job):
# never used as "compatible, other attribute" pairs.
_LINKED_ATTRIBUTES = ({"birthday", "age"}, {"employer", "job"})


def _forms(person: Person, rng: random.Random) -> tuple[tuple[str, str], str]:
    if person.is_user:
        return ("I", "I"), "same"
    if rng.random() < MIXED_REF_SHARE:
        first = person.forms[person.full]
        second = rng.choice([f for f in person.forms if f != first])
        return (first, second), "mixed"
    form = rng.choice(person.forms)
    return (form, form), "same"


def _specs(rng: random.Random) -> list[_Spec]:
    specs: list[_Spec] = []

    def someone(i: int) -> Person:
        # USER_SHARE of the pairs are about the user, the rest spread over the others.
        return USER if rng.random() < USER_SHARE else OTHERS[(i + rng.randrange(len(OTHERS))) % len(OTHERS)]

    def statement(attribute: str, avoid: int | None = None) -> tuple[str, str, int]:
        options = [i for i in range(len(STATEMENTS[attribute])) if i != avoid]
        return ("statement", attribute, rng.choice(options))

    def another(person: Person) -> Person:
        pool = [p for p in (USER, *OTHERS) if p.key != person.key]
        return pool[rng.randrange(len(pool))]

    for a_index, a in enumerate(ATTRIBUTES):
        for subtype, count in PER_ATTRIBUTE.items():
            for i in range(count):
                person = someone(i + a_index)
                first = statement(a)
                person2 = None
                if subtype == "update":
                    label, kind = "update", "correction" if a == "birthday" else "cue"
                    second = ("update", a, rng.randrange(len(UPDATES[a])))
                elif subtype == "contradiction":
                    label, kind = "contradiction", "value"
                    second = statement(a)
                elif subtype == "restated":
                    label, kind = "compatible", "restated"
                    second = statement(a, avoid=first[2])
                elif subtype == "related":
                    label, kind = "compatible", "related"
                    second = ("related", a, (i + a_index) % len(RELATED[a]))
                elif subtype == "other_attribute":
                    label, kind = "compatible", "other_attribute"
                    others = [b for b in ATTRIBUTES if b != a and {a, b} not in _LINKED_ATTRIBUTES]
                    second = statement(others[(i * 3 + a_index) % len(others)])
                elif subtype == "other_person":
                    label, kind = "compatible", "other_person"
                    second, person2 = statement(a), another(person)
                elif i % 2 == 0:
                    label, kind = "unrelated", "note"
                    second = ("note", "", rng.randrange(len(NOTES)))
                else:
                    label, kind = "unrelated", "other_fact"
                    others = [b for b in ATTRIBUTES if b != a]
                    second, person2 = statement(others[(i + a_index) % len(others)]), another(person)
                spec = _Spec(label, kind, a, person, first, second, person2)
                if person2 is None and kind != "note":
                    spec.forms, spec.ref = _forms(person, rng)
                else:
                    form = "I" if person.is_user else rng.choice(person.forms)
                    form2 = "I" if person2 is None or person2.is_user else rng.choice(person2.forms)
                    spec.forms = (form, form2)
                specs.append(spec)
    return specs


def _assign_batches(specs: list[_Spec], rng: random.Random) -> list[list[_Spec]]:
    """Spread the pairs over as few batches as the busiest slot needs, keeping each batch's slots distinct and
    the batches about equal in size (so any few batches are a fair sample)."""
    order = list(specs)
    rng.shuffle(order)
    usage = Counter(s for spec in order for s in spec.slots)
    batches: list[list[_Spec]] = [[] for _ in range(max(usage.values()))]
    taken: list[set[str]] = [set() for _ in batches]
    for spec in order:
        free = [i for i in range(len(batches)) if not (spec.slots & taken[i])]
        if not free:
            batches.append([])
            taken.append(set())
            free = [len(batches) - 1]
        i = min(free, key=lambda j: (len(batches[j]), j))
        batches[i].append(spec)
        taken[i] |= spec.slots
    return batches


def _render(spec: _Spec, draw: Draw) -> tuple[str, str]:
    a, p = spec.attribute, spec.person
    q = spec.person2 or p
    shared: dict[str, str] = {}  # extras drawn once for the pair ("as a nurse" stays the same in both texts)
    v1 = draw.value(a, p)
    first = render(_template(*spec.first), person_tokens(p, spec.forms[0]) | v1, draw, shared)
    t2 = person_tokens(q, spec.forms[1])
    table, b, index = spec.second
    template = _template(table, b, index)
    if spec.label == "update":
        tokens = draw.value(a, p, like=v1, relation="update") | _prefixed("old_", v1)
    elif spec.label == "contradiction":
        tokens = draw.value(a, p, like=v1)
    elif spec.subtype == "restated":
        tokens = v1
    elif spec.subtype == "related":
        tokens = dict(v1)
        if any(f.startswith("x_") for f in _fields(template)):
            tokens |= _prefixed("x_", draw.value(a, p, like=v1))
    elif spec.subtype == "other_person":
        # A third of them give the second person the same value: still two people, nothing to flag.
        same = draw.rng.random() < 1 / 3 and a not in ("phone", "email", "partner")
        tokens = v1 if same else draw.value(a, q, like=v1)
    elif table == "note":
        tokens = {}
    else:  # other_attribute, other_fact
        tokens = draw.value(b, q)
    return first, render(template, t2 | tokens, draw, shared)


def generate(seed: int = SEED) -> list[Pair]:
    """The whole set, in batch order; the same seed always gives the same pairs."""
    rng = random.Random(seed)
    batches = _assign_batches(_specs(rng), rng)
    pairs: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    for number, batch in enumerate(batches):
        draw = Draw(rng)
        texts: set[str] = set()
        for spec in batch:
            for _ in range(50):
                first, second = _render(spec, draw)
                if first != second and (first, second) not in seen and not ({first, second} & texts):
                    break
            else:
                raise RuntimeError(f"could not make a unique pair for {spec}")
            seen.add((first, second))
            texts |= {first, second}
            first_t, second_t = (".".join(str(x) for x in t if x != "") for t in (spec.first, spec.second))
            templates = (first_t, second_t)
            pairs.append(Pair(len(pairs), number, spec.label, spec.subtype, spec.attribute, spec.person.key, spec.ref,
                              first, second, templates, tuple(sorted(spec.slots))))
    return pairs


def batches(pairs: list[Pair]) -> list[list[Pair]]:
    out: dict[int, list[Pair]] = {}
    for pair in pairs:
        out.setdefault(pair.batch, []).append(pair)
    return [out[k] for k in sorted(out)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, help="write the pairs as JSON lines")
    args = ap.parse_args(argv)
    pairs = generate(args.seed)
    print(f"{len(pairs)} pairs in {len(batches(pairs))} batches: "
          + ", ".join(f"{k} {v}" for k, v in Counter(p.label for p in pairs).items()))
    print("subtypes: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.subtype for p in pairs).items())))
    print("people: " + ", ".join(f"{k} {v}" for k, v in Counter(p.person for p in pairs).most_common()))
    if args.out:
        args.out.write_text("".join(json.dumps(p.to_json()) + "\n" for p in pairs), encoding="utf-8")
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
