"""Migrations are the only way the schema is made: they must produce exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ondc_adapter.storage import Database
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
