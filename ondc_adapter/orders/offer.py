"""What the seller offers a selection, read for select and init in ONE statement: the provider,
the store the buyer ordered from and the items asked for.

``store.get_provider`` + ``store.get_items`` gave the same facts in three round trips through
ORM entities (the provider, all its locations, the items with every column); a select or init
paid more for those reads than for all its own logic. Here one Core statement joins the
provider to the one store and to the requested items and reads only the columns pricing uses.
The rules are the store API's: a deleted provider is unknown, deleted stores and items are
absent, a disabled item is returned (the buyer is told "unavailable", not "not found").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.store import LocationRecord
from ondc_adapter.catalogue.tables import Item, Location, Provider

_p = Provider.__table__
_l = Location.__table__
_i = Item.__table__


@dataclass(frozen=True, slots=True)
class Seller:
    """The provider's facts an order needs."""

    id: str
    name: str
    phone: str
    email: str
    pan: str | None
    enabled: bool
    fulfillment_ids: tuple[str, ...]  # ids of its fulfillments ("F1"), in its order
    min_order_value: Decimal | None


@dataclass(frozen=True, slots=True)
class OfferedItem:
    """An item's terms as a quote and an order record need them."""

    id: str
    name: str
    price: Decimal  # selling price per unit, tax inclusive
    stock: int
    max_per_order: int
    enabled: bool  # the item's own switch (the provider's is ``Seller.enabled``)
    fulfillment_id: str
    cod: bool
    cancellable: bool
    returnable: bool
    return_window: str
    time_to_ship: str
    category_id: str = ""  # the ONDC category: 1.2.5 offers may apply by category


@dataclass(frozen=True, slots=True)
class Offer:
    seller: Seller
    location: LocationRecord | None  # the store asked for; None when it is not the seller's
    items: dict[str, OfferedItem]  # by id, in id order; unknown and deleted ids absent


_COLUMNS = (
    _p.c.id, _p.c.name, _p.c.phone, _p.c.email, _p.c.pan, _p.c.enabled, _p.c.fulfillments,
    _p.c.min_order_value,
    _l.c.id.label("l_id"), _l.c.street, _l.c.locality, _l.c.city, _l.c.state, _l.c.area_code,
    _l.c.std_code, _l.c.lat, _l.c.lng, _l.c.serviceability, _l.c.radius_km, _l.c.pincodes,
    _l.c.days, _l.c.open_time, _l.c.close_time, _l.c.holidays, _l.c.status,
    _l.c.updated_at.label("l_updated_at"),
    _i.c.id.label("i_id"), _i.c.name.label("i_name"), _i.c.price, _i.c.stock,
    _i.c.max_per_order, _i.c.enabled.label("i_enabled"), _i.c.fulfillment_id, _i.c.cod,
    _i.c.cancellable, _i.c.returnable, _i.c.return_window, _i.c.time_to_ship,
    _i.c.category_id,
)


def _statement(location: ColumnElement[Any]) -> Select[Any]:
    """The provider (not deleted), LEFT JOINed to its store ``location`` (an expression: the
    id asked for, or the first store's) and to the requested items: one row per item found,
    or one row with no item columns."""
    return (
        select(*_COLUMNS)
        .select_from(
            _p.outerjoin(
                _l,
                and_(_l.c.provider_id == _p.c.id, _l.c.id == location, _l.c.deleted_at.is_(None)),
            ).outerjoin(
                _i,
                and_(
                    _i.c.provider_id == _p.c.id,
                    _i.c.id.in_(bindparam("item_ids", expanding=True)),
                    _i.c.deleted_at.is_(None),
                ),
            )
        )
        .where(_p.c.id == bindparam("provider_id"), _p.c.deleted_at.is_(None))
        # items in id order: the quote's fulfillment comes from the first item
        .order_by(_i.c.id)
    )


# Built once: a statement built per request costs more in SQLAlchemy than its round trip.
_NAMED_STORE = _statement(bindparam("location_id"))
# The request named no store: the provider's first one (by id), as ``ProviderRecord.locations``
# orders them.
_stores = _l.alias("stores")
_FIRST_STORE = _statement(
    select(func.min(_stores.c.id))
    .where(_stores.c.provider_id == _p.c.id, _stores.c.deleted_at.is_(None))
    .scalar_subquery()
)


async def read_offer(
    session: AsyncSession, provider_id: str, location_id: str | None, item_ids: Sequence[str]
) -> Offer | None:
    """The offer of ``provider_id`` from its store ``location_id`` (``None``: its first store)
    for ``item_ids``; ``None`` when the provider is unknown or deleted."""
    params: dict[str, object] = {
        "provider_id": provider_id,
        "item_ids": list(dict.fromkeys(item_ids)),
    }
    if location_id is None:
        stmt = _FIRST_STORE
    else:
        stmt = _NAMED_STORE
        params["location_id"] = location_id
    rows = (await session.execute(stmt, params)).all()
    if not rows:
        return None
    first = rows[0]
    seller = Seller(
        id=first.id,
        name=first.name,
        phone=first.phone,
        email=first.email,
        pan=first.pan,
        enabled=first.enabled,
        fulfillment_ids=tuple(str(f["id"]) for f in first.fulfillments),
        min_order_value=first.min_order_value,
    )
    location = None
    if first.l_id is not None:
        location = LocationRecord(
            id=first.l_id,
            provider_id=first.id,
            street=first.street,
            locality=first.locality,
            city=first.city,
            state=first.state,
            area_code=first.area_code,
            std_code=first.std_code,
            lat=Decimal(first.lat),
            lng=Decimal(first.lng),
            serviceability=first.serviceability,
            radius_km=None if first.radius_km is None else Decimal(first.radius_km),
            pincodes=tuple(first.pincodes or ()),
            days=first.days,
            open_time=first.open_time,
            close_time=first.close_time,
            holidays=tuple(first.holidays or ()),
            status=first.status,
            updated_at=first.l_updated_at,
        )
    items = {
        row.i_id: OfferedItem(
            id=row.i_id,
            name=row.i_name,
            price=Decimal(row.price),
            stock=row.stock,
            max_per_order=row.max_per_order,
            enabled=row.i_enabled,
            fulfillment_id=row.fulfillment_id,
            cod=row.cod,
            cancellable=row.cancellable,
            returnable=row.returnable,
            return_window=row.return_window,
            time_to_ship=row.time_to_ship,
            category_id=row.category_id or "",
        )
        for row in rows
        if row.i_id is not None
    }
    return Offer(seller, location, items)
