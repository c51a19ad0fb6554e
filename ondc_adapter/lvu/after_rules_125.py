"""Retail 1.2.5 rules after the order: on_status by routing (``utils/Retail_.1.2.5/Status/*``
with ``common/statusValidationHelpers.ts`` and ``common/routingValidator.ts``), track and
on_track (``Track/*``, ``schema/Retail_1.2.5/Track/on_track.ts``), cancel and on_cancel
(``Cancel/*``, ``schema/Retail_1.2.5/Cancel/onCancel.ts``). Messages are the validator's.

What differs from 1.2.0 (``after_rules``): the new fulfillment states each have a checker that
wants the routing tag on every fulfillment (the order's routing from on_confirm), the state the
key names, a routing that allows it, ``@ondc/org/state_updated_at`` never going back, and
``order.updated_at`` never going back; on_track has a schema of its own; the on_cancel schema
closes the order's and the fulfillment tags' vocabularies.

Not ported: anything reading the search/select state the checkers keep (city, transaction ids,
message ids, tracking flags of on_select, time ranges against on_confirm), ``checkContext`` and
the JSON schemas beyond what is named below, on_cancel's quote_trail and offer arithmetic
(``checkQuoteTrail``/``checkQuoteTrailSum``: see ``cancel_rules``), ``mapCancellationID``
(utils/index.ts, not read), flow 017's provider credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import Bundle, rule, tag_list, when
from ondc_adapter.lvu.flows_125 import (
    FLOW_KEYS_125,
    ROUTING_STATES,
    STATE_TRANSITIONS,
    STATUS_STATE,
    routing_of,
)

SRC_STATUS = "utils/Retail_.1.2.5/Status/onStatus*.ts"
SRC_HELPERS = "utils/Retail_.1.2.5/common/statusValidationHelpers.ts"
SRC_TRACK = "utils/Retail_.1.2.5/Track/onTrack.ts; schema/Retail_1.2.5/Track/on_track.ts"
SRC_CANCEL = "utils/Retail_.1.2.5/Cancel/cancel.ts"
SRC_ON_CANCEL = "utils/Retail_.1.2.5/Cancel/onCancel.ts; schema/Retail_1.2.5/Cancel/onCancel.ts"
# The checkers written for 1.2.5's new states, with common/statusValidationHelpers.ts
# (onStatusAgentAssigned.ts, onStatusInTransit.ts and onStatusDeliveryFailed.ts read; At-pickup,
# Out-for-pickup, Pickup-failed and At-destination-hub import the same helpers and are taken
# to do as Agent-assigned and In-transit do: not read)
NEW_STATE_KEYS = ("on_status_agent_assigned", "on_status_at_pickup", "on_status_out_for_pickup",
                  "on_status_pickup_failed", "on_status_in_transit",
                  "on_status_at_destination_hub", "on_status_delivery_failed")
# onStatusDeliveryFailed.ts checks neither the routing tag nor order.updated_at
HELPER_CHECKED = tuple(k for k in NEW_STATE_KEYS if k != "on_status_delivery_failed")
# The checkers of 1.2.0's shape: the routing tag on the Delivery object. onStatusAtDelivery.ts
# (3e081ee1) is a copy of the Out-for-delivery checker: it wants a Delivery in state
# Out-for-delivery, so every on_status_at_delivery is refused as written (an upstream bug:
# a P2P seller certifying leaves At-delivery out, the state being optional).
ROUTED_DELIVERY_KEYS = ("on_status_picked", "on_status_at_delivery", "on_status_out_for_delivery",
                        "on_status_delivered")
ROUTING_ENUMS = ("P2P", "P2H2P")
# buyerCancellationRid: the code both stored copies take ({001, 003, 006, 009, 010} and
# {051, 052, 053, 999, 010}; sandbox/builders_125.py)
BUYER_CANCEL_REASONS = frozenset({"010"})
ON_CANCEL_ORDER_KEYS = frozenset({"id", "state", "provider", "items", "billing", "cancellation",
                                  "fulfillments", "quote", "payment", "created_at",
                                  "updated_at"})
ON_CANCEL_TAG_CODES = frozenset({"cancel_request", "igm_request", "precancel_state",
                                 "quote_trail"})
ON_CANCEL_STATES = frozenset({"Cancelled", "RTO-Initiated"})


def _state(f: dict[str, Any]) -> str | None:
    return ((f.get("state") or {}).get("descriptor") or {}).get("code")


def _delivery(order: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in order.get("fulfillments") or [] if f.get("type") == "Delivery"), None)


def _ctx_time(bundle: Bundle, key: str) -> Any:
    return ((bundle.get(key) or {}).get("context") or {}).get("timestamp")


def _status_keys(bundle: Bundle) -> list[str]:
    """The on_status keys of the bundle in the flow's order (the order they are checked in)."""
    order = FLOW_KEYS_125.get(bundle.flow) or tuple(STATUS_STATE)
    routing = routing_of(bundle)
    # the driver never hands a state the order's routing forbids to its checker
    forbidden = ROUTING_STATES[routing]["forbidden"] if routing else frozenset()
    return [k for k in order if k.startswith("on_status_") and k in bundle.payload
            and k != "on_status_rto_delivered/disposed" and STATUS_STATE[k] not in forbidden]


