"""Checks and normalisation applied to every text before it is stored."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

from storage.errors import UserError

_SPACES = re.compile(r"\s+")
# C0/C1 control characters other than tab and newline carry no meaning in a memory.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str, max_bytes: int, what: str = "text") -> str:
    """Strip control characters and outer whitespace; refuse empty or oversized text with a clear message."""
    if not isinstance(text, str):
        raise UserError(f"The {what} must be a string.")
    cleaned = _CONTROL.sub("", text).strip()
    if not cleaned:
        raise UserError(f"The {what} is empty; give some words to remember.")
    size = len(cleaned.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise UserError(
            f"The {what} is {size:,} bytes, over the {max_bytes:,}-byte limit; split it, "
            "or raise max_text_bytes in the settings."
        )
    # Lone surrogates (from broken decoders) cannot be stored as UTF-8.
    return cleaned.encode("utf-8", errors="replace").decode("utf-8")


def normalise_for_hash(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise_for_hash(text).encode("utf-8")).hexdigest()


def read_text_file(path: str | os.PathLike[str]) -> str:
    """Read a UTF-8 text file, with a one-line error for missing, binary or non-UTF-8 files."""
    from pathlib import Path

    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UserError(f"File not found: {p}") from None
    except IsADirectoryError:
        raise UserError(f"{p} is a folder; give a text file.") from None
    except PermissionError:
        raise UserError(f"Cannot read {p}: permission denied.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{p} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); convert it to UTF-8 first."
        ) from None
