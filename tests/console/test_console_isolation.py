"""Tenant isolation: seller A (asha, store P1), signed in, tries every console route with
store P2's ids and gets 404, the same answer as for an id that does not exist. Nothing of P2
changes (every row of P2's store, items, orders and outbox compared before and after).

The cases are checked against the app's own route list: a console route added without an
isolation case here fails ``test_every_console_route_has_an_isolation_case``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from console_kit import sign_in, token
from sqlalchemy import select

from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.offer_tables import OfferRow
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.igm.tables import IssueEvent, IssueRecord
from ondc_adapter.orders.tables import OrderRecord, OrderTransition
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.storage import Database

# Routes that carry no store's id (sign-in, language, static files...), so nothing to isolate.
NOT_STORE_SCOPED = {
    "/console/", "/console/login", "/console/logout", "/console/language",
    "/console/items/new", "/console/items/upload", "/console/static",
}


OFFER_B = "P2-OFFER"  # an offer of store P2 (added by the test)
OFFER_FORM = {"store": "P2", "type": "discount", "kind": "percent", "value": "90",
              "valid_from": "2026-01-01T00:00", "valid_to": "2027-01-01T00:00", "loc_0": "1",
              "enabled": "1"}


async def add_offer_b(db: Database) -> None:
    data = {"id": OFFER_B, "type": "discount", "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2027-01-01T00:00:00Z", "item_ids": ["J1"],
            "benefit": {"percent": "5.00"}, "additive": True, "auto": True}
    async with db.session() as session:
        given = await offer_store.check_offer(session, "P2", data)
        await offer_store.put_offer(session, given, now=datetime.now(UTC))


def cases(order_b: str, issue_b: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """(route template, method, URL with B's ids, form fields besides the CSRF token)."""
    return [
        ("/console/items", "GET", "/console/items?store=P2", {}),
        ("/console/items/{item_id}", "GET", "/console/items/J1", {}),
        ("/console/items/{item_id}", "POST", "/console/items/J1",
         {"name": "taken over", "price": "1", "mrp": "1", "stock": "0"}),
        ("/console/items/{item_id}/quick", "POST", "/console/items/J1/quick",
         {"stock": "0", "price": "1"}),
        ("/console/items/{item_id}/enabled", "POST", "/console/items/J1/enabled",
         {"enabled": "0"}),
        ("/console/items/new", "GET", "/console/items/new?store=P2", {}),
        ("/console/items/new", "POST", "/console/items/new",
         {"provider_id": "P2", "id": "X1", "name": "x", "location_id": "L2"}),
        ("/console/orders/{order_id}", "GET", f"/console/orders/{order_b}", {}),
        ("/console/orders/{order_id}/accept", "POST", f"/console/orders/{order_b}/accept", {}),
        ("/console/orders/{order_id}/advance", "POST", f"/console/orders/{order_b}/advance",
         {"state": "Packed"}),
        ("/console/orders/{order_id}/cancel", "POST", f"/console/orders/{order_b}/cancel",
         {"reason_code": "005"}),
        ("/console/orders/{order_id}/part-cancel", "POST",
         f"/console/orders/{order_b}/part-cancel",
         {"reason_code": "002", "item_id": "J1", "quantity": "1"}),
        ("/console/orders/{order_id}/returns/{return_id}/{step}", "POST",
         f"/console/orders/{order_b}/returns/R1/approve", {}),
        ("/console/orders/{order_id}/returns/{return_id}/{step}", "POST",
         f"/console/orders/{order_b}/returns/R1/reject", {"reason_code": "001"}),
        ("/console/issues/{issue_id}", "GET", f"/console/issues/{issue_b}", {}),
        ("/console/issues/{issue_id}/ask-info", "POST", f"/console/issues/{issue_b}/ask-info",
         {"question": "taken over?"}),
        ("/console/issues/{issue_id}/propose", "POST", f"/console/issues/{issue_b}/propose",
         {"kind": "REFUND", "amount": "1"}),
        ("/console/issues/{issue_id}/resolve", "POST", f"/console/issues/{issue_b}/resolve",
         {"text": "taken over"}),
        ("/console/store", "GET", "/console/store?store=P2", {}),
        ("/console/rejections", "GET", "/console/rejections?store=P2", {}),
        ("/console/store", "POST", "/console/store",
         {"store": "P2", "name": "taken over", "phone": "9876543210",
          "email": "x@example.com"}),
        ("/console/offers", "GET", "/console/offers?store=P2", {}),
        ("/console/offers/new", "GET", "/console/offers/new?type=discount&store=P2", {}),
        ("/console/offers/new", "POST", "/console/offers/new", {**OFFER_FORM, "id": "X1"}),
        ("/console/offers/{offer_id}", "GET", f"/console/offers/{OFFER_B}?store=P2", {}),
        ("/console/offers/{offer_id}", "POST", f"/console/offers/{OFFER_B}", OFFER_FORM),
        ("/console/offers/{offer_id}/enabled", "POST", f"/console/offers/{OFFER_B}/enabled",
         {"store": "P2", "enabled": "0"}),
        ("/console/offers/{offer_id}/delete", "GET",
         f"/console/offers/{OFFER_B}/delete?store=P2", {}),
        ("/console/offers/{offer_id}/delete", "POST", f"/console/offers/{OFFER_B}/delete",
         {"store": "P2"}),
    ]


async def snapshot(db: Database) -> list[Any]:
    """Every column of every row of store P2 (and every outbox row)."""
    out: list[Any] = []
    async with db.session() as session:
        for model, where in (
            (Provider, Provider.id == "P2"), (Location, Location.provider_id == "P2"),
            (Item, Item.provider_id == "P2"), (OrderRecord, OrderRecord.provider_id == "P2"),
            (OrderTransition, None), (OutboxEntry, None), (IssueRecord, None), (IssueEvent, None),
            (OfferRow, OfferRow.provider_id == "P2"),
        ):
            query = select(model) if where is None else select(model).where(where)
            for row in (await session.scalars(query)).all():
                out.append({c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs})
    return out


def console_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/console") or path in NOT_STORE_SCOPED:
            continue
        for method in getattr(route, "methods", None) or {"GET"}:
            if method != "HEAD":
                found.add((path, method))
    return found


async def test_every_console_route_has_an_isolation_case(
    console_app: Any, stores: dict[str, str]
) -> None:
    covered = {(template, method) for template, method, _u, _f in cases(stores["P2"], "I-1")}
    assert console_routes(console_app) - covered == set()


async def test_seller_a_gets_404_for_every_route_with_seller_b_ids(
    asha: httpx.AsyncClient, stores: dict[str, str], issues: dict[str, Any], pg_db: Database
) -> None:
    await add_offer_b(pg_db)
    before = await snapshot(pg_db)
    csrf = token((await asha.get("/console/items")).text)
    for _template, method, url, fields in cases(stores["P2"], issues["P2"].issue_id):
        if method == "GET":
            response = await asha.get(url)
        else:
            response = await asha.post(url, data={"csrf_token": csrf, **fields})
        assert response.status_code == 404, (method, url, response.status_code)
        # nothing of B's shows, beyond the address that was asked for
        shown = response.text.replace(url.split("?")[0], "")
        assert "J1" not in shown and "P2" not in shown and "250.00" not in shown
    assert await snapshot(pg_db) == before


async def test_an_unknown_id_and_another_stores_id_look_the_same(
    asha: httpx.AsyncClient, stores: dict[str, str]
) -> None:
    theirs = await asha.get(f"/console/orders/{stores['P2']}")
    unknown = await asha.get("/console/orders/NO-SUCH-ORDER")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace(stores["P2"], "X") == unknown.text.replace("NO-SUCH-ORDER", "X")


async def test_a_sellers_upload_cannot_touch_another_store(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    before = await snapshot(pg_db)
    csrf = token((await asha.get("/console/items/upload")).text)
    csv = (
        "id,provider_id,location_id,domain,category_id,name,code,short_desc,long_desc,price,"
        "mrp,stock,consumer_care\n"
        "J1,P2,L2,ONDC:RET16,Home Decor,taken,1:8901234567890,x,x,1,1,0,"
        "A,a@b.in,9876543210\n"
    )
    response = await asha.post(
        "/console/items/upload", data={"csrf_token": csrf},
        files={"file": ("items.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 422
    assert "another store" in response.text
    assert await snapshot(pg_db) == before


async def test_the_operator_sees_every_store(anon: httpx.AsyncClient,
                                             stores: dict[str, str]) -> None:
    assert (await sign_in(anon, "ops")).status_code == 303
    for store, order in stores.items():
        assert (await anon.get(f"/console/orders/{order}")).status_code == 200, store
    assert (await anon.get("/console/items/J1")).status_code == 200
    assert (await anon.get("/console/store?store=P2")).status_code == 200
