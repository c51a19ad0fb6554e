"""Console page for the store itself: contact details, the inclusion facts the catalogue
publishes (women-led, SHG, tribal, khadi, artisan, GI authorised user), and per location the
timings, holidays and serviceability (radius, PIN list, pan-India).

The page edits the store as the catalogue's ``ProviderIn`` model, so every rule of the admin
API and the import applies, and a saved change goes out to subscribed buyer apps as an
incremental ``on_search`` of the provider.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import write
from ondc_adapter.catalogue.handler import push_incremental
from ondc_adapter.catalogue.models import (
    FieldProblem,
    ProviderIn,
    provider_problems,
    pydantic_problems,
)
from ondc_adapter.catalogue.tables import Location, Provider, VariantGroup
from ondc_adapter.console.explain import explain
from ondc_adapter.console.web import NotFound, Page, page_for, redirect

router = APIRouter(prefix="/console/store", include_in_schema=False)

FACTS = ("women_led", "shg", "tribal", "khadi", "artisan", "gi_authorised_user")
DAYS = ("1", "2", "3", "4", "5", "6", "7")


async def _store_id(session: AsyncSession, page: Page, wanted: str | None) -> str:
    who = page.require()
    if not who.operator:
        assert who.provider_id is not None
        if wanted and wanted != who.provider_id:
            raise NotFound  # another store's id: the same answer as an unknown one
        return who.provider_id
    if wanted:
        return wanted[:64]
    first = await session.scalar(
        select(Provider.id).where(Provider.deleted_at.is_(None)).order_by(Provider.name).limit(1)
    )
    if first is None:
        raise NotFound
    return first


async def provider_model(session: AsyncSession, provider_id: str) -> dict[str, Any]:
    """The store as ``ProviderIn`` data, from its rows (the form edits a copy of this)."""
    provider = await session.get(Provider, provider_id)
    if provider is None or provider.deleted_at is not None:
        raise NotFound
    locations = (
        await session.scalars(
            select(Location).where(
                Location.provider_id == provider_id, Location.deleted_at.is_(None)
            ).order_by(Location.id)
        )
    ).all()
    groups = (
        await session.scalars(select(VariantGroup).where(VariantGroup.provider_id == provider_id))
    ).all()
    return {
        "id": provider.id, "name": provider.name, "kind": provider.kind,
        "short_desc": provider.short_desc, "long_desc": provider.long_desc,
        "symbol": provider.symbol, "images": list(provider.images), "phone": provider.phone,
        "email": provider.email, "gstin": provider.gstin, "pan": provider.pan,
        "fssai_license_no": provider.fssai_license_no, "fulfillments": provider.fulfillments,
        "ttl": provider.ttl, "min_order_value": provider.min_order_value,
        **{fact: getattr(provider, fact) for fact in FACTS},
        "enabled": provider.enabled, "sample": provider.sample,
        "locations": [
            {
                "id": loc.id, "street": loc.street, "locality": loc.locality, "city": loc.city,
                "state": loc.state, "area_code": loc.area_code,
                "std_code": loc.std_code, "gps": f"{loc.lat},{loc.lng}",
                "serviceability": loc.serviceability, "radius_km": loc.radius_km,
                "pincodes": list(loc.pincodes), "days": loc.days, "open_time": loc.open_time,
                "close_time": loc.close_time, "holidays": list(loc.holidays),
                "status": loc.status,
            }
            for loc in locations
        ],
        "variant_groups": [
            {"id": g.id, "name": g.name, "attributes": list(g.attributes)} for g in groups
        ],
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").replace(",", "\n").split("\n")
            if line.strip()]


def apply_form(data: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """``data`` with what the store form changes (only the fields the form shows)."""
    out = dict(data)
    for name in ("name", "phone", "email"):
        if name in form:
            out[name] = form[name].strip()
    for fact in FACTS:
        out[fact] = form.get(fact) == "1"
    locations = []
    for n, loc in enumerate(data["locations"]):
        prefix = f"loc{n}_"
        if prefix + "open_time" not in form:
            locations.append(loc)
            continue
        loc = dict(loc)
        loc["days"] = ",".join(d for d in DAYS if form.get(f"{prefix}day{d}") == "1")
        loc["open_time"] = form.get(prefix + "open_time", "").replace(":", "").strip()
        loc["close_time"] = form.get(prefix + "close_time", "").replace(":", "").strip()
        loc["holidays"] = _lines(form.get(prefix + "holidays", ""))
        loc["serviceability"] = form.get(prefix + "serviceability", "12")
        radius = form.get(prefix + "radius_km", "").strip()
        loc["radius_km"] = radius or None
        loc["pincodes"] = _lines(form.get(prefix + "pincodes", ""))
        loc["status"] = "enable" if form.get(prefix + "open") == "1" else "close"
        locations.append(loc)
    out["locations"] = locations
    return out


def check(data: dict[str, Any]) -> tuple[ProviderIn | None, list[FieldProblem]]:
    try:
        model = ProviderIn.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc)
    problems = provider_problems(model)
    return (model if not problems else None), problems


@router.get("", response_class=HTMLResponse)
async def show_store(
    request: Request, store: str = "", page: Page = Depends(page_for)
) -> Response:
    async with page.db.session() as session:
        provider_id = await _store_id(session, page, store)
        if not page.require().may_see(provider_id):
            raise NotFound
        data = await provider_model(session, provider_id)
    return page.render("store.html", s=data, errors=[], days=DAYS, facts=FACTS,
                       saved=request.query_params.get("saved"))


@router.post("", response_class=HTMLResponse)
async def save_store(request: Request, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    async with page.db.session() as session:
        provider_id = await _store_id(session, page, form.get("store"))
        if not page.require().may_see(provider_id):
            raise NotFound
        data = apply_form(await provider_model(session, provider_id), form)
        model, problems = check(data)
        if model is None:
            return page.render(
                "store.html", status_code=422, s=data, days=DAYS, facts=FACTS, saved=None,
                errors=[(p.field, explain(p.reason, page)) for p in problems],
            )
        now = datetime.now(UTC)
        await write.save_provider(session, model, now)
        await push_incremental(
            session, settings=request.app.state.settings, now=now, provider_ids=[provider_id]
        )
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    suffix = f"&store={provider_id}" if page.require().operator else ""
    return redirect(f"/console/store?saved=1{suffix}")
