"""Console pages for a store's offers (ONDC retail 1.2.5, docs/offers.md): the list (type,
what it gives in words, validity, items covered, on or off), a form per offer type, switching
an offer on or off, and deleting one after a confirmation page.

The form speaks rupees, percents and local time (India); it is turned into the seller's offer
definition and checked by ``catalogue.offer_store`` exactly as the admin API and the import
check it, so a refusal names the field and is shown in the seller's language. The type is
chosen before the form opens (a link per type) and never changes afterwards: the form then
shows only the fields of that type, with no script.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.offer_store import StoredOffer
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.console.explain import N_, explain
from ondc_adapter.console.i18n import INDIA
from ondc_adapter.console.web import NotFound, Page, page_for, redirect
from ondc_adapter.offers.models import ITEMS_GIVEN, Offer, OfferInvalid, OfferType

router = APIRouter(prefix="/console/offers", include_in_schema=False)

TYPE_NAMES = {
    OfferType.DISCOUNT: N_("Discount"), OfferType.BUY_X_GET_Y: N_("Buy X, get Y"),
    OfferType.FREEBIE: N_("Free gift"), OfferType.SLAB: N_("Discount by quantity (slab)"),
    OfferType.COMBO: N_("Combo discount"), OfferType.DELIVERY: N_("Delivery discount"),
}
# form field -> label (the error summary names the field the seller sees)
LABELS = {
    "id": N_("Offer id"), "title": N_("Title shown to buyers"),
    "valid_from": N_("Starts"), "valid_to": N_("Ends"),
    "item_ids": N_("Items covered (ids, one per line; empty: every item)"),
    "category_ids": N_("Categories covered (one per line; empty: every category)"),
    "locations": N_("Store locations"), "min_value": N_("Minimum cart value (₹)"),
    "kind": N_("Percent or amount"), "value": N_("Discount (percent or ₹)"),
    "cap": N_("Most it takes off (₹)"), "item_count": N_("Units to buy"),
    "item_count_upper": N_("Up to units (empty: no upper limit)"),
    "secondary_ids": N_("Items that must be bought with it (ids, one per line)"),
    "gift_item_id": N_("Item given (id)"), "gift_count": N_("Units given"),
    "gift_value": N_("Price of each unit given (₹, 0: free)"),
    "position": N_("Order among your offers"), "offer": N_("Offer"),
}
# OfferInvalid.field -> the form field it is about
FORM_FIELDS = {
    "benefit.percent": "value", "benefit.amount_paise": "value", "benefit.cap_paise": "cap",
    "qualifier.min_value_paise": "min_value", "qualifier.item_count": "item_count",
    "qualifier.item_count_upper": "item_count_upper", "qualifier.item_ids": "secondary_ids",
    "benefit.item_id": "gift_item_id", "benefit.item_count": "gift_count",
    "benefit.item_value_paise": "gift_value", "location_ids": "locations", "type": "offer",
}
# the offer rules' reasons (offers.models, offer_store) in the seller's words
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^must be later than valid_from$", N_("The end must be after the start.")),
        (r"^required for a \w+ offer.*$", N_("This kind of offer needs this field.")),
        (r"^a combo offer names its secondary items$",
         N_("Name the items that must be bought with it.")),
        (r"^must not be below qualifier.item_count$",
         N_("This must not be below the units to buy.")),
        (r"^a \w+ offer gives either a percent or an amount$",
         N_("Give either a percent or an amount.")),
        (r"^the store has no item '(?P<id>.*)'$", N_("Your store has no item '{id}'.")),
        (r"^the store has no location '(?P<id>.*)'$", N_("Your store has no location '{id}'.")),
        (r"^use at most 64 letters.*$",
         N_("Use up to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or "
            "digit.")),
        (r"^at most two decimal places$", N_("Use at most two decimal places.")),
        (r"^must be a time between the years .*$", N_("Enter a date and time.")),
    )
)
DATE_INPUT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(reason: str, page: Page) -> str:
    for pattern, message in REASONS:
        match = pattern.match(reason)
        if match:
            return page._(message, **match.groupdict())
    return explain(reason, page)


async def _store(session: AsyncSession, page: Page, wanted: str | None) -> Provider:
    """The store the page is about: the seller's own (another id is a 404, as an unknown one
    is), or for an operator the one asked for (else the first by name)."""
    who = page.require()
    if not who.operator:
        if wanted and wanted != who.provider_id:
            raise NotFound
        wanted = who.provider_id
    if wanted:
        provider = await session.get(Provider, wanted[:64])
    else:
        provider = await session.scalar(
            select(Provider).where(Provider.deleted_at.is_(None)).order_by(Provider.name).limit(1)
        )
    if provider is None or provider.deleted_at is not None or not who.may_see(provider.id):
        raise NotFound
    return provider


async def _offer(session: AsyncSession, store: Provider, offer_id: str) -> StoredOffer:
    stored = await offer_store.get_offer(session, store.id, offer_id[:64])
    if stored is None:
        raise NotFound
    return stored


async def _locations(session: AsyncSession, store: Provider) -> list[str]:
    return list(await session.scalars(
        select(Location.id).where(Location.provider_id == store.id, Location.deleted_at.is_(None))
        .order_by(Location.id)
    ))


async def _item_names(
    session: AsyncSession, store: Provider, offers: list[Offer]
) -> dict[str, str]:
    ids = {i for o in offers for ids in offer_store.referenced_items(o).values() for i in ids}
    if not ids:
        return {}
    rows = await session.execute(
        select(Item.id, Item.name).where(Item.provider_id == store.id, Item.id.in_(sorted(ids)))
    )
    return {row.id: row.name for row in rows}


def _suffix(store: Provider, page: Page) -> str:
    return f"?store={store.id}" if page.require().operator else ""


# ---------------------------------------------------------------- words


def _rupees(paise: int | None, page: Page) -> str:
    return page.locale.money(Decimal(paise or 0) / 100)


def describe(offer: Offer, page: Page, names: dict[str, str]) -> str:
    """What the offer gives, in a sentence in the seller's language."""
    b, q = offer.benefit, offer.qualifier

    def item(item_id: str | None) -> str:
        return names.get(item_id or "", item_id or "")

    if offer.type in ITEMS_GIVEN:
        values = {"count": page.locale.number(b.item_count or 0), "item": item(b.item_id)}
        if offer.type is OfferType.FREEBIE:
            text = page._("{count} of {item} free", **values)
        elif not b.item_value_paise:
            text = page._("Buy {x}, get {count} of {item} free",
                          x=page.locale.number(q.item_count or 0), **values)
        else:
            text = page._("Buy {x}, get {count} of {item} at {price} each",
                          x=page.locale.number(q.item_count or 0),
                          price=_rupees(b.item_value_paise, page), **values)
    else:
        off = (f"{b.percent}%" if b.percent is not None else _rupees(b.amount_paise, page))
        if offer.type is OfferType.DELIVERY:
            text = (page._("Free delivery") if b.percent == 100 and b.cap_paise is None
                    else page._("{off} off delivery", off=off))
        elif offer.type is OfferType.SLAB:
            text = page._("{off} off for {low} units or more", off=off,
                          low=page.locale.number(q.item_count or 0))
            if q.item_count_upper is not None:
                text = page._("{off} off for {low} to {high} units", off=off,
                              low=page.locale.number(q.item_count or 0),
                              high=page.locale.number(q.item_count_upper))
        elif offer.type is OfferType.COMBO:
            text = page._("{off} off when bought with {items}", off=off,
                          items=", ".join(item(i) for i in q.item_ids))
        else:
            text = page._("{off} off", off=off)
        if b.cap_paise is not None:
            text += page._(", up to {cap}", cap=_rupees(b.cap_paise, page))
    if q.min_value_paise:
        text += page._(", on carts of {min} or more", min=_rupees(q.min_value_paise, page))
    return text


