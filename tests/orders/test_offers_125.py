"""Retail 1.2.5 select -> on_confirm with offers (issue 16): each offer type's quote is the sum
of its breakup, carried unchanged from on_select to on_init to on_confirm, and the
transaction's bundle passes the ported 1.2.5 order rules (ORDER_RULES_125)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from offers125_kit import (
    BUY_X_GET_Y,
    COMBO,
    DELIVERY,
    DISCOUNT,
    FREEBIE,
    SLAB,
    bundle_of,
    buyer_125,
    findings,
    offer,
    select_125,
)
from order_flowkit import breakup_sum, order_row, stock_of

from ondc_adapter.offers import Offer
from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.storage import Database


def offer_lines(quote: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["@ondc/org/item_id"]: b for b in quote["breakup"]
            if b["@ondc/org/title_type"] == "offer"}


def without_quantity(quote: dict[str, Any]) -> dict[str, Any]:
    out = dict(quote)
    out["breakup"] = [
        {**b, "item": {k: v for k, v in b["item"].items() if k != "quantity"}}
        if b["@ondc/org/title_type"] == "item" else b
        for b in quote["breakup"]
    ]
    return out


CASES = [
    # offer, items, chosen, expected offer line, quote price
    (DISCOUNT, [("I1", 1)], ["flat100"], "-100.00", "450.00"),
    (FREEBIE, [("I1", 1)], [], "-200.00", "350.00"),
    (BUY_X_GET_Y, [("I2", 2)], ["b2g1"], "-250.00", "300.00"),
    (SLAB, [("I3", 4)], ["slab1"], "-40.00", "410.00"),
    (COMBO, [("I1", 1), ("I5", 1)], ["combo1"], "-100.00", "550.00"),
    (DELIVERY, [("I1", 1)], ["del50"], "-50.00", "500.00"),
]


@pytest.mark.parametrize(("defined", "items", "chosen", "line", "price"), CASES,
                         ids=[c[0].type.value for c in CASES])
async def test_each_offer_type_select_to_confirm_passes_the_125_rules(
    each_db: Database, defined: Offer, items: list[tuple[str, int]], chosen: list[str],
    line: str, price: str,
) -> None:
    buyer = await buyer_125(each_db, [defined])
    sel = await select_125(buyer, items, chosen)
    assert sel.error is None, sel.error
    quote = sel.order["quote"]
    assert offer_lines(quote)[defined.id]["price"]["value"] == line
    assert quote["price"]["value"] == price
    assert breakup_sum(quote) == Decimal(price)
    ini = await buyer.init()
    assert ini.error is None, ini.error
    assert ini.order["quote"] == without_quantity(quote)
    con = await buyer.confirm()
    assert con.error is None, con.error
    assert con.order["quote"] == ini.order["quote"]
    assert breakup_sum(con.order["quote"]) == Decimal(con.order["quote"]["price"]["value"])
    assert findings(bundle_of(buyer)) == []


async def test_gift_units_leave_the_stock_with_the_order(each_db: Database) -> None:
    buyer = await buyer_125(each_db, [FREEBIE])
    await select_125(buyer, [("I1", 1)])
    await buyer.init()
    con = await buyer.confirm()
    assert con.error is None
    assert await stock_of(each_db, "I4") == 4 and await stock_of(each_db, "I1") == 19


async def test_spec_gift_lines_by_default(each_db: Database) -> None:
    """Without the certification switch a freebie is the spec's 0.00 line: the buyer pays
    the cart, gets the unit, and ONDC's on_select checker flags the line."""
    buyer = await buyer_125(each_db, [FREEBIE], policy=OrderPolicy())
    sel = await select_125(buyer, [("I1", 1)])
    assert offer_lines(sel.order["quote"])["free1"]["price"]["value"] == "0.00"
    assert sel.order["quote"]["price"]["value"] == "550.00"
    assert offer_lines(sel.order["quote"])["free1"]["@ondc/org/item_quantity"] == {"count": 1}
    assert {f.rule for f in findings(bundle_of(buyer))} == {"on_select.offers"}


async def test_additive_offers_combine_and_the_total_is_exact(each_db: Database) -> None:
    pct = offer("disc12", "discount", additive=True, auto=True,
                benefit={"percent": "12.5", "cap_paise": 100000})
    flat = offer("flat20", "discount", additive=True, auto=True,
                 benefit={"amount_paise": 2000})
    buyer = await buyer_125(each_db, [pct, flat])
    sel = await select_125(buyer, [("I3", 1), ("I5", 1)])
    lines = offer_lines(sel.order["quote"])
    # 12.5 % of 200.00 = 25.00; then 20.00 of what is left
    assert lines["disc12"]["price"]["value"] == "-25.00"
    assert lines["flat20"]["price"]["value"] == "-20.00"
    assert sel.order["quote"]["price"]["value"] == "205.00"
    await buyer.init()
    assert (await buyer.confirm()).error is None
    assert findings(bundle_of(buyer)) == []


