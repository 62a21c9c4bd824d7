"""Writing settings back to the TOML file (the GUI's settings dialog; any front end may use it).

Values are validated by building a Settings object first, so a bad value never reaches the file. Keys the
caller does not mention, and keys this version does not know, are kept as they were.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from assistant.config import Settings, config_file
from storage.errors import UserError


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    path = path or config_file()
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read settings from {path}: {exc}; fix or remove that file.") from None


def env_overridden(field: str) -> bool:
    """True when SECONDME_<FIELD> is set: the file's value would be ignored, so the GUI shows it read-only."""
    return f"SECONDME_{field.upper()}" in os.environ


def save_settings(changes: dict[str, Any], path: Path | None = None) -> Path:
    """Merge `changes` into the TOML file; None removes a key (back to the default)."""
    path = path or config_file()
    data = read_config_file(path)
    for key, value in changes.items():
        if key not in Settings.model_fields:
            raise UserError(f"Unknown setting '{key}'.")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = str(value) if isinstance(value, Path) else value
    try:
        Settings.model_validate({**data})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UserError(f"Invalid value for '{field}': {first['msg']}.") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves a half-written config
    return path
