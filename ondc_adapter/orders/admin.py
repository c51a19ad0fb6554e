"""Seller admin HTTP API for orders (``/admin/orders``, ``X-API-Key``).

Thin: each route opens one transaction, calls ``orders.service`` and wakes the callback
dispatcher so the unsolicited on_status / on_cancel / on_update leaves at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ondc_adapter.api.admin_auth import require_admin
from ondc_adapter.orders import service, settlements
from ondc_adapter.orders.build import wire_order
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.storage import Database

router = APIRouter(prefix="/admin/orders", tags=["orders"], dependencies=[Depends(require_admin)])


class AdvanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(
        examples=["Packed", "Order-picked-up", "Order-delivered", "RTO-Delivered"],
        description=(
            "the next state. A retail 1.2.5 order moves by its routing (the on_confirm routing "
            "tag): P2P Packed, Agent-assigned, At-pickup, Order-picked-up, At-delivery, "
            "Order-delivered; P2H2P adds Out-for-pickup, Pickup-failed, In-transit, "
            "At-destination-hub, Out-for-delivery, Delivery-failed and has no At-pickup or "
            "At-delivery. A move the order's machine lacks is a 409 naming the allowed next "
            "states. When certifying, leave the optional At-delivery out: ONDC's 1.2.5 checker "
            "of it refuses every At-delivery status as written."
        ),
    )
    fulfillment_id: str | None = Field(
        default=None, description="an RTO or Return fulfillment; default the delivery"
    )
    reason: str | None = None
    agent_name: str | None = None
    agent_phone: str | None = None
    vehicle: str | None = None
    invoice_url: str | None = None
    pickup_code: str | None = None
    reason_code: str | None = Field(
        default=None, description="Return_Rejected: a return rejection reason code"
    )
    pickup_start: str | None = Field(default=None, description="Return_Approved: window start")
    pickup_end: str | None = Field(default=None, description="Return_Approved: window end")
    qc_remarks: str | None = Field(
        default=None, description="Return_Delivered / Return_Failed: reverse QC remarks"
    )


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: str = Field(examples=["005", "013"])


class PartCancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: dict[str, int] = Field(min_length=1, examples=[{"I2": 1}])
    reason_code: str = "002"


class ApproveReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_start: str | None = Field(default=None, examples=["2026-11-28T10:00:00.000Z"])
    pickup_end: str | None = Field(default=None, examples=["2026-11-28T18:00:00.000Z"])


class RejectReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: str = Field(examples=["001", "002"])
    remarks: str | None = None


class ReturnPickedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failed: bool = Field(default=False, description="the pickup attempt failed")
    reason: str | None = None
    agent_name: str | None = None
    agent_phone: str | None = None


class ReturnQcBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: Literal["passed", "failed"]
    remarks: str | None = None


def _db(request: Request) -> Database:
    db = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(status_code=503, detail="database not ready")
    return db  # type: ignore[no-any-return]


def _clock(request: Request) -> Callable[[], datetime]:
    return getattr(request.app.state, "clock", None) or utcnow


def _wake(request: Request) -> None:
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()


async def _act(request: Request, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    settings = request.app.state.settings
    try:
        async with _db(request).session() as session:
            outcome = await fn(session, settings, *args, now=_clock(request)(), **kwargs)
    except service.OrderNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except IllegalTransition as exc:
        raise HTTPException(
            status_code=409, detail={"reason": exc.reason, "code": exc.code.value}
        ) from None
    _wake(request)
    return {
        "order": wire_order(outcome.record),
        "sent": [{"action": m.action, "message_id": m.message_id} for m in outcome.messages],
    }


@router.get("")
async def list_orders(
    request: Request,
    state: str | None = Query(default=None, examples=["Accepted"]),
    limit: int = Query(default=50, ge=1, le=500),
    # bounded: a huge offset would overflow the database's BIGINT (an error, not a 4xx)
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    async with _db(request).session() as session:
        rows = await service.list_orders(session, state=state, limit=limit, offset=offset)
        return {"orders": [service.summary(r) for r in rows]}


@router.get("/{order_id}")
async def show_order(request: Request, order_id: str) -> dict[str, Any]:
    try:
        async with _db(request).session() as session:
            record, journal = await service.show(session, order_id)
            return {
                "order": wire_order(record),
                "transitions": [service.transition_dict(t) for t in journal],
                # money paid back after the order (an IGM refund accepted): quote_trail-style
                "settlements": settlements.as_quote_trail(
                    await settlements.of_order(session, record.id)
                ),
            }
    except service.OrderNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.post("/{order_id}/accept")
async def accept(request: Request, order_id: str) -> dict[str, Any]:
    return await _act(request, service.accept, order_id)


@router.post("/{order_id}/advance")
async def advance(request: Request, order_id: str, body: AdvanceBody) -> dict[str, Any]:
    details = body.model_dump(
        include={
            "agent_name", "agent_phone", "vehicle", "invoice_url", "pickup_code",
            "pickup_start", "pickup_end", "qc_remarks",
        },
        exclude_none=True,
    )
    return await _act(
        request, service.advance, order_id, body.state, fulfillment_id=body.fulfillment_id,
        reason=body.reason, details=details, reason_code=body.reason_code,
    )


@router.post("/{order_id}/cancel")
async def cancel(request: Request, order_id: str, body: CancelBody) -> dict[str, Any]:
    return await _act(request, service.cancel, order_id, body.reason_code)


@router.post("/{order_id}/part-cancel")
async def part_cancel(request: Request, order_id: str, body: PartCancelBody) -> dict[str, Any]:
    return await _act(
        request, service.part_cancel, order_id, body.items, reason_code=body.reason_code
    )


# ---------------------------------------------------------------- buyer returns


@router.post("/{order_id}/returns/{return_id}/approve")
async def approve_return(
    request: Request, order_id: str, return_id: str, body: ApproveReturnBody | None = None
) -> dict[str, Any]:
    body = body or ApproveReturnBody()
    return await _act(
        request, service.approve_return, order_id, return_id,
        pickup_start=body.pickup_start, pickup_end=body.pickup_end,
    )


@router.post("/{order_id}/returns/{return_id}/reject")
async def reject_return(
    request: Request, order_id: str, return_id: str, body: RejectReturnBody
) -> dict[str, Any]:
    return await _act(
        request, service.reject_return, order_id, return_id, body.reason_code,
        remarks=body.remarks,
    )


@router.post("/{order_id}/returns/{return_id}/liquidate")
async def liquidate_return(request: Request, order_id: str, return_id: str) -> dict[str, Any]:
    return await _act(request, service.liquidate_return, order_id, return_id)


@router.post("/{order_id}/returns/{return_id}/picked")
async def return_picked(
    request: Request, order_id: str, return_id: str, body: ReturnPickedBody | None = None
) -> dict[str, Any]:
    body = body or ReturnPickedBody()
    return await _act(
        request, service.return_picked, order_id, return_id, failed=body.failed,
        reason=body.reason, agent_name=body.agent_name, agent_phone=body.agent_phone,
    )


@router.post("/{order_id}/returns/{return_id}/qc")
async def return_qc(
    request: Request, order_id: str, return_id: str, body: ReturnQcBody
) -> dict[str, Any]:
    return await _act(
        request, service.return_qc, order_id, return_id, body.result, remarks=body.remarks
    )
