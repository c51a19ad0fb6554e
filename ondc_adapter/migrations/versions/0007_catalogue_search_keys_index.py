"""catalogue: covering index for the key columns a warm search reads

Revision ID: 0007_catalogue_search_keys_index
Revises: 0006_catalogue_categories_index
Create Date: 2026-12-02 01:45:00.000000
"""

from alembic import op

revision = "0007_catalogue_search_keys_index"
down_revision = "0006_catalogue_categories_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_catalogue_items_search_keys",
        "catalogue_items",
        ["domain", "provider_id", "id", "parent_item_id", "updated_at", "stock", "enabled",
         "deleted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_catalogue_items_search_keys", table_name="catalogue_items")
