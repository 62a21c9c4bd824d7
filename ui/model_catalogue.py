"""The GGUF models this app can use: the packaged default plus any file in the models folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# llama.cpp keeps the weights in memory plus the KV cache and scratch buffers; about 1.2x the file
# plus a fixed margin is a fair first estimate for the RAM a model needs at the default context size.
RAM_FACTOR = 1.2
RAM_MARGIN_MB = 300


def _mb(n_bytes: int) -> float:
    return n_bytes / 1_000_000


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    size_bytes: int
    is_default: bool = False

    @classmethod
    def of(cls, path: Path, is_default: bool = False) -> "ModelEntry":
        return cls(Path(path), Path(path).stat().st_size, is_default)

    @property
    def ram_estimate_mb(self) -> float:
        return _mb(self.size_bytes) * RAM_FACTOR + RAM_MARGIN_MB

    @property
    def label(self) -> str:
        name = self.path.name + (" (packaged default)" if self.is_default else "")
        return f"{name} — {_mb(self.size_bytes):,.0f} MB"

    @property
    def details(self) -> str:
        return (f"{self.path}\nFile {_mb(self.size_bytes):,.0f} MB; needs about {self.ram_estimate_mb:,.0f} MB of "
                "memory to run.")


def list_models(settings) -> list[ModelEntry]:
    from assistant.llm.gguf import default_chat_model_path

    entries: list[ModelEntry] = []
    try:
        entries.append(ModelEntry.of(default_chat_model_path(), is_default=True))
    except Exception:  # the default package may be missing in a slim build; the others still show
        pass
    seen = {e.path.resolve() for e in entries}
    candidates = sorted(settings.models_dir.glob("*.gguf")) if settings.models_dir.is_dir() else []
    if settings.chat_model_path:
        candidates.append(Path(settings.chat_model_path))
    for path in candidates:
        if path.is_file() and path.resolve() not in seen:
            entries.append(ModelEntry.of(path))
            seen.add(path.resolve())
    return entries
