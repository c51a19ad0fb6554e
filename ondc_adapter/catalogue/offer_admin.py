"""Seller admin API for offers (``/admin/providers/{pid}/offers``, API key in ``X-API-Key``).

A seller's offers (ONDC retail 1.2.5, docs/offers.md) as JSON: the fields of
``offers.models.Offer`` without ``provider_id`` (it is the path's), plus ``position`` (the
seller's order) and ``enabled``. ``PUT`` creates (201) or replaces (200) the offer of that
id. Nothing is pushed to buyer apps: 1.2.0 catalogues carry no offers, and the 1.2.5
renderers read them with ``offer_store.offers_for`` when they build a catalogue.

Errors: 404 unknown provider or offer, 422 ``{"detail": [{"field": ..., "reason": ...}]}``
naming the field (``OfferInvalid``), 400 for a NUL character in a path parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.api.admin_auth import require_admin
from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.offer_store import StoredOffer
from ondc_adapter.offers.models import OfferInvalid
from ondc_adapter.storage import Database

router = APIRouter(prefix="/admin", tags=["offers"], dependencies=[Depends(require_admin)])

_EXAMPLE_TIMES = {"valid_from": "2026-10-18T00:00:00+05:30",
                  "valid_to": "2026-11-02T23:59:59+05:30"}
EXAMPLES: dict[str, dict[str, Any]] = {
    "discount": {"summary": "60% off up to ₹120 above ₹159, chosen by the buyer", "value": {
        "type": "discount", **_EXAMPLE_TIMES, "item_ids": ["I1"],
        "qualifier": {"min_value_paise": 15900},
        "benefit": {"percent": "60.00", "cap_paise": 12000},
        "additive": True, "auto": False, "title": "Diwali: 60% off up to ₹120"}},
    "flat": {"summary": "₹150 off above ₹499, applied by itself", "value": {
        "type": "discount", **_EXAMPLE_TIMES, "qualifier": {"min_value_paise": 49900},
        "benefit": {"amount_paise": 15000}, "additive": True, "auto": True}},
    "buyXgetY": {"summary": "buy 2, get 1 free", "value": {
        "type": "buyXgetY", **_EXAMPLE_TIMES, "item_ids": ["I2"],
        "qualifier": {"item_count": 2},
        "benefit": {"item_id": "I2", "item_count": 1, "item_value_paise": 0},
        "additive": False, "auto": True}},
    "freebie": {"summary": "a free gift above ₹598", "value": {
        "type": "freebie", **_EXAMPLE_TIMES, "qualifier": {"min_value_paise": 59800},
        "benefit": {"item_id": "I4", "item_count": 1, "item_value_paise": 20000},
        "additive": True, "auto": True}},
    "slab": {"summary": "10% off up to ₹100 for 6 to 9 units", "value": {
        "type": "slab", **_EXAMPLE_TIMES, "item_ids": ["I1"],
        "qualifier": {"item_count": 6, "item_count_upper": 9},
        "benefit": {"percent": "10.00", "cap_paise": 10000}, "additive": False, "auto": True}},
    "combo": {"summary": "50% off up to ₹200 on I1 with I4 and I5", "value": {
        "type": "combo", **_EXAMPLE_TIMES, "item_ids": ["I1"],
        "qualifier": {"item_ids": ["I4", "I5"]},
        "benefit": {"percent": "50.00", "cap_paise": 20000}, "additive": False, "auto": True}},
    "delivery": {"summary": "free delivery above ₹299, up to ₹75", "value": {
        "type": "delivery", **_EXAMPLE_TIMES, "qualifier": {"min_value_paise": 29900},
        "benefit": {"percent": "100.00", "cap_paise": 7500}, "additive": True, "auto": True}},
}


class ProblemOut(BaseModel):
    field: str
    reason: str


class OfferOut(BaseModel):
    id: str
    provider_id: str
    offer: dict[str, Any] = Field(description="the definition, as PUT takes it")
    position: int = Field(description="the seller's order (ties between offers)")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class OffersOut(BaseModel):
    provider_id: str
    offers: list[OfferOut]


class EnabledIn(BaseModel):
    enabled: bool


class Deleted(BaseModel):
    id: str
    deleted: bool = True


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "a NUL character in a path parameter"},
    404: {"description": "unknown provider or offer"},
    422: {"description": "invalid offer: [{field, reason}]", "model": list[ProblemOut]},
}


def _db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def _unprocessable(problem: OfferInvalid) -> HTTPException:
    return HTTPException(422, detail=[{"field": problem.field, "reason": problem.message}])


def _out(stored: StoredOffer) -> OfferOut:
    offer = stored.offer
    return OfferOut(
        id=offer.id, provider_id=offer.provider_id, offer=offer_store.offer_data(offer),
        position=stored.position, enabled=stored.enabled, created_at=stored.created_at,
        updated_at=stored.updated_at,
    )


async def _provider(session: AsyncSession, provider_id: str) -> None:
    if not await offer_store.provider_exists(session, provider_id):
        raise HTTPException(404, f"provider {provider_id!r} not found")


async def _offer(session: AsyncSession, provider_id: str, offer_id: str) -> StoredOffer:
    await _provider(session, provider_id)
    stored = await offer_store.get_offer(session, provider_id, offer_id)
    if stored is None:
        raise HTTPException(404, f"offer {offer_id!r} of provider {provider_id!r} not found")
    return stored


@router.get("/providers/{provider_id}/offers", response_model=OffersOut, responses=RESPONSES)
async def list_offers(provider_id: str, request: Request) -> OffersOut:
    """Every offer of the seller, enabled or not, expired or not, in the seller's order."""
    async with _db(request).session() as session:
        await _provider(session, provider_id)
        stored = await offer_store.list_offers(session, provider_id)
        return OffersOut(provider_id=provider_id, offers=[_out(s) for s in stored])


