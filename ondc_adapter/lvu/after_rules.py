"""Rules after on_confirm: on_status (``utils/Retail/Status/*``), cancel and on_cancel
(``utils/Retail/Cancel/*``, ``schema/Retail/Cancel/*``) and catalog_rejection
(``utils/Retail/Catalog_Rejection/catalogRejection.ts``); flow 6's part cancel, returns and
settlements are in ``update_rules``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import Bundle, rule, tag_list, when
from ondc_adapter.lvu.update_rules import UPDATE_RULES

# on_status key -> (order state, Delivery fulfillment state code or None: not checked)
STATUS_KEYS: dict[str, tuple[str, str | None]] = {
    "on_status_pending": ("Accepted", None),
    "on_status_packed": ("In-progress", None),
    "on_status_picked": ("In-progress", "Order-picked-up"),
    "on_status_out_for_delivery": ("In-progress", "Out-for-delivery"),
    "on_status_delivered": ("Completed", "Order-delivered"),
}
ROUTED = ("on_status_picked", "on_status_out_for_delivery", "on_status_delivered")
BUYER_CANCEL_REASONS = {"001", "003", "006", "009", "010"}


def _delivery(order: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in order.get("fulfillments") or [] if f.get("type") == "Delivery"), None)


@rule("on_status.state", "utils/Retail/Status/onStatus*.ts")
def on_status_state(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    confirmed = bundle.order("on_confirm")
    for key, (state, code) in STATUS_KEYS.items():
        order = bundle.order(key)
        if not order:
            continue
        if key == "on_status_pending" and confirmed.get("state") == "Accepted":
            yield key, "", ("When the onConfirm Order State is 'Accepted', the on_status_pending "
                            "is not required!")
        if order.get("state") != state:
            yield key, "message.order.state", f'order/state should be "{state}" for /{key}'
        if confirmed and order.get("id") != confirmed.get("id"):
            yield key, "message.order.id", f"Order id in /confirm and /{key} do not match"
        confirm = bundle.order("confirm")
        if confirm and order.get("created_at") != confirm.get("created_at"):
            yield key, "message.order.created_at", (
                f"Created At timestamp for /{key} should be equal to context timestamp at confirm")
        ctx_time = when((bundle.get(key) or {}).get("context", {}).get("timestamp"))
        updated = when(order.get("updated_at"))
        if ctx_time and updated and updated > ctx_time:
            yield key, "message.order.updated_at", (
                f" order.updated_at timestamp should be less than or eqaul to  context timestamp "
                f"for /{key} api")
        delivery = _delivery(order)
        if delivery is None:
            yield key, "message.order.fulfillments", (
                f"Delivery fullfillment must be present in {key}")
            continue
        got = ((delivery.get("state") or {}).get("descriptor") or {}).get("code")
        if code is not None and got != code:
            yield key, "message.order.fulfillments.state", (
                f"fulfillments/state should be {code} for /{key}")
        if key in ROUTED:
            routing = tag_list(delivery.get("tags"), "routing") or {}
            if routing.get("type") not in ("P2P", "P2H2P"):
                yield key, "message.order.fulfillments.tags", (
                    f"RoutingTagListType Value is mandatory in RoutingTag of Delivery Object for "
                    f"{key} and should be equal to 'P2P' or 'P2H2P'")
        started = ((delivery.get("start") or {}).get("time") or {}).get("timestamp")
        if key in ("on_status_picked", "on_status_out_for_delivery") and not started:
            yield key, "message.order.fulfillments.start.time.timestamp", (
                    "picked timestamp is missing")
        if key == "on_status_delivered":
            start = when(((delivery.get("start") or {}).get("time") or {}).get("timestamp"))
            end = when(((delivery.get("end") or {}).get("time") or {}).get("timestamp"))
            if end is None:
                yield key, "message.order.fulfillments.end.time.timestamp", (
                    "delivery timestamp is missing")
            elif start is not None and end <= start:
                yield key, "message.order.fulfillments.end.time.timestamp", (
                    "delivery timestamp (/end/time/timestamp) can't be less than or equal to the "
                    "pickup timestamp (start/time/timestamp)")


@rule("cancel.request", "utils/Retail/Cancel/cancel.ts")
def cancel_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    payload = bundle.get("cancel")
    if not payload:
        return
    message = payload.get("message") or {}
    if message.get("cancellation_reason_id") not in BUYER_CANCEL_REASONS:
        yield "cancel", "message.cancellation_reason_id", (
            "Cancellation reason id is not a valid reason id (buyer app initiated)")
    if message.get("order_id") != bundle.order("confirm").get("id"):
        yield "cancel", "message.order_id", "Order Id in /cancel and /confirm do not match"


@rule("on_cancel.order", "utils/Retail/Cancel/onCancel.ts; schema/Retail/Cancel/on_cancel.ts")
def on_cancel_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    order = bundle.order("on_cancel")
    if not order:
        return
    key = "on_cancel"
    for extra in ("tags", "documents", "cancellation_terms"):
        if extra in order:
            yield key, "message.order", (
                f"/message/order must NOT have additional properties ({extra})")
    if order.get("state") != "Cancelled":
        yield key, "message.order.state", "order.state should be Cancelled"
    cancel = (bundle.get("cancel") or {}).get("message") or {}
    reason = ((order.get("cancellation") or {}).get("reason") or {}).get("id")
    if cancel and reason != cancel.get("cancellation_reason_id"):
        yield key, "message.order.cancellation.reason.id", (
            "reason_id is different in cancellation object of /on_cancel from /cancel")
    delivery = _delivery(order)
    if delivery is None:
        yield key, "message.order.fulfillments", "Delivery fulfillment object is mandatory"
        return
    code = ((delivery.get("state") or {}).get("descriptor") or {}).get("code")
    if bundle.flow == "4" and code != "Cancelled":
        yield key, "message.order.fulfillments.state", (
            "Delivery state should be Cancelled for on_cancel")
    request = tag_list(delivery.get("tags"), "cancel_request")
    if request is None:
        yield key, "message.order.fulfillments.tags", (
            "Cancel Request is mandatory for on_cancel in fulfillment type delivery")
    else:
        for needed in ("reason_id", "initiated_by"):
            if needed not in request:
                yield key, "message.order.fulfillments.tags", f"{needed} is mandatory for on_cancel"
    before = tag_list(delivery.get("tags"), "precancel_state")
    if before is None:
        yield key, "message.order.fulfillments.tags", "Pre Cancel is mandatory for on_cancel"
    elif bundle.flow == "4":
        confirmed = bundle.order("on_confirm").get("updated_at")
        if confirmed and before.get("updated_at") != confirmed:
            yield key, "message.order.fulfillments.tags", (
                "precancel_state.updated_at of on_cancel is not equal with the on_confirm "
                "order.updated_at")
    if bundle.flow == "4" and not any(
        f.get("type") == "Cancel" for f in order.get("fulfillments") or []
    ):
        yield key, "message.order.fulfillments", "fulfillment type cancel is missing in /on_cancel"


@rule("on_cancel.rto", "utils/Retail/Cancel/onCancel.ts (flow 5)")
def on_cancel_rto(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Merchant RTO (flow 5): the RTO fulfillment carries the parcel from the buyer back to
    the store, and the Delivery's cancel_request names it."""
    order = bundle.order("on_cancel")
    if bundle.flow != "5" or not order:
        return
    key = "on_cancel"
    delivery = _delivery(order) or {}
    rto = next((f for f in order.get("fulfillments") or [] if f.get("type") == "RTO"), None)
    if rto is None:
        yield key, "message.order.fulfillments", "RTO object is mandatory for on_cancel"
        return
    code = ((rto.get("state") or {}).get("descriptor") or {}).get("code")
    if code not in ("RTO-Initiated", "RTO-Delivered", "RTO-Disposed"):
        yield key, "message.order.fulfillments.state", (
            "Delivery state should be one of ['RTO-Initiated','RTO-Approved','RTO-Completed'] "
            "for on_cancel")
    if code == "RTO-Initiated" and (rto.get("end") or {}).get("time"):
        yield key, "message.order.fulfillments.end.time", (
            "fulfillment type rto end/time should not be present in /on_cancel when "
            "state/desc/code is RTO-Initiated")
    for side in ("start", "end"):
        if not (rto.get(side) or {}).get("location"):
            yield key, f"message.order.fulfillments.{side}.location", (
                f"fulfillment type rto {side}/location is missing in /on_cancel")
    start = ((rto.get("start") or {}).get("location") or {}).get("address")
    end = ((rto.get("end") or {}).get("location") or {}).get("address")
    if start != ((delivery.get("end") or {}).get("location") or {}).get("address"):
        yield key, "message.order.fulfillments.start.location.address", (
            "RTO start location should be the Delivery end location")
    if end != ((delivery.get("start") or {}).get("location") or {}).get("address"):
        yield key, "message.order.fulfillments.end.location.address", (
            "RTO end location should be the Delivery start location")
    if "rto_id" not in (tag_list(delivery.get("tags"), "cancel_request") or {}):
        yield key, "message.order.fulfillments.tags", "RTO Id is mandatory field for on_cancel"


