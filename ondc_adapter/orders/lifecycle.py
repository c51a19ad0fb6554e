"""Changes to a confirmed order: accept, move the forward fulfillment, cancel (full, with RTO,
part), returns. Each change checks the state machine, updates the wire objects the record
keeps, adjusts the quote with a ``quote_trail``, gives stock back when goods come back, and
writes the transition journal, all in the caller's transaction.

Buyer handlers and seller service functions both call these, so the same rules hold whoever
asks. Refusals raise ``IllegalTransition`` with a reason and the ONDC code to report.
"""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.orders import repository
from ondc_adapter.orders.build import (
    forward_fulfillment,
    fulfillment,
    fulfillment_state,
    next_fulfillment_id,
    quote_trail_tags,
    tag_list,
)
from ondc_adapter.orders.quote import (
    CatalogueLine,
    Charges,
    QuoteResult,
    compute_quote,
    trail,
    without_fulfillment_charges,
)
from ondc_adapter.orders.reasons import CancelReason
from ondc_adapter.orders.state import (
    PICKED_UP,
    F,
    FulfillmentType,
    OrderState,
    check_fulfillment,
    check_order,
    order_state_for,
)
from ondc_adapter.orders.tables import OrderRecord, OrderReturn
from ondc_adapter.protocol.durations import format_timestamp, parse_duration, parse_timestamp
from ondc_adapter.protocol.errors import Code

BEFORE_PICKUP = frozenset({F.PENDING, F.PACKED, F.AGENT_ASSIGNED, F.OUT_FOR_PICKUP, F.AT_PICKUP})


class IllegalTransition(ValueError):
    """A refused change: ``reason`` for people, ``code`` for the callback's error."""

    def __init__(self, reason: str, code: Code = Code.UPDATE_NOT_POSSIBLE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


# ---------------------------------------------------------------- pricing


def charges_of(record: OrderRecord) -> Charges:
    c = record.charges
    return Charges(
        Decimal(c.get("delivery", "0")),
        Decimal(c.get("packing", "0")),
        Decimal(c.get("convenience", "0")),
    )


def price_lines(
    lines: list[dict[str, Any]], counts: dict[str, int], charges: Charges, fulfillment_id: str
) -> QuoteResult:
    catalogue = {
        line["id"]: CatalogueLine(
            id=line["id"],
            title=line["title"],
            unit_price=Decimal(line["unit_price"]),
            available=counts[line["id"]],
            maximum=counts[line["id"]],
            fulfillment_id=fulfillment_id,
            tax_rate=Decimal(line.get("tax_rate", "0")),
            discount=Decimal(line.get("discount", "0")),
        )
        for line in lines
    }
    requested = [(line["id"], counts[line["id"]]) for line in lines]
    return compute_quote(
        requested, catalogue, charges, fulfillment_id=fulfillment_id, check_availability=False
    )


def _reprice(
    record: OrderRecord, new_counts: dict[str, int], *, drop_charges: bool = False
) -> list[tuple[str, str, Decimal]]:
    """Set the record's quote for ``new_counts``; returns the quote trail (what changed)."""
    fid = forward_fulfillment(record)["id"]
    old_counts = {line["id"]: int(line["count"]) for line in record.lines}
    charges = charges_of(record)
    if record.charges.get("dropped"):
        charges = without_fulfillment_charges(charges)
    before = price_lines(record.lines, old_counts, charges, fid)
    after_charges = without_fulfillment_charges(charges) if drop_charges else charges
    after = price_lines(record.lines, new_counts, after_charges, fid)
    quote = after.wire(ttl=record.quote.get("ttl", "P1D"))
    record.quote = quote
    record.lines = [{**line, "count": new_counts[line["id"]]} for line in record.lines]
    if drop_charges:
        record.charges = {**record.charges, "dropped": True}
    _rebuild_forward_items(record)
    return trail(before, after)


def _rebuild_forward_items(record: OrderRecord) -> None:
    fid = forward_fulfillment(record)["id"]
    counts = {line["id"]: int(line["count"]) for line in record.lines}
    items = []
    for entry in record.items:
        entry = copy.deepcopy(entry)
        if entry.get("fulfillment_id") == fid:
            entry["quantity"] = {"count": counts.get(entry["id"], 0)}
        items.append(entry)
    record.items = items


def _touch(record: OrderRecord, now: datetime) -> None:
    record.updated_at = now
    record.updated_at_text = format_timestamp(now)


def _replace_fulfillment(record: OrderRecord, new: dict[str, Any]) -> None:
    record.fulfillments = [new if f.get("id") == new.get("id") else f for f in record.fulfillments]


def _set_order_state(
    session: AsyncSession,
    record: OrderRecord,
    target: OrderState,
    *,
    actor: str,
    now: datetime,
    reason: str | None,
    reason_code: str | None = None,
) -> None:
    if record.state == target.value:
        return
    refusal = check_order(record.state, target)
    if refusal is not None:
        raise IllegalTransition(refusal.reason)
    repository.journal(
        session, record, entity="order", from_state=record.state, to_state=target.value,
        actor=actor, at=now, reason=reason, reason_code=reason_code,
    )
    record.state = target.value


# ---------------------------------------------------------------- accept / forward moves


async def accept(session: AsyncSession, record: OrderRecord, *, actor: str, now: datetime) -> None:
    if record.accepted:
        raise IllegalTransition(f"order {record.order_id} is already accepted")
    if record.state != OrderState.CREATED.value:
        raise IllegalTransition(f"order {record.order_id} is {record.state}, not Created")
    _set_order_state(session, record, OrderState.ACCEPTED, actor=actor, now=now, reason="accepted")
    record.accepted = True
    _touch(record, now)


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
            "code": "2", "name": "Pickup confirmation code",
            "short_desc": str(details["pickup_code"])[:6],
        }
    _replace_fulfillment(record, fwd)
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fwd["id"], from_state=current,
        to_state=target.value, actor=actor, at=now, reason=reason,
    )
    record.fulfillment_state = target.value
    _set_order_state(
        session, record, order_state_for(target, accepted=True), actor=actor, now=now,
        reason=f"fulfillment {fwd['id']} {target.value}",
    )
    _touch(record, now)


