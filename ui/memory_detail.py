"""The detail pane of one memory: text (editable), provenance, history and links, the ledger, and actions."""

from __future__ import annotations

import html
import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from storage.errors import UserError

LINK_WORDS = {  # (outgoing, incoming) wording, so history reads as a sentence
    "supersedes": ("replaced", "was replaced by"),
    "contradicts": ("contradicts", "is contradicted by"),
    "merged_into": ("was merged into", "absorbed"),
    "derived_from": ("was derived from", "is a source of"),
    "related": ("is related to", "is related to"),
}


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _link(memory_id: int, text: str = "") -> str:
    preview = html.escape(" ".join(text.split())[:80])
    return f'<a href="memory:{memory_id}">#{memory_id}</a> {preview}'


class MemoryDetail(QWidget):
    changed = Signal()  # a memory was changed; lists should refresh

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.memory = ctx.app.memory
        self.record = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps instead
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        layout = QVBoxLayout(body)

        self.title = QLabel("Select a memory to see where it came from and what happened to it.")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.text = QPlainTextEdit(self)
        self.text.setPlaceholderText("The memory's text")
        self.text.setMaximumHeight(120)
        layout.addWidget(self.text)

        actions = QGridLayout()
        self.save_button = QPushButton("Save edit")
        self.pin_button = QPushButton("Pin")
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Archive: out of recall, can be restored")
        self.restore_button = QPushButton("Restore")
        self.delete_button = QPushButton("Delete for good…")
        self.delete_button.setToolTip("Remove the text everywhere; cannot be undone")
        # Two rows, so the pane stays narrow: editing on top, the ways out of memory below.
        for i, b in enumerate((self.save_button, self.pin_button, self.forget_button, self.restore_button,
                               self.delete_button)):
            actions.addWidget(b, 0 if i < 2 else 1, i if i < 2 else i - 2)
        layout.addLayout(actions)
        self.save_button.clicked.connect(self.save_edit)
        self.pin_button.clicked.connect(self.toggle_pin)
        self.forget_button.clicked.connect(self.forget)
        self.restore_button.clicked.connect(self.restore)
        self.delete_button.clicked.connect(lambda: self.delete())

        facts = QGroupBox("Provenance")
        self.facts = QFormLayout(facts)
        self.fields: dict[str, QLabel] = {}
        for name in ("kind / status", "source / trust", "said / valid", "recorded", "recall", "came from"):
            label = QLabel("")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            label.linkActivated.connect(self._open_link)
            self.fields[name] = label
            self.facts.addRow(name, label)
        layout.addWidget(facts)
        history = QGroupBox("History and links")
        hl = QVBoxLayout(history)
        self.links = QLabel("")
        self.links.setWordWrap(True)
        self.links.linkActivated.connect(self._open_link)
        hl.addWidget(self.links)
        layout.addWidget(history)
        ledger = QGroupBox("Ledger")
        ll = QVBoxLayout(ledger)
        self.ledger = QLabel("")
        self.ledger.setWordWrap(True)
        self.ledger.setMinimumWidth(150)
        self.ledger.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ll.addWidget(self.ledger)
        layout.addWidget(ledger)
        layout.addStretch(1)
        self.show_memory(None)

    # -- showing -----------------------------------------------------------------------------------
    def show_memory(self, memory_id: int | None) -> None:
        self.record = None
        if memory_id is not None:
            try:
                self.record = self.memory.get(memory_id)
            except UserError as exc:
                self.ctx.events.status.emit(str(exc))
        r = self.record
        for b in (self.save_button, self.pin_button, self.forget_button, self.restore_button, self.delete_button):
            b.setEnabled(False)
        self.text.setReadOnly(True)
        if r is None:
            self.text.setPlainText("")
            for label in self.fields.values():
                label.setText("")
            self.links.setText("")
            self.ledger.setText("")
            return
        live = r.status != "deleted"
        self.title.setText(f"Memory #{r.id}" + (" — pinned" if r.pinned else ""))
        self.text.setPlainText(r.text if live else "(deleted for good; only the record that it existed remains)")
        self.text.setReadOnly(not live)
        self.save_button.setEnabled(live)
        self.pin_button.setEnabled(live)
        self.pin_button.setText("Unpin" if r.pinned else "Pin")
        self.forget_button.setEnabled(r.status in ("active", "superseded"))
        self.restore_button.setEnabled(r.status == "archived")
        self.delete_button.setEnabled(live)
        self.fields["kind / status"].setText(f"{r.kind}, {r.status}")
        self.fields["source / trust"].setText(f"{r.source}, trust {r.trust:.2f}, importance {r.importance:.2f}")
        self.fields["said / valid"].setText(f"{_when(r.valid_from)} → {_when(r.valid_to) if r.valid_to else 'now'}")
        self.fields["recorded"].setText(f"{_when(r.recorded_at)}"
                                        + (f", retired {_when(r.expired_at)}" if r.expired_at else ""))
        self.fields["recall"].setText(f"recalled {r.recall_count}×, last {_when(r.last_recalled_at)}, "
                                      f"strength {r.strength:.1f} days")
        self.fields["came from"].setText(self._provenance_html(r))
        self.links.setText(self._links_html(r.id))
        self.ledger.setText(self._ledger_text(r.id))

    def _provenance_html(self, r) -> str:
        parts = []
        if r.session_id is not None:
            parts.append(f'<a href="session:{r.session_id}">chat {r.session_id}</a>')
        message_ids = r.provenance.get("message_ids") if isinstance(r.provenance, dict) else None
        if message_ids:
            parts.append("messages " + ", ".join(str(i) for i in message_ids))
        others = {k: v for k, v in (r.provenance or {}).items() if k != "message_ids"}
        if others:
            parts.append(html.escape(json.dumps(others, ensure_ascii=False, default=str)[:300]))
        return "; ".join(parts) or "typed in directly"

    def _links_html(self, memory_id: int) -> str:
        rows = []
        for link in self.ctx.review.links(memory_id):
            words = LINK_WORDS.get(link.kind, (link.kind, link.kind))
            verb = words[0] if link.outgoing else words[1]
            rows.append(f"{verb} {_link(link.other.id, link.other.text)} <i>({link.other.status})</i>")
        return "<br>".join(rows) or "No links."

    def _ledger_text(self, memory_id: int) -> str:
        events = self.memory.events(memory_id)
        return "\n".join(f"{e['created_at'][:16].replace('T', ' ')}  {e['op']}: {e['reason']}" for e in events)

    def _open_link(self, href: str) -> None:
        scheme, _, value = href.partition(":")
        if scheme == "memory":
            self.ctx.events.open_memory.emit(int(value))
        elif scheme == "session":
            self.ctx.events.open_session.emit(int(value))

    # -- actions (run off the main thread: an edit re-embeds, a delete touches every index) ---------
    def _run(self, fn, done_message: str) -> None:
        memory_id = self.record.id

        def finished(_result) -> None:
            self.ctx.events.status.emit(done_message)
            self.show_memory(memory_id)
            self.changed.emit()
            self.ctx.events.memories_changed.emit()

        self.ctx.tasks.run(fn, finished, lambda exc: self.ctx.events.status.emit(str(exc)), owner=self)

    def save_edit(self) -> None:
        if self.record is None:
            return
        text, memory_id = self.text.toPlainText(), self.record.id
        self._run(lambda: self.memory.update_text(memory_id, text), f"Memory #{memory_id} saved.")

    def toggle_pin(self) -> None:
        if self.record is None:
            return
        memory_id, pinned = self.record.id, not self.record.pinned
        self._run(lambda: self.memory.pin(memory_id, pinned),
                  f"Memory #{memory_id} {'pinned' if pinned else 'unpinned'}.")

    def forget(self) -> None:
        if self.record is None:
            return
        memory_id = self.record.id
        self._run(lambda: self.memory.forget(memory_id),
                  f"Memory #{memory_id} archived; restore it from the Forgetting inbox.")

    def restore(self) -> None:
        if self.record is None:
            return
        memory_id = self.record.id
        self._run(lambda: self.memory.restore(memory_id), f"Memory #{memory_id} restored.")

    def delete(self, confirmed: bool = False) -> bool:
        if self.record is None:
            return False
        memory_id = self.record.id
        if not confirmed:
            answer = QMessageBox.question(
                self, "Delete for good",
                f"Delete memory #{memory_id} for good? Its text is removed from the database and both indexes; "
                "this cannot be undone. (Forget archives it instead.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self._run(lambda: self.memory.delete(memory_id), f"Memory #{memory_id} deleted for good.")
        return True
