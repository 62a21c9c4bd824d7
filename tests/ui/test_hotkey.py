"""The global quick-recall hotkey: on a real X server (Xvfb) a key press from xdotool opens the running app's
popup; where no hotkey is possible (Wayland, offscreen, no X server) it is off with one line saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from ui.hotkey import pynput_combo


@pytest.fixture(scope="module")
def xvfb():
    """A private X server; its display name (e.g. ':3'). Xvfb picks a free display number itself."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/system_deps.sh installs it); no X server to press keys on")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # written once the server accepts connections; "" if it died
    if not number:
        proc.kill()
        proc.wait()
        pytest.skip("Xvfb could not be started, so there is no X server to press keys on")
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


def _visible(display: str, title: str) -> bool:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                           env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=20)
    return bool(found.stdout.split())


def _wait(condition, seconds: float, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}; the app said:\n{log.read_text()}"
        time.sleep(0.2)


def test_pressing_the_hotkey_on_x11_opens_quick_recall(home, tmp_path, xvfb):
    """The real app on an X11 display: xdotool presses the keys on the X server, the popup appears.

    The app runs in a child process of its own: python-xlib waits with select(), which cannot watch a descriptor
    numbered above 1024, and a long test run holds that many files open. (Its log cannot say when the hotkey is
    ready: llama.cpp silences the process's stderr while the model loads.)"""
    assert shutil.which("xdotool"), "xdotool is missing: scripts/system_deps.sh installs it"
    home.mkdir(parents=True, exist_ok=True)
    (home / "ui.ini").write_text("[General]\nfirst_run_done=true\n")  # no first-run dialog in the way
    log = tmp_path / "app.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": xvfb, "SECONDME_JOBS_ENABLED": "0",
           "SECONDME_EXTRACT_FACTS": "0"}

    def press(*keys: str) -> None:
        subprocess.run(["xdotool", "key", *keys], env=env, check=True, timeout=20)

    popup_shown = lambda: _visible(xvfb, "quick recall")  # noqa: E731
    with log.open("w") as out:
        app = subprocess.Popen([sys.executable, "-c", "from assistant.cli import main; main()", "--verbose"],
                               env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _visible(xvfb, "^secondme$"), 90, "the window did not show", log)
        assert not popup_shown()

        def pressed() -> bool:  # the hotkey starts just after the window shows: press until it listens
            press("ctrl+alt+space")
            time.sleep(0.3)
            return popup_shown()

        _wait(pressed, 30, "no quick-recall popup after the hotkey", log)
        press("Escape")  # the popup has the focus; Esc closes it
        _wait(lambda: not popup_shown(), 10, "Esc did not close the popup", log)
        press("ctrl+alt+k", "alt+space", "ctrl+space")  # other keys do nothing
        time.sleep(0.5)
        assert not popup_shown()
        press("ctrl+alt+space")
        _wait(popup_shown, 10, "the hotkey did not open the popup a second time", log)
        assert app.poll() is None
    finally:
        app.terminate()
        app.wait(20)
    # The press was handed to the main thread: Qt says nothing about objects touched from another thread.
    assert not any(w in log.read_text() for w in ("QObject", "QBasicTimer", "different thread")), log.read_text()


def test_no_hotkey_where_the_platform_has_none(window, monkeypatch):
    # This test run: the offscreen platform.
    assert window.start_global_hotkey() == ("Global hotkey Ctrl+Alt+Space is off: the 'offscreen' display has no "
                                            "keyboard to watch.")
    assert not window.hotkey.active and window.statusBar().currentMessage().startswith("Global hotkey")
    wayland = window.start_global_hotkey(platform="wayland")
    assert "Wayland lets no application watch the keyboard" in wayland and "secondme --quick-recall" in wayland
    monkeypatch.setenv("DISPLAY", ":4321")  # nobody there
    assert "cannot reach the X server at DISPLAY=':4321'" in window.start_global_hotkey(platform="xcb")
    assert not window.hotkey.active
    window.ctx.app.settings.quick_recall_hotkey = ""
    assert window.start_global_hotkey() == "No global hotkey: it is turned off in Settings → App."
    window.ctx.app.settings.quick_recall_hotkey = "Ctrl+Spcae"  # a typo in config.toml
    assert window.start_global_hotkey().startswith("Global hotkey is off: Unknown key 'Spcae'")


def test_hotkey_settings_are_checked_and_written_for_pynput():
    from assistant.config import Settings
    from assistant.hotkey_spec import normalize_hotkey

    assert Settings().quick_recall_hotkey == "Ctrl+Alt+Space"
    assert pynput_combo(normalize_hotkey(" ctrl + alt + space")) == "<ctrl>+<alt>+<space>"
    assert pynput_combo(normalize_hotkey("cmd+shift+r")) == "<shift>+<cmd>+r"
    assert pynput_combo(normalize_hotkey("F9")) == "<f9>"
    assert pynput_combo(normalize_hotkey("ctrl+pgdown")) == "<ctrl>+<page_down>"
    assert normalize_hotkey("  ") == ""
    for bad, why in (("Ctrl+", "empty part"), ("Hyper+K", "not a modifier"), ("Ctrl+Alt", "ends in a modifier"),
                     ("Shift+A", "would fire while typing"), ("Ctrl+Spcae", "Unknown key 'Spcae'"),
                     ("Ctrl+é", "Unknown key"), ("Ctrl++", "empty part")):
        with pytest.raises(ValueError, match=why):
            normalize_hotkey(bad)
