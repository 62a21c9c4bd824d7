"""Reading a JSON file someone hands the app (an export, a chat archive): every way it can be the wrong file ends
in one line that says so, before anything is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.errors import InvalidInput


class _NotJson(Exception):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a number JSON allows")


def read_json_file(path: Path, what: str, max_bytes: int, limit_name: str = "limit") -> Any:
    """The parsed contents of `path`, which should be `what` (e.g. "ChatGPT export"); at most `max_bytes`."""
    if not path.exists():
        raise InvalidInput(f"File not found: {path}")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give the {what} file itself.")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidInput(f"{path} is {size:,} bytes, over the {max_bytes:,}-byte {limit_name}; "
                           f"it is not a {what} this version can read in one piece.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if raw.startswith(b"PK\x03\x04"):
        raise InvalidInput(f"{path} is a zip archive; unzip it and import the {what} file inside.")
    if b"\x00" in raw[:8192]:
        raise InvalidInput(f"{path} is a binary file, not a {what}.")
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not valid UTF-8 (offset {exc.start}); it is not a {what}.") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    except _NotJson as exc:
        raise InvalidInput(f"{path} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise InvalidInput(f"{path} is nested too deeply to be a {what}.") from None
