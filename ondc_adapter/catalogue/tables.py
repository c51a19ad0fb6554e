"""Catalogue tables: providers (sellers), their locations, variant groups, items, and the
buyer apps subscribed to incremental catalogue pushes.

Design notes:

* Ids are the strings that appear on the wire (``bpp/providers[].id``, ``items[].id``). Item ids
  are unique across the node because ``select``/``init`` and stock reservation address items by
  id; location and variant-group ids are unique per provider (``L1`` for every seller is fine).
* Money is ``Numeric(12, 2)`` (``Decimal`` in Python), never float.
* Every row carries ``updated_at`` (indexed) so an incremental refresh or the search index can
  ask "what changed since T" cheaply. Deleting a provider/item/location is a soft delete
  (``deleted_at`` set, ``enabled`` false) because incremental ``on_search`` must tell subscribed
  buyer apps about the removal (``time.label = "disable"``).
* ODOP facts are copied onto the item (LGD code, district, state, product, sector, GI) so search
  and ``on_search`` never join the registry; the registry itself is shipped data, not a table.
* ``Item.static_json`` caches the item's ``on_search`` JSON for the columns that only a full
  item write changes (``STATIC_JSON_COLUMNS``: descriptor, category, tags...), so a full
  catalogue is spliced from stored text instead of rebuilt field by field. Stock, price,
  availability and timestamps stay outside it (they change on every order). ``NULL`` means
  "not cached": readers then build the same text from the columns. ``write.item_row`` fills it;
  an ORM change to a static column clears it (listener below); any other code that changes a
  static column must set it to ``NULL`` (or recompute it). A change of the text's format needs
  a migration that sets it to ``NULL``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column
from sqlalchemy.orm.attributes import get_history

from ondc_adapter.storage.base import Base, JSONType, UTCDateTime

MONEY = Numeric(12, 2)
COORD = Numeric(9, 6)

PROVIDER_KINDS = ("artisan", "shg", "cooperative", "emporium", "producer_company", "enterprise")
INCLUSION_FACTS = ("women_led", "shg", "tribal", "khadi", "artisan", "gi_authorised_user")


class Provider(Base):
    """A seller: an artisan, a self-help group, a cooperative, or an emporium for many artisans."""

    __tablename__ = "catalogue_providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, default="artisan")
    short_desc: Mapped[str] = mapped_column(Text, nullable=False, default="")
    long_desc: Mapped[str] = mapped_column(Text, nullable=False, default="")
    symbol: Mapped[str | None] = mapped_column(Text, nullable=True)
    images: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    phone: Mapped[str] = mapped_column(String(16), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    gstin: Mapped[str | None] = mapped_column(String(15), nullable=True)
    pan: Mapped[str | None] = mapped_column(String(10), nullable=True)
    fssai_license_no: Mapped[str | None] = mapped_column(String(14), nullable=True)
    # [{"id": "F1", "type": "Delivery"}, ...]; contact is the provider's phone/email.
    fulfillments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    ttl: Mapped[str] = mapped_column(String(16), nullable=False, default="P1D")
    min_order_value: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    # inclusion facts (women-led, self-help group, tribal, khadi, artisan/weaver, GI user)
    women_led: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    shg: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    tribal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    khadi: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    artisan: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    gi_authorised_user: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sample: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(
            "min_order_value IS NULL OR min_order_value >= 0", name="min_order_value"
        ),
    )


class Location(Base):
    """A store / workshop a provider ships from, with its hours and where it delivers."""

    __tablename__ = "catalogue_locations"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("catalogue_providers.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    street: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    locality: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(100), nullable=False)
    state: Mapped[str] = mapped_column(String(100), nullable=False)
    area_code: Mapped[str] = mapped_column(String(6), nullable=False)  # PIN code
    std_code: Mapped[str | None] = mapped_column(String(8), nullable=True)  # "080" for std:080
    lat: Mapped[Decimal] = mapped_column(COORD, nullable=False)
    lng: Mapped[Decimal] = mapped_column(COORD, nullable=False)
    # ONDC serviceability type: "10" hyperlocal radius, "11" intercity PIN list, "12" pan-India
    serviceability: Mapped[str] = mapped_column(String(2), nullable=False, default="12")
    radius_km: Mapped[Decimal | None] = mapped_column(Numeric(7, 2), nullable=True)
    # PIN codes and ranges ("560001", "560001-560099") for type "11"
    pincodes: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    days: Mapped[str] = mapped_column(String(16), nullable=False, default="1,2,3,4,5,6,7")
    open_time: Mapped[str] = mapped_column(String(4), nullable=False, default="0000")  # HHMM
    close_time: Mapped[str] = mapped_column(String(4), nullable=False, default="2359")
    holidays: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    # "enable" | "close" (temporarily closed) | "disable"
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="enable")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("serviceability IN ('10', '11', '12')", name="serviceability"),
        CheckConstraint("status IN ('enable', 'close', 'disable')", name="status"),
    )


class VariantGroup(Base):
    """A parent of item variants (``categories[]`` with ``type=variant_group`` on the wire)."""

    __tablename__ = "catalogue_variant_groups"

    provider_id: Mapped[str] = mapped_column(
        ForeignKey("catalogue_providers.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # attribute codes the variants differ by, in order: ["colour"], ["size", "colour"]
    attributes: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Item(Base):
    __tablename__ = "catalogue_items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    location_id: Mapped[str] = mapped_column(String(64), nullable=False)
    fulfillment_id: Mapped[str] = mapped_column(String(32), nullable=False, default="F1")
    parent_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    domain: Mapped[str] = mapped_column(String(16), nullable=False)
    category_id: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    code: Mapped[str] = mapped_column(String(20), nullable=False)  # "1:<EAN>" / "4:<HSN>"
    symbol: Mapped[str | None] = mapped_column(Text, nullable=True)
    images: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    short_desc: Mapped[str] = mapped_column(Text, nullable=False)
    long_desc: Mapped[str] = mapped_column(Text, nullable=False)
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)  # selling price, tax incl.
    mrp: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_per_order: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    unit: Mapped[str] = mapped_column(String(16), nullable=False, default="unit")
    unit_value: Mapped[str] = mapped_column(String(16), nullable=False, default="1")
    # category attribute tags: {"colour": "#E52B50", "colour_name": "amaranth", ...}
    attributes: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False, default=dict)
    origin_country: Mapped[str] = mapped_column(String(3), nullable=False, default="IND")
    returnable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    cancellable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    seller_pickup_return: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    return_window: Mapped[str] = mapped_column(String(16), nullable=False, default="P7D")
    time_to_ship: Mapped[str] = mapped_column(String(16), nullable=False, default="P2D")
    cod: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consumer_care: Mapped[str] = mapped_column(String(300), nullable=False)  # "name,email,phone"
    # @ondc/org/statutory_reqs_packaged_commodities (keys as on the wire)
    statutory: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False, default=dict)
    # the ODOP product the item belongs to (copied from the registry at write time)
    odop_lgd_code: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    odop_district: Mapped[str | None] = mapped_column(String(100), nullable=True)
    odop_state: Mapped[str | None] = mapped_column(String(100), nullable=True)
    odop_product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    odop_sector: Mapped[str | None] = mapped_column(String(32), nullable=True)
    odop_gi: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sample: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # cached on_search JSON members made from STATIC_JSON_COLUMNS (see the module notes)
    static_json: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["provider_id", "location_id"],
            ["catalogue_locations.provider_id", "catalogue_locations.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("price <= mrp", name="price_le_mrp"),
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("max_per_order > 0", name="max_per_order_positive"),
        Index("ix_catalogue_items_provider_updated", "provider_id", "updated_at"),
        # on_search streams items in this order: an index scan starts at once, where a sort
        # of 100,000 wide rows spills to disk before the first row
        Index("ix_catalogue_items_provider_domain_id", "provider_id", "domain", "id"),
        # on_search's serviceability tags need the (provider, category) pairs of a domain up
        # front; covering the filter columns makes that an index-only scan of a narrow index
        Index(
            "ix_catalogue_items_domain_categories", "domain", "provider_id", "category_id",
            postgresql_include=["enabled", "deleted_at"],
        ),
        # a warm search (on_search_cache) reads only on_search.KEY_COLUMNS of a domain, in
        # (provider, id) order: with them all in one index that is an index-only scan, with no
        # sort and none of the wide rows (SQLite has no INCLUDE, so they are key columns)
        Index(
            "ix_catalogue_items_search_keys", "domain", "provider_id", "id", "parent_item_id",
            "updated_at", "stock", "enabled", "deleted_at",
        ),
    )


# The item columns ``static_json`` is made from (on_search.static_text takes them in this order).
STATIC_JSON_COLUMNS = (
    "name", "code", "symbol", "images", "short_desc", "long_desc", "category_id",
    "fulfillment_id", "location_id", "returnable", "cancellable", "return_window",
    "seller_pickup_return", "time_to_ship", "cod", "consumer_care", "statutory",
    "origin_country", "attributes", "odop_lgd_code", "odop_district", "odop_state",
    "odop_product", "odop_sector", "odop_gi", "parent_item_id",
)


@event.listens_for(Item, "before_update")
def _forget_stale_static_json(_mapper: Mapper[Item], _connection: Any, item: Item) -> None:
    """An ORM flush that changes a static column without setting ``static_json`` clears the
    cache (readers rebuild the text from the columns)."""
    if get_history(item, "static_json").has_changes():
        return
    if any(get_history(item, name).has_changes() for name in STATIC_JSON_COLUMNS):
        item.static_json = None


class Subscription(Base):
    """A buyer app that asked for incremental catalogue pushes (``catalog_inc`` mode=start)."""

    __tablename__ = "catalogue_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    bap_uri: Mapped[str] = mapped_column(Text, nullable=False)
    domain: Mapped[str] = mapped_column(String(16), nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    # the search context, reused as the base of every unsolicited on_search
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_catalogue_subscriptions_active", "active", "domain"),
        Index("ix_catalogue_subscriptions_bap", "bap_id", "domain"),
    )
