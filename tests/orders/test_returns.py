"""Buyer returns with reverse pickup and reverse QC (protocol.md 4.9), for RET12 and RET16,
through the order handlers, the seller service and the admin API on PostgreSQL.

Return_Initiated -> Return_Approved (reverse pickup from the buyer's address to the store) ->
Return_Picked -> Return_Delivered (QC passed: refund, stock back) | Return_Failed (QC failed: no
refund); Return_Rejected with a rejection reason code; Liquidated (refund, no pickup, no stock).
Every payload is validated against the project's schemas by the kit."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from order_flowkit import (
    BUYER_GPS,
    BUYER_PIN,
    Buyer,
    Clock,
    Seller,
    node_settings,
    order_row,
    seed,
    stock_of,
)
from pydantic import SecretStr
from sqlalchemy import select
from test_flows import check_pairing, check_quote, confirmed, fstate, tags_of
from typer.testing import CliRunner

from ondc_adapter.cli import app as cli_app
from ondc_adapter.orders import service
from ondc_adapter.orders.admin import router
from ondc_adapter.orders.tables import OrderReturn, OrderTransition
from ondc_adapter.protocol.durations import format_timestamp, parse_timestamp
from ondc_adapter.storage import Database

DOMAINS = ["ONDC:RET12", "ONDC:RET16"]
KEY = "test-admin-key"


def ret_f(order: dict[str, Any], rid: str = "R1") -> dict[str, Any]:
    return next(f for f in order["fulfillments"] if f["id"] == rid)


def counts(order: dict[str, Any], item_id: str) -> dict[str, int]:
    return {i["fulfillment_id"]: i["quantity"]["count"] for i in order["items"]
            if i["id"] == item_id}


def total(order: dict[str, Any]) -> Decimal:
    return Decimal(order["quote"]["price"]["value"])


async def delivered(buyer: Buyer, seller: Seller, items: list[tuple[str, int]]) -> dict:
    _, _, con = await confirmed(buyer, items)
    for s in ("Packed", "Order-picked-up", "Order-delivered"):
        await seller.advance(buyer.order_id, s)
    return con.order


async def journal(db: Database, order_id: str, fid: str) -> list[OrderTransition]:
    row = await order_row(db, order_id)
    async with db.session() as s:
        return list(
            (
                await s.scalars(
                    select(OrderTransition)
                    .where(OrderTransition.order_pk == row.id,
                           OrderTransition.fulfillment_id == fid)
                    .order_by(OrderTransition.id)
                )
            ).all()
        )


async def refused(coro: Any, match: str) -> service.IllegalTransition:
    with pytest.raises(service.IllegalTransition, match=match) as info:
        await coro
    return info.value


@pytest.mark.parametrize("domain", DOMAINS)
async def test_return_with_pickup_qc_passed_refunds_and_restocks(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    placed = await delivered(buyer, seller, [("I1", 2), ("I2", 1)])
    paid = total(placed)
    assert paid == Decimal("1599.50")
    assert await stock_of(pg_db, "I1") == 18

    ret = await buyer.request_return("I1", 1)
    assert ret.error is None and fstate(ret.order, "R1") == "Return_Initiated"
    assert counts(ret.order, "I1") == {"F1": 2, "R1": 1}

    # approved: reverse pickup from where the order was delivered, to the store; no refund yet
    window = (clock() + timedelta(hours=2), clock() + timedelta(hours=8))
    approved = await seller.approve_return(
        buyer.order_id, "R1", pickup_start=format_timestamp(window[0]),
        pickup_end=format_timestamp(window[1]),
    )
    pushes = [approved]
    assert approved["context"]["action"] == "on_update"
    o = approved["message"]["order"]
    assert o["state"] == "Completed" and fstate(o, "R1") == "Return_Approved"
    r1 = ret_f(o)
    fwd = ret_f(o, "F1")
    assert r1["start"]["location"] == fwd["end"]["location"]
    assert r1["start"]["location"]["gps"] == BUYER_GPS
    assert r1["start"]["location"]["address"]["area_code"] == BUYER_PIN
    assert r1["start"]["contact"] == fwd["end"]["contact"]
    assert r1["start"]["time"]["range"] == {
        "start": format_timestamp(window[0]), "end": format_timestamp(window[1])
    }
    assert r1["end"]["location"]["id"] == "L1"
    assert r1["end"]["location"]["address"]["area_code"] == "751006"
    assert r1["end"]["contact"]["phone"] == "9876543210"
    assert tags_of(r1, "reverseqc_input") == [
        {"P001": "Handmade item I1", "P003": "1", "Q001": "", "ttl_reverseqc": "P3D"}
    ]
    assert tags_of(r1, "return_request")[0]["ttl_reverseqc"] == "P3D"
    assert not tags_of(r1, "quote_trail")
    assert total(o) == paid and o["quote"] == placed["quote"]
    assert counts(o, "I1") == {"F1": 2, "R1": 1}
    assert await stock_of(pg_db, "I1") == 18

    clock.tick(3 * 3600)  # the courier comes within the window
    picked = await seller.return_picked(
        buyer.order_id, "R1", agent_name="Ravi", agent_phone="9811111111"
    )
    pushes.append(picked)
    o = picked["message"]["order"]
    r1 = ret_f(o)
    assert fstate(o, "R1") == "Return_Picked"
    picked_at = parse_timestamp(r1["start"]["time"]["timestamp"])
    assert r1["start"]["time"]["range"]["start"] == format_timestamp(window[0])
    assert window[0] <= picked_at <= window[1]
    assert r1["agent"] == {"name": "Ravi", "phone": "9811111111"}
    qc_in = tags_of(r1, "reverseqc_input")[0]
    assert parse_timestamp(qc_in["due_by"]) == picked_at + timedelta(days=3)
    assert total(o) == paid and await stock_of(pg_db, "I1") == 18

    clock.tick(86400)  # a day in transit, QC the day it arrives
    back = await seller.return_qc(buyer.order_id, "R1", "passed", remarks="tags intact")
    pushes.append(back)
    assert back["context"]["action"] == "on_update"
    o = back["message"]["order"]
    r1 = ret_f(o)
    assert fstate(o, "R1") == "Return_Delivered" and o["state"] == "Completed"
    assert "timestamp" in r1["end"]["time"]
    out = tags_of(r1, "reverseqc_output")[0]
    assert out["result"] == "passed" and out["Q001"] == "yes" and out["within_ttl"] == "yes"
    assert out["P001"] == "Handmade item I1" and out["P003"] == "1"
    assert out["remarks"] == "tags intact"
    assert tags_of(r1, "quote_trail") == [
        {"type": "item", "id": "I1", "currency": "INR", "value": "-600.00"}
    ]
    assert total(o) == paid - Decimal("600.00")
    check_quote(o["quote"])
    assert counts(o, "I1") == {"F1": 1, "R1": 1}
    assert await stock_of(pg_db, "I1") == 19  # back on the shelf

    refund = await buyer.settle_refund("600.00")
    assert refund.error is None

    # a second return, liquidated: refunded to the paisa, nothing comes back to stock
    ret2 = await buyer.request_return("I2", 1, return_id="R2")
    assert ret2.error is None
    liq = await seller.liquidate_return(buyer.order_id, "R2")
    pushes.append(liq)
    o = liq["message"]["order"]
    assert fstate(o, "R2") == "Liquidated" and fstate(o, "R1") == "Return_Delivered"
    assert tags_of(ret_f(o, "R2"), "quote_trail") == [
        {"type": "item", "id": "I2", "currency": "INR", "value": "-349.50"}
    ]
    assert total(o) == paid - Decimal("600.00") - Decimal("349.50") == Decimal("650.00")
    check_quote(o["quote"])
    assert await stock_of(pg_db, "I2") == 19
    # the refunds add up: every quote_trail entry of every fulfillment = the quote's drop
    trail = sum(
        (Decimal(t["value"]) for f in o["fulfillments"] for t in tags_of(f, "quote_trail")),
        Decimal(0),
    )
    assert paid + trail == total(o)

    # the only returnable unit left is I1 x1 (the other came back and was refunded)
    too_many = await buyer.request_return("I1", 2, return_id="R3")
    assert too_many.error["code"] == "30005"

    steps = [(t.from_state, t.to_state) for t in await journal(pg_db, buyer.order_id, "R1")]
    assert steps == [
        (None, "Return_Initiated"),
        ("Return_Initiated", "Return_Approved"),
        ("Return_Approved", "Return_Picked"),
        ("Return_Picked", "Return_Delivered"),
    ]
    entries = await journal(pg_db, buyer.order_id, "R1")
    assert "reverse QC due by" in entries[2].reason and "P3D" in entries[2].reason
    assert entries[3].reason == "reverse QC passed: tags intact"
    async with pg_db.session() as s:
        row = (await s.scalars(select(OrderReturn).where(OrderReturn.return_id == "R1"))).one()
    assert row.state == "Return_Delivered"
    check_pairing(buyer.log, pushes)


@pytest.mark.parametrize("domain", DOMAINS)
async def test_return_rejected_with_a_reason_code(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    placed = await delivered(buyer, seller, [("I1", 2)])
    assert (await buyer.request_return("I1", 2)).error is None

    # a rejection needs one of the rejection reason codes
    err = await refused(
        seller.advance(buyer.order_id, "Return_Rejected", fulfillment_id="R1"),
        "rejection reason code",
    )
    assert err.code.value == "30005"
    await refused(seller.reject_return(buyer.order_id, "R1", "999"), "rejection reason code")

    rej = await seller.reject_return(
        buyer.order_id, "R1", "002", remarks="stain on the pallu in the photos"
    )
    assert rej["context"]["action"] == "on_update"
    o = rej["message"]["order"]
    r1 = ret_f(o)
    assert fstate(o, "R1") == "Return_Rejected" and o["state"] == "Completed"
    assert tags_of(r1, "return_rejection") == [
        {
            "reason_id": "002",
            "reason_desc": "Item shows signs of use, damage or alteration by the buyer",
            "initiated_by": "seller.example.com",
        }
    ]
    assert not tags_of(r1, "quote_trail") and "start" not in r1
    assert o["quote"] == placed["quote"]
    assert await stock_of(pg_db, "I1") == 18
    last = (await journal(pg_db, buyer.order_id, "R1"))[-1]
    assert (last.to_state, last.reason_code) == ("Return_Rejected", "002")
    assert "stain on the pallu" in last.reason

    # final: nothing moves after a rejection
    await refused(seller.approve_return(buyer.order_id, "R1"), "final")
    await refused(seller.return_picked(buyer.order_id, "R1"), "final")
    # a rejected return does not hold the units: the buyer may ask again (e.g. new photos)
    again = await buyer.request_return("I1", 2, return_id="R2")
    assert again.error is None and fstate(again.order, "R2") == "Return_Initiated"

    # the sandbox's form: advance with the code in ``reason``
    by_advance = await seller.advance(
        buyer.order_id, "Return_Rejected", fulfillment_id="R2", reason="003"
    )
    assert tags_of(ret_f(by_advance["message"]["order"], "R2"), "return_rejection")[0][
        "reason_id"
    ] == "003"


@pytest.mark.parametrize("domain", DOMAINS)
async def test_return_qc_failed_no_refund_no_stock(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    placed = await delivered(buyer, seller, [("I1", 2)])
    assert (await buyer.request_return("I1", 1)).error is None
    await seller.approve_return(buyer.order_id, "R1")
    await seller.return_picked(buyer.order_id, "R1")

    failed = await seller.return_qc(buyer.order_id, "R1", "failed", remarks="not our weave")
    o = failed["message"]["order"]
    r1 = ret_f(o)
    assert fstate(o, "R1") == "Return_Failed" and o["state"] == "Completed"
    out = tags_of(r1, "reverseqc_output")[0]
    assert (out["result"], out["Q001"], out["within_ttl"]) == ("failed", "no", "yes")
    assert not tags_of(r1, "quote_trail")
    assert o["quote"] == placed["quote"]
    check_quote(o["quote"])
    assert await stock_of(pg_db, "I1") == 18  # not restocked
    await refused(seller.return_qc(buyer.order_id, "R1", "passed"), "Return_Picked")
    # the failed unit is with the seller: only the other one may still be returned
    assert (await buyer.request_return("I1", 2, return_id="R2")).error["code"] == "30005"
    assert (await buyer.request_return("I1", 1, return_id="R2")).error is None


@pytest.mark.parametrize("domain", DOMAINS)
async def test_illegal_return_moves_are_refused(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    placed = await delivered(buyer, seller, [("I1", 3)])
    oid = buyer.order_id
    assert (await buyer.request_return("I1", 1)).error is None

    await refused(seller.return_picked(oid, "R1"), "cannot go from Return_Initiated")
    await refused(seller.return_qc(oid, "R1", "passed"), "needs the item picked up")
    await refused(
        seller.advance(oid, "Return_Delivered", fulfillment_id="R1"),
        "cannot go from Return_Initiated to Return_Delivered",
    )
    await refused(seller.return_qc(oid, "R1", "maybe"), "passed or failed")
    await refused(seller.approve_return(oid, "NOPE"), "no return NOPE")
    await refused(
        seller.approve_return(
            oid, "R1", pickup_start=format_timestamp(clock() + timedelta(hours=5)),
            pickup_end=format_timestamp(clock() + timedelta(hours=1)),
        ),
        "must end after it starts",
    )
    await refused(seller.approve_return(oid, "R1", pickup_start="tomorrow"), "pickup_start")
    await refused(
        seller.approve_return(oid, "R1", pickup_start=format_timestamp(clock())),
        "must not start in the past",
    )
    # refused moves changed nothing
    st = await buyer.status()
    assert fstate(st.order, "R1") == "Return_Initiated" and "start" not in ret_f(st.order)

    approved = await seller.approve_return(oid, "R1")  # default window: the next 24 h
    rng = ret_f(approved["message"]["order"])["start"]["time"]["range"]
    assert parse_timestamp(rng["end"]) - parse_timestamp(rng["start"]) == timedelta(hours=24)
    await refused(seller.liquidate_return(oid, "R1"), "cannot go from Return_Approved")
    await refused(seller.approve_return(oid, "R1"), "already Return_Approved")
    await refused(
        seller.advance(oid, "Return_Delivered", fulfillment_id="R1"),
        "cannot go from Return_Approved",
    )

    # a failed pickup may be retried
    pf = await seller.return_picked(oid, "R1", failed=True, reason="buyer not at home")
    assert fstate(pf["message"]["order"], "R1") == "Return_Pick_Failed"
    await refused(seller.return_qc(oid, "R1", "passed"), "needs the item picked up")
    await seller.return_picked(oid, "R1")
    # QC outcome and state must agree
    await refused(
        seller.advance(
            oid, "Return_Failed", fulfillment_id="R1", details={"qc": "passed"}
        ),
        "ends the return as Return_Delivered",
    )
    # past ttl_reverseqc (P3D from pickup) a QC may pass but not fail
    clock.tick(4 * 86400)
    await refused(seller.return_qc(oid, "R1", "failed"), "window closed")
    late = await seller.return_qc(oid, "R1", "passed")
    out = tags_of(ret_f(late["message"]["order"]), "reverseqc_output")[0]
    assert out["within_ttl"] == "no" and out["result"] == "passed"
    assert total(late["message"]["order"]) == total(placed) - Decimal("600.00")
    await refused(seller.return_qc(oid, "R1", "passed"), "Return_Picked")
    await refused(
        seller.advance(oid, "Return_Picked", fulfillment_id="R1"), "final"
    )

    # a pickup that is given up: no refund, and the unit may be asked for again
    assert (await buyer.request_return("I1", 1, return_id="R2")).error is None
    await seller.approve_return(oid, "R2")
    await seller.return_picked(oid, "R2", failed=True)
    gave_up = await seller.advance(oid, "Return_Failed", fulfillment_id="R2")
    o = gave_up["message"]["order"]
    assert fstate(o, "R2") == "Return_Failed" and not tags_of(ret_f(o, "R2"), "reverseqc_output")
    assert total(o) == total(placed) - Decimal("600.00")
    assert (await buyer.request_return("I1", 2, return_id="R3")).error is None
    assert await stock_of(pg_db, "I1") == 18  # 20 - 3 ordered + 1 returned through QC


def admin_app(db: Database) -> FastAPI:
    app = FastAPI()
    app.state.settings = node_settings().model_copy(update={"admin_api_key": SecretStr(KEY)})
    app.state.db = db
    app.include_router(router)
    return app


async def test_admin_api_return_actions(pg_db) -> None:
    await seed(pg_db)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock), Seller(pg_db, clock)
    await delivered(buyer, seller, [("I1", 2)])
    assert (await buyer.request_return("I1", 1)).error is None
    assert (await buyer.request_return("I1", 1, return_id="R2")).error is None
    transport = httpx.ASGITransport(app=admin_app(pg_db))
    h = {"X-API-Key": KEY}
    base = f"/admin/orders/{buyer.order_id}/returns"
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        assert (await client.post(f"{base}/R1/approve")).status_code == 401
        bad = await client.post(f"{base}/R1/reject", headers=h, json={"reason_code": "42"})
        assert bad.status_code == 409 and bad.json()["detail"]["code"] == "30005"
        early = await client.post(f"{base}/R1/qc", headers=h, json={"result": "passed"})
        assert early.status_code == 409
        junk = await client.post(f"{base}/R1/qc", headers=h, json={"result": "meh"})
        assert junk.status_code == 422
        ok = await client.post(f"{base}/R1/approve", headers=h)
        assert ok.status_code == 200, ok.text
        assert ok.json()["sent"][0]["action"] == "on_update"
        picked = await client.post(f"{base}/R1/picked", headers=h, json={"agent_name": "Ravi"})
        assert picked.status_code == 200, picked.text
        qc = await client.post(
            f"{base}/R1/qc", headers=h, json={"result": "passed", "remarks": "ok"}
        )
        assert qc.status_code == 200, qc.text
        r1 = ret_f(qc.json()["order"])
        assert r1["state"]["descriptor"]["code"] == "Return_Delivered"
        assert tags_of(r1, "quote_trail")[0]["value"] == "-600.00"
        rej = await client.post(
            f"{base}/R2/reject", headers=h, json={"reason_code": "001", "remarks": "blurry"}
        )
        assert rej.status_code == 200, rej.text
        r2 = ret_f(rej.json()["order"], "R2")
        assert tags_of(r2, "return_rejection")[0]["reason_id"] == "001"
        liq = await client.post(f"{base}/R2/liquidate", headers=h)
        assert liq.status_code == 409 and "final" in liq.json()["detail"]["reason"]
        # the generic advance endpoint takes the return details too
        assert (await buyer.request_return("I1", 1, return_id="R3")).error is None
        adv = await client.post(
            f"/admin/orders/{buyer.order_id}/advance", headers=h,
            json={"state": "Return_Rejected", "fulfillment_id": "R3", "reason_code": "005"},
        )
        assert adv.status_code == 200, adv.text
    assert await stock_of(pg_db, "I1") == 19


async def test_bad_ttl_reverseqc_is_an_invalid_return_request(pg_db) -> None:
    await seed(pg_db)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock), Seller(pg_db, clock)
    await delivered(buyer, seller, [("I1", 1)])
    ex = await buyer.request_return("I1", 1, ttl_reverseqc="three days")
    assert ex.error["code"] == "30005" and "ttl_reverseqc" in ex.error["message"]
    assert (await buyer.request_return("I1", 1, ttl_reverseqc=None)).error is None
    await seller.approve_return(buyer.order_id, "R1")
    picked = await seller.return_picked(buyer.order_id, "R1")
    # no ttl_reverseqc: no QC deadline, so a QC is never late
    qc_in = tags_of(ret_f(picked["message"]["order"]), "reverseqc_input")[0]
    assert "due_by" not in qc_in and "ttl_reverseqc" not in qc_in
    clock.tick(30 * 86400)
    failed = await seller.return_qc(buyer.order_id, "R1", "failed")
    out = tags_of(ret_f(failed["message"]["order"]), "reverseqc_output")[0]
    assert out["within_ttl"] == "yes"


def test_cli_moves_a_return_on_sqlite(tmp_path: Path, monkeypatch) -> None:
    """``orders advance ORDER STATE --fulfillment R1`` drives the pickup path; the CLI has no
    way to pass a rejection reason code yet, so a rejection through it is refused."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    monkeypatch.setenv("ONDC_DATABASE_URL", url)
    monkeypatch.setenv("ONDC_SUBSCRIBER_ID", "seller.example.com")
    monkeypatch.setenv("ONDC_BPP_URI", "https://seller.example.com/ondc")

    async def prepare() -> str:
        db = Database(url)
        await db.migrate()
        await seed(db)
        clock = Clock()
        buyer, seller = Buyer(db, clock), Seller(db, clock)
        await delivered(buyer, seller, [("I1", 2)])
        assert (await buyer.request_return("I1", 1)).error is None
        assert (await buyer.request_return("I1", 1, return_id="R2")).error is None
        await db.dispose()
        return buyer.order_id

    async def stock() -> int:
        db = Database(url)
        try:
            return await stock_of(db, "I1")
        finally:
            await db.dispose()

    order_id = asyncio.run(prepare())
    runner = CliRunner()
    for state in ("Return_Approved", "Return_Picked", "Return_Delivered"):
        r = runner.invoke(cli_app, ["orders", "advance", order_id, state, "--fulfillment", "R1"])
        assert r.exit_code == 0, r.output
        assert "on_update" in r.output
    assert asyncio.run(stock()) == 19
    rej = runner.invoke(
        cli_app, ["orders", "advance", order_id, "Return_Rejected", "--fulfillment", "R2"]
    )
    assert rej.exit_code == 3 and "rejection reason code" in rej.output
    rej = runner.invoke(cli_app, ["orders", "advance", order_id, "Return_Rejected",
                                  "--fulfillment", "R2", "--reason-code", "002"])
    assert rej.exit_code == 0, rej.output
    assert asyncio.run(stock()) == 19  # a rejected return gives nothing back
    shown = json.loads(runner.invoke(cli_app, ["orders", "show", order_id]).output)
    assert next(f for f in shown["order"]["fulfillments"] if f["id"] == "R2")["state"][
        "descriptor"]["code"] == "Return_Rejected"
    r1 = ret_f(shown["order"])
    assert r1["state"]["descriptor"]["code"] == "Return_Delivered"
    assert tags_of(r1, "quote_trail")[0]["value"] == "-600.00"
