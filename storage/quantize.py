"""Dynamic int8 quantisation of an ONNX sentence encoder, made once on this machine and kept in a cache folder.

The packaged all-MiniLM-L6-v2 "int8" file stores its weights as int8, but each one passes through Cast and Mul
back to float before its MatMul: onnxruntime folds those into float constants when it loads the file, so every
matrix product runs in float32. Quantising the MatMuls dynamically (weights int8 per output channel, activations
uint8 per batch) lets onnxruntime use its integer kernels (AVX-512 VNNI on the test machine). Measured there
(benchmarks/embedder_speed.py): 2.1x the texts per second, one question 7.3 -> 3.3 ms, vectors at cosine 0.993
of the float ones. Because the activations are scaled per batch, a text's vector shifts a little with the batch
it is embedded in (cosine >= 0.98), and near-identical texts score about 0.013 lower (near_duplicate_threshold
is set for that).

Nothing is downloaded: the copy is derived from the packaged file, named by that file's hash and the
onnxruntime version that made it, written atomically under a file lock (two processes starting at once make it
once), and made again if it is missing or unreadable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import storage.offline  # noqa: F401  (sets ORT_DISABLE_TELEMETRY before onnxruntime is imported)

# isort: split

from filelock import FileLock

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The user's cache folder for secondme (settings.cache_dir): files derived from packaged models."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("secondme", appauthor=False))


def dynamic_int8_copy(source: Path, cache_dir: Path, name: str) -> Path:
    """The path of `source` with its MatMuls quantised to int8, made on first use and reused afterwards."""
    import onnxruntime as ort

    target = cache_dir / f"{name}-{_sha256(source)[:16]}-ort{ort.__version__}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():  # another process may have made it while this one waited
            log.info("quantising %s to int8 once for this machine (a few seconds)", source.name)
            _quantise(source, target)
    return target


def discard(path: Path) -> None:
    """Remove a cached copy onnxruntime could not load, so the next call makes it again."""
    path.unlink(missing_ok=True)


def _quantise(source: Path, target: Path) -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantise-") as work:
        # Basic graph optimisation folds the Cast + Mul on each int8 weight into a float constant, so the
        # quantiser sees plain MatMuls with constant weights (it leaves alone a MatMul whose weight is computed).
        folded = Path(work) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        partial = Path(work) / target.name
        quiet = logging.getLogger()  # the quantiser logs advice about calibration on the root logger
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            # Per-channel signed weights: at cosine 0.993 to the float vectors, against 0.957 per tensor.
            quantize_dynamic(str(folded), str(partial), op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8, per_channel=True)
        finally:
            quiet.setLevel(level)
        os.replace(partial, target)  # atomic: a crash never leaves half a model under the final name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
