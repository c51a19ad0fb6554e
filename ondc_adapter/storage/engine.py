"""Engine and session factory for one database URL (SQLite by default, PostgreSQL in prod)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dispatcher read while a request writes; busy_timeout waits out the lock
    # another process holds instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A pooled PostgreSQL connection idle longer than this is tested before use (see
# ``_ping_if_idle``); one in steady use is not.
IDLE_PING_SECONDS = 10.0


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A server restart leaves dead connections in the pool. ``pool_pre_ping`` would test
    every checkout: a BEGIN, a ping and a ROLLBACK each time, about a third of the round trips
    a search costs. Only a connection that sat idle is tested; one in steady use would have
    failed its last statement already, and the error invalidates the pool (SQLAlchemy's
    disconnect handling) so the caller's retry gets a fresh one. Raising DisconnectionError
    here makes the pool replace this connection and check out another."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError(f"idle connection failed its ping: {error!r}") from error


async def driver_connection(source: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under ``source``, for the few hot statements written for the
    driver directly (a batch as arrays, no ORM bookkeeping). On a connection SQLAlchemy has
    begun nothing on, a driver statement runs in autocommit. In a session, SQLAlchemy begins
    the transaction lazily, at its first statement: a driver statement sent before one ran
    would run outside the transaction."""
    conn = await source.connection() if isinstance(source, AsyncSession) else source
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _jsonb_text(value: Any) -> str:
    """JSON parameters on PostgreSQL: orjson, several times faster than ``json`` (a confirm
    writes a dozen JSONB values). Safe to switch: JSONB stores the parsed value, not the text,
    so what is stored and read back is the same either way. What orjson refuses (integers
    beyond 64 bits) goes through ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def _jsonb_value(text: str) -> Any:
    """JSONB values read on PostgreSQL: orjson, as ``_jsonb_text`` writes them (SQLAlchemy's
    asyncpg codec would use ``json``; an order step reads a dozen JSONB columns). orjson reads
    an integer beyond 64 bits as a float, losing digits without a word: text with a run of 19
    digits or more (rare, and cheap to look for) goes through ``json``."""
    if _LONG_NUMBER.search(text):
        return json.loads(text)
    return orjson.loads(text)


_LONG_NUMBER = re.compile(r"\d{19}")


class Database:
    """Owns one AsyncEngine; hand ``db.session()`` to code that needs a transaction."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size,
                json_serializer=_jsonb_text,
                json_deserializer=_jsonb_value,
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine, "checkin", _mark_idle)
            event.listen(self.engine.sync_engine, "checkout", _ping_if_idle)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        from ondc_adapter.storage.migrations import upgrade

        await upgrade(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
