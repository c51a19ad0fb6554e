"""igm: issues, their events, the seller's IGM officers; order settlements

Revision ID: 0011_igm
Revises: 0010_item_static_json_statutory
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_igm"
down_revision = "0010_item_static_json_statutory"
branch_labels = None
depends_on = ("0004_orders",)  # the issues and settlements refer to orders

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "igm_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issue_id", sa.String(length=128), nullable=False),
        sa.Column("bap_id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("issue", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("accepted_resolution", sa.String(length=128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("respond_by", TS, nullable=False),
        sa.Column("resolve_by", TS, nullable=False),
        sa.Column("responded_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["order_pk"],
            ["orders.id"],
            name=op.f("fk_igm_issues_order_pk_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_igm_issues")),
        sa.UniqueConstraint("bap_id", "issue_id", name=op.f("uq_igm_issues_bap_id_issue_id")),
    )
    op.create_index("ix_igm_issues_status_resolve_by", "igm_issues", ["status", "resolve_by"])
    op.create_index("ix_igm_issues_order_pk", "igm_issues", ["order_pk"])
    op.create_table(
        "igm_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issue_pk", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("action_id", sa.String(length=128), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_pk"],
            ["igm_issues.id"],
            name=op.f("fk_igm_events_issue_pk_igm_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_igm_events")),
    )
    op.create_index("ix_igm_events_issue_pk", "igm_events", ["issue_pk", "id"])
    op.create_table(
        "igm_officers",
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=10), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_igm_officers")),
    )
    op.create_table(
        "order_settlements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=24), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_pk"],
            ["orders.id"],
            name=op.f("fk_order_settlements_order_pk_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_settlements")),
        sa.UniqueConstraint(
            "source", "reference", name=op.f("uq_order_settlements_source_reference")
        ),
    )
    op.create_index(op.f("ix_order_settlements_order_pk"), "order_settlements", ["order_pk"])


def downgrade() -> None:
    op.drop_index(op.f("ix_order_settlements_order_pk"), table_name="order_settlements")
    op.drop_table("order_settlements")
    op.drop_table("igm_officers")
    op.drop_index("ix_igm_events_issue_pk", table_name="igm_events")
    op.drop_table("igm_events")
    op.drop_index("ix_igm_issues_order_pk", table_name="igm_issues")
    op.drop_index("ix_igm_issues_status_resolve_by", table_name="igm_issues")
    op.drop_table("igm_issues")