async def test_a_declined_auto_offer_leaves_the_quote(each_db: Database) -> None:
    buyer = await buyer_125(each_db, [FREEBIE])
    await select_125(buyer, [("I1", 1)])
    ex = await buyer.send("init", {"order": {
        **(await _init_order(buyer)),
        "offers": [{"id": "free1", "tags": [{"code": "selection",
                                              "list": [{"code": "apply", "value": "no"}]}]}],
    }})
    # the buyer's own decline: a new quote, no error (ONDC's validator, comparing on_init's
    # quote with on_select's, flags it all the same)
    assert offer_lines(ex.order["quote"]) == {}
    assert ex.order["quote"]["price"]["value"] == "550.00"
    assert ex.error is None
    assert {f.rule for f in findings(bundle_of(buyer))} == {"on_init.terms"}


async def _init_order(buyer: Any) -> dict[str, Any]:
    return {
        "provider": {"id": "P1", "locations": [{"id": "L1"}]},
        "items": [{"id": i, "location_id": "L1", "fulfillment_id": "F1",
                   "quantity": {"count": n}} for i, n in buyer.selected_items()],
        "billing": buyer.billing(),
        "fulfillments": [{"id": "F1", "type": "Delivery", "end": buyer.end(True)}],
        "payment": {"type": "ON-ORDER", "collected_by": "BAP",
                    "@ondc/org/buyer_app_finder_fee_type": "percent",
                    "@ondc/org/buyer_app_finder_fee_amount": "3"},
    }


async def test_refusals_30006_and_30007(each_db: Database) -> None:
    scarce = offer("free9", "freebie", benefit={"item_id": "I4", "item_count": 9,
                                                "item_value_paise": 20000})
    buyer = await buyer_125(each_db, [scarce])
    unknown = await select_125(buyer, [("I1", 1)], ["nosuch"])
    assert unknown.error is not None and unknown.error["code"] == "30006"
    assert offer_lines(unknown.order["quote"]) == {}
    short = await select_125(buyer, [("I1", 1)], ["free9"])
    assert short.error is not None and short.error["code"] == "30007"


async def test_an_offer_expired_by_confirm_cancels(each_db: Database) -> None:
    buyer = await buyer_125(each_db, [DISCOUNT])
    await select_125(buyer, [("I1", 1)], ["flat100"])
    await buyer.init()
    buyer.deps.extras["offer_source"] = _none
    con = await buyer.confirm()
    assert con.error is not None and con.error["code"] == "30006"
    assert con.order["state"] == "Cancelled"


async def _none(*_: Any) -> list[Offer]:
    return []


async def test_what_else_differs_in_125(each_db: Database) -> None:
    buyer = await buyer_125(each_db, [])
    await select_125(buyer, [("I1", 1)])
    ini = await buyer.init()
    assert "cancellation_terms" not in ini.order  # "not enabled yet" (orders/retail125.py)
    assert "collected_by" not in ini.order["payment"]
    con = await buyer.confirm()
    (delivery,) = con.order["fulfillments"]
    assert {"code": "routing", "list": [{"code": "type", "value": "P2P"}]} in delivery["tags"]
    assert delivery["provider_id"] == "P1"
    assert "cancellation_terms" not in con.order
    record = await order_row(each_db, buyer.order_id)
    assert record.core_version == "1.2.5"
    assert findings(bundle_of(buyer, flow="2")) == []


async def test_cod_on_init_settlement_window_as_hours(each_db: Database) -> None:
    from ondc_adapter.orders.retail125 import hours_or_minutes, on_init_payment

    assert hours_or_minutes("P1D") == "PT24H" and hours_or_minutes("PT90S") == "PT1M"
    paid = on_init_payment({"collected_by": "BPP", "@ondc/org/settlement_window": "P1D"})
    assert paid["@ondc/org/settlement_window"] == "PT24H"


async def test_offers_come_from_the_offer_store(each_db: Database) -> None:
    """No offer_source: the seller's stored offers (enabled, valid now) are applied."""
    from ondc_adapter.catalogue.offer_store import OfferInput, put_offer, set_enabled

    buyer = await buyer_125(each_db, [DISCOUNT])
    del buyer.deps.extras["offer_source"]
    async with each_db.session() as session:
        await put_offer(session, OfferInput(DISCOUNT), now=buyer.clock())
    sel = await select_125(buyer, [("I1", 1)], ["flat100"])
    assert sel.error is None and sel.order["quote"]["price"]["value"] == "450.00"
    await buyer.init()
    async with each_db.session() as session:
        await set_enabled(session, "P1", "flat100", False, now=buyer.clock())
    con = await buyer.confirm()  # switched off since: no longer valid
    assert con.error is not None and con.error["code"] == "30006"


async def test_a_120_transaction_never_sees_offers(each_db: Database) -> None:
    """The same seller, an auto offer defined: a 1.2.0 transaction's quote and order have no
    offer line, no cancellation_terms, no routing tag (1.2.0's bytes)."""
    buyer = await buyer_125(each_db, [FREEBIE])
    buyer.core_version = "1.2.0"

    async def refuse(*_: Any) -> list[Offer]:
        raise AssertionError("1.2.0 must not read offers")

    buyer.deps.extras["offer_source"] = refuse
    sel = await buyer.select([("I1", 1)])
    assert offer_lines(sel.order["quote"]) == {}
    assert sel.order["quote"]["price"]["value"] == "550.00"
    ini = await buyer.init()
    assert "cancellation_terms" not in ini.order and ini.order["payment"]["collected_by"] == "BAP"
    con = await buyer.confirm()
    assert "tags" not in con.order["fulfillments"][0]
    assert "provider_id" not in con.order["fulfillments"][0]
