"""Kit for retail 1.2.5 tests after the order: a 1.2.5 order confirmed (deferred acceptance,
tracking on), the seller moving it, and the validator bundle of everything said."""

from __future__ import annotations

from typing import Any

from offers125_kit import bundle_of, buyer_125, select_125
from order_flowkit import Buyer, Seller

from ondc_adapter.lvu.after_rules_125 import AFTER_RULES_125
from ondc_adapter.lvu.findings import Bundle, Finding
from ondc_adapter.lvu.flows_125 import STATUS_STATE
from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.storage import Database

KEY_OF_STATE = {state: key for key, state in STATUS_STATE.items() if state != "Cancelled"}


async def confirmed_125(
    db: Database, routing: str = "P2P"
) -> tuple[Buyer, Seller, list[dict[str, Any]]]:
    """A 1.2.5 order confirmed in state Created, then accepted (on_status_pending), by a seller
    whose terms name ``routing`` (on_confirm's routing tag, and the states it allows)."""
    buyer = await buyer_125(db, [], policy=OrderPolicy(offer_gifts_as_validator=True,
                                                       tracking=True, auto_accept=False,
                                                       routing=routing))
    assert (await select_125(buyer, [("I1", 1)])).error is None
    assert (await buyer.init()).error is None
    assert (await buyer.confirm()).error is None
    seller = Seller(db, buyer.clock)
    pushes = [await seller.accept(buyer.order_id)]
    return buyer, seller, pushes


def bundle_125(buyer: Buyer, pushes: list[dict[str, Any]], flow: str = "2") -> Bundle:
    """The validator's bundle: the buyer's exchanges, then each push under its on_status key
    (by the Delivery's state) or its action."""
    bundle = bundle_of(buyer, flow)
    for push in pushes:
        action = push["context"]["action"]
        if action == "on_status":
            order = push["message"]["order"]
            delivery = next(f for f in order["fulfillments"] if f["type"] == "Delivery")
            state = delivery["state"]["descriptor"]["code"]
            key = ("on_status_rto_delivered/disposed" if order["state"] == "Cancelled"
                   else KEY_OF_STATE[state])
            bundle.payload[key] = push
        else:
            bundle.payload[action] = push
    return bundle


def after_findings(bundle: Bundle) -> list[Finding]:
    return [f for rule in AFTER_RULES_125 for f in rule(bundle)]