# ---------------------------------------------------------------- form <-> definition


def _local(moment: datetime) -> str:
    return moment.astimezone(INDIA).strftime(DATE_INPUT)


def form_values(
    stored: StoredOffer | None, kind: OfferType, locations: list[str]
) -> dict[str, Any]:
    """The form's fields for an offer (or the defaults of a new one of type ``kind``)."""
    if stored is None:
        return {"type": kind.value, "kind": "percent", "additive": True, "auto": True,
                "enabled": True, "locations": set(locations)}
    o, q, b = stored.offer, stored.offer.qualifier, stored.offer.benefit

    def rupees(paise: int | None) -> str:
        return "" if paise is None else str(Decimal(paise) / 100)

    return {
        "type": o.type.value, "id": o.id, "title": o.title,
        "valid_from": _local(o.valid_from), "valid_to": _local(o.valid_to),
        "item_ids": "\n".join(o.item_ids), "category_ids": "\n".join(o.category_ids),
        "locations": set(o.location_ids or locations), "min_value": rupees(q.min_value_paise),
        "kind": "amount" if b.amount_paise is not None else "percent",
        "value": str(b.percent) if b.percent is not None else rupees(b.amount_paise),
        "cap": rupees(b.cap_paise), "item_count": q.item_count or "",
        "item_count_upper": q.item_count_upper or "", "secondary_ids": "\n".join(q.item_ids),
        "gift_item_id": b.item_id or "", "gift_count": b.item_count or "",
        "gift_value": rupees(b.item_value_paise), "additive": o.additive, "auto": o.auto,
        "enabled": stored.enabled, "position": stored.position,
    }


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").replace(",", "\n").split("\n")
            if line.strip()]


