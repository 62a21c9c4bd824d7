"""The global quick-recall hotkey: on a real X server (Xvfb) a key press from xdotool opens the popup; where no
hotkey is possible (Wayland, offscreen, no X server) it is off with one line saying why, never a crash."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from PySide6.QtCore import QThread

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


def test_pressing_the_hotkey_on_x11_opens_quick_recall(window, qapp, qtbot, monkeypatch, xvfb):
    assert shutil.which("xdotool"), "xdotool is missing: scripts/system_deps.sh installs it"
    monkeypatch.setenv("DISPLAY", xvfb)
    threads = []
    # The window here is drawn offscreen; the hotkey watches the X server's keyboard, as on an X11 desktop.
    message = window.start_global_hotkey(platform="xcb")
    window.hotkey.activated.connect(lambda: threads.append(QThread.currentThread() is qapp.thread()))
    assert message == "Press Ctrl+Alt+Space anywhere for quick recall (X11)." and window.hotkey.active
    try:
        assert not window.quick_recall.isVisible()
        subprocess.run(["xdotool", "key", "ctrl+alt+space"], env={**os.environ, "DISPLAY": xvfb}, check=True,
                       timeout=20)
        qtbot.waitUntil(window.quick_recall.isVisible, timeout=10_000)
        assert threads == [True]  # delivered on the main thread, not pynput's
        # Other keys do nothing.
        window.quick_recall.close()
        subprocess.run(["xdotool", "key", "ctrl+alt+k", "alt+space"], env={**os.environ, "DISPLAY": xvfb},
                       check=True, timeout=20)
        qtbot.wait(300)
        assert not window.quick_recall.isVisible() and threads == [True]
    finally:
        listener = window.hotkey.listener
        window.hotkey.stop()
    assert not window.hotkey.active
    # Stopped: the hotkey does nothing more, and pynput's thread ends at this next key event.
    subprocess.run(["xdotool", "key", "ctrl+alt+space"], env={**os.environ, "DISPLAY": xvfb}, check=True, timeout=20)
    listener.join(10)
    assert not listener.is_alive()
    qtbot.wait(300)
    assert not window.quick_recall.isVisible() and threads == [True]


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