def _order_state(key: str) -> str:
    if key == "on_status_pending":
        return "Accepted"
    return "Completed" if key == "on_status_delivered" else "In-progress"


@rule("on_status_125.order", SRC_STATUS)
def on_status_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Order state, id and timestamps of every on_status (all checkers)."""
    confirmed = bundle.order("on_confirm")
    confirm = bundle.order("confirm")
    for key in _status_keys(bundle):
        order = bundle.order(key)
        state = STATUS_STATE[key]
        if key == "on_status_pending" and confirmed.get("state") == "Accepted":
            yield key, "", ("When the onConfirm Order State is 'Accepted', the on_status_pending "
                            "is not required!")
        if order.get("state") != _order_state(key):
            yield key, "message.order.state", (
                f"order/state should be \"{_order_state(key)}\" for /on_status_{state}")
        if confirmed and order.get("id") != confirmed.get("id"):
            yield key, "message.order.id", (
                f"Order id in /confirm and /on_status_{state} do not match")
        if confirm and order.get("created_at") != confirm.get("created_at"):
            yield key, "message.order.created_at", (
                f"Created At timestamp for /on_status_{state} should be equal to context "
                "timestamp at confirm")
        ctx, updated = when(_ctx_time(bundle, key)), when(order.get("updated_at"))
        if ctx and updated and updated > ctx:
            yield key, "message.order.updated_at", (
                f" order.updated_at timestamp should be less than or eqaul to  context timestamp "
                f"for /on_status_{state} api")


@rule("on_status_125.fulfillment_state", SRC_STATUS + "; common/routingValidator.ts")
def on_status_fulfillment_state(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Each key's state on the Delivery (new-state checkers: on every fulfillment), and a
    state the order's routing forbids."""
    routing = routing_of(bundle)
    for key in _status_keys(bundle):
        order = bundle.order(key)
        expected = STATUS_STATE[key]
        if key in NEW_STATE_KEYS:
            if key == "on_status_in_transit" and routing and routing != "P2H2P":
                yield key, "", (f"/on_status_In-transit is only valid for P2H2P routing, but "
                                f"current routing is {routing}")
                continue
            for f in order.get("fulfillments") or []:
                code = _state(f)
                if not code:
                    yield key, "message.order.fulfillments.state", (
                        f"Fulfillment state descriptor is missing for /on_status_{expected}")
                elif code != expected:
                    yield key, "message.order.fulfillments.state", (
                        f"Fulfillment state should be '{expected}' for /on_status_{expected} "
                        f"but found '{code}'")
                if routing and code in ROUTING_STATES[routing]["forbidden"]:
                    yield key, "message.order.fulfillments.state", (
                        f"Fulfillment state '{code}' is not allowed for {routing} routing")
            continue
        delivery = _delivery(order)
        if delivery is None:
            yield key, "message.order.fulfillments", f"Delivery object is mandatory for {key}"
            continue
        if key in ("on_status_picked", "on_status_out_for_delivery", "on_status_delivered") and (
            _state(delivery) != expected
        ):
            yield key, "message.order.fulfillments.state", (
                f"fulfillments/state should be {expected} for /on_status_{expected}")
        if key == "on_status_at_delivery" and _state(delivery) != "Out-for-delivery":
            yield key, "message.order.fulfillments.state", (
                "fulfillments/state Should be At-delivery for /on_status_Out-for-delivery")


@rule("on_status_125.routing_tag", SRC_HELPERS + " validateRoutingTagStructure; "
      "Status/onStatus{Picked,OutForDelivery,Delivered,AtDelivery}.ts")
