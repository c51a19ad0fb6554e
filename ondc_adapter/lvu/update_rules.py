"""Flow 6 rules (``utils/Retail/Update/onUpdate.ts``, ``utils/Retail/Update/update.ts``): the
seller's part cancel, the buyer's returns and the buyer app's refund settlements; and the shape
of a Cancel fulfillment in on_status (``schema/Retail/Status/on_status.ts``).

The validator walks flow 6's keys in order (``findings.FLOW_KEYS["6"]``) and remembers what it
has seen; these rules replay that walk: the order state the part cancel must keep, the chain of
context timestamps through a return, and the settlements every later on_update must repeat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import FLOW_KEYS, Bundle, rule, when

SRC_ON_UPDATE = "utils/Retail/Update/onUpdate.ts"
SRC_UPDATE = "utils/Retail/Update/update.ts"
STATUS_KEYS = ("on_status_pending", "on_status_packed", "on_status_picked",
               "on_status_out_for_delivery", "on_status_delivered")
PART_CANCEL = "on_update_part_cancel"
# where a return's chain of context timestamps starts (update.ts: flows 6-b and 6-c)
CHAIN_STARTS = ("update_reverse_qc", "update_liquidated")
# the on_update calls of flows 6-b and 6-c (onUpdate.ts runs its timestamp checks on these)
RETURN_ON_UPDATES = ("on_update_interim_reverse_qc", "on_update_approval", "on_update_picked",
                     "on_update_delivered", "on_update_interim_liquidated",
                     "on_update_liquidated")
# what the on_status schema requires of every fulfillment
STATUS_FULFILMENT_REQUIRED = ("id", "@ondc/org/provider_name", "type", "tracking",
                              "@ondc/org/TAT", "state", "start", "end")


def _timestamp(bundle: Bundle, key: str) -> Any:
    return ((bundle.get(key) or {}).get("context") or {}).get("timestamp")


def _after(later: Any, earlier: Any) -> bool:
    """``timeDiff(later, earlier) > 0``: the validator's timeDiff is 0 when either stamp does not
    parse, and 0 is "not after"."""
    a, b = when(later), when(earlier)
    return a is not None and b is not None and a > b


def _settlements(bundle: Bundle, key: str) -> list[Any]:
    payment = bundle.order(key).get("payment") or {}
    details = payment.get("@ondc/org/settlement_details")
    return details if isinstance(details, list) else []


@rule("on_update.part_cancel_state", SRC_ON_UPDATE + " (flow 6-a)")
def part_cancel_state(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """A part cancel changes no order state: on_update_part_cancel keeps the state the order
    had last, which in flow 6's key order is on_confirm's (on_status_pending comes after)."""
    order = bundle.order(PART_CANCEL)
    if bundle.flow != "6" or not order:
        return
    before = bundle.order("on_confirm").get("state")
    if order.get("state") != before:
        yield PART_CANCEL, "message.order.state", (
            f"order.state shouldn't be changed from {before} to {order.get('state')} in "
            f"/{PART_CANCEL}")


@rule("on_status.cancel_fulfillment", "schema/Retail/Status/on_status.ts")
def on_status_cancel(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """A Cancel fulfillment in on_status is cancelled and has every property the on_status
    schema requires of each fulfillment (id, provider name, type, tracking, TAT, state, start,
    end).

    A later stored version of that schema (``0f7c26f9``) also allows only quote_trail tags on a
    Cancel fulfillment; with the status checkers, which want the part cancel's Cancel
    fulfillment (cancel_request included) repeated unchanged, no flow 6 bundle could pass it.
    The node and this rule follow the version of the validator's own era (``22afa57b``)."""
    for key in STATUS_KEYS:
        for i, f in enumerate(bundle.order(key).get("fulfillments") or []):
            if not isinstance(f, dict) or f.get("type") != "Cancel":
                continue
            where = f"/message/order/fulfillments/{i}"
            code = ((f.get("state") or {}).get("descriptor") or {}).get("code")
            if code != "Cancelled":
                yield key, f"{where}/state/descriptor/code", (
                    f"{where}/state/descriptor/code must be equal to constant (Cancelled)")
            for name in STATUS_FULFILMENT_REQUIRED:
                if name not in f:
                    yield key, f"{where}/{name}", (
                        f"{where} must have required property '{name}'")


