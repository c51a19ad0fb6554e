"""Seller admin API for the catalogue (``/admin``, API key in ``X-API-Key``).

Mount with ``app.include_router(router)``; the app provides ``app.state.db`` (a
``storage.Database``) and ``app.state.settings``. Every change of stock, price or availability
(and every create/update/delete) enqueues, in the same transaction, an incremental
``on_search`` to every buyer app subscribed with ``catalog_inc`` mode=start.

Errors: 404 unknown provider/item, 409 id already exists, 422 with
``{"detail": [{"field": ..., "reason": ...}]}`` when the input breaks an ONDC rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.api.admin_auth import require_admin
from ondc_adapter.catalogue import rejections, write
from ondc_adapter.catalogue.handler import push_incremental
from ondc_adapter.catalogue.models import (
    FieldProblem,
    ItemIn,
    ProviderIn,
    item_problems,
    provider_problems,
)
from ondc_adapter.catalogue.odop import find_product
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

router = APIRouter(prefix="/admin", tags=["catalogue"], dependencies=[Depends(require_admin)])


class ProblemOut(BaseModel):
    field: str
    reason: str


class ProviderOut(BaseModel):
    id: str
    name: str
    enabled: bool
    locations: list[str]
    updated_at: datetime
    pushed: int = Field(0, description="incremental on_search messages enqueued")


class ItemOut(BaseModel):
    id: str
    provider_id: str
    domain: str
    category_id: str
    name: str
    price: Decimal
    mrp: Decimal
    stock: int
    enabled: bool
    updated_at: datetime
    pushed: int = Field(0, description="incremental on_search messages enqueued")


class StockIn(BaseModel):
    stock: int = Field(ge=0, le=2_147_483_647, description="units available now")


class PriceIn(BaseModel):
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="selling price")
    mrp: Decimal | None = Field(
        None, gt=0, max_digits=12, decimal_places=2, description="MRP; unchanged when omitted"
    )


class EnabledIn(BaseModel):
    enabled: bool


class StoreStatusIn(BaseModel):
    status: Literal["enable", "close", "disable"] = Field(
        description="enable (open), close (temporarily closed), disable"
    )


class Deleted(BaseModel):
    id: str
    deleted: bool = True
    pushed: int = 0


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _now() -> datetime:
    return datetime.now(UTC)


def _unprocessable(problems: list[FieldProblem]) -> HTTPException:
    return HTTPException(
        422,
        detail=[{"field": p.field, "reason": p.reason} for p in problems],
    )


async def _locations_taken(session: AsyncSession, body: ProviderIn) -> list[FieldProblem]:
    """ONDC wants location ids unique across the whole catalogue, not per provider."""
    ids = [loc.id for loc in body.locations]
    taken = (
        await session.execute(
            select(Location.id, Location.provider_id).where(
                Location.id.in_(ids), Location.provider_id != body.id,
                Location.deleted_at.is_(None),
            )
        )
    ).all()
    return [
        FieldProblem("locations.id", f"location id {lid!r} is already used by provider {owner!r}")
        for lid, owner in taken
    ]


async def _provider_out(session: AsyncSession, provider_id: str, pushed: int = 0) -> ProviderOut:
    provider = await session.get(Provider, provider_id, populate_existing=True)
    if provider is None or provider.deleted_at is not None:
        raise HTTPException(404, f"provider {provider_id!r} not found")
    locations = (
        await session.scalars(
            select(Location.id).where(
                Location.provider_id == provider_id, Location.deleted_at.is_(None)
            )
        )
    ).all()
    return ProviderOut(id=provider.id, name=provider.name, enabled=provider.enabled,
                       locations=list(locations), updated_at=provider.updated_at, pushed=pushed)


async def _item_out(session: AsyncSession, item_id: str, pushed: int = 0) -> ItemOut:
    item = await session.get(Item, item_id, populate_existing=True)
    if item is None or item.deleted_at is not None:
        raise HTTPException(404, f"item {item_id!r} not found")
    return ItemOut(
        id=item.id, provider_id=item.provider_id, domain=item.domain,
        category_id=item.category_id, name=item.name, price=item.price, mrp=item.mrp,
        stock=item.stock, enabled=item.enabled, updated_at=item.updated_at, pushed=pushed,
    )


async def _push(
    session: AsyncSession, settings: Settings, now: datetime, *, items: list[str] | None = None,
    providers: list[str] | None = None,
) -> int:
    sent = await push_incremental(
        session, settings=settings, now=now, item_ids=items or (), provider_ids=providers or ()
    )
    return len(sent)


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "not found"},
    422: {"description": "invalid input: [{field, reason}]", "model": list[ProblemOut]},
}


# ---------------------------------------------------------------- providers


@router.post("/providers", response_model=ProviderOut, status_code=201, responses=RESPONSES)
async def create_provider(body: ProviderIn, request: Request) -> ProviderOut:
    """Create a seller with its locations (stores) and variant groups."""
    problems = provider_problems(body)
    if problems:
        raise _unprocessable(problems)
    now = _now()
    async with _db(request).session() as session:
        existing = await session.get(Provider, body.id)
        if existing is not None and existing.deleted_at is None:
            raise HTTPException(409, f"provider {body.id!r} exists: use PUT")
        taken = await _locations_taken(session, body)
        if taken:
            raise _unprocessable(taken)
        await write.save_provider(session, body, now)
        return await _provider_out(session, body.id)


@router.put("/providers/{provider_id}", response_model=ProviderOut, responses=RESPONSES)
async def update_provider(provider_id: str, body: ProviderIn, request: Request) -> ProviderOut:
    """Replace a seller's details (locations are upserted by id)."""
    if body.id != provider_id:
        raise _unprocessable([FieldProblem("id", "must equal the id in the path")])
    problems = provider_problems(body)
    if problems:
        raise _unprocessable(problems)
    now = _now()
    async with _db(request).session() as session:
        existing = await session.get(Provider, provider_id)
        if existing is None or existing.deleted_at is not None:
            raise HTTPException(404, f"provider {provider_id!r} not found")
        taken = await _locations_taken(session, body)
        if taken:
            raise _unprocessable(taken)
        await write.save_provider(session, body, now)
        pushed = await _push(session, _settings(request), now, providers=[provider_id])
        return await _provider_out(session, provider_id, pushed)


