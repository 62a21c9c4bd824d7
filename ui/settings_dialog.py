"""Settings: model catalogue, generation, memory, privacy. Saved to the TOML config (assistant.settings_store)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.config import Settings, config_file, save_settings
from assistant.hotkey_spec import normalize_hotkey
from assistant.llm.catalog import CatalogEntry, inspect_model, list_models, ram_warning
from storage.errors import UserError
from ui.privacy import delete_everything, export_everything

GENERATION_FIELDS = ("temperature", "max_tokens", "context_size", "threads", "gpu_layers",
                     "chat_template_fallback", "system_prompt")
# Fields shown elsewhere or not meant to be edited here (where data lives, the ONNX embedder, the model list).
APP_FIELDS = ("quick_recall_hotkey",)
NOT_MEMORY = set(GENERATION_FIELDS) | set(APP_FIELDS) | {
    "home", "chat_model_path", "chat_models", "embedder", "disabled_plugins", "embedder_model_path",
    "embedder_tokenizer_path"}


def env_overridden(field: str) -> bool:
    """SECONDME_<FIELD> wins over the file, so the dialog shows that field read-only."""
    return f"SECONDME_{field.upper()}" in os.environ


def validate(changes: dict) -> None:
    """Refuse a bad value before anything is written (one line that names the setting)."""
    try:
        Settings(**{k: v for k, v in changes.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"Invalid value for '{first['loc'][0]}': {first['msg']}.") from None
    try:
        normalize_hotkey(changes.get("quick_recall_hotkey", ""))
    except ValueError as exc:
        raise UserError(f"Invalid value for 'quick_recall_hotkey': {exc}.") from None


def model_label(entry: CatalogEntry) -> str:
    size = f"{entry.info.size_bytes / 1e6:,.0f} MB" if entry.info else "unreadable"
    return f"{entry.path.name} — {size}" + (" (packaged)" if entry.origin == "packaged" else "")


def model_details(entry: CatalogEntry) -> str:
    if entry.info is None:
        return f"{entry.path}\n{entry.error}"
    i = entry.info
    lines = [str(entry.path), f"{i.architecture}, {i.parameters_label} parameters, {i.quantization}; file "
             f"{i.size_bytes / 1e6:,.0f} MB; needs about {i.ram_estimate_bytes / 1e6:,.0f} MB of memory."]
    warning = ram_warning(i)
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def _editor_for(name: str, info, value):
    """A spin box for numbers, a check box for switches, a line edit otherwise; None for what cannot be edited."""
    annotation = info.annotation
    lower, upper = 0, 10**9
    for m in info.metadata:
        lower = getattr(m, "ge", lower) if getattr(m, "ge", None) is not None else lower
        upper = getattr(m, "le", upper) if getattr(m, "le", None) is not None else upper
    if annotation is bool:
        w = QCheckBox()
        w.setChecked(bool(value))
    elif annotation is int:
        w = QSpinBox()
        w.setRange(int(lower), int(min(upper, 2**31 - 1)))
        w.setValue(int(value))
    elif annotation is float:
        w = QDoubleSpinBox()
        w.setDecimals(3)
        w.setRange(float(lower), float(min(upper, 1e9)))
        w.setSingleStep(0.05)
        w.setValue(float(value))
    elif annotation is str:
        w = QLineEdit(str(value))
    else:
        return None
    if info.description:
        w.setToolTip(info.description)
    return w


def _value_of(w):
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, (QSpinBox, QDoubleSpinBox)):
        return w.value()
    return w.text()


class SettingsDialog(QDialog):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Settings")
        self.settings: Settings = ctx.app.settings
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._model_tab(), "Model")
        self.tabs.addTab(self._fields_tab(GENERATION_FIELDS), "Generation")
        memory_fields = [n for n in Settings.model_fields if n not in NOT_MEMORY]
        self.tabs.addTab(self._fields_tab(memory_fields), "Memory")
        self.tabs.addTab(self._plugins_tab(), "Plugins")
        self.tabs.addTab(self._app_tab(), "App")
        self.tabs.addTab(self._privacy_tab(), "Privacy")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save_and_close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    # -- tabs --------------------------------------------------------------------------------------
    def _model_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.model_box = QComboBox()
        self.models: list[CatalogEntry] = list_models(self.settings)
        self.added: list[Path] = [Path(p) for p in self.settings.chat_models]
        for i, entry in enumerate(self.models):
            self.model_box.addItem(model_label(entry), entry)
            if entry.active:
                self.model_box.setCurrentIndex(i)
        self.model_box.currentIndexChanged.connect(self._show_model)
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        add = QPushButton("Add GGUF…")
        add.clicked.connect(self._add_model)
        row.addWidget(add)
        form.addRow("Chat model", row)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        form.addRow("", self.model_info)
        if env_overridden("chat_model_path"):
            self.model_box.setEnabled(False)
            self.model_box.setToolTip("Set by SECONDME_CHAT_MODEL_PATH")
        note = QLabel(f"Put .gguf files in {self.settings.models_dir} to list them here. Nothing is downloaded: "
                      "this app works offline; download a model yourself if you want another one.")
        note.setWordWrap(True)
        form.addRow(note)
        self._show_model()
        return page

    def _show_model(self, *_args) -> None:
        entry = self.model_box.currentData()
        if entry is not None:
            self.model_info.setText(model_details(entry))

    def add_model(self, path: Path) -> CatalogEntry:
        """Add a GGUF the user picked (checked by reading its header, not loading it) and select it."""
        path = Path(path).expanduser().resolve()
        info = inspect_model(path, self.settings.context_size)  # a one-line UserError for a bad file
        entry = CatalogEntry(path=path, origin="added", active=False, info=info, error=None)
        self.models.append(entry)
        if path not in self.added:
            self.added.append(path)
        self.model_box.addItem(model_label(entry), entry)
        self.model_box.setCurrentIndex(self.model_box.count() - 1)
        return entry

    def _add_model(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", str(Path.home()), "GGUF models (*.gguf)")
        if name:
            try:
                self.add_model(Path(name))
            except UserError as exc:
                self.message.setText(str(exc))

    def _fields_tab(self, names) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for name in names:
            info = Settings.model_fields[name]
            w = _editor_for(name, info, getattr(self.settings, name))
            if w is None:
                continue
            if env_overridden(name):
                w.setEnabled(False)
                w.setToolTip(f"Set by SECONDME_{name.upper()}")
            self.editors[name] = w
            form.addRow(name.replace("_", " "), w)
        return page

    def _plugins_tab(self) -> QWidget:
        """Every plugin with its source and hooks; unticking one adds it to disabled_plugins."""
        page = QWidget()
        layout = QVBoxLayout(page)
        self.plugin_boxes: dict[str, QCheckBox] = {}
        disabled = set(self.settings.disabled_plugins)
        infos = {info.name: info for info in self.ctx.app.plugins.list()}
        for name in sorted(set(infos) | disabled):
            info = infos.get(name)
            box = QCheckBox(name if info is None else f"{name} {info.version}".strip())
            box.setChecked(name not in disabled)
            box.setEnabled(not env_overridden("disabled_plugins"))
            if info is None:
                detail = "disabled: not loaded"
            elif info.status == "failed":
                detail = f"failed and turned off for this session: {info.error}"
            else:
                detail = f"{info.source}; hooks: {', '.join(info.hooks) or 'none'}"
            box.setToolTip(detail)
            layout.addWidget(box)
            note = QLabel(detail)
            note.setWordWrap(True)
            note.setIndent(24)
            layout.addWidget(note)
            self.plugin_boxes[name] = box
        layout.addStretch(1)
        return page

    def _app_tab(self) -> QWidget:
        page = self._fields_tab(APP_FIELDS)
        form = page.layout()
        hint = QLabel("For example Ctrl+Alt+Space or Super+R (Super: the Windows/Command key); empty turns it off. "
                      "It works on X11, Windows and macOS (which asks for the Accessibility permission). Wayland "
                      "lets no application watch the keyboard: there, bind `secondme --quick-recall` to a "
                      "shortcut in your desktop's keyboard settings.")
        hint.setWordWrap(True)
        form.addRow(hint)
        self.close_to_tray = QCheckBox("Closing the window keeps secondme in the system tray")
        self.close_to_tray.setChecked(self.ctx.qsettings.value("close_to_tray", True, type=bool))
        form.addRow(self.close_to_tray)
        return page

    def _privacy_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        where = QLabel(f"Everything stays on this computer. Your data lives in <b>{self.settings.home}</b>; "
                       f"settings in <b>{config_file()}</b>. Nothing is sent anywhere.")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(where)
        export = QPushButton("Export everything…")
        export.clicked.connect(self._export_all)
        layout.addWidget(export)
        delete = QPushButton("Delete all my data…")
        delete.clicked.connect(self._delete_all)
        layout.addWidget(delete)
        layout.addStretch(1)
        return page

    # -- privacy actions ---------------------------------------------------------------------------
    def _export_all(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export everything", "secondme-export.json", "JSON (*.json)")
        if name:
            self.ctx.tasks.run(lambda _progress: export_everything(self.ctx, Path(name)),
                               lambda path: self.message.setText(f"Exported to {path}."),
                               lambda exc: self.message.setText(str(exc)), owner=self,
                               activity="Exporting everything…")

    def _delete_all(self) -> None:
        text, ok = QInputDialog.getText(self, "Delete all my data",
                                        "This deletes every chat and every memory for good. Type DELETE to confirm:")
        if ok and text.strip() == "DELETE":
            self.ctx.tasks.run(lambda _progress: delete_everything(self.ctx),
                               lambda counts: (self.message.setText(
                                   f"Deleted {counts['memories']} memories and {counts['sessions']} chats."),
                                   self.ctx.events.memories_changed.emit()),
                               lambda exc: self.message.setText(str(exc)), owner=self,
                               activity="Deleting all data…")
        elif ok:
            self.message.setText("Nothing deleted: type DELETE exactly to confirm.")

    # -- saving ------------------------------------------------------------------------------------
    def changes(self) -> dict:
        out = {name: _value_of(w) for name, w in self.editors.items() if w.isEnabled()}
        if self.plugin_boxes and not env_overridden("disabled_plugins"):
            out["disabled_plugins"] = sorted(n for n, box in self.plugin_boxes.items() if not box.isChecked())
        entry = self.model_box.currentData()
        if self.model_box.isEnabled() and entry is not None:
            out["chat_model_path"] = None if entry.origin == "packaged" else str(entry.path)
            out["chat_models"] = [str(p) for p in self.added] or None
        return out

    def save(self) -> Path:
        changes = self.changes()
        validate(changes)
        if "quick_recall_hotkey" in changes:
            changes["quick_recall_hotkey"] = normalize_hotkey(changes["quick_recall_hotkey"])
        path = save_settings(**changes)
        self.ctx.qsettings.setValue("close_to_tray", self.close_to_tray.isChecked())
        self.ctx.events.status.emit(f"Settings saved to {path}; they take effect the next time secondme starts.")
        return path

    def save_and_close(self) -> None:
        try:
            self.save()
        except UserError as exc:
            self.message.setText(str(exc))
            return
        self.accept()
