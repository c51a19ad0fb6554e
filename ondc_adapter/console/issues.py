"""Console pages for complaints (IGM 2.0.0 issues that buyer apps raise about the store's
orders): the list, open ones first by resolution deadline, and one complaint with its text,
photos (as links), the actions so far and the seller's next step: ask the buyer for
information, propose a resolution, mark it resolved.

Each step calls the same ``igm.service`` function as the CLI and the admin API, in one
transaction with the ``on_issue`` it puts into the outbox; the dispatcher is woken so the buyer
app hears of it at once. A step the issue's state does not allow (``IssueRefusal``) is shown on
the complaint's page in the seller's language, nothing changed.

A store's account sees only complaints about its own store's orders; another store's complaint
answers 404 like one that does not exist. Only complaints made to this node are shown (those it
raised itself, ``role = complainant``, are the operator's business, through the CLI).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from ondc_adapter import outbox
from ondc_adapter.console.accounts import Principal
from ondc_adapter.console.explain import N_
from ondc_adapter.console.web import NotFound, Page, page_for, redirect
from ondc_adapter.igm import rules, service, views
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueRecord
from ondc_adapter.orders import settlements
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.settings import Settings

router = APIRouter(prefix="/console/issues", include_in_schema=False)

OPEN_LIMIT = 200  # open complaints on the list (a store with more has bigger problems)
CLOSED_PAGE = 30
MAX_TEXT = 500  # an on_issue short_desc
# the issue ids ONDC allows (igm.models); anything else names no issue (and a NUL would
# otherwise reach the database driver)
ISSUE_ID = re.compile(r"[\x21-\x7e]{1,128}")
AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# ONDC's issue categories for retail (IGM 2.0.0, the descriptor code of an issue). A code not
# here is shown as it is.
CATEGORIES: dict[str, str] = {
    "ORD001": N_("Order not received"),
    "ORD002": N_("Order not satisfactory"),
    "ORD003": N_("Delivered late"),
    "ORD004": N_("Invoice missing"),
    "ORD005": N_("Store not responding"),
    "ITM001": N_("Items missing"),
    "ITM002": N_("Fewer items than ordered"),
    "ITM003": N_("Wrong item"),
    "ITM004": N_("Product quality"),
    "ITM005": N_("Expired item"),
    "ITM006": N_("Wrongly marked as returned"),
    "FLM001": N_("Wrong delivery address"),
    "FLM002": N_("Location could not be reached"),
    "FLM004": N_("Not delivered yet"),
    "FLM005": N_("Packaging: spilt or damaged"),
    "FLM011": N_("Wrongly marked as delivered"),
    "AGT001": N_("Delivery agent's behaviour"),
}
STATUSES = {
    "OPEN": N_("New"),
    "PROCESSING": N_("Being handled"),
    "RESOLVED": N_("Resolved"),
    "CLOSED": N_("Closed"),
}
LEVELS = {
    "ISSUE": N_("Issue"),
    "GRIEVANCE": N_("Grievance (escalated)"),
    "DISPUTE": N_("Dispute (online dispute resolution)"),
}
ACTIONS = {
    "OPEN": N_("Complaint raised"),
    "PROCESSING": N_("Taken up"),
    "INFO_REQUESTED": N_("Information asked for"),
    "INFO_PROVIDED": N_("Information given"),
    "INFO_NOT_AVAILABLE": N_("Information not available"),
    "RESOLUTION_PROPOSED": N_("Resolution proposed"),
    "RESOLUTION_ACCEPTED": N_("Resolution accepted"),
    "RESOLUTION_REJECTED": N_("Resolution rejected"),
    "RESOLVED": N_("Resolved"),
    "ESCALATED": N_("Escalated to the grievance officer"),
    "CLOSED": N_("Closed"),
    "CLOSE": N_("Closed"),
}
ACTORS = {
    "CONSUMER": N_("Buyer"),
    "INTERFACING_NP": N_("Buyer app"),
    "INTERFACING_NP_GRO": N_("Buyer app's grievance officer"),
    "COUNTERPARTY_NP": N_("Your support desk"),
    "COUNTERPARTY_NP_GRO": N_("Your grievance officer"),
}
RESOLUTIONS = {
    "REFUND": N_("Refund"),
    "REPLACEMENT": N_("Replace the item"),
    "RETURN": N_("Take the item back and refund"),
    "CANCEL": N_("Cancel the order"),
    "NO_ACTION": N_("No action: the complaint is not upheld"),
}
# what the node itself writes into its actions (igm.service, igm.handler): shown translated
OUR_TEXTS = (
    N_("Complaint taken up by the seller"),
    N_("Please share more information"),
    N_("Resolution carried out"),
    N_("Information received; the seller is looking into it"),
    N_("Grievance taken up by the grievance redressal officer"),
)

# An IssueRefusal's English message (igm.rules, igm.service) -> the seller's words. A message
# no pattern knows is shown as it is.
REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^the issue is RESOLVED$", N_("This complaint is already resolved.")),
        (r"^the issue is CLOSED$", N_("This complaint is closed.")),
        (r"^an information request is already pending$",
         N_("You have already asked the buyer for information. Wait for the answer.")),
        (r"^a proposed resolution is awaiting the buyer's answer$",
         N_("The buyer has not yet answered the resolution you proposed.")),
        (r"^wait for the information requested before proposing$",
         N_("Wait for the information you asked for before proposing a resolution.")),
        (r"^resolve follows the buyer's RESOLUTION_ACCEPTED$",
         N_("A complaint can be marked resolved only after the buyer accepts a resolution.")),
        (r"^the issue is already being processed$",
         N_("This complaint is already being handled.")),
        (r"^a REFUND needs its amount$", N_("A refund needs its amount.")),
        (r"^only a REFUND carries an amount$", N_("Only a refund has an amount.")),
        (r"^resolution must be one of .*$", N_("Choose one of the resolutions offered.")),
        (r"^amount .* is not a number$|^amount must be positive.*$",
         N_("Write the amount in rupees, for example 150 or 150.50.")),
        (r"^refund (?P<amount>[0-9.]+) exceeds what the order may still refund "
         r"\((?P<limit>[0-9.]+)\)$",
         N_("A refund of {amount} is more than this order can still refund ({limit}).")),
        (r"^the seller has not named its support desk; .*$",
         N_("The node's operator has not named the support desk yet, so complaints cannot be "
            "answered. Ask the operator to set it.")),
        (r"^the seller has not named its grievance redressal officer; .*$",
         N_("The node's operator has not named the grievance officer yet, so grievances "
            "cannot be answered. Ask the operator to set it.")),
        (r"^item (?P<item>\S+) is not part of order (?P<order>\S+)$",
         N_("Item {item} is not part of order {order}.")),
    )
)
MONEY_VALUES = ("amount", "limit")


def refusal_text(refusal: IssueRefusal, page: Page) -> str:
    for pattern, message in REFUSALS:
        match = pattern.match(refusal.message)
        if match:
            values = {
                k: page.locale.money(v) if k in MONEY_VALUES else v
                for k, v in match.groupdict().items()
            }
            return page._(message, **values)
    return refusal.message


def category_label(page: Page, code: str) -> str:
    label = CATEGORIES.get(code)
    return f"{page._(label)} ({code})" if label else code


def _label(page: Page, table: dict[str, str], code: str | None) -> str:
    text = table.get(code or "")
    return page._(text) if text else (code or "")


def _now(page: Page) -> datetime:
    clock: Callable[[], datetime] | None = getattr(page.request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


def _settings(page: Page) -> Settings:
    return page.request.app.state.settings  # type: ignore[no-any-return]


def path_id(issue_id: str) -> str:
    """The issue id as one path segment of a console address."""
    return quote(issue_id, safe="")


def deadline_mark(states: dict[str, str]) -> str | None:
    """``overdue`` or ``near`` when either deadline (response, resolution) is so."""
    values = set(states.values())
    if "overdue" in values:
        return "overdue"
    return "near" if "near" in values else None


# -- the list ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    issue_id: str
    path_id: str
    order_id: str | None
    provider_id: str | None
    category: str
    status: str
    level: str
    created_at: datetime
    resolve_by: datetime
    updated_at: datetime
    mark: str | None


def _scoped(query: Select[Any], who: Principal) -> Select[Any]:
    """Complaints made to this node; for a store's account, about that store's orders only."""
    query = query.outerjoin(OrderRecord, OrderRecord.id == IssueRecord.order_pk).where(
        IssueRecord.role == "respondent"
    )
    if not who.operator:
        query = query.where(OrderRecord.provider_id == who.provider_id)
    return query


def _rows(page: Page, found: Any, now: datetime) -> list[Row]:
    warn = _settings(page).igm_warn_fraction
    out = []
    for record, provider_id in found:
        is_open = record.status in service.OPEN_STATUSES
        out.append(
            Row(
                issue_id=record.issue_id,
                path_id=path_id(record.issue_id),
                order_id=record.order_id,
                provider_id=provider_id,
                category=category_label(page, record.category),
                status=_label(page, STATUSES, record.status),
                level=_label(page, LEVELS, record.level),
                created_at=record.created_at,
                resolve_by=record.resolve_by,
                updated_at=record.updated_at,
                mark=deadline_mark(service.deadline_state(record, now, warn)) if is_open else None,
            )
        )
    return out


@router.get("", response_class=HTMLResponse)
async def list_issues(closed_offset: int = 0, page: Page = Depends(page_for)) -> Response:
    who = page.require()
    closed_offset = max(0, min(closed_offset, 10_000_000))
    now = _now(page)
    # the list needs no issue JSON (an issue's history can be long)
    base = _scoped(
        select(IssueRecord, OrderRecord.provider_id).options(
            defer(IssueRecord.issue, raiseload=True), defer(IssueRecord.context, raiseload=True)
        ),
        who,
    )
    is_open = IssueRecord.status.in_(service.OPEN_STATUSES)
    async with page.db.session() as session:
        open_rows = (
            await session.execute(
                base.where(is_open).order_by(IssueRecord.resolve_by, IssueRecord.id)
                .limit(OPEN_LIMIT)
            )
        ).all()
        closed_rows = (
            await session.execute(
                base.where(~is_open)
                .order_by(IssueRecord.updated_at.desc(), IssueRecord.id.desc())
                .offset(closed_offset).limit(CLOSED_PAGE)
            )
        ).all()
        closed_total = int(
            await session.scalar(
                _scoped(select(func.count()).select_from(IssueRecord), who).where(~is_open)
            )
            or 0
        )
    return page.render(
        "issues.html",
        open_rows=_rows(page, open_rows, now),
        closed_rows=_rows(page, closed_rows, now),
        closed_total=closed_total,
        closed_offset=closed_offset,
        page_size=CLOSED_PAGE,
    )


# -- one complaint -------------------------------------------------------------------------


async def _issue(
    session: AsyncSession, page: Page, issue_id: str, *, lock: bool = False
) -> tuple[IssueRecord, OrderRecord | None]:
    """The complaint ``igm.service`` acts on under this id, if this account may see it."""
    if not ISSUE_ID.fullmatch(issue_id):
        raise NotFound
    record = await service.find(session, issue_id, lock=lock)
    if record is None:
        raise NotFound
    order = await session.get(OrderRecord, record.order_pk) if record.order_pk else None
    if not page.require().may_see(order.provider_id if order is not None else None):
        raise NotFound
    return record, order


@dataclass(slots=True)
class Link:
    """A URL the buyer app sent: a link only when it is a web address, else plain text."""

    url: str
    web: bool


def _links(images: Any) -> list[Link]:
    out = []
    for image in images if isinstance(images, list) else []:
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and url:
            out.append(Link(url, url.startswith(("https://", "http://"))))
    return out


@dataclass(slots=True)
class Step:
    at: datetime | None
    at_text: str
    what: str
    who: str
    text: str
    images: list[Link] = field(default_factory=list)


def _steps(page: Page, issue: dict[str, Any], ours: set[str]) -> list[Step]:
    actors = {a.get("id"): a for a in issue.get("actors") or [] if isinstance(a, dict)}
    raw_actions = issue.get("actions") or []
    out = []
    for summary, raw in zip(views.actions(issue), raw_actions, strict=True):
        by = str(summary.get("by") or "")
        actor = actors.get(by) or {}
        kind = _label(page, ACTORS, actor.get("type")) or by
        name = ((raw.get("actor_details") or {}).get("name")
                or ((actor.get("info") or {}).get("person") or {}).get("name"))
        text = str(summary.get("short_desc") or "")
        if by in ours and text in OUR_TEXTS:
            text = page._(text)
        try:
            at = parse_timestamp(str(summary.get("at")))
        except ValueError:
            at = None
        out.append(Step(
            at=at, at_text=str(summary.get("at") or ""),
            what=_label(page, ACTIONS, summary.get("code")),
            who=f"{kind} ({name})" if name else kind, text=text,
            images=_links((raw.get("descriptor") or {}).get("images")),
        ))
    return out


def _resolutions(page: Page, record: IssueRecord) -> list[dict[str, Any]]:
    actions = record.issue.get("actions") or []
    accepted = {str(a.get("ref_id")) for a in actions
                if (a.get("descriptor") or {}).get("code") == "RESOLUTION_ACCEPTED"}
    pending = rules.outstanding_proposal(actions)
    out = []
    for res in views.resolutions(record.issue):
        rid = str(res.get("id"))
        if rid == record.accepted_resolution or rid in accepted:
            state = page._("Accepted by the buyer")
        elif pending is not None and str(pending.get("ref_id")) == rid:
            state = page._("Waiting for the buyer's answer")
        else:
            state = ""
        amount = res.get("amount")
        out.append({
            "id": rid, "kind": _label(page, RESOLUTIONS, res.get("kind")),
            "amount": _money(page, amount),
            "text": res.get("short_desc") or "", "state": state,
        })
    return out


def _money(page: Page, amount: object) -> str | None:
    try:
        return page.locale.money(str(amount)) if amount else None
    except (ArithmeticError, ValueError):  # not a number: shown as sent
        return str(amount)


def _allowed(record: IssueRecord) -> dict[str, bool]:
    out = {}
    for action in ("ask-info", "propose", "resolve"):
        try:
            rules.check_seller_action(
                action, status=record.status, history=record.issue.get("actions") or []
            )
        except IssueRefusal:
            out[action] = False
        else:
            out[action] = True
    return out


def _waiting(page: Page, record: IssueRecord) -> list[str]:
    """Why a step is not offered now, in the seller's words."""
    actions = record.issue.get("actions") or []
    if record.status == "CLOSED":
        return [page._("This complaint is closed.")]
    if record.status == "RESOLVED":
        return [page._("You marked this complaint resolved. The buyer app may still close it "
                       "or escalate it to your grievance officer.")]
    out = []
    if rules.outstanding_request(actions) is not None:
        out.append(page._("Waiting for the buyer's answer to your question."))
    if rules.outstanding_proposal(actions) is not None:
        out.append(page._("Waiting for the buyer to accept or reject your proposed resolution."))
    return out