@router.patch("/providers/{provider_id}/status", response_model=ProviderOut, responses=RESPONSES)
async def set_provider_status(provider_id: str, body: EnabledIn, request: Request) -> ProviderOut:
    """Open (enable) or close (disable) a whole store."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.set_provider_enabled(session, provider_id, body.enabled, now):
            raise HTTPException(404, f"provider {provider_id!r} not found")
        pushed = await _push(session, _settings(request), now, providers=[provider_id])
        return await _provider_out(session, provider_id, pushed)


@router.patch(
    "/providers/{provider_id}/locations/{location_id}/status",
    response_model=ProviderOut,
    responses=RESPONSES,
)
async def set_store_status(
    provider_id: str, location_id: str, body: StoreStatusIn, request: Request
) -> ProviderOut:
    """Open, temporarily close or disable one store of a seller (its ``time.label``)."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.set_location_status(session, provider_id, location_id, body.status,
                                               now):
            raise HTTPException(404, f"store {location_id!r} of provider {provider_id!r} "
                                     "not found")
        pushed = await _push(session, _settings(request), now, providers=[provider_id])
        return await _provider_out(session, provider_id, pushed)


@router.delete("/providers/{provider_id}", response_model=Deleted, responses=RESPONSES)
async def delete_provider(provider_id: str, request: Request) -> Deleted:
    """Remove a seller and its items (soft delete, pushed as disabled)."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.delete_provider(session, provider_id, now):
            raise HTTPException(404, f"provider {provider_id!r} not found")
        pushed = await _push(session, _settings(request), now, providers=[provider_id])
        return Deleted(id=provider_id, pushed=pushed)


# ---------------------------------------------------------------- items


async def _check_item(session: AsyncSession, body: ItemIn) -> None:
    odop = find_product(body.odop.lgd_code, body.odop.product) if body.odop else None
    problems = item_problems(body, odop)
    provider = await session.get(Provider, body.provider_id)
    if provider is None or provider.deleted_at is not None:
        problems.append(FieldProblem("provider_id", f"unknown provider {body.provider_id!r}"))
    else:
        if await session.get(Location, (body.provider_id, body.location_id)) is None:
            problems.append(FieldProblem("location_id", f"no location {body.location_id!r}"))
        if body.fulfillment_id not in {str(f["id"]) for f in provider.fulfillments}:
            problems.append(
                FieldProblem("fulfillment_id", f"no fulfillment {body.fulfillment_id!r}")
            )
    if problems:
        raise _unprocessable(problems)


@router.post("/items", response_model=ItemOut, status_code=201, responses=RESPONSES)
async def create_item(body: ItemIn, request: Request) -> ItemOut:
    """Add an item (validated against its category's attribute rules, EAN/HSN, price <= MRP)."""
    now = _now()
    async with _db(request).session() as session:
        existing = await session.get(Item, body.id)
        if existing is not None and existing.deleted_at is None:
            raise HTTPException(409, f"item {body.id!r} exists: use PUT")
        await _check_item(session, body)
        odop = find_product(body.odop.lgd_code, body.odop.product) if body.odop else None
        await write.save_items(session, [(body, odop)], now)
        pushed = await _push(session, _settings(request), now, items=[body.id])
        return await _item_out(session, body.id, pushed)


@router.put("/items/{item_id}", response_model=ItemOut, responses=RESPONSES)
async def update_item(item_id: str, body: ItemIn, request: Request) -> ItemOut:
    """Replace an item."""
    if body.id != item_id:
        raise _unprocessable([FieldProblem("id", "must equal the id in the path")])
    now = _now()
    async with _db(request).session() as session:
        existing = await session.get(Item, item_id)
        if existing is None or existing.deleted_at is not None:
            raise HTTPException(404, f"item {item_id!r} not found")
        await _check_item(session, body)
        odop = find_product(body.odop.lgd_code, body.odop.product) if body.odop else None
        await write.save_items(session, [(body, odop)], now)
        pushed = await _push(session, _settings(request), now, items=[item_id])
        return await _item_out(session, item_id, pushed)


@router.get("/items/{item_id}", response_model=ItemOut, responses=RESPONSES)
async def get_item(item_id: str, request: Request) -> ItemOut:
    async with _db(request).session() as session:
        return await _item_out(session, item_id)


@router.patch("/items/{item_id}/stock", response_model=ItemOut, responses=RESPONSES)
async def set_stock(item_id: str, body: StockIn, request: Request) -> ItemOut:
    """Set the units in stock (0 = out of stock)."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.change_item(session, item_id, now, stock=body.stock):
            raise HTTPException(404, f"item {item_id!r} not found")
        pushed = await _push(session, _settings(request), now, items=[item_id])
        return await _item_out(session, item_id, pushed)


@router.patch("/items/{item_id}/price", response_model=ItemOut, responses=RESPONSES)
async def set_price(item_id: str, body: PriceIn, request: Request) -> ItemOut:
    """Set the selling price (and optionally the MRP); price must stay <= MRP."""
    now = _now()
    async with _db(request).session() as session:
        item = await session.get(Item, item_id)
        if item is None or item.deleted_at is not None:
            raise HTTPException(404, f"item {item_id!r} not found")
        mrp = body.mrp if body.mrp is not None else item.mrp
        if body.price > mrp:
            raise _unprocessable([FieldProblem("price", f"{body.price} exceeds MRP {mrp}")])
        await write.change_item(session, item_id, now, price=body.price, mrp=body.mrp)
        pushed = await _push(session, _settings(request), now, items=[item_id])
        return await _item_out(session, item_id, pushed)


@router.patch("/items/{item_id}/status", response_model=ItemOut, responses=RESPONSES)
async def set_item_status(item_id: str, body: EnabledIn, request: Request) -> ItemOut:
    """Enable or disable an item."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.change_item(session, item_id, now, enabled=body.enabled):
            raise HTTPException(404, f"item {item_id!r} not found")
        pushed = await _push(session, _settings(request), now, items=[item_id])
        return await _item_out(session, item_id, pushed)


@router.delete("/items/{item_id}", response_model=Deleted, responses=RESPONSES)
async def delete_item(item_id: str, request: Request) -> Deleted:
    """Remove an item (soft delete, pushed as disabled)."""
    now = _now()
    async with _db(request).session() as session:
        if not await write.delete_item(session, item_id, now):
            raise HTTPException(404, f"item {item_id!r} not found")
        pushed = await _push(session, _settings(request), now, items=[item_id])
        return Deleted(id=item_id, pushed=pushed)


# ---------------------------------------------------------------- rejections


@router.get("/catalogue/rejections")
async def catalogue_rejections(
    request: Request, provider: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """What buyer apps refused of the catalogue (``catalog_rejection``), newest first; each
    with ONDC's meaning of its code and the provider and item its path names."""
    limit, offset = max(1, min(limit, 1000)), max(0, min(offset, 1_000_000_000))
    async with _db(request).session() as session:
        rows = await rejections.list_rejections(
            session, provider_id=provider, limit=limit, offset=offset
        )
        return {"rejections": [rejections.as_dict(r) for r in rows]}


__all__ = ["router"]
