"""``ondc-adapter issues``: the seller's complaint desk (IGM 2.0.0) on ``ONDC_DATABASE_URL``.

``list`` and ``show`` read; ``process``, ``ask-info``, ``propose`` and ``resolve`` act on an
issue and queue the ``on_issue`` the buyer app must get (a running node's dispatcher sends it);
``officers set|show`` name the support desk and the grievance redressal officer (GRO);
``raise`` opens the seller's own complaint with a buyer app (IGM flow 2) and ``complaint``
takes its next step (provide-info, accept, reject, escalate to the buyer app's GRO, close).

A refusal (the action does not fit the issue now) exits 3 with its IGM code, an unknown issue
exits 1, a contact the node could not send exits 2: one line on stderr each. See docs/igm.md.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter import outbox
from ondc_adapter.igm import complainant, service, views
from ondc_adapter.igm.rules import RESOLUTION_KINDS, IssueRefusal
from ondc_adapter.igm.tables import IssueOfficer
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

T = TypeVar("T")
STATUSES = ("OPEN", "PROCESSING", "RESOLVED", "CLOSED")

issues_app = typer.Typer(
    help="Issues (IGM): list, show, process, ask-info, propose, resolve; raise, complaint; "
    "officers.",
    no_args_is_help=True,
)
officers_app = typer.Typer(
    help="The support desk and the GRO named in every on_issue.", no_args_is_help=True
)
issues_app.add_typer(officers_app, name="officers")


def _run(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    settings = Settings()

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.session() as session:
                return await work(session, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except service.IssueNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except IssueRefusal as exc:
        typer.echo(f"refused ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(3) from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: {field}: {first['msg']}", err=True)
        raise typer.Exit(2) from None


def _print(data: Any) -> None:
    # json.dumps escapes control characters, so a buyer's text cannot drive the terminal
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _safe(value: Any) -> str:
    """A field of a one-line listing: control and format characters (escape sequences, bidi
    overrides) that a buyer app may have put into a category are shown escaped."""
    text = "-" if value is None else str(value)
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in ("Cc", "Cf") else c
        for c in text
    )


def _check_text(option: str, text: str | None) -> None:
    problem = views.text_problem(text)
    if problem is not None:
        typer.echo(f"error: {option} {problem}", err=True)
        raise typer.Exit(2)


def _act(work: Callable[[AsyncSession, Settings], Awaitable[service.Outcome]]) -> None:
    """Run a seller action, queue its on_issue in the same transaction, say what was queued."""

    async def act(session: AsyncSession, settings: Settings) -> tuple[str, list[dict[str, Any]]]:
        outcome = await work(session, settings)
        now = utcnow()
        for message in outcome.messages:
            await outbox.enqueue(session, message, now=now)
        r = outcome.record
        return f"{r.issue_id}: {r.status}, level {r.level}", views.queued(outcome.messages)

    head, sent = _run(act)
    queued = ", ".join(f"{m['action']} {m['message_id']} ({m['code']})" for m in sent)
    typer.echo(f"{head}; queued {queued}")


@issues_app.command("list")
def list_cmd(
    status: Annotated[
        str | None,
        typer.Option(help="only issues in this status: OPEN, PROCESSING, RESOLVED, CLOSED"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Issues, soonest resolution deadline first, with their deadlines' states.

    A deadline is ok, near (less than ONDC_IGM_WARN_FRACTION of its time left), overdue, met
    or late."""

    wanted = status.upper() if status else None
    if wanted is not None and wanted not in STATUSES:
        typer.echo(f"error: status must be one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
        now = utcnow()
        rows = await service.list_issues(session, status=wanted, limit=limit)
        return [service.summary(r, now, settings.igm_warn_fraction) for r in rows]

    rows = _run(work)
    if as_json:
        _print(rows)
        return
    if not rows:
        typer.echo("no issues")
        return
    typer.echo(
        f"{'ISSUE':<24} {'STATUS':<10} {'LEVEL':<9} {'ORDER':<24} {'CATEGORY':<8} "
        f"{'RESPOND BY':<25} {'':<8} {'RESOLVE BY':<25} "
    )  # each deadline is followed by its state
    for row in rows:
        typer.echo(
            f"{_safe(row['issue_id']):<24} {row['status']:<10} {row['level']:<9} "
            f"{_safe(row['order_id']):<24} {_safe(row['category']):<8} "
            f"{row['respond_by']:<25} {row['response_deadline']:<8} "
            f"{row['resolve_by']:<25} {row['resolution_deadline']}"
        )


@issues_app.command("show")
def show_cmd(issue_id: str) -> None:
    """One issue with its actions, resolutions and events, as JSON.

    Also the issue as last exchanged with the buyer app ("wire")."""

    async def work(session: AsyncSession, settings: Settings) -> dict[str, Any]:
        record = await service.find(session, issue_id)
        if record is None:
            raise service.IssueNotFound(f"issue {issue_id} not found")
        events = await service.events(session, record.id)
        return views.detail(record, events, utcnow(), settings.igm_warn_fraction)

    _print(_run(work))


@issues_app.command("process")
def process_cmd(
    issue_id: str,
    text: Annotated[str | None, typer.Option(help="what the buyer reads")] = None,
) -> None:
    """Take up an OPEN issue (PROCESSING). New issues are taken up by the node at once."""
    _check_text("--text", text)
    _act(lambda s, cfg: service.process(s, cfg, issue_id, now=utcnow(), text=text))


@issues_app.command("ask-info")
def ask_info_cmd(
    issue_id: str,
    question: Annotated[str, typer.Argument(help="what the buyer is asked for")],
) -> None:
    """Ask the buyer for information (INFO_REQUESTED); the buyer app answers INFO_PROVIDED."""
    _check_text("QUESTION", question)
    _act(lambda s, cfg: service.ask_info(s, cfg, issue_id, question=question, now=utcnow()))


@issues_app.command("propose")
def propose_cmd(
    issue_id: str,
    kind: Annotated[str, typer.Argument(help=", ".join(RESOLUTION_KINDS))],
    amount: Annotated[
        str | None, typer.Option(help="REFUND: rupees, at most what the order may refund")
    ] = None,
    item: Annotated[
        str | None, typer.Option(help="the item it is about (default: the issue's first)")
    ] = None,
    text: Annotated[str | None, typer.Option(help="what the buyer reads")] = None,
) -> None:
    """Propose a resolution (RESOLUTION_PROPOSED); the buyer accepts or rejects it."""
    _check_text("--text", text)
    _act(
        lambda s, cfg: service.propose(
            s, cfg, issue_id, kind=kind, amount=amount, item_id=item, text=text, now=utcnow()
        )
    )


@issues_app.command("resolve")
def resolve_cmd(
    issue_id: str,
    text: Annotated[str | None, typer.Option(help="what was done, for the buyer")] = None,
) -> None:
    """The resolution the buyer accepted has been carried out (RESOLVED)."""
    _check_text("--text", text)
    _act(lambda s, cfg: service.resolve(s, cfg, issue_id, now=utcnow(), text=text))


def _officer_line(role: str, row: IssueOfficer | None, settings: Settings) -> str:
    if row is not None:
        return f"{role:<8} {_safe(row.name)} <{_safe(row.email)}> {row.phone}  (set here)"
    prefix = "GRO" if role == "gro" else "IGM_SUPPORT"
    name, email, phone = (
        getattr(settings, f"{prefix.lower()}_{k}") for k in ("name", "email", "phone")
    )
    if name and email and phone:
        return f"{role:<8} {_safe(name)} <{_safe(email)}> {_safe(phone)}  (from ONDC_{prefix}_*)"
    return f"{role:<8} NOT NAMED: set ONDC_{prefix}_NAME/_EMAIL/_PHONE or `issues officers set`"


@issues_app.command("raise")
def raise_cmd(
    transaction: Annotated[str, typer.Option(help="a transaction this node took part in")],
    store: Annotated[str, typer.Option(help="the store (provider id) that complains")],
    category: Annotated[str, typer.Option(help="ONDC's code, e.g. VIS001 (store not shown)")],
    short: Annotated[str, typer.Option(help="the complaint in one line")],
    long: Annotated[str, typer.Option(help="the complaint in full")],
) -> None:
    """Raise the seller's own complaint with the buyer app of a transaction (IGM flow 2):
    ``issue`` OPEN goes to that buyer app, which answers with ``on_issue``."""
    for option, value in (("--short", short), ("--long", long)):
        _check_text(option, value)
    _act(
        lambda s, cfg: complainant.raise_issue(
            s, cfg, transaction_id=transaction, provider_id=store, category=category,
            short_desc=short, long_desc=long, now=utcnow(),
        )
    )


@issues_app.command("complaint")
def complaint_cmd(
    issue_id: str,
    step: Annotated[str, typer.Argument(help="provide-info, accept, reject, escalate, close")],
    text: Annotated[str | None, typer.Option(help="what the buyer app reads")] = None,
    resolution: Annotated[
        str | None, typer.Option(help="accept/reject: the resolution id (default: the latest)")
    ] = None,
) -> None:
    """The next step of a complaint this node raised; the ``issue`` goes to the buyer app."""
    if step not in ("provide-info", "accept", "reject", "escalate", "close"):
        typer.echo("error: STEP is provide-info, accept, reject, escalate or close", err=True)
        raise typer.Exit(2)
    _check_text("--text", text)
    _act(
        lambda s, cfg: complainant.act(
            s, cfg, issue_id, step, now=utcnow(), text=text, resolution_id=resolution
        )
    )


@officers_app.command("show")
def officers_show_cmd() -> None:
    """The support desk and the GRO, as the node uses them."""

    async def work(session: AsyncSession, settings: Settings) -> list[str]:
        return [
            _officer_line(role, await session.get(IssueOfficer, role), settings)
            for role in ("support", "gro")
        ]

    for line in _run(work):
        typer.echo(line)


@officers_app.command("set")
def officers_set_cmd(
    role: Annotated[str, typer.Argument(help="support | gro")],
    name: Annotated[str, typer.Option(help="the person's name")],
    email: Annotated[str, typer.Option()],
    phone: Annotated[str, typer.Option(help="10 digits")],
) -> None:
    """Name the support desk or the GRO; every later on_issue carries this contact."""
    if role not in ("support", "gro"):
        typer.echo("error: role must be support or gro", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession, settings: Settings) -> str:
        row = await service.set_officer(
            session, role, name=name, email=email, phone=phone, now=utcnow()
        )
        return _officer_line(role, row, settings)

    typer.echo(_run(work))


def register(app: typer.Typer) -> None:
    app.add_typer(issues_app, name="issues")
