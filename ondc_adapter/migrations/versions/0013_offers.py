"""catalogue: the sellers' offers (ONDC retail 1.2.5, issue 16)

Revision ID: 0013_offers
Revises: 0012_order_core_version
Create Date: 2027-01-12 09:00:00.000000

A new table only; nothing existing changes (1.2.0 has no offers).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_offers"
down_revision = "0012_order_core_version"
branch_labels = None
depends_on = ("0003_catalogue",)  # offers belong to catalogue providers

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalogue_offers",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_to", TS, nullable=False),
        sa.Column("location_ids", JSON, nullable=False),
        sa.Column("category_ids", JSON, nullable=False),
        sa.Column("item_ids", JSON, nullable=False),
        sa.Column("qualifier", JSON, nullable=False),
        sa.Column("benefit", JSON, nullable=False),
        sa.Column("additive", sa.Boolean(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("images", JSON, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "type IN ('discount', 'buyXgetY', 'freebie', 'slab', 'combo', 'delivery')",
            name=op.f("ck_catalogue_offers_type"),
        ),
        sa.CheckConstraint("valid_to > valid_from", name=op.f("ck_catalogue_offers_valid_range")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["catalogue_providers.id"],
            name=op.f("fk_catalogue_offers_provider_id_catalogue_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "id", name=op.f("pk_catalogue_offers")),
    )
    op.create_index(
        "ix_catalogue_offers_provider_position", "catalogue_offers",
        ["provider_id", "position", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_catalogue_offers_provider_position", table_name="catalogue_offers")
    op.drop_table("catalogue_offers")
