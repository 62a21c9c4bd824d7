"""ChatBackend: what the desktop app needs from a chat service, and all it may use.

assistant.chat.ChatService is the implementation; the GUI's unit tests drive the widgets with an in-memory fake
(tests/ui/fake_chat.py). Both are checked against this Protocol (tests/ui/test_chat_backend.py), so the GUI
never has to ask which one it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from storage.enums import Source

if TYPE_CHECKING:  # types only, so the service module can import this one without a cycle
    from assistant.chat import ExportFormat, MessageHit, MessageInfo, SessionInfo, TurnResult


@runtime_checkable
class ChatBackend(Protocol):
    # The tray's Pause memory: while True, turns are answered and stored as messages but not remembered.
    memory_paused: bool

    def warm_up(self) -> None:
        """Load the chat model now, blocking until it is ready, so the first answer starts quickly.

        Called on the GUI's chat-turn thread right after the window shows; raises if the model cannot load.
        """

    def new_session(self, title: str | None = None) -> SessionInfo:
        """Create an empty chat, titled `title` or a default the first question later replaces."""

    def list_sessions(self) -> list[SessionInfo]:
        """Every chat, most recently used first (the sidebar's order)."""

    def rename_session(self, session_id: int, title: str) -> SessionInfo:
        """Retitle a chat; raises UserError for an empty title, NotFound for an unknown id."""

    def delete_session(self, session_id: int) -> None:
        """Delete a chat and its messages for good; raises NotFound for an unknown id."""

    def messages(self, session_id: int) -> list[MessageInfo]:
        """The chat's messages, oldest first, with the partial / error / recalled_ids the transcript shows."""

    def search_messages(self, query: str, limit: int = 50) -> list[MessageHit]:
        """Full-text hits over every chat, best first, each with its chat's title and a snippet to show."""

    def send(self, session_id: int, text: str, *, on_token: Callable[[str], None] | None = None,
             should_stop: Callable[[], bool] | None = None, source: Source = Source.USER) -> TurnResult:
        """Store `text`, then answer it, streaming pieces through on_token; blocks until done.

        should_stop is polled between pieces; a stopped answer is stored as partial. The user's message is
        stored before anything can fail, so an exception loses nothing they typed.
        """

    def regenerate(self, session_id: int, *, on_token: Callable[[str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, source: Source = Source.USER) -> TurnResult:
        """Answer the chat's last question again, replacing the old answer (same message id) once done."""

    def export_session(self, session_id: int, fmt: ExportFormat = "markdown") -> str:
        """One chat as Markdown or JSON text, ready to write to the file the user picked."""

    def export_all(self, fmt: ExportFormat = "markdown") -> str:
        """Every chat as one Markdown or JSON text (the privacy export reads the JSON)."""
