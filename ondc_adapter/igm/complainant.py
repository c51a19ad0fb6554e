"""This node as the complainant (IGM flow 2): the seller raises an issue with a buyer app.

A seller complains to a buyer app too: its store is not shown, a catalogue is rendered wrong,
a payment is not settled. ``raise_issue`` sends ``issue`` (OPEN) to the buyer app of a
transaction the node took part in, with the store (``PROVIDER``) as the source and this node
(``INTERFACING_NP``) as the complainant; refs name the transaction and the store, as flow 2
requires. The buyer app answers with ``on_issue`` (``handle_on_issue``: recorded, never
answered), and the seller goes on with ``provide_info``, ``accept``, ``reject``, ``escalate``
(to the buyer app's GRO, level GRIEVANCE) and ``close``.

Each ``issue`` carries the whole issue as last exchanged with one action of ours appended;
``created_at <= updated_at == the new action's time == context.timestamp``, as ONDC's log
validator checks an ``issue``.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.tables import Provider
from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.igm import rules, service, wire
from ondc_adapter.igm.models import IssueMessage
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueRecord
from ondc_adapter.igm.wire import SUPPORT
from ondc_adapter.logging import get_logger
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp, parse_duration
from ondc_adapter.settings import Settings

log = get_logger(__name__)

COMPLAINANT = "complainant"
CLOSURE = [
    {
        "descriptor": {"code": "CLOSURE_DETAILS"},
        "list": [{"descriptor": {"code": "RATING"}, "value": "THUMBS_UP"}],
    }
]
# the seller's own codes of flow 2 (ONDC IGM 2.0.0 enums): visibility, catalogue, payments
CATEGORY_PATTERN = r"^[A-Z]{3}[0-9]{3}$"


async def _transaction_context(
    session: AsyncSession, transaction_id: str
) -> tuple[dict[str, Any], OrderRecord | None]:
    """The context of a transaction this node took part in (a callback it sent), and its order
    when there is one."""
    order = (
        await session.scalars(
            select(OrderRecord).where(OrderRecord.transaction_id == transaction_id)
        )
    ).first()
    if order is not None:
        return dict(order.context), order
    row = (
        await session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.transaction_id == transaction_id)
            .order_by(OutboxEntry.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        raise IssueRefusal(
            "IGM009",
            f"this node took no part in transaction {transaction_id}",
            "context.transaction_id",
        )
    return dict(json.loads(row.body)["context"]), None


def _source(provider: Provider, *, subscriber_id: str, domain: str) -> dict[str, Any]:
    return {
        "id": provider.id,
        # PROVIDER, not SELLER: every version of the validator's actor list knows it
        "type": "PROVIDER",
        "info": {
            "org": {"name": f"{subscriber_id}::{domain}"},
            "person": {"name": provider.name},
            "contact": {"phone": provider.phone[-10:], "email": provider.email},
        },
    }


async def raise_issue(
    session: AsyncSession,
    settings: Settings,
    *,
    transaction_id: str,
    provider_id: str,
    category: str,
    short_desc: str,
    long_desc: str,
    now: datetime,
) -> service.Outcome:
    """Open an issue with the buyer app of ``transaction_id`` on behalf of store
    ``provider_id``."""
    if not re.match(CATEGORY_PATTERN, category):
        raise IssueRefusal("IGM001", "category is a code like VIS001", "message.issue.descriptor")
    base, order = await _transaction_context(session, transaction_id)
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise IssueRefusal("IGM001", f"store {provider_id} is not in this catalogue")
    me = await service.officer(session, settings, SUPPORT)
    stamp = format_timestamp(now)
    domain = str(base["domain"])
    me_actor = wire.actor(me, subscriber_id=settings.subscriber_id, domain=domain)
    me_actor["type"] = "INTERFACING_NP"
    issue_id = str(uuid.uuid4())
    issue: dict[str, Any] = {
        "id": issue_id,
        "status": "OPEN",
        "level": "ISSUE",
        "created_at": stamp,
        "updated_at": stamp,
        "expected_response_time": {"duration": settings.igm_response_time},
        "expected_resolution_time": {"duration": settings.igm_resolution_time},
        "refs": [
            {"ref_id": transaction_id, "ref_type": "TRANSACTION"},
            {"ref_id": provider_id, "ref_type": "PROVIDER"},
        ],
        "actors": [
            _source(provider, subscriber_id=settings.subscriber_id, domain=domain),
            me_actor,
        ],
        "source_id": provider_id,
        "complainant_id": me_actor["id"],
        "descriptor": {"code": category, "short_desc": short_desc, "long_desc": long_desc},
        "last_action_id": "",
        "actions": [],
    }
    issue = _appended(issue, "OPEN", "Complaint raised by the seller", me, me_actor["id"], stamp)
    respond_by = now + parse_duration(settings.igm_response_time)
    record = IssueRecord(
        issue_id=issue_id,
        bap_id=str(base["bap_id"]),
        role=COMPLAINANT,
        transaction_id=transaction_id,
        order_pk=order.id if order else None,
        order_id=order.order_id if order else None,
        domain=domain,
        category=category,
        status="OPEN",
        level="ISSUE",
        issue=issue,
        context=base,
        created_at=now,
        updated_at=now,
        respond_by=respond_by,
        resolve_by=now + parse_duration(settings.igm_resolution_time),
    )
    session.add(record)
    await session.flush()
    out = _send(record, settings, issue, now, opening=True)
    session.add(service.event(record, "out", issue["actions"][-1], out.message_id, now))
    return service.Outcome(record, [out])


def _appended(
    issue: dict[str, Any],
    code: str,
    text: str,
    me: wire.Officer,
    me_id: str,
    stamp: str,
    **extra: Any,
) -> dict[str, Any]:
    out = copy.deepcopy(issue)
    action: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        **extra,
        "descriptor": {"code": code, "short_desc": text},
        "updated_at": stamp,
        "action_by": me_id,
        "actor_details": {"name": me.name},
    }
    if code == "CLOSED":
        action["tags"] = CLOSURE
    out["actions"] = [*out["actions"], action]
    out["last_action_id"] = action["id"]
    out["updated_at"] = stamp
    return out


def _send(
    record: IssueRecord,
    settings: Settings,
    issue: dict[str, Any],
    now: datetime,
    *,
    opening: bool = False,
) -> OutboundMessage:
    """The ``issue`` request to the buyer app (signed and posted by the dispatcher)."""
    base = record.context
    ctx = Context.model_validate(
        {
            **{k: v for k, v in base.items() if k not in ("bpp_id", "bpp_uri", "ttl", "key")},
            "location": {
                "country": {"code": base.get("country", "IND")},
                "city": {"code": base.get("city", "*")},
            },
            "action": "issue",
            "bpp_id": settings.subscriber_id,
            "bpp_uri": settings.bpp_uri,
            "transaction_id": record.transaction_id,
            "message_id": str(uuid.uuid4()),
            "timestamp": issue["updated_at"],
            "ttl": "PT30S",
        }
    )
    message = wire.on_issue_message(issue, legacy_names=settings.igm_legacy_names)
    if opening:  # nothing is updated yet: the opening issue names no update target
        message.pop("update_target", None)
        message.pop("updated_target", None)
    return OutboundMessage.build(ctx, message, error=None, expires_at=now + timedelta(minutes=10))


async def _load(session: AsyncSession, issue_id: str) -> IssueRecord:
    record = (
        await session.scalars(
            select(IssueRecord)
            .where(IssueRecord.issue_id == issue_id, IssueRecord.role == COMPLAINANT)
            .with_for_update()
        )
    ).first()
    if record is None:
        raise service.IssueNotFound(f"no issue {issue_id} raised by this node")
    return record


async def act(
    session: AsyncSession,
    settings: Settings,
    issue_id: str,
    what: str,
    *,
    now: datetime,
    text: str | None = None,
    resolution_id: str | None = None,
) -> service.Outcome:
    """The seller's next step on an issue it raised: provide-info, accept, reject, escalate
    or close."""
    record = await _load(session, issue_id)
    if record.status == "CLOSED":
        raise IssueRefusal("IGM001", "the issue is closed")
    actions = record.issue["actions"]
    extra: dict[str, Any] = {}
    status, level = record.status, record.level
    if what == "provide-info":
        request = rules.outstanding_request(actions)
        if request is None:
            raise IssueRefusal("IGM001", "the buyer app asked for no information")
        code, extra = "INFO_PROVIDED", {"ref_id": request.get("id")}
    elif what in ("accept", "reject"):
        proposal = rules.outstanding_proposal(actions)
        resolution_id = resolution_id or (proposal or {}).get("ref_id")
        ids = {str(r.get("id")) for r in record.issue.get("resolutions") or []}
        if proposal is None or resolution_id not in ids:
            raise IssueRefusal("IGM001", "no proposed resolution to answer")
        code = "RESOLUTION_ACCEPTED" if what == "accept" else "RESOLUTION_REJECTED"
        extra = {"ref_id": resolution_id, "ref_type": "RESOLUTIONS"}
    elif what == "escalate":
        if record.level != "ISSUE":
            raise IssueRefusal("IGM007", "the issue is already a grievance")
        code, status, level = "ESCALATED", "OPEN", "GRIEVANCE"
    elif what == "close":
        code, status = "CLOSED", "CLOSED"
    else:
        raise IssueRefusal("IGM001", f"unknown step {what!r}")
    me = await service.officer(session, settings, SUPPORT)
    me_id = wire.actor_id(settings.subscriber_id, SUPPORT)
    stamp = format_timestamp(now)
    issue = _appended(
        record.issue, code, text or code.replace("_", " ").capitalize(), me, me_id, stamp, **extra
    )
    issue["status"], issue["level"] = status, level
    record.issue, record.status, record.level, record.updated_at = issue, status, level, now
    if code == "CLOSED":
        record.closed_at = now
    out = _send(record, settings, issue, now)
    session.add(service.event(record, "out", issue["actions"][-1], out.message_id, now))
    return service.Outcome(record, [out])


async def handle_on_issue(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    """A buyer app's answer to an issue this node raised: recorded with its new actions.
    ``on_issue`` is itself the answer, so nothing goes back; what cannot be taken in is logged
    (the ACK was given at the edge: the request was well formed and signed)."""
    try:
        parsed = IssueMessage.model_validate(request.message)
    except ValidationError as exc:
        log.warning("igm.on_issue_unreadable", error=str(exc.errors()[0]["msg"]))
        return []
    record = (
        await session.scalars(
            select(IssueRecord)
            .where(
                IssueRecord.issue_id == parsed.issue.id,
                IssueRecord.role == COMPLAINANT,
                IssueRecord.bap_id == request.context.bap_id,
            )
            .with_for_update()
        )
    ).first()
    if record is None:
        log.warning("igm.on_issue_unknown", issue_id=parsed.issue.id[:128])
        return []
    raw = wire.normalised(request.message["issue"])
    try:
        added = rules.new_actions(record.issue["actions"], raw["actions"])
    except IssueRefusal as refusal:
        log.warning("igm.on_issue_refused", issue_id=record.issue_id, reason=refusal.message)
        return []
    now = deps.now()
    record.issue, record.status, record.level = raw, parsed.issue.status, parsed.issue.level
    record.updated_at = now
    if record.responded_at is None:
        record.responded_at = now
    if parsed.issue.status == "RESOLVED":
        record.resolved_at = now
    for action in added:
        session.add(service.event(record, "in", action, request.context.message_id, now))
    return []
