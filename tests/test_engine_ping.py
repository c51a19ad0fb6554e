"""Pooled PostgreSQL connections are tested only after sitting idle (``storage.engine``): a
connection the server dropped while idle is replaced on checkout, not handed to the caller."""

from __future__ import annotations

from sqlalchemy import text

from ondc_adapter.storage import Database
from ondc_adapter.storage import engine as engine_module


async def test_an_idle_connection_killed_by_the_server_is_replaced(
    pg_database_url: str, monkeypatch
) -> None:
    db = Database(pg_database_url, pool_size=1)
    try:
        async with db.session() as s:
            pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar()
        other = Database(pg_database_url)
        async with other.session() as s:
            await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await other.dispose()
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        async with db.session() as s:  # the dead one fails its ping and is replaced
            new_pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert new_pid != pid
    finally:
        await db.dispose()


async def test_a_busy_connection_is_not_pinged(pg_database_url: str, monkeypatch) -> None:
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    pings = []
    real_ping = AsyncAdapt_asyncpg_connection.ping
    monkeypatch.setattr(
        AsyncAdapt_asyncpg_connection, "ping",
        lambda self: (pings.append(1), real_ping(self))[1],
    )
    db = Database(pg_database_url, pool_size=1)
    try:
        for _ in range(5):  # back to back: never idle for IDLE_PING_SECONDS
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
        assert pings == []
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        async with db.session() as s:
            await s.execute(text("SELECT 1"))
        assert pings == [1]
    finally:
        await db.dispose()
