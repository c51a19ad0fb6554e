"""The console over HTTP: sign-in, each page, and the actions reaching the seller's records and
the buyer app (the outbox)."""

from __future__ import annotations

import httpx
from console_kit import PASSWORD, sign_in, token
from sqlalchemy import select

from ondc_adapter.catalogue.tables import Item
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.storage import Database

PAGES = ["/console/items", "/console/items/I1", "/console/items/new", "/console/items/upload",
         "/console/orders", "/console/store", "/console/issues"]


async def test_every_page_redirects_to_login_without_a_session(anon: httpx.AsyncClient,
                                                               stores: dict[str, str]) -> None:
    for path in [*PAGES, f"/console/orders/{stores['P1']}"]:
        response = await anon.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=/console/")


async def test_login_form_has_the_fields_a_browser_needs(anon: httpx.AsyncClient) -> None:
    page = await anon.get("/console/login")
    assert page.status_code == 200
    for needle in ('name="username"', 'name="password"', 'type="password"',
                   'for="username"', 'for="password"', 'autocomplete="current-password"'):
        assert needle in page.text
    assert "cdn" not in page.text.lower()


async def test_sign_in_shows_each_page_and_sign_out_ends_the_session(
    asha: httpx.AsyncClient, stores: dict[str, str]
) -> None:
    for path in [*PAGES, f"/console/orders/{stores['P1']}"]:
        response = await asha.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert "<html lang=" in response.text
        assert response.headers["cache-control"] == "no-store"
    orders = await asha.get("/console/orders")
    assert stores["P1"] in orders.text and stores["P2"] not in orders.text
    page = await asha.get("/console/items")
    out = await asha.post("/console/logout", data={"csrf_token": token(page.text)})
    assert out.status_code == 303
    assert (await asha.get("/console/items")).status_code == 303


async def test_cookies_are_httponly_and_samesite(anon: httpx.AsyncClient,
                                                 stores: dict[str, str]) -> None:
    response = await sign_in(anon, "asha")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie


