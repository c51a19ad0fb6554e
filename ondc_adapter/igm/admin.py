"""Seller admin HTTP API for issues (``/admin/issues``, ``X-API-Key``).

Thin, like ``orders/admin.py``: each route is one transaction around ``igm.service``; a seller
action also puts its ``on_issue`` into the outbox in that transaction, and the callback
dispatcher is woken once it commits, so the buyer app hears at once.

* ``GET  /admin/issues``                    issues, soonest resolution deadline first
                                            (``?status=OPEN|PROCESSING|RESOLVED|CLOSED``)
* ``GET  /admin/issues/{issue_id}``         one issue: summary, actions, resolutions, events
* ``POST /admin/issues/{issue_id}/process``   take it up (``PROCESSING``)
* ``POST /admin/issues/{issue_id}/ask-info``  ask the buyer for information
* ``POST /admin/issues/{issue_id}/propose``   propose a resolution (a REFUND with its amount)
* ``POST /admin/issues/{issue_id}/resolve``   the accepted resolution is carried out
* ``GET|PUT /admin/issues/officers/{support|gro}``  the support desk and the GRO

A refusal (``IssueRefusal``: the action does not fit the issue's state) is a 409 with the IGM
code and message, an unknown issue a 404, a malformed body a 422 (pydantic's, naming the field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter import outbox
from ondc_adapter.api.admin_auth import require_admin
from ondc_adapter.igm import service, views
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueOfficer
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

router = APIRouter(prefix="/admin/issues", tags=["issues"], dependencies=[Depends(require_admin)])

# The issue ids ONDC allows (igm.models): anything else cannot name a stored issue, and is a
# 422 before the database sees it (a NUL in a path would otherwise reach the driver).
IssueId = Annotated[str, Path(pattern=r"^[\x21-\x7e]{1,128}$", examples=["ISSUE-1"])]
Role = Annotated[Literal["support", "gro"], Path(description="support desk or GRO")]


def _text(**kw: Any) -> Any:
    return Field(min_length=1, max_length=views.TEXT_MAX, pattern=views.TEXT_PATTERN, **kw)


class ProcessBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = _text(default=None, examples=["We are checking with the weaver"])


class AskInfoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = _text(examples=["Please share a photo of the torn border"])


class ProposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["REFUND", "REPLACEMENT", "RETURN", "CANCEL", "NO_ACTION"] = Field(
        examples=["REFUND"]
    )
    amount: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,9}(\.[0-9]{1,2})?$",
        description="rupees; a REFUND only (at most what the order may still refund)",
        examples=["150.00"],
    )
    item_id: str | None = Field(
        default=None,
        pattern=r"^[\x21-\x7e]{1,128}$",
        description="the item the resolution is about; default the issue's first item",
    )
    text: str | None = _text(default=None, examples=["Refund for the torn border"])

    @model_validator(mode="after")
    def _amount(self) -> ProposeBody:
        if self.kind == "REFUND" and self.amount is None:
            raise ValueError("a REFUND needs its amount")
        if self.kind != "REFUND" and self.amount is not None:
            raise ValueError("only a REFUND carries an amount")
        return self


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = _text(default=None, examples=["Refund of Rs 150 paid"])


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


def refused(exc: IssueRefusal) -> HTTPException:
    return HTTPException(status_code=409, detail={"code": exc.code, "message": exc.message})


Action = Callable[[AsyncSession, Settings, datetime], Awaitable[service.Outcome]]


async def _act(request: Request, action: Action) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    now = _clock(request)()
    try:
        async with _db(request).session() as session:
            outcome = await action(session, settings, now)
            for message in outcome.messages:
                await outbox.enqueue(session, message, now=now)
            answer = {
                "issue": views.summary(outcome.record, now, settings.igm_warn_fraction),
                "sent": views.queued(outcome.messages),
            }
    except service.IssueNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except IssueRefusal as exc:
        raise refused(exc) from None
    _wake(request)
    return answer


@router.get("")
async def list_issues(
    request: Request,
    status: Literal["OPEN", "PROCESSING", "RESOLVED", "CLOSED"] | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=500),
    # bounded: a huge offset would overflow the database's BIGINT (an error, not a 4xx)
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    now = _clock(request)()
    async with _db(request).session() as session:
        rows = await service.list_issues(session, status=status, limit=limit, offset=offset)
        return {"issues": [service.summary(r, now, settings.igm_warn_fraction) for r in rows]}


# -- officers ------------------------------------------------------------------------------


def officer_dict(role: str, row: IssueOfficer | None, settings: Settings) -> dict[str, Any]:
    if row is not None:
        return {
            "role": role,
            "name": row.name,
            "email": row.email,
            "phone": row.phone,
            "source": "admin",
            "updated_at": row.updated_at.isoformat(),
        }
    prefix = "gro" if role == "gro" else "igm_support"
    values = {k: getattr(settings, f"{prefix}_{k}") for k in ("name", "email", "phone")}
    return {"role": role, **values, "source": "settings" if all(values.values()) else None}


@router.get("/officers/{role}")
async def show_officer(request: Request, role: Role) -> dict[str, Any]:
    """The officer as the node uses it: set here, else from the settings (``source``)."""
    async with _db(request).session() as session:
        row = await session.get(IssueOfficer, role)
        return officer_dict(role, row, request.app.state.settings)


@router.put("/officers/{role}")
async def set_officer(request: Request, role: Role, body: service.OfficerDetails) -> dict[str, Any]:
    """Name the support desk or the GRO: every later ``on_issue`` carries this contact."""
    async with _db(request).session() as session:
        row = await service.set_officer(
            session,
            role,
            name=body.name,
            email=body.email,
            phone=body.phone,
            now=_clock(request)(),
        )
        answer = officer_dict(role, row, request.app.state.settings)
    _wake(request)
    return answer


# -- one issue -----------------------------------------------------------------------------


@router.get("/{issue_id}")
async def show_issue(request: Request, issue_id: IssueId) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    async with _db(request).session() as session:
        record = await service.find(session, issue_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"issue {issue_id} not found")
        events = await service.events(session, record.id)
        return views.detail(record, events, _clock(request)(), settings.igm_warn_fraction)


@router.post("/{issue_id}/process")
async def process(
    request: Request, issue_id: IssueId, body: ProcessBody | None = None
) -> dict[str, Any]:
    text = body.text if body is not None else None
    return await _act(
        request, lambda s, cfg, now: service.process(s, cfg, issue_id, now=now, text=text)
    )


@router.post("/{issue_id}/ask-info")
async def ask_info(request: Request, issue_id: IssueId, body: AskInfoBody) -> dict[str, Any]:
    return await _act(
        request,
        lambda s, cfg, now: service.ask_info(s, cfg, issue_id, question=body.question, now=now),
    )


@router.post("/{issue_id}/propose")
async def propose(request: Request, issue_id: IssueId, body: ProposeBody) -> dict[str, Any]:
    return await _act(
        request,
        lambda s, cfg, now: service.propose(
            s,
            cfg,
            issue_id,
            kind=body.kind,
            amount=body.amount,
            item_id=body.item_id,
            text=body.text,
            now=now,
        ),
    )


@router.post("/{issue_id}/resolve")
async def resolve(
    request: Request, issue_id: IssueId, body: ResolveBody | None = None
) -> dict[str, Any]:
    text = body.text if body is not None else None
    return await _act(
        request, lambda s, cfg, now: service.resolve(s, cfg, issue_id, now=now, text=text)
    )
