"""catalogue speed: cached on_search JSON of each item's static columns, and an index in the
order on_search streams items

Revision ID: 0005_catalogue_speed
Revises: 0003_catalogue
Create Date: 2026-11-23 10:00:00.000000

Existing rows get NULL (not cached): ``on_search`` builds their text from the columns until the
item is written again (import or admin update).
"""

from alembic import op
import sqlalchemy as sa

revision = '0005_catalogue_speed'
down_revision = '0003_catalogue'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('catalogue_items', sa.Column('static_json', sa.Text(), nullable=True))
    op.create_index('ix_catalogue_items_provider_domain_id', 'catalogue_items',
                    ['provider_id', 'domain', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_catalogue_items_provider_domain_id', table_name='catalogue_items')
    with op.batch_alter_table('catalogue_items') as batch:
        batch.drop_column('static_json')
