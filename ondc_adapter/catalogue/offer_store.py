"""Reading and writing the sellers' offers (``catalogue_offers``), and the one read the 1.2.5
renderers use: ``offers_for`` (docs/offers.md, "How a seller defines offers").

``offers/`` is pure; this module is its storage. Every write goes through ``load_offer`` and
then the references are checked against the provider's catalogue, so a bad offer is refused
with ``OfferInvalid(field, message)`` naming the field, whichever door it came in by (the
admin API, the import, the console). Every function takes the caller's ``AsyncSession`` and
leaves the transaction to it.

The seller's definition is the JSON of ``offers.models.Offer`` without ``provider_id`` (the
provider is the one it is stored under), plus two storage fields: ``position`` (the seller's
order, which ``apply_offers`` uses to break ties) and ``enabled``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.offer_tables import OfferRow
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.offers.models import Offer, OfferInvalid, load_offer

# the catalogue's id rule (catalogue.models.ID): the column is 64 wide and offer ids travel
# in URLs of the admin API and the console
OFFER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
MAX_TITLE = 300
MIN_YEAR, MAX_YEAR = 2000, 9000
MAX_IDS = 1000  # ids of one list: more is a mistake, not an offer
STORAGE_FIELDS = ("position", "enabled")
OFFER_COLUMNS = (
    OfferRow.provider_id, OfferRow.id, OfferRow.type, OfferRow.valid_from, OfferRow.valid_to,
    OfferRow.location_ids, OfferRow.category_ids, OfferRow.item_ids, OfferRow.qualifier,
    OfferRow.benefit, OfferRow.additive, OfferRow.auto, OfferRow.title, OfferRow.images,
)


@dataclass(frozen=True, slots=True)
class OfferInput:
    """A seller's offer as given: the offer, and the storage fields (``None``: unchanged on a
    replace; last in the seller's order and enabled on a create)."""

    offer: Offer
    position: int | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class StoredOffer:
    offer: Offer
    position: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- checks


