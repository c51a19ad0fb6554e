"""The write side of the catalogue: upserts of validated input, soft deletes, stock/price/
availability changes. Used by the importer and the admin API, inside the caller's transaction.

Every write sets ``updated_at = now`` so incremental refresh and the search index see it.
A full item write (``item_row``) also stores the item's cached ``on_search`` text
(``Item.static_json``); the narrow changes here (stock, price, enabled, delete) touch only
columns outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.item_text import static_text
from ondc_adapter.catalogue.models import ItemIn, LocationIn, ProviderIn, VariantGroupIn
from ondc_adapter.catalogue.odop import OdopProduct
from ondc_adapter.catalogue.tables import (
    STATIC_JSON_COLUMNS,
    Item,
    Location,
    Provider,
    VariantGroup,
)

PROVIDER_TABLE: Table = Provider.__table__  # type: ignore[assignment]
LOCATION_TABLE: Table = Location.__table__  # type: ignore[assignment]
VARIANT_TABLE: Table = VariantGroup.__table__  # type: ignore[assignment]
ITEM_TABLE: Table = Item.__table__  # type: ignore[assignment]


def provider_row(p: ProviderIn, now: datetime) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "kind": p.kind,
        "short_desc": p.short_desc,
        "long_desc": p.long_desc,
        "symbol": p.symbol,
        "images": list(p.images),
        "phone": p.phone,
        "email": p.email,
        "gstin": p.gstin,
        "pan": p.pan,
        "fssai_license_no": p.fssai_license_no,
        "fulfillments": [f.model_dump() for f in p.fulfillments],
        "ttl": p.ttl,
        "min_order_value": p.min_order_value,
        "women_led": p.women_led,
        "shg": p.shg,
        "tribal": p.tribal,
        "khadi": p.khadi,
        "artisan": p.artisan,
        "gi_authorised_user": p.gi_authorised_user,
        "enabled": p.enabled,
        "sample": p.sample,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }


def location_row(provider_id: str, loc: LocationIn, now: datetime) -> dict[str, Any]:
    lat, lng = loc.lat_lng
    return {
        "provider_id": provider_id,
        "id": loc.id,
        "street": loc.street,
        "locality": loc.locality,
        "city": loc.city,
        "state": loc.state,
        "area_code": loc.area_code,
        "std_code": "0" + loc.std_code.lstrip("0") if loc.std_code else None,  # as in std:080
        "lat": lat,
        "lng": lng,
        "serviceability": loc.serviceability,
        "radius_km": loc.radius_km,
        "pincodes": list(loc.pincodes),
        "days": loc.days,
        "open_time": loc.open_time,
        "close_time": loc.close_time,
        "holidays": list(loc.holidays),
        "status": loc.status,
        "updated_at": now,
        "deleted_at": None,
    }


def variant_row(provider_id: str, v: VariantGroupIn, now: datetime) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        "id": v.id,
        "name": v.name,
        "attributes": list(v.attributes),
        "updated_at": now,
    }


def item_row(item: ItemIn, odop: OdopProduct | None, now: datetime) -> dict[str, Any]:
    row = {
        "id": item.id,
        "provider_id": item.provider_id,
        "location_id": item.location_id,
        "fulfillment_id": item.fulfillment_id,
        "parent_item_id": item.parent_item_id,
        "domain": item.domain,
        "category_id": item.category_id,
        "name": item.name,
        "code": item.code,
        "symbol": item.symbol,
        "images": list(item.images),
        "short_desc": item.short_desc,
        "long_desc": item.long_desc,
        "price": item.price,
        "mrp": item.mrp,
        "stock": item.stock,
        "max_per_order": item.max_per_order,
        "unit": item.unit,
        "unit_value": item.unit_value,
        "attributes": dict(item.attributes),
        "origin_country": item.origin_country,
        "returnable": item.returnable,
        "cancellable": item.cancellable,
        "seller_pickup_return": item.seller_pickup_return,
        "return_window": item.return_window,
        "time_to_ship": item.time_to_ship,
        "cod": item.cod,
        "consumer_care": item.consumer_care,
        "statutory": dict(item.statutory),
        "odop_lgd_code": odop.lgd_code if odop else None,
        "odop_district": odop.district if odop else None,
        "odop_state": odop.state if odop else None,
        "odop_product": odop.product if odop else None,
        "odop_sector": odop.sector if odop else None,
        "odop_gi": odop.gi if odop else False,
        "enabled": item.enabled,
        "sample": item.sample,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    row["static_json"] = static_text(*(row[name] for name in STATIC_JSON_COLUMNS))
    return row


async def upsert(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, as one executemany (``created_at`` kept)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    changing = [c for c in rows[0] if c not in keys and c != "created_at"]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in changing}
    )
    await session.execute(stmt, list(rows))


async def save_provider(session: AsyncSession, provider: ProviderIn, now: datetime) -> None:
    await upsert(session, PROVIDER_TABLE, [provider_row(provider, now)], ["id"])
    await upsert(
        session,
        LOCATION_TABLE,
        [location_row(provider.id, loc, now) for loc in provider.locations],
        ["provider_id", "id"],
    )
    await upsert(
        session,
        VARIANT_TABLE,
        [variant_row(provider.id, v, now) for v in provider.variant_groups],
        ["provider_id", "id"],
    )


async def save_items(
    session: AsyncSession, items: Sequence[tuple[ItemIn, OdopProduct | None]], now: datetime
) -> None:
    await upsert(session, ITEM_TABLE, [item_row(i, o, now) for i, o in items], ["id"])


async def change_item(
    session: AsyncSession,
    item_id: str,
    now: datetime,
    *,
    stock: int | None = None,
    price: Decimal | None = None,
    mrp: Decimal | None = None,
    enabled: bool | None = None,
) -> bool:
    """Set stock / price / MRP / enabled of a live item; ``False`` if there is no such item."""
    values: dict[str, Any] = {"updated_at": now}
    if stock is not None:
        values["stock"] = stock
    if price is not None:
        values["price"] = price
    if mrp is not None:
        values["mrp"] = mrp
    if enabled is not None:
        values["enabled"] = enabled
    result: Any = await session.execute(
        update(Item)
        .where(Item.id == item_id, Item.deleted_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def delete_item(session: AsyncSession, item_id: str, now: datetime) -> bool:
    """Soft delete (the next incremental on_search reports it as disabled)."""
    result: Any = await session.execute(
        update(Item)
        .where(Item.id == item_id, Item.deleted_at.is_(None))
        .values(enabled=False, deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def touch_provider(session: AsyncSession, provider_id: str, now: datetime) -> None:
    """Stamp the provider of a store or variant group written on its own: readers (the search
    index's serviceability, cached provider headers) see a provider's parts change through its
    ``updated_at``."""
    await session.execute(
        update(Provider)
        .where(Provider.id == provider_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def set_location_status(
    session: AsyncSession, provider_id: str, location_id: str, status: str, now: datetime
) -> bool:
    """Open ("enable"), temporarily close ("close") or disable a live store; ``False`` if the
    provider has no such store. The provider is stamped too (``touch_provider``)."""
    if status not in ("enable", "close", "disable"):
        raise ValueError(f"store status must be enable, close or disable, not {status!r}")
    result: Any = await session.execute(
        update(Location)
        .where(
            Location.provider_id == provider_id,
            Location.id == location_id,
            Location.deleted_at.is_(None),
        )
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    await touch_provider(session, provider_id, now)
    return True


async def set_provider_enabled(
    session: AsyncSession, provider_id: str, enabled: bool, now: datetime
) -> bool:
    result: Any = await session.execute(
        update(Provider)
        .where(Provider.id == provider_id, Provider.deleted_at.is_(None))
        .values(enabled=enabled, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def delete_provider(session: AsyncSession, provider_id: str, now: datetime) -> bool:
    result: Any = await session.execute(
        update(Provider)
        .where(Provider.id == provider_id, Provider.deleted_at.is_(None))
        .values(enabled=False, deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return False
    await session.execute(
        update(Item)
        .where(Item.provider_id == provider_id, Item.deleted_at.is_(None))
        .values(enabled=False, deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return True
