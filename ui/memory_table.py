"""A read-only table of memory records, shared by every tab of the memory browser."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("#", "kind", "status", "source", "when", "pin", "text")


class MemoryTable(QTableWidget):
    memory_selected = Signal(object)  # memory id or None

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setWordWrap(False)
        header = self.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.itemSelectionChanged.connect(lambda: self.memory_selected.emit(self.selected_id()))
        self.records: list = []

    def set_records(self, records) -> None:
        keep = self.selected_id()
        self.blockSignals(True)
        self.records = list(records)
        self.setRowCount(len(self.records))
        for row, r in enumerate(self.records):
            when = r.valid_from or r.recorded_at
            values = (str(r.id), r.kind, r.status, r.source, when.strftime("%Y-%m-%d") if when else "",
                      "✓" if r.pinned else "", " ".join(r.text.split())[:200])
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                self.setItem(row, col, item)
        self.blockSignals(False)
        if keep is not None:
            self.select_id(keep)

    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        return self.records[rows[0].row()].id if rows[0].row() < len(self.records) else None

    def select_id(self, memory_id: int) -> bool:
        for row, r in enumerate(self.records):
            if r.id == memory_id:
                self.selectRow(row)
                return True
        return False

    def ids(self) -> list[int]:
        return [r.id for r in self.records]
