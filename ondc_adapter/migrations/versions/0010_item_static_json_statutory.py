"""catalogue: recompute items' cached JSON (statutory blocks only when filled; packaged food)

Revision ID: 0010_item_static_json_statutory
Revises: 0009_catalogue_rejections
Create Date: 2026-12-02 08:30:00.000000

``static_json`` caches the unchanging part of an item's on_search text. Its statutory part
changed shape (empty blocks are no longer sent; prepackaged food has its own block), so the
cached texts are cleared: a NULL is rendered from the columns until the item is next written.
"""

from alembic import op

revision = "0010_item_static_json_statutory"
down_revision = "0009_catalogue_rejections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE catalogue_items SET static_json = NULL")


def downgrade() -> None:
    op.execute("UPDATE catalogue_items SET static_json = NULL")
