"""Shared fixtures: a throw-away PostgreSQL database per test session, Redis with a per-test key
prefix, and SQLite files in tmp_path. Servers that are down make tests fail, never skip."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from ondc_adapter.logging import configure_logging
from ondc_adapter.storage import Database
from ondc_adapter.storage.schema import all_tables


@pytest.fixture(autouse=True)
def _node_logging() -> None:
    """Log as a deployed node does (``configure_logging``: plain tracebacks), not with
    structlog's development default: that renders each logged exception with rich, every
    frame's locals included, in about 2 s of CPU, long enough to stall the node under test
    (a PostgreSQL outage logs a dozen) and push its callbacks past their ttl. Before each
    test, since some tests reset structlog when they finish."""
    configure_logging("INFO", json=False)


PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh database, migrated to head, for the whole session; dropped afterwards."""
    name = f"ondc_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(create())
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - environment failure
        pytest.fail(f"PostgreSQL is required for the tests ({PG_ADMIN_DSN}): {exc}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"

    async def migrate() -> None:
        db = Database(url)
        await db.migrate()
        await db.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(drop())


async def _truncate_all(db: Database) -> None:
    tables = [t.name for t in all_tables().sorted_tables if t.name != "alembic_version"]
    if not tables:
        return
    async with db.engine.begin() as conn:
        if db.is_postgres:
            joined = ", ".join(f'"{t}"' for t in tables)
            await conn.exec_driver_sql(f"TRUNCATE {joined} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                await conn.exec_driver_sql(f'DELETE FROM "{table}"')


@pytest.fixture
async def pg_db(pg_database_url: str) -> AsyncIterator[Database]:
    """The session's PostgreSQL database, emptied before each test."""
    db = Database(pg_database_url)
    await _truncate_all(db)
    yield db
    await db.dispose()


@pytest.fixture
async def sqlite_db(tmp_path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ondc.db'}")
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
async def each_db(
    request: pytest.FixtureRequest, pg_database_url: str, tmp_path
) -> AsyncIterator[Database]:
    """The test runs twice: on PostgreSQL (emptied) and on a new SQLite file (the default)."""
    if request.param == "postgresql":
        db = Database(pg_database_url)
        await _truncate_all(db)
    else:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ondc.db'}")
        await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment failure
        pytest.fail(f"Redis is required for the tests ({REDIS_URL}): {exc}")
    yield client
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    """Per-test key prefix so parallel runs and tests never see each other's keys."""
    return f"ondc-test:{uuid.uuid4().hex[:12]}:"
