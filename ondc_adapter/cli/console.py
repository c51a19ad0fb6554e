"""``ondc-adapter console``: accounts of the seller console (``/console/``) on
``ONDC_DATABASE_URL``. Passwords are read from standard input (one line), never from the
command line, where they would land in the shell's history and in ``ps``."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy import select

from ondc_adapter.console import accounts
from ondc_adapter.console.tables import ConsoleUser
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

console_app = typer.Typer(help="Seller console: accounts of sellers and operators.",
                          no_args_is_help=True)
users_app = typer.Typer(help="Console accounts.", no_args_is_help=True)
console_app.add_typer(users_app, name="users")


def _password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


async def _add(username: str, password: str, provider: str | None, operator: bool,
               language: str | None) -> None:
    from ondc_adapter.catalogue.tables import Provider

    settings = Settings()
    db = Database(settings.database_url)
    try:
        await db.migrate()
        async with db.session() as session:
            if provider is not None:
                store = await session.get(Provider, provider)
                if store is None or store.deleted_at is not None:
                    raise accounts.AccountError(f"no store {provider!r} in the catalogue")
            await accounts.add_user(
                session, username=username, password=password, provider_id=provider,
                operator=operator, now=datetime.now(UTC), language=language,
            )
    finally:
        await db.dispose()


@users_app.command("add")
def add(
    username: Annotated[str, typer.Option(help="the sign-in name")],
    provider: Annotated[
        str | None, typer.Option(help="the store (provider id) this seller runs")
    ] = None,
    operator: Annotated[bool, typer.Option(help="an operator: every store")] = False,
    language: Annotated[str | None, typer.Option(help="en or hi (default: the browser's)")] = None,
) -> None:
    """Add an account; the password is read from standard input."""
    if operator == (provider is not None):
        typer.echo("error: give exactly one of --provider P or --operator", err=True)
        raise typer.Exit(2)
    password = _password()
    try:
        asyncio.run(_add(username, password, provider, operator, language))
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    who = "operator of every store" if operator else f"seller of store {provider}"
    typer.echo(f"added {username}, {who}")


@users_app.command("password")
def password(username: Annotated[str, typer.Option(help="the sign-in name")]) -> None:
    """Set a new password (read from standard input); the account's sessions end."""

    async def run() -> None:
        settings = Settings()
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.session() as session:
                await accounts.set_password(session, username, _password())
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"password of {username} changed")


@users_app.command("list")
def list_users() -> None:
    """Every account: username, role, store."""

    async def run() -> list[ConsoleUser]:
        settings = Settings()
        db = Database(settings.database_url)
        try:
            await db.migrate()
            async with db.session() as session:
                return list((await session.scalars(select(ConsoleUser)
                                                   .order_by(ConsoleUser.username))).all())
        finally:
            await db.dispose()

    for user in asyncio.run(run()):
        role = "operator" if user.operator else f"seller {user.provider_id}"
        state = " (disabled)" if user.disabled else ""
        typer.echo(f"{user.username}\t{role}{state}")


def register(app: typer.Typer) -> None:
    app.add_typer(console_app, name="console")
