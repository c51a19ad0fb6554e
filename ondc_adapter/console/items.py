"""Console pages for the catalogue: list and search a store's items, quick stock and price
edits, add and edit an item, enable or disable it, and the spreadsheet (CSV) upload.

Every change goes through the catalogue's own code (``catalogue.write``, the ``ItemIn`` rules,
the importer) and is pushed to subscribed buyer apps as an incremental ``on_search`` in the same
transaction, exactly as the admin API and the CLI do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import write
from ondc_adapter.catalogue.handler import push_incremental
from ondc_adapter.catalogue.importer import RowProblem, csv_records, import_records
from ondc_adapter.catalogue.models import FieldProblem, ItemIn, item_problems, pydantic_problems
from ondc_adapter.catalogue.odop import find_product
from ondc_adapter.catalogue.rules import load_rules
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.console.explain import explain
from ondc_adapter.console.web import (
    NotFound,
    Page,
    TooLarge,
    declared_too_large,
    page_for,
    redirect,
)

router = APIRouter(prefix="/console/items", include_in_schema=False)

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
LIST_COLUMNS = (
    Item.id, Item.provider_id, Item.name, Item.price, Item.mrp, Item.stock, Item.enabled,
    Item.category_id, Item.updated_at,
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _stores(session: AsyncSession, page: Page) -> list[Provider]:
    """The stores this person may act for (one for a seller, all for an operator)."""
    who = page.require()
    query = select(Provider).where(Provider.deleted_at.is_(None)).order_by(Provider.name)
    if not who.operator:
        query = query.where(Provider.id == who.provider_id)
    return list((await session.scalars(query.limit(500))).all())


async def _item(session: AsyncSession, page: Page, item_id: str) -> Item:
    """The item, if this person may see it; otherwise 404, as for an unknown id."""
    item = await session.get(Item, item_id[:64])
    if item is None or item.deleted_at is not None or not page.require().may_see(item.provider_id):
        raise NotFound
    return item


async def _push(session: AsyncSession, page: Page, item_ids: list[str]) -> int:
    sent = await push_incremental(
        session, settings=page.request.app.state.settings, now=_now(), item_ids=item_ids
    )
    return len(sent)


def _wake(page: Page) -> None:
    dispatcher = getattr(page.request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()


@router.get("", response_class=HTMLResponse)
async def list_items(
    request: Request, q: str = "", offset: int = 0, store: str = "",
    page: Page = Depends(page_for),
) -> Response:
    who = page.require()
    offset = max(0, min(offset, 10_000_000))
    q = q.strip()[:100]
    query = select(*LIST_COLUMNS).where(Item.deleted_at.is_(None))
    counting = select(func.count()).select_from(Item).where(Item.deleted_at.is_(None))
    if not who.operator:
        if store and store != who.provider_id:
            raise NotFound
        query = query.where(Item.provider_id == who.provider_id)
        counting = counting.where(Item.provider_id == who.provider_id)
    elif store:
        query = query.where(Item.provider_id == store[:64])
        counting = counting.where(Item.provider_id == store[:64])
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        match = or_(Item.name.ilike(pattern, escape="\\"), Item.id == q)
        query, counting = query.where(match), counting.where(match)
    async with page.db.session() as session:
        total = int(await session.scalar(counting) or 0)
        rows = (
            await session.execute(
                query.order_by(Item.provider_id, Item.name, Item.id).offset(offset).limit(PAGE_SIZE)
            )
        ).all()
    return page.render(
        "items.html", items=rows, total=total, q=q, offset=offset, page_size=PAGE_SIZE,
        store=store, saved=request.query_params.get("saved"),
    )


def _quick_field(form: dict[str, str], name: str, page: Page) -> tuple[Any, str | None]:
    raw = form.get(name, "").strip()
    try:
        if name == "stock":
            value: Any = int(raw)
            if not 0 <= value <= 2_147_483_647:
                raise ValueError
        else:
            value = Decimal(raw)
            if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
                raise ValueError
            value = value.quantize(Decimal("0.01"))
    except (ValueError, InvalidOperation):
        return None, page._("Enter a number, 0 or more.") if name == "stock" else page._(
            "Enter a price above 0, like 450 or 450.50."
        )
    return value, None


@router.post("/{item_id}/quick", response_class=HTMLResponse)
async def quick_edit(item_id: str, page: Page = Depends(page_for)) -> Response:
    """Stock and price from the list, in one small form per row."""
    form = await page.form()
    async with page.db.session() as session:
        item = await _item(session, page, item_id)
        changes: dict[str, Any] = {}
        errors: list[str] = []
        if "stock" in form:
            value, error = _quick_field(form, "stock", page)
            if error:
                errors.append(error)
            elif value != item.stock:
                changes["stock"] = value
        if "price" in form:
            value, error = _quick_field(form, "price", page)
            if error:
                errors.append(error)
            elif value > item.mrp:
                errors.append(page._("The price cannot be more than the MRP ({mrp}).",
                                     mrp=page.locale.money(item.mrp)))
            elif value != item.price:
                changes["price"] = value
        if errors:
            return page.render("message.html", status_code=422, title=page._("Not saved"),
                               message=" ".join(errors), back="/console/items")
        if changes:
            await write.change_item(session, item.id, _now(), **changes)
            await _push(session, page, [item.id])
    _wake(page)
    return redirect(f"/console/items?saved={item_id}")


@router.post("/{item_id}/enabled", response_class=HTMLResponse)
async def set_enabled(item_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    enabled = form.get("enabled") == "1"
    async with page.db.session() as session:
        item = await _item(session, page, item_id)
        await write.change_item(session, item.id, _now(), enabled=enabled)
        await _push(session, page, [item.id])
    _wake(page)
    return redirect(f"/console/items/{item_id}?saved=1")


# -- one item -----------------------------------------------------------------------------------

FORM_FIELDS = (
    "id", "provider_id", "location_id", "domain", "category_id", "name", "code", "price", "mrp",
    "stock", "max_per_order", "unit", "unit_value", "images", "short_desc", "long_desc",
    "attributes", "statutory", "odop_lgd_code", "odop_product", "consumer_care",
    "return_window", "time_to_ship",
)
CHECKBOXES = ("returnable", "cancellable", "cod", "enabled")
# kept even when empty, so the seller is told they are required
REQUIRED_TEXT = frozenset({"id", "name", "category_id", "code", "short_desc", "long_desc",
                           "consumer_care", "price", "mrp", "stock"})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _pairs(text: str) -> tuple[dict[str, str], list[str]]:
    out: dict[str, str] = {}
    bad: list[str] = []
    for line in _lines(text):
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            bad.append(line)
        else:
            out[key.strip()] = value.strip()
    return out, bad


def form_from_item(item: Item) -> dict[str, Any]:
    return {
        "id": item.id, "provider_id": item.provider_id, "location_id": item.location_id,
        "domain": item.domain, "category_id": item.category_id, "name": item.name,
        "code": item.code, "price": str(item.price), "mrp": str(item.mrp),
        "stock": str(item.stock), "max_per_order": str(item.max_per_order), "unit": item.unit,
        "unit_value": item.unit_value, "images": "\n".join(item.images),
        "short_desc": item.short_desc, "long_desc": item.long_desc,
        "attributes": "\n".join(f"{k}={v}" for k, v in item.attributes.items()),
        "statutory": "\n".join(f"{k}={v}" for k, v in item.statutory.items()),
        "odop_lgd_code": item.odop_lgd_code or "", "odop_product": item.odop_product or "",
        "consumer_care": item.consumer_care, "return_window": item.return_window,
        "time_to_ship": item.time_to_ship, "returnable": item.returnable,
        "cancellable": item.cancellable, "cod": item.cod, "enabled": item.enabled,
        "fulfillment_id": item.fulfillment_id, "parent_item_id": item.parent_item_id,
        "origin_country": item.origin_country, "seller_pickup_return": item.seller_pickup_return,
        "symbol": item.symbol,
    }


def item_from_form(values: dict[str, Any]) -> tuple[ItemIn | None, list[FieldProblem]]:
    """The ``ItemIn`` a form describes, or the problems that keep it from being one."""
    problems: list[FieldProblem] = []
    attributes, bad = _pairs(str(values.get("attributes", "")))
    problems += [FieldProblem("attributes", f"not code=value: {line}") for line in bad]
    statutory, bad = _pairs(str(values.get("statutory", "")))
    problems += [FieldProblem("statutory", f"not key=value: {line}") for line in bad]
    odop = None
    if str(values.get("odop_lgd_code", "")).strip() or str(values.get("odop_product", "")).strip():
        odop = {"lgd_code": str(values.get("odop_lgd_code", "")).strip(),
                "product": str(values.get("odop_product", "")).strip()}
    data: dict[str, Any] = {
        name: str(values.get(name, "")).strip()
        for name in FORM_FIELDS
        if name not in ("images", "attributes", "statutory", "odop_lgd_code", "odop_product")
    }
    # a field the form leaves empty takes the model's default (unit, return window...)
    data = {k: v for k, v in data.items() if v != "" or k in REQUIRED_TEXT}
    data.update(
        images=_lines(str(values.get("images", ""))), attributes=attributes,
        statutory=statutory, odop=odop,
        **{name: bool(values.get(name)) for name in CHECKBOXES},
    )
    for kept in ("fulfillment_id", "parent_item_id", "origin_country", "seller_pickup_return",
                 "symbol"):
        if values.get(kept) not in (None, ""):
            data[kept] = values[kept]
    try:
        item = ItemIn.model_validate(data)
    except ValidationError as exc:
        return None, problems + pydantic_problems(exc)
    found = find_product(item.odop.lgd_code, item.odop.product) if item.odop else None
    problems += item_problems(item, found)
    return (item if not problems else None), problems


def _choices(page: Page, domain: str, category: str) -> dict[str, Any]:
    settings = page.request.app.state.settings
    rules = load_rules()
    domains = [d for d in settings.domains if d in rules]
    return {
        "domains": domains,
        "categories": list(rules[domain].valid_categories) if domain in rules else [],
        "mandatory": rules[domain].mandatory(category) if domain in rules else (),
    }


async def _locations(session: AsyncSession, provider_id: str) -> list[str]:
    return list(
        (
            await session.scalars(
                select(Location.id).where(
                    Location.provider_id == provider_id, Location.deleted_at.is_(None)
                )
            )
        ).all()
    )


async def _form_page(
    page: Page, session: AsyncSession, values: dict[str, Any], *, new: bool,
    problems: list[FieldProblem] | None = None, status_code: int = 200,
) -> Response:
    stores = await _stores(session, page)
    provider = str(values.get("provider_id") or (stores[0].id if stores else ""))
    domain = str(values.get("domain") or page.request.app.state.settings.domains[0])
    return page.render(
        "item_form.html", status_code=status_code, v=values, new=new, stores=stores,
        saved=page.request.query_params.get("saved") if status_code == 200 else None,
        locations=await _locations(session, provider) if provider else [],
        errors=[(p.field, explain(p.reason, page)) for p in problems or []],
        error_fields={p.field.split(".")[0] for p in problems or []},
        **_choices(page, domain, str(values.get("category_id") or "")),
    )


@router.get("/new", response_class=HTMLResponse)
async def new_item(request: Request, page: Page = Depends(page_for)) -> Response:
    who = page.require()
    settings = request.app.state.settings
    wanted = request.query_params.get("store", "")
    if wanted and not who.may_see(wanted):
        raise NotFound
    values: dict[str, Any] = {
        "provider_id": request.query_params.get("store", "")[:64] if who.operator
        else who.provider_id,
        "domain": request.query_params.get("domain", settings.domains[0])[:16],
        "stock": "1", "max_per_order": "10", "unit": "unit", "unit_value": "1",
        "return_window": "P7D", "time_to_ship": "P2D", "returnable": True, "cancellable": True,
        "enabled": True,
    }
    async with page.db.session() as session:
        stores = await _stores(session, page)
        if values["provider_id"] and not any(s.id == values["provider_id"] for s in stores):
            raise NotFound
        if not values["provider_id"] and stores:
            values["provider_id"] = stores[0].id
        store = next((s for s in stores if s.id == values["provider_id"]), None)
        if store is not None:
            name = store.name[:40].replace(",", " ")
            values["consumer_care"] = f"{name},{store.email},{store.phone}"
        return await _form_page(page, session, values, new=True)


async def _save(page: Page, form: dict[str, str], *, item_id: str | None) -> Response:
    who = page.require()
    async with page.db.session() as session:
        values: dict[str, Any] = dict(form)
        if item_id is not None:
            existing = await _item(session, page, item_id)
            kept = form_from_item(existing)
            values = {**kept, **{k: v for k, v in form.items() if k in FORM_FIELDS}}
            values.update({name: bool(form.get(name)) for name in CHECKBOXES})
            values["id"], values["provider_id"] = existing.id, existing.provider_id
        else:
            values.update({name: bool(form.get(name)) for name in CHECKBOXES})
            if not who.operator:
                if values.get("provider_id") not in (None, "", who.provider_id):
                    raise NotFound
                values["provider_id"] = who.provider_id
            elif not who.may_see(values.get("provider_id")):
                raise NotFound
        provider = await session.get(Provider, str(values.get("provider_id", ""))[:64])
        if provider is None or provider.deleted_at is not None:
            raise NotFound
        item, problems = item_from_form(values)
        if item is not None and item_id is None:
            taken = await session.get(Item, item.id)
            if taken is not None:
                problems.append(FieldProblem("id", "this id is already in use"))
        if item is not None and item.location_id not in await _locations(session, provider.id):
            problems.append(FieldProblem("location_id", f"no store location {item.location_id!r}"))
        if item is None or problems:
            return await _form_page(page, session, values, new=item_id is None,
                                    problems=problems, status_code=422)
        odop = find_product(item.odop.lgd_code, item.odop.product) if item.odop else None
        now = _now()
        await write.save_items(session, [(item, odop)], now)
        await _push(session, page, [item.id])
    _wake(page)
    return redirect(f"/console/items/{item.id}?saved=1")


@router.post("/new", response_class=HTMLResponse)
async def create_item(page: Page = Depends(page_for)) -> Response:
    return await _save(page, await page.form(), item_id=None)


# -- upload ---------------------------------------------------------------------------------------


@router.get("/upload", response_class=HTMLResponse)
async def upload_form(page: Page = Depends(page_for)) -> Response:
    page.require()
    return page.render("upload.html", problems=[], report=None,
                       limit_kb=MAX_UPLOAD_BYTES // 1024)


def _own_rows(
    records: Iterator[tuple[int, dict[str, Any]]], provider_id: str | None,
    foreign: list[RowProblem],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records, with every row that names another store turned into a problem."""
    for row, data in records:
        if provider_id is not None and data.get("type") != "provider" and not data.get(
            "provider_id"
        ):
            data = {**data, "provider_id": provider_id}  # a seller's sheet may leave it out
        owner = data.get("id") if data.get("type") == "provider" else data.get("provider_id")
        if provider_id is not None and owner not in (None, "", provider_id):
            foreign.append(RowProblem(row, f"{data.get('type', 'record')} {data.get('id', '')}",
                                      "provider_id", "another store's id: not yours to change"))
            continue
        yield row, data


