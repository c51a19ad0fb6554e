"""``ondc-adapter orders``: the seller's order desk on ``ONDC_DATABASE_URL`` (list, show,
accept, advance, cancel, part-cancel). Changes enqueue the callbacks the buyer app must get;
a running node's dispatcher sends them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders import service, settlements
from ondc_adapter.orders.build import wire_order
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

T = TypeVar("T")

orders_app = typer.Typer(help="Orders: list, show, accept, advance, cancel.", no_args_is_help=True)


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
    except service.OrderNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except IllegalTransition as exc:
        typer.echo(f"refused ({exc.code.value}): {exc.reason}", err=True)
        raise typer.Exit(3) from None


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _report(outcome: service.Outcome) -> None:
    r = outcome.record
    sent = ", ".join(f"{m.action} {m.message_id}" for m in outcome.messages)
    typer.echo(f"{r.order_id}: order {r.state}, fulfillment {r.fulfillment_state}; queued {sent}")


@orders_app.command("list")
def list_cmd(
    state: Annotated[str | None, typer.Option(help="only orders in this state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Orders, most recently changed first."""

    async def work(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
        return [service.summary(r) for r in await service.list_orders(session, state=state,
                                                                        limit=limit)]

    rows = _run(work)
    if as_json:
        _print(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['order_id']:<24} {row['state']:<12} {row['fulfillment_state']:<18} "
            f"{row['total']:>10}  {row['updated_at']}  {row['bap_id']}"
        )


@orders_app.command("show")
def show_cmd(order_id: str) -> None:
    """The order as the buyer app sees it, its transition history and its settlements."""

    async def work(session: AsyncSession, settings: Settings) -> dict[str, Any]:
        record, journal = await service.show(session, order_id)
        return {
            "order": wire_order(record),
            "transitions": [service.transition_dict(t) for t in journal],
            # money paid back after the order (an IGM refund accepted): quote_trail-style
            "settlements": settlements.as_quote_trail(
                await settlements.of_order(session, record.id)
            ),
        }

    _print(_run(work))


@orders_app.command("accept")
def accept_cmd(order_id: str) -> None:
    """Accept an order confirmed with deferred acceptance (state Created)."""
    _report(_run(lambda s, cfg: service.accept(s, cfg, order_id, now=utcnow())))


@orders_app.command("advance")
def advance_cmd(
    order_id: str,
    state: Annotated[str, typer.Argument(help="Packed, Agent-assigned, Order-picked-up, "
                                              "Out-for-delivery, Order-delivered, ...")],
    fulfillment: Annotated[
        str | None, typer.Option(help="an RTO/Return fulfillment id (default: the delivery)")
    ] = None,
    agent_name: Annotated[str | None, typer.Option()] = None,
    agent_phone: Annotated[str | None, typer.Option()] = None,
    invoice_url: Annotated[str | None, typer.Option()] = None,
    reason_code: Annotated[
        str | None, typer.Option(help="Return_Rejected: the rejection reason code (001-005)")
    ] = None,
    qc: Annotated[
        str | None, typer.Option(help="Return_Delivered / Return_Failed: reverse QC passed|failed")
    ] = None,
) -> None:
    """Move a fulfillment to its next state; the buyer app is told (on_status / on_update)."""
    details = {
        k: v
        for k, v in (
            ("agent_name", agent_name), ("agent_phone", agent_phone), ("invoice_url", invoice_url),
            ("qc", qc),
        )
        if v
    }
    _report(
        _run(
            lambda s, cfg: service.advance(
                s, cfg, order_id, state, now=utcnow(), fulfillment_id=fulfillment,
                details=details, reason_code=reason_code,
            )
        )
    )


@orders_app.command("cancel")
def cancel_cmd(
    order_id: str,
    reason: Annotated[str, typer.Argument(help="seller reason code, e.g. 005 or 013")],
) -> None:
    """Cancel the whole order (before pickup) or send it back (RTO reasons after pickup)."""
    _report(_run(lambda s, cfg: service.cancel(s, cfg, order_id, reason, now=utcnow())))


@orders_app.command("part-cancel")
def part_cancel_cmd(
    order_id: str,
    items: Annotated[list[str], typer.Argument(help="ITEM=QTY pairs, e.g. I2=1")],
    reason: Annotated[str, typer.Option(help="seller reason code")] = "002",
) -> None:
    """Cancel some units (they are not available); the buyer app gets on_update."""
    try:
        quantities = {k: int(v) for k, v in (pair.split("=", 1) for pair in items)}
    except ValueError:
        typer.echo("error: items must be ITEM=QTY pairs", err=True)
        raise typer.Exit(2) from None
    _report(
        _run(
            lambda s, cfg: service.part_cancel(
                s, cfg, order_id, quantities, now=utcnow(), reason_code=reason
            )
        )
    )


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")
