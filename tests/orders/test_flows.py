"""Certification flows 2-6 (protocol.md 4.12) for RET12 and RET16, driven through the order
handlers and the seller service on PostgreSQL. Every payload is validated against the
project's schemas by the kit; these tests check the protocol rules between payloads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from order_flowkit import (
    BPP_URI,
    Buyer,
    Clock,
    Exchange,
    Seller,
    breakup_sum,
    order_row,
    seed,
    stock_of,
)
from sqlalchemy import select

from ondc_adapter.orders.quote import commercial_terms
from ondc_adapter.orders.tables import OrderTransition
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.durations import parse_timestamp

DOMAINS = ["ONDC:RET12", "ONDC:RET16"]


def fstate(order: dict[str, Any], fid: str = "F1") -> str:
    f = next(f for f in order["fulfillments"] if f["id"] == fid)
    return f["state"]["descriptor"]["code"]


def tags_of(f: dict[str, Any], code: str) -> list[dict[str, str]]:
    tags = [t for t in f.get("tags", []) if t["code"] == code]
    return [{e["code"]: e["value"] for e in t["list"]} for t in tags]


def check_pairing(log: list[Exchange], unsolicited: list[dict[str, Any]]) -> None:
    """Replies reuse the request's message_id, arrive after it and within 5 s; unsolicited
    callbacks use message ids never seen before in the transaction."""
    seen: set[str] = set()
    for ex in log:
        req = ex.request["context"]
        rep = ex.reply["context"]
        assert rep["action"] == "on_" + req["action"]
        assert rep["message_id"] == req["message_id"]
        assert rep["transaction_id"] == req["transaction_id"]
        sent, answered = parse_timestamp(req["timestamp"]), parse_timestamp(rep["timestamp"])
        assert sent < answered
        assert (answered - sent).total_seconds() < 5
        assert rep["bpp_uri"] == BPP_URI
        seen.add(req["message_id"])
    for push in unsolicited:
        mid = push["context"]["message_id"]
        assert mid not in seen
        seen.add(mid)


def check_quote(quote: dict[str, Any]) -> None:
    assert Decimal(quote["price"]["value"]) == breakup_sum(quote)
    for line in quote["breakup"]:
        assert line["price"]["value"].count(".") == 1
        assert len(line["price"]["value"].split(".")[1]) == 2


async def confirmed(buyer: Buyer, items: list[tuple[str, int]]) -> tuple[Exchange, ...]:
    sel = await buyer.select(items)
    assert sel.error is None, sel.error
    ini = await buyer.init()
    assert ini.error is None, ini.error
    con = await buyer.confirm()
    assert con.error is None, con.error
    return sel, ini, con


@pytest.mark.parametrize("domain", DOMAINS)
async def test_flow2_order_to_delivery(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    sel, ini, con = await confirmed(buyer, [("I1", 2), ("I2", 1)])

    # on_select: serviceable, TAT, quote adds up, availability hints
    f = sel.order["fulfillments"][0]
    assert f["state"]["descriptor"]["code"] == "Serviceable"
    assert f["@ondc/org/TAT"] == "P4D"  # time_to_ship P2D + ship_to_delivery P2D
    check_quote(sel.order["quote"])
    assert sel.order["quote"]["price"]["value"] == "1599.50"  # 2x600 + 349.50 + 50 delivery
    titles = {b["@ondc/org/title_type"]: b["title"] for b in sel.order["quote"]["breakup"]}
    assert titles["delivery"] == "Delivery charges"
    assert sel.order["quote"]["breakup"][0]["item"]["quantity"]["maximum"]["count"] == "10"
    assert sel.order["provider"] == {"id": "P1", "locations": [{"id": "L1"}]}

    # on_init: quote unchanged, payment and terms present, billing echoed
    assert commercial_terms(ini.order["quote"]) == commercial_terms(sel.order["quote"])
    assert ini.order["billing"] == ini.request["message"]["order"]["billing"]
    assert ini.order["payment"]["@ondc/org/settlement_basis"] == "delivery"
    terms = {e["code"] for e in ini.order["tags"][0]["list"]}
    assert {"tax_number", "provider_tax_number"} <= terms

    # on_confirm (protocol.md 4.6)
    order = con.order
    assert order["id"] == buyer.order_id
    assert order["state"] == "Accepted"
    assert fstate(order) == "Pending"
    assert order["fulfillments"][0]["@ondc/org/TAT"] == f["@ondc/org/TAT"]
    assert order["quote"] == ini.order["quote"]
    assert commercial_terms(order["quote"]) == commercial_terms(sel.order["quote"])
    assert order["created_at"] == con.request["context"]["timestamp"]
    assert order["updated_at"] == con.reply["context"]["timestamp"]
    # retail 1.2.0: no cancellation_terms on the order, and bpp_terms as on_init's plus np_type
    assert "cancellation_terms" not in order and "cancellation_terms" not in ini.order
    [terms] = [t for t in order["tags"] if t["code"] == "bpp_terms"]
    [init_terms] = [t for t in ini.order["tags"] if t["code"] == "bpp_terms"]
    assert [e for e in terms["list"] if e["code"] != "np_type"] == init_terms["list"]
    assert order["payment"] == con.request["message"]["order"]["payment"]
    start = order["fulfillments"][0]["start"]
    assert start["location"]["id"] == "L1" and start["contact"]["phone"] == "9876543210"
    assert await stock_of(pg_db, "I1") == 18 and await stock_of(pg_db, "I2") == 19

    st = await buyer.status()
    assert st.order["state"] == "Accepted" and st.order["quote"] == order["quote"]

    pushes = []
    expected = {
        "Packed": "In-progress",
        "Agent-assigned": "In-progress",
        "Order-picked-up": "In-progress",
        "Out-for-delivery": "In-progress",
        "Order-delivered": "Completed",
    }
    for state, order_state in expected.items():
        push = await seller.advance(buyer.order_id, state)
        pushes.append(push)
        assert push["context"]["action"] == "on_status"
        o = push["message"]["order"]
        assert fstate(o) == state and o["state"] == order_state
        assert o["created_at"] == order["created_at"]
        assert parse_timestamp(o["updated_at"]) <= parse_timestamp(push["context"]["timestamp"])
        fwd = o["fulfillments"][0]
        if state in ("Order-picked-up", "Out-for-delivery", "Order-delivered"):
            assert "timestamp" in fwd["start"]["time"]
            assert o["documents"][0]["label"] == "Invoice"
    assert "timestamp" in pushes[-1]["message"]["order"]["fulfillments"][0]["end"]["time"]

    # nothing moves after delivery, and the buyer can no longer cancel
    async with pg_db.session() as s:
        from ondc_adapter.orders import service

        with pytest.raises(service.IllegalTransition):
            await service.advance(s, seller.settings, buyer.order_id, "Packed", now=clock())
    late = await buyer.cancel("001")
    assert late.error["code"] == "50001"

    trk = await buyer.track()
    assert trk.error["code"] == "40005"
    sup = await buyer.support()
    assert sup.reply["message"]["phone"] == "9876543210"
    rate = await buyer.rate("Order", buyer.order_id, 5)
    assert rate.reply["message"] == {"feedback_ack": False, "rating_ack": True}
    bad = await buyer.rate("Order", buyer.order_id, 6)
    assert bad.error["code"] == "30015"
    other = await buyer.rate("Weather", buyer.order_id, 3)
    assert other.error["code"] == "50003"

    check_pairing(buyer.log, pushes)
    row = await order_row(pg_db, buyer.order_id)
    async with pg_db.session() as s:
        journal = (
            await s.scalars(
                select(OrderTransition)
                .where(OrderTransition.order_pk == row.id)
                .order_by(OrderTransition.id)
            )
        ).all()
    forward = [(t.from_state, t.to_state) for t in journal if t.entity == "fulfillment"]
    assert forward == [
        (None, "Pending"),
        ("Pending", "Packed"),
        ("Packed", "Agent-assigned"),
        ("Agent-assigned", "Order-picked-up"),
        ("Order-picked-up", "Out-for-delivery"),
        ("Out-for-delivery", "Order-delivered"),
    ]
    assert {t.actor for t in journal} == {"buyer", "seller", "system"}
    # every unsolicited callback is in the outbox, waiting for the dispatcher
    async with pg_db.session() as s:
        actions = (
            await s.scalars(select(OutboxEntry.action).where(OutboxEntry.solicited.is_(False)))
        ).all()
    assert actions.count("on_status") == 5


@pytest.mark.parametrize("domain", DOMAINS)
async def test_flow3_out_of_stock_then_order(pg_db, domain: str) -> None:
    await seed(
        pg_db,
        domain=domain,
        items={"I1": {"price": "600.00", "stock": 5}, "I2": {"price": "349.50", "stock": 1}},
    )
    clock = Clock()
    buyer = Buyer(pg_db, clock, domain=domain)
    sel = await buyer.select([("I1", 2), ("I2", 3)])
    assert sel.error["code"] == "40002" and sel.error["type"] == "DOMAIN-ERROR"
    assert sel.error["message"] == '[{"item_id":"I2","error":"40002"}]'
    lines = {b["@ondc/org/item_id"]: b for b in sel.order["quote"]["breakup"]}
    assert lines["I2"]["@ondc/org/item_quantity"]["count"] == 1
    # 3 asked, 1 left: offered 1, shown as available ("99": the count offered is there; the
    # number left is not disclosed, and the 40002 error names the short item)
    assert lines["I2"]["item"]["quantity"]["available"]["count"] == "99"
    assert lines["I1"]["item"]["quantity"]["available"]["count"] == "99"
    assert lines["I2"]["price"]["value"] == "349.50"
    check_quote(sel.order["quote"])

    # over the per-order maximum
    sel_max = await buyer.select([("I1", 11)])
    assert sel_max.error["code"] == "40002"  # stock 5 < 11 wins over max 10
    # the buyer takes what is there
    sel2 = await buyer.select([("I1", 2), ("I2", 1)])
    assert sel2.error is None
    ini = await buyer.init()
    con = await buyer.confirm()
    assert con.error is None and con.order["state"] == "Accepted"
    assert commercial_terms(con.order["quote"]) == commercial_terms(sel2.order["quote"])
    assert commercial_terms(ini.order["quote"]) == commercial_terms(sel2.order["quote"])
    assert await stock_of(pg_db, "I2") == 0
    # confirm again (a retry with a new message id): same order, nothing reserved twice
    again = await buyer.confirm()
    assert again.error is None and again.order["id"] == con.order["id"]
    assert again.order["quote"] == con.order["quote"]
    assert await stock_of(pg_db, "I1") == 3
    check_pairing(buyer.log, [])


async def test_flow3_max_quantity_and_not_serviceable(pg_db) -> None:
    await seed(
        pg_db, items={"I1": {"stock": 50, "max": 3}}, serviceability="11",
        pincodes=["751000-751099"],
    )
    buyer = Buyer(pg_db, Clock())
    sel = await buyer.select([("I1", 5)], address={"area_code": "751006"}, gps="20.30,85.82")
    assert sel.error["code"] == "40009"
    assert sel.order["quote"]["breakup"][0]["@ondc/org/item_quantity"]["count"] == 3
    far = await buyer.select([("I1", 1)])  # Bengaluru PIN, not in the list
    assert far.error == {
        "type": "DOMAIN-ERROR", "code": "30009",
        "message": "Dropoff location not serviceable by the seller",
    }
    f = far.order["fulfillments"][0]
    assert f["state"]["descriptor"]["code"] == "Non-serviceable"
    assert all(b["@ondc/org/title_type"] != "delivery" for b in far.order["quote"]["breakup"])
    check_quote(far.order["quote"])
    unknown = await buyer.select(
        [("NOPE", 1)], address={"area_code": "751006"}, gps="20.30,85.82"
    )
    assert unknown.error["code"] == "30004"


@pytest.mark.parametrize("domain", DOMAINS)
async def test_flow4_buyer_cancel(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    _, _, con = await confirmed(buyer, [("I1", 2), ("I2", 1)])
    packed = await seller.advance(buyer.order_id, "Packed")

    wrong = await buyer.cancel("005")  # a seller's reason
    assert wrong.error["code"] == "30012"
    early = await buyer.cancel("006")  # TAT not breached yet
    assert early.error["code"] == "30014"
    assert await stock_of(pg_db, "I1") == 18

    ex = await buyer.cancel("001")
    assert ex.error is None
    o = ex.order
    assert o["state"] == "Cancelled"
    assert o["cancellation"]["reason"]["id"] == "001"
    fwd = next(f for f in o["fulfillments"] if f["id"] == "F1")
    assert fwd["state"]["descriptor"]["code"] == "Cancelled"
    assert tags_of(fwd, "cancel_request") == [
        {"reason_id": "001", "initiated_by": "buyer.example.com"}
    ]
    assert tags_of(fwd, "precancel_state")[0]["fulfillment_state"] == "Packed"
    assert tags_of(fwd, "precancel_state")[0]["updated_at"] == packed["message"]["order"][
        "updated_at"
    ]
    cancel_f = next(f for f in o["fulfillments"] if f["type"] == "Cancel")
    trail = tags_of(cancel_f, "quote_trail")
    assert sum(Decimal(t["value"]) for t in trail) == Decimal(o["quote"]["price"]["value"]) - (
        Decimal(con.order["quote"]["price"]["value"])
    )
    assert all(Decimal(t["value"]) < 0 for t in trail)
    forward_items = [i for i in o["items"] if i["fulfillment_id"] == "F1"]
    assert all(i["quantity"]["count"] == 0 for i in forward_items)
    cancelled_items = {i["id"]: i["quantity"]["count"] for i in o["items"]
                       if i["fulfillment_id"] == cancel_f["id"]}
    assert cancelled_items == {"I1": 2, "I2": 1}
    assert o["quote"]["price"]["value"] == "0.00"  # nothing shipped: full refund
    check_quote(o["quote"])
    assert await stock_of(pg_db, "I1") == 20 and await stock_of(pg_db, "I2") == 20

    again = await buyer.cancel("001")
    assert again.error["code"] == "50001"
    st = await buyer.status()
    assert st.order["state"] == "Cancelled"
    check_pairing(buyer.log, [packed])


@pytest.mark.parametrize("domain", DOMAINS)
async def test_flow5_part_cancel_then_rto(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    _, _, con = await confirmed(buyer, [("I1", 2), ("I2", 1)])

    upd = await seller.part_cancel(buyer.order_id, {"I2": 1})
    assert upd["context"]["action"] == "on_update"
    o = upd["message"]["order"]
    assert o["state"] == "Accepted"
    c1 = next(f for f in o["fulfillments"] if f["type"] == "Cancel")
    assert tags_of(c1, "cancel_request") == [
        {"reason_id": "002", "initiated_by": "seller.example.com"}
    ]
    assert tags_of(c1, "quote_trail") == [
        {"type": "item", "id": "I2", "currency": "INR", "value": "-349.50"}
    ]
    assert Decimal(o["quote"]["price"]["value"]) == Decimal(
        con.order["quote"]["price"]["value"]
    ) - Decimal("349.50")
    check_quote(o["quote"])
    assert await stock_of(pg_db, "I2") == 20

    refund = await buyer.settle_refund("349.50")
    assert refund.error is None
    refunds = [
        d for d in refund.order["payment"]["@ondc/org/settlement_details"]
        if d["settlement_phase"] == "refund"
    ]
    assert refunds[0]["settlement_amount"] == "349.50"

    pushes = [upd]
    for state in ("Packed", "Order-picked-up", "Out-for-delivery"):
        pushes.append(await seller.advance(buyer.order_id, state))
    with pytest.raises(Exception, match="only RTO reasons"):
        await seller.cancel(buyer.order_id, "018")
    rto = await seller.cancel(buyer.order_id, "013")  # buyer refused delivery
    pushes.append(rto)
    assert rto["context"]["action"] == "on_cancel"
    o = rto["message"]["order"]
    assert o["state"] == "Cancelled" and fstate(o) == "Cancelled"
    assert fstate(o, "F1-RTO") == "RTO-Initiated"
    assert {i["fulfillment_id"]: i["quantity"]["count"] for i in o["items"] if i["id"] == "I1"} == {
        "F1": 0, "F1-RTO": 2,
    }
    delivery = [b for b in o["quote"]["breakup"] if b["@ondc/org/title_type"] == "delivery"]
    assert delivery[0]["price"]["value"] == "50.00"  # shipped, so delivery stays charged
    check_quote(o["quote"])
    assert await stock_of(pg_db, "I1") == 18  # the parcel is still on its way back

    back = await seller.advance(buyer.order_id, "RTO-Delivered", fulfillment_id="F1-RTO")
    pushes.append(back)
    assert back["context"]["action"] == "on_status"
    assert fstate(back["message"]["order"], "F1-RTO") == "RTO-Delivered"
    assert await stock_of(pg_db, "I1") == 20
    check_pairing(buyer.log, pushes)


@pytest.mark.parametrize("domain", DOMAINS)
async def test_flow6_return_liquidated(pg_db, domain: str) -> None:
    await seed(pg_db, domain=domain)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock, domain=domain), Seller(pg_db, clock)
    _, _, con = await confirmed(buyer, [("I1", 2)])

    early = await buyer.request_return("I1", 1)
    assert early.error["code"] == "50002"  # not delivered yet
    pushes = [
        await seller.advance(buyer.order_id, s)
        for s in ("Packed", "Order-picked-up", "Order-delivered")
    ]
    bad = await buyer.request_return("I1", 1, reason="009")
    assert bad.error["code"] == "30005"
    too_many = await buyer.request_return("I1", 3)
    assert too_many.error["code"] == "30005"

    ret = await buyer.request_return("I1", 1)
    assert ret.error is None
    o = ret.order
    assert o["state"] == "Completed"
    assert fstate(o, "R1") == "Return_Initiated"
    r1 = next(f for f in o["fulfillments"] if f["id"] == "R1")
    assert tags_of(r1, "return_request")[0]["reason_id"] == "003"

    liq = await seller.advance(buyer.order_id, "Liquidated", fulfillment_id="R1")
    pushes.append(liq)
    assert liq["context"]["action"] == "on_update"
    o = liq["message"]["order"]
    assert fstate(o, "R1") == "Liquidated" and o["state"] == "Completed"
    r1 = next(f for f in o["fulfillments"] if f["id"] == "R1")
    assert tags_of(r1, "quote_trail") == [
        {"type": "item", "id": "I1", "currency": "INR", "value": "-600.00"}
    ]
    assert Decimal(o["quote"]["price"]["value"]) == Decimal(
        con.order["quote"]["price"]["value"]
    ) - Decimal("600.00")
    check_quote(o["quote"])
    refund = await buyer.settle_refund("600.00")
    assert refund.error is None
    rated = await buyer.rate("Item", "I1", 2)
    assert rated.error is None
    check_pairing(buyer.log, pushes)
