"""What happens to an issue: the node's own answers and the seller's actions.

Every change goes through ``take_action``: it appends one action of ours to the issue as last
exchanged, moves status and level, records an event, and returns the ``on_issue`` to send (a
reply to the buyer's request, or an unsolicited push when the seller acts later). Callers run it
inside their transaction; the outbox sends the message once that commits.

The seller's actions (``process``, ``ask_info``, ``propose``, ``resolve``) are what the CLI, the
admin API and the sandbox call. ``deadlines`` tells which open issues are nearing or past the
times ONDC expects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from ondc_adapter.exchange import InboundRequest, OutboundMessage
from ondc_adapter.igm import rules, wire
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueEvent, IssueOfficer, IssueRecord
from ondc_adapter.igm.wire import GRO, SUPPORT, Officer
from ondc_adapter.orders import settlements
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp, parse_duration
from ondc_adapter.settings import Settings

OPEN_STATUSES = ("OPEN", "PROCESSING")
DEFAULT_TEXT = {
    "PROCESSING": "Complaint taken up by the seller",
    "INFO_REQUESTED": "Please share more information",
    "RESOLVED": "Resolution carried out",
}


class IssueNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Outcome:
    record: IssueRecord
    messages: list[OutboundMessage]


# -- officers -----------------------------------------------------------------------------


async def officer(session: AsyncSession, settings: Settings, role: str) -> Officer:
    """The support desk or the GRO: as set through the admin API, else from the settings."""
    row = await session.get(IssueOfficer, role)
    if row is not None:
        return Officer(role=role, name=row.name, email=row.email, phone=row.phone)
    if role == GRO:
        name, email, phone = settings.gro_name, settings.gro_email, settings.gro_phone
    else:
        name, email, phone = (
            settings.igm_support_name,
            settings.igm_support_email,
            settings.igm_support_phone,
        )
    if not (name and email and phone):
        who = "grievance redressal officer" if role == GRO else "support desk"
        raise IssueRefusal("IGM001", f"the seller has not named its {who}; it cannot answer issues")
    return Officer(role=role, name=name, email=email, phone=phone)


_NO_CONTROL = r"[^@\s\x00-\x1f\x7f]+"
_EMAIL = rf"^{_NO_CONTROL}@{_NO_CONTROL}\.{_NO_CONTROL}$"


class OfficerDetails(BaseModel):
    """What ``set_officer`` stores: the contact every ``on_issue`` carries for the role. The
    phone is 10 digits (ONDC's validator checks the actors' phones; the column holds 10)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # no control characters: this text goes into every on_issue and into terminals
    name: str = Field(
        min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["Ravi Kumar"]
    )
    email: str = Field(max_length=254, pattern=_EMAIL, examples=["gro@seller.example.in"])
    phone: str = Field(pattern=r"^[0-9]{10}$", examples=["9876500002"])


async def set_officer(
    session: AsyncSession, role: str, *, name: str, email: str, phone: str, now: datetime
) -> IssueOfficer:
    """Name the support desk or the GRO. Raises pydantic's ``ValidationError`` for a contact
    the node could not send (a phone longer than its column would otherwise fail the write)."""
    if role not in (SUPPORT, GRO):
        raise ValueError(f"role must be {SUPPORT} or {GRO}")
    checked = OfficerDetails(name=name, email=email, phone=phone)
    name, email, phone = checked.name, checked.email, checked.phone
    row = await session.get(IssueOfficer, role)
    if row is None:
        row = IssueOfficer(role=role, name=name, email=email, phone=phone, updated_at=now)
        session.add(row)
    else:
        row.name, row.email, row.phone, row.updated_at = name, email, phone, now
    await session.flush()
    return row


# -- reading --------------------------------------------------------------------------------


async def find(
    session: AsyncSession, issue_id: str, *, bap_id: str | None = None, lock: bool = False
) -> IssueRecord | None:
    # the issues this node answers; those it raised are igm.complainant's
    stmt = select(IssueRecord).where(
        IssueRecord.issue_id == issue_id, IssueRecord.role == "respondent"
    )
    if bap_id is not None:
        stmt = stmt.where(IssueRecord.bap_id == bap_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt.order_by(IssueRecord.id.desc()))).first()


