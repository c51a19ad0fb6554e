"""Changes to a confirmed order: accept, move the forward fulfillment, cancel (full, with RTO,
part), returns. Each change checks the state machine, updates the wire objects the record
keeps, adjusts the quote with a ``quote_trail``, gives stock back when goods come back, and
writes the transition journal, all in the caller's transaction.

Buyer handlers and seller service functions both call these, so the same rules hold whoever
asks. Refusals raise ``IllegalTransition`` with a reason and the ONDC code to report.

The changes live by what they are:

* ``forward``       accept, and the Delivery fulfillment's moves up to Order-delivered
* ``cancellation``  a full cancel (before pickup; after it, with an RTO) and a merchant part
                    cancel
* ``returns``       a buyer's return, from the request to the refund, and the moves of the RTO
                    and Return fulfillments (``move_fulfillment``)
* ``repricing``     the quote once units leave the order, and its ``quote_trail``

This module holds what they share: ``IllegalTransition``, the order-state move with its journal
entry, and the record edits every change makes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders import repository
from ondc_adapter.orders.state import F, OrderState, check_order
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.errors import Code

# Forward states in which the parcel is still at the store: a part cancel, or new delivery
# instructions, are still possible (Pickup-failed: retail 1.2.5, the agent left without it).
BEFORE_PICKUP = frozenset(
    {F.PENDING, F.PACKED, F.AGENT_ASSIGNED, F.OUT_FOR_PICKUP, F.AT_PICKUP, F.PICKUP_FAILED}
)


class IllegalTransition(ValueError):
    """A refused change: ``reason`` for people, ``code`` for the callback's error."""

    def __init__(self, reason: str, code: Code = Code.UPDATE_NOT_POSSIBLE) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def touch(record: OrderRecord, now: datetime) -> None:
    record.updated_at = now
    record.updated_at_text = format_timestamp(now)


def replace_fulfillment(record: OrderRecord, new: dict[str, Any]) -> None:
    record.fulfillments = [new if f.get("id") == new.get("id") else f for f in record.fulfillments]


def set_order_state(
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
        session,
        record,
        entity="order",
        from_state=record.state,
        to_state=target.value,
        actor=actor,
        at=now,
        reason=reason,
        reason_code=reason_code,
    )
    record.state = target.value
