"""The catalogue store API that other seller logic (``select``/``init``/``confirm``) uses.

This module is a **stable contract**; everything here works on the caller's ``AsyncSession``
and never commits (the caller's transaction decides), so a stock reservation and the order it
belongs to commit or roll back together.

Reading::

    items = await get_items(session, "P1", ["I1", "I2"])   # {id: ItemRecord}; unknown ids absent
    provider = await get_provider(session, "P1")           # ProviderRecord | None

* ``get_items`` only returns items of ``provider_id`` that are not deleted. Disabled items *are*
  returned (``enabled=False``) so the caller can answer "item unavailable" rather than "not found".
  ``ItemRecord.available`` is the convenience "can be ordered now" flag (item and provider
  enabled, stock > 0).
* ``get_provider`` returns ``None`` for an unknown or deleted provider; its ``locations`` exclude
  deleted locations.

Stock::

    ok = await reserve_stock(session, "I1", 2)   # False: not enough stock / disabled / unknown
    await release_stock(session, "I1", 2)        # give a reservation back (cancel, timeout)

Both note the item in ``stock_changes(session)`` (the session's own ``info``, so the note lives
and dies with the transaction): whoever commits the order change pushes the new
``available.count`` to subscribed buyer apps (``catalogue.handler.push_stock_changes``).

``reserve_stock`` is ONE conditional ``UPDATE ... SET stock = stock - :q WHERE id = :id AND
stock >= :q``: concurrent reservations serialise on the row lock and stock never goes negative
(the table also has a ``CHECK (stock >= 0)``).

Serviceability::

    is_serviceable(provider_or_location, gps="12.97,77.59", area_code="560001") -> bool

    serves_city(location, "std:080", cities) -> bool

Geographic only (type 10 radius, 11 PIN list/ranges, 12 pan-India); a disabled location never
serves. Whether the store is open now is a separate question (``LocationRecord.status``, timings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.cities import CityDirectory, std_of_city
from ondc_adapter.catalogue.tables import Item, Location, Provider

EARTH_RADIUS_KM = 6371.0088
_STOCK_CHANGES = "ondc_stock_changes"


def stock_changes(session: AsyncSession) -> set[str]:
    """Ids of the items whose stock this session changed (not yet pushed)."""
    changes: set[str] = session.info.setdefault(_STOCK_CHANGES, set())
    return changes


@dataclass(frozen=True, slots=True)
class FulfillmentRecord:
    id: str  # "F1"
    type: str  # "Delivery" | "Self-Pickup" | "Delivery and Self-Pickup" | "Buyer-Delivery"


@dataclass(frozen=True, slots=True)
class LocationRecord:
    id: str
    provider_id: str
    street: str
    locality: str
    city: str
    state: str
    area_code: str  # PIN code
    std_code: str | None  # "080": serves context.city "std:080"
    lat: Decimal
    lng: Decimal
    serviceability: str  # "10" radius | "11" PIN list | "12" pan-India
    radius_km: Decimal | None
    pincodes: tuple[str, ...]  # "560001" or ranges "560001-560099" (type "11")
    days: str  # "1,2,3,4,5,6,7" (1 = Monday)
    open_time: str  # "0900"
    close_time: str  # "2100"
    holidays: tuple[str, ...]  # "YYYY-MM-DD"
    status: str  # "enable" | "close" | "disable"
    updated_at: datetime

    @property
    def gps(self) -> str:
        """``"lat,lng"`` with 6 decimals, as ONDC writes it."""
        return f"{self.lat:.6f},{self.lng:.6f}"


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    id: str
    name: str
    kind: str  # artisan | shg | cooperative | emporium | producer_company | enterprise
    phone: str
    email: str
    gstin: str | None
    pan: str | None
    fssai_license_no: str | None
    enabled: bool
    fulfillments: tuple[FulfillmentRecord, ...]
    locations: tuple[LocationRecord, ...]
    min_order_value: Decimal | None
    ttl: str
    women_led: bool
    shg: bool
    tribal: bool
    khadi: bool
    artisan: bool
    gi_authorised_user: bool
    updated_at: datetime

    def location(self, location_id: str) -> LocationRecord | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def fulfillment(self, fulfillment_id: str) -> FulfillmentRecord | None:
        return next((f for f in self.fulfillments if f.id == fulfillment_id), None)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    id: str
    provider_id: str
    location_id: str
    domain: str
    category_id: str
    name: str
    price: Decimal  # selling price per unit, tax inclusive (what the quote charges)
    mrp: Decimal
    stock: int
    max_per_order: int
    enabled: bool  # the item's own switch (a disabled provider is reported by ``available``)
    returnable: bool
    cancellable: bool
    return_window: str  # ISO-8601 duration, "P7D"
    time_to_ship: str  # ISO-8601 duration, "P2D"
    cod: bool
    fulfillment_id: str
    seller_pickup_return: bool
    code: str  # "1:<EAN>" | "4:<HSN>"
    parent_item_id: str | None
    unit: str  # "unit" | "gram" | ...
    unit_value: str  # "1"
    consumer_care: str  # "name,email,phone"
    symbol: str | None
    images: tuple[str, ...]
    origin_country: str
    provider_enabled: bool
    updated_at: datetime

    @property
    def available(self) -> bool:
        """Orderable now: item and provider enabled and at least one in stock."""
        return self.enabled and self.provider_enabled and self.stock > 0

    @property
    def currency(self) -> str:
        return "INR"


def location_record(row: Location) -> LocationRecord:
    return LocationRecord(
        id=row.id,
        provider_id=row.provider_id,
        street=row.street,
        locality=row.locality,
        city=row.city,
        state=row.state,
        area_code=row.area_code,
        std_code=row.std_code,
        lat=Decimal(row.lat),
        lng=Decimal(row.lng),
        serviceability=row.serviceability,
        radius_km=None if row.radius_km is None else Decimal(row.radius_km),
        pincodes=tuple(row.pincodes or ()),
        days=row.days,
        open_time=row.open_time,
        close_time=row.close_time,
        holidays=tuple(row.holidays or ()),
        status=row.status,
        updated_at=row.updated_at,
    )


def provider_record(row: Provider, locations: list[Location]) -> ProviderRecord:
    return ProviderRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        phone=row.phone,
        email=row.email,
        gstin=row.gstin,
        pan=row.pan,
        fssai_license_no=row.fssai_license_no,
        enabled=row.enabled and row.deleted_at is None,
        fulfillments=tuple(
            FulfillmentRecord(id=str(f["id"]), type=str(f["type"])) for f in row.fulfillments
        ),
        locations=tuple(location_record(loc) for loc in locations if loc.deleted_at is None),
        min_order_value=row.min_order_value,
        ttl=row.ttl,
        women_led=row.women_led,
        shg=row.shg,
        tribal=row.tribal,
        khadi=row.khadi,
        artisan=row.artisan,
        gi_authorised_user=row.gi_authorised_user,
        updated_at=row.updated_at,
    )


def item_record(row: Item, provider_enabled: bool = True) -> ItemRecord:
    return ItemRecord(
        id=row.id,
        provider_id=row.provider_id,
        location_id=row.location_id,
        domain=row.domain,
        category_id=row.category_id,
        name=row.name,
        price=Decimal(row.price),
        mrp=Decimal(row.mrp),
        stock=row.stock,
        max_per_order=row.max_per_order,
        enabled=row.enabled and row.deleted_at is None,
        returnable=row.returnable,
        cancellable=row.cancellable,
        return_window=row.return_window,
        time_to_ship=row.time_to_ship,
        cod=row.cod,
        fulfillment_id=row.fulfillment_id,
        seller_pickup_return=row.seller_pickup_return,
        code=row.code,
        parent_item_id=row.parent_item_id,
        unit=row.unit,
        unit_value=row.unit_value,
        consumer_care=row.consumer_care,
        symbol=row.symbol,
        images=tuple(row.images or ()),
        origin_country=row.origin_country,
        provider_enabled=provider_enabled,
        updated_at=row.updated_at,
    )


async def get_items(
    session: AsyncSession, provider_id: str, item_ids: list[str]
) -> dict[str, ItemRecord]:
    """Items of ``provider_id`` among ``item_ids`` (not deleted), keyed by id.

    Ids that are unknown, deleted or belong to another provider are simply absent."""
    if not item_ids:
        return {}
    stmt = (
        select(Item, Provider.enabled, Provider.deleted_at)
        .join(Provider, Provider.id == Item.provider_id)
        .where(
            Item.provider_id == provider_id,
            Item.id.in_(list(dict.fromkeys(item_ids))),
            Item.deleted_at.is_(None),
        )
    )
    out: dict[str, ItemRecord] = {}
    for item, p_enabled, p_deleted in (await session.execute(stmt)).all():
        out[item.id] = item_record(item, provider_enabled=bool(p_enabled) and p_deleted is None)
    return out


async def get_provider(session: AsyncSession, provider_id: str) -> ProviderRecord | None:
    """The provider with its (non-deleted) locations, or ``None`` if unknown or deleted."""
    provider = await session.get(Provider, provider_id)
    if provider is None or provider.deleted_at is not None:
        return None
    locations = (
        await session.scalars(
            select(Location).where(Location.provider_id == provider_id).order_by(Location.id)
        )
    ).all()
    return provider_record(provider, list(locations))


_items = Item.__table__
# Built once, a Core statement: the ORM-enabled UPDATE built per call cost a confirm more CPU
# than its round trip.
_RESERVE = (
    update(_items)
    .where(
        _items.c.id == bindparam("item_id"),
        _items.c.stock >= bindparam("quantity"),
        _items.c.enabled.is_(True),
        _items.c.deleted_at.is_(None),
    )
    .values(stock=_items.c.stock - bindparam("quantity"), updated_at=bindparam("now"))
)


async def reserve_stock(
    session: AsyncSession, item_id: str, quantity: int, *, now: datetime | None = None
) -> bool:
    """Take ``quantity`` from the item's stock atomically; ``False`` (nothing changed) if there
    is not enough, or the item is unknown, disabled or deleted."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    # what an ORM statement would do first: pending ORM changes (an item edited in this
    # session) reach the database before the conditional UPDATE reads the row
    await session.flush()
    params = {"item_id": item_id, "quantity": quantity, "now": now or datetime.now(UTC)}
    result: Any = await session.execute(_RESERVE, params)
    if result.rowcount == 1:
        stock_changes(session).add(item_id)
        return True
    return False


