"""Import chat exports: ChatGPT's conversations.json and secondme's own JSON export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugins.builtin.integrations.common import (
    ImportReport,
    Progress,
    malformed_as_user_error,
    read_json_file,
    split_long,
    store,
)
from storage.enums import MemoryKind, MemoryStatus, Source
from storage.errors import UserError
from storage.records import NewMemory

EXPORT_FORMAT = "secondme-export"


def _chatgpt_text(message: dict[str, Any]) -> str:
    content = message.get("content") or {}
    parts = content.get("parts") or ([content["text"]] if isinstance(content.get("text"), str) else [])
    return "\n".join(p for p in parts if isinstance(p, str)).strip()


def _main_branch(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages of the branch the user last saw: from current_node up through the parents, in order."""
    mapping = conversation.get("mapping") or {}
    node_id = conversation.get("current_node")
    if node_id not in mapping:  # older exports: no current_node; follow the last child from the root
        roots = [k for k, v in mapping.items() if not v.get("parent")]
        node_id = roots[0] if roots else None
        while node_id and mapping[node_id].get("children"):
            node_id = mapping[node_id]["children"][-1]
    chain, seen = [], set()
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        chain.append(mapping[node_id])
        node_id = mapping[node_id].get("parent")
    return [n["message"] for n in reversed(chain) if isinstance(n.get("message"), dict)]


def import_chatgpt(context, path: Path, progress: Progress | None = None) -> ImportReport:
    data = read_json_file(Path(path), "ChatGPT conversations.json")
    if not isinstance(data, list) or not all(isinstance(c, dict) and "mapping" in c for c in data):
        raise UserError(f"{path} is not a ChatGPT conversations.json (a list of conversations with a 'mapping').")
    report = ImportReport()
    with malformed_as_user_error(path, "ChatGPT conversations.json"):
        items = _chatgpt_items(context, data)
    if not items:
        raise UserError(f"{path} holds no user or assistant messages to import.")
    store(context, items, report, reason="imported from a ChatGPT export", progress=progress)
    return report


def _chatgpt_items(context, data: list[dict[str, Any]]) -> list[NewMemory]:
    items: list[NewMemory] = []
    for conv in data:
        title = conv.get("title") or "Untitled"
        pending_user: tuple[str, float | None] | None = None
        for msg in _main_branch(conv):
            role = (msg.get("author") or {}).get("role")
            text = _chatgpt_text(msg)
            if not text or role not in ("user", "assistant"):
                continue
            when = msg.get("create_time")
            if role == "user":
                if pending_user:  # a user message with no answer is still kept
                    items += _episode(context, title, conv, pending_user[0], "", pending_user[1])
                pending_user = (text, when)
            else:
                user_text, user_when = pending_user or ("", when)
                items += _episode(context, title, conv, user_text, text, user_when)
                pending_user = None
        if pending_user:
            items += _episode(context, title, conv, pending_user[0], "", pending_user[1])
    return items


def _episode(context, title: str, conv: dict[str, Any], user: str, assistant: str,
             when: float | None) -> list[NewMemory]:
    body = f"User: {user}\nAssistant: {assistant}" if user else f"Assistant: {assistant}"
    at = datetime.fromtimestamp(when, tz=UTC) if isinstance(when, (int, float)) else None
    prov = {"importer": "chatgpt", "conversation": conv.get("id") or conv.get("conversation_id"), "title": title}
    return [NewMemory(piece, kind=MemoryKind.EPISODE, source=Source.DOCUMENT, at=at, provenance=prov)
            for piece in split_long(body, context.settings.max_text_bytes)]


def import_secondme_json(context, path: Path, progress: Progress | None = None) -> ImportReport:
    """Our own export: {"format": "secondme-export", "memories": [...]} or {"sessions": [{"messages": [...]}]}."""
    data = read_json_file(Path(path), "secondme export")
    if not isinstance(data, dict) or not isinstance(data.get("memories", data.get("sessions")), list):
        raise UserError(f"{path} is not a secondme export (expected an object with a 'memories' or 'sessions' list).")
    with malformed_as_user_error(path, "secondme export"):
        items = _secondme_items(context, data)
    if not items:
        raise UserError(f"{path} holds no memories or chat turns to import.")
    report = ImportReport()
    store(context, items, report, reason="imported from a secondme JSON export", progress=progress)
    return report


def _secondme_items(context, data: dict[str, Any]) -> list[NewMemory]:
    items: list[NewMemory] = []
    for m in data.get("memories") or []:
        if not isinstance(m, dict) or not isinstance(m.get("text"), str) or not m["text"].strip():
            continue
        if m.get("status") == MemoryStatus.DELETED:
            continue
        prov = dict(m.get("provenance") or {}, importer="secondme-json", original_id=m.get("id"),
                    original_source=m.get("source"))
        at = _parse_time(m.get("valid_from"))
        items.append(NewMemory(m["text"],
                               kind=m.get("kind") if m.get("kind") in MemoryKind.values() else MemoryKind.FACT,
                               source=Source.DOCUMENT, at=at, provenance=prov,
                               importance=(float(m.get("importance", 0.5))
                                           if 0 <= float(m.get("importance", 0.5)) <= 1 else 0.5)))
    for session in data.get("sessions") or []:
        messages = [x for x in (session.get("messages") or [])
                    if isinstance(x, dict) and isinstance(x.get("text"), str)]
        user = None
        for msg in messages:
            if msg.get("role") == "user":
                user = msg
            elif msg.get("role") == "assistant" and user is not None:
                body = f"User: {user['text']}\nAssistant: {msg['text']}"
                items.extend(NewMemory(piece, kind=MemoryKind.EPISODE, source=Source.DOCUMENT,
                                       at=_parse_time(user.get("created_at")),
                                       provenance={"importer": "secondme-json", "session": session.get("title")})
                             for piece in split_long(body, context.settings.max_text_bytes))
                user = None
    return items


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
