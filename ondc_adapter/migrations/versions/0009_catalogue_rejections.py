"""catalogue: rejections received from buyer apps (catalog_rejection)

Revision ID: 0009_catalogue_rejections
Revises: 0008_console
Create Date: 2026-12-02 08:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_catalogue_rejections"
down_revision = "0008_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bap_id", sa.String(length=255), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_rejections")),
        sa.UniqueConstraint(
            "bap_id", "transaction_id", "message_id", "position",
            name=op.f("uq_catalogue_rejections_bap_id_transaction_id_message_id_position"),
        ),
    )
    op.create_index(
        "ix_catalogue_rejections_provider", "catalogue_rejections", ["provider_id", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_catalogue_rejections_provider", table_name="catalogue_rejections")
    op.drop_table("catalogue_rejections")
