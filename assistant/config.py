"""Settings: defaults, then the TOML file, then SECONDME_* environment variables (highest wins)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "secondme"


def default_home() -> Path:
    return Path(os.environ.get("SECONDME_HOME") or platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """SECONDME_CONFIG, else config.toml inside SECONDME_HOME when that is set, else the user's config dir.

    Tying the file to SECONDME_HOME keeps a temporary home (tests, benchmarks) away from the user's real settings.
    """
    if os.environ.get("SECONDME_CONFIG"):
        return Path(os.environ["SECONDME_CONFIG"])
    if os.environ.get("SECONDME_HOME"):
        return Path(os.environ["SECONDME_HOME"]) / "config.toml"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SECONDME_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Folder holding all user data.")
    max_text_bytes: int = Field(32_768, ge=256, description="Longest text accepted by remember.")
    threads: int = Field(2, ge=1, description="CPU threads for the embedder and the chat model.")

    # Embeddings
    embedder: str = "all-MiniLM-L6-v2-int8"
    embedder_model_path: Path | None = None
    embedder_tokenizer_path: Path | None = None

    # Chat model (GGUF through llama-cpp-python)
    chat_model_path: Path | None = Field(None, description="A GGUF file; empty means the packaged SmolLM2-135M.")
    context_size: int = Field(4096, ge=512)
    gpu_layers: int = 0
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=1)

    # Privacy
    encrypt_database: bool = Field(True, description="Keep the database encrypted at rest (SQLCipher).")
    secrets_backend: str = Field("auto", description="auto (OS keyring, else a 0600 file), keyring, or file.")

    # Recall
    recall_k: int = Field(10, ge=1, le=200)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    # Layout of the data directory -----------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / "secondme.db"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def plugins_dir(self) -> Path:
        return self.home / "plugins"

    @property
    def backups_dir(self) -> Path:
        return self.home / "backups"

    @property
    def config_dir(self) -> Path:
        """Where settings and the fallback secrets file live (the data folder itself when SECONDME_HOME is set)."""
        return config_file().parent


def load_settings(**overrides) -> Settings:
    from pydantic import ValidationError

    from storage.errors import UserError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UserError(f"Invalid setting '{field}': {first['msg']}; fix it in {config_file()} or SECONDME_{field.upper()}.") from None
    except Exception as exc:  # a malformed TOML file
        raise UserError(f"Cannot read settings from {config_file()}: {exc}; fix or remove that file.") from None
