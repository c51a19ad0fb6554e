"""Attacks on the console: forms without or with a stolen CSRF token, session fixation, login
brute force, hostile text in every field, oversized forms and uploads. Each refusal leaves the
store's records exactly as they were."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from console_kit import PASSWORD, sign_in, token
from sqlalchemy import select, update
from test_console_isolation import snapshot

from ondc_adapter.catalogue.tables import Item, Provider
from ondc_adapter.console.accounts import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.storage import Database

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>\'"&amp;{{7*7}}'


def own_posts(order: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/console/items/I1", {"name": "changed", "price": "1", "mrp": "1", "stock": "0"}),
        ("/console/items/I1/quick", {"stock": "0", "price": "1"}),
        ("/console/items/I1/enabled", {"enabled": "0"}),
        ("/console/items/new", {"id": "X1", "name": "x"}),
        (f"/console/orders/{order}/advance", {"state": "Packed"}),
        (f"/console/orders/{order}/cancel", {"reason_code": "005"}),
        (f"/console/orders/{order}/part-cancel",
         {"reason_code": "002", "item_id": "I1", "quantity": "1"}),
        (f"/console/orders/{order}/returns/R1/approve", {}),
        ("/console/store", {"name": "changed", "phone": "9876543210", "email": "a@b.in"}),
        ("/console/logout", {}),
    ]


async def p1_snapshot(db: Database) -> list[Any]:
    out: list[Any] = []
    async with db.session() as session:
        for model, where in ((Provider, Provider.id == "P1"), (Item, Item.provider_id == "P1"),
                             (OrderRecord, OrderRecord.provider_id == "P1")):
            for row in (await session.scalars(select(model).where(where))).all():
                out.append({c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs})
    return out


@pytest.mark.parametrize("csrf", [None, "", "forged-token", "stolen"])
async def test_every_form_without_the_sessions_csrf_token_is_refused(
    asha: httpx.AsyncClient, console_app: Any, stores: dict[str, str], pg_db: Database,
    csrf: str | None,
) -> None:
    if csrf == "stolen":  # a valid token, of another person's session
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app),
                                     base_url="http://node.test") as other:
            await sign_in(other, "bina")
            csrf = token((await other.get("/console/items")).text)
    before = await p1_snapshot(pg_db)
    for url, fields in own_posts(stores["P1"]):
        data = dict(fields) if csrf is None else {"csrf_token": csrf, **fields}
        response = await asha.post(url, data=data)
        assert response.status_code == 403, (url, response.status_code)
    assert await p1_snapshot(pg_db) == before
    assert (await asha.get("/console/items")).status_code == 200  # still signed in


async def test_sign_in_without_the_login_token_is_refused(anon: httpx.AsyncClient,
                                                         stores: dict[str, str]) -> None:
    response = await anon.post("/console/login",
                               data={"username": "asha", "password": PASSWORD})
    assert response.status_code == 403
    assert (await anon.get("/console/items")).status_code == 303


async def test_a_session_id_planted_before_sign_in_is_never_promoted(
    anon: httpx.AsyncClient, stores: dict[str, str], console_app: Any
) -> None:
    planted = "attacker-chosen-session-token-0123456789"
    anon.cookies.set("ondc_console", planted, domain="node.test", path="/console")
    response = await sign_in(anon, "asha")
    assert response.status_code == 303
    issued = response.cookies.get("ondc_console")
    assert issued and issued != planted
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app),
                                 base_url="http://node.test",
                                 cookies={"ondc_console": planted}) as attacker:
        assert (await attacker.get("/console/items")).status_code == 303


async def test_login_brute_force_is_rate_limited_per_account(
    anon: httpx.AsyncClient, stores: dict[str, str]
) -> None:
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        assert (await sign_in(anon, "asha", "wrong password!")).status_code == 401
    locked = await sign_in(anon, "asha")  # the right password, now refused
    assert locked.status_code == 429
    assert (await anon.get("/console/items")).status_code == 303
    assert (await sign_in(anon, "bina")).status_code == 303  # another account is not locked


async def test_login_brute_force_is_rate_limited_per_address(
    anon: httpx.AsyncClient, stores: dict[str, str]
) -> None:
    for n in range(MAX_FAILURES_PER_ADDRESS):
        assert (await sign_in(anon, f"guess{n}", "wrong password!")).status_code == 401
    assert (await sign_in(anon, "bina")).status_code == 429


async def test_hostile_text_is_escaped_on_every_page(
    asha: httpx.AsyncClient, stores: dict[str, str], pg_db: Database
) -> None:
    async with pg_db.session() as session:
        await session.execute(update(Item).where(Item.id == "I1").values(
            name=HOSTILE, short_desc=HOSTILE, long_desc=HOSTILE, category_id=HOSTILE,
            images=[HOSTILE], attributes={"brand": HOSTILE}))
        await session.execute(update(Provider).where(Provider.id == "P1").values(name=HOSTILE))
        record = await session.scalar(select(OrderRecord).where(OrderRecord.provider_id == "P1"))
        assert record is not None
        lines = [dict(line, title=HOSTILE) for line in record.lines]
        fulfillments = [
            {**f, "end": {"location": {"address": {"name": HOSTILE, "city": HOSTILE}},
                          "contact": {"phone": HOSTILE}}}
            for f in record.fulfillments
        ]
        await session.execute(update(OrderRecord).where(OrderRecord.id == record.id).values(
            lines=lines, fulfillments=fulfillments, bap_id=HOSTILE))
    pages = ["/console/items", "/console/items/I1", "/console/store",
             f"/console/orders/{stores['P1']}", "/console/orders",
             "/console/items?q=" + HOSTILE]
    for url in pages:
        response = await asha.get(url)
        assert response.status_code == 200, url
        assert "<script>" not in response.text and "<img src=x" not in response.text, url
        if url != "/console/orders":  # the list shows no buyer- or seller-written text
            assert "&lt;script&gt;" in response.text, url
        assert "{{7*7}}" in response.text or url == "/console/orders"  # never evaluated


async def test_hostile_text_through_the_item_form_is_stored_exactly_and_escaped(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    csrf = token((await asha.get("/console/items/I1")).text)
    async with pg_db.session() as session:
        item = await session.get(Item, "I1")
        assert item is not None
        form = {"csrf_token": csrf, "name": HOSTILE, "domain": item.domain,
                "category_id": item.category_id, "location_id": item.location_id,
                "price": str(item.price), "mrp": str(item.mrp), "stock": str(item.stock),
                "code": "1:8901234567890", "short_desc": HOSTILE, "long_desc": HOSTILE,
                "consumer_care": item.consumer_care, "enabled": "1",
                "attributes": f"brand={HOSTILE}\ncolour=#1D70B8\ncolour_name=Blue\n"
                              "material=Ceramic"}
    response = await asha.post("/console/items/I1", data=form)
    assert response.status_code == 303, response.text[:3000]
    async with pg_db.session() as session:
        stored = await session.get(Item, "I1")
        assert stored is not None and stored.name == HOSTILE
    page = await asha.get("/console/items/I1")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


async def test_oversized_upload_is_refused_and_nothing_is_imported(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    before = await snapshot(pg_db), await p1_snapshot(pg_db)
    csrf = token((await asha.get("/console/items/upload")).text)
    big = b"id,name\n" + b"x" * (3 * 1024 * 1024)
    response = await asha.post("/console/items/upload", data={"csrf_token": csrf},
                               files={"file": ("big.csv", big, "text/csv")})
    assert response.status_code == 413
    assert "KB" in response.text and "Nothing was imported" in response.text
    assert (await snapshot(pg_db), await p1_snapshot(pg_db)) == before


async def test_oversized_forms_are_refused(asha: httpx.AsyncClient, pg_db: Database) -> None:
    before = await p1_snapshot(pg_db)
    csrf = token((await asha.get("/console/items")).text)
    response = await asha.post("/console/store", data={"csrf_token": csrf,
                                                       "name": "x" * 200_000})
    assert response.status_code == 413
    assert await p1_snapshot(pg_db) == before


async def test_open_redirects_are_refused(anon: httpx.AsyncClient,
                                          stores: dict[str, str]) -> None:
    page = await anon.get("/console/login")
    response = await anon.post("/console/login", data={
        "username": "asha", "password": PASSWORD, "next": "https://evil.example/",
        "login_token": token(page.text, "login_token")})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/orders"
