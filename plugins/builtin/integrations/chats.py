"""Import chat exports: ChatGPT's and Claude.ai's conversations.json, and secondme's own JSON export.

Each round of a conversation (a user turn and what answered it) is one episode, framed with secondme's role labels
("User: …\nAssistant: …"); the provenance says where each turn starts (plugins/builtin/framing.py), so the
poisoning guard judges each turn alone and as what it is, never our labels. A round longer than
settings.episode_chunk_chars is stored as several episodes, each `continues` the one before, and so are the rounds
of a conversation. Re-importing an export stores only what is new or changed (keyed by conversation, round and
content hash). `mine=True` says the chats are the user's own: their turns get the user channel's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugins.builtin.framing import LABELS, clean_turn, frame, parse_labelled, unframe
from plugins.builtin.integrations.common import (
    ImportReport,
    Planned,
    Progress,
    content_hash,
    imported_records,
    malformed_as_user_error,
    read_json_file,
    split_chars,
    split_long,
    store_planned,
)
from storage.enums import MemoryKind, MemoryStatus, Source
from storage.errors import UserError
from storage.records import MemoryRecord, NewMemory

EXPORT_FORMAT = "secondme-export"
Turn = tuple[str, str, datetime | None]  # role, text, when


def _source(mine: bool) -> Source:
    return Source.USER if mine else Source.DOCUMENT


# -- ChatGPT -------------------------------------------------------------------------------------------------------
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


def _strings(parts: Iterable[Any]) -> str:
    return "\n".join(p for p in parts if isinstance(p, str)).strip()


def _images(parts: Iterable[Any]) -> int:
    return sum(1 for p in parts if isinstance(p, dict) and "image" in str(p.get("content_type", "")))


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _chatgpt_turn(msg: dict[str, Any], report: ImportReport) -> Turn | None:
    """One message as a turn, or None (counted in the report when it held something we leave out)."""
    role = (msg.get("author") or {}).get("role")
    content = msg.get("content") or {}
    ctype = content.get("content_type") or "text"
    parts = content.get("parts") or ([content["text"]] if isinstance(content.get("text"), str) else [])
    when = _when(msg.get("create_time"))
    if (msg.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
        return None
    images = _images(parts) if isinstance(parts, list) else 0
    if images:
        report.counts["images noted"] += images
    if role == "system":
        if _strings(parts):
            report.skip_part("system message")
        return None
    if ctype in ("user_editable_context",):
        report.skip_part("custom instructions")
        return None
    if ctype in ("thoughts", "reasoning_recap"):
        report.skip_part("reasoning step")
        return None
    if role == "assistant":
        if ctype == "code" or msg.get("recipient") not in (None, "all"):
            report.skip_part("code-interpreter step or tool call")
            return None
        if ctype not in ("text", "multimodal_text"):
            report.skip_part(f"unsupported part ({ctype})")
            return None
        text = _strings(parts)
        return ("assistant", text, when) if text else None
    if role == "user":
        if ctype not in ("text", "multimodal_text"):
            report.skip_part(f"unsupported part ({ctype})")
            return None
        text = _strings(parts)
        return ("user", text, when) if text else None
    if role == "tool":
        if ctype == "execution_output":
            text = content.get("text") if isinstance(content.get("text"), str) else _strings(parts)
        elif ctype == "tether_browsing_display":
            text = content.get("result") if isinstance(content.get("result"), str) else ""
        elif ctype == "tether_quote":
            text = "\n".join(str(content.get(k) or "") for k in ("title", "url", "text")).strip()
        elif ctype in ("text", "multimodal_text"):
            text = _strings(parts)
        elif ctype == "system_error":
            report.skip_part("tool error")
            return None
        else:
            report.skip_part(f"unsupported part ({ctype})")
            return None
        return ("tool", text, when) if text and text.strip() else None
    report.skip_part(f"unsupported part (author {role})")
    return None


def import_chatgpt(context, path: Path, progress: Progress | None = None, mine: bool = False) -> ImportReport:
    data = read_json_file(Path(path), "ChatGPT conversations.json")
    if not isinstance(data, list) or not all(isinstance(c, dict) and "mapping" in c for c in data):
        raise UserError(f"{path} is not a ChatGPT conversations.json (a list of conversations with a 'mapping').")
    report = ImportReport(importer="chatgpt", unit="conversations")
    conversations: list[tuple[str, str, list[Turn]]] = []
    with malformed_as_user_error(path, "ChatGPT conversations.json"):
        for index, conv in enumerate(data):
            title = str(conv.get("title") or "Untitled")
            key = str(conv.get("id") or conv.get("conversation_id") or f"#{index}")
            turns = [t for msg in _main_branch(conv) if (t := _chatgpt_turn(msg, report)) is not None]
            conversations.append((key, title, turns))
    return _import_conversations(context, "chatgpt", conversations, report, mine, progress,
                                 "imported from a ChatGPT export", path)


# -- Claude.ai -----------------------------------------------------------------------------------------------------
def _claude_turns(conv: dict[str, Any], report: ImportReport) -> list[Turn]:
    turns: list[Turn] = []
    for msg in conv.get("chat_messages") or []:
        if not isinstance(msg, dict):
            continue
        role = {"human": "user", "assistant": "assistant"}.get(str(msg.get("sender")))
        when = _when(msg.get("created_at"))
        for attached in (msg.get("attachments") or []) + (msg.get("files") or []):
            if isinstance(attached, dict) and attached.get("file_name"):
                report.attachments.append(f"{conv.get('name') or 'Untitled'}: {attached['file_name']}")
        if role is None:
            report.skip_part(f"unsupported part (sender {msg.get('sender')})")
            continue
        content = msg.get("content")
        if not isinstance(content, list) or not content:  # older exports: the text only
            text = msg.get("text") if isinstance(msg.get("text"), str) else ""
            if text.strip():
                turns.append((role, text, when))
            continue
        texts: list[str] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "tool_use":
                report.skip_part("code-interpreter step or tool call")
            elif kind == "tool_result":
                if texts:
                    turns.append((role, "\n".join(texts), when))
                    texts = []
                result = part.get("content")
                result_text = (_strings(r.get("text") for r in result if isinstance(r, dict))
                               if isinstance(result, list) else str(result or ""))
                if result_text.strip():
                    turns.append(("tool", result_text, when))
            elif kind in ("thinking", "redacted_thinking"):
                report.skip_part("reasoning step")
            elif kind == "image":
                report.counts["images noted"] += 1
            else:
                report.skip_part(f"unsupported part ({kind})")
        if "\n".join(texts).strip():
            turns.append((role, "\n".join(texts), when))
    return turns


def import_claude(context, path: Path, progress: Progress | None = None, mine: bool = False) -> ImportReport:
    """Claude.ai's data export: conversations.json, a list of {uuid, name, chat_messages: [{sender, content...}]}."""
    data = read_json_file(Path(path), "Claude conversations.json")
    if not isinstance(data, list) or not all(isinstance(c, dict) and "chat_messages" in c for c in data):
        raise UserError(f"{path} is not a Claude.ai conversations.json (a list of conversations with "
                        "'chat_messages').")
    report = ImportReport(importer="claude", unit="conversations")
    conversations: list[tuple[str, str, list[Turn]]] = []
    with malformed_as_user_error(path, "Claude conversations.json"):
        for index, conv in enumerate(data):
            title = str(conv.get("name") or "Untitled")
            conversations.append((str(conv.get("uuid") or f"#{index}"), title, _claude_turns(conv, report)))
    return _import_conversations(context, "claude", conversations, report, mine, progress,
                                 "imported from a Claude.ai export", path)


