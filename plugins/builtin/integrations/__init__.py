"""Importers and exporters: Obsidian vaults, chat exports (ours and ChatGPT's), JSON and Markdown exports.

Every import goes through context.memory.remember_many with source `document` (or `user` for an import marked as the
user's own, `mine=True`), so the write-path checks (poisoning guard, conflict checker) see imported text exactly as
they see anything else. Each importer is `function(context, path, progress=None, mine=False)` and returns an
ImportReport (common.py): stored, quarantined with the top reasons, duplicates, skipped with why.
"""

from __future__ import annotations

from plugins.api import Integration, hookimpl
from plugins.builtin.integrations import chats, exports, obsidian


class Integrations:
    @hookimpl
    def register_integrations(self, register) -> None:
        register(Integration("obsidian", "import", "A folder of Markdown notes (an Obsidian vault).",
                             obsidian.import_vault))
        register(Integration("chatgpt", "import", "A ChatGPT data export's conversations.json.",
                             chats.import_chatgpt))
        register(Integration("claude", "import", "A Claude.ai data export's conversations.json.",
                             chats.import_claude))
        register(Integration("json", "import", "secondme's own JSON export (memories or chat sessions).",
                             chats.import_secondme_json))
        register(Integration("json", "export", "Every memory, with its history fields, as one JSON file.",
                             exports.export_json))
        register(Integration("markdown", "export", "Every memory as a readable Markdown file, grouped by kind.",
                             exports.export_markdown))