async def _detail(
    page: Page,
    issue_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    failed: str | None = None,
    done: bool = False,
) -> Response:
    now = _now(page)
    settings = _settings(page)
    async with page.db.session() as session:
        record, order = await _issue(session, page, issue_id)
        refundable: Decimal | None = (
            await settlements.refundable(session, order) if order is not None else None
        )
    issue = record.issue or {}
    descriptor = issue.get("descriptor") or {}
    titles = {str(line.get("id")): line.get("title") for line in (order.lines if order else [])}
    items = [
        titles.get(ref.get("ref_id")) or str(ref.get("ref_id"))
        for ref in issue.get("refs") or []
        if isinstance(ref, dict) and ref.get("ref_type") == "ITEM"
    ]
    ours = {settings.subscriber_id, f"{settings.subscriber_id}::GRO"}
    states = service.deadline_state(record, now, settings.igm_warn_fraction)
    is_open = record.status in service.OPEN_STATUSES
    return page.render(
        "issue.html",
        status_code=status_code,
        issue=record,
        path_id=path_id(record.issue_id),
        order=order,
        category=category_label(page, record.category),
        status=_label(page, STATUSES, record.status),
        level=_label(page, LEVELS, record.level),
        grievance=record.level != "ISSUE",
        states=states,
        mark=deadline_mark(states) if is_open else None,
        short_desc=descriptor.get("short_desc") or "",
        long_desc=descriptor.get("long_desc") or "",
        images=_links(descriptor.get("images")),
        items=items,
        steps=_steps(page, issue, ours),
        resolutions=_resolutions(page, record),
        allowed=_allowed(record),
        waiting=_waiting(page, record),
        kinds=[(k, page._(v)) for k, v in RESOLUTIONS.items()],
        refundable=page.locale.money(refundable) if refundable is not None else None,
        error=error,
        form=form or {},
        failed=failed,
        done=done,
        max_text=MAX_TEXT,
    )