@router.post("/upload", response_class=HTMLResponse)
async def upload(request: Request, page: Page = Depends(page_for)) -> Response:
    who = page.require()
    # the file and a little room for the form around it; a body of unknown size is refused
    if declared_too_large(request, MAX_UPLOAD_BYTES + 16 * 1024, required=True):
        raise TooLarge(MAX_UPLOAD_BYTES)
    form = await request.form(max_files=1, max_fields=10, max_part_size=64 * 1024)
    page.check_token(form.get("csrf_token", ""))
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return page.render("upload.html", status_code=422, report=None,
                           limit_kb=MAX_UPLOAD_BYTES // 1024,
                           problems=[page._("Choose a CSV file to upload.")])
    content = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise TooLarge(MAX_UPLOAD_BYTES)
    with tempfile.TemporaryDirectory(prefix="ondc-console-") as work:
        path = Path(work) / "upload.csv"
        path.write_bytes(content)
        foreign: list[RowProblem] = []
        try:
            async with page.db.session() as session:
                records = _own_rows(csv_records(path), who.provider_id, foreign)
                report = await import_records(
                    session, records, now=_now(), settings=request.app.state.settings
                )
                report.problems[:0] = foreign
                if not report.ok or foreign:
                    raise _Undo(report)
        except _Undo as undo:
            report = undo.report
        except (UnicodeDecodeError, ValueError) as exc:
            return page.render("upload.html", status_code=422, report=None,
                               limit_kb=MAX_UPLOAD_BYTES // 1024,
                               problems=[page._("The file could not be read as CSV: {why}",
                                                why=str(exc)[:200])])
    if report.ok and not foreign:
        _wake(page)
        return page.render("upload.html", report=report, problems=[],
                           limit_kb=MAX_UPLOAD_BYTES // 1024)
    lines = [
        page._("Row {row} ({record}): {field}: {reason}", row=p.row, record=p.record,
               field=p.field, reason=explain(p.reason, page))
        for p in report.problems[:200]
    ]
    return page.render("upload.html", status_code=422, report=None, problems=lines,
                       limit_kb=MAX_UPLOAD_BYTES // 1024)


class _Undo(Exception):
    """Rolls the upload's transaction back, carrying the report out."""

    def __init__(self, report: Any) -> None:
        self.report = report


# -- one item (after /new and /upload, so those paths are not taken for ids) ---------------------


@router.get("/{item_id}", response_class=HTMLResponse)
async def show_item(request: Request, item_id: str, page: Page = Depends(page_for)) -> Response:
    async with page.db.session() as session:
        item = await _item(session, page, item_id)
        values = form_from_item(item)
        response = await _form_page(page, session, values, new=False)
    return response


@router.post("/{item_id}", response_class=HTMLResponse)
async def update_item(item_id: str, page: Page = Depends(page_for)) -> Response:
    return await _save(page, await page.form(), item_id=item_id)