def _nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first string holding U+0000 (PostgreSQL text cannot)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found = _nul_path(key, path) or _nul_path(inner, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found or "offer"
    elif isinstance(value, list | tuple):
        for n, inner in enumerate(value):
            found = _nul_path(inner, f"{path}.{n}")
            if found is not None:
                return found
    return None


def parse_offer(provider_id: str, data: Mapping[str, Any]) -> OfferInput:
    """The seller's definition ``data`` as an offer of ``provider_id``, checked on its own
    (types, the 1.2.5 rules of its type, the id); ``OfferInvalid`` names the first bad field.
    The references to the catalogue are ``check_references``'s."""
    if not isinstance(data, Mapping):
        raise OfferInvalid("offer", "must be a JSON object")
    nul = _nul_path(data, "")
    if nul is not None:
        raise OfferInvalid(nul, "must not contain the NUL character (U+0000)")
    fields = dict(data)
    given = fields.pop("provider_id", provider_id)
    if given != provider_id:
        raise OfferInvalid("provider_id", "must be the provider the offer is stored under")
    position, enabled = fields.pop("position", None), fields.pop("enabled", None)
    if position is not None and (
        type(position) is not int or not 0 <= position <= 1_000_000
    ):
        raise OfferInvalid("position", "must be a whole number from 0 to 1000000")
    if enabled is not None and type(enabled) is not bool:
        raise OfferInvalid("enabled", "must be true or false")
    offer = load_offer({**fields, "provider_id": provider_id})
    if not OFFER_ID.match(offer.id):
        raise OfferInvalid(
            "id", "use at most 64 letters, digits, '.', '_', ':' or '-', starting with a "
            "letter or digit"
        )
    for name in ("valid_from", "valid_to"):
        # a year 1 or 9999 with an offset leaves the UTC range the column stores
        if not MIN_YEAR <= getattr(offer, name).year <= MAX_YEAR:
            raise OfferInvalid(name, f"must be a time between the years {MIN_YEAR} and {MAX_YEAR}")
    if len(offer.title) > MAX_TITLE:
        raise OfferInvalid("title", f"at most {MAX_TITLE} characters")
    for name in ("item_ids", "location_ids", "category_ids", "images"):
        if len(getattr(offer, name)) > MAX_IDS:
            raise OfferInvalid(name, f"at most {MAX_IDS} entries")
    return OfferInput(offer, position, enabled)


def referenced_items(offer: Offer) -> dict[str, list[str]]:
    """field -> the item ids it names (the items covered, combo's secondary items, the item
    a freebie or buyXgetY gives)."""
    out = {"item_ids": list(offer.item_ids), "qualifier.item_ids": list(offer.qualifier.item_ids)}
    if offer.benefit.item_id is not None:
        out["benefit.item_id"] = [offer.benefit.item_id]
    return out


def reference_problem(
    offer: Offer, items: Collection[str], locations: Collection[str]
) -> OfferInvalid | None:
    """The first id ``offer`` names that is not among the provider's ``items`` / ``locations``."""
    for field, ids in referenced_items(offer).items():
        for item_id in ids:
            if item_id not in items:
                return OfferInvalid(field, f"the store has no item {item_id!r}")
    for location_id in offer.location_ids:
        if location_id not in locations:
            return OfferInvalid("location_ids", f"the store has no location {location_id!r}")
    return None


async def known_ids(session: AsyncSession, offer: Offer) -> tuple[set[str], set[str]]:
    """(items, locations) of the offer's provider among those the offer names (not deleted)."""
    wanted = {i for ids in referenced_items(offer).values() for i in ids}
    items: set[str] = set()
    if wanted:
        items = set(
            await session.scalars(
                select(Item.id).where(
                    Item.provider_id == offer.provider_id, Item.id.in_(sorted(wanted)),
                    Item.deleted_at.is_(None),
                )
            )
        )
    locations: set[str] = set()
    if offer.location_ids:
        locations = set(
            await session.scalars(
                select(Location.id).where(
                    Location.provider_id == offer.provider_id,
                    Location.id.in_(sorted(set(offer.location_ids))),
                    Location.deleted_at.is_(None),
                )
            )
        )
    return items, locations


async def check_references(session: AsyncSession, offer: Offer) -> None:
    """``OfferInvalid`` when the offer names an item or store its provider does not have."""
    problem = reference_problem(offer, *await known_ids(session, offer))
    if problem is not None:
        raise problem


async def check_offer(
    session: AsyncSession, provider_id: str, data: Mapping[str, Any]
) -> OfferInput:
    """``parse_offer`` and ``check_references``: the whole check before a write."""
    given = parse_offer(provider_id, data)
    await check_references(session, given.offer)
    return given


async def provider_exists(session: AsyncSession, provider_id: str) -> bool:
    provider = await session.get(Provider, provider_id)
    return provider is not None and provider.deleted_at is None


# ---------------------------------------------------------------- rows


def _offer_of(row: Any) -> Offer:
    # rows were checked on the way in: model_validate again only rebuilds the value objects
    return Offer.model_validate({
        "id": row.id, "provider_id": row.provider_id, "type": row.type,
        "valid_from": row.valid_from, "valid_to": row.valid_to,
        "location_ids": row.location_ids, "category_ids": row.category_ids,
        "item_ids": row.item_ids, "qualifier": row.qualifier, "benefit": row.benefit,
        "additive": row.additive, "auto": row.auto, "title": row.title, "images": row.images,
    })


def _stored(row: OfferRow) -> StoredOffer:
    return StoredOffer(_offer_of(row), row.position, row.enabled, row.created_at, row.updated_at)


def offer_data(offer: Offer) -> dict[str, Any]:
    """The seller's definition of ``offer`` as JSON (what ``parse_offer`` reads back)."""
    data = offer.model_dump(mode="json", exclude={"provider_id"})
    data["qualifier"] = offer.qualifier.model_dump(mode="json", exclude_none=True,
                                                   exclude_defaults=True)
    data["benefit"] = offer.benefit.model_dump(mode="json", exclude_none=True)
    return data


async def put_offer(session: AsyncSession, given: OfferInput, *, now: datetime) -> bool:
    """Create or replace the offer (its id within its provider); True when it was created.
    A new offer without a position goes last in the seller's order."""
    offer = given.offer
    row = await session.get(OfferRow, (offer.provider_id, offer.id))
    created = row is None
    if row is None:
        position = given.position
        if position is None:
            last = await session.scalar(
                select(func.max(OfferRow.position)).where(
                    OfferRow.provider_id == offer.provider_id
                )
            )
            position = 1 if last is None else last + 1
        row = OfferRow(provider_id=offer.provider_id, id=offer.id, position=position,
                       enabled=True if given.enabled is None else given.enabled, created_at=now)
        session.add(row)
    else:
        if given.position is not None:
            row.position = given.position
        if given.enabled is not None:
            row.enabled = given.enabled
    data = offer_data(offer)
    row.type = offer.type.value
    row.valid_from, row.valid_to = offer.valid_from, offer.valid_to
    row.location_ids, row.category_ids = data["location_ids"], data["category_ids"]
    row.item_ids, row.images = data["item_ids"], data["images"]
    row.qualifier, row.benefit = data["qualifier"], data["benefit"]
    row.additive, row.auto, row.title = offer.additive, offer.auto, offer.title
    row.updated_at = now
    await session.flush()
    return created


async def get_offer(session: AsyncSession, provider_id: str, offer_id: str) -> StoredOffer | None:
    row = await session.get(OfferRow, (provider_id, offer_id), populate_existing=True)
    return None if row is None else _stored(row)


async def list_offers(session: AsyncSession, provider_id: str) -> list[StoredOffer]:
    """Every offer of the provider, enabled or not, valid or not, in the seller's order."""
    rows = await session.scalars(
        select(OfferRow).where(OfferRow.provider_id == provider_id)
        .order_by(OfferRow.position, OfferRow.id)
    )
    return [_stored(row) for row in rows]


async def set_enabled(
    session: AsyncSession, provider_id: str, offer_id: str, enabled: bool, *, now: datetime
) -> StoredOffer | None:
    row = await session.get(OfferRow, (provider_id, offer_id))
    if row is None:
        return None
    if row.enabled != enabled:
        row.enabled, row.updated_at = enabled, now
        await session.flush()
    return _stored(row)


async def delete_offer(session: AsyncSession, provider_id: str, offer_id: str) -> bool:
    result = await session.execute(
        delete(OfferRow).where(OfferRow.provider_id == provider_id, OfferRow.id == offer_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def offers_for(
    session: AsyncSession, provider_ids: Iterable[str], at: datetime
) -> dict[str, list[Offer]]:
    """provider id -> its enabled offers valid at ``at`` (both ends included, as
    ``Offer.is_valid_at``), in the seller's order; every provider asked for is a key (with
    ``[]`` when it has none). One query whatever the number of providers: it is on the
    search path."""
    if at.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    wanted = sorted(set(provider_ids))
    out: dict[str, list[Offer]] = {pid: [] for pid in wanted}
    if not wanted:
        return out
    rows = await session.execute(
        select(*OFFER_COLUMNS).where(
            OfferRow.provider_id.in_(wanted), OfferRow.enabled.is_(True),
            OfferRow.valid_from <= at, OfferRow.valid_to >= at,
        ).order_by(OfferRow.provider_id, OfferRow.position, OfferRow.id)
    )
    for row in rows:
        out[row.provider_id].append(_offer_of(row))
    return out
