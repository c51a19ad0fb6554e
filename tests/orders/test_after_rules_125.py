"""Each ported retail 1.2.5 after-order rule group (lvu/after_rules_125.py) fires on a bundle
broken for it; the clean bundles the node produced (a P2P order to delivery with track, a
buyer cancel) say nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from after125_kit import after_findings, bundle_125, confirmed_125

from ondc_adapter.lvu.findings import Bundle
from ondc_adapter.storage import Database

# At-delivery left out: onStatusAtDelivery.ts refuses it as written (test_after_125)
PATH = ["Packed", "Agent-assigned", "At-pickup", "Order-picked-up", "Order-delivered"]


async def delivered_bundle(db: Database) -> Bundle:
    buyer, seller, pushes = await confirmed_125(db)
    for state in PATH:
        pushes.append(await seller.advance(buyer.order_id, state))
        if state == "Order-picked-up":
            track = await buyer.track()
    bundle = bundle_125(buyer, pushes, "2")
    bundle.payload["track"], bundle.payload["on_track"] = track.request, track.reply
    assert after_findings(bundle) == []
    return bundle


async def cancelled_bundle(db: Database) -> Bundle:
    buyer, seller, pushes = await confirmed_125(db)
    pushes.append(await seller.advance(buyer.order_id, "Packed"))
    assert (await buyer.cancel("010")).error is None
    bundle = bundle_125(buyer, pushes, "4")
    assert after_findings(bundle) == []
    return bundle


def order(bundle: Bundle, key: str) -> dict[str, Any]:
    return bundle.payload[key]["message"]["order"]


def delivery(bundle: Bundle, key: str) -> dict[str, Any]:
    return next(f for f in order(bundle, key)["fulfillments"] if f["type"] == "Delivery")


def _order_state(b: Bundle) -> None:
    order(b, "on_status_packed")["state"] = "Accepted"


def _wrong_state(b: Bundle) -> None:
    delivery(b, "on_status_agent_assigned")["state"]["descriptor"]["code"] = "Packed"


def _no_routing(b: Bundle) -> None:
    f = delivery(b, "on_status_at_pickup")
    f["tags"] = [t for t in f["tags"] if t["code"] != "routing"]


def _routing_mismatch(b: Bundle) -> None:
    f = delivery(b, "on_status_agent_assigned")
    f["tags"] = [t for t in f["tags"] if t["code"] != "routing"] + [
        {"code": "routing", "list": [{"code": "type", "value": "P2H2P"}]}]


def _no_state_stamp(b: Bundle) -> None:
    del delivery(b, "on_status_at_pickup")["@ondc/org/state_updated_at"]


def _updated_at_back(b: Bundle) -> None:
    order(b, "on_status_at_pickup")["updated_at"] = order(b, "on_status_packed")["updated_at"]


def _no_pickup_time(b: Bundle) -> None:
    del delivery(b, "on_status_picked")["start"]["time"]["timestamp"]


def _cod(b: Bundle) -> None:
    b.flow = "012"  # the order is prepaid: COD's checks refuse its PAID status


def _track_shape(b: Bundle) -> None:
    del b.payload["on_track"]["message"]["tracking"]["location"]


def _track_txn(b: Bundle) -> None:
    b.payload["track"]["context"]["transaction_id"] = "other"


DELIVERED: list[tuple[str, Callable[[Bundle], None]]] = [
    ("on_status_125.order", _order_state),
    ("on_status_125.fulfillment_state", _wrong_state),
    ("on_status_125.routing_tag", _no_routing),
    ("on_status_125.routing_tag", _routing_mismatch),
    ("on_status_125.progress", _no_state_stamp),
    ("on_status_125.progress", _updated_at_back),
    ("on_status_125.timestamps", _no_pickup_time),
    ("on_status_125.cod_payment", _cod),
    ("on_track_125.tracking", _track_shape),
    ("track_125.request", _track_txn),
]


def _cancel_reason(b: Bundle) -> None:
    b.payload["cancel"]["message"]["cancellation_reason_id"] = "052"


def _on_cancel_terms(b: Bundle) -> None:
    order(b, "on_cancel")["cancellation_terms"] = []


def _on_cancel_routing(b: Bundle) -> None:
    delivery(b, "on_cancel").setdefault("tags", []).append(
        {"code": "routing", "list": [{"code": "type", "value": "P2P"}]})


def _rto_missing(b: Bundle) -> None:
    b.flow = "5"


CANCELLED: list[tuple[str, Callable[[Bundle], None]]] = [
    ("cancel_125.request", _cancel_reason),
    ("on_cancel_125.order", _on_cancel_terms),
    ("on_cancel_125.order", _on_cancel_routing),
    ("on_cancel_125.rto", _rto_missing),
]


@pytest.mark.parametrize(("name", "brk"), DELIVERED, ids=[b.__name__ for _, b in DELIVERED])
async def test_status_rule_fires(
    each_db: Database, name: str, brk: Callable[[Bundle], None]
) -> None:
    bundle = copy.deepcopy(await delivered_bundle(each_db))
    brk(bundle)
    assert name in {f.rule for f in after_findings(bundle)}


@pytest.mark.parametrize(("name", "brk"), CANCELLED, ids=[b.__name__ for _, b in CANCELLED])
async def test_cancel_rule_fires(
    each_db: Database, name: str, brk: Callable[[Bundle], None]
) -> None:
    bundle = copy.deepcopy(await cancelled_bundle(each_db))
    brk(bundle)
    assert name in {f.rule for f in after_findings(bundle)}


async def test_a_state_the_routing_forbids_is_not_checked(each_db: Database) -> None:
    """As the driver does: a P2P bundle's In-transit status (which the node never sends) is
    dropped before any checker sees it."""
    bundle = await delivered_bundle(each_db)
    bundle.payload["on_status_in_transit"] = copy.deepcopy(bundle.payload["on_status_packed"])
    assert all(f.key != "on_status_in_transit" for f in after_findings(bundle))


async def test_cod_delivered_is_paid_with_its_time(each_db: Database) -> None:
    """onStatusDelivered.ts, flow 012: the delivered on_status says PAID and when."""
    bundle = copy.deepcopy(await delivered_bundle(each_db))
    bundle.flow = "012"

    def delivered_paths() -> set[str]:
        return {f.path for f in after_findings(bundle)
                if f.rule == "on_status_125.cod_payment" and f.key == "on_status_delivered"}

    payment = order(bundle, "on_status_delivered")["payment"]
    payment["status"] = "NOT-PAID"
    payment.pop("time", None)
    assert delivered_paths() == {"message.order.payment.status", "message.order.payment.time"}
    payment["status"] = "PAID"
    payment["time"] = {"timestamp": order(bundle, "on_status_delivered")["updated_at"]}
    assert delivered_paths() == set()