def _invoice_url(record: OrderRecord) -> str:
    base = str(record.context.get("bpp_uri", "")).rstrip("/")
    return f"{base}/invoices/{record.order_id}"


# ---------------------------------------------------------------- cancels


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
    refusal = check_fulfillment(FulfillmentType.DELIVERY, current, F.CANCELLED)
    if refusal is not None:
        raise IllegalTransition(refusal.reason, Code.CANCELLATION_NOT_POSSIBLE)
    stamp = format_timestamp(now)
    cancelled_counts = {line["id"]: int(line["count"]) for line in record.lines}
    quote_trail = _reprice(
        record, {k: 0 for k in cancelled_counts}, drop_charges=not rto
    )
    fwd = copy.deepcopy(forward_fulfillment(record))
    precancel_at = record.updated_at_text
    fwd["state"] = {"descriptor": {"code": F.CANCELLED.value}}
    fwd["tags"] = [
        t for t in fwd.get("tags", []) if t.get("code") not in ("cancel_request", "precancel_state")
    ] + [
        tag_list("cancel_request", [("reason_id", reason.code), ("initiated_by", initiated_by)]),
        tag_list(
            "precancel_state",
            [("fulfillment_state", current.value), ("updated_at", precancel_at)],
        ),
    ]
    _replace_fulfillment(record, fwd)
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fwd["id"], from_state=current.value,
        to_state=F.CANCELLED.value, actor=actor, at=now, reason=reason.text,
        reason_code=reason.code, message_id=message_id,
    )
    record.fulfillment_state = F.CANCELLED.value
    extra_id: str | None = None
    if rto:
        extra_id = f"{fwd['id']}-RTO"
        extra = {
            "id": extra_id,
            "type": FulfillmentType.RTO.value,
            "state": {"descriptor": {"code": F.RTO_INITIATED.value}},
            "start": {"time": {"timestamp": stamp}},
            "tags": quote_trail_tags(quote_trail),
        }
        repository.journal(
            session, record, entity="fulfillment", fulfillment_id=extra_id, from_state=None,
            to_state=F.RTO_INITIATED.value, actor=actor, at=now, reason=reason.text,
            reason_code=reason.code,
        )
    else:
        extra_id = next_fulfillment_id(record, "C")
        extra = {
            "id": extra_id,
            "type": FulfillmentType.CANCEL.value,
            "state": {"descriptor": {"code": F.CANCELLED.value}},
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
    _set_order_state(
        session, record, OrderState.CANCELLED, actor=actor, now=now, reason=reason.text,
        reason_code=reason.code,
    )
    _touch(record, now)
    return extra_id if rto else None


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
    if current not in BEFORE_PICKUP:
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
    quote_trail = _reprice(record, remaining)
    cid = next_fulfillment_id(record, "C")
    record.fulfillments = [
        *record.fulfillments,
        {
            "id": cid,
            "type": FulfillmentType.CANCEL.value,
            "state": {"descriptor": {"code": F.CANCELLED.value}},
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
        session, record, entity="fulfillment", fulfillment_id=cid, from_state=None,
        to_state=F.CANCELLED.value, actor=actor, at=now, reason=reason.text,
        reason_code=reason.code,
    )
    _touch(record, now)
    return cid


async def move_fulfillment(
    session: AsyncSession,
    record: OrderRecord,
    fulfillment_id: str,
    target: F,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    """Move an RTO or Return fulfillment. RTO-Delivered puts the goods back in stock; a
    Liquidated or approved return refunds the returned units (quote_trail on the Return)."""
    f = fulfillment(record, fulfillment_id)
    if f is None:
        raise IllegalTransition(
            f"order has no fulfillment {fulfillment_id}", Code.FULFILLMENT_NOT_FOUND
        )
    f = copy.deepcopy(f)
    kind = f.get("type", "")
    if kind not in (FulfillmentType.RTO.value, FulfillmentType.RETURN.value):
        raise IllegalTransition(f"{fulfillment_id} is a {kind} fulfillment; use advance")
    current = fulfillment_state(f)
    refusal = check_fulfillment(kind, current, target)
    if refusal is not None:
        raise IllegalTransition(refusal.reason, Code.FULFILLMENT_TERMINAL)
    f["state"] = {"descriptor": {"code": target.value}}
    stamp = format_timestamp(now)
    if kind == FulfillmentType.RTO.value and target == F.RTO_DELIVERED:
        f.setdefault("end", {}).setdefault("time", {})["timestamp"] = stamp
        for entry in record.items:
            if entry.get("fulfillment_id") == fulfillment_id:
                await store.release_stock(
                    session, entry["id"], int(entry["quantity"]["count"]), now=now
                )
    if kind == FulfillmentType.RETURN.value and target in (F.LIQUIDATED, F.RETURN_APPROVED):
        ret = await _return_row(session, record, fulfillment_id)
        counts = {line["id"]: int(line["count"]) for line in record.lines}
        counts[ret.item_id] = max(0, counts[ret.item_id] - ret.quantity)
        quote_trail = _reprice(record, counts)
        f["tags"] = [t for t in f.get("tags", []) if t.get("code") != "quote_trail"]
        f["tags"] += quote_trail_tags(quote_trail)
    if kind == FulfillmentType.RETURN.value:
        ret = await _return_row(session, record, fulfillment_id)
        ret.state = target.value
        ret.updated_at = now
    _replace_fulfillment(record, f)
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fulfillment_id, from_state=current,
        to_state=target.value, actor=actor, at=now, reason=reason,
    )
    _touch(record, now)
    return f


async def _return_row(session: AsyncSession, record: OrderRecord, return_id: str) -> OrderReturn:
    from sqlalchemy import select

    row = (
        await session.scalars(
            select(OrderReturn).where(
                OrderReturn.order_pk == record.id, OrderReturn.return_id == return_id
            )
        )
    ).first()
    if row is None:
        raise IllegalTransition(f"no return {return_id}", Code.FULFILLMENT_NOT_FOUND)
    return row


async def request_return(
    session: AsyncSession,
    record: OrderRecord,
    *,
    return_id: str,
    item_id: str,
    quantity: int,
    reason_code: str,
    reason_desc: str | None,
    images: list[str],
    request_tag: dict[str, Any],
    initiated_by: str,
    now: datetime,
) -> dict[str, Any]:
    """Open a buyer return (Return_Initiated); the seller approves, rejects or liquidates."""
    if record.state != OrderState.COMPLETED.value:
        raise IllegalTransition(f"order is {record.state}: only delivered orders can be returned")
    if fulfillment(record, return_id) is not None:
        raise IllegalTransition(f"return {return_id} already exists")
    line = next((ln for ln in record.lines if ln["id"] == item_id), None)
    if line is None:
        raise IllegalTransition(f"item {item_id} is not in the order", Code.INVALID_RETURN_REQUEST)
    if not line.get("returnable", True):
        raise IllegalTransition(f"item {item_id} is not returnable", Code.INVALID_RETURN_REQUEST)
    open_returns = sum(
        int(e["quantity"]["count"])
        for e in record.items
        if e["id"] == item_id
        and (fulfillment(record, e.get("fulfillment_id", "")) or {}).get("type") == "Return"
        and fulfillment_state(fulfillment(record, e["fulfillment_id"]) or {})
        not in (F.RETURN_REJECTED.value, F.LIQUIDATED.value, F.RETURN_APPROVED.value)
    )
    if quantity <= 0 or quantity > int(line["count"]) - open_returns:
        raise IllegalTransition(
            f"cannot return {quantity} of item {item_id}", Code.INVALID_RETURN_REQUEST
        )
    delivered_at = ((forward_fulfillment(record).get("end") or {}).get("time") or {}).get(
        "timestamp"
    )
    window = line.get("return_window")
    if delivered_at and window and now > parse_timestamp(delivered_at) + parse_duration(window):
        raise IllegalTransition(
            f"return window {window} is over", Code.INVALID_RETURN_REQUEST
        )
    f = {
        "id": return_id,
        "type": FulfillmentType.RETURN.value,
        "state": {"descriptor": {"code": F.RETURN_INITIATED.value}},
        "tags": [copy.deepcopy(request_tag)],
    }
    record.fulfillments = [*record.fulfillments, f]
    record.items = [
        *record.items,
        {"id": item_id, "fulfillment_id": return_id, "quantity": {"count": quantity}},
    ]
    session.add(
        OrderReturn(
            order_pk=record.id, return_id=return_id, item_id=item_id, quantity=quantity,
            reason_code=reason_code, reason_desc=reason_desc, images=images,
            state=F.RETURN_INITIATED.value, initiated_by=initiated_by, request_tag=request_tag,
            created_at=now, updated_at=now,
        )
    )
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=return_id, from_state=None,
        to_state=F.RETURN_INITIATED.value, actor="buyer", at=now, reason=reason_desc,
        reason_code=reason_code,
    )
    _touch(record, now)
    return f