@router.get("/providers/{provider_id}/offers/{offer_id}", response_model=OfferOut,
            responses=RESPONSES)
async def get_offer(provider_id: str, offer_id: str, request: Request) -> OfferOut:
    async with _db(request).session() as session:
        return _out(await _offer(session, provider_id, offer_id))


@router.put(
    "/providers/{provider_id}/offers/{offer_id}", response_model=OfferOut,
    responses={**RESPONSES, 200: {"description": "replaced"}, 201: {"description": "created"}},
)
async def put_offer(
    provider_id: str, offer_id: str, request: Request, response: Response,
    body: Any = Body(openapi_examples=EXAMPLES),
) -> OfferOut:
    """Create or replace an offer. The body is checked by the 1.2.5 rules of its type
    (``offers.models``), and every item and store it names must be the seller's."""
    if not isinstance(body, dict):
        raise _unprocessable(OfferInvalid("offer", "must be a JSON object"))
    if body.setdefault("id", offer_id) != offer_id:
        raise _unprocessable(OfferInvalid("id", "must equal the id in the path"))
    now = datetime.now(UTC)
    async with _db(request).session() as session:
        await _provider(session, provider_id)
        try:
            given = await offer_store.check_offer(session, provider_id, body)
        except OfferInvalid as problem:
            raise _unprocessable(problem) from None
        created = await offer_store.put_offer(session, given, now=now)
        response.status_code = 201 if created else 200
        return _out(await _offer(session, provider_id, offer_id))


@router.patch("/providers/{provider_id}/offers/{offer_id}/status", response_model=OfferOut,
              responses=RESPONSES)
async def set_offer_status(
    provider_id: str, offer_id: str, body: EnabledIn, request: Request
) -> OfferOut:
    """Switch an offer on or off (it keeps its definition and place in the order)."""
    async with _db(request).session() as session:
        await _offer(session, provider_id, offer_id)
        stored = await offer_store.set_enabled(
            session, provider_id, offer_id, body.enabled, now=datetime.now(UTC)
        )
        assert stored is not None  # found just above, in the same transaction
        return _out(stored)


@router.delete("/providers/{provider_id}/offers/{offer_id}", response_model=Deleted,
               responses=RESPONSES)
async def delete_offer(provider_id: str, offer_id: str, request: Request) -> Deleted:
    async with _db(request).session() as session:
        await _offer(session, provider_id, offer_id)
        await offer_store.delete_offer(session, provider_id, offer_id)
        return Deleted(id=offer_id)


__all__ = ["router"]
