"""The offers table: each seller's ONDC retail 1.2.5 offers as defined (docs/offers.md).

A row holds what ``offers.models.Offer`` holds, plus what only storage needs: the seller's
order (``position``), whether the offer is on (``enabled``) and when it was made and changed.

* Offer ids are unique per provider (the wire's ``providers[].offers[].id`` lives inside its
  provider), so the key is ``(provider_id, id)`` as for locations.
* The qualifier and benefit are stored as the JSON of ``Qualifier`` / ``Benefit`` (paise as
  integers, the percent as its two-decimal string): they are read back whole through the
  model, never queried field by field, and new 1.2.5 tags need no migration.
* Deleting an offer deletes its row: 1.2.0 has no offers, and a 1.2.5 catalogue lists a
  provider's offers whole, so there is no removal to announce item by item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.storage.base import Base, JSONType, UTCDateTime

# offers.models.OfferType's values, spelt out: the CHECK below is in migration 0013, so a new
# type needs a migration, not just a new enum member (tests compare the two lists)
OFFER_TYPES = ("discount", "buyXgetY", "freebie", "slab", "combo", "delivery")


class OfferRow(Base):
    """One offer of one seller (``offers.models.Offer`` plus order, switch and times)."""

    __tablename__ = "catalogue_offers"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("catalogue_providers.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    location_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    category_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    item_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    qualifier: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    benefit: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    additive: Mapped[bool] = mapped_column(Boolean, nullable=False)
    auto: Mapped[bool] = mapped_column(Boolean, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False, default="")
    images: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    # the seller's order: ties between offers and the order money offers take their share in
    # (offers.apply); equal positions fall back to the id
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in OFFER_TYPES) + ")",
            name="type",
        ),
        CheckConstraint("valid_to > valid_from", name="valid_range"),
        # offers_for: the providers of a search page, in the seller's order
        Index("ix_catalogue_offers_provider_position", "provider_id", "position", "id"),
    )
