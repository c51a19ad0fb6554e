"""catalogue: covering index for the (provider, category) pairs of a domain

Revision ID: 0006_catalogue_categories_index
Revises: 0005_catalogue_speed
Create Date: 2026-11-22 05:15:00.000000
"""

from alembic import op

revision = "0006_catalogue_categories_index"
down_revision = "0005_catalogue_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_catalogue_items_domain_categories",
        "catalogue_items",
        ["domain", "provider_id", "category_id"],
        unique=False,
        postgresql_include=["enabled", "deleted_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_catalogue_items_domain_categories", table_name="catalogue_items")
