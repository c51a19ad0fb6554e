"""Buyer returns, and the moves of the fulfillments that bring goods back: Return and RTO.

``move_fulfillment`` moves either. An RTO (opened by a cancel after pickup, ``cancellation``)
ends RTO-Delivered, which puts the goods back in stock, or RTO-Disposed. A Return follows the
rules below.

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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.orders import lifecycle, repository
from ondc_adapter.orders.build import (
    forward_fulfillment,
    fulfillment,
    fulfillment_state,
    quote_trail_tags,
    tag_list,
)
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.reasons import (
    QC_FAILED,
    QC_PASSED,
    QC_RESULTS,
    return_rejection_reasons,
)
from ondc_adapter.orders.repricing import reprice
from ondc_adapter.orders.state import F, FulfillmentType, OrderState, check_fulfillment
from ondc_adapter.orders.tables import OrderRecord, OrderReturn
from ondc_adapter.protocol.durations import format_timestamp, parse_duration, parse_timestamp
from ondc_adapter.protocol.errors import Code

# Return states in which units are on their way back (not yet refunded, not yet released): a
# new return request cannot claim them again.
RETURN_IN_FLIGHT = frozenset(
    {F.RETURN_INITIATED, F.RETURN_APPROVED, F.RETURN_PICKED, F.RETURN_PICK_FAILED}
)
# The reverse pickup window offered at Return_Approved when the seller names none.
DEFAULT_PICKUP_WINDOW = timedelta(hours=24)


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
    if kind == FulfillmentType.RTO.value and target in (F.RTO_DELIVERED, F.RTO_DISPOSED):
        # the parcel's way back ends: back at the store, or disposed of on the way
        f.setdefault("end", {}).setdefault("time", {})["timestamp"] = stamp
    if kind == FulfillmentType.RTO.value and target == F.RTO_DELIVERED:
        for entry in record.items:
            if entry.get("fulfillment_id") == fulfillment_id:
                await store.release_stock(
                    session, entry["id"], int(entry["quantity"]["count"]), now=now
                )
    if kind == FulfillmentType.RETURN.value:
        ret = await _return_row(session, record, fulfillment_id)
        reason, reason_code = await _move_return(
            session,
            record,
            ret,
            f,
            F(current),
            target,
            now=now,
            reason=reason,
            reason_code=reason_code,
            details=details,
            initiated_by=initiated_by or str(record.context.get("bpp_id", "")),
        )
        ret.state = target.value
        ret.updated_at = now
    lifecycle.replace_fulfillment(record, f)
    repository.journal(
        session,
        record,
        entity="fulfillment",
        fulfillment_id=fulfillment_id,
        from_state=current,
        to_state=target.value,
        actor=actor,
        at=now,
        reason=reason,
        reason_code=reason_code,
    )
    lifecycle.touch(record, now)
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
            "range": {"start": format_timestamp(window_start), "end": format_timestamp(window_end)}
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
        rejections = return_rejection_reasons(record.core_version)  # 1.2.5 has its own
        if reason_code not in rejections:
            codes = ", ".join(sorted(rejections))
            raise IllegalTransition(
                f"a return is rejected with a rejection reason code ({codes}), got {reason_code!r}",
                Code.INVALID_RETURN_REQUEST,
            )
        text = rejections[reason_code]
        _set_tag(
            f,
            tag_list(
                "return_rejection",
                [("reason_id", reason_code), ("reason_desc", text), ("initiated_by", initiated_by)],
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
                for t in f.get("tags", [])
                if t.get("code") == "reverseqc_input"
                for e in t.get("list", [])
                if e.get("code") != "due_by"
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
        quote_trail = reprice(record, counts)
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
        raise IllegalTransition(f"return window {window} is over", Code.INVALID_RETURN_REQUEST)
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
            order_pk=record.id,
            return_id=return_id,
            item_id=item_id,
            quantity=quantity,
            reason_code=reason_code,
            reason_desc=reason_desc,
            images=images,
            state=F.RETURN_INITIATED.value,
            initiated_by=initiated_by,
            request_tag=request_tag,
            created_at=now,
            updated_at=now,
        )
    )
    repository.journal(
        session,
        record,
        entity="fulfillment",
        fulfillment_id=return_id,
        from_state=None,
        to_state=F.RETURN_INITIATED.value,
        actor="buyer",
        at=now,
        reason=reason_desc,
        reason_code=reason_code,
    )
    lifecycle.touch(record, now)
    return f