def _by_code(value: Any) -> Any:
    """lodash ``_.sortBy(value, ['code'])`` for a list (stable, by each entry's code)."""
    if not isinstance(value, list):
        return value
    return sorted(value, key=lambda e: str(e.get("code", "")) if isinstance(e, dict) else "")


@rule("on_status.cancel_unchanged", "utils/Retail/Status/onStatusPacked.ts, onStatusPicked.ts, "
      "onStatusOutForDelivery.ts, onStatusDelivered.ts (flow 6)")
def on_status_cancel_unchanged(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The Cancel fulfillment of the part cancel reappears unchanged in on_status packed,
    picked, out-for-delivery and delivered: every key of on_update_part_cancel's Cancel
    fulfillment (tags compared in code order).
"""
    if bundle.flow != "6":
        return
    told = [f for f in bundle.order(PART_CANCEL).get("fulfillments") or []
            if isinstance(f, dict) and f.get("type") == "Cancel"]
    for key in STATUS_KEYS[1:]:
        order = bundle.order(key)
        if not order:
            continue
        now = next((f for f in order.get("fulfillments") or []
                    if isinstance(f, dict) and f.get("type") == "Cancel"), None)
        for i, before in enumerate(told):
            if now is None:
                yield key, f"message/order.fulfillments/{i}", (
                    f"Missing fulfillment type 'Cancel' in {key} as compared to {PART_CANCEL}")
                continue
            for name, value in before.items():
                if _by_code(value) != _by_code(now.get(name)):
                    yield key, f"message/order.fulfillments/{i}/{name}", (
                        f"Mismatch occurred while comparing 'Cancel' fulfillment object with "
                        f"{PART_CANCEL} on key '{name}'")


@rule("update.timestamps", SRC_UPDATE + "; " + SRC_ON_UPDATE + " (flows 6-b, 6-c)")
def return_timestamps(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Every update and every return on_update comes after the part cancel, and a return's calls
    come one after the other in the validator's order: update_reverse_qc, its interim
    on_update, approval, picked, the buyer's settlement, delivered; update_liquidated, its
    interim on_update, liquidated, the buyer's settlement."""
    if bundle.flow != "6":
        return
    part_cancel = _timestamp(bundle, PART_CANCEL)
    previous: tuple[Any, str] | None = None
    for key in FLOW_KEYS["6"]:
        if key not in bundle.payload:
            continue
        stamp = _timestamp(bundle, key)
        is_update = key.startswith("update_")
        if not is_update and key not in RETURN_ON_UPDATES:
            continue
        path = "context.timestamp"
        if not _after(stamp, part_cancel):
            yield key, path, (f"context/timestamp of /{key} should be greater than "
                              f"/{PART_CANCEL} context/timestamp")
        if key == "update_settlement_part_cancel":
            continue  # flow 6-a: no chain
        if key in CHAIN_STARTS:
            previous = (stamp, key)
            continue
        if previous is None:
            yield key, path, ("context/timestamp of the previous call is missing or the "
                              "previous action call itself is missing")
        elif not _after(stamp, previous[0]):
            yield key, path, (f"context/timestamp of /{key} should be greater than "
                              f"context/timestamp of /{previous[1]}")
        previous = None if key == "update_settlement_liquidated" else (stamp, key)


@rule("on_update.settlement_details", SRC_UPDATE + " (settlementDetatilSet); " + SRC_ON_UPDATE)
def settlement_details(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """What was settled stays told: the first settlement of on_update_part_cancel and of each
    buyer update that carries a payment is remembered, and every later on_update (but the part
    cancel's) repeats each of them, unchanged, in payment.@ondc/org/settlement_details."""
    if bundle.flow != "6":
        return
    told: list[Any] = []
    for key in FLOW_KEYS["6"]:
        if key not in bundle.payload:
            continue
        details = _settlements(bundle, key)
        if key == PART_CANCEL or key.startswith("update_"):
            if details:
                told.append(details[0])
            continue
        if not key.startswith("on_update_"):
            continue
        for n, entry in enumerate(e for e in told if e not in details):
            yield key, f"message.order.payment.@ondc/org/settlement_details/{n}", (
                "Missing payment/@ondc/org/settlement_details as compare to the previous calls "
                f"or not captured correctly i.e. {json.dumps(entry, separators=(',', ':'))}")


UPDATE_RULES = (part_cancel_state, on_status_cancel, on_status_cancel_unchanged,
                return_timestamps, settlement_details)