def on_status_routing_tag(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The routing tag: on every fulfillment of a new-state on_status, matching on_confirm's;
    on the Delivery of on_status_picked / out_for_delivery / delivered."""
    routing = routing_of(bundle)
    for key in _status_keys(bundle):
        order = bundle.order(key)
        api = f"/on_status_{STATUS_STATE[key]}"
        if key in HELPER_CHECKED:
            expected = routing or ("P2H2P" if key == "on_status_in_transit" else None)
            for f in order.get("fulfillments") or []:
                yield from ((key, "message.order.fulfillments.tags", m)
                            for m in _routing_structure(f, expected, api))
        elif key in ROUTED_DELIVERY_KEYS:
            delivery = _delivery(order) or {}
            value = (tag_list(delivery.get("tags"), "routing") or {}).get("type")
            if value not in ROUTING_ENUMS:
                yield key, "message.order.fulfillments.tags", (
                    f"RoutingTagListType Value is mandatory in RoutingTag of Delivery Object for "
                    f"{key} and should be equal to 'P2P' or 'P2H2P'")


def _routing_structure(f: dict[str, Any], expected: str | None, api: str) -> Iterator[str]:
    tags = f.get("tags")
    if not isinstance(tags, list):
        yield f"Routing tags are required in fulfillment for {api}"
        return
    routing = tag_list(tags, "routing")
    if routing is None:
        yield f"Routing tag with code 'routing' not found in fulfillment tags for {api}"
        return
    value = routing.get("type")
    if value is None:
        yield f"Routing type tag with code 'type' not found in routing tag list for {api}"
    elif value not in ROUTING_ENUMS:
        yield (f"Invalid routing type '{value}' in {api}. Must be one of: "
               f"{', '.join(ROUTING_ENUMS)}")
    elif expected and value != expected:
        yield f"Routing type mismatch in {api}. Expected: {expected}, Found: {value}"


@rule("on_status_125.progress", SRC_HELPERS + " validateOrderUpdatedAt, validateStateTransition; "
      "Status/onStatus{AgentAssigned,InTransit,DeliveryFailed}.ts")
def on_status_progress(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Along the on_status keys: a new-state on_status has ``@ondc/org/state_updated_at`` on its
    Delivery, not before the previous one; its ``order.updated_at`` is not before the previous
    on_status's; a P2H2P In-transit comes from a state STATE_TRANSITIONS allows."""
    routing = routing_of(bundle)
    prev_updated: Any = None
    prev_stamp: Any = None
    prev_state = _state(_delivery(bundle.order("on_confirm")) or {})
    for key in _status_keys(bundle):
        order = bundle.order(key)
        api = f"/on_status_{STATUS_STATE[key]}"
        delivery = _delivery(order) or {}
        updated = order.get("updated_at")
        if key in HELPER_CHECKED:
            if not updated:
                yield key, "message.order.updated_at", f"order.updated_at is required in {api}"
            elif prev_updated and when(updated) and when(prev_updated) and (
                when(updated) < when(prev_updated)  # type: ignore[operator]
            ):
                yield key, "message.order.updated_at", (
                    f"order.updated_at timestamp should be greater than or equal to previous "
                    f"updated_at in {api}")
        if key in NEW_STATE_KEYS:
            stamp = delivery.get("@ondc/org/state_updated_at")
            if not stamp:
                yield key, "message.order.fulfillments.@ondc/org/state_updated_at", (
                    "'@ondc/org/state_updated_at' is required for fulfillment state updates")
            elif prev_stamp and when(stamp) and when(prev_stamp) and (
                when(stamp) < when(prev_stamp)  # type: ignore[operator]
            ):
                yield key, "message.order.fulfillments.@ondc/org/state_updated_at", (
                    "'@ondc/org/state_updated_at' should be greater than or equal to the "
                    "previous state timestamp")
            current = _state(delivery)
            if (key == "on_status_in_transit" and routing == "P2H2P" and prev_state and current
                    and prev_state in STATE_TRANSITIONS
                    and current not in STATE_TRANSITIONS[prev_state]):
                allowed = ", ".join(sorted(STATE_TRANSITIONS[prev_state]))
                yield key, "message.order.fulfillments.state", (
                    f"Invalid state transition in {api}. Cannot transition from '{prev_state}' "
                    f"to '{current}'. Allowed transitions: {allowed}")
        if updated:
            prev_updated = updated
        prev_stamp = delivery.get("@ondc/org/state_updated_at") or prev_stamp
        prev_state = _state(delivery) or prev_state


@rule("on_status_125.timestamps", "Status/onStatus{Picked,OutForDelivery,Delivered}.ts")
def on_status_timestamps(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Pickup time from on_status_picked on, delivery time at on_status_delivered."""
    for key in ("on_status_picked", "on_status_out_for_delivery", "on_status_delivered"):
        order = bundle.order(key)
        delivery = _delivery(order)
        if not order or delivery is None:
            continue
        ctx = when(_ctx_time(bundle, key))
        updated = when(order.get("updated_at"))
        start = when(((delivery.get("start") or {}).get("time") or {}).get("timestamp"))
        end = when(((delivery.get("end") or {}).get("time") or {}).get("timestamp"))
        if key == "on_status_picked" and _state(delivery) == "Order-picked-up":
            if start is None:
                yield key, "message.order.fulfillments.start.time.timestamp", (
                    "picked timestamp is missing")
            elif ctx and start > ctx:
                yield key, "message.order.fulfillments.start.time.timestamp", (
                    "pickup timestamp should match context/timestamp and can't be future dated")
            elif updated and updated < start:
                yield key, "message.order.updated_at", (
                    "order/updated_at timestamp can't be less than the pickup time")
        if key == "on_status_out_for_delivery" and _state(delivery) == "Out-for-delivery" and (
            start is None
        ):
            yield key, "message.order.fulfillments.start.time.timestamp", (
                "Out_for_delivery timestamp is missing")
        if key == "on_status_delivered" and _state(delivery) == "Order-delivered":
            if end is None:
                yield key, "message.order.fulfillments.end.time.timestamp", (
                    "delivery timestamp is missing")
                continue
            if ctx and end > ctx:
                yield key, "message.order.fulfillments.end.time.timestamp", (
                    "delivery timestamp should be less than or equal to context/timestamp and "
                    "can't be future dated as this on_status is sent after the the product is "
                    "delivered")
            if start is not None and start >= end:
                yield key, "message.order.fulfillments.end.time.timestamp", (
                    "delivery timestamp (/end/time/timestamp) can't be less than or equal to the "
                    "pickup timestamp (start/time/timestamp)")
            if updated and updated < end:
                yield key, "message.order.updated_at", (
                    "order/updated_at timestamp can't be less than the delivery time")


@rule("on_status_125.cod_payment", SRC_HELPERS + " validatePaymentStatus; "
      "Status/onStatus{Packed,Picked,OutForDelivery,Delivered}.ts")
def on_status_cod_payment(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Flow 012 (cash on delivery): not paid until delivered; paid, with the time, once it is."""
    if bundle.flow != "012":
        return
    for key in _status_keys(bundle):
        payment = bundle.order(key).get("payment") or {}
        api = f"/on_status_{STATUS_STATE[key]}"
        if key == "on_status_delivered":
            if payment.get("status") == "NOT-PAID":
                yield key, "message.order.payment.status", (
                    "Payment status should be PAID for 012 flow since Item has been delivered "
                    "in this state (Cash on Delivery)")
            if not (payment.get("time") or {}).get("timestamp"):
                yield key, "message.order.payment.time", (
                    "Payment must have time with timestamp for PAID in 012 flow since Item "
                    "has been delivered in this state (Cash on Delivery)")
            continue
        if key in NEW_STATE_KEYS:
            if payment.get("status") != "NOT-PAID":
                yield key, "message.order.payment.status", (
                    f"Payment status should be 'NOT-PAID' for COD flow in {api}, but found "
                    f"'{payment.get('status')}'")
            if not (payment.get("params") or {}).get("transaction_id") and not payment.get(
                "transaction_id"
            ):
                yield key, "message.order.payment", (
                    f"Payment transaction_id is required for COD flow in {api}")
        elif key in ("on_status_packed", "on_status_picked", "on_status_out_for_delivery") and (
            payment.get("status") != "NOT-PAID"
        ):
            yield key, "message.order.payment.status", (
                "Payment status should be NOT-PAID for 012 flow (Cash on Delivery)")


@rule("on_track_125.tracking", SRC_TRACK)
def on_track_tracking(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """on_track's schema: tracking id, status, tags, and a location with gps, time and
    updated_at; the transaction is the select's."""
    payload = bundle.get("on_track")
    if not payload:
        return
    key = "on_track"
    select_txn = ((bundle.get("select") or {}).get("context") or {}).get("transaction_id")
    if select_txn and (payload.get("context") or {}).get("transaction_id") != select_txn:
        yield key, "context.transaction_id", "Transaction Id should be same from /select onwards"
    tracking = (payload.get("message") or {}).get("tracking")
    if not isinstance(tracking, dict):
        yield key, "message", "/message must have required property 'tracking'"
        return
    for needed in ("id", "location", "status", "tags"):
        if needed not in tracking:
            yield key, "message.tracking", (
                f"/message/tracking must have required property '{needed}'")
    location = tracking.get("location")
    if isinstance(location, dict):
        for needed in ("gps", "time", "updated_at"):
            if needed not in location:
                yield key, "message.tracking.location", (
                    f"/message/tracking/location must have required property '{needed}'")
        if isinstance(location.get("time"), dict) and "timestamp" not in location["time"]:
            yield key, "message.tracking.location.time", (
                "/message/tracking/location/time must have required property 'timestamp'")
    for n, tag in enumerate(tracking.get("tags") or []):
        if not isinstance(tag, dict) or "code" not in tag or "list" not in tag:
            yield key, f"message.tracking.tags[{n}]", (
                "/message/tracking/tags must have required properties 'code' and 'list'")
            continue
        for entry in tag.get("list") or []:
            if not isinstance(entry, dict) or not entry.get("code") or not entry.get("value"):
                yield key, f"message.tracking.tags[{n}].list", (
                    "/message/tracking/tags/list items need a non-empty 'code' and 'value'")


@rule("track_125.request", "utils/Retail_.1.2.5/Track/track.ts")
def track_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    payload = bundle.get("track")
    select_txn = ((bundle.get("select") or {}).get("context") or {}).get("transaction_id")
    if payload and select_txn and (payload.get("context") or {}).get(
        "transaction_id"
    ) != select_txn:
        yield "track", "context.transaction_id", (
            "Transaction Id should be same from /select onwards")


@rule("cancel_125.request", SRC_CANCEL)
def cancel_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    payload = bundle.get("cancel")
    if not payload:
        return
    message = payload.get("message") or {}
    if message.get("order_id") != bundle.order("confirm").get("id"):
        yield "cancel", "message.order_id", "Order Id in /cancel and /confirm do not match"
    if message.get("cancellation_reason_id") not in BUYER_CANCEL_REASONS:
        yield "cancel", "message.cancellation_reason_id", (
            "Cancellation reason id is not a valid reason id (buyer app initiated)")


@rule("on_cancel_125.order", SRC_ON_CANCEL)
def on_cancel_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The on_cancel order as the 1.2.5 schema closes it, and onCancel.ts's checks of it."""
    order = bundle.order("on_cancel")
    if not order:
        return
    key = "on_cancel"
    for extra in sorted(set(order) - ON_CANCEL_ORDER_KEYS):
        yield key, "message.order", f"/message/order must NOT have additional properties ({extra})"
    if order.get("state") != "Cancelled":
        yield key, "message.order.state", (
            "/message/order/state must be equal to one of the allowed values")
    confirmed = bundle.order("on_confirm")
    if confirmed and order.get("id") != confirmed.get("id"):
        yield key, "message.order.id", "Order Id mismatches in /on_cancel and /on_confirm"
    for n, f in enumerate(order.get("fulfillments") or []):
        if _state(f) not in ON_CANCEL_STATES:
            yield key, f"message.order.fulfillments[{n}].state.descriptor.code", (
                "must be equal to one of the allowed values (Cancelled, RTO-Initiated)")
        for tag in f.get("tags") or []:
            if tag.get("code") not in ON_CANCEL_TAG_CODES:
                yield key, f"message.order.fulfillments[{n}].tags", (
                    f"tag code {tag.get('code')!r} must be equal to one of the allowed values")
    cancellation = order.get("cancellation") or {}
    reason = str((cancellation.get("reason") or {}).get("id") or "")
    if len(reason) != 3:
        yield key, "message.order.cancellation.reason.id", (
            "must NOT have fewer or more than 3 characters")
    created, updated = when(order.get("created_at")), when(order.get("updated_at"))
    if created is None or updated is None:
        yield key, "message.order", (
            "order created and updated timestamps are mandatory in /on_cancel")
    elif not updated > created:
        yield key, "message.order.updated_at", (
            "order.updated_at timestamp should be greater than order.created_at timestamp")
    if bundle.flow in ("4", "0091"):
        cancel = (bundle.get("cancel") or {}).get("message") or {}
        bap_id = ((bundle.get("on_cancel") or {}).get("context") or {}).get("bap_id")
        if bundle.flow == "4" and cancellation.get("cancelled_by") != bap_id:
            yield key, "message.order.cancellation.cancelled_by", (
                "cancelled_by entity should be same as context/bap_id")
        if bundle.flow == "4" and cancel and reason != cancel.get("cancellation_reason_id"):
            yield key, "message.order.cancellation.reason.id", (
                "reason_id is different in cancellation object of /on_cancel from /cancel")
        if bundle.flow == "4" and not any(
            f.get("type") == "Cancel" for f in order.get("fulfillments") or []
        ):
            yield key, "message.order.fulfillments", (
                "fulfillment type cancel is missing in /on_cancel")


@rule("on_cancel_125.rto", SRC_ON_CANCEL + " (flow 5)")
def on_cancel_rto(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Flow 5: an RTO fulfillment, and a Delivery with its start and end in full."""
    order = bundle.order("on_cancel")
    if bundle.flow != "5" or not order:
        return
    key = "on_cancel"
    rto = [f for f in order.get("fulfillments") or [] if f.get("type") == "RTO"]
    if not rto:
        yield key, "message.order.fulfillments", "RTO object is mandatory for on_cancel"
    for f in rto:
        if _state(f) not in ("RTO-Initiated", "RTO-Delivered", "RTO-Disposed"):
            yield key, "message.order.fulfillments.state", (
                "Delivery state should be one of ['RTO-Initiated','RTO-Approved','RTO-Completed'] "
                "for on_cancel")
    delivery = _delivery(order)
    if delivery is None:
        yield key, "message.order.fulfillments", (
            "fulfillment type delivery is missing in /on_cancel")
        return
    for side in ("start", "end"):
        yield from ((key, f"message.order.fulfillments.{side}", m)
                    for m in _delivery_side(delivery.get(side), side))


@rule("on_status_125.rto", "utils/Retail_.1.2.5/Status/onStatusRTODelivered.ts")
def on_status_rto(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The on_status ending an RTO: its Delivery's start and end in full, as flow 5's
    on_cancel (the same checks, the message naming the key)."""
    key = "on_status_rto_delivered/disposed"
    order = bundle.order(key)
    if not order:
        return
    delivery = _delivery(order)
    if delivery is None:
        yield key, "message.order.fulfillments", f"fulfillment type delivery is missing in /{key}"
        return
    for side in ("start", "end"):
        yield from ((key, f"message.order.fulfillments.{side}", m)
                    for m in _delivery_side(delivery.get(side), side, key))


def _delivery_side(part: Any, side: str, api: str = "on_cancel") -> Iterator[str]:
    where, tail = f"fulfillment type delivery {side}", f"is missing in /{api}"
    if not isinstance(part, dict) or not part:
        yield f"{where} {tail}"
        return
    location = part.get("location") or {}
    if not location:
        yield f"{where}/location {tail}"
    elif side == "end":
        address = location.get("address") or {}
        if not address:
            yield f"{where}/location/address {tail}"
        for field in ("name", "building", "country"):
            if address and not address.get(field):
                yield f"{where}/location/address/{field} {tail}"
    time_range = (part.get("time") or {}).get("range") or {}
    if not part.get("time"):
        yield f"{where}/time {tail}"
    elif not time_range:
        yield f"{where}/time/range {tail}"
    else:
        for bound in ("start", "end"):
            if not time_range.get(bound):
                yield f"{where}/time/range/{bound} {tail}"
            elif when(time_range[bound]) is None:
                yield f"{where}/time/range/{bound} is not of a valid date format in /{api}"
    contact = part.get("contact") or {}
    if not contact:
        yield f"{where}/contact {tail}"
    else:
        if not contact.get("phone"):
            yield f"{where}/contact/phone {tail}"
        if not contact.get("email"):
            yield f"{where}/contact/email {tail}"
    if side == "end" and not (part.get("person") or {}).get("name"):
        yield f"{where}/person/name {tail}"


AFTER_RULES_125 = (on_status_order, on_status_fulfillment_state, on_status_routing_tag,
                   on_status_progress, on_status_timestamps, on_status_cod_payment,
                   on_status_rto, on_track_tracking, track_request, cancel_request,
                   on_cancel_order, on_cancel_rto)