async def load(session: AsyncSession, issue_id: str) -> IssueRecord:
    record = await find(session, issue_id, lock=True)
    if record is None:
        raise IssueNotFound(f"issue {issue_id} not found")
    return record


async def list_issues(
    session: AsyncSession, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[IssueRecord]:
    # the issues this node answers; those it raised (flow 2) are igm.complainant's
    stmt = select(IssueRecord).where(IssueRecord.role == "respondent")
    if status is not None:
        stmt = stmt.where(IssueRecord.status == status)
    stmt = stmt.order_by(IssueRecord.resolve_by, IssueRecord.id).limit(limit).offset(offset)
    return list(await session.scalars(stmt))


async def events(session: AsyncSession, issue_pk: int) -> list[IssueEvent]:
    rows = await session.scalars(
        select(IssueEvent).where(IssueEvent.issue_pk == issue_pk).order_by(IssueEvent.id)
    )
    return list(rows)


def deadline_state(record: IssueRecord, now: datetime, warn_fraction: float) -> dict[str, str]:
    """``{"response": ..., "resolution": ...}``, each ``met``, ``ok``, ``near`` or ``overdue``."""

    def state(start: datetime, end: datetime, done: datetime | None) -> str:
        if done is not None:
            return "met" if done <= end else "late"
        if now >= end:
            return "overdue"
        return "near" if (end - now) <= (end - start) * warn_fraction else "ok"

    closed = record.resolved_at or record.closed_at
    return {
        "response": state(record.created_at, record.respond_by, record.responded_at),
        "resolution": state(record.created_at, record.resolve_by, closed),
    }


@dataclass(frozen=True, slots=True)
class DeadlineReport:
    open_issues: int  # OPEN or PROCESSING
    flagged: list[tuple[IssueRecord, dict[str, str]]]  # those with a deadline near or passed


async def deadline_report(
    session: AsyncSession, now: datetime, warn_fraction: float
) -> DeadlineReport:
    """Every open issue we answer, checked against its deadlines, in one query. The issue and
    context JSON are not loaded (the watcher runs this every minute; an issue's history can be
    long): touching ``record.issue`` on these rows raises instead of loading it silently."""
    rows = await session.scalars(
        select(IssueRecord)
        .options(defer(IssueRecord.issue, raiseload=True))
        .options(defer(IssueRecord.context, raiseload=True))
        # what ONDC expects of us: the complaints we answer, not those we raised (flow 2)
        .where(IssueRecord.role == "respondent", IssueRecord.status.in_(OPEN_STATUSES))
        .order_by(IssueRecord.resolve_by)
    )
    count, flagged = 0, []
    for record in rows:
        count += 1
        states = deadline_state(record, now, warn_fraction)
        if {"near", "overdue"} & set(states.values()):
            flagged.append((record, states))
    return DeadlineReport(count, flagged)


async def deadlines(
    session: AsyncSession, now: datetime, warn_fraction: float
) -> list[tuple[IssueRecord, dict[str, str]]]:
    """Open issues with a deadline nearing or passed (without their JSON; see above)."""
    return (await deadline_report(session, now, warn_fraction)).flagged


# -- changing -------------------------------------------------------------------------------


def event(
    record: IssueRecord, direction: str, action: dict[str, Any], message_id: str, now: datetime
) -> IssueEvent:
    descriptor = action.get("descriptor") or {}
    return IssueEvent(
        issue_pk=record.id,
        direction=direction,
        action_id=str(action.get("id"))[:128],
        code=str(descriptor.get("code"))[:32],
        actor=str(action.get("action_by"))[:128],
        summary=descriptor.get("short_desc"),
        message_id=message_id,
        at=now,
    )


async def take_action(
    session: AsyncSession,
    settings: Settings,
    record: IssueRecord,
    *,
    code: str,
    now: datetime,
    text: str | None = None,
    reply_to: InboundRequest | None = None,
    extra: dict[str, Any] | None = None,
    resolution: dict[str, Any] | None = None,
) -> OutboundMessage:
    """Append our action ``code`` and build the ``on_issue`` that carries it."""
    role = GRO if record.level == "GRIEVANCE" else SUPPORT
    who = await officer(session, settings, role)
    stamp = format_timestamp(now)
    action = {
        "id": str(uuid.uuid4()),
        **(extra or {}),
        "descriptor": {"code": code, "short_desc": text or DEFAULT_TEXT.get(code, code)},
    }
    status = rules.status_after(code, record.status)
    # the GRO is named as soon as a resolution is proposed: the buyer escalates to them
    gro = await officer(session, settings, GRO) if code == "RESOLUTION_PROPOSED" else None
    issue = wire.appended(
        record.issue,
        action=action,
        status=status,
        now=stamp,
        officer=who,
        subscriber_id=settings.subscriber_id,
        domain=record.domain,
        resolution=resolution,
        also=gro,
    )
    message = wire.on_issue_message(issue, legacy_names=settings.igm_legacy_names)
    if reply_to is not None:
        located = Context.model_validate(
            wire.with_location(reply_to.context.model_dump(exclude_none=True))
        )
        request = replace(reply_to, context=located)
        out = OutboundMessage.reply(request, message, settings=settings, now=now)
    else:
        out = OutboundMessage.unsolicited(
            Context.model_validate(wire.with_location(record.context)),
            "on_issue",
            message,
            settings=settings,
            now=now,
        )
    record.issue, record.status, record.updated_at = issue, status, now
    if code == "PROCESSING" and record.responded_at is None:
        record.responded_at = now
    if code == "RESOLVED":
        record.resolved_at = now
    session.add(event(record, "out", issue["actions"][-1], out.message_id, now))
    return out


async def process(
    session: AsyncSession,
    settings: Settings,
    issue_id: str,
    *,
    now: datetime,
    text: str | None = None,
) -> Outcome:
    record = await load(session, issue_id)
    rules.check_seller_action("process", status=record.status, history=record.issue["actions"])
    out = await take_action(session, settings, record, code="PROCESSING", now=now, text=text)
    return Outcome(record, [out])


async def ask_info(
    session: AsyncSession, settings: Settings, issue_id: str, *, question: str, now: datetime
) -> Outcome:
    record = await load(session, issue_id)
    rules.check_seller_action("ask-info", status=record.status, history=record.issue["actions"])
    out = await take_action(
        session, settings, record, code="INFO_REQUESTED", now=now, text=question
    )
    return Outcome(record, [out])


async def propose(
    session: AsyncSession,
    settings: Settings,
    issue_id: str,
    *,
    kind: str,
    now: datetime,
    amount: str | None = None,
    item_id: str | None = None,
    text: str | None = None,
) -> Outcome:
    """Propose one resolution: REFUND (with its amount), REPLACEMENT, RETURN, CANCEL or
    NO_ACTION. A refund may not exceed what the order may still refund."""
    record = await load(session, issue_id)
    rules.check_seller_action("propose", status=record.status, history=record.issue["actions"])
    kind = kind.upper()
    if kind not in rules.RESOLUTION_KINDS:
        raise IssueRefusal(
            "IGM001", f"resolution must be one of {', '.join(rules.RESOLUTION_KINDS)}"
        )
    value: str | None = None
    if kind == "REFUND":
        value = await _refund_amount(session, record, amount)
    elif amount is not None:
        raise IssueRefusal("IGM001", "only a REFUND carries an amount")
    items = record.issue and [
        r["ref_id"] for r in record.issue.get("refs", []) if r.get("ref_type") == "ITEM"
    ]
    item = item_id or (items[0] if items else None)
    order = await session.get(OrderRecord, record.order_pk) if record.order_pk else None
    # the resolution goes to the buyer app: it may name only an item of the order
    if (
        item_id is not None
        and order is not None
        and item_id not in {str(i.get("id")) for i in order.items}
    ):
        raise IssueRefusal("IGM004", f"item {item_id} is not part of order {record.order_id}")
    resolution_id = f"R{1 + len(record.issue.get('resolutions') or [])}-{uuid.uuid4().hex[:8]}"
    who = await officer(session, settings, GRO if record.level == "GRIEVANCE" else SUPPORT)
    res = wire.resolution(
        resolution_id,
        kind=kind,
        now=format_timestamp(now),
        short_desc=text or _describe(kind, value),
        amount=value,
        item_id=item,
        proposed_by=wire.actor_id(settings.subscriber_id, who.role),
    )
    out = await take_action(
        session,
        settings,
        record,
        code="RESOLUTION_PROPOSED",
        now=now,
        text=f"Resolution proposed: {_describe(kind, value)}",
        extra={"ref_id": resolution_id, "ref_type": "RESOLUTIONS"},
        resolution=res,
    )
    return Outcome(record, [out])


def _describe(kind: str, amount: str | None) -> str:
    return {
        "REFUND": f"Refund of Rs {amount}",
        "REPLACEMENT": "Replacement of the item",
        "RETURN": "Return of the item for a refund",
        "CANCEL": "Cancellation of the order",
        "NO_ACTION": "No action: the complaint is not upheld",
    }[kind]


async def _refund_amount(session: AsyncSession, record: IssueRecord, amount: str | None) -> str:
    if amount is None:
        raise IssueRefusal("IGM001", "a REFUND needs its amount")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise IssueRefusal("IGM001", f"amount {amount!r} is not a number") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise IssueRefusal("IGM001", "amount must be positive, in rupees with at most 2 decimals")
    order = await session.get(OrderRecord, record.order_pk) if record.order_pk else None
    if order is not None:
        limit = await settlements.refundable(session, order)
        if value > limit:
            raise IssueRefusal(
                "IGM001",
                f"refund {value:.2f} exceeds what the order may still refund ({limit:.2f})",
            )
    return f"{value:.2f}"


async def resolve(
    session: AsyncSession,
    settings: Settings,
    issue_id: str,
    *,
    now: datetime,
    text: str | None = None,
) -> Outcome:
    record = await load(session, issue_id)
    rules.check_seller_action("resolve", status=record.status, history=record.issue["actions"])
    accepted = rules.accepted_resolution(record.issue["actions"])
    out = await take_action(
        session,
        settings,
        record,
        code="RESOLVED",
        now=now,
        text=text,
        extra={"ref_id": accepted, "ref_type": "RESOLUTIONS"},
    )
    return Outcome(record, [out])


async def carry_out_acceptance(
    session: AsyncSession, record: IssueRecord, resolution_id: str, now: datetime
) -> None:
    """The buyer accepted ``resolution_id``: a refund goes into the order's money records
    (once: the settlement is keyed by issue and resolution)."""
    record.accepted_resolution = resolution_id
    refund = wire.refund_of(record.issue, resolution_id)
    if refund is None or record.order_pk is None:
        return
    order = await session.get(OrderRecord, record.order_pk)
    if order is None:
        return
    amount, item_id = refund
    try:
        await settlements.record_refund(
            session,
            order,
            amount=Decimal(amount),
            item_id=item_id,
            source="igm",
            reference=f"{record.issue_id}/{resolution_id}",
            note=f"IGM issue {record.issue_id}: refund accepted by the buyer",
            now=now,
        )
    except settlements.RefundTooLarge as exc:
        raise IssueRefusal("IGM001", str(exc)) from None


def deadlines_for(settings: Settings, created: datetime) -> tuple[datetime, datetime]:
    return (
        created + parse_duration(settings.igm_response_time),
        created + parse_duration(settings.igm_resolution_time),
    )


def summary(record: IssueRecord, now: datetime, warn_fraction: float) -> dict[str, Any]:
    """One line of ``issues list``."""
    return {
        "issue_id": record.issue_id,
        "order_id": record.order_id,
        "bap_id": record.bap_id,
        "category": record.category,
        "status": record.status,
        "level": record.level,
        "created_at": record.created_at.isoformat(),
        "respond_by": record.respond_by.isoformat(),
        "resolve_by": record.resolve_by.isoformat(),
        **{f"{k}_deadline": v for k, v in deadline_state(record, now, warn_fraction).items()},
    }


def late_by(record: IssueRecord, now: datetime) -> timedelta:
    return max(now - record.resolve_by, timedelta(0))
