"""Keep third-party libraries off the network.

onnxruntime looks up a telemetry host and Hugging Face libraries try hub downloads unless told not to.
These variables must be set before those libraries are imported, so every entry point calls this first.
"""

import os

OFFLINE_ENV = {
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's posthog client
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def enforce_offline_env(allow_downloads: bool = False) -> None:
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    if not allow_downloads:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


enforce_offline_env()
