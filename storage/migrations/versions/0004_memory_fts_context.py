"""keyword index: each conversation turn also indexed under the turns around it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

memory_fts gets a second column, `context`: for an episode of a session, the text of the episodes just before
and after it (see storage.keyword_index). FTS5 cannot add a column to an existing table, so the table is
rebuilt from memories (the SQL is repeated here so this migration stays as written when the code moves on).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TOKENIZE = "tokenize = 'porter unicode61 remove_diacritics 2'"
_ADJACENT = ("(SELECT a.text FROM memories a WHERE a.session_id = m.session_id AND a.kind = 'episode' "
             "AND a.status != 'deleted' AND a.id {op} m.id ORDER BY a.id {order} LIMIT 1)")
CONTEXT = ("CASE WHEN m.kind = 'episode' AND m.session_id IS NOT NULL THEN "
           f"coalesce({_ADJACENT.format(op='<', order='DESC')}, '') || char(10) || "
           f"coalesce({_ADJACENT.format(op='>', order='ASC')}, '') ELSE '' END")


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS memory_fts")
    op.execute(f"CREATE VIRTUAL TABLE memory_fts USING fts5(body, context, {TOKENIZE})")
    op.execute(f"INSERT INTO memory_fts(rowid, body, context) SELECT m.id, m.text, {CONTEXT} "
               "FROM memories m WHERE m.status != 'deleted'")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS memory_fts")
    op.execute(f"CREATE VIRTUAL TABLE memory_fts USING fts5(body, {TOKENIZE})")
    op.execute("INSERT INTO memory_fts(rowid, body) SELECT id, text FROM memories WHERE status != 'deleted'")
