"""Cancelling a confirmed order. A full cancel before pickup refunds the items and the
fulfillment charges and releases the stock (a ``Cancel`` fulfillment carries the quote trail);
after pickup only an RTO reason may cancel, and the parcel comes back on an ``RTO`` fulfillment
(delivery stays charged; the stock returns when the RTO is delivered, which
``returns.move_fulfillment`` records). A merchant part cancel takes some units out before
pickup; the order goes on with the rest.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.orders import lifecycle, repository
from ondc_adapter.orders.build import (
    forward_fulfillment,
    fulfillment_state,
    next_fulfillment_id,
    quote_trail_tags,
    tag_list,
)
from ondc_adapter.orders.forward import routing_of
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.reasons import CancelReason
from ondc_adapter.orders.repricing import reprice
from ondc_adapter.orders.state import (
    PICKED_UP,
    F,
    FulfillmentType,
    OrderState,
    check_fulfillment,
    delivery_machine,
)
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.errors import Code


async def cancel(
    session: AsyncSession,
    record: OrderRecord,
    reason: CancelReason,
    *,
    initiated_by: str,
    actor: str,
    now: datetime,
    message_id: str | None = None,
) -> str | None:
    """Cancel the whole order. Before pickup: items and fulfillment charges refunded, stock
    released. After pickup (RTO-triggering reasons only): the parcel comes back on an RTO
    fulfillment; delivery stays charged and stock returns when the RTO is delivered.
    Returns the RTO fulfillment id when one was created."""
    fwd = copy.deepcopy(forward_fulfillment(record))
    current = F(fulfillment_state(fwd))
    if record.state == OrderState.CANCELLED.value or current == F.CANCELLED:
        raise IllegalTransition("order is already cancelled", Code.CANCELLATION_NOT_POSSIBLE)
    if current == F.ORDER_DELIVERED:
        raise IllegalTransition(
            "order is delivered: ask for a return instead", Code.CANCELLATION_NOT_POSSIBLE
        )
    rto = current in PICKED_UP
    if rto and not reason.rto:
        raise IllegalTransition(
            f"order is {current}: after pickup only RTO reasons may cancel it",
            Code.CANCELLATION_NOT_POSSIBLE,
        )
    # the order's own machine: a 1.2.5 order may be cancelled from its new states too
    machine = delivery_machine(record.core_version, routing_of(fwd))
    refusal = check_fulfillment(FulfillmentType.DELIVERY, current, F.CANCELLED, machine)
    if refusal is not None:
        raise IllegalTransition(refusal.reason, Code.CANCELLATION_NOT_POSSIBLE)
    stamp = format_timestamp(now)
    cancelled_counts = {line["id"]: int(line["count"]) for line in record.lines}
    quote_trail = reprice(record, {k: 0 for k in cancelled_counts}, drop_charges=not rto)
    fwd = copy.deepcopy(forward_fulfillment(record))
    precancel_at = record.updated_at_text
    fwd["state"] = {"descriptor": {"code": F.CANCELLED.value}}
    rto_id = f"{fwd['id']}-RTO" if rto else None
    request = [("reason_id", reason.code), ("initiated_by", initiated_by)]
    if rto_id is not None:
        request.append(("rto_id", rto_id))  # the parcel's way back (ONDC: with an RTO cancel)
    fwd["tags"] = [
        t for t in fwd.get("tags", []) if t.get("code") not in ("cancel_request", "precancel_state")
    ] + [
        tag_list("cancel_request", request),
        tag_list(
            "precancel_state",
            [("fulfillment_state", current.value), ("updated_at", precancel_at)],
        ),
    ]
    lifecycle.replace_fulfillment(record, fwd)
    repository.journal(
        session,
        record,
        entity="fulfillment",
        fulfillment_id=fwd["id"],
        from_state=current.value,
        to_state=F.CANCELLED.value,
        actor=actor,
        at=now,
        reason=reason.text,
        reason_code=reason.code,
        message_id=message_id,
    )
    record.fulfillment_state = F.CANCELLED.value
    extra_id: str | None = None
    if rto:
        extra_id = rto_id
        # The parcel goes back the way it came: from the buyer's address to the store.
        back_from = copy.deepcopy((fwd.get("end") or {}).get("location") or {})
        back_to = copy.deepcopy((fwd.get("start") or {}).get("location") or {})
        extra = {
            "id": extra_id,
            "type": FulfillmentType.RTO.value,
            "state": {"descriptor": {"code": F.RTO_INITIATED.value}},
            "start": {"location": back_from, "time": {"timestamp": stamp}},
            "end": {"location": back_to},
            "tags": quote_trail_tags(quote_trail),
        }
        repository.journal(
            session,
            record,
            entity="fulfillment",
            fulfillment_id=extra_id,
            from_state=None,
            to_state=F.RTO_INITIATED.value,
            actor=actor,
            at=now,
            reason=reason.text,
            reason_code=reason.code,
        )
    else:
        extra_id = next_fulfillment_id(record, "C")
        extra = {
            "id": extra_id,
            "type": FulfillmentType.CANCEL.value,
            "state": {"descriptor": {"code": F.CANCELLED.value}},
            **cancelled_leg(fwd),
            "tags": quote_trail_tags(quote_trail),
        }
        for item_id, count in sorted(cancelled_counts.items()):
            if count:
                await store.release_stock(session, item_id, count, now=now)
    record.fulfillments = [*record.fulfillments, extra]
    record.items = [
        *record.items,
        *(
            {"id": item_id, "fulfillment_id": extra_id, "quantity": {"count": count}}
            for item_id, count in cancelled_counts.items()
            if count
        ),
    ]
    record.cancellation = {"cancelled_by": initiated_by, "reason": {"id": reason.code}}
    lifecycle.set_order_state(
        session,
        record,
        OrderState.CANCELLED,
        actor=actor,
        now=now,
        reason=reason.text,
        reason_code=reason.code,
    )
    lifecycle.touch(record, now)
    return extra_id if rto else None


def cancelled_leg(fwd: dict[str, Any]) -> dict[str, Any]:
    """What a full cancel's Cancel fulfillment repeats of the Delivery it cancels: who was to
    deliver, tracking, and the start and end (where from, where to, when, whom).

    ONDC's example on_cancel gives the Cancel fulfillment only id, type, state and its
    quote_trail, but ONDC's log validator checks every on_cancel fulfillment against one
    schema that requires ``@ondc/org/provider_name``, ``tracking``, ``start`` and ``end``
    (``schema/Retail/Cancel/onCancel.ts``). The copy is the cancelled leg as it stood, so a
    buyer app that reads fulfillments by type (Delivery, then Cancel and its quote_trail) sees
    nothing new, and one that reads the Cancel fulfillment alone sees which leg it undid."""
    leg: dict[str, Any] = {}
    for key in ("@ondc/org/provider_name", "tracking", "start", "end"):
        if key in fwd:
            leg[key] = copy.deepcopy(fwd[key])
    return leg


def part_cancelled_leg(fwd: dict[str, Any]) -> dict[str, Any]:
    """A part cancel's Cancel fulfillment: the cancelled leg (``cancelled_leg``) and its
    ``@ondc/org/TAT``, which ONDC's on_status schema also requires of every fulfillment. The
    Cancel fulfillment is then repeated unchanged in every later on_status, as ONDC's log
    validator compares it with the on_update that created it."""
    leg = cancelled_leg(fwd)
    if "@ondc/org/TAT" in fwd:
        leg["@ondc/org/TAT"] = fwd["@ondc/org/TAT"]
    return leg


async def part_cancel(
    session: AsyncSession,
    record: OrderRecord,
    quantities: dict[str, int],
    reason: CancelReason,
    *,
    initiated_by: str,
    actor: str,
    now: datetime,
) -> str:
    """Merchant part-cancel (protocol.md 4.9): fewer units of some items, before pickup; the
    order stays as it is. Returns the new Cancel fulfillment id."""
    if not reason.part_cancel:
        raise IllegalTransition(
            f"reason {reason.code} does not allow a part cancel", Code.INVALID_CANCELLATION_REASON
        )
    fwd = forward_fulfillment(record)
    current = F(fulfillment_state(fwd))
    if current not in lifecycle.BEFORE_PICKUP:
        raise IllegalTransition(f"order is {current}: part cancel is only possible before pickup")
    counts = {line["id"]: int(line["count"]) for line in record.lines}
    for item_id, qty in quantities.items():
        if item_id not in counts:
            raise IllegalTransition(f"item {item_id} is not in the order")
        if qty <= 0 or qty > counts[item_id]:
            raise IllegalTransition(
                f"cannot cancel {qty} of item {item_id}: {counts[item_id]} in the order"
            )
    remaining = {k: v - quantities.get(k, 0) for k, v in counts.items()}
    if not any(remaining.values()):
        raise IllegalTransition("that cancels every item: cancel the whole order instead")
    quote_trail = reprice(record, remaining)
    cid = next_fulfillment_id(record, "C")
    record.fulfillments = [
        *record.fulfillments,
        {
            "id": cid,
            "type": FulfillmentType.CANCEL.value,
            "state": {"descriptor": {"code": F.CANCELLED.value}},
            # the units cancelled here were to travel on the Delivery leg: the Cancel
            # fulfillment names that leg too, so it has every property an on_status
            # fulfillment must have (ONDC's on_status schema requires them of each one)
            **part_cancelled_leg(fwd),
            "tags": [
                tag_list(
                    "cancel_request", [("reason_id", reason.code), ("initiated_by", initiated_by)]
                ),
                *quote_trail_tags(quote_trail),
            ],
        },
    ]
    record.items = [
        *record.items,
        *(
            {"id": item_id, "fulfillment_id": cid, "quantity": {"count": qty}}
            for item_id, qty in quantities.items()
        ),
    ]
    for item_id, qty in sorted(quantities.items()):
        await store.release_stock(session, item_id, qty, now=now)
    repository.journal(
        session,
        record,
        entity="fulfillment",
        fulfillment_id=cid,
        from_state=None,
        to_state=F.CANCELLED.value,
        actor=actor,
        at=now,
        reason=reason.text,
        reason_code=reason.code,
    )
    lifecycle.touch(record, now)
    return cid
