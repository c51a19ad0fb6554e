"""The forward path of a confirmed order: the seller accepts it, and its Delivery fulfillment
moves from Pending to Order-delivered, the order state following. Each step adds what it
brings: the routing tag once the parcel moves, the pickup and delivery timestamps, the invoice,
the agent and vehicle, a pickup confirmation code; cash on delivery is marked paid on delivery.
Cancelling is ``cancellation``'s (it needs a reason code).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders import lifecycle, repository
from ondc_adapter.orders.build import forward_fulfillment, fulfillment_state
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.state import (
    PICKED_UP,
    F,
    FulfillmentType,
    OrderState,
    check_fulfillment,
    order_state_for,
)
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import format_timestamp


async def accept(session: AsyncSession, record: OrderRecord, *, actor: str, now: datetime) -> None:
    if record.accepted:
        raise IllegalTransition(f"order {record.order_id} is already accepted")
    if record.state != OrderState.CREATED.value:
        raise IllegalTransition(f"order {record.order_id} is {record.state}, not Created")
    lifecycle.set_order_state(
        session, record, OrderState.ACCEPTED, actor=actor, now=now, reason="accepted"
    )
    record.accepted = True
    lifecycle.touch(record, now)


async def advance(
    session: AsyncSession,
    record: OrderRecord,
    target: F,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Move the forward (Delivery) fulfillment to ``target``; the order state follows."""
    details = details or {}
    if target == F.CANCELLED:
        raise IllegalTransition("use cancel to cancel an order (it needs a reason code)")
    fwd = copy.deepcopy(forward_fulfillment(record))
    current = fulfillment_state(fwd)
    refusal = check_fulfillment(FulfillmentType.DELIVERY, current, target)
    if refusal is not None:
        raise IllegalTransition(refusal.reason)
    if not record.accepted:
        raise IllegalTransition("accept the order before moving its fulfillment")
    stamp = format_timestamp(now)
    fwd["state"] = {"descriptor": {"code": target.value}}
    if target in PICKED_UP and not any(t.get("code") == "routing" for t in fwd.get("tags") or []):
        # Once the parcel moves, the Delivery fulfillment says how it travels (ONDC retail
        # 1.2.0, required by the log validator from on_status_picked on): point to point,
        # as this state machine goes (no hub states).
        fwd.setdefault("tags", []).append(ROUTING_P2P)
    if target == F.ORDER_PICKED_UP:
        fwd.setdefault("start", {}).setdefault("time", {})["timestamp"] = stamp
        record.documents = [
            {"url": details.get("invoice_url") or _invoice_url(record), "label": "Invoice"}
        ]
    if target == F.ORDER_DELIVERED:
        start_time = fwd.setdefault("start", {}).setdefault("time", {})
        start_time.setdefault("timestamp", stamp)
        fwd.setdefault("end", {}).setdefault("time", {})["timestamp"] = stamp
        if not record.documents:
            record.documents = [{"url": _invoice_url(record), "label": "Invoice"}]
        payment = record.payment
        if payment.get("type") == "ON-FULFILLMENT" and payment.get("status") != "PAID":
            # Cash on delivery: handing the parcel over is when the money is collected.
            record.payment = {**payment, "status": "PAID"}
            repository.journal(
                session,
                record,
                entity="payment",
                from_state=payment.get("status"),
                to_state="PAID",
                actor=actor,
                at=now,
                reason="collected on delivery",
            )
    if details.get("agent_name") or details.get("agent_phone"):
        fwd["agent"] = {
            k: v
            for k, v in (("name", details.get("agent_name")), ("phone", details.get("agent_phone")))
            if v
        }
    if details.get("vehicle"):
        fwd["vehicle"] = {"registration": details["vehicle"]}
    if details.get("pickup_code") and target == F.PACKED:
        # PCC for self-pickup / LSP: code "2" = merchant order number (protocol.md 4.7)
        fwd.setdefault("start", {})["instructions"] = {
            "code": "2",
            "name": "Pickup confirmation code",
            "short_desc": str(details["pickup_code"])[:6],
        }
    lifecycle.replace_fulfillment(record, fwd)
    repository.journal(
        session,
        record,
        entity="fulfillment",
        fulfillment_id=fwd["id"],
        from_state=current,
        to_state=target.value,
        actor=actor,
        at=now,
        reason=reason,
    )
    record.fulfillment_state = target.value
    lifecycle.set_order_state(
        session,
        record,
        order_state_for(target, accepted=True),
        actor=actor,
        now=now,
        reason=f"fulfillment {fwd['id']} {target.value}",
    )
    lifecycle.touch(record, now)


ROUTING_P2P = {"code": "routing", "list": [{"code": "type", "value": "P2P"}]}


def _invoice_url(record: OrderRecord) -> str:
    base = str(record.context.get("bpp_uri", "")).rstrip("/")
    return f"{base}/invoices/{record.order_id}"