# -- shared by the chat importers ----------------------------------------------------------------------------------
def _pieces(turns: list[tuple[str, str]], limit: int) -> list[list[tuple[str, str]]]:
    """A round's turns packed into framed pieces of at most `limit` characters; a long turn is split."""
    pieces: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for role, text in turns:
        label = len(LABELS[role]) + 1
        for chunk in split_chars(clean_turn(text), max(limit - label, 100)):
            if current and size + label + len(chunk) > limit:
                pieces.append(current)
                current, size = [], 0
            current.append((role, chunk))
            size += label + len(chunk)
    if current:
        pieces.append(current)
    return pieces


def _rounds(turns: list[Turn]) -> list[list[Turn]]:
    rounds: list[list[Turn]] = []
    for turn in turns:
        if turn[0] == "user" or not rounds:
            rounds.append([])
        rounds[-1].append(turn)
    return rounds


def plan_conversation(importer: str, key: str, title: str, turns: list[Turn], source: Source,
                      limit: int) -> list[Planned]:
    planned: list[Planned] = []
    for number, round_ in enumerate(_rounds(turns)):
        when = next((w for _, _, w in round_ if w is not None), None)
        for part, piece in enumerate(_pieces([(r, t) for r, t, _ in round_], limit)):
            text, spans = frame(piece)
            if not text:
                continue
            item_key = f"{key}:{number}.{part}"
            provenance = {"importer": importer, "conversation": key, "title": title, "turns": spans,
                          "key": item_key, "content_hash": content_hash(text)}
            planned.append(Planned(NewMemory(text, kind=MemoryKind.EPISODE, source=source, at=when,
                                             provenance=provenance),
                                   key=item_key, group=key, after=planned[-1].key if planned else None))
    return planned


