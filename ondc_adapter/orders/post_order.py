"""What a buyer app asks of a confirmed order: status, track, cancel and update (a return
request, the refund it settled, new delivery instructions). Each answers with the order as it
stands (track: the tracking) and any refusal in the callback's ``error``; cancels and returns
go through ``cancellation`` and ``returns``, the same rules the seller's actions follow.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.orders import cancellation, lifecycle, repository
from ondc_adapter.orders.after125 import callback_message, is_125, tracking_125
from ondc_adapter.orders.build import forward_fulfillment, order_message
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.reasons import TAT_REASONS, Party, cancel_reason, return_reasons
from ondc_adapter.orders.replies import callback_time, not_found, other_version, parse, reply
from ondc_adapter.orders.returns import request_return
from ondc_adapter.orders.state import PICKED_UP
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import parse_duration
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.order_objects import Tag
from ondc_adapter.protocol.order_requests import (
    CancelMessage,
    StatusMessage,
    TrackMessage,
    UpdateMessage,
)

MAX_RETURN_ID = 32  # order_returns.return_id, and a fulfillment id on the wire


async def handle_status(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(StatusMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    record = await repository.find_for_request(
        session, transaction_id=request.context.transaction_id, order_id=msg.order_id
    )
    if record is None:
        return reply(request, deps, now, {}, not_found(msg.order_id))
    if refused := other_version(request, deps, now, record.core_version):
        return refused
    return reply(request, deps, now, callback_message(record, "on_status"))


async def handle_track(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(TrackMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    record = await repository.find_for_request(
        session, transaction_id=request.context.transaction_id, order_id=msg.order_id
    )
    if record is None:
        return reply(request, deps, now, {}, not_found(msg.order_id))
    if refused := other_version(request, deps, now, record.core_version):
        return refused
    fwd = forward_fulfillment(record)
    moving = record.fulfillment_state in PICKED_UP  # the parcel is on its way
    base = str(deps.settings.bpp_uri).rstrip("/")
    if is_125(record):
        # 1.2.5's on_track schema wants the whole tracking object even when refusing
        tracking_125_ = tracking_125(
            record, fwd, url=f"{base}/track/{record.order_id}",
            active=moving and bool(fwd.get("tracking")), now=now,
        )
        if not fwd.get("tracking"):
            return reply(
                request, deps, now, {"tracking": tracking_125_},
                Error.of(Code.TRACKING_NOT_ENABLED, "tracking is not enabled for this order"),
            )
        return reply(request, deps, now, {"tracking": tracking_125_})
    if not fwd.get("tracking"):
        return reply(
            request,
            deps,
            now,
            {"tracking": {"id": fwd["id"], "status": "inactive"}},
            Error.of(Code.TRACKING_NOT_ENABLED, "tracking is not enabled for this order"),
        )
    start_location = (fwd.get("start") or {}).get("location") or {}
    tracking: dict[str, Any] = {
        "id": fwd["id"],
        "url": f"{base}/track/{record.order_id}",
        "status": "active" if moving else "inactive",
    }
    if start_location.get("gps"):
        tracking["location"] = {"gps": start_location["gps"]}
    return reply(request, deps, now, {"tracking": tracking})


async def handle_cancel(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(CancelMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    ctx = request.context
    record = await repository.find_for_request(
        session, transaction_id=ctx.transaction_id, order_id=msg.order_id, lock=True
    )
    if record is None:
        return reply(request, deps, now, {}, not_found(msg.order_id))
    if refused := other_version(request, deps, now, record.core_version):
        return refused
    found = record

    def answer(error: Error | None = None) -> list[OutboundMessage]:
        """on_cancel with the order as it stands (and the refusal, if any)."""
        return reply(request, deps, now, callback_message(found, "on_cancel"), error)

    reason = cancel_reason(msg.cancellation_reason_id, Party.BUYER, record.core_version)
    if reason is None:
        return answer(
            Error.of(
                Code.INVALID_CANCELLATION_REASON,
                f"{msg.cancellation_reason_id} is not a buyer cancellation reason",
                path="message.cancellation_reason_id",
            )
        )
    if not all(line.get("cancellable", True) for line in record.lines if line["count"]):
        return answer(
            Error.of(Code.CANCELLATION_NOT_POSSIBLE, "the order has non-cancellable items")
        )
    if reason.code in TAT_REASONS:
        tat = parse_duration(forward_fulfillment(record).get("@ondc/org/TAT") or "P0D")
        if now < record.created_at + tat:
            return answer(
                Error.of(Code.CANCELLATION_REJECTED_TAT, "the promised delivery time is not over")
            )
    try:
        await cancellation.cancel(
            session,
            record,
            reason,
            initiated_by=ctx.bap_id,
            actor="buyer",
            now=now,
            message_id=ctx.message_id,
        )
    except IllegalTransition as exc:
        return answer(Error.of(exc.code, exc.reason))
    return answer()


def _tag_values(tag: Tag) -> dict[str, str]:
    return {entry.code: entry.value or "" for entry in tag.entries}


async def handle_update(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(UpdateMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    ctx = request.context
    record = await repository.find_for_request(
        session, transaction_id=ctx.transaction_id, order_id=msg.order.id, lock=True
    )
    if record is None:
        return reply(request, deps, now, {}, not_found(msg.order.id))
    if refused := other_version(request, deps, now, record.core_version):
        return refused
    error: Error | None = None
    targets = msg.targets
    if not targets <= {"item", "payment", "fulfillment"}:
        error = Error.of(Code.UPDATE_NOT_POSSIBLE, f"unknown update_target {msg.update_target}")
    if error is None and "item" in targets:
        error = await _update_items(session, record, msg, ctx.bap_id, now)
    if error is None and "payment" in targets:
        error = _update_payment(record, msg, now)
    if error is None and "fulfillment" in targets:
        error = _update_fulfillment(record, msg, now)
    return reply(request, deps, now, order_message(record), error)


async def _update_items(
    session: AsyncSession, record: OrderRecord, msg: UpdateMessage, bap_id: str, now: datetime
) -> Error | None:
    returns = [f for f in msg.order.fulfillments if f.type == "Return"]
    if not returns:
        # buyer-initiated part cancel is not part of the retail contract (protocol.md 4.9)
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "only return requests may update items")
    for n, f in enumerate(msg.order.fulfillments):
        if f.type != "Return":
            continue
        request_tag = next((t for t in f.tags or [] if t.code == "return_request"), None)
        if request_tag is None:
            return Error.of(Code.INVALID_RETURN_REQUEST, "return_request tag missing")
        values = _tag_values(request_tag)
        return_id = values.get("id") or f.id or "R1"
        if len(return_id) > MAX_RETURN_ID:  # it becomes the Return fulfillment's id
            return Error.of(
                Code.INVALID_RETURN_REQUEST,
                f"return_request id is {len(return_id)} characters; at most {MAX_RETURN_ID}",
                f"message.order.fulfillments[{n}].tags",
            )
        reason_code = values.get("reason_id", "")
        if reason_code not in return_reasons(record.core_version):
            return Error.of(Code.INVALID_RETURN_REQUEST, f"invalid return reason {reason_code!r}")
        try:
            quantity = int(values.get("item_quantity", "0"))
        except ValueError:
            return Error.of(Code.INVALID_RETURN_REQUEST, "item_quantity must be a number")
        tag_dict = request_tag.dump()
        if "initiated_by" not in values:
            tag_dict["list"].append({"code": "initiated_by", "value": bap_id})
        try:
            await request_return(
                session,
                record,
                return_id=return_id,
                item_id=values.get("item_id", ""),
                quantity=quantity,
                reason_code=reason_code,
                reason_desc=values.get("reason_desc"),
                images=[u for u in values.get("images", "").split(",") if u],
                request_tag=tag_dict,
                initiated_by=bap_id,
                now=now,
            )
        except IllegalTransition as exc:
            return Error.of(exc.code, exc.reason)
    return None


def _update_payment(record: OrderRecord, msg: UpdateMessage, now: datetime) -> Error | None:
    """The buyer app reports the refund it settled (after a part cancel or return)."""
    if msg.order.payment is None or not msg.order.payment.settlement_details:
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "payment.@ondc/org/settlement_details missing")
    payment = copy.deepcopy(record.payment)
    details = payment.setdefault("@ondc/org/settlement_details", [])
    for detail in msg.order.payment.settlement_details:
        entry = detail.dump()
        if entry not in details:
            details.append(entry)
    record.payment = payment
    lifecycle.touch(record, now)
    return None


def _update_fulfillment(record: OrderRecord, msg: UpdateMessage, now: datetime) -> Error | None:
    """Delivery instructions / contact may change until pickup."""
    if record.fulfillment_state not in lifecycle.BEFORE_PICKUP:
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "the order has been picked up")
    fwd = copy.deepcopy(forward_fulfillment(record))
    for f in msg.order.fulfillments:
        if f.id not in (None, fwd["id"]) or f.end is None:
            continue
        end = f.end.dump()
        for key in ("instructions", "contact"):
            if key in end:
                fwd.setdefault("end", {})[key] = end[key]
    record.fulfillments = [fwd if x.get("id") == fwd["id"] else x for x in record.fulfillments]
    lifecycle.touch(record, now)
    return None