@rule("catalog_rejection.errors", "utils/Retail/Catalog_Rejection/catalogRejection.ts")
def catalog_rejection(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    from ondc_adapter.catalogue.rejections import rejection_codes

    payload = bundle.get("catalog_rejection")
    if not payload:
        return
    errors = payload.get("errors") or []
    if not errors:
        yield "catalog_rejection", "errors", "/context, /errors is missing or empty"
    codes = rejection_codes()
    for n, error in enumerate(errors):
        known = codes.get(str(error.get("code")))
        if known is None or known["message"] != error.get("message"):
            yield "catalog_rejection", f"errors[{n}].message", (
                "Catalog rejection error message doesn't matches with the provided error.message "
                f"code: {error.get('code')}")
        if known is None or known["type"] != error.get("type"):
            yield "catalog_rejection", f"errors[{n}].type", (
                "Catalog rejection error message doesn't matches with the provided error.type "
                f"code: {error.get('code')}")
    if bundle.flow == "9" and (payload.get("context") or {}).get("city") != "*":
        yield "catalog_rejection", "context.city", (
            'context/city should be "*" while sending search_inc_catalog request')


AFTER_RULES = (on_status_state, cancel_request, on_cancel_order, on_cancel_rto,
               catalog_rejection, *UPDATE_RULES)