async def test_quick_stock_and_price_edit_is_saved(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    page = await asha.get("/console/items")
    response = await asha.post(
        "/console/items/I1/quick",
        data={"csrf_token": token(page.text), "stock": "7", "price": "550.50"},
    )
    assert response.status_code == 303, response.text
    async with pg_db.session() as session:
        item = await session.get(Item, "I1")
        assert item is not None and (item.stock, str(item.price)) == (7, "550.50")


async def test_quick_edit_refuses_a_price_above_mrp(asha: httpx.AsyncClient,
                                                   pg_db: Database) -> None:
    async with pg_db.session() as session:
        before = await session.get(Item, "I1")
        assert before is not None
        stock = before.stock
    page = await asha.get("/console/items")
    response = await asha.post(
        "/console/items/I1/quick",
        data={"csrf_token": token(page.text), "stock": "7", "price": "99999"},
    )
    assert response.status_code == 422
    async with pg_db.session() as session:
        item = await session.get(Item, "I1", populate_existing=True)
        assert item is not None and item.stock == stock  # nothing saved


async def test_add_an_item_from_the_form(asha: httpx.AsyncClient, pg_db: Database) -> None:
    form = await asha.get("/console/items/new")
    data = {
        "csrf_token": token(form.text), "id": "I-new-1", "name": "Blue pottery vase",
        "domain": "ONDC:RET16", "category_id": "Home Decor", "location_id": "L1",
        "price": "899", "mrp": "999", "stock": "4", "max_per_order": "2",
        "code": "1:8901234567890", "short_desc": "Hand-painted", "long_desc": "Jaipur",
        "consumer_care": "Asha,care@artisans.example,9876543210", "enabled": "1",
        "attributes": "brand=Jaipur Blue\ncolour=#1D70B8\ncolour_name=Blue\nmaterial=Ceramic",
        "statutory": "", "images": "https://img.example/v.jpg",
    }
    response = await asha.post("/console/items/new", data=data)
    assert response.status_code == 303, response.text[:3000]
    async with pg_db.session() as session:
        item = await session.get(Item, "I-new-1")
        assert item is not None and item.provider_id == "P1" and item.stock == 4


async def test_a_bad_item_form_names_each_field(asha: httpx.AsyncClient,
                                                pg_db: Database) -> None:
    form = await asha.get("/console/items/new")
    response = await asha.post("/console/items/new", data={
        "csrf_token": token(form.text), "id": "I-bad", "name": "", "domain": "ONDC:RET16",
        "category_id": "Home Decor", "location_id": "L1", "price": "10", "mrp": "5",
        "stock": "-1", "code": "x", "short_desc": "", "long_desc": "", "consumer_care": "",
    })
    assert response.status_code == 422
    assert "error-summary" in response.text and "name" in response.text
    async with pg_db.session() as session:
        assert await session.get(Item, "I-bad") is None


async def test_accept_and_advance_an_order_queues_on_status(
    asha: httpx.AsyncClient, stores: dict[str, str], pg_db: Database
) -> None:
    order_id = stores["P1"]
    page = await asha.get(f"/console/orders/{order_id}")
    async with pg_db.session() as session:
        before = len((await session.scalars(select(OutboxEntry))).all())
    for state in ("Packed", "Order-picked-up", "Out-for-delivery", "Order-delivered"):
        response = await asha.post(f"/console/orders/{order_id}/advance",
                                   data={"csrf_token": token(page.text), "state": state})
        assert response.status_code == 303, (state, response.text[:2000])
    async with pg_db.session() as session:
        rows = (await session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    assert [r.action for r in rows[before:]].count("on_status") == 4
    shown = await asha.get(f"/console/orders/{order_id}")
    assert "Order-delivered" in shown.text


async def test_store_page_saves_timings_and_facts(asha: httpx.AsyncClient,
                                                 pg_db: Database) -> None:
    page = await asha.get("/console/store")
    data = {"csrf_token": token(page.text), "name": "Pattachitra Artisans",
            "phone": "9876543210", "email": "care@artisans.example", "women_led": "1",
            "shg": "1", "loc0_open": "1", "loc0_open_time": "0900", "loc0_close_time": "1800",
            "loc0_day1": "1", "loc0_day2": "1", "loc0_holidays": "2026-12-25",
            "loc0_serviceability": "11", "loc0_pincodes": "751001-751030"}
    response = await asha.post("/console/store", data=data)
    assert response.status_code == 303, response.text[:2000]
    shown = await asha.get("/console/store")
    assert "2026-12-25" in shown.text and "751001-751030" in shown.text
    bad = dict(data, loc0_open_time="2560")
    refused = await asha.post("/console/store", data=bad)
    assert refused.status_code == 422


async def test_hindi_is_chosen_from_the_browser_then_remembered(
    anon: httpx.AsyncClient, stores: dict[str, str]
) -> None:
    hindi = await anon.get("/console/login", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"})
    assert 'lang="hi"' in hindi.text and "साइन इन" in hindi.text
    await sign_in(anon, "asha")
    page = await anon.get("/console/items")
    await anon.post("/console/language", data={"csrf_token": token(page.text), "lang": "hi",
                                                "next": "/console/items"})
    again = await anon.get("/console/orders", headers={"Accept-Language": "en"})
    assert 'lang="hi"' in again.text and "ऑर्डर" in again.text


async def test_docs_load_nothing_from_another_host(anon: httpx.AsyncClient) -> None:
    docs = await anon.get("/docs")
    assert docs.status_code == 200
    assert ("cdn" not in docs.text and "//" not in docs.text.replace("http://", "").replace(
        "https://", ""
    )) or "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "https://" not in docs.text and "/docs-assets/swagger-ui-bundle.js" in docs.text
    asset = await anon.get("/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_wrong_password_is_refused(anon: httpx.AsyncClient,
                                         stores: dict[str, str]) -> None:
    response = await sign_in(anon, "asha", PASSWORD + "x")
    assert response.status_code == 401
    assert (await anon.get("/console/items")).status_code == 303


async def test_hide_and_show_an_item(asha: httpx.AsyncClient, pg_db: Database) -> None:
    page = await asha.get("/console/items/I1")
    assert "Hide from buyers" in page.text
    response = await asha.post("/console/items/I1/enabled",
                               data={"csrf_token": token(page.text), "enabled": "0"})
    assert response.status_code == 303
    async with pg_db.session() as session:
        item = await session.get(Item, "I1")
        assert item is not None and item.enabled is False
    shown = await asha.get("/console/items/I1")
    assert "Show to buyers" in shown.text


async def test_a_cash_on_delivery_order_says_what_to_collect_then_when_it_was(
    asha: httpx.AsyncClient, stores: dict[str, str], pg_db: Database
) -> None:
    order_id = stores["P1"]
    async with pg_db.session() as session:
        record = (await session.scalars(
            select(OrderRecord).where(OrderRecord.order_id == order_id))).one()
        record.payment = {**record.payment, "type": "ON-FULFILLMENT", "collected_by": "BPP",
                          "status": "NOT-PAID"}
        total = record.quote["price"]["value"]
    page = await asha.get(f"/console/orders/{order_id}")
    assert "Cash on delivery: collect" in page.text and "Paid online" not in page.text
    assert f"{float(total):,.2f}" in page.text
    for state in ("Packed", "Order-picked-up", "Order-delivered"):
        response = await asha.post(f"/console/orders/{order_id}/advance",
                                   data={"csrf_token": token(page.text), "state": state})
        assert response.status_code == 303, (state, response.text[:2000])
    shown = await asha.get(f"/console/orders/{order_id}")
    assert "Cash collected on delivery" in shown.text
    assert "Cash on delivery: collect" not in shown.text
    async with pg_db.session() as session:
        record = (await session.scalars(
            select(OrderRecord).where(OrderRecord.order_id == order_id))).one()
        assert record.payment["status"] == "PAID" and record.payment["time"]["timestamp"]
