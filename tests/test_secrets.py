"""Secrets: the OS keyring (a real Secret Service, gnome-keyring in a private D-Bus session) or a 0600 file."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli


def test_fallback_file_is_0600_even_with_a_permissive_umask_and_doctor_warns(home, monkeypatch):
    from assistant.secrets import DATA_KEY, SecretStore

    old = os.umask(0)
    try:
        store = SecretStore(home, home, backend="auto")
        store.set("integration:mail:password", "hunter2-not-logged")
    finally:
        os.umask(old)
    assert not store.uses_keyring  # keyring has only its "fail" backend on this headless machine
    assert "readable only by you" in store.warning
    assert stat.S_IMODE(store.file.stat().st_mode) == 0o600
    assert store.get("integration:mail:password") == "hunter2-not-logged"
    key = store.data_key(create=True)
    assert len(key) == 32 and store.data_key(create=False) == key
    assert set(store.names()) == {DATA_KEY, "integration:mail:password"}
    assert store.wipe() and not store.file.exists()


def test_secrets_are_namespaced_per_data_folder(tmp_path):
    from assistant.secrets import SecretStore

    a = SecretStore(tmp_path / "a", tmp_path, backend="file")
    b = SecretStore(tmp_path / "b", tmp_path, backend="file")
    assert a.data_key(create=True) != b.data_key(create=True)
    a.wipe()
    assert a.data_key(create=False) is None and b.data_key(create=False) is not None


def test_the_api_token_is_made_once_rotated_on_request_and_wiped(tmp_path):
    from assistant.secrets import API_TOKEN, SecretStore

    store = SecretStore(tmp_path / "home", tmp_path, backend="file")
    token = store.api_token()
    assert SecretStore(tmp_path / "home", tmp_path, backend="file").api_token() == token  # after a restart
    rotated = store.api_token(rotate=True)
    assert rotated != token and store.get(API_TOKEN) == rotated
    assert store.wipe() == [API_TOKEN] and store.get(API_TOKEN) is None


def test_an_api_token_file_left_by_an_older_version_is_taken_over_once(tmp_path):
    from assistant.secrets import API_TOKEN, SecretStore

    old = "kept-by-the-old-token-module-" + "z" * 20
    legacy = tmp_path / "api-token"  # beside config.toml, where the old code wrote it
    legacy.write_text(old + "\n")
    store = SecretStore(tmp_path / "home", tmp_path, backend="file")
    assert store.api_token() == old and store.get(API_TOKEN) == old  # clients set up with it keep working
    assert not legacy.exists()
    legacy.write_text("a stale copy")  # once in the store, the store wins
    assert store.api_token() == old
    assert store.wipe() == [API_TOKEN] and not legacy.exists()  # and wipe leaves no copy behind


def test_doctor_shows_the_fallback_warning_and_fails_on_loose_permissions(home):
    assert run_cli("remember", "a first memory").returncode == 0
    checks = {c["name"]: c for c in json.loads(run_cli("doctor", "--json").stdout)}
    assert checks["keyring"]["status"] == "WARN" and "secrets.json" in checks["keyring"]["detail"]
    assert checks["encryption"]["status"] == "OK"
    os.chmod(home / "secrets.json", 0o644)
    out = run_cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert checks["keyring"]["status"] == "FAIL", checks["keyring"]
    assert out.returncode == 1 and "chmod 600" in checks["keyring"]["fix"]


def test_no_secret_reaches_the_logs_or_the_output(home):
    out = run_cli("--verbose", "remember", "something private")
    assert out.returncode == 0
    key_hex = json.loads((home / "secrets.json").read_text())
    (values,) = key_hex.values()
    for secret in values.values():
        assert secret not in out.stdout.decode() + out.stderr.decode()


def test_missing_key_for_an_encrypted_database_is_a_clear_error(home):
    assert run_cli("remember", "locked away").returncode == 0
    (home / "secrets.json").unlink()
    out = run_cli("recall", "locked")
    err = out.stderr.decode()
    assert out.returncode == 2 and "encrypted but its key is not in" in err and err.count("\n") == 1
    assert not (home / "secrets.json").exists()  # no new key was made that could never open it


# Runs inside a private D-Bus session with gnome-keyring unlocked: the real Secret Service path, end to end.
KEYRING_SCRIPT = r"""
set -e
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
printf 'test-login-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
PY="$1"
secondme() { "$PY" -c "from assistant.cli import main; main()" "$@"; }
inspect_keyring() {
  "$PY" -c '
import json, keyring
from assistant.config import load_settings
from assistant.secrets import SecretStore
s = load_settings()
store = SecretStore(s.home, s.config_dir, "keyring")
print(json.dumps({"backend": type(keyring.get_keyring()).__module__, "names": store.names(),
                  "key": keyring.get_password(store.service, "data-key")}))'
}
secondme remember "Kept under the keyring's key" >/dev/null
secondme doctor --json > "$OUT/doctor.json" || true
inspect_keyring > "$OUT/before.json"
secondme recall "keyring" --json > "$OUT/recall.json"
secondme wipe --yes >/dev/null
inspect_keyring > "$OUT/after.json"
"""


@pytest.mark.skipif(not (shutil.which("gnome-keyring-daemon") and shutil.which("dbus-run-session")),
                    reason="needs gnome-keyring and dbus (apt-get install gnome-keyring dbus)")
def test_real_keyring_holds_the_data_key_and_wipe_removes_it(home, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, HOME=str(tmp_path / "user"), XDG_DATA_HOME=str(tmp_path / "user" / "share"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), OUT=str(out_dir), SECONDME_SECRETS_BACKEND="keyring",
               PYTHONPATH=str(REPO))
    proc = subprocess.run(["dbus-run-session", "--", "bash", "-c", KEYRING_SCRIPT, "keyring-test", sys.executable],
                          env=env, cwd=REPO, capture_output=True, timeout=240)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    before = json.loads((out_dir / "before.json").read_text())
    assert before["backend"] == "keyring.backends.SecretService"
    assert before["names"] == ["data-key"] and len(before["key"]) == 64
    checks = {c["name"]: c for c in json.loads((out_dir / "doctor.json").read_text())}
    assert checks["keyring"]["status"] == "OK" and "SecretService" in checks["keyring"]["detail"]
    assert [h["text"] for h in json.loads((out_dir / "recall.json").read_text())] == ["Kept under the keyring's key"]
    assert not (home / "secrets.json").exists()  # the key never touched a file
    after = json.loads((out_dir / "after.json").read_text())
    assert after["names"] == [] and after["key"] is None
    assert not (home / "secondme.db").exists()


@pytest.mark.parametrize("value", ["", "nonsense.Backend", "keyring.backends.fail"])
def test_a_bad_keyring_backend_in_the_environment_is_one_line_not_a_traceback(home, value):
    out = run_cli("memories", "list", env={"PYTHON_KEYRING_BACKEND": value})
    err = out.stderr.decode()
    assert out.returncode == 2 and "PYTHON_KEYRING_BACKEND" in err and err.count("\n") == 1, err
