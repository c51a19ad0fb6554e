"""``ondc-adapter catalogue``: build the ODOP registry, generate a sample catalogue, import a
catalogue file into the database named by ``ONDC_DATABASE_URL`` (migrated first)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ondc_adapter.catalogue import odop_build, sample
from ondc_adapter.catalogue.importer import ImportReport, count_rows, import_file
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

catalogue_app = typer.Typer(help="ODOP registry and seller catalogue.", no_args_is_help=True)


@catalogue_app.command("build-odop")
def build_odop(
    source: Annotated[Path, typer.Argument(help="official ODOP list CSV (cp1252)")],
    out: Annotated[Path, typer.Option(help="registry file to write")] = odop_build.DEFAULT_OUT,
    encoding: Annotated[str, typer.Option(help="source encoding")] = "cp1252",
) -> None:
    """Normalise the official ODOP list into the shipped registry file."""
    try:
        count = odop_build.build(source, out, encoding)
    except (OSError, odop_build.OdopSourceError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {count} ODOP products to {out}")


@catalogue_app.command("sample")
def sample_cmd(
    out: Annotated[Path, typer.Option(help="file to write: .jsonl, .json or .csv")],
    items: Annotated[int, typer.Option(min=1, help="number of items")] = 2000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Write a SAMPLE catalogue (import format) built from the ODOP registry."""
    started = time.perf_counter()
    try:
        stats = sample.generate(out, items=items, seed=seed)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"wrote sample catalogue {out}: {stats.items} items, {stats.providers} providers, "
        f"{stats.products} retail ODOP products of {stats.districts} districts "
        f"({stats.districts_without_retail_products} districts have no retail product) "
        f"in {time.perf_counter() - started:.1f}s"
    )


def _print_report(console: Console, report: ImportReport, path: Path, seconds: float) -> None:
    if report.ok:
        console.print(
            f"imported {path}: {report.providers} providers, {report.locations} locations, "
            f"{report.items} items{f', {report.offers} offers' if report.offers else ''}"
            f"{' (SAMPLE data)' if report.sample else ''} "
            f"in {seconds:.1f}s"
        )
        if report.pushed:
            console.print(
                f"queued {report.pushed} incremental on_search for subscribed buyer apps "
                f"({report.changed_items} items, {report.changed_providers} providers changed)"
            )
        return
    console.print(f"[red]nothing imported[/red]: {report.problem_count} problems in {path}")
    for problem in report.problems:
        console.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    if report.problem_count > len(report.problems):
        console.print(f"  ... and {report.problem_count - len(report.problems)} more")


@catalogue_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="catalogue file: .csv, .json or .jsonl")],
) -> None:
    """Import a catalogue file, all or nothing; prints every bad field with its row.

    Buyer apps subscribed to incremental pushes (catalog_inc mode=start) get what changed
    as incremental on_search, queued in the same transaction; a running node sends them."""
    console = Console(stderr=True)
    if not file.exists():
        console.print(f"error: {file} does not exist")
        raise typer.Exit(2)
    settings = Settings()
    total = count_rows(file)

    async def run() -> tuple[ImportReport, float]:
        db = Database(settings.database_url)
        try:
            await db.migrate()
            with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("rows", total=total)
                started = time.perf_counter()
                report = await import_file(
                    db, file, now=datetime.now(UTC),
                    progress=lambda row: bar.update(task, completed=row),
                    settings=settings,
                )
                return report, time.perf_counter() - started
        finally:
            await db.dispose()

    try:
        report, seconds = asyncio.run(run())
    except ValueError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    _print_report(console, report, file, seconds)
    if not report.ok:
        raise typer.Exit(1)


@catalogue_app.command("rejections")
def rejections_cmd(
    provider: Annotated[str | None, typer.Option(help="only this store (provider id)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
) -> None:
    """What buyer apps refused of the catalogue (catalog_rejection), newest first."""
    import asyncio
    import json

    from ondc_adapter.catalogue import rejections
    from ondc_adapter.settings import Settings
    from ondc_adapter.storage import Database

    async def run() -> list[dict[str, object]]:
        db = Database(Settings().database_url)
        try:
            await db.migrate()
            async with db.session() as session:
                rows = await rejections.list_rejections(
                    session, provider_id=provider, limit=max(1, limit)
                )
                return [rejections.as_dict(r) for r in rows]
        finally:
            await db.dispose()

    found = asyncio.run(run())
    if not found:
        typer.echo("no catalogue rejections")
    for row in found:
        typer.echo(json.dumps(row, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(catalogue_app, name="catalogue")
