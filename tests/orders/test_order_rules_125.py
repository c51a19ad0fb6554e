"""Each ported retail 1.2.5 order rule (lvu/order_rules_125.py) fires on a bundle broken for
it, and says nothing of the clean bundle the node produced."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from offers125_kit import DELIVERY, DISCOUNT, bundle_of, buyer_125, findings, select_125

from ondc_adapter.lvu import validate_bundle
from ondc_adapter.lvu.findings import Bundle
from ondc_adapter.lvu.order_rules_125 import compare_quotes
from ondc_adapter.storage import Database


async def clean_bundle(db: Database) -> Bundle:
    buyer = await buyer_125(db, [DISCOUNT, DELIVERY])
    # flat100 chosen; del50 is neither chosen nor auto
    sel = await select_125(buyer, [("I1", 1)], ["flat100"])
    assert sel.error is None
    assert (await buyer.init()).error is None
    assert (await buyer.confirm()).error is None
    bundle = bundle_of(buyer)
    assert findings(bundle) == []
    return bundle


def order(bundle: Bundle, key: str) -> dict[str, Any]:
    return bundle.payload[key]["message"]["order"]


def offer_line(bundle: Bundle, key: str) -> dict[str, Any]:
    return next(b for b in order(bundle, key)["quote"]["breakup"]
                if b["@ondc/org/title_type"] == "offer")


def _unknown_offer(b: Bundle) -> None:
    order(b, "select")["offers"][0]["id"] = "nosuch"


def _not_applied(b: Bundle) -> None:
    order(b, "select")["offers"][0]["tags"][0]["list"][0]["value"] = "no"


def _bad_title_type(b: Bundle) -> None:
    order(b, "on_select")["quote"]["breakup"][1]["@ondc/org/title_type"] = "bogus"


def _no_delivery_line(b: Bundle) -> None:
    quote = order(b, "on_select")["quote"]
    quote["breakup"] = [x for x in quote["breakup"] if x["@ondc/org/title_type"] != "delivery"]


def _positive_offer(b: Bundle) -> None:
    offer_line(b, "on_select")["price"]["value"] = "100.00"


def _wrong_discount(b: Bundle) -> None:
    offer_line(b, "on_select")["price"]["value"] = "-90.00"


def _not_auto(b: Bundle) -> None:
    del order(b, "select")["offers"]


def _init_collected_by_bap(b: Bundle) -> None:
    order(b, "on_init")["payment"]["collected_by"] = "BAP"


def _init_quote_changed(b: Bundle) -> None:
    offer_line(b, "on_init")["title"] = "another title"


def _init_delivery_tags(b: Bundle) -> None:
    order(b, "on_init")["fulfillments"][0]["tags"] = [{"code": "x", "list": []}]


def _confirm_settlement(b: Bundle) -> None:
    payment = order(b, "confirm")["payment"]
    first = payment["@ondc/org/settlement_details"][0]
    payment["@ondc/org/settlement_details"] = [{**first, "upi_address": "x@upi"}]


def _confirm_quantity(b: Bundle) -> None:
    order(b, "confirm")["quote"]["breakup"][0]["item"]["quantity"] = {"count": 1}


def _on_confirm_terms(b: Bundle) -> None:
    order(b, "on_confirm")["cancellation_terms"] = [{"fulfillment_state": {"descriptor": {
        "code": "Pending"}}, "cancellation_fee": {"percentage": "0.00"}}]


def _on_confirm_provider_id(b: Bundle) -> None:
    del order(b, "on_confirm")["fulfillments"][0]["provider_id"]


def _on_confirm_quote(b: Bundle) -> None:
    offer_line(b, "on_confirm")["price"]["value"] = "-99.00"


BREAKS: list[tuple[str, Callable[[Bundle], None]]] = [
    ("select.offers", _unknown_offer),
    ("select.offers", _not_applied),
    ("on_select.quote", _bad_title_type),
    ("on_select.quote", _no_delivery_line),
    ("on_select.offers", _positive_offer),
    ("on_select.offers", _wrong_discount),
    ("on_select.offers", _not_auto),
    ("on_init.terms", _init_collected_by_bap),
    ("on_init.terms", _init_quote_changed),
    ("on_init.terms", _init_delivery_tags),
    ("confirm.request", _confirm_settlement),
    ("confirm.request", _confirm_quantity),
    ("on_confirm.order", _on_confirm_terms),
    ("on_confirm.order", _on_confirm_provider_id),
    ("on_confirm.order", _on_confirm_quote),
]


@pytest.mark.parametrize(("name", "brk"), BREAKS, ids=[b.__name__.strip("_") for _, b in BREAKS])
async def test_rule_fires(each_db: Database, name: str, brk: Callable[[Bundle], None]) -> None:
    bundle = copy.deepcopy(await clean_bundle(each_db))
    brk(bundle)
    assert name in {f.rule for f in findings(bundle)}


async def test_flow_01e_needs_cancellation_terms_in_on_init(each_db: Database) -> None:
    bundle = await clean_bundle(each_db)
    assert findings(bundle) == []  # the node sends none ("not enabled yet")
    bundle.flow = "01E"
    assert {f.rule for f in findings(bundle)} == {"on_init.terms"}


def test_compare_quotes_is_compareQuoteObjects() -> None:
    line = {"@ondc/org/item_id": "I1", "@ondc/org/title_type": "item", "price": {"value": "1"}}
    quote = {"price": {"value": "1"}, "breakup": [line], "ttl": "P1D"}
    assert compare_quotes(quote, quote, "on_select", "on_init") == []
    short = {"breakup": [line]}
    assert compare_quotes(quote, short, "a", "b") == ["Root level properties mismatch"]
    other = {**quote, "breakup": [{**line, "price": {"value": "2"}}]}
    assert len(compare_quotes(quote, other, "a", "b")) == 1


async def test_the_bundle_goes_through_the_125_driver(each_db: Database) -> None:
    """validate_bundle runs ORDER_RULES_125 for a 1.2.5 bundle (flow 0091: its cancel keys
    are missing here, nothing else the order rules say)."""
    bundle = await clean_bundle(each_db)
    data = {"domain": bundle.domain, "version": "1.2.5", "flow": "0091", "bap_id": bundle.bap_id,
            "bpp_id": bundle.bpp_id, "payload": bundle.payload}
    rules = {f.rule for f in validate_bundle(data)}
    assert not rules & {"select.offers", "on_select.offers", "on_select.quote",
                        "on_init.terms", "confirm.request", "on_confirm.order"}
