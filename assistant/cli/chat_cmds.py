"""chat, ask, sessions …: talking to the assistant from a terminal."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import typer

from assistant.cli.base import app, get_app, print_json
from assistant.cli.bounds import id_argument, id_option, limit_option
from assistant.llm.protocol import LLMError
from storage.errors import UserError

sessions = typer.Typer(help="List, show, rename, delete or export chat sessions.", no_args_is_help=True)
app.add_typer(sessions, name="sessions")


class _StopOnInterrupt:
    """While an answer streams, Ctrl-C sets a stop flag (the answer ends, kept as partial) instead of exiting."""

    def __init__(self) -> None:
        self.flag = threading.Event()
        self._previous = None

    def __enter__(self) -> _StopOnInterrupt:
        self.flag.clear()
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, lambda *_: self.flag.set())
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _answer(session_id: int, text: str | None, echo: bool = True, prefix: str = ""):
    """One turn with the answer streamed to stdout; a model failure becomes a one-line error.
    `text` None answers the last question again, replacing its answer."""
    chat = get_app().chat

    def show(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    with _StopOnInterrupt() as stop:
        if prefix:
            show(prefix)
        try:
            options = dict(on_token=show if echo else None, should_stop=stop.flag.is_set)
            result = chat.regenerate(session_id, **options) if text is None else chat.send(session_id, text, **options)
        except LLMError as exc:
            if isinstance(exc, UserError):
                raise
            raise UserError(f"The model failed: {exc} (your message is saved in session {session_id}).") from None
    return result


@app.command()
def chat(session: int | None = id_option("--session", "-s", help="Continue this session.")) -> None:
    """Chat in the terminal. Ctrl-C stops an answer; /regenerate answers the last question again; Ctrl-D (or
    /quit) leaves."""
    service = get_app().chat
    info = service.get_session(session) if session is not None else service.new_session()
    service.warm_up()  # load the model before the first prompt, so a bad model file fails here
    get_app().start_background_work()  # fact extraction and upkeep run while you chat
    get_app().warm_up()
    typer.echo(f"Session {info.id}: {info.title}. Ctrl-C stops an answer, /regenerate answers again, Ctrl-D leaves.")
    for m in service.messages(info.id)[-6:]:
        typer.echo(f"{'you' if m.role == 'user' else 'secondme'}> {m.text}")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            typer.echo()
            break
        except KeyboardInterrupt:  # Ctrl-C at the prompt: a fresh line, keep going
            typer.echo()
            continue
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        try:
            result = _answer(info.id, None if line == "/regenerate" else line, prefix="secondme> ")
        except UserError as exc:
            typer.echo(f"\nerror: {exc}", err=True)
            continue
        typer.echo(" [stopped]" if result.stopped else "")


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question; '-' reads standard input."),
    session: int | None = id_option("--session", "-s", help="Ask within this session."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer, recalled memory ids and timings as JSON."),
) -> None:
    """Ask one question and print the answer (it is kept in a chat session and remembered)."""
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise UserError("The question is empty; ask something, e.g.: secondme ask \"what did I plan for May?\"")
    service = get_app().chat
    session_id = session if session is not None else service.new_session().id
    result = _answer(session_id, question, echo=not as_json)
    if as_json:
        print_json(result.to_json())
    else:
        typer.echo(" [stopped]" if result.stopped else "")


@sessions.command("list")
def list_sessions(as_json: bool = typer.Option(False, "--json")) -> None:
    """Sessions, most recently used first."""
    rows = get_app().chat.list_sessions()
    if as_json:
        print_json([{"id": s.id, "title": s.title, "created_at": s.created_at.isoformat(),
                     "updated_at": s.updated_at.isoformat(), "message_count": s.message_count} for s in rows])
        return
    for s in rows:
        typer.echo(f"#{s.id}  {s.updated_at:%Y-%m-%d %H:%M}  {s.message_count:>4} msgs  {s.title}")
    if not rows:
        typer.echo("No sessions yet; start one with: secondme chat")


@sessions.command("show")
def show_session(session_id: int = id_argument("The session's id."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Print a session's messages."""
    service = get_app().chat
    if as_json:
        typer.echo(service.export_session(session_id, "json"))
        return
    typer.echo(service.export_session(session_id, "markdown"), nl=False)


@sessions.command("search")
def search_sessions(query: str, limit: int = limit_option(20),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Full-text search over every message."""
    hits = get_app().chat.search_messages(query, limit=limit)
    if as_json:
        print_json([{"message_id": h.message_id, "session_id": h.session_id, "session_title": h.session_title,
                     "role": h.role, "snippet": h.snippet, "created_at": h.created_at.isoformat()} for h in hits])
        return
    for h in hits:
        typer.echo(f"#{h.session_id}/{h.message_id}  {h.created_at:%Y-%m-%d}  {h.role:<9} {h.snippet}")
    if not hits:
        typer.echo("No messages match.")


@sessions.command("rename")
def rename_session(session_id: int = id_argument("The session's id."), title: str = typer.Argument(...)) -> None:
    """Give a session a new title."""
    info = get_app().chat.rename_session(session_id, title)
    typer.echo(f"#{info.id} renamed to: {info.title}")


@sessions.command("delete")
def delete_session(session_id: int = id_argument("The session's id."),
                   yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Delete a session's messages for good (memories made from it stay until you delete them)."""
    service = get_app().chat
    info = service.get_session(session_id)
    if not yes and not typer.confirm(f"Delete session #{info.id} ({info.title}) for good?", default=False):
        raise typer.Exit(1)
    service.delete_session(session_id)
    typer.echo(f"#{session_id} deleted.")


@sessions.command("export")
def export_sessions(
    session_id: int | None = id_argument("One session; all of them when left out.", None),
    fmt: str = typer.Option("markdown", "--format", "-f", help="markdown or json."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Export one session or all of them to Markdown or JSON."""
    service = get_app().chat
    body = service.export_session(session_id, fmt) if session_id is not None else service.export_all(fmt)
    if output is None:
        typer.echo(body, nl=not body.endswith("\n"))
        return
    try:
        output.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot write {output} ({exc.strerror}); choose another path.") from None
    typer.echo(f"Exported to {output}.")
