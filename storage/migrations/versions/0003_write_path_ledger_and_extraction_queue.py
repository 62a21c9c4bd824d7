"""write path: ledger operation/session ids, fact extraction queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('memory_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operation_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('session_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_memory_events_operation_id'), ['operation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memory_events_session_id'), ['session_id'], unique=False)

    op.create_table('extraction_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('episode_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['episode_id'], ['memories.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extraction_queue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_queue_episode_id'), ['episode_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extraction_queue_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('extraction_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_queue_status'))
        batch_op.drop_index(batch_op.f('ix_extraction_queue_episode_id'))
    op.drop_table('extraction_queue')
    with op.batch_alter_table('memory_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memory_events_session_id'))
        batch_op.drop_index(batch_op.f('ix_memory_events_operation_id'))
        batch_op.drop_column('session_id')
        batch_op.drop_column('operation_id')
