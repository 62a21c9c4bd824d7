"""full-text search over chat messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

An external-content FTS5 table over messages.text (the text is stored once, in messages), kept in step by
triggers so every writer, and the ON DELETE CASCADE of a deleted session, updates it in the same transaction.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(text, content='messages', content_rowid='id', "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS message_fts_insert AFTER INSERT ON messages BEGIN "
        "INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS message_fts_delete AFTER DELETE ON messages BEGIN "
        "INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS message_fts_update AFTER UPDATE OF text ON messages BEGIN "
        "INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, old.text); "
        "INSERT INTO message_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    op.execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")  # messages written before 0002


def downgrade() -> None:
    for trigger in ("message_fts_insert", "message_fts_delete", "message_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS message_fts")
