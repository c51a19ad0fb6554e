"""Migrations are the only way the schema is made: they must produce exactly the models."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from ondc_adapter.storage import Database
from ondc_adapter.storage.migrations import upgrade
from ondc_adapter.storage.schema import all_tables


async def _diff(db: Database) -> list:
    def run(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, all_tables())

    async with db.engine.connect() as conn:
        return await conn.run_sync(run)


async def test_postgres_schema_matches_models(pg_db: Database) -> None:
    assert await _diff(pg_db) == []


async def test_sqlite_schema_matches_models(sqlite_db: Database) -> None:
    assert await _diff(sqlite_db) == []


async def test_migrate_twice_is_harmless(sqlite_db: Database) -> None:
    await sqlite_db.migrate()
    assert await _diff(sqlite_db) == []


async def _rows_before_0012(db: Database) -> None:
    """An order and a draft written by a node from before transactions kept their version."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO order_drafts (transaction_id, stage, message_id, bap_id, provider_id,"
                ' "order", lines, fulfillment, created_at) VALUES'
                " ('t-old', 'init', 'm1', 'b', 'P1', '{}', '[]', '{}', :now)"
            ),
            {"now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO orders (order_id, transaction_id, bap_id, bap_uri, domain, city,"
                " provider_id, location_id, lines, charges, items, quote, billing, fulfillments,"
                " payment, cancellation_terms, tags, state, fulfillment_state, accepted, context,"
                " confirm_message_id, created_at, created_at_text, updated_at, updated_at_text)"
                " VALUES ('O-old', 't-old', 'b', 'https://b.test', 'ONDC:RET16', 'std:080', 'P1',"
                " 'L1', '[]', '{}', '[]', '{}', '{}', '[]', '{}', '[]', '[]', 'Accepted',"
                " 'Pending', true, '{}', 'm2', :now, 'x', :now, 'x')"
            ),
            {"now": now},
        )


async def _versions(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        drafts = (await conn.execute(text("SELECT core_version FROM order_drafts"))).scalars()
        orders = (await conn.execute(text("SELECT core_version FROM orders"))).scalars()
        return [*drafts, *orders]


async def _upgrade_keeps_rows(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db.engine, "0011_igm")
        await _rows_before_0012(db)
        await upgrade(db.engine)
        # existing transactions and orders were all retail 1.2.0, the one version served then
        assert await _versions(db) == ["1.2.0", "1.2.0"]
        assert await _diff(db) == []
    finally:
        await db.dispose()


async def test_0012_gives_existing_orders_version_1_2_0_on_sqlite(tmp_path) -> None:
    await _upgrade_keeps_rows(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


async def test_0012_gives_existing_orders_version_1_2_0_on_postgres() -> None:
    admin = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"ondc_mig_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        await _upgrade_keeps_rows(f"{base}/{name}")
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
