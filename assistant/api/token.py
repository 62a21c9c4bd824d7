"""The local API's bearer token: kept in the OS keyring, or in a 0600 file when no keyring backend exists."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from assistant.config import config_file

log = logging.getLogger(__name__)

SERVICE = "secondme"
USERNAME = "local-api-token"


def _keyring_usable():
    try:
        import keyring
        from keyring.backends import fail
    except Exception:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def token_file() -> Path:
    return config_file().parent / "api-token"


def get_or_create_token(rotate: bool = False) -> tuple[str, str]:
    """(token, where it is kept). A new random token is made on first use or when rotate is True."""
    keyring = _keyring_usable()
    if keyring is not None:
        try:
            token = None if rotate else keyring.get_password(SERVICE, USERNAME)
            if not token:
                token = secrets.token_urlsafe(32)
                keyring.set_password(SERVICE, USERNAME, token)
            return token, "the OS keyring"
        except Exception as exc:  # a locked or broken keyring: fall back rather than refuse to serve
            log.warning("keyring unavailable (%s); keeping the API token in a file instead", exc)
    path = token_file()
    if not rotate and path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, str(path)
    log.warning("no OS keyring backend; the API token is kept in %s (readable only by you)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token)
    os.chmod(path, 0o600)
    return token, str(path)


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
