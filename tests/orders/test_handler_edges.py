"""Handler answers off the happy path: bad bodies, unknown orders, deferred acceptance,
quote tampering, tracking, support, fulfillment updates."""

from __future__ import annotations

import json

from order_flowkit import Buyer, Clock, Seller, seed, stock_of

from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.orders.service import IllegalTransition


async def test_unparseable_messages_get_an_error_callback_not_an_exception(pg_db) -> None:
    await seed(pg_db)
    buyer = Buyer(pg_db, Clock())
    for action, message in [
        ("select", {"order": {"provider": {"id": "P1"}, "items": []}}),
        ("init", {"order": {"items": "lots"}}),
        ("confirm", {"order": {"id": ""}}),
        ("status", {}),
        ("cancel", {"order_id": "O1"}),
        ("update", {"update_target": "item"}),
        ("rating", {"ratings": []}),
    ]:
        ex = await buyer._send_with_context(
            buyer.context(action), message, check_request=False
        )
        assert ex.error is not None and ex.error["code"] == "30000", (action, ex.error)
        assert ex.error["type"] == "JSON-SCHEMA-ERROR"
        assert ex.error["path"].startswith("message")


async def test_unknown_provider_order_and_reference(pg_db) -> None:
    await seed(pg_db)
    buyer = Buyer(pg_db, Clock(), provider_id="P9")
    sel = await buyer.select([("I1", 1)])
    assert sel.error["code"] == "30001" and sel.reply["message"] == {}
    for ex in (await buyer.status(), await buyer.track(), await buyer.cancel("001"),
               await buyer.support()):
        assert ex.error["code"] == "30018"


async def test_deferred_acceptance(pg_db) -> None:
    await seed(pg_db)
    clock = Clock()
    buyer = Buyer(pg_db, clock, policy=OrderPolicy(auto_accept=False))
    seller = Seller(pg_db, clock)
    await buyer.select([("I1", 1)])
    await buyer.init()
    con = await buyer.confirm()
    assert con.order["state"] == "Created"
    try:
        await seller.advance(buyer.order_id, "Packed")
    except IllegalTransition as exc:
        assert "accept" in exc.reason
    else:  # pragma: no cover
        raise AssertionError("advance before accept must be refused")
    push = await seller.accept(buyer.order_id)
    assert push["context"]["action"] == "on_status"
    assert push["message"]["order"]["state"] == "Accepted"
    push = await seller.advance(buyer.order_id, "Packed")
    assert push["message"]["order"]["state"] == "In-progress"


async def test_tampered_quote_or_items_at_confirm_create_nothing(pg_db) -> None:
    await seed(pg_db)
    buyer = Buyer(pg_db, Clock())
    await buyer.select([("I1", 2)])
    await buyer.init()
    order = buyer.confirm_order()
    cheap = json.loads(json.dumps(order).replace('"1200.00"', '"12.00"'))
    ex = await buyer.confirm(cheap)
    assert ex.error["code"] == "40008"
    more = json.loads(json.dumps(buyer.confirm_order()))  # a copy: the kit keeps on_init
    more["items"][0]["quantity"]["count"] = 3
    ex = await buyer.confirm(more)
    assert ex.error["code"] == "40007"
    assert await stock_of(pg_db, "I1") == 20
    fresh = Buyer(pg_db, Clock())
    fresh.on_init = buyer.on_init
    ex = await fresh.confirm(buyer.confirm_order())  # no init in this transaction
    assert ex.error["code"] == "40003"
    ok = await buyer.confirm()
    assert ok.error is None


async def test_price_change_between_select_and_init_is_reported(pg_db) -> None:
    from sqlalchemy import update

    from ondc_adapter.catalogue.tables import Item

    await seed(pg_db)
    buyer = Buyer(pg_db, Clock())
    await buyer.select([("I1", 1)])
    async with pg_db.session() as s:
        await s.execute(update(Item).where(Item.id == "I1").values(price=650, mrp=650))
    ini = await buyer.init()
    assert ini.error["code"] == "40008"
    assert ini.order["quote"]["breakup"][0]["price"]["value"] == "650.00"


async def test_tracking_support_and_delivery_instructions(pg_db) -> None:
    await seed(pg_db)
    clock = Clock()
    buyer = Buyer(pg_db, clock, policy=OrderPolicy(tracking=True))
    seller = Seller(pg_db, clock)
    await buyer.select([("I1", 1)])
    await buyer.init()
    await buyer.confirm()
    trk = await buyer.track()
    assert trk.error is None
    assert trk.reply["message"]["tracking"]["status"] == "inactive"
    await seller.advance(buyer.order_id, "Packed")
    await seller.advance(buyer.order_id, "Order-picked-up")
    trk = await buyer.track()
    assert trk.reply["message"]["tracking"]["status"] == "active"
    sup = await buyer.support()
    assert sup.reply["message"]["email"] == "care@artisans.example"
    upd = await buyer.send("update", {"update_target": "fulfillment", "order": {
        "id": buyer.order_id,
        "fulfillments": [{"id": "F1", "end": {"instructions": {"short_desc": "ring twice"}}}],
    }})
    assert upd.error["code"] == "50002"  # already picked up


async def test_cod_needs_cod_items(pg_db) -> None:
    await seed(pg_db, items={"I1": {"cod": False}, "I2": {"cod": True}})
    buyer = Buyer(pg_db, Clock())
    for item, expected in (("I1", "40004"), ("I2", None)):
        ex = await buyer.send("select", {"order": {
            "provider": {"id": "P1", "locations": [{"id": "L1"}]},
            "items": [{"id": item, "quantity": {"count": 1}}],
            "payment": {"type": "ON-FULFILLMENT"},
        }})
        assert (ex.error or {}).get("code") == expected


async def test_confirmation_failure_cancels_with_998(pg_db) -> None:
    from order_flowkit import payloads

    from ondc_adapter.orders import service

    await seed(pg_db)
    clock = Clock()
    buyer, seller = Buyer(pg_db, clock), Seller(pg_db, clock)
    await buyer.select([("I1", 2)])
    await buyer.init()
    await buyer.confirm()
    assert await stock_of(pg_db, "I1") == 18
    async with pg_db.session() as s:
        out = await service.confirmation_failure(
            s, seller.settings, buyer.order_id, now=clock.tick()
        )
    (push,) = payloads(out.messages)
    assert push["context"]["action"] == "on_cancel"
    assert push["message"]["order"]["cancellation"]["reason"]["id"] == "998"
    assert await stock_of(pg_db, "I1") == 20
