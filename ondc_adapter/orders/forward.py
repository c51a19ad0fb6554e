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
    ROUTING_FORBIDDEN,
    ROUTING_P2P,
    F,
    FulfillmentType,
    OrderState,
    check_fulfillment,
    delivery_machine,
    order_state_for,
)
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.versions import RetailVersion

# Retail 1.2.5's status checkers want, on every state update of the Delivery fulfillment, when
# that state was reached (Status/onStatus{AgentAssigned,InTransit,...}.ts: "'@ondc/org/
# state_updated_at' is required for fulfillment state updates", never earlier than the last).
STATE_UPDATED_AT = "@ondc/org/state_updated_at"


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
    v125 = record.core_version == RetailVersion.V1_2_5.value
    routing = routing_of(fwd)
    _check_move(record.core_version, routing, current, target)
    if not record.accepted:
        raise IllegalTransition("accept the order before moving its fulfillment")
    stamp = format_timestamp(now)
    fwd["state"] = {"descriptor": {"code": target.value}}
    has_routing = any(t.get("code") == "routing" for t in fwd.get("tags") or [])
    if not has_routing and (v125 or target in PICKED_UP):
        # Once the parcel moves, the Delivery fulfillment says how it travels (ONDC retail
        # 1.2.0, required by the log validator from on_status_picked on): point to point,
        # as this state machine goes (no hub states). A 1.2.5 order has it from on_confirm
        # on; one confirmed without it gets it at its first move (every 1.2.5 status
        # checker validates the tag).
        fwd.setdefault("tags", []).append(ROUTING_P2P_TAG)
    if v125:
        fwd[STATE_UPDATED_AT] = stamp
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
            # Cash on delivery: handing the parcel over is when the money is collected, and a
            # paid payment says when it was paid (``time.timestamp``, as a prepaid one does).
            record.payment = {**payment, "status": "PAID", "time": {"timestamp": stamp}}
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


ROUTING_P2P_TAG = {"code": "routing", "list": [{"code": "type", "value": ROUTING_P2P}]}


def routing_of(fulfillment: dict[str, Any]) -> str | None:
    """The routing type a Delivery fulfillment's ``routing`` tag names (None without one)."""
    for tag in fulfillment.get("tags") or []:
        if tag.get("code") == "routing":
            for entry in tag.get("list") or []:
                if entry.get("code") == "type":
                    return str(entry.get("value"))
    return None


def _check_move(core_version: str, routing: str | None, current: str, target: F) -> None:
    """Refuse a move the order's machine does not have, naming the allowed next states; for a
    1.2.5 order the machine is its routing's, and the refusal says so."""
    machine = delivery_machine(core_version, routing)
    refusal = check_fulfillment(FulfillmentType.DELIVERY, current, target, machine)
    if refusal is None:
        return
    if core_version != RetailVersion.V1_2_5.value:
        raise IllegalTransition(refusal.reason)
    kind = routing or ROUTING_P2P
    try:
        nxt = sorted(s.value for s in machine.get(F(current), frozenset()) if s != F.CANCELLED)
    except ValueError:
        nxt = []
    allowed = ", ".join(nxt) or "none (final)"
    if target in ROUTING_FORBIDDEN.get(kind, frozenset()):
        raise IllegalTransition(
            f"{target.value} is not a state of a {kind} delivery in retail 1.2.5; from "
            f"{current} the next states are: {allowed}"
        )
    raise IllegalTransition(
        f"{refusal.reason}; {kind} delivery in retail 1.2.5, next states from {current}: "
        f"{allowed}"
    )


def _invoice_url(record: OrderRecord) -> str:
    base = str(record.context.get("bpp_uri", "")).rstrip("/")
    return f"{base}/invoices/{record.order_id}"