@router.get("/{issue_id}", response_class=HTMLResponse)
async def show_issue(issue_id: str, done: str | None = None,
                     page: Page = Depends(page_for)) -> Response:
    return await _detail(page, issue_id, done=bool(done))


# -- the seller's steps --------------------------------------------------------------------


Action = Callable[[AsyncSession, Settings, str, datetime], Awaitable[service.Outcome]]


class Invalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _text(page: Page, value: str | None, *, required: str | None = None) -> str | None:
    """A text field for an on_issue: trimmed, at most 500 characters, no control characters
    (a NUL cannot be stored in PostgreSQL's JSON; escape sequences would reach terminals).
    Empty is None, or ``Invalid(required)`` when given."""
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        if required:
            raise Invalid(required)
        return None
    if len(text) > MAX_TEXT:
        raise Invalid(page._("Enter at most {n} characters.", n=MAX_TEXT))
    if CONTROL.search(text):
        raise Invalid(page._("This value is not in the expected format."))
    return text


async def _act(page: Page, issue_id: str, step: str, form: dict[str, str],
               build: Callable[[], Action]) -> Response:
    """Check the form (``build`` raises ``Invalid``), then take the step in one transaction
    with the on_issue it sends."""
    try:
        action = build()
    except Invalid as exc:
        return await _detail(page, issue_id, error=exc.message, status_code=422, form=form,
                             failed=step)
    now = _now(page)
    try:
        async with page.db.session() as session:
            record, _order = await _issue(session, page, issue_id, lock=True)
            outcome = await action(session, _settings(page), record.issue_id, now)
            for message in outcome.messages:
                await outbox.enqueue(session, message, now=now)
    except service.IssueNotFound:
        raise NotFound from None
    except IssueRefusal as exc:
        return await _detail(page, issue_id, error=refusal_text(exc, page), status_code=409,
                             form=form, failed=step)
    dispatcher = getattr(page.request.app.state, "dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()
    return redirect(f"/console/issues/{path_id(issue_id)}?done=1")


@router.post("/{issue_id}/ask-info", response_class=HTMLResponse)
async def ask_info(issue_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()

    def build() -> Action:
        question = _text(page, form.get("question"),
                         required=page._("Write your question to the buyer."))
        assert question is not None
        return lambda s, cfg, iid, now: service.ask_info(s, cfg, iid, question=question, now=now)

    return await _act(page, issue_id, "ask-info", form, build)


@router.post("/{issue_id}/propose", response_class=HTMLResponse)
async def propose(issue_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()

    def build() -> Action:
        kind = form.get("kind", "")
        if kind not in RESOLUTIONS:
            raise Invalid(page._("Choose one of the resolutions offered."))
        amount: str | None = None
        if kind == "REFUND":  # the amount field is ignored for any other resolution
            amount = form.get("amount", "").strip().replace(",", "").removeprefix("₹").strip()
            if not amount:
                raise Invalid(page._("A refund needs its amount."))
            if not AMOUNT.fullmatch(amount):
                raise Invalid(page._("Write the amount in rupees, for example 150 or 150.50."))
        text = _text(page, form.get("text"))
        return lambda s, cfg, iid, now: service.propose(
            s, cfg, iid, kind=kind, amount=amount, text=text, now=now
        )

    return await _act(page, issue_id, "propose", form, build)


@router.post("/{issue_id}/resolve", response_class=HTMLResponse)
async def resolve(issue_id: str, page: Page = Depends(page_for)) -> Response:
    form = await page.form()

    def build() -> Action:
        text = _text(page, form.get("text"))
        return lambda s, cfg, iid, now: service.resolve(s, cfg, iid, text=text, now=now)

    return await _act(page, issue_id, "resolve", form, build)
