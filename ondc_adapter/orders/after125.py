"""What a retail 1.2.5 order's callbacks after on_confirm carry beyond 1.2.0's (issue 16): the
on_status, on_cancel and on_track bodies as ONDC's 1.2.5 log validator checks them
(``utils/Retail_.1.2.5/{Status,Cancel,Track}``, ``schema/Retail_1.2.5/{Cancel,Track}``). A
1.2.0 order goes through ``build.order_message`` untouched, so its bytes stay as they were.

* on_status: the Delivery fulfillment keeps its ``routing`` tag and its
  ``@ondc/org/state_updated_at`` (``forward`` sets both); nothing else changes.
* on_cancel (and the on_status of a cancelled order): ``schema/Retail_1.2.5/Cancel/onCancel.ts``
  allows fulfillment tags ``cancel_request``, ``igm_request``, ``precancel_state`` and
  ``quote_trail`` only, so the ``routing`` tag a 1.2.5 Delivery has from on_confirm on is left
  out there; the order's ``tags``, ``documents`` and ``cancellation_terms`` stay out as in 1.2.0
  (the schema's order has ``additionalProperties: false`` and no such properties).
* on_track: ``schema/Retail_1.2.5/Track/on_track.ts`` requires ``tracking.id``, ``status``,
  ``tags`` and ``location`` with ``gps``, ``time.timestamp`` and ``updated_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ondc_adapter.orders.build import order_message
from ondc_adapter.orders.state import OrderState
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.versions import RetailVersion

# schema/Retail_1.2.5/Cancel/onCancel.ts: fulfillments[].tags[].code enum
ON_CANCEL_TAG_CODES = frozenset({"cancel_request", "igm_request", "precancel_state",
                                 "quote_trail"})


def is_125(record: OrderRecord) -> bool:
    return record.core_version == RetailVersion.V1_2_5.value


def callback_message(record: OrderRecord, action: str) -> dict[str, Any]:
    """``{"order": ...}`` of an after-order callback in the order's retail version."""
    message = order_message(record, action=action)
    if not is_125(record):
        return message
    if action == "on_cancel" or record.state == OrderState.CANCELLED.value:
        for f in message["order"].get("fulfillments") or []:
            if "tags" in f:
                f["tags"] = [t for t in f["tags"] if t.get("code") in ON_CANCEL_TAG_CODES]
    return message


def tracking_125(
    record: OrderRecord, fulfillment: dict[str, Any], *, url: str, active: bool, now: datetime
) -> dict[str, Any]:
    """The on_track ``tracking`` of a 1.2.5 order. The seller delivers itself and has no live
    feed of the rider, so the position given is the last one it knows: the store's while the
    parcel is there, the buyer's once delivered (the gps the fulfillment holds), stamped now."""
    stamp = format_timestamp(now)
    side = "end" if record.fulfillment_state == "Order-delivered" else "start"
    gps = (((fulfillment.get(side) or {}).get("location") or {}).get("gps")
           or ((fulfillment.get("start") or {}).get("location") or {}).get("gps") or "")
    return {
        "id": fulfillment["id"],
        "url": url,
        "location": {"gps": gps, "time": {"timestamp": stamp}, "updated_at": stamp},
        "status": "active" if active else "inactive",
        "tags": [
            {"code": "order", "list": [{"code": "id", "value": record.order_id}]},
            {"code": "config", "list": [{"code": "attr", "value": "tracking.location.gps"},
                                        {"code": "type", "value": "live_poll"}]},
        ],
    }
