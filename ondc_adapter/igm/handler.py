"""Seller logic of ``POST /issue`` (IGM 2.0.0): a buyer app's complaint and its later steps.

A new issue (one ``OPEN`` action) must name an order this node holds for that buyer app, in
the request's transaction, and only fulfilments and items of that order. It is stored and
answered at once with ``PROCESSING``, so no complaint waits unanswered. A later ``issue``
repeats the whole issue with the buyer's new action appended; ``rules`` decides whether it may
come now, and:

* ``INFO_PROVIDED``        is answered ``PROCESSING``;
* ``RESOLUTION_ACCEPTED``  is recorded (a refund goes into the order's settlements, once);
* ``RESOLUTION_REJECTED``  is recorded; the seller proposes again or the buyer escalates;
* ``ESCALATED``            makes the issue a GRIEVANCE; the GRO answers ``PROCESSING``;
* ``CLOSED``               closes it.

Whatever cannot be accepted is answered with an ``on_issue`` carrying the IGM error (IGM001 to
IGM009) and a message naming what is wrong; nothing is stored then.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.igm import rules, service, wire
from ondc_adapter.igm.models import Issue, IssueMessage
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueRecord
from ondc_adapter.orders.replies import callback_time
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.protocol.errors import ErrorType

AUTO_ANSWERED = {"INFO_PROVIDED": "PROCESSING", "INFO_NOT_AVAILABLE": "PROCESSING"}


def refusal_reply(
    request: InboundRequest, deps: SellerDeps, refusal: IssueRefusal
) -> list[OutboundMessage]:
    error = Error(
        type=ErrorType.DOMAIN, code=refusal.code, path=refusal.path, message=refusal.message
    )
    now = callback_time(request, deps)
    return [OutboundMessage.reply(request, {}, settings=deps.settings, now=now, error=error)]


async def handle_issue(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    try:
        parsed = IssueMessage.model_validate(request.message)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = "message." + ".".join(str(p) for p in first["loc"])
        return refusal_reply(request, deps, IssueRefusal("IGM001", first["msg"], path))
    try:
        async with session.begin_nested():  # a refusal leaves nothing behind
            return await _handle(request, session, deps, parsed.issue)
    except IssueRefusal as refusal:
        return refusal_reply(request, deps, refusal)


async def _handle(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps, issue: Issue
) -> list[OutboundMessage]:
    raw = wire.normalised(request.message["issue"])
    record = await service.find(session, issue.id, bap_id=request.context.bap_id, lock=True)
    if record is None:
        return await _open(request, session, deps, issue, raw)
    if record.transaction_id != request.context.transaction_id:
        raise IssueRefusal(
            "IGM009",
            f"issue {issue.id} belongs to transaction {record.transaction_id}",
            "context.transaction_id",
        )
    added = rules.new_actions(record.issue["actions"], raw["actions"])
    now = callback_time(request, deps)
    history = list(record.issue["actions"])
    status, level = record.status, record.level
    resolution_ids = {str(r.get("id")) for r in record.issue.get("resolutions") or []}
    for action in added:
        rules.check_buyer_action(
            action, status=status, level=level, history=history, resolution_ids=resolution_ids
        )
        history.append(action)
        code = action["descriptor"]["code"]
        status = rules.status_after(code, status)
        if code == "ESCALATED":
            level = "GRIEVANCE"
    # the buyer's copy is the issue now (its actions checked above); our resolutions stay ours
    raw["resolutions"] = record.issue.get("resolutions") or raw.get("resolutions") or []
    raw["status"], raw["level"] = status, level
    record.issue, record.status, record.level, record.updated_at = raw, status, level, now
    for action in added:
        session.add(service.event(record, "in", action, request.context.message_id, now))
    replies: list[OutboundMessage] = []
    last = added[-1]["descriptor"]["code"]
    for action in added:
        if action["descriptor"]["code"] == "RESOLUTION_ACCEPTED":
            await service.carry_out_acceptance(session, record, str(action["ref_id"]), now)
    if last in ("CLOSED", "CLOSE"):
        record.closed_at = now
    elif last == "ESCALATED":
        replies.append(
            await service.take_action(
                session,
                deps.settings,
                record,
                code="PROCESSING",
                now=now,
                reply_to=request,
                text="Grievance taken up by the grievance redressal officer",
            )
        )
    elif last in AUTO_ANSWERED:
        replies.append(
            await service.take_action(
                session,
                deps.settings,
                record,
                code=AUTO_ANSWERED[last],
                now=now,
                reply_to=request,
                text="Information received; the seller is looking into it",
            )
        )
    return replies


async def _open(
    request: InboundRequest,
    session: AsyncSession,
    deps: SellerDeps,
    issue: Issue,
    raw: dict[str, Any],
) -> list[OutboundMessage]:
    if [a.code for a in issue.actions] != ["OPEN"] or issue.status != "OPEN":
        raise IssueRefusal(
            "IGM005",
            f"issue {issue.id} is not known here; a new issue has one action, OPEN",
            "message.issue.id",
        )
    order = await _order_of(session, request, issue)
    await _check_not_duplicate(session, request, issue, order)
    now = callback_time(request, deps)
    created = parse_timestamp(issue.created_at)
    respond_by, resolve_by = service.deadlines_for(deps.settings, created)
    record = IssueRecord(
        issue_id=issue.id,
        bap_id=request.context.bap_id,
        role="respondent",
        transaction_id=request.context.transaction_id,
        order_pk=order.id,
        order_id=order.order_id,
        domain=request.context.domain,
        category=issue.descriptor.code,
        status="OPEN",
        level=issue.level,
        issue=raw,
        context=request.context.model_dump(exclude_none=True),
        created_at=created,
        updated_at=now,
        respond_by=respond_by,
        resolve_by=resolve_by,
    )
    session.add(record)
    await session.flush()
    session.add(service.event(record, "in", raw["actions"][-1], request.context.message_id, now))
    reply = await service.take_action(
        session, deps.settings, record, code="PROCESSING", now=now, reply_to=request
    )
    return [reply]


async def _order_of(session: AsyncSession, request: InboundRequest, issue: Issue) -> OrderRecord:
    orders = issue.refs_of("ORDER")
    if not orders:
        raise IssueRefusal("IGM002", "the issue names no ORDER in refs", "message.issue.refs")
    order = (
        await session.scalars(
            select(OrderRecord).where(
                OrderRecord.order_id == orders[0], OrderRecord.bap_id == request.context.bap_id
            )
        )
    ).first()
    # another buyer app's order is "not found" too: its existence is not ours to reveal
    if order is None:
        raise IssueRefusal("IGM002", f"order {orders[0]} does not exist", "message.issue.refs")
    if order.transaction_id != request.context.transaction_id:
        raise IssueRefusal(
            "IGM009",
            f"order {orders[0]} was placed in another transaction",
            "context.transaction_id",
        )
    fulfillments = {str(f.get("id")) for f in order.fulfillments}
    for ref in issue.refs_of("FULFILMENT"):
        if ref not in fulfillments:
            raise IssueRefusal(
                "IGM003",
                f"fulfilment {ref} is not part of order {order.order_id}",
                "message.issue.refs",
            )
    items = {str(i.get("id")) for i in order.items}
    for ref in issue.refs_of("ITEM"):
        if ref not in items:
            raise IssueRefusal(
                "IGM004",
                f"item {ref} is not part of order {order.order_id}",
                "message.issue.refs",
            )
    providers = issue.refs_of("PROVIDER")
    if providers and providers[0] != order.provider_id:
        raise IssueRefusal(
            "IGM001",
            f"provider {providers[0]} did not take order {order.order_id}",
            "message.issue.refs",
        )
    return order


async def _check_not_duplicate(
    session: AsyncSession, request: InboundRequest, issue: Issue, order: OrderRecord
) -> None:
    """One open complaint per order, item set and category (ONDC's IGM008)."""
    items = sorted(issue.refs_of("ITEM"))
    open_ones = await session.scalars(
        select(IssueRecord).where(
            IssueRecord.order_pk == order.id,
            IssueRecord.category == issue.descriptor.code,
            IssueRecord.status != "CLOSED",
        )
    )
    for other in open_ones:
        other_items = sorted(
            r["ref_id"] for r in other.issue.get("refs", []) if r.get("ref_type") == "ITEM"
        )
        if other_items == items:
            raise IssueRefusal(
                "IGM008",
                f"issue {other.issue_id} about the same items and category is still open",
                "message.issue.id",
            )
