"""The model catalogue: GGUF files in the data folder's models/ and any path the user added.

Metadata comes from llama.cpp's own loader in vocab-only mode: it parses the GGUF header, the key/value
metadata and the tensor table (and checks every tensor lies inside the file) without reading the weights,
so listing a 2 GB model takes a fraction of a second.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import llama_cpp

from assistant.llm import llama_logs
from assistant.llm.gguf import check_gguf_header, default_chat_model_path
from storage.errors import UserError

# general.file_type number -> the quantisation name people know ("Q4_K_M"), from llama.cpp's own constants.
FILE_TYPES = {
    getattr(llama_cpp, name): name.removeprefix("LLAMA_FTYPE_MOSTLY_").removeprefix("LLAMA_FTYPE_ALL_")
    for name in dir(llama_cpp)
    if name.startswith(("LLAMA_FTYPE_MOSTLY_", "LLAMA_FTYPE_ALL_"))
}
# Compute buffers, the logits of one batch and the runtime itself, beyond weights and KV cache.
RUNTIME_OVERHEAD_BYTES = 80 * 1024 * 1024


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    architecture: str
    size_bytes: int
    parameters: int
    quantization: str
    context_length: int
    has_chat_template: bool
    ram_estimate_bytes: int
    metadata: dict[str, str]

    def to_json(self, with_metadata: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        if not with_metadata:
            out.pop("metadata")
        return out

    @property
    def parameters_label(self) -> str:
        n = self.parameters
        return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def read_metadata(path: Path) -> tuple[dict[str, str], int]:
    """(GGUF key/value metadata as strings, parameter count), without loading any weights."""
    path = Path(path).expanduser()
    check_gguf_header(path)
    llama_logs.install()
    llama_logs.take_last_error()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        why = llama_logs.take_last_error() or "unreadable metadata"
        raise UserError(f"{path} is damaged or incomplete ({why}); download it again or choose another file.")
    try:
        metadata = {}
        buf = ctypes.create_string_buffer(1024)
        for i in range(llama_cpp.llama_model_meta_count(model)):
            if llama_cpp.llama_model_meta_key_by_index(model, i, buf, len(buf)) < 0:
                continue
            key = buf.value.decode("utf-8", "replace")
            size = llama_cpp.llama_model_meta_val_str_by_index(model, i, None, 0)
            value = ctypes.create_string_buffer(max(size, 0) + 1)
            llama_cpp.llama_model_meta_val_str_by_index(model, i, value, len(value))
            metadata[key] = value.value.decode("utf-8", "replace")
        return metadata, int(llama_cpp.llama_model_n_params(model))
    finally:
        llama_cpp.llama_model_free(model)


def _int(metadata: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(float(metadata.get(key, default)))
    except ValueError:
        return default


def kv_cache_bytes(metadata: dict[str, str], context_size: int) -> int:
    """f16 K and V for every layer at `context_size` tokens (grouped-query attention aware)."""
    arch = metadata.get("general.architecture", "")
    layers = _int(metadata, f"{arch}.block_count")
    embd = _int(metadata, f"{arch}.embedding_length")
    heads = _int(metadata, f"{arch}.attention.head_count", 1) or 1
    kv_heads = _int(metadata, f"{arch}.attention.head_count_kv", heads) or heads
    key_len = _int(metadata, f"{arch}.attention.key_length", embd // heads)
    value_len = _int(metadata, f"{arch}.attention.value_length", embd // heads)
    return layers * context_size * kv_heads * (key_len + value_len) * 2


def inspect_model(path: Path, context_size: int = 4096) -> ModelInfo:
    """Validate a GGUF file and describe it; raises UserError with what to do for a bad file."""
    path = Path(path).expanduser().resolve()
    metadata, parameters = read_metadata(path)
    arch = metadata.get("general.architecture", "unknown")
    trained_ctx = _int(metadata, f"{arch}.context_length")
    used_ctx = min(context_size, trained_ctx) if trained_ctx else context_size
    size = path.stat().st_size
    file_type = _int(metadata, "general.file_type", -1)
    return ModelInfo(
        path=path,
        name=metadata.get("general.name") or path.stem,
        architecture=arch,
        size_bytes=size,
        parameters=parameters,
        quantization=FILE_TYPES.get(file_type, "unknown" if file_type < 0 else f"type {file_type}"),
        context_length=trained_ctx,
        has_chat_template="tokenizer.chat_template" in metadata,
        ram_estimate_bytes=size + kv_cache_bytes(metadata, used_ctx) + RUNTIME_OVERHEAD_BYTES,
        metadata=metadata,
    )


def available_ram_bytes() -> int | None:
    """Memory the system can give a new program now, or None where it cannot be told."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def total_ram_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def ram_warning(info: ModelInfo) -> str | None:
    free = available_ram_bytes()
    if free is not None and info.ram_estimate_bytes > free:
        return (f"{info.path.name} needs about {info.ram_estimate_bytes / 2**30:.1f} GiB but only "
                f"{free / 2**30:.1f} GiB is free; close other programs or pick a smaller model.")
    return None


@dataclass(frozen=True)
class CatalogEntry:
    path: Path
    origin: str  # packaged | models folder | added
    active: bool
    info: ModelInfo | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out = {"path": str(self.path), "origin": self.origin, "active": self.active, "error": self.error}
        if self.info:
            out.update(self.info.to_json())
            out["ram_warning"] = ram_warning(self.info)
        return out


def active_model_path(settings) -> Path:
    return Path(settings.chat_model_path).expanduser() if settings.chat_model_path else default_chat_model_path()


def list_models(settings) -> list[CatalogEntry]:
    """Every model the user can pick: the packaged default, models/*.gguf, and added paths (deduplicated)."""
    candidates: list[tuple[Path, str]] = []
    try:
        candidates.append((default_chat_model_path(), "packaged"))
    except UserError:
        pass
    if settings.models_dir.is_dir():
        candidates += [(p, "models folder") for p in sorted(settings.models_dir.glob("*.gguf"))]
    candidates += [(Path(p).expanduser(), "added") for p in settings.chat_models]
    if settings.chat_model_path:
        candidates.append((Path(settings.chat_model_path).expanduser(), "added"))
    active = _resolved(active_model_path(settings))
    entries, seen = [], set()
    for path, origin in candidates:
        key = _resolved(path)
        if key in seen:
            continue
        seen.add(key)
        try:
            info, error = inspect_model(path, settings.context_size), None
        except UserError as exc:
            info, error = None, str(exc)
        entries.append(CatalogEntry(path=Path(key), origin=origin, active=key == active, info=info, error=error))
    return entries


def _resolved(path: Path) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except OSError:
        return Path(path)
