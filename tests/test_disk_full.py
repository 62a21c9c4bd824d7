"""A full disk and a read-only data folder: clear errors, no corruption, nothing acknowledged lost.

Simulated with a real size-limited filesystem (a tmpfs mounted for the test), so SQLite, SQLCipher and Chroma
all meet a genuine ENOSPC / EROFS. Needs root and mount; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from storage.records import NewMemory
from tests.conftest import run_cli


def _mount(path, options: str) -> bool:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not _mount(mnt, "size=3m,mode=0700"):
        pytest.skip("cannot mount a tmpfs here")
    home = mnt / "home"
    monkeypatch.setenv("SECONDME_HOME", str(home))
    try:
        yield mnt, home
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _remount(mnt, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)


def test_disk_full_is_a_clear_error_and_corrupts_nothing(small_home, embedder):
    from assistant.app import App
    from storage.errors import DiskFull, translate

    mnt, home = small_home
    app = App(embedder=embedder)
    stored: list[int] = []
    failure = None
    for i in range(400):  # 3 MB fills long before this
        texts = [f"note {i}.{j}: " + ("lorem ipsum dolor sit amet " * 400) for j in range(4)]
        try:
            stored += [r.id for r in app.memory.remember_many([NewMemory(t) for t in texts])]
        except Exception as exc:
            failure = exc
            break
    assert failure is not None, "the disk never filled"
    typed = translate(failure)  # DiskFull itself when SQLite failed inside a session
    assert isinstance(typed, DiskFull) and "disk is full" in str(typed), repr(failure)
    assert stored, "nothing fit before the disk filled"

    print(f"\ndisk full after {len(stored)} memories: {type(failure).__name__}: {str(failure)[:120]}")
    # The command line says the same in one line (even reading: start-up needs a few bytes for its lock).
    for args in (("remember", "x" * 30_000), ("memories", "list", "--json")):
        out = run_cli(*args)
        err = out.stderr.decode()
        assert out.returncode == 0 or (out.returncode == 2 and "full" in err and err.count("\n") == 1), err
        assert "Traceback" not in err

    # Free space: everything acknowledged is intact and the indexes catch up.
    _remount(mnt, "size=64m")
    app.close()
    app = App(embedder=embedder)
    try:
        assert app.db.integrity() == "ok"
        present = {m.id for m in app.memory.list(status=None, limit=10_000)}
        assert set(stored) <= present
        app.memory.sync_vector_index()
        report = app.memory.index_report()
        assert {k: v for k, v in report.items() if isinstance(v, list) and v} == {}, report
        assert app.memory.remember("after the disk was freed").id in {m.id for m in app.memory.list()}
    finally:
        app.close()


def test_read_only_data_folder_is_a_clear_error_and_keeps_the_data(small_home):
    mnt, home = small_home
    assert run_cli("remember", "Written before the folder went read-only").returncode == 0
    _remount(mnt, "ro")
    for args in (("remember", "more"), ("recall", "written"), ("backup", str(mnt / "b.db"))):
        out = run_cli(*args)
        err = out.stderr.decode()
        assert out.returncode == 2 and "Cannot write to the data folder" in err and err.count("\n") == 1, (args, err)
    _remount(mnt, "rw")
    hits = json.loads(run_cli("recall", "written before", "--json").stdout)
    assert [h["text"] for h in hits] == ["Written before the folder went read-only"]
