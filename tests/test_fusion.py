"""The ranking rules one at a time: weighted fusion, context sharing, session boost, forgetting curve, MMR."""


import numpy as np
import pytest

from assistant.memory import fusion


def test_weighted_rrf_lets_the_heavier_retriever_lead():
    rankings = {"keyword": [1, 2], "dense": [2, 1]}
    even = fusion.reciprocal_rank_fusion(rankings)
    assert even[1] == pytest.approx(even[2])
    leaning = fusion.reciprocal_rank_fusion(rankings, {"keyword": 1.0, "dense": 0.5})
    assert leaning[1] > leaning[2]
    assert leaning[1] == pytest.approx(1 / 61 + 0.5 / 62)


def test_rrf_zero_weight_drops_a_retriever():
    fused = fusion.reciprocal_rank_fusion({"keyword": [1], "dense": [2]}, {"dense": 0.0})
    assert fused == {1: pytest.approx(1 / 61)}


def test_neighbours_share_their_best_score():
    scores = {10: 1.0, 20: 0.2}
    out = fusion.spread_to_neighbours(scores, {11: [10, 12], 10: [9, 11], 20: [21]}, weight=0.5)
    assert out[11] == pytest.approx(0.5)  # an unseen neighbour enters with its share
    assert out[10] == pytest.approx(1.0)  # its own neighbours scored nothing
    assert out[20] == pytest.approx(0.2)
    assert fusion.spread_to_neighbours(scores, {11: [10]}, weight=0) == scores


def test_group_boost_lifts_items_of_a_matching_session():
    scores = {1: 0.5, 2: 0.4, 3: 0.45, 4: 0.1}
    groups = {1: 7, 2: 7, 3: 8, 4: None}
    out, per_group = fusion.group_boost(scores, groups, weight=0.5, top=3)
    assert per_group == {7: pytest.approx(0.9), 8: pytest.approx(0.45)}
    assert out[2] > out[3]  # session 7 matched twice, so its weaker turn overtakes session 8's only turn
    assert out[4] == 0.1


def test_recency_half_life_and_bounded_rerank_factor():
    assert fusion.recency(365, 365) == pytest.approx(0.5)
    assert fusion.rerank_factor(1, 1, 0.1, 0.1) == pytest.approx(1.0)
    assert fusion.rerank_factor(0, 0, 0.1, 0.1) == pytest.approx(1 / 1.2)
    assert fusion.rerank_factor(0.2, 1, 0.1, 0.1) < fusion.rerank_factor(0.9, 1, 0.1, 0.1)


def test_mmr_skips_a_near_duplicate():
    a = np.array([1.0, 0.0])
    near_a = np.array([0.995, 0.0998])
    b = np.array([0.0, 1.0])
    relevance = {1: 1.0, 2: 0.95, 3: 0.8}
    vectors = {1: a, 2: near_a / np.linalg.norm(near_a), 3: b}
    assert fusion.mmr([1, 2, 3], relevance, vectors, 3, lambda_=1.0) == [1, 2, 3]
    assert fusion.mmr([1, 2, 3], relevance, vectors, 3, lambda_=0.7) == [1, 3, 2]
    assert fusion.mmr([1, 2, 3], relevance, vectors, 2, lambda_=0.7) == [1, 3]


def test_mmr_treats_missing_vectors_as_unlike_everything():
    assert fusion.mmr([1, 2], {1: 1.0, 2: 0.5}, {1: np.array([1.0, 0.0])}, 2, 0.5) == [1, 2]


def test_speaker_is_who_says_a_transcript_line():
    assert fusion.speaker("Anna: I loved Lisbon") == "anna"
    assert fusion.speaker("User: hi\nAssistant: hello") == "user"
    assert fusion.speaker("  Zoë: ça va") == "zoë"
    assert fusion.speaker("I loved Lisbon: the light!") is None  # a sentence, not a speaker
    assert fusion.speaker("12:30 lunch with Anna") is None and fusion.speaker("") is None


def test_recall_lifts_the_lines_of_the_person_the_question_names(app):
    said = app.memory.remember("Anna: The trip to Lisbon was the best week of my year.").id
    told = app.memory.remember("Ben: Anna keeps talking about her trip to Lisbon, the best week of the year.").id
    hits = {h.memory.id: h for h in app.memory.recall("What did Anna think of the trip to Lisbon?", k=2)}
    assert hits[said].breakdown["speaker_factor"] == 1.2 and hits[told].breakdown["speaker_factor"] == 1.0
    assert list(hits)[0] == said
