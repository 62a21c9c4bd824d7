"""Secrets (the data key, the local API token, integration credentials): the OS keyring, else a 0600 file.

Each data folder has its own namespace in the keyring (service "secondme/<hash of the folder>"), so a test or a
second profile never reads or overwrites the user's real keys. keyring cannot list what it holds, so the store
keeps the names it wrote (never the values) under one more entry, and `wipe()` can remove them all.

On a machine with no keyring backend (keyring's "fail" backend, e.g. headless Linux) secrets go to
`secrets.json` in the config folder, created with mode 0600; `warning` then says so, for `secondme doctor`
and the GUI. Values are never logged, printed or put in exception messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets as _random
from pathlib import Path

from storage.errors import UserError

log = logging.getLogger(__name__)

DATA_KEY = "data-key"
API_TOKEN = "api-token"
# Where the API token was kept, without a keyring, before it moved into this store: a file beside config.toml.
LEGACY_TOKEN_FILE = "api-token"
_INDEX = "_names"
FALLBACK_FILE = "secrets.json"
BACKENDS = ("auto", "keyring", "file")


def integration_secret(plugin: str, name: str) -> str:
    """The secret name for one credential of one integration plugin."""
    return f"integration:{plugin}:{name}"


class SecretStore:
    def __init__(self, home: Path, config_dir: Path, backend: str = "auto"):
        if backend not in BACKENDS:
            raise UserError(f"Unknown secrets_backend '{backend}'; use one of: {', '.join(BACKENDS)}.")
        self.service = "secondme/" + hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:16]
        self.file = Path(config_dir) / FALLBACK_FILE
        self.legacy_token_file = Path(config_dir) / LEGACY_TOKEN_FILE
        self._keyring = None if backend == "file" else _os_keyring(required=backend == "keyring")
        if self._keyring is None:
            self.backend_name = f"file {self.file} (mode 0600)"
            self.warning = (None if backend == "file" else
                            f"No OS keyring found: secrets are kept in {self.file}, readable only by you. "
                            "Install a Secret Service (e.g. gnome-keyring) to keep them in the keyring.")
        else:
            self.backend_name = f"keyring {type(self._keyring).__module__}.{type(self._keyring).__name__}"
            self.warning = None

    @property
    def uses_keyring(self) -> bool:
        return self._keyring is not None

    # -- the general store ---------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        if self._keyring is not None:
            return self._keyring_call("read", self._keyring.get_password, self.service, name)
        return self._read_file().get(name)

    def set(self, name: str, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise UserError(f"The secret '{name}' must be a non-empty string.")
        if self._keyring is not None:
            self._keyring_call("write", self._keyring.set_password, self.service, name, value)
            if name != _INDEX:
                names = set(self.names()) | {name}
                self._keyring_call("write", self._keyring.set_password, self.service, _INDEX, json.dumps(sorted(names)))
        else:
            data = self._read_file()
            data[name] = value
            self._write_file(data)
        log.info("stored secret %s in %s", name, "the keyring" if self._keyring else "the secrets file")

    def delete(self, name: str) -> bool:
        if self._keyring is not None:
            import keyring.errors

            try:
                self._keyring.delete_password(self.service, name)
            except keyring.errors.PasswordDeleteError:
                return False
            names = [n for n in self.names() if n != name]
            self._keyring_call("write", self._keyring.set_password, self.service, _INDEX, json.dumps(names))
            return True
        data = self._read_file()
        if data.pop(name, None) is None:
            return False
        self._write_file(data)
        return True

    def names(self) -> list[str]:
        if self._keyring is not None:
            raw = self._keyring_call("read", self._keyring.get_password, self.service, _INDEX)
            return json.loads(raw) if raw else []
        return sorted(self._read_file())

    def wipe(self) -> list[str]:
        """Remove every secret of this data folder (and the fallback file). Returns the names removed."""
        removed = [n for n in self.names() if self.delete(n)]
        if self.legacy_token_file.is_file():  # a token not yet moved into the store is a secret all the same
            self.legacy_token_file.unlink()
            if API_TOKEN not in removed:
                removed.append(API_TOKEN)
        if self._keyring is not None:
            import keyring.errors

            try:
                self._keyring.delete_password(self.service, _INDEX)
            except keyring.errors.PasswordDeleteError:
                pass
        return removed

    # -- the keys this app needs -----------------------------------------------------------------
    def data_key(self, create: bool) -> bytes | None:
        """The 256-bit database key; a new random one when `create` and none is stored yet."""
        stored = self.get(DATA_KEY)
        if stored:
            try:
                key = bytes.fromhex(stored)
            except ValueError:
                key = b""
            if len(key) != 32:
                raise UserError(f"The data key stored in {self.backend_name} is malformed; restore it, "
                                "or set SECONDME_HOME to another folder.")
            return key
        if not create:
            return None
        key = _random.token_bytes(32)
        self.set(DATA_KEY, key.hex())
        return key

    def api_token(self, rotate: bool = False) -> str:
        """The local API's bearer token: made on first use; a new one when `rotate` (the old one stops working)."""
        stored = self.get(API_TOKEN)
        token = None if rotate else stored or self._legacy_api_token()
        if not token:
            token = _random.token_urlsafe(32)
        if token != stored:
            self.set(API_TOKEN, token)
            # Moved into the store, or replaced by a rotation: either way the old file must not outlive it.
            self.legacy_token_file.unlink(missing_ok=True)
        return token

    def _legacy_api_token(self) -> str | None:
        """The token an older version kept in its own file: taken over, so clients set up with it keep working."""
        if not self.legacy_token_file.is_file():
            return None
        return self.legacy_token_file.read_text(encoding="utf-8").strip() or None

    # -- the fallback file -----------------------------------------------------------------------
    def _read_file(self) -> dict[str, str]:
        try:
            raw = self.file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise UserError(f"Cannot read the secrets file {self.file} ({exc.strerror}); "
                            "fix its permissions.") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise UserError(f"The secrets file {self.file} is damaged; restore it from a backup.") from None
        return data.get(self.service, {}) if isinstance(data, dict) else {}

    def _write_file(self, mine: dict[str, str]) -> None:
        """Atomic replace of a file created 0600 from the start (never briefly readable by others)."""
        try:
            everything = json.loads(self.file.read_text(encoding="utf-8")) if self.file.exists() else {}
        except (OSError, json.JSONDecodeError):
            everything = {}
        if mine:
            everything[self.service] = mine
        else:
            everything.pop(self.service, None)
        if not everything:  # the last secret of the last data folder: no file at all
            self.file.unlink(missing_ok=True)
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)  # whatever the umask said
                json.dump(everything, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise UserError(f"Cannot write the secrets file {self.file} ({exc.strerror}); "
                            "free some space or fix the folder's permissions.") from None

    def file_mode(self) -> int | None:
        try:
            return self.file.stat().st_mode & 0o777
        except FileNotFoundError:
            return None

    # -- keyring errors --------------------------------------------------------------------------
    def _keyring_call(self, what: str, fn, *args):
        import keyring.errors

        try:
            return fn(*args)
        except keyring.errors.KeyringError as exc:
            # Never fall back to the file here: a locked keyring still holds the real key.
            raise UserError(f"Cannot {what} a secret in the OS keyring ({type(exc).__name__}); "
                            "unlock the keyring and try again.") from None


def _os_keyring(required: bool):
    """The OS keyring backend, or None when keyring only has its 'fail' backend."""
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # keyring loads PYTHON_KEYRING_BACKEND by name and fails on a bad one
        chosen = os.environ.get("PYTHON_KEYRING_BACKEND", "")
        raise UserError(f"The keyring backend PYTHON_KEYRING_BACKEND={chosen!r} cannot be loaded "
                        f"({type(exc).__name__}: {exc}); unset it, or name an installed backend.") from None
    if isinstance(backend, fail.Keyring):
        if required:
            raise UserError("secrets_backend is 'keyring' but no OS keyring backend is available; "
                            "install a Secret Service (e.g. gnome-keyring) or set secrets_backend = 'auto'.")
        return None
    return backend
