"""The first-run dialog: everything stays on this machine; check that the models load."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout

INTRO = ("<h3>Welcome to secondme</h3>"
         "<p>secondme is an assistant that remembers what you tell it. <b>Everything stays on this computer</b>: "
         "your chats, your memories and the language model all live in <b>{home}</b>. Nothing is sent to any "
         "server, and there is no telemetry.</p>"
         "<p>You can see, edit, pin, forget or delete every memory in the Memory tab, and export or delete "
         "all your data in Settings → Privacy.</p>")


class FirstRunDialog(QDialog):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Welcome to secondme")
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO.format(home=ctx.app.settings.home))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.embedder_status = QLabel("Memory model: not checked yet")
        self.chat_status = QLabel("Chat model: not checked yet")
        layout.addWidget(self.embedder_status)
        layout.addWidget(self.chat_status)
        self.check_button = QPushButton("Check that the models load")
        self.check_button.clicked.connect(self.check_models)
        layout.addWidget(self.check_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.results: dict[str, bool] = {}

    def check_models(self) -> None:
        self.check_button.setEnabled(False)
        self.embedder_status.setText("Memory model: loading…")

        def embed_ok(dim) -> None:
            self.results["embedder"] = True
            self.embedder_status.setText(f"Memory model: ✔ loaded ({dim}-dimensional embeddings)")

        def embed_failed(exc) -> None:
            self.results["embedder"] = False
            self.embedder_status.setText(f"Memory model: ✘ {exc}")

        app = self.ctx.app
        self.ctx.tasks.run(lambda: int(app.embedder.embed(["hello"]).shape[1]), embed_ok, embed_failed,
                           owner=self)
        turns = self.ctx.chat_turns
        if turns is None:
            self.results["chat"] = False
            self.chat_status.setText(f"Chat model: ✘ {self.ctx.chat_unavailable}")
            return
        self.chat_status.setText("Chat model: loading…")
        turns.runner.ready.connect(self._chat_ready)
        turns.runner.load_failed.connect(self._chat_failed)
        turns.warm_up()  # queued on the chat-turn thread; a second warm-up of a loaded model returns at once

    def _chat_ready(self, seconds: float) -> None:
        self.results["chat"] = True
        self.chat_status.setText(f"Chat model: ✔ ready ({seconds:.1f} s)")

    def _chat_failed(self, message: str) -> None:
        self.results["chat"] = False
        self.chat_status.setText(f"Chat model: ✘ {message}")
