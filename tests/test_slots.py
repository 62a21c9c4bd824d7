"""The deterministic subject + relation parse used for slot keys of templated statements."""

import pytest

from assistant.memory.slots import parse_slot


@pytest.mark.parametrize("sentence,subject,relation,value", [
    ("Thomas Kyd was born in the city of London.", "Thomas Kyd", "was born in the city of", "London"),
    ("Ferdinand von Richthofen is a citizen of United States of America.", "Ferdinand von Richthofen",
     "is a citizen of", "United States of America"),
    ("Hines Ward plays the position of wide receiver.", "Hines Ward", "plays the position of", "wide receiver"),
    ("quarterback is associated with the sport of American football.", "quarterback",
     "is associated with the sport of", "American football"),
    ("Church of Scotland was founded by John Knox.", "Church of Scotland", "was founded by", "John Knox"),
    ("I live in Berlin.", "user", "live in", "Berlin"),
    ("My sister lives in Paris.", "My sister", "lives in", "Paris"),
])
def test_subject_relation_value(sentence, subject, relation, value):
    p = parse_slot(sentence)
    assert (p.subject, p.relation, p.value) == (subject, relation, value)


def test_the_attribute_of_form_and_same_slot_for_a_new_value():
    a, b = parse_slot("The capital of Germany is Berlin."), parse_slot("The capital of Germany is Bonn.")
    assert a.slot_key == b.slot_key == "capital_of_germany" and (a.value, b.value) == ("Berlin", "Bonn")
    assert parse_slot("The capital of France is Paris.").slot_key != a.slot_key


def test_different_relations_of_one_subject_are_different_slots():
    assert parse_slot("Chanel was founded by Coco Chanel.").slot_key != \
        parse_slot("Chanel was founded in the city of Paris.").slot_key


@pytest.mark.parametrize("sentence", ["Hello", "Paris London Rome", "I am in", "", "   "])
def test_no_shape_no_slot(sentence):
    assert parse_slot(sentence) is None
