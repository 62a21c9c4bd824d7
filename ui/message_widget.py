"""One chat message: its text (Markdown once complete), Copy, and the memories the answer recalled."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QTextBrowser, QToolButton, QVBoxLayout, QWidget


def _preview(text: str, width: int = 110) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class AutoHeightBrowser(QTextBrowser):
    """A read-only text view exactly as tall as its text, so the transcript scrolls as one page."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def _fit(self, size) -> None:
        self.setFixedHeight(int(size.height()) + 6)

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.document().size().height()) + 6)


class MessageWidget(QFrame):
    memory_clicked = Signal(int)

    def __init__(self, role: str, text: str = "", message_id: int | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.role = role
        self.message_id = message_id
        self.setObjectName(f"message-{role}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        header = QHBoxLayout()
        self.who = QLabel("You" if role == "user" else "secondme")
        font = self.who.font()
        font.setBold(True)
        self.who.setFont(font)
        header.addWidget(self.who)
        header.addStretch(1)
        self.note = QLabel("")
        header.addWidget(self.note)
        self.copy_button = QToolButton(text="Copy")
        self.copy_button.setToolTip("Copy this message")
        self.copy_button.clicked.connect(self.copy)
        header.addWidget(self.copy_button)
        layout.addLayout(header)
        self.body = AutoHeightBrowser(self)
        layout.addWidget(self.body)
        self.recalled_toggle = QToolButton(self)
        self.recalled_toggle.setCheckable(True)
        self.recalled_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.recalled_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.recalled_toggle.toggled.connect(self._toggle_recalled)
        self.recalled_toggle.hide()
        layout.addWidget(self.recalled_toggle)
        self.recalled_view = QLabel(self)
        self.recalled_view.setWordWrap(True)
        self.recalled_view.setTextFormat(Qt.TextFormat.RichText)
        self.recalled_view.linkActivated.connect(lambda href: self.memory_clicked.emit(int(href.split(":")[1])))
        self.recalled_view.hide()
        layout.addWidget(self.recalled_view)
        self.text = ""
        self.set_final_text(text)

    # -- streaming -------------------------------------------------------------------------------
    def append_stream(self, chunk: str) -> None:
        """Plain text while streaming: cheap to append; Markdown is rendered once, when the answer completes."""
        self.text += chunk
        cursor = self.body.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)

    def set_final_text(self, text: str, note: str = "") -> None:
        self.text = text
        if self.role == "assistant":
            self.body.setMarkdown(text)
        else:
            self.body.setPlainText(text)
        self.note.setText(note)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    # -- recalled memories -------------------------------------------------------------------------
    def set_recalled(self, records) -> None:
        """`records`: the MemoryRecords the answer was given (shown collapsed; a click opens one)."""
        if not records:
            self.recalled_toggle.setChecked(False)
            self.recalled_toggle.hide()
            return
        self.recalled_ids = [m.id for m in records]
        self.recalled_toggle.setText(f"Recalled {len(records)} memor{'y' if len(records) == 1 else 'ies'}")
        rows = []
        for m in records:
            said = m.valid_from or m.recorded_at  # when it was said, not when it was stored
            when = said.strftime("%Y-%m-%d") if said else ""
            text = _preview(m.text).replace("&", "&amp;").replace("<", "&lt;")
            rows.append(f'<a href="memory:{m.id}">#{m.id}</a> <i>{m.kind}, {when}</i> — {text}')
        self.recalled_view.setText("<br>".join(rows))
        self.recalled_toggle.show()

    def _toggle_recalled(self, shown: bool) -> None:
        self.recalled_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.recalled_view.setVisible(shown)
