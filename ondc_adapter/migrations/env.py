"""Alembic environment: migrations run on a connection handed in by storage.migrations, or on
``ONDC_DATABASE_URL`` when invoked as ``alembic`` from the command line."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from ondc_adapter.storage.base import UTCDateTime
from ondc_adapter.storage.schema import all_tables

target_metadata = all_tables()


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations must not import application types: render UTCDateTime as a plain column type.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    from ondc_adapter.settings import Settings
    from ondc_adapter.storage.engine import Database

    async def _main() -> None:
        db = Database(Settings().database_url)
        async with db.engine.begin() as conn:
            await conn.run_sync(run_on)
        await db.dispose()

    asyncio.run(_main())
