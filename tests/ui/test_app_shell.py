"""The app around the screens: settings round trip, quick recall, single instance, tray, theme, first run, jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from tests.conftest import REPO
from tests.ui.conftest import wait_tasks


def test_settings_round_trip_to_the_toml_file(window, ctx, home, qtbot):
    from assistant.config import config_file, load_settings
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    dialog.editors["temperature"].setValue(0.3)
    dialog.editors["max_tokens"].setValue(200)
    dialog.editors["recall_k"].setValue(7)
    dialog.close_to_tray.setChecked(False)
    dialog.editors["quick_recall_hotkey"].setText("super + shift + k")
    dialog.save()
    data = tomllib.loads(config_file().read_text())
    assert data["temperature"] == pytest.approx(0.3) and data["max_tokens"] == 200 and data["recall_k"] == 7
    assert data["quick_recall_hotkey"] == "Shift+Super+K"
    assert "chat_model_path" not in data  # the packaged model is the default: nothing to write
    fresh = load_settings()
    assert (fresh.temperature, fresh.max_tokens, fresh.recall_k) == (pytest.approx(0.3), 200, 7)
    assert ctx.qsettings.value("close_to_tray", type=bool) is False
    # A new dialog shows what was saved.
    ctx.app.settings = fresh
    again = SettingsDialog(ctx, window)
    qtbot.addWidget(again)
    assert again.editors["max_tokens"].value() == 200 and not again.close_to_tray.isChecked()
    assert "SmolLM2" in again.model_box.currentText() and "MB" in again.model_box.currentText()


def test_settings_refuse_bad_input(window, ctx, tmp_path, qtbot, monkeypatch):
    from assistant.config import config_file
    from storage.errors import UserError
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("hello")
    with pytest.raises(UserError):
        dialog.add_model(not_a_model)
    with pytest.raises(UserError):
        dialog.add_model(tmp_path / "missing.gguf")
    dialog.editors["chat_template_fallback"].setText("")
    dialog.editors["system_prompt"].setText("Be brief.")
    dialog.editors["quick_recall_hotkey"].setText("Ctrl+Spcae")
    dialog.save_and_close()
    assert "quick_recall_hotkey" in dialog.message.text() and "Unknown key 'Spcae'" in dialog.message.text()
    assert not config_file().exists()
    dialog.editors["quick_recall_hotkey"].setText("Ctrl+Alt+Space")
    monkeypatch.setattr(dialog, "changes", lambda: {"temperature": 5.0})  # beyond what the spin box allows
    dialog.save_and_close()
    assert "temperature" in dialog.message.text() and not config_file().exists()
    # An environment variable wins over the file, so the field is read-only and never written.
    monkeypatch.setenv("SECONDME_THREADS", "3")
    locked = SettingsDialog(ctx, window)
    qtbot.addWidget(locked)
    assert not locked.editors["threads"].isEnabled()
    assert "threads" not in locked.changes()


def test_add_a_gguf_to_the_catalogue(window, ctx, tmp_path, qtbot):
    import shutil

    from assistant.config import config_file, load_settings
    from assistant.llm.gguf import default_chat_model_path
    from ui.settings_dialog import SettingsDialog

    copy = tmp_path / "my-model.gguf"
    shutil.copy(default_chat_model_path(), copy)
    dialog = SettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    entry = dialog.add_model(copy)
    assert entry.info.size_bytes == copy.stat().st_size
    assert "my-model.gguf" in dialog.model_box.currentText() and "memory" in dialog.model_info.text()
    dialog.save()
    saved = load_settings()
    assert saved.chat_model_path == copy.resolve() and copy.resolve() in [p.resolve() for p in saved.chat_models]
    assert str(copy.resolve()) in config_file().read_text()


def test_quick_recall_popup_finds_copies_and_closes(window, ctx, app, qtbot):
    app.memory.remember("The Wi-Fi password at the cabin is on the fridge")
    app.memory.remember("My sister Ana is a nurse in Porto")
    popup = window.quick_recall
    window.show_quick_recall()
    assert popup.isVisible() and popup.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    with qtbot.waitSignal(popup.results_shown, timeout=20_000) as shown:
        qtbot.keyClicks(popup.input, "cabin wifi")
    assert shown.args[0] >= 1
    assert "Wi-Fi" in popup.results.item(0).text()
    qtbot.keyClick(popup.input, Qt.Key.Key_Return)
    assert QGuiApplication.clipboard().text() == "The Wi-Fi password at the cabin is on the fridge"
    qtbot.keyClick(popup.input, Qt.Key.Key_Down)
    assert popup.results.currentRow() == min(1, popup.results.count() - 1)
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    assert not popup.isVisible()


def test_quick_recall_debounces_typing_into_one_search(window, ctx, app, qtbot):
    app.memory.remember("My bike is a green Brompton")
    popup = window.quick_recall
    window.show_quick_recall()
    searches = []
    original = app.memory.recall
    app.memory.recall = lambda *a, **k: (searches.append(a[0]), original(*a, **k))[1]
    with qtbot.waitSignal(popup.results_shown, timeout=20_000):
        qtbot.keyClicks(popup.input, "green bike")
    assert searches == ["green bike"]


def test_quick_recall_asks_in_one_line(window, ctx, qtbot):
    popup = window.quick_recall
    ctx.chat.answer = "On the fridge."
    window.show_quick_recall()
    popup.input.setText("where is the cabin password?")
    qtbot.keyClick(popup.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: popup.answer.text() == "On the fridge.", timeout=10_000)
    titles = [s.title for s in ctx.chat.list_sessions()]
    assert titles == ["Quick questions"]
    popup.input.setText("and the boat key?")
    qtbot.keyClick(popup.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not popup._asking, timeout=10_000)
    assert len(ctx.chat.list_sessions()) == 1  # the same chat collects the quick questions
    assert window.chat_view.messages == []  # the chat view did not pick up the popup's answer


def test_single_instance_second_launch_raises_quick_recall(window, ctx, home, qtbot):
    from ui.single_instance import InstanceServer

    server = InstanceServer(home, window)
    assert server.listening
    server.message_received.connect(
        lambda m: window.show_quick_recall() if m == "quick-recall" else window.bring_to_front())
    # DISPLAY only gets past the "no display" check; Qt itself draws offscreen.
    env = dict(os.environ, SECONDME_HOME=str(home), QT_QPA_PLATFORM="offscreen",
               DISPLAY=os.environ.get("DISPLAY", ":0"))
    child = subprocess.Popen([sys.executable, "-c", "from assistant.cli import main; main()", "--quick-recall"],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with qtbot.waitSignal(server.message_received, timeout=60_000) as got:
        pass
    out, err = child.communicate(timeout=60)
    assert got.args == ["quick-recall"]
    assert child.returncode == 0, err.decode()
    assert "already running" in out.decode()
    assert window.quick_recall.isVisible()
    server.close()


def test_tray_menu_and_close_to_tray(window, ctx, qtbot):
    from ui.tray import Tray

    window.tray = Tray(window)
    window.tray.show()
    actions = [a.text() for a in window.tray.menu.actions() if a.text()]
    assert actions == ["Open", "Quick recall", "Pause memory", "Quit"]
    window.tray.pause_action.setChecked(True)
    assert ctx.chat.memory_paused is True
    window.tray.pause_action.setChecked(False)
    assert ctx.chat.memory_paused is False
    # Closing keeps the app running in the tray (when the tray shows and the setting is on).
    if window.tray.isVisible():
        window.close()
        assert not window.isVisible() and not window._quitting
        window.tray.menu.actions()[0].trigger()
        assert window.isVisible()
    window.tray.hide()


def test_theme_follows_the_colour_scheme(qapp):
    from ui.theme import apply_theme

    assert apply_theme(qapp, Qt.ColorScheme.Dark) is True
    dark = qapp.palette().color(QPalette.ColorRole.Window)
    assert dark.lightness() < 80
    assert apply_theme(qapp, Qt.ColorScheme.Light) is False
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 180


def test_window_geometry_and_last_session_are_restored(ctx, qtbot):
    from ui.main_window import MainWindow

    first = ctx.chat.new_session("one")
    second = ctx.chat.new_session("two")
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    w.resize(790, 500)  # within the offscreen screen (800 wide), which restoreGeometry clamps to
    w.sidebar.select(first.id)
    w.save_state()
    w.hide()
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    assert again.sidebar.current_session_id() == first.id != second.id
    assert again.chat_view.session_id == first.id
    assert (again.size().width(), again.size().height()) == (790, 500)
    assert (ctx.app.settings.home / "ui.ini").is_file()  # under SECONDME_HOME: tests never touch the user's


def test_first_run_checks_both_models(ctx, app, qtbot):
    from ui.first_run import FirstRunDialog

    dialog = FirstRunDialog(ctx)
    qtbot.addWidget(dialog)
    assert "stays on this computer" in dialog.findChildren(type(dialog.chat_status))[0].text()
    dialog.check_models()
    qtbot.waitUntil(lambda: len(dialog.results) == 2, timeout=30_000)
    assert dialog.results == {"embedder": True, "chat": True}
    assert "384" in dialog.embedder_status.text() and "ready" in dialog.chat_status.text()


def test_jobs_panel_lists_runs(window, ctx, app, qtbot):
    from storage.models import JobRun
    from storage.timeutil import utcnow

    window.tabs.setCurrentWidget(window.jobs_panel)
    assert window.jobs_panel.table.rowCount() == 0 and "No background job" in window.jobs_panel.summary.text()
    with app.db.session() as s:  # a run as the scheduler records it
        s.add(JobRun(job="forgetting", status="ok", finished_at=utcnow(), counts={"archived": 3}))
    window.jobs_panel.refresh_button.click()
    assert window.jobs_panel.table.rowCount() == 1
    assert window.jobs_panel.table.item(0, 0).text() == "forgetting"
    assert "archived" in window.jobs_panel.table.item(0, 4).text()


def test_keyboard_shortcuts(window, ctx, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert len(ctx.chat.list_sessions()) == 1 and window.chat_view.session_id == ctx.chat.list_sessions()[0].id
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.memory_browser
    assert QApplication.focusWidget() is window.memory_browser.search_tab.query
    wait_tasks(qtbot, ctx)


def test_jobs_panel_runs_a_job_now_through_the_job_service(window, ctx, app, qtbot):
    from storage.models import JobRun
    from storage.timeutil import utcnow

    class FakeJobs:  # the list()/run() interface of assistant.jobs.JobService (unit level)
        def __init__(self):
            self.ran = []

        def list(self):
            return [{"job": "forgetting", "schedule": "every 24 h", "next_run": None, "last_run": None}]

        def run(self, name):
            self.ran.append(name)
            with app.db.session() as s:
                s.add(JobRun(job=name, status="ok", finished_at=utcnow(), counts={"archived": 1}))

    panel = window.jobs_panel
    panel.jobs = FakeJobs()
    panel.refresh()
    assert not panel.jobs_table.isHidden()
    assert panel.jobs_table.item(0, 0).text() == "forgetting" and panel.jobs_table.item(0, 3).text() == "never"
    panel.jobs_table.cellWidget(0, 4).click()
    wait_tasks(qtbot, ctx)
    assert panel.jobs.ran == ["forgetting"]
    assert panel.table.rowCount() == 1 and "archived" in panel.table.item(0, 4).text()


def test_privacy_export_all_then_delete_all(window, ctx, app, qtbot, tmp_path, monkeypatch):
    import json

    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from ui.settings_dialog import SettingsDialog

    kept = app.memory.remember("My passport number is in the safe")
    ctx.chat.send(ctx.chat.new_session("trip").id, "Where is my passport?")
    stored_chat = app.chat.new_session("stored trip").id  # the fake chat above keeps its sessions in memory
    app.chat.store.add_message(stored_chat, "user", "Is my passport still valid?", {})
    dialog = SettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    assert any(str(app.settings.home) in label.text() for label in dialog.findChildren(type(dialog.message)))
    target = tmp_path / "everything.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    dialog._export_all()
    wait_tasks(qtbot, ctx)
    exported = json.loads(target.read_text())  # the full export, which `secondme import json` restores
    assert (exported["format"], exported["version"]) == ("secondme-export", 2)
    assert [m["text"] for m in exported["memories"]] == ["My passport number is in the safe"]
    assert [m["text"] for s in exported["sessions"] for m in s["messages"]] == ["Is my passport still valid?"]

    # Delete all asks for the word DELETE; anything else deletes nothing.
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("delete", True))
    dialog._delete_all()
    wait_tasks(qtbot, ctx)
    assert app.memory.get(kept.id).status == "active" and "Nothing deleted" in dialog.message.text()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("DELETE", True))
    dialog._delete_all()
    wait_tasks(qtbot, ctx)
    assert app.memory.get(kept.id).status == "deleted" and app.memory.count(status="active") == 0
    assert ctx.chat.list_sessions() == []
    assert app.memory.recall("passport", k=5) == []


def test_settings_plugins_tab_disables_and_reenables_a_plugin(window, ctx, qtbot):
    import tomllib

    from assistant.app import App
    from assistant.config import config_file, load_settings
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    boxes = dialog.plugin_boxes
    assert {"poisoning-guard", "conflict-checker"} <= set(boxes) and all(b.isChecked() for b in boxes.values())
    assert "check_memory" in boxes["conflict-checker"].toolTip()
    boxes["conflict-checker"].setChecked(False)
    dialog.save()
    assert tomllib.loads(config_file().read_text())["disabled_plugins"] == ["conflict-checker"]
    fresh = App(load_settings())
    try:
        assert "conflict-checker" not in {p.name for p in fresh.plugins.list()}
    finally:
        fresh.close()
    ctx.app.settings = load_settings()
    again = SettingsDialog(ctx, window)
    qtbot.addWidget(again)
    assert not again.plugin_boxes["conflict-checker"].isChecked()  # still listed, so it can come back
    again.plugin_boxes["conflict-checker"].setChecked(True)
    again.save()
    assert load_settings().disabled_plugins == []