def _import_conversations(context, importer: str, conversations: list[tuple[str, str, list[Turn]]],
                          report: ImportReport, mine: bool, progress: Progress | None, reason: str,
                          path: Path) -> ImportReport:
    limit = context.settings.episode_chunk_chars
    planned: list[Planned] = []
    for key, title, turns in conversations:
        if not turns:
            report.skip(title, "empty conversation")
            continue
        report.counts["conversations"] += 1
        planned += plan_conversation(importer, key, title, turns, _source(mine), limit)
    if not planned:
        raise UserError(f"{path} holds no user or assistant messages to import.")
    to_store, known = _against_earlier_import(context, importer, planned, report)
    store_planned(context, to_store, report, reason=reason + (" (the user's own)" if mine else ""),
                  progress=progress, known=known)
    return report


def _against_earlier_import(context, importer: str, planned: list[Planned],
                            report: ImportReport) -> tuple[list[Planned], dict[str, MemoryRecord]]:
    """What an earlier import of the same export already stored: unchanged items are not stored again; an item
    whose content changed replaces the old one, which is archived."""
    earlier = {m.provenance.get("key"): m for m in imported_records(context, lambda p: p.get("importer") == importer)}
    known: dict[str, MemoryRecord] = {}
    to_store: list[Planned] = []
    for p in planned:
        old = earlier.get(p.key)
        if old is not None and old.provenance.get("content_hash") == p.item.provenance.get("content_hash"):
            known[p.key] = old
            report.duplicates += 1
            continue
        if old is not None:
            archive(context, [old], f"changed in a re-import of the {importer} export")
            report.counts["updated"] += 1
        to_store.append(p)
    return to_store, known


def archive(context, records: Iterable[MemoryRecord], reason: str) -> int:
    """Archive memories an import replaces (restorable); quarantined ones stay as they are."""
    count = 0
    for m in records:
        if m.status in (MemoryStatus.ACTIVE, MemoryStatus.SUPERSEDED):
            context.memory.forget(m.id, reason=reason)
            count += 1
    return count


# -- secondme's own export ------------------------------------------------------------------------------------------
def import_secondme_json(context, path: Path, progress: Progress | None = None, mine: bool = False) -> ImportReport:
    """Our own export: {"format": "secondme-export", "memories": [...]} or {"sessions": [{"messages": [...]}]}."""
    data = read_json_file(Path(path), "secondme export")
    if not isinstance(data, dict) or not isinstance(data.get("memories", data.get("sessions")), list):
        raise UserError(f"{path} is not a secondme export (expected an object with a 'memories' or 'sessions' list).")
    report = ImportReport(importer="json", unit="sessions")
    with malformed_as_user_error(path, "secondme export"):
        planned = _secondme_items(context, data, _source(mine), report)
    if not planned:
        raise UserError(f"{path} holds no memories or chat turns to import.")
    store_planned(context, planned, report, reason="imported from a secondme JSON export", progress=progress)
    return report


def _secondme_items(context, data: dict[str, Any], source: Source, report: ImportReport) -> list[Planned]:
    planned: list[Planned] = []
    max_bytes = context.settings.max_text_bytes
    for index, m in enumerate(data.get("memories") or []):
        if not isinstance(m, dict) or not isinstance(m.get("text"), str) or not m["text"].strip():
            report.skip_part("empty or malformed memory")
            continue
        if m.get("status") == MemoryStatus.DELETED:
            report.skip_part("deleted memory")
            continue
        kind = m.get("kind") if m.get("kind") in MemoryKind.values() else MemoryKind.FACT
        prov = dict(m.get("provenance") or {}, importer="secondme-json", original_id=m.get("id"),
                    original_source=m.get("source"))
        prov.pop("turns", None)
        text = m["text"]
        turns = (unframe(text, m.get("provenance") if isinstance(m.get("provenance"), dict) else None)
                 or parse_labelled(text)) if kind == MemoryKind.EPISODE else None
        if turns:  # our chat's "User: …\nAssistant: …": framed again, so the labels are not judged as content
            text, prov["turns"] = frame(turns)
        importance = m.get("importance", 0.5)
        importance = float(importance) if isinstance(importance, (int, float)) and 0 <= importance <= 1 else 0.5
        for piece in split_long(text, max_bytes) if not turns else [text]:
            if not piece:
                continue
            planned.append(Planned(NewMemory(piece, kind=kind, source=source, at=_when(m.get("valid_from")),
                                             provenance=prov, importance=importance),
                                   key=f"memory:{index}:{len(planned)}"))
        report.counts["memories"] += 1
    limit = context.settings.episode_chunk_chars
    for index, session in enumerate(data.get("sessions") or []):
        if not isinstance(session, dict):
            continue
        turns: list[Turn] = [(str(x["role"]), x["text"], _when(x.get("created_at")))
                             for x in (session.get("messages") or [])
                             if isinstance(x, dict) and isinstance(x.get("text"), str)
                             and x.get("role") in ("user", "assistant")]
        title = str(session.get("title") or "Untitled")
        if not turns:
            report.skip(title, "empty conversation")
            continue
        report.counts["sessions"] += 1
        planned += plan_conversation("secondme-json", f"session:{index}", title, turns, source, limit)
    return planned
