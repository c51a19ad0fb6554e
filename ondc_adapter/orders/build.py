"""The wire ``order`` object of an order record (on_confirm, on_status, on_cancel, on_update)
and small helpers for the JSON the record keeps."""

from __future__ import annotations

from typing import Any

from ondc_adapter.orders.state import FulfillmentType, OrderState
from ondc_adapter.orders.tables import OrderRecord


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists and tuples around scalars): ``copy.deepcopy`` without
    its memo and dispatch, which cost more than anything else in building an answer. Shared
    sub-objects are copied once per place (JSON read from the database or a request never
    shares them)."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_copy(v) for v in value)
    return value


def wire_order(record: OrderRecord) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": record.order_id,
        "state": record.state,
        "provider": {"id": record.provider_id, "locations": [{"id": record.location_id}]},
        "items": json_copy(record.items),
        "billing": json_copy(record.billing),
        "fulfillments": json_copy(record.fulfillments),
        "quote": json_copy(record.quote),
        "payment": json_copy(record.payment),
    }
    if record.cancellation:
        order["cancellation"] = json_copy(record.cancellation)
    if record.cancellation_terms:
        order["cancellation_terms"] = json_copy(record.cancellation_terms)
    if record.tags:
        order["tags"] = json_copy(record.tags)
    if record.documents:
        order["documents"] = json_copy(record.documents)
    if record.state == OrderState.CREATED.value:
        # Not yet accepted: no delivery promise yet. Retail 1.2.0 gives the Delivery
        # fulfillment's start/end time ranges only once the order is Accepted (ONDC's log
        # validator refuses them on a Created on_confirm); they appear with the acceptance.
        for f in order["fulfillments"]:
            if f.get("type") == "Delivery":
                for side in ("start", "end"):
                    if isinstance(f.get(side), dict):
                        f[side].pop("time", None)
    order["created_at"] = record.created_at_text
    order["updated_at"] = record.updated_at_text
    return order


# What retail 1.2.0's on_cancel order may not carry (ONDC's log validator: the on_cancel order
# has no tags, documents or cancellation_terms).
NOT_IN_ON_CANCEL = ("tags", "documents", "cancellation_terms")


def order_message(record: OrderRecord, *, action: str | None = None) -> dict[str, Any]:
    """``{"order": ...}`` of a callback; ``action`` trims what that callback may not carry.

    A cancelled order is told in on_cancel's shape whatever the callback: ONDC's log validator
    checks the on_status that ends an RTO (RTO-Delivered / RTO-Disposed) against the on_cancel
    RTO schema, whose order admits no tags or documents (``schema/Retail/Cancel/
    on_cancel_rto.ts``). The terms and the invoice were given before the cancel."""
    order = wire_order(record)
    if action == "on_confirm":
        # retail 1.2.5 keeps the on_init's cancellation_terms with the order, but its
        # on_confirm may not carry them ("not enabled yet", ONDC's log validator); a 1.2.0
        # order has none
        order.pop("cancellation_terms", None)
    if action == "on_cancel" or record.state == OrderState.CANCELLED.value:
        for key in NOT_IN_ON_CANCEL:
            order.pop(key, None)
    return {"order": order}


def forward_fulfillment(record: OrderRecord) -> dict[str, Any]:
    """The Delivery fulfillment (there is exactly one per order)."""
    for f in record.fulfillments:
        if f.get("type", FulfillmentType.DELIVERY.value) == FulfillmentType.DELIVERY.value:
            return f
    raise LookupError(f"order {record.order_id} has no Delivery fulfillment")


def fulfillment(record: OrderRecord, fulfillment_id: str) -> dict[str, Any] | None:
    return next((f for f in record.fulfillments if f.get("id") == fulfillment_id), None)


def fulfillment_state(f: dict[str, Any]) -> str:
    return str(((f.get("state") or {}).get("descriptor") or {}).get("code", ""))


def next_fulfillment_id(record: OrderRecord, prefix: str) -> str:
    taken = {f.get("id") for f in record.fulfillments}
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def tag_list(code: str, entries: list[tuple[str, str]]) -> dict[str, Any]:
    return {"code": code, "list": [{"code": c, "value": v} for c, v in entries]}


def quote_trail_tags(trail: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    from ondc_adapter.protocol.money import format_money

    return [
        tag_list(
            "quote_trail",
            [("type", kind), ("id", ident), ("currency", "INR"), ("value", format_money(delta))],
        )
        for kind, ident, delta in trail
    ]
