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

from storage.quantize import default_cache_dir

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
    cache_dir: Path = Field(default_factory=lambda: default_cache_dir(),
                            description="Files derived from the packaged models (no user data); safe to delete.")
    max_text_bytes: int = Field(32_768, ge=256, description="Longest text accepted by remember.")
    threads: int = Field(2, ge=1, description="CPU threads for the embedder and the chat model.")

    # Embeddings
    embedder: str = Field("all-MiniLM-L6-v2-dynamic-int8", description=(
        "all-MiniLM-L6-v2-dynamic-int8 (the packaged model, quantised once into cache_dir: about twice as fast) "
        "or all-MiniLM-L6-v2-int8 (the packaged file as it is)."))
    embedder_model_path: Path | None = None
    embedder_tokenizer_path: Path | None = None

    # Chat model (GGUF through llama-cpp-python)
    chat_model_path: Path | None = Field(None, description="A GGUF file; empty means the packaged SmolLM2-135M.")
    context_size: int = Field(4096, ge=512)
    gpu_layers: int = 0
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=1, description="Longest answer, in tokens.")
    chat_models: list[Path] = Field(default_factory=list, description="GGUF files added with `secondme models add`.")
    chat_template_fallback: str = Field(
        "chatml", description="Chat template for a GGUF without one: chatml, llama-3 or mistral-instruct.")
    system_prompt: str = Field(
        "You are secondme, the user's private assistant running on their own computer. Answer briefly and "
        "truthfully. Use the recalled notes when they help; say so when you do not know.",
        description="The assistant's standing instructions, first in every prompt.")

    # Privacy
    encrypt_database: bool = Field(True, description="Keep the database encrypted at rest (SQLCipher).")
    db_cache_mb: int = Field(64, ge=2, le=4096, description=(
        "Decrypted database pages each connection keeps in memory. Recall reads scattered rows; at 100k memories "
        "a 2 MB cache decrypts most of them again on every question."))
    secrets_backend: str = Field("auto", description="auto (OS keyring, else a 0600 file), keyring, or file.")

    # Recall (see assistant/memory/recall.py for what each step does)
    recall_k: int = Field(10, ge=1, le=200)
    recall_pool: int = Field(200, ge=10, le=2000, description="Candidates each retriever hands to fusion.")
    recall_weight_keyword: float = Field(1.0, ge=0.0, description="Weight of FTS5 BM25 ranks in the fusion.")
    recall_weight_dense: float = Field(0.5, ge=0.0, description="Weight of dense (Chroma) ranks in the fusion.")
    recall_min_similarity: float = Field(
        0.3, ge=-1.0, le=1.0, description="The relevance floor: a memory that shares no word with the question "
                                          "must be at least this similar to it (cosine) to be recalled.")
    recall_weight_expansion: float = Field(0.5, ge=0.0, description="Weight of the query-expanded keyword ranks.")
    recall_expansion_terms: int = Field(5, ge=0, le=50, description="Words pseudo-relevance feedback adds; 0 = off.")
    recall_expansion_docs: int = Field(3, ge=1, le=50, description="Best texts the expansion words come from.")
    recall_expansion_max_share: float = Field(
        0.05, gt=0.0, le=1.0,
        description="Expansion words found in more than this share of memories are left out "
                    "(they cost the most); 1 = keep all.")
    recall_neighbour_weight: float = Field(0.2, ge=0.0, description="Share of a neighbouring turn's score a turn gets.")
    recall_neighbour_window: int = Field(1, ge=0, le=5, description="Turns on each side counted as neighbours.")
    recall_session_weight: float = Field(0.2, ge=0.0, description="Boost from the score of the item's session.")
    recall_speaker_boost: float = Field(
        0.2, ge=0.0, description="Extra share of score for a line said by someone the question names.")
    recall_time_mode: str = Field("boost", pattern="^(boost|filter|off)$",
                                  description="What a time phrase in the question does: boost, filter or off.")
    recall_time_boost: float = Field(1.0, ge=0.0, description="Extra share of score for memories in the asked period.")
    recall_recency_weight: float = Field(0.1, ge=0.0, description="How much fresher memories are preferred.")
    recall_recency_half_life_days: float = Field(365.0, gt=0.0)
    recall_retention_weight: float = Field(0.1, ge=0.0, description="How much well-remembered memories are preferred.")
    recall_mmr_lambda: float = Field(0.9, ge=0.0, le=1.0, description="MMR trade-off; 1 = no diversification.")

    # Background jobs (assistant/jobs). Schedules use the local time zone.
    jobs_enabled: bool = Field(True, description="Start the scheduler with the desktop app and `secondme serve`.")
    consolidation_every_hours: float = Field(6.0, gt=0)
    consolidation_idle_minutes: float = Field(20.0, gt=0, description="Also consolidate after this much idle time...")
    consolidation_idle_min_turns: int = Field(5, ge=1, description="...once at least this many new turns arrived.")
    reflection_cron: str = Field("30 3 * * *", description="Nightly reflection, crontab syntax (min hour dom mon dow).")
    forgetting_every_hours: float = Field(24.0, gt=0)
    jobs_misfire_grace_hours: float = Field(
        72.0, gt=0, description="A run missed by up to this long still runs once at start-up.")
    jobs_retry_minutes: float = Field(30.0, gt=0, description="A failed run is tried again after this long.")
    jobs_use_llm: bool = Field(True, description="Let jobs call the chat model (summaries, reflection).")

    # Consolidation
    duplicate_similarity: float = Field(
        0.85, ge=0.5, le=1.0, description="Cosine at or above which two facts may be duplicates.")
    duplicate_word_overlap: float = Field(
        0.8, ge=0.0, le=1.0, description="...and their content words must overlap this much.")
    duplicate_kinds: list[str] = Field(default_factory=lambda: ["fact"])
    related_similarity: float = Field(0.65, ge=0.0, le=1.0)
    related_top_k: int = Field(3, ge=0, le=20)
    session_finished_minutes: float = Field(30.0, gt=0, description="A session idle this long counts as finished.")
    summary_max_chars: int = Field(600, ge=100)

    # Reflection
    reflection_max_memories: int = Field(24, ge=2, le=200, description="Recent memories shown to the model per run.")
    reflection_max_thoughts: int = Field(3, ge=0, le=20)
    profile_max_lines: int = Field(
        6, ge=1, le=100, description="Profile lines the model may propose per run (more runs add more).")
    support_min_overlap: float = Field(
        0.5, gt=0.0, le=1.0, description="Share of a line's content words its sources must contain.")
    # A profile line restates one note, so it may reword little; a thought connects notes in its own words.
    profile_min_overlap: float = Field(0.75, gt=0.0, le=1.0, description="The same share for profile lines.")

    # Forgetting: retention R = exp(-t / S), S = forgetting_base_days * (0.5 + importance) * strength
    forgetting_base_days: float = Field(30.0, gt=0)
    forgetting_threshold: float = Field(0.05, gt=0.0, lt=1.0, description="Archive below this retention.")
    forgetting_recent_days: float = Field(30.0, ge=0, description="Memories recalled this recently are never archived.")
    forgetting_kinds: list[str] = Field(default_factory=lambda: ["episode", "fact", "summary", "thought"])
    reinforce_min_gap_hours: float = Field(
        12.0, ge=0, description="Recalls closer together than this do not grow stability.")

    # Write path
    # 0.94, not 0.95: the default embedder's int8 products lower the cosine of near-identical texts by about
    # 0.013 (measured over LoCoMo's turn pairs above 0.9; storage/quantize.py), so this keeps the float model's 0.95.
    near_duplicate_threshold: float = Field(
        0.94, ge=0.5, le=1.0, description="Cosine similarity above which a new memory counts as a near-duplicate.")
    similar_k: int = Field(5, ge=1, le=50, description="Nearest active memories shown to the plugin checks.")
    episode_chunk_chars: int = Field(
        2000, ge=200, description="Longer chat turns are stored as linked chunks of at most this many characters.")
    extract_facts: bool = Field(True, description="Queue each chat turn for fact extraction by the language model.")
    extraction_max_attempts: int = Field(3, ge=1, le=20)
    extraction_max_facts: int = Field(6, ge=1, le=32, description="Most facts taken from one turn.")

    # Plugins
    disabled_plugins: list[str] = Field(default_factory=list,
                                        description="Plugin names not to load, e.g. [\"conflict-checker\"].")
    plugin_timeout_s: float = Field(
        2.0, gt=0, le=60, description="A plugin hook that takes longer is disabled for the session (writes go on).")

    # Desktop app
    quick_recall_hotkey: str = Field(
        "Ctrl+Alt+Space", description="System-wide key that opens quick recall (X11, Windows, macOS; not on "
                                      "Wayland); empty turns it off. Checked by assistant.hotkey_spec where used, so "
                                      "a typo here turns the hotkey off instead of stopping the app.")
    # Local API (secondme serve): loopback only, bearer token, limits against a runaway client.
    api_port: int = Field(8765, ge=1024, le=65535)
    api_max_body_bytes: int = Field(262_144, ge=1024, description="Largest request body accepted.")
    api_rate_per_minute: int = Field(120, ge=1, description="Requests per minute before 429 Too Many Requests.")

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


def save_settings(**changes) -> Path:
    """Write these settings into the TOML file, keeping what else it holds; returns the file's path."""
    import tomllib

    import tomli_w

    from storage.errors import UserError

    path = config_file()
    try:
        current = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"Cannot read settings from {path}: {exc}; fix or remove that file.") from None
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = [str(v) for v in value] if isinstance(value, (list, tuple)) else (
                str(value) if isinstance(value, Path) else value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(current), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a settings file
    return path


def load_settings(**overrides) -> Settings:
    from pydantic import ValidationError

    from storage.errors import UserError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UserError(f"Invalid setting '{field}': {first['msg']}; "
                        f"fix it in {config_file()} or SECONDME_{field.upper()}.") from None
    except Exception as exc:  # a malformed TOML file
        raise UserError(f"Cannot read settings from {config_file()}: {exc}; fix or remove that file.") from None