def _paise(form: dict[str, str], name: str, page: Page) -> int | None:
    raw = form.get(name, "").strip().replace("₹", "").replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
        if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
            raise InvalidOperation
        paise = value * 100
        if paise != paise.to_integral_value():
            raise InvalidOperation
    except InvalidOperation:
        raise _Bad(name, page._("Enter an amount in rupees, like 150 or 150.50.")) from None
    return int(paise)


def _count(form: dict[str, str], name: str, page: Page) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise _Bad(name, page._("Enter a whole number."))
    return int(raw)


def _when(form: dict[str, str], name: str, page: Page) -> str:
    raw = form.get(name, "").strip()
    try:
        local = datetime.strptime(raw, DATE_INPUT)
    except ValueError:
        raise _Bad(name, page._("Enter a date and time.")) from None
    return local.replace(tzinfo=INDIA).isoformat()


def definition(form: dict[str, str], kind: OfferType, locations: list[str], page: Page,
               offer_id: str) -> dict[str, Any]:
    """The seller's offer definition from the form (``_Bad`` for a value it cannot read)."""
    chosen = [loc for n, loc in enumerate(locations) if form.get(f"loc_{n}") == "1"]
    qualifier: dict[str, Any] = {"min_value_paise": _paise(form, "min_value", page)}
    benefit: dict[str, Any] = {}
    if kind in ITEMS_GIVEN:
        benefit = {"item_id": form.get("gift_item_id", "").strip() or None,
                   "item_count": _count(form, "gift_count", page),
                   "item_value_paise": _paise(form, "gift_value", page)}
        if kind is OfferType.BUY_X_GET_Y:
            qualifier["item_count"] = _count(form, "item_count", page)
            if benefit["item_value_paise"] is None:
                benefit["item_value_paise"] = 0  # empty price: the units are given free
    else:
        if form.get("kind") == "amount":
            benefit["amount_paise"] = _paise(form, "value", page) or None
        else:
            raw = form.get("value", "").strip().rstrip("%").strip()
            benefit["percent"] = raw or None
        benefit["cap_paise"] = _paise(form, "cap", page)
        if kind is OfferType.SLAB:
            qualifier["item_count"] = _count(form, "item_count", page)
            qualifier["item_count_upper"] = _count(form, "item_count_upper", page)
        if kind is OfferType.COMBO:
            qualifier["item_ids"] = _lines(form.get("secondary_ids", ""))
    position = _count(form, "position", page)
    return {
        "id": offer_id, "type": kind.value, "title": form.get("title", "").strip(),
        "valid_from": _when(form, "valid_from", page), "valid_to": _when(form, "valid_to", page),
        "item_ids": _lines(form.get("item_ids", "")),
        "category_ids": _lines(form.get("category_ids", "")),
        # every location ticked is the same as none: the offer holds at every store
        "location_ids": [] if set(chosen) == set(locations) else chosen,
        "qualifier": {k: v for k, v in qualifier.items() if v is not None},
        "benefit": {k: v for k, v in benefit.items() if v is not None},
        "additive": form.get("additive") == "1", "auto": form.get("auto") == "1",
        "enabled": form.get("enabled") == "1", **({"position": position} if position else {}),
    }


def _values_of(form: dict[str, str], kind: OfferType, locations: list[str]) -> dict[str, Any]:
    """The form as sent, to show it again with its errors."""
    values: dict[str, Any] = {k: v for k, v in form.items() if k in LABELS or k == "kind"}
    values.update(type=kind.value, additive=form.get("additive") == "1",
                  auto=form.get("auto") == "1", enabled=form.get("enabled") == "1",
                  locations={loc for n, loc in enumerate(locations) if form.get(f"loc_{n}")})
    return values


# ---------------------------------------------------------------- pages


@router.get("", response_class=HTMLResponse)
async def list_offers(request: Request, store: str = "",
                      page: Page = Depends(page_for)) -> Response:
    async with page.db.session() as session:
        provider = await _store(session, page, store)
        stored = await offer_store.list_offers(session, provider.id)
        names = await _item_names(session, provider, [s.offer for s in stored])
    now = _now()
    rows = [{
        "s": s, "o": s.offer, "type": page._(TYPE_NAMES[s.offer.type]),
        "gives": describe(s.offer, page, names),
        "covered": [names.get(i, i) for i in s.offer.item_ids],
        "state": ("off" if not s.enabled else "over" if s.offer.valid_to < now
                  else "later" if s.offer.valid_from > now else "on"),
    } for s in stored]
    return page.render("offers.html", store=provider, rows=rows, types=TYPE_NAMES,
                       suffix=_suffix(provider, page),
                       saved=request.query_params.get("saved"),
                       deleted=request.query_params.get("deleted"))


