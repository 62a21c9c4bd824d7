"""Export everything / delete everything, through the services (so deletes really purge every index)."""

from __future__ import annotations

from pathlib import Path

PAGE = 500


def _all_memories(memory):
    offset = 0
    while True:
        page = memory.list(status=None, limit=PAGE, offset=offset)
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def export_everything(ctx, path: Path) -> Path:
    """The full, lossless export (`secondme export json`): every memory with all its fields, links, the ledger
    and the chats, which `secondme import json` restores exactly into an empty data folder."""
    return ctx.app.portable.export(Path(path)).path


def delete_everything(ctx) -> dict[str, int]:
    memory = ctx.app.memory
    ids = [r.id for r in _all_memories(memory) if r.status != "deleted"]
    for memory_id in ids:
        memory.delete(memory_id, reason="the user deleted all data")
    sessions = 0
    if ctx.chat is not None:
        for info in ctx.chat.list_sessions():
            ctx.chat.delete_session(info.id)
            sessions += 1
    return {"memories": len(ids), "sessions": sessions}
