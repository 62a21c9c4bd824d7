"""Well-known instruction-tuned GGUFs to suggest by the machine's RAM, and the optional download of one.

Sizes are those of the Q4_K_M files on Hugging Face; RAM is what the model needs at a 4096-token context.
Nothing here downloads by itself: `download` runs only when the user asks for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storage.errors import UserError


@dataclass(frozen=True)
class Suggestion:
    name: str
    repo: str
    file: str
    size_mb: int
    ram_mb: int
    why: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SUGGESTIONS = [
    Suggestion("Qwen2.5 1.5B Instruct", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf",
               1117, 1600, "good fact extraction for its size; the best choice below 4 GB of free RAM"),
    Suggestion("Llama 3.2 3B Instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF",
               "Llama-3.2-3B-Instruct-Q4_K_M.gguf", 2020, 2900, "strong general chat, 128k-token context"),
    Suggestion("Qwen2.5 3B Instruct", "Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf",
               2104, 2800, "the most reliable structured (JSON) output of the three"),
]
# Leave this much RAM to the rest of the system and the app itself.
HEADROOM_MB = 1024


def recommend(free_mb: int | None) -> list[tuple[Suggestion, bool]]:
    """Every suggestion with whether it fits `free_mb` (all fit when free RAM is unknown), smallest first."""
    return [(s, free_mb is None or s.ram_mb + HEADROOM_MB <= free_mb) for s in SUGGESTIONS]


def download(repo: str, filename: str, target_dir: Path) -> Path:
    """Fetch one GGUF from Hugging Face into the models folder; fails fast and clearly when offline."""
    if not filename.endswith(".gguf"):
        raise UserError(f"'{filename}' is not a .gguf file; give the name of a GGUF file in {repo}.")
    try:
        import huggingface_hub
        from huggingface_hub.utils import HfHubHTTPError
    except ImportError:
        raise UserError("Downloading needs the huggingface_hub package: pip install huggingface_hub "
                        "(or download the file yourself and run `secondme models add PATH`).") from None
    from huggingface_hub import constants

    _require_reachable(constants.ENDPOINT)
    # The app keeps libraries offline (storage.offline); a download the user asked for lifts that for this call.
    # huggingface_hub reads its settings once at import, so they are switched on its constants module.
    changes = {"HF_HUB_OFFLINE": False, "HF_HUB_ETAG_TIMEOUT": 5, "HF_HUB_DOWNLOAD_TIMEOUT": 10}
    saved = {name: getattr(constants, name) for name in changes if hasattr(constants, name)}
    try:
        for name, value in changes.items():
            setattr(constants, name, value)
        target_dir.mkdir(parents=True, exist_ok=True)
        path = huggingface_hub.hf_hub_download(repo_id=repo, filename=filename, local_dir=target_dir)
    except HfHubHTTPError as exc:
        raise UserError(f"Download of {repo}/{filename} failed: {str(exc).splitlines()[0]}; check the names "
                        "on the model's page.") from None
    except Exception as exc:  # offline: connection errors, timeouts, LocalEntryNotFoundError
        raise UserError(f"Cannot download {repo}/{filename} ({type(exc).__name__}); check the internet "
                        "connection, or download it elsewhere and run `secondme models add PATH`.") from None
    finally:
        for name, value in saved.items():
            setattr(constants, name, value)
    return Path(path)


def _require_reachable(endpoint: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds when offline: huggingface_hub itself retries a dead connection for half a minute."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UserError(f"Cannot reach {host} ({exc.strerror or type(exc).__name__}); connect to the internet, "
                        "or download the file elsewhere and run `secondme models add PATH`.") from None