def _form(page: Page, store: Provider, kind: OfferType, values: dict[str, Any],
          locations: list[str], *, new: bool, errors: list[tuple[str, str]] | None = None,
          status_code: int = 200, saved: str | None = None) -> Response:
    return page.render(
        "offer_form.html", status_code=status_code, store=store, kind=kind.value,
        type_name=page._(TYPE_NAMES[kind]), v=values, locations=locations, new=new,
        labels={k: page._(v) for k, v in LABELS.items()}, errors=errors or [],
        error_fields={f for f, _r in errors or []}, saved=saved,
        gives_items=kind in ITEMS_GIVEN, suffix=_suffix(store, page),
    )


@router.get("/new", response_class=HTMLResponse)
async def new_offer(type: str = "discount", store: str = "",
                    page: Page = Depends(page_for)) -> Response:
    if type not in {t.value for t in OfferType}:
        raise NotFound
    async with page.db.session() as session:
        provider = await _store(session, page, store)
        locations = await _locations(session, provider)
    kind = OfferType(type)
    return _form(page, provider, kind, form_values(None, kind, locations), locations, new=True)


async def _save(page: Page, offer_id: str | None) -> Response:
    form = await page.form()
    async with page.db.session() as session:
        provider = await _store(session, page, form.get("store"))
        locations = await _locations(session, provider)
        existing = None if offer_id is None else await _offer(session, provider, offer_id)
        try:
            kind = existing.offer.type if existing else OfferType(form.get("type", ""))
        except ValueError:
            raise NotFound from None
        new = existing is None
        wanted_id = form.get("id", "").strip() if new else (offer_id or "")
        problem: tuple[str, str] | None = None
        try:
            data = definition(form, kind, locations, page, wanted_id)
            if new and await offer_store.get_offer(session, provider.id, wanted_id[:64]):
                raise _Bad("id", page._("An offer with this id already exists."))
            given = await offer_store.check_offer(session, provider.id, data)
        except _Bad as bad:
            problem = (bad.field, bad.message)
        except OfferInvalid as invalid:
            field = FORM_FIELDS.get(invalid.field) or invalid.field.split(".")[0]
            problem = (field if field in LABELS else "offer", _reason(invalid.message, page))
        if problem is not None:
            return _form(page, provider, kind, _values_of(form, kind, locations), locations,
                         new=new, status_code=422,
                         errors=[(problem[0], problem[1])])
        await offer_store.put_offer(session, given, now=_now())
    return redirect(f"/console/offers/{given.offer.id}?saved=1"
                    + _suffix(provider, page).replace("?", "&"))


@router.post("/new", response_class=HTMLResponse)
async def create_offer(page: Page = Depends(page_for)) -> Response:
    return await _save(page, None)


@router.get("/{offer_id}", response_class=HTMLResponse)
async def show_offer(request: Request, offer_id: str, store: str = "",
                     page: Page = Depends(page_for)) -> Response:
    async with page.db.session() as session:
        provider = await _store(session, page, store)
        stored = await _offer(session, provider, offer_id)
        locations = await _locations(session, provider)
    kind = stored.offer.type
    return _form(page, provider, kind, form_values(stored, kind, locations), locations,
                 new=False, saved=request.query_params.get("saved"))


@router.post("/{offer_id}", response_class=HTMLResponse)
async def save_offer(offer_id: str, page: Page = Depends(page_for)) -> Response:
    return await _save(page, offer_id)


@router.post("/{offer_id}/enabled", response_class=HTMLResponse)
async def set_enabled(offer_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    async with page.db.session() as session:
        provider = await _store(session, page, form.get("store"))
        stored = await _offer(session, provider, offer_id)
        await offer_store.set_enabled(session, provider.id, stored.offer.id,
                                      form.get("enabled") == "1", now=_now())
    return redirect(f"/console/offers?saved={stored.offer.id}"
                    + _suffix(provider, page).replace("?", "&"))


@router.get("/{offer_id}/delete", response_class=HTMLResponse)
async def confirm_delete(offer_id: str, store: str = "",
                         page: Page = Depends(page_for)) -> Response:
    async with page.db.session() as session:
        provider = await _store(session, page, store)
        stored = await _offer(session, provider, offer_id)
        names = await _item_names(session, provider, [stored.offer])
    return page.render("offer_delete.html", store=provider, o=stored.offer,
                       gives=describe(stored.offer, page, names), suffix=_suffix(provider, page))


@router.post("/{offer_id}/delete", response_class=HTMLResponse)
async def delete_offer(offer_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    async with page.db.session() as session:
        provider = await _store(session, page, form.get("store"))
        stored = await _offer(session, provider, offer_id)
        await offer_store.delete_offer(session, provider.id, stored.offer.id)
    return redirect("/console/offers?deleted=1" + _suffix(provider, page).replace("?", "&"))
