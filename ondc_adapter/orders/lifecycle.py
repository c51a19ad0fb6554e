"""Changes to a confirmed order: accept, move the forward fulfillment, cancel (full, with RTO,
part), returns. Each change checks the state machine, updates the wire objects the record
keeps, adjusts the quote with a ``quote_trail``, gives stock back when goods come back, and
writes the transition journal, all in the caller's transaction.

Buyer handlers and seller service functions both call these, so the same rules hold whoever
asks. Refusals raise ``IllegalTransition`` with a reason and the ONDC code to report.

Returns (protocol.md 4.9). A buyer's return request opens fulfillment ``R<n>`` (type
``Return``, state ``Return_Initiated``) with the returned units assigned to it. Then:

* ``Return_Approved``: the seller collects the item. The Return fulfillment gets the reverse
  pickup: ``start.location`` = the buyer's delivery location (gps, address with area_code),
  ``start.contact`` / ``start.person`` from the delivery, ``start.time.range`` = the pickup
  window (the seller's, default now .. now + 24 h), ``end.location`` / ``end.contact`` = the
  store; and a ``reverseqc_input`` tag. Nothing is refunded yet.
* ``Liquidated``: refund without taking the item back: quote reduced at once, ``quote_trail``
  on the Return, no stock change (the item stays with the buyer).
* ``Return_Rejected``: needs a rejection reason code (``reasons.RETURN_REJECTION_REASONS``),
  kept in a ``return_rejection`` tag (reason_id, reason_desc, initiated_by) and the journal.
* ``Return_Approved`` -> ``Return_Picked`` (``start.time.timestamp``; the QC clock starts) or
  ``Return_Pick_Failed`` (retry: -> ``Return_Picked``; give up: -> ``Return_Failed``, nothing
  refunded, the item is still with the buyer).
* ``Return_Picked`` -> the seller's reverse QC when the item arrives (``end.time.timestamp``):
  passed -> ``Return_Delivered``: refund (quote reduced, ``quote_trail`` with negative amounts
  on the Return) and the units go back to stock (``store.release_stock``);
  failed -> ``Return_Failed``: no refund and no stock back (the item is not what was sold, or
  is used/damaged; the seller holds it and the buyer may raise an issue through IGM).

Reverse QC tags on the Return fulfillment (the P001/P003/Q001 codes follow the shape of ONDC's
1.2.5 return guide; UNVERIFIED for 1.2.0, the rest is ours):

* ``reverseqc_input`` (from Return_Approved): ``P001`` item name, ``P003`` quantity, ``Q001``
  "" (the check to answer: does the item pass QC), ``ttl_reverseqc`` (the buyer's, from the
  return_request, when given) and, from Return_Picked, ``due_by`` = pickup time + ttl_reverseqc.
* ``reverseqc_output`` (at Return_Delivered / Return_Failed): ``P001``, ``P003``, ``Q001``
  "yes" | "no", ``result`` "passed" | "failed", ``checked_at``, ``within_ttl`` "yes" | "no",
  ``remarks`` (when given).

``ttl_reverseqc`` bounds the QC, counted from the pickup (once the buyer has handed the goods
over, the refund depends on the seller alone). A QC recorded after ``due_by`` may still pass
(``within_ttl`` "no", refund as usual) but may not fail: a late QC cannot hold a refund back.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
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
from ondc_adapter.orders.reasons import (
    QC_FAILED,
    QC_PASSED,
    QC_RESULTS,
    RETURN_REJECTION_REASONS,
    CancelReason,
)
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
# Return states in which units are on their way back (not yet refunded, not yet released): a
# new return request cannot claim them again.
RETURN_IN_FLIGHT = frozenset(
    {F.RETURN_INITIATED, F.RETURN_APPROVED, F.RETURN_PICKED, F.RETURN_PICK_FAILED}
)
# The reverse pickup window offered at Return_Approved when the seller names none.
DEFAULT_PICKUP_WINDOW = timedelta(hours=24)


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
                session, record, entity="payment", from_state=payment.get("status"),
                to_state="PAID", actor=actor, at=now, reason="collected on delivery",
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


ROUTING_P2P = {"code": "routing", "list": [{"code": "type", "value": "P2P"}]}


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
    _replace_fulfillment(record, fwd)
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fwd["id"], from_state=current.value,
        to_state=F.CANCELLED.value, actor=actor, at=now, reason=reason.text,
        reason_code=reason.code, message_id=message_id,
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
    reason_code: str | None = None,
    details: dict[str, Any] | None = None,
    initiated_by: str | None = None,
) -> dict[str, Any]:
    """Move an RTO or Return fulfillment. RTO-Delivered puts the goods back in stock. For a
    Return see the module docstring: Liquidated refunds at once; Return_Approved sets up the
    reverse pickup; Return_Rejected needs ``reason_code``; Return_Delivered (reverse QC passed)
    refunds and restocks; Return_Failed after pickup is a failed QC. ``details``: for a
    Return, ``pickup_start`` / ``pickup_end`` (approval), ``agent_name`` / ``agent_phone``
    (pickup), ``qc`` ("passed" | "failed") and ``qc_remarks`` (arrival)."""
    details = details or {}
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
    if kind == FulfillmentType.RETURN.value:
        ret = await _return_row(session, record, fulfillment_id)
        reason, reason_code = await _move_return(
            session, record, ret, f, F(current), target, now=now, reason=reason,
            reason_code=reason_code, details=details,
            initiated_by=initiated_by or str(record.context.get("bpp_id", "")),
        )
        ret.state = target.value
        ret.updated_at = now
    _replace_fulfillment(record, f)
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fulfillment_id, from_state=current,
        to_state=target.value, actor=actor, at=now, reason=reason, reason_code=reason_code,
    )
    _touch(record, now)
    return f


def _set_tag(f: dict[str, Any], tag: dict[str, Any]) -> None:
    """Put ``tag`` on ``f``, replacing any tag with the same code."""
    f["tags"] = [t for t in f.get("tags", []) if t.get("code") != tag["code"]] + [tag]


def _tag_value(f: dict[str, Any], code: str, entry: str) -> str | None:
    for t in f.get("tags", []):
        if t.get("code") == code:
            for e in t.get("list", []):
                if e.get("code") == entry:
                    return e.get("value")
    return None


def _timestamp_detail(details: dict[str, Any], key: str) -> datetime | None:
    value = details.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    try:
        return parse_timestamp(str(value))
    except ValueError as exc:
        raise IllegalTransition(f"{key}: {exc}") from None


def _reverse_pickup(
    record: OrderRecord, f: dict[str, Any], details: dict[str, Any], now: datetime
) -> None:
    """Return_Approved: pick up where the order was delivered, bring it to the store."""
    window_start = _timestamp_detail(details, "pickup_start") or now
    window_end = _timestamp_detail(details, "pickup_end") or window_start + DEFAULT_PICKUP_WINDOW
    if window_end <= window_start:
        raise IllegalTransition("the pickup window must end after it starts")
    if window_start < now:  # LVU: the window may not start before the on_update is sent
        raise IllegalTransition("the pickup window must not start in the past")
    fwd = forward_fulfillment(record)
    delivered_to = fwd.get("end") or {}
    store_side = fwd.get("start") or {}
    if not (delivered_to.get("location") or {}).get("address"):
        raise IllegalTransition("the order has no delivery address to pick the return up from")
    start: dict[str, Any] = {
        "location": copy.deepcopy(delivered_to["location"]),
        "time": {
            "range": {
                "start": format_timestamp(window_start), "end": format_timestamp(window_end)
            }
        },
    }
    for key in ("contact", "person"):
        if delivered_to.get(key):
            start[key] = copy.deepcopy(delivered_to[key])
    end: dict[str, Any] = {"location": copy.deepcopy(store_side.get("location") or {})}
    if store_side.get("contact"):
        end["contact"] = copy.deepcopy(store_side["contact"])
    f["start"], f["end"] = start, end


def _qc_entries(record: OrderRecord, ret: OrderReturn) -> list[tuple[str, str]]:
    title = next((ln["title"] for ln in record.lines if ln["id"] == ret.item_id), ret.item_id)
    return [("P001", str(title)), ("P003", str(ret.quantity))]


async def _move_return(
    session: AsyncSession,
    record: OrderRecord,
    ret: OrderReturn,
    f: dict[str, Any],
    current: F,
    target: F,
    *,
    now: datetime,
    reason: str | None,
    reason_code: str | None,
    details: dict[str, Any],
    initiated_by: str,
) -> tuple[str | None, str | None]:
    """The Return-specific part of a move (``f`` is edited in place); returns the journal's
    reason and reason code."""
    stamp = format_timestamp(now)
    refund = False
    if target == F.RETURN_APPROVED:
        _reverse_pickup(record, f, details, now)
        ttl = _tag_value({"tags": [ret.request_tag or {}]}, "return_request", "ttl_reverseqc")
        entries = [*_qc_entries(record, ret), ("Q001", "")]
        if ttl:
            entries.append(("ttl_reverseqc", ttl))
        _set_tag(f, tag_list("reverseqc_input", entries))
    elif target == F.RETURN_REJECTED:
        if reason_code not in RETURN_REJECTION_REASONS:
            codes = ", ".join(sorted(RETURN_REJECTION_REASONS))
            raise IllegalTransition(
                f"a return is rejected with a rejection reason code ({codes}), "
                f"got {reason_code!r}",
                Code.INVALID_RETURN_REQUEST,
            )
        text = RETURN_REJECTION_REASONS[reason_code]
        _set_tag(
            f,
            tag_list(
                "return_rejection",
                [("reason_id", reason_code), ("reason_desc", text),
                 ("initiated_by", initiated_by)],
            ),
        )
        reason = f"{text}: {reason}" if reason else text
    elif target == F.LIQUIDATED:
        refund = True
    elif target == F.RETURN_PICKED:
        f.setdefault("start", {}).setdefault("time", {})["timestamp"] = stamp
        agent = {
            k: str(details[f"agent_{k}"]) for k in ("name", "phone") if details.get(f"agent_{k}")
        }
        if agent:
            f["agent"] = agent
        ttl = _tag_value(f, "reverseqc_input", "ttl_reverseqc")
        try:
            qc_time = parse_duration(ttl) if ttl else None
        except ValueError:  # a request stored before ttl_reverseqc was checked
            qc_time = None
        if ttl and qc_time is not None:
            due = format_timestamp(now + qc_time)
            entries = [
                (e["code"], e.get("value", ""))
                for t in f.get("tags", []) if t.get("code") == "reverseqc_input"
                for e in t.get("list", []) if e.get("code") != "due_by"
            ]
            _set_tag(f, tag_list("reverseqc_input", [*entries, ("due_by", due)]))
            note = f"reverse QC due by {due} (ttl_reverseqc {ttl})"
            reason = f"{reason}; {note}" if reason else note
    elif current == F.RETURN_PICKED and target in (F.RETURN_DELIVERED, F.RETURN_FAILED):
        default = QC_PASSED if target == F.RETURN_DELIVERED else QC_FAILED
        result = str(details.get("qc") or default).lower()
        if result not in QC_RESULTS:
            raise IllegalTransition(f"reverse QC result must be one of {', '.join(QC_RESULTS)}")
        if result != default:
            right = F.RETURN_DELIVERED if result == QC_PASSED else F.RETURN_FAILED
            raise IllegalTransition(
                f"reverse QC {result} ends the return as {right.value}, not {target.value}"
            )
        due_by = _tag_value(f, "reverseqc_input", "due_by")
        late = bool(due_by) and now > parse_timestamp(str(due_by))
        if late and result == QC_FAILED:
            raise IllegalTransition(
                f"the reverse QC window closed at {due_by}: a late QC cannot fail the return "
                "(record it as passed, or settle it through an issue)"
            )
        f.setdefault("end", {}).setdefault("time", {})["timestamp"] = stamp
        remarks = details.get("qc_remarks")
        entries = [
            *_qc_entries(record, ret),
            ("Q001", "yes" if result == QC_PASSED else "no"),
            ("result", result),
            ("checked_at", stamp),
            ("within_ttl", "no" if late else "yes"),
        ]
        if remarks:
            entries.append(("remarks", str(remarks)))
        _set_tag(f, tag_list("reverseqc_output", entries))
        note = f"reverse QC {result}" + (f": {remarks}" if remarks else "")
        reason = f"{reason}; {note}" if reason else note
        refund = result == QC_PASSED
    if refund:
        counts = {line["id"]: int(line["count"]) for line in record.lines}
        counts[ret.item_id] = max(0, counts[ret.item_id] - ret.quantity)
        quote_trail = _reprice(record, counts)
        f["tags"] = [t for t in f.get("tags", []) if t.get("code") != "quote_trail"]
        f["tags"] += quote_trail_tags(quote_trail)
        if target == F.RETURN_DELIVERED:  # the goods are back on the shelf
            await store.release_stock(session, ret.item_id, ret.quantity, now=now)
    return reason, reason_code


def _claims_units(f: dict[str, Any] | None) -> bool:
    """Whether a Return fulfillment still holds its units against a new return request."""
    if f is None or f.get("type") != FulfillmentType.RETURN.value:
        return False
    state = fulfillment_state(f)
    if state in RETURN_IN_FLIGHT:
        return True
    # failed reverse QC: the item is with the seller (a failed pickup leaves it with the buyer)
    qc_done = _tag_value(f, "reverseqc_output", "result") is not None
    return state == F.RETURN_FAILED.value and qc_done


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
    # line["count"] already excludes refunded units (Liquidated, Return_Delivered); units on
    # their way back, or back but failed QC, cannot be claimed again either
    open_returns = sum(
        int(e["quantity"]["count"])
        for e in record.items
        if e["id"] == item_id and _claims_units(fulfillment(record, e.get("fulfillment_id", "")))
    )
    ttl_qc = next(
        (e.get("value") for e in request_tag.get("list", []) if e.get("code") == "ttl_reverseqc"),
        None,
    )
    if ttl_qc:
        try:
            parse_duration(str(ttl_qc))
        except ValueError:
            raise IllegalTransition(
                f"ttl_reverseqc {ttl_qc!r} is not an ISO-8601 duration",
                Code.INVALID_RETURN_REQUEST,
            ) from None
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
