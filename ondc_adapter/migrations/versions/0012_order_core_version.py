"""orders: the retail version of each transaction (its drafts) and order (issue 16)

Revision ID: 0012_order_core_version
Revises: 0011_igm
Create Date: 2027-01-10 09:00:00.000000

A transaction keeps the ``core_version`` of its first order step; unsolicited callbacks of an
order speak it. Rows written before were all retail 1.2.0, the one version served then, so the
column's server default fills them (both PostgreSQL and SQLite add a NOT NULL column with a
default in place, without rewriting the table through a copy).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_order_core_version"
down_revision = "0011_igm"
branch_labels = None
depends_on = ("0004_orders",)  # the columns go on the order tables


def _column() -> sa.Column:
    return sa.Column("core_version", sa.String(length=16), nullable=False, server_default="1.2.0")


def upgrade() -> None:
    op.add_column("orders", _column())
    op.add_column("order_drafts", _column())


def downgrade() -> None:
    with op.batch_alter_table("order_drafts") as batch:
        batch.drop_column("core_version")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("core_version")
