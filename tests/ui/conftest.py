"""Qt tests run offscreen and fail on any Qt warning (qutebrowser's rule), except the known-harmless ones below."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QtMsgType, qInstallMessageHandler  # noqa: E402

# Messages the offscreen platform prints on every run that say nothing about our code:
HARMLESS = (
    # The offscreen plugin has no font database of its own; Qt falls back to the bundled fonts.
    "QFont::fromString",
    "Populating font family aliases",
    # Offscreen has no window manager, so it cannot honour activation / raising requests.
    "This plugin does not support raise()",
    "This plugin does not support propagateSizeHints()",
    "QWindowsWindow::setGeometry",  # (Windows only) a window larger than the virtual screen
    # No D-Bus session in a headless test run: the tray and the colour-scheme portal cannot be reached.
    "qt.qpa.theme.gnome",
    "QDBus",
    # A tray icon created on the offscreen platform (which has no tray) looks for an X11-only signal.
    "systemTrayWindowChanged",
)

_problems: list[str] = []


def _handler(mode, context, message):
    if mode in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        if not any(h in message for h in HARMLESS):
            _problems.append(f"{mode.name}: {message}")


@pytest.fixture(autouse=True)
def fail_on_qt_warnings():
    previous = qInstallMessageHandler(_handler)
    _problems.clear()
    yield
    qInstallMessageHandler(previous)
    problems = list(_problems)
    _problems.clear()
    assert not problems, "Qt warned:\n" + "\n".join(problems)


@pytest.fixture
def ctx(app, qapp):
    """The UI context over the real App, with a fake chat service unless a test swaps in the real one."""
    from tests.ui.fake_chat import FakeChat
    from ui.context import UiContext

    c = UiContext.create(app, qapp, chat=FakeChat())
    yield c
    c.shutdown()


@pytest.fixture
def window(ctx, qtbot):
    from ui.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w._quitting = True
    wait_tasks(qtbot, ctx)  # deliver late results while the widgets still exist


def wait_tasks(qtbot, ctx, timeout=20_000):
    """Until every background task has delivered its result on the main thread."""
    qtbot.waitUntil(lambda: ctx.tasks.pending == 0, timeout=timeout)


@pytest.fixture
def real_app(home, embedder, monkeypatch):
    """The real App with the real default chat model; short answers keep the tests quick."""
    from assistant.app import App

    monkeypatch.setenv("SECONDME_MAX_TOKENS", "12")
    monkeypatch.setenv("SECONDME_TEMPERATURE", "0")
    a = App(embedder=embedder)
    yield a
    a.close()


@pytest.fixture
def real_window(real_app, qapp, qtbot):
    from ui.context import UiContext
    from ui.main_window import MainWindow

    ctx = UiContext.create(real_app, qapp)
    assert ctx.chat is not None, ctx.chat_unavailable
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w._quitting = True
    wait_tasks(qtbot, ctx)
    ctx.shutdown()