async def release_stock(
    session: AsyncSession, item_id: str, quantity: int, *, now: datetime | None = None
) -> bool:
    """Give ``quantity`` back to the item's stock; ``False`` if the item does not exist."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    stmt = (
        update(Item)
        .where(Item.id == item_id)
        .values(stock=Item.stock + quantity, updated_at=now or datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    result: Any = await session.execute(stmt)
    if result.rowcount == 1:
        stock_changes(session).add(item_id)
        return True
    return False


def parse_gps(value: str) -> tuple[float, float] | None:
    """``"12.97,77.59"`` (spaces tolerated) -> (lat, lng); ``None`` when malformed."""
    try:
        lat_s, lng_s = value.split(",")
        lat, lng = float(lat_s), float(lng_s)
    except (ValueError, AttributeError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or math.isnan(lat) or math.isnan(lng):
        return None
    return lat, lng


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def pincode_matches(area_code: str, entries: tuple[str, ...] | list[str]) -> bool:
    """``area_code`` equals one entry or lies in a ``a-b`` range entry."""
    if not (len(area_code) == 6 and area_code.isdigit()):
        return False
    code = int(area_code)
    for entry in entries:
        if "-" in entry:
            low, _, high = entry.partition("-")
            if (low.strip().isdigit() and high.strip().isdigit()
                    and int(low) <= code <= int(high)):
                return True
        elif entry.strip() == area_code:
            return True
    return False


def is_serviceable(
    target: ProviderRecord | LocationRecord,
    gps: str | None = None,
    area_code: str | None = None,
) -> bool:
    """Can ``target`` deliver to the buyer at ``gps`` / ``area_code``?

    A provider serves when any of its locations does. Pan-India ("12") serves every address;
    radius ("10") needs the buyer's gps within ``radius_km`` (or, without gps, the same PIN as
    the store); PIN list ("11") needs ``area_code`` in the list or a range."""
    if isinstance(target, ProviderRecord):
        return target.enabled and any(
            is_serviceable(loc, gps, area_code) for loc in target.locations
        )
    loc = target
    if loc.status == "disable":
        return False
    if loc.serviceability == "12":
        return True
    if loc.serviceability == "10":
        point = parse_gps(gps) if gps else None
        if point is None:
            return bool(area_code) and area_code == loc.area_code
        radius = float(loc.radius_km or 0)
        return distance_km((float(loc.lat), float(loc.lng)), point) <= radius
    if loc.serviceability == "11":
        return bool(area_code) and pincode_matches(area_code or "", loc.pincodes)
    return False


def _pin_range(entry: str) -> tuple[int, int] | None:
    low, dash, high = entry.partition("-")
    low, high = low.strip(), (high.strip() if dash else low.strip())
    if not (low.isdigit() and high.isdigit()):
        return None
    return int(low), int(high)


def in_city(loc: LocationRecord, code: str, cities: CityDirectory) -> bool:
    """Is ``loc`` a store *in* the city of STD code ``code`` (``"080"``): the STD code its
    seller gave, or the one its PIN code lies in (``cities``)?"""
    return (loc.std_code or cities.std_for_pin(loc.area_code)) == code


def serves_city(loc: LocationRecord, city: str, cities: CityDirectory) -> bool:
    """Does ``loc`` serve buyers in ``context.city`` (``std:<code>``; ``*`` is every city)?

    Pan-India stores serve every city. A store in the city (its STD code, or one derived from
    its PIN) serves it, whatever its kind. An intercity store serves a city when its PIN list
    reaches into the city's PIN codes (``cities``). A hyperlocal store elsewhere does not."""
    if loc.status == "disable":
        return False
    code = std_of_city(city)
    if code is None or loc.serviceability == "12":
        return True
    if in_city(loc, code, cities):
        return True
    if loc.serviceability != "11":
        return False
    spans = cities.pin_ranges(code)
    for entry in loc.pincodes:
        span = _pin_range(entry)
        if span and any(span[0] <= high and low <= span[1] for low, high in spans):
            return True
    return False
