"""inbox

Revision ID: 0002_inbox
Revises: 0001_outbox
Create Date: 2026-11-22 03:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0002_inbox'
down_revision = '0001_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('bap_id', sa.String(length=255), nullable=False),
    sa.Column('transaction_id', sa.String(length=128), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('signer', sa.String(length=255), nullable=False),
    sa.Column('gateway', sa.String(length=255), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('bap_id', 'transaction_id', 'message_id', 'action', name=op.f('uq_inbox_bap_id_transaction_id_message_id_action'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_due', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_due')

    op.drop_table('inbox')
