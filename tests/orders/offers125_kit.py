"""Kit for retail 1.2.5 order tests with offers: the offers a seller defines, a buyer app that
speaks 1.2.5 (with ``order.offers`` in select), and the validator bundle of its transaction
(on_search with the items and offers, then select to on_confirm as sent)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from order_flowkit import Buyer, Clock, seed

from ondc_adapter.lvu.findings import Bundle, Finding
from ondc_adapter.lvu.order_rules_125 import ORDER_RULES_125
from ondc_adapter.offers import Offer, load_offer
from ondc_adapter.offers.render import catalog_offer
from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.storage import Database

ITEMS = {
    "I1": {"price": "500.00", "stock": 20},
    "I2": {"price": "250.00", "stock": 20},
    "I3": {"price": "100.00", "stock": 20},
    "I4": {"price": "200.00", "stock": 5},
    "I5": {"price": "100.00", "stock": 20},
}
FROM = datetime(2026, 11, 1, tzinfo=UTC)
TO = datetime(2026, 12, 31, tzinfo=UTC)


def offer(offer_id: str, kind: str, *, additive: bool = False, auto: bool = False,
          **fields: Any) -> Offer:
    return load_offer({"id": offer_id, "provider_id": "P1", "type": kind, "valid_from": FROM,
                       "valid_to": TO, "additive": additive, "auto": auto,
                       "benefit": fields.pop("benefit", {}), **fields})


# one offer of each type, each passing ONDC's 1.2.5 on_select checks as ported
DISCOUNT = offer("flat100", "discount", benefit={"amount_paise": 10000},
                 qualifier={"min_value_paise": 15900})
FREEBIE = offer("free1", "freebie", auto=True,
                benefit={"item_id": "I4", "item_count": 1, "item_value_paise": 20000})
BUY_X_GET_Y = offer("b2g1", "buyXgetY", item_ids=("I2",), qualifier={"item_count": 2},
                    benefit={"item_id": "I2", "item_count": 1, "item_value_paise": 0})
SLAB = offer("slab1", "slab", item_ids=("I3",), qualifier={"item_count": 3},
             benefit={"percent": "10", "cap_paise": 10000})
COMBO = offer("combo1", "combo", item_ids=("I1",), qualifier={"item_ids": ("I5",)},
              benefit={"percent": "50", "cap_paise": 10000})
DELIVERY = offer("del50", "delivery", benefit={"amount_paise": 5000})


async def source_of(offers: Sequence[Offer]) -> Any:
    async def source(_session: Any, provider_id: str, _at: datetime) -> list[Offer]:
        return [o for o in offers if o.provider_id == provider_id]

    return source


async def buyer_125(db: Database, offers: Sequence[Offer], *,
                    policy: OrderPolicy | None = None, seeded: bool = True) -> Buyer:
    if seeded:
        await seed(db, items=ITEMS)
    buyer = Buyer(db, Clock(), policy=policy or OrderPolicy(offer_gifts_as_validator=True))
    buyer.core_version = "1.2.5"
    buyer.deps.extras["offer_source"] = await source_of(offers)
    buyer.offers_defined = list(offers)  # type: ignore[attr-defined]
    return buyer


async def select_125(buyer: Buyer, items: list[tuple[str, int]],
                     chosen: Sequence[str] = ()) -> Any:
    """Select with ``order.offers`` (``selection``/``apply: yes``, as select.ts wants)."""
    order: dict[str, Any] = {
        "provider": {"id": buyer.provider_id, "locations": [{"id": buyer.location_id}]},
        "items": [{"id": i, "location_id": buyer.location_id, "quantity": {"count": n}}
                  for i, n in items],
        "fulfillments": [{"end": buyer.end()}],
    }
    if chosen:
        order["offers"] = [
            {"id": o, "tags": [{"code": "selection", "list": [{"code": "apply",
                                                               "value": "yes"}]}]}
            for o in chosen
        ]
    ex = await buyer.send("select", {"order": order})
    buyer.on_select = ex.reply
    return ex


def on_search(buyer: Buyer) -> dict[str, Any]:
    offers: list[Offer] = buyer.offers_defined  # type: ignore[attr-defined]
    return {
        "context": buyer.context("on_search"),
        "message": {"catalog": {"bpp/providers": [{
            "id": "P1",
            "items": [{"id": i, "price": {"currency": "INR", "value": spec["price"]},
                       "quantity": {"available": {"count": "99"}, "maximum": {"count": "10"}}}
                      for i, spec in ITEMS.items()],
            "offers": [catalog_offer(o, location_ids=["L1"], item_ids=list(ITEMS))
                       for o in offers],
        }]}},
    }


def bundle_of(buyer: Buyer, flow: str = "0091") -> Bundle:
    payload: dict[str, Any] = {"on_search_full_catalog_refresh": on_search(buyer)}
    for ex in buyer.log:
        action = ex.request["context"]["action"]
        payload[action] = ex.request
        payload[f"on_{action}"] = ex.reply
    return Bundle.of({"domain": "ONDC:RET16", "version": "1.2.5", "flow": flow,
                      "bap_id": "buyer.example.com", "bpp_id": "seller.example.com",
                      "payload": payload})


def findings(bundle: Bundle) -> list[Finding]:
    return [f for rule in ORDER_RULES_125 for f in rule(bundle)]
