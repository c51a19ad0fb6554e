"""Console pages for orders: open and today's orders first, an order's timeline, and the
seller's actions (accept, move the delivery on, cancel, part-cancel, returns).

Each action calls the same ``orders.service`` function as the CLI and the admin API, in one
transaction with the ``on_status`` / ``on_update`` / ``on_cancel`` it enqueues; the dispatcher is
woken so the buyer app hears of it at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.console.i18n import INDIA
from ondc_adapter.console.web import NotFound, Page, page_for, redirect
from ondc_adapter.orders import repository, service
from ondc_adapter.orders.forward import routing_of
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.reasons import (
    CANCEL_REASONS,
    RETURN_REJECTION_REASONS,
    Party,
    cancel_reason,
)
from ondc_adapter.orders.state import FState, FulfillmentType, delivery_machine
from ondc_adapter.orders.tables import OrderRecord, OrderReturn
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.protocol.versions import RetailVersion

router = APIRouter(prefix="/console/orders", include_in_schema=False)

PAGE_SIZE = 30
CLOSED = ("Completed", "Cancelled")
# The forward states a seller moves an order through from the console, in order (the first
# one allowed is the page's primary button).
FORWARD = (
    FState.PACKED, FState.AGENT_ASSIGNED, FState.ORDER_PICKED_UP, FState.OUT_FOR_DELIVERY,
    FState.ORDER_DELIVERED,
)
# Retail 1.2.5: the states of both routings, the way forward before the failed attempts; an
# order is offered those its routing allows from where it is (orders.state.delivery_machine).
FORWARD_125 = (
    FState.PACKED, FState.AGENT_ASSIGNED, FState.OUT_FOR_PICKUP, FState.AT_PICKUP,
    FState.ORDER_PICKED_UP, FState.IN_TRANSIT, FState.AT_DESTINATION_HUB,
    FState.OUT_FOR_DELIVERY, FState.AT_DELIVERY, FState.ORDER_DELIVERED, FState.PICKUP_FAILED,
    FState.DELIVERY_FAILED,
)
SELLER_CANCEL_REASONS = tuple(
    r for code, r in CANCEL_REASONS.items() if cancel_reason(code, Party.SELLER) is not None
    and Party.SYSTEM not in r.parties
)
PART_CANCEL_REASONS = tuple(r for r in SELLER_CANCEL_REASONS if r.part_cancel)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("", response_class=HTMLResponse)
async def list_orders(
    request: Request, offset: int = 0, page: Page = Depends(page_for)
) -> Response:
    who = page.require()
    offset = max(0, min(offset, 10_000_000))
    now = _now()
    start_of_day = (
        now.astimezone(INDIA).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    )
    is_open = case((OrderRecord.state.in_(CLOSED), 1), else_=0)
    query = select(OrderRecord)
    counting = select(func.count()).select_from(OrderRecord)
    if not who.operator:
        query = query.where(OrderRecord.provider_id == who.provider_id)
        counting = counting.where(OrderRecord.provider_id == who.provider_id)
    async with page.db.session() as session:
        total = int(await session.scalar(counting) or 0)
        rows = list(
            (
                await session.scalars(
                    query.order_by(is_open, OrderRecord.created_at.desc(), OrderRecord.id.desc())
                    .offset(offset).limit(PAGE_SIZE)
                )
            ).all()
        )
    return page.render(
        "orders.html", orders=rows, total=total, offset=offset, page_size=PAGE_SIZE,
        today=start_of_day, closed=CLOSED,
    )


async def _order(session: AsyncSession, page: Page, order_id: str) -> OrderRecord:
    record = await repository.find_by_order_id(session, order_id[:64])
    if record is None or not page.require().may_see(record.provider_id):
        raise NotFound
    return record


@dataclass(frozen=True, slots=True)
class PaymentView:
    """What the seller needs to know of the money: cash to collect at the door, or paid."""

    cash_on_delivery: bool
    paid: bool
    paid_at: datetime | None


def payment_of(record: OrderRecord) -> PaymentView:
    payment = record.payment or {}
    stamp = (payment.get("time") or {}).get("timestamp")
    try:
        paid_at = parse_timestamp(str(stamp)) if stamp else None
    except ValueError:
        paid_at = None
    return PaymentView(
        cash_on_delivery=payment.get("type") == "ON-FULFILLMENT",
        paid=payment.get("status") == "PAID",
        paid_at=paid_at,
    )


def next_states(record: OrderRecord) -> list[FState]:
    """The buttons of the order page: where the seller may move the parcel next. A 1.2.5
    order follows its routing (a P2P parcel is never in transit, a P2H2P one never "at
    delivery"), so a button never leads to a refusal."""
    try:
        current = FState(record.fulfillment_state)
    except ValueError:
        return []
    forward = next(
        (f for f in record.fulfillments if f.get("type") == FulfillmentType.DELIVERY.value), {}
    )
    machine = delivery_machine(record.core_version, routing_of(forward))
    allowed = machine.get(current, frozenset())
    order = FORWARD_125 if record.core_version == RetailVersion.V1_2_5.value else FORWARD
    return [s for s in order if s in allowed]


@router.get("/{order_id}", response_class=HTMLResponse)
async def show_order(
    request: Request, order_id: str, page: Page = Depends(page_for)
) -> Response:
    async with page.db.session() as session:
        record = await _order(session, page, order_id)
        _record, journal = await service.show(session, record.order_id)
        returns = list(
            (
                await session.scalars(
                    select(OrderReturn).where(OrderReturn.order_pk == record.id)
                    .order_by(OrderReturn.id)
                )
            ).all()
        )
    end = next(
        (f.get("end", {}) for f in record.fulfillments if f.get("type") == "Delivery"), {}
    )
    return page.render(
        "order.html", order=record, journal=journal, returns=returns,
        next_states=next_states(record), end=end, payment=payment_of(record),
        cancel_reasons=SELLER_CANCEL_REASONS, part_reasons=PART_CANCEL_REASONS,
        rejection_reasons=RETURN_REJECTION_REASONS, closed=CLOSED,
        done=request.query_params.get("done"), error=request.query_params.get("error"),
    )


Action = Callable[[AsyncSession, Any, str, datetime], Awaitable[Any]]


async def _act(page: Page, order_id: str, action: Action) -> Response:
    settings = page.request.app.state.settings
    try:
        async with page.db.session() as session:
            record = await _order(session, page, order_id)
            await action(session, settings, record.order_id, _now())
    except (IllegalTransition, service.OrderNotFound) as exc:
        reason = getattr(exc, "reason", str(exc))
        async with page.db.session() as session:
            record = await _order(session, page, order_id)
        return page.render(
            "message.html", status_code=409, title=page._("Not possible now"),
            message=page._("This step cannot be taken in the order's present state: {why}",
                           why=reason),
            back=f"/console/orders/{record.order_id}",
        )
    dispatcher = getattr(page.request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    return redirect(f"/console/orders/{order_id}?done=1")


@router.post("/{order_id}/accept", response_class=HTMLResponse)
async def accept(order_id: str, page: Page = Depends(page_for)) -> Response:
    await page.form()
    return await _act(
        page, order_id, lambda s, st, oid, now: service.accept(s, st, oid, now=now)
    )


@router.post("/{order_id}/advance", response_class=HTMLResponse)
async def advance(order_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    state = form.get("state", "")
    if state not in {s.value for s in (*FORWARD, *FORWARD_125)}:
        raise NotFound
    details = {}
    for name in ("agent_name", "agent_phone"):
        if form.get(name, "").strip():
            details[name] = form[name].strip()[:100]
    return await _act(
        page, order_id,
        lambda s, st, oid, now: service.advance(s, st, oid, state, now=now, details=details),
    )


@router.post("/{order_id}/cancel", response_class=HTMLResponse)
async def cancel(order_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    code = form.get("reason_code", "")
    if code not in {r.code for r in SELLER_CANCEL_REASONS}:
        raise NotFound
    return await _act(
        page, order_id, lambda s, st, oid, now: service.cancel(s, st, oid, code, now=now)
    )


@router.post("/{order_id}/part-cancel", response_class=HTMLResponse)
async def part_cancel(order_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()
    code = form.get("reason_code", "")
    item_id = form.get("item_id", "")[:64]
    try:
        quantity = int(form.get("quantity", ""))
    except ValueError:
        quantity = 0
    if code not in {r.code for r in PART_CANCEL_REASONS} or quantity < 1:
        raise NotFound
    return await _act(
        page, order_id,
        lambda s, st, oid, now: service.part_cancel(
            s, st, oid, {item_id: quantity}, reason_code=code, now=now
        ),
    )


@router.post("/{order_id}/returns/{return_id}/{step}", response_class=HTMLResponse)
async def return_step(
    order_id: str, return_id: str, step: str, page: Page = Depends(page_for)
) -> Response:
    form = await page.form()
    rid = return_id[:32]
    steps: dict[str, Action] = {
        "approve": lambda s, st, oid, now: service.approve_return(
            s, st, oid, rid, pickup_start=None, pickup_end=None, now=now),
        "picked": lambda s, st, oid, now: service.return_picked(s, st, oid, rid, now=now),
        "qc-passed": lambda s, st, oid, now: service.return_qc(s, st, oid, rid, "passed",
                                                               now=now),
        "qc-failed": lambda s, st, oid, now: service.return_qc(s, st, oid, rid, "failed",
                                                               now=now),
    }
    if step == "reject":
        code = form.get("reason_code", "")
        if code not in RETURN_REJECTION_REASONS:
            raise NotFound
        steps["reject"] = lambda s, st, oid, now: service.reject_return(
            s, st, oid, rid, code, now=now)
    action = steps.get(step)
    if action is None:
        raise NotFound
    return await _act(page, order_id, action)


def started_today(record: OrderRecord, today: datetime) -> bool:
    return record.created_at >= today and record.created_at < today + timedelta(days=1)
