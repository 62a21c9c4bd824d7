from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storage.embedder import MAX_TOKENS, MINILM_DYNAMIC_NAME, MINILM_NAME, load_embedder, packaged_file
from storage.errors import UserError

SENTENCES = ["My sister Ana is a nurse in Porto.", "What does my sister do for a living?",
             "The train to Lisbon leaves at nine.", "Ich habe gestern einen Kuchen gebacken."]


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


@pytest.fixture(scope="module")
def float_embedder():
    return load_embedder(MINILM_NAME)


def test_dynamic_padding_gives_the_same_vector_alone_or_in_a_batch(float_embedder, embedder):
    texts = ["short", "a considerably longer sentence that pads the batch " * 5]
    batch = float_embedder.embed(texts)
    alone = np.vstack([float_embedder.embed([t]) for t in texts])
    assert np.allclose(batch, alone, atol=1e-4)
    # The quantised model scales its int8 activations per batch, so a batch shifts a vector a little, no more.
    batch, alone = embedder.embed(texts), np.vstack([embedder.embed([t]) for t in texts])
    assert (batch * alone).sum(axis=1).min() > 0.97


def test_default_embedder_runs_int8_products_close_to_the_packaged_model(float_embedder, embedder, tmp_path):
    import onnx

    assert embedder.name == MINILM_DYNAMIC_NAME
    graph = onnx.load(str(_quantised_file(tmp_path))).graph
    weights = {w.name for w in graph.initializer}
    # Every product with a weight matrix is an integer one now; only attention's products of two activations
    # (queries by keys, weights by values) stay in float.
    assert sum(node.op_type == "MatMulInteger" for node in graph.node) == 6 * 6  # 6 layers: q, k, v, out, 2 FF
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights]
    cosines = (float_embedder.embed(SENTENCES) * embedder.embed(SENTENCES)).sum(axis=1)
    assert cosines.min() > 0.97, cosines


def _quantised_file(cache: Path) -> Path:
    load_embedder(cache_dir=cache)
    return next((cache / "embedders").glob("*.onnx"))


def test_a_damaged_cached_model_is_made_again(tmp_path):
    first = _quantised_file(tmp_path)
    first.write_bytes(b"\x08\x07 not a model, a disk that filled up" * 100)
    vector = load_embedder(cache_dir=tmp_path).embed(["still works"])
    assert vector.shape == (1, 384) and first.stat().st_size > 1_000_000


def test_an_unwritable_cache_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="SECONDME_CACHE_DIR") as err:
        load_embedder(cache_dir=blocker)
    assert "\n" not in str(err.value)


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
