"""The system-wide quick-recall hotkey, where the platform lets an application have one.

pynput watches the keyboard on its own thread (X11: the RECORD extension; Windows: a low-level keyboard hook;
macOS: an event tap, which needs the Accessibility permission). It only watches, it does not grab: the keys
also reach the focused application. On Wayland no application may watch or grab keys (the compositor owns
the keyboard), so the hotkey is off there and `secondme --quick-recall` bound in the desktop's keyboard
settings does the job. The pynput thread never touches a widget: it emits a signal, which Qt queues to the
main thread.
"""

from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 3.0  # pynput is ready in milliseconds; this bounds a stuck start on a strange desktop
# Qt platform plugin -> what pynput uses there.
SUPPORTED_PLATFORMS = {"xcb": "X11", "windows": "Windows", "cocoa": "macOS"}
WAYLAND_HELP = ("Wayland lets no application watch the keyboard; bind `secondme --quick-recall` to a shortcut in "
                "your desktop's keyboard settings instead")
PYNPUT_MODIFIERS = {"Ctrl": "<ctrl>", "Alt": "<alt>", "Shift": "<shift>", "Super": "<cmd>"}
PYNPUT_KEYS = {"Space": "<space>", "Tab": "<tab>", "Enter": "<enter>", "Esc": "<esc>", "Insert": "<insert>",
               "Delete": "<delete>", "Backspace": "<backspace>", "Home": "<home>", "End": "<end>",
               "PageUp": "<page_up>", "PageDown": "<page_down>", "Up": "<up>", "Down": "<down>", "Left": "<left>",
               "Right": "<right>", "Pause": "<pause>", "Print": "<print_screen>"}


def pynput_combo(spec: str) -> str:
    """A normalised setting ('Ctrl+Alt+Space', see assistant.hotkey_spec) in pynput's form: '<ctrl>+<alt>+<space>'."""
    *mods, key = spec.split("+")
    if key in PYNPUT_KEYS:
        key = PYNPUT_KEYS[key]
    elif key.startswith("F") and key[1:].isdigit():
        key = f"<{key.lower()}>"
    else:
        key = key.lower()
    return "+".join([PYNPUT_MODIFIERS[m] for m in mods] + [key])


def unavailable_reason(platform: str) -> str | None:
    """Why there can be no global hotkey on this Qt platform, or None where there can."""
    if platform == "wayland":
        return WAYLAND_HELP
    if platform not in SUPPORTED_PLATFORMS:
        return f"the '{platform}' display has no keyboard to watch"
    if platform == "xcb":
        return _x11_problem()
    return None


def _x11_problem() -> str | None:
    """pynput's X11 listener dies on its own thread without a word when the server lacks RECORD: ask first."""
    try:
        from Xlib import display as xdisplay
        from Xlib.error import DisplayError
    except ImportError:
        return "python-xlib is not installed (reinstall secondme)"
    try:
        d = xdisplay.Display()
    except (DisplayError, OSError, ValueError) as exc:
        return f"cannot reach the X server at DISPLAY={os.environ.get('DISPLAY', '')!r} ({exc})"
    try:
        if not d.has_extension("RECORD"):
            return "the X server lacks the RECORD extension that watching the keyboard needs"
    finally:
        d.close()
    return None


class GlobalHotkey(QObject):
    """`activated` is emitted on the main thread each time the hotkey is pressed anywhere on the desktop."""

    activated = Signal()
    _pressed = Signal()  # emitted on pynput's thread; queued to _deliver on the main thread (this object's)

    def __init__(self, spec: str, parent: QObject | None = None):
        super().__init__(parent)
        self.spec = spec
        self.listener = None
        self._pressed.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def _deliver(self) -> None:
        self.activated.emit()  # on the main thread: whatever listens may touch widgets

    @property
    def active(self) -> bool:
        return self.listener is not None and self.listener.is_alive()

    def start(self, platform: str | None = None) -> str:
        """Start watching; returns one line for the status bar saying that it works or why it cannot."""
        platform = platform or QGuiApplication.platformName()
        reason = unavailable_reason(platform)
        if reason is None:
            try:
                from pynput import keyboard

                self.listener = keyboard.GlobalHotKeys({pynput_combo(self.spec): self._pressed.emit})
                self.listener.daemon = True
                self.listener.start()
                if not self._wait_ready(READY_TIMEOUT_S):
                    self.stop()
                    reason = "the keyboard listener did not start"
            except Exception as exc:  # an unusual desktop must never stop the app from starting
                self.listener = None
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if reason is not None:
            message = f"Global hotkey {self.spec} is off: {reason}."
            log.info(message)
            return message
        where = SUPPORTED_PLATFORMS[platform]
        if platform == "xcb" and os.environ.get("WAYLAND_DISPLAY"):
            where = "X11 windows (XWayland): it does not fire while a Wayland window has the focus"
        message = f"Press {self.spec} anywhere for quick recall ({where})."
        log.info(message)
        return message

    def _wait_ready(self, timeout: float) -> bool:
        """pynput's wait() never returns if its thread died first, so it waits on a helper thread, bounded."""
        waiter = threading.Thread(target=self.listener.wait, name="hotkey-ready", daemon=True)
        waiter.start()
        waiter.join(timeout)
        return not waiter.is_alive() and self.active

    def stop(self) -> None:
        """No more `activated` after this. (On X11 pynput's daemon thread itself ends at the next key event:
        its stop request waits in an unflushed buffer, pynput pull request 583.)"""
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
