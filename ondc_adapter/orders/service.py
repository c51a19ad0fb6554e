"""The seller's side of an order, shared by the admin API and the CLI: list, show, accept,
advance a fulfillment, cancel, part-cancel, and a buyer return: approve (reverse pickup),
reject (with a rejection reason code), liquidate, picked / pick failed, reverse QC on arrival.

Each action checks the rules (``lifecycle``), writes the change and its journal entries, and
enqueues the unsolicited callback the flow requires (``on_status``, ``on_cancel`` or
``on_update``, a fresh message_id in the order's transaction) in the caller's transaction: the
buyer app is told if and only if the change was committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter import outbox
from ondc_adapter.catalogue.handler import push_stock_changes
from ondc_adapter.exchange import OutboundMessage
from ondc_adapter.orders import cancellation, forward, repository, returns
from ondc_adapter.orders.after125 import callback_message
from ondc_adapter.orders.build import (
    forward_fulfillment,
    fulfillment,
    fulfillment_state,
)
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.reasons import (
    QC_FAILED,
    QC_PASSED,
    Party,
    cancel_reason,
    return_rejection_reasons,
)
from ondc_adapter.orders.state import FState, FulfillmentType
from ondc_adapter.orders.tables import OrderRecord, OrderTransition
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.errors import Code
from ondc_adapter.settings import Settings

__all__ = [
    "IllegalTransition",
    "OrderNotFound",
    "Outcome",
    "accept",
    "advance",
    "approve_return",
    "cancel",
    "confirmation_failure",
    "liquidate_return",
    "list_orders",
    "part_cancel",
    "reject_return",
    "return_picked",
    "return_qc",
    "show",
]


class OrderNotFound(LookupError):
    pass


@dataclass(slots=True)
class Outcome:
    record: OrderRecord
    messages: list[OutboundMessage] = field(default_factory=list)


async def _load(session: AsyncSession, order_id: str) -> OrderRecord:
    record = await repository.find_by_order_id(session, order_id, lock=True)
    if record is None:
        raise OrderNotFound(f"order {order_id} not found")
    return record


async def _push(
    session: AsyncSession, record: OrderRecord, action: str, settings: Settings, now: datetime
) -> OutboundMessage:
    """The unsolicited callback of a seller action, plus the incremental ``on_search`` of any
    stock the action gave back (a cancel, an RTO, a returned item). It speaks the order's
    retail version (its column, the one the transaction started in), whatever the node's
    default: a buyer app that ordered in 1.2.5 hears about the order in 1.2.5."""
    base = Context.model_validate({**record.context, "core_version": record.core_version})
    message = OutboundMessage.unsolicited(
        base, action, callback_message(record, action), settings=settings, now=now
    )
    await outbox.enqueue(session, message, now=now)
    await push_stock_changes(session, settings, now=now)
    return message


async def list_orders(
    session: AsyncSession, *, state: str | None = None, limit: int = 50, offset: int = 0
) -> list[OrderRecord]:
    return await repository.list_orders(session, state=state, limit=limit, offset=offset)


async def show(session: AsyncSession, order_id: str) -> tuple[OrderRecord, list[OrderTransition]]:
    record = await repository.find_by_order_id(session, order_id)
    if record is None:
        raise OrderNotFound(f"order {order_id} not found")
    return record, await repository.transitions(session, record.id)


async def accept(
    session: AsyncSession, settings: Settings, order_id: str, *, now: datetime
) -> Outcome:
    """Accept a deferred order (Created -> Accepted); the buyer learns it by on_status."""
    record = await _load(session, order_id)
    await forward.accept(session, record, actor="seller", now=now)
    return Outcome(record, [await _push(session, record, "on_status", settings, now)])


async def advance(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    state: str,
    *,
    now: datetime,
    fulfillment_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str = "seller",
    reason_code: str | None = None,
) -> Outcome:
    """Move a fulfillment: the forward one by default (Packed, Agent-assigned,
    Order-picked-up, ..., Order-delivered), or an RTO / Return fulfillment by id.

    For a Return (``returns`` has the rules): Return_Approved takes ``details``
    ``pickup_start`` / ``pickup_end`` (default: the next 24 h); Return_Rejected needs
    ``reason_code`` (``reason`` may carry the code instead, as the sandbox's steps do);
    Return_Picked takes ``agent_name`` / ``agent_phone``; Return_Delivered is reverse QC
    passed, Return_Failed after pickup is QC failed (``qc_remarks`` in ``details``)."""
    try:
        target = FState(state)
    except ValueError as exc:
        raise IllegalTransition(f"unknown fulfillment state {state!r}") from exc
    record = await _load(session, order_id)
    fid = fulfillment_id or forward_fulfillment(record)["id"]
    f = fulfillment(record, fid)
    if f is None:
        raise IllegalTransition(f"order has no fulfillment {fid}", Code.FULFILLMENT_NOT_FOUND)
    kind = f.get("type", FulfillmentType.DELIVERY.value)
    if kind == FulfillmentType.DELIVERY.value:
        await forward.advance(
            session, record, target, actor=actor, now=now, reason=reason, details=details
        )
        action = "on_status"
    else:
        if (
            target == FState.RETURN_REJECTED
            and reason_code is None
            and reason in return_rejection_reasons(record.core_version)
        ):
            reason_code, reason = reason, None
        await returns.move_fulfillment(
            session, record, fid, target, actor=actor, now=now, reason=reason,
            reason_code=reason_code, details=details, initiated_by=settings.subscriber_id,
        )
        action = "on_update" if kind == FulfillmentType.RETURN.value else "on_status"
    return Outcome(record, [await _push(session, record, action, settings, now)])


async def cancel(
    session: AsyncSession, settings: Settings, order_id: str, reason_code: str, *, now: datetime
) -> Outcome:
    """Seller cancel (whole order) with a seller/LSP reason of the order's retail version;
    after pickup only RTO reasons."""
    record = await _load(session, order_id)
    reason = cancel_reason(reason_code, Party.SELLER, record.core_version)
    if reason is None:
        raise IllegalTransition(
            f"{reason_code} is not a seller cancellation reason in retail {record.core_version}",
            Code.INVALID_CANCELLATION_REASON,
        )
    await cancellation.cancel(
        session, record, reason, initiated_by=settings.subscriber_id, actor="seller", now=now
    )
    return Outcome(record, [await _push(session, record, "on_cancel", settings, now)])


async def confirmation_failure(
    session: AsyncSession, settings: Settings, order_id: str, *, now: datetime,
    reason_code: str = "998",
) -> Outcome:
    """The buyer app NACKed our on_confirm or never answered it (protocol.md 4.6): cancel
    with 998 and tell it by on_cancel. For the callback dispatcher, not for merchants."""
    record = await _load(session, order_id)
    reason = cancel_reason(reason_code, Party.SYSTEM, record.core_version)
    if reason is None:
        raise IllegalTransition(
            f"{reason_code} is not a confirmation-failure code", Code.INVALID_CANCELLATION_REASON
        )
    await cancellation.cancel(
        session, record, reason, initiated_by=settings.subscriber_id, actor="system", now=now
    )
    return Outcome(record, [await _push(session, record, "on_cancel", settings, now)])


async def part_cancel(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    quantities: dict[str, int],
    *,
    now: datetime,
    reason_code: str = "002",
) -> Outcome:
    """Merchant part-cancel (some units unavailable): unsolicited on_update."""
    record = await _load(session, order_id)
    reason = cancel_reason(reason_code, Party.SELLER, record.core_version)
    if reason is None:
        raise IllegalTransition(
            f"{reason_code} is not a seller cancellation reason in retail {record.core_version}",
            Code.INVALID_CANCELLATION_REASON,
        )
    await cancellation.part_cancel(
        session, record, quantities, reason, initiated_by=settings.subscriber_id,
        actor="seller", now=now,
    )
    return Outcome(record, [await _push(session, record, "on_update", settings, now)])


async def _return(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    return_id: str,
    target: FState,
    *,
    now: datetime,
    reason: str | None = None,
    reason_code: str | None = None,
    details: dict[str, Any] | None = None,
    require: tuple[FState, str] | None = None,
) -> Outcome:
    """Move return ``return_id`` to ``target``; ``require``: the state it must be in now, and
    why (the refusal's message)."""
    record = await _load(session, order_id)
    f = fulfillment(record, return_id)
    if f is None or f.get("type") != FulfillmentType.RETURN.value:
        raise IllegalTransition(f"order has no return {return_id}", Code.FULFILLMENT_NOT_FOUND)
    current = fulfillment_state(f)
    if require is not None and current != require[0].value:
        state, why = require
        raise IllegalTransition(
            f"{why} ({state.value}); {return_id} is {current}", Code.FULFILLMENT_TERMINAL
        )
    await returns.move_fulfillment(
        session, record, return_id, target, actor="seller", now=now, reason=reason,
        reason_code=reason_code, details=details, initiated_by=settings.subscriber_id,
    )
    return Outcome(record, [await _push(session, record, "on_update", settings, now)])


async def approve_return(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    return_id: str,
    *,
    now: datetime,
    pickup_start: str | None = None,
    pickup_end: str | None = None,
) -> Outcome:
    """Return_Approved: the item will be collected from the buyer (reverse pickup in the
    window ``pickup_start`` .. ``pickup_end``, default the next 24 h). No refund yet."""
    details = {"pickup_start": pickup_start, "pickup_end": pickup_end}
    return await _return(
        session, settings, order_id, return_id, FState.RETURN_APPROVED, now=now, details=details
    )


async def reject_return(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    return_id: str,
    reason_code: str,
    *,
    now: datetime,
    remarks: str | None = None,
) -> Outcome:
    """Return_Rejected with a rejection reason code (``reasons.RETURN_REJECTION_REASONS``)."""
    return await _return(
        session, settings, order_id, return_id, FState.RETURN_REJECTED, now=now,
        reason=remarks, reason_code=reason_code,
    )


async def liquidate_return(
    session: AsyncSession, settings: Settings, order_id: str, return_id: str, *, now: datetime
) -> Outcome:
    """Liquidated: refund now, the buyer keeps the item (no pickup, no stock back)."""
    return await _return(session, settings, order_id, return_id, FState.LIQUIDATED, now=now)


async def return_picked(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    return_id: str,
    *,
    now: datetime,
    failed: bool = False,
    reason: str | None = None,
    agent_name: str | None = None,
    agent_phone: str | None = None,
) -> Outcome:
    """Return_Picked (the reverse QC clock starts), or Return_Pick_Failed when ``failed``."""
    target = FState.RETURN_PICK_FAILED if failed else FState.RETURN_PICKED
    details = {"agent_name": agent_name, "agent_phone": agent_phone}
    return await _return(
        session, settings, order_id, return_id, target, now=now, reason=reason, details=details
    )


async def return_qc(
    session: AsyncSession,
    settings: Settings,
    order_id: str,
    return_id: str,
    result: str,
    *,
    now: datetime,
    remarks: str | None = None,
) -> Outcome:
    """The returned item arrived; record the reverse QC: ``passed`` -> Return_Delivered
    (refund, stock back), ``failed`` -> Return_Failed (no refund)."""
    result = result.lower()
    if result not in (QC_PASSED, QC_FAILED):
        raise IllegalTransition(f"reverse QC result must be {QC_PASSED} or {QC_FAILED}")
    target = FState.RETURN_DELIVERED if result == QC_PASSED else FState.RETURN_FAILED
    # Return_Failed is also reachable from Return_Approved, so the state machine alone would
    # let a QC result through before any pickup
    return await _return(
        session, settings, order_id, return_id, target, now=now,
        details={"qc": result, "qc_remarks": remarks},
        require=(FState.RETURN_PICKED, "reverse QC needs the item picked up"),
    )


def summary(record: OrderRecord) -> dict[str, Any]:
    """One line of ``orders list``."""
    return {
        "order_id": record.order_id,
        "transaction_id": record.transaction_id,
        "bap_id": record.bap_id,
        "provider_id": record.provider_id,
        "state": record.state,
        "fulfillment_state": record.fulfillment_state,
        "total": record.quote["price"]["value"],
        "created_at": record.created_at_text,
        "updated_at": record.updated_at_text,
    }


def transition_dict(t: OrderTransition) -> dict[str, Any]:
    return {
        "entity": t.entity,
        "fulfillment_id": t.fulfillment_id,
        "from": t.from_state,
        "to": t.to_state,
        "actor": t.actor,
        "reason": t.reason,
        "reason_code": t.reason_code,
        "at": t.at.isoformat(),
    }
