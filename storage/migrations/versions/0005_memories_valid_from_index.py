"""index memories.valid_from: time-aware recall looks memories up by the period they were true in

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_memories_valid_from', 'memories', ['valid_from'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_memories_valid_from', table_name='memories')
