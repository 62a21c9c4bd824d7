"""The report of a finished import, shown after the import runs: stored, quarantined (with the top reasons),
duplicates, skipped (with why) and the attachments that were not imported."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from assistant.imports import report_json, report_lines


def status_line(report: Any, name: str) -> str:
    """One line for the status bar: "Imported 12 memories from vault, 1 quarantined, 3 skipped."."""
    data = report_json(report)
    extra = [f"{data[key]} {label}" for key, label in (("quarantined", "quarantined"), ("duplicates", "duplicates"))
             if data.get(key)]
    skipped = sum((data.get("skipped_by_reason") or {}).values())
    if skipped:
        extra.append(f"{skipped} skipped")
    return f"Imported {data['stored']} memories from {name}" + (", " + ", ".join(extra) if extra else "") + "."


def report_text(report: Any) -> str:
    data = report_json(report)
    lines = list(report_lines(report))
    skipped = data.get("skipped") or []
    if skipped:
        lines += ["", "Skipped:"] + [f"  {line}" for line in skipped[:200]]
        if len(skipped) > 200:
            lines.append(f"  ... and {len(skipped) - 200} more")
    attachments = data.get("attachments") or []
    if attachments:
        lines += ["", "Attachments and embeds (not imported):"] + [f"  {a}" for a in attachments[:200]]
    return "\n".join(lines)


class ImportReportDialog(QDialog):
    """Non-modal: the window stays usable while the report is open."""

    def __init__(self, report: Any, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import of {name}")
        layout = QVBoxLayout(self)
        self.headline = QLabel(status_line(report, name))
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)
        self.details = QPlainTextEdit(report_text(report))
        self.details.setReadOnly(True)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.resize(640, 420)
