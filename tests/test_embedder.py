from __future__ import annotations

import numpy as np
import pytest

from storage.embedder import MAX_TOKENS, load_embedder, packaged_file
from storage.errors import UserError


def test_paraphrase_ranks_above_unrelated_sentence(embedder):
    query, paraphrase, unrelated = embedder.embed([
        "What does my sister do for a living?",
        "My sister works as a nurse at the hospital.",
        "The train to Lisbon leaves at nine.",
    ])
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_vectors_are_unit_length_and_384_wide(embedder):
    vectors = embedder.embed(["one", "a much longer sentence about something else entirely"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dynamic_padding_gives_the_same_vector_alone_or_in_a_batch(embedder):
    texts = ["short", "a considerably longer sentence that pads the batch " * 5]
    batch = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(batch, alone, atol=1e-4)


def test_truncates_at_256_tokens_not_the_shipped_128(embedder):
    words = " ".join(f"word{i}" for i in range(400))
    assert embedder.token_count(words) > MAX_TOKENS
    enc = embedder.tokenizer.encode(words)
    assert len(enc.ids) == MAX_TOKENS
    # Text past token 128 still changes the vector, so the shipped 128-token cut is gone.
    head = " ".join(f"word{i}" for i in range(60))
    a = embedder.embed([head + " cats cats cats"])[0]
    b = embedder.embed([head + " stock market crash"])[0]
    assert float(a @ b) < 0.999


def test_missing_model_package_names_the_package():
    with pytest.raises(UserError, match="pip install no-such-model-package"):
        packaged_file("no-such-model-package", "model.onnx")


def test_unknown_embedder_name_is_a_clear_error():
    with pytest.raises(UserError, match="Unknown embedder"):
        load_embedder("word2vec-from-1999")
