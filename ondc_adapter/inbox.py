"""The durable inbox of accepted requests, and de-duplication.

A request is ACKed only after its row is committed here ("record, then ACK"), so an ACK always
means the request will be processed, even if the process dies a microsecond later. The unique
constraint on (bap_id, transaction_id, message_id, action) is the de-duplication authority: it
holds across worker processes and when Redis is down. Redis, when given, is only a fast path that
remembers keys *after* they were committed, so it can never make us drop a request.

Writes are group-committed: concurrent requests in one process share one INSERT and one commit
(each request still gets its own row and waits for that commit before its ACK). Under load this
turns N round trips into one; with a single request in flight it is a plain insert.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.logging import get_logger
from ondc_adapter.storage.base import Base, UTCDateTime
from ondc_adapter.storage.engine import Database, driver_connection

RECEIVED = "received"  # committed, waiting for the processor (or its next attempt)
PROCESSED = "processed"  # the handler ran and its callbacks are in the outbox
FAILED = "failed"  # the handler kept failing; an error callback was enqueued

DEDUPE_KEY = ("bap_id", "transaction_id", "message_id", "action")

log = get_logger(__name__)


class InboxEntry(Base):
    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # the exact bytes verified
    signer: Mapped[str] = mapped_column(String(255), nullable=False)
    gateway: Mapped[str | None] = mapped_column(String(255), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint(*DEDUPE_KEY),
        Index("ix_inbox_due", "status", "next_attempt_at"),
    )


# The same insert as ``Inbox._insert`` for PostgreSQL, written for asyncpg: arrays unnested
# into rows, so a batch of any size is one statement with a fixed text (prepared once).
_PG_BATCH_INSERT = f"""
INSERT INTO inbox (action, bap_id, transaction_id, message_id, body, signer, gateway,
                   received_at, status, attempts, next_attempt_at)
SELECT a, b, t, m, body, s, g, r, '{RECEIVED}', 0, r
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[],
            $7::text[], $8::timestamptz[]) AS u(a, b, t, m, body, s, g, r)
ON CONFLICT (bap_id, transaction_id, message_id, action) DO NOTHING
RETURNING bap_id, transaction_id, message_id, action
"""


async def _close_quietly(conn: AsyncConnection) -> None:
    try:
        await conn.close()
    except Exception as exc:  # closing a broken connection may fail too; the pool recovers
        log.warning("inbox.connection_close_failed", error=repr(exc))


class Recorded(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """What the pipeline hands to the inbox once a request is verified and validated."""

    action: str
    bap_id: str
    transaction_id: str
    message_id: str
    body: bytes
    signer: str
    gateway: str | None
    received_at: datetime

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.bap_id, self.transaction_id, self.message_id, self.action)

    def row(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "bap_id": self.bap_id,
            "transaction_id": self.transaction_id,
            "message_id": self.message_id,
            "body": self.body,
            "signer": self.signer,
            "gateway": self.gateway,
            "received_at": self.received_at,
            "status": RECEIVED,
            "attempts": 0,
            "next_attempt_at": self.received_at,
        }


class Inbox:
    """Records requests durably; ``record`` returns once the row is committed (or known)."""

    def __init__(
        self,
        db: Database,
        *,
        redis: aioredis.Redis | None = None,
        redis_prefix: str = "ondc:",
        dedupe_ttl_seconds: int = 3600,
        max_batch: int = 256,
        max_writers: int = 4,
        on_commit: Callable[[], None] | None = None,
        keep_connections: bool = False,
    ) -> None:
        self.db = db
        self.redis = redis
        self.redis_prefix = redis_prefix
        self.dedupe_ttl_seconds = dedupe_ttl_seconds
        self.max_batch = max_batch
        self.on_commit = on_commit  # e.g. wake the processor without waiting for its poll
        # SQLite has one writer at a time anyway: parallel batches would only queue on its lock.
        self.max_writers = max_writers if db.is_postgres else 1
        self._queue: list[tuple[InboxRecord, asyncio.Future[Recorded]]] = []
        self._writers: set[asyncio.Task[None]] = set()
        # ``keep_connections``: a writer that ran out of work parks its PostgreSQL connection
        # here for the next writer instead of returning it to the pool. A checkout from the
        # pool costs a pre-ping (BEGIN; SELECT; ROLLBACK: three round trips), which under load
        # was a tenth of the ACK path's CPU. A parked connection that died meanwhile (database
        # restart) fails its next batch, which is then retried once on a fresh connection.
        # At most ``max_writers`` are parked; ``close()`` closes them (callers that never call
        # it leave this off, so nothing outlives their requests).
        self.keep_connections = keep_connections
        self._parked: list[AsyncConnection] = []
        self._closing = False
        table = InboxEntry.__table__
        dialect_insert = pg_insert if db.is_postgres else sqlite_insert
        self._insert = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=list(DEDUPE_KEY))
            .returning(*(table.c[name] for name in DEDUPE_KEY))
        )

    async def record(self, entry: InboxRecord) -> Recorded:
        """Commit ``entry`` (or find it already committed). Raises on database failure."""
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        if len(self._writers) < self.max_writers:
            # A few batches may be in flight at once, so one slow commit (an fsync stall)
            # does not hold back every request that arrives meanwhile. The writer serves
            # many requests: it runs in an empty context, so its log lines do not carry the
            # ids of whichever request happened to start it.
            writer = asyncio.create_task(
                self._drain(), name="inbox-writer", context=contextvars.Context()
            )
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await future

    async def _drain(self) -> None:
        # Everything queued while earlier batches were being committed forms the next batch.
        # One connection serves the whole drain (no checkout and ping per batch).
        conn: AsyncConnection | None = None
        parked = False  # conn came from _parked and has not been used since
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    if conn is None and self.db.is_postgres:
                        conn, parked = await self._connection()
                    try:
                        results, committed = await self._write(batch, conn)
                    except Exception:
                        if not parked or conn is None:
                            raise
                        # The parked connection may have died while idle: one retry on a
                        # fresh one. Safe: a row the first try committed comes back as a
                        # duplicate, which is still an ACK, and is processed once.
                        await _close_quietly(conn)
                        conn, parked = None, False
                        conn = await self.db.engine.connect()
                        results, committed = await self._write(batch, conn)
                    parked = False
                except Exception as exc:  # the callers turn this into a retryable NACK
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    if conn is not None:  # a broken connection must not serve the next batch
                        await _close_quietly(conn)
                        conn = None
                    continue
                self._release(batch, results)
                # After the ACKs are released: Redis is an optimisation, never on the ACK's path.
                await self._redis_remember(committed)
        finally:
            if conn is not None:
                if self.keep_connections and not self._closing:
                    self._parked.append(conn)
                else:
                    await _close_quietly(conn)

    async def _connection(self) -> tuple[AsyncConnection, bool]:
        """A parked connection (``True``) or a fresh one from the pool."""
        if self._parked:
            return self._parked.pop(), True
        return await self.db.engine.connect(), False

    @staticmethod
    def _release(
        batch: Sequence[tuple[InboxRecord, asyncio.Future[Recorded]]], results: list[Recorded]
    ) -> None:
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def _write(
        self,
        batch: Sequence[tuple[InboxRecord, asyncio.Future[Recorded]]],
        conn: AsyncConnection | None,
    ) -> tuple[list[Recorded], list[tuple[str, str, str, str]]]:
        entries = [entry for entry, _ in batch]
        keys = [e.key for e in entries]
        known = await self._redis_known(keys)
        first: dict[tuple[str, str, str, str], int] = {}
        for index, key in enumerate(keys):
            if key not in known:
                first.setdefault(key, index)  # a copy inside the same batch is a duplicate
        inserted: set[tuple[str, str, str, str]] = set()
        if first:
            # Key order: concurrent batches (several workers, a peer sending one request to
            # two hosts) then take the unique index's locks in the same order and cannot
            # deadlock each other.
            fresh = sorted((entries[i] for i in first.values()), key=lambda e: e.key)
            if conn is not None:
                inserted = await self._insert_postgres(conn, fresh)
            else:
                async with self.db.engine.begin() as conn:
                    result = await conn.execute(self._insert, [e.row() for e in fresh])
                    inserted = {tuple(row) for row in result.all()}  # type: ignore[misc]
            if self.on_commit is not None:
                self.on_commit()
        results = [
            Recorded.NEW if key in inserted and first.get(key) == i else Recorded.DUPLICATE
            for i, key in enumerate(keys)
        ]
        return results, list(first)

    @staticmethod
    async def _insert_postgres(conn: AsyncConnection, fresh: list[InboxRecord]) -> set[Any]:
        """One statement, no explicit transaction: asyncpg runs it in autocommit, so the batch
        costs a single round trip, and ``fetch`` returns only after the commit."""
        driver = await driver_connection(conn)
        for attempt in range(3):
            try:
                return await Inbox._fetch_insert(driver, fresh)
            except asyncpg.exceptions.DeadlockDetectedError:
                # The statement ran in autocommit and was rolled back whole: safe to repeat.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    async def _fetch_insert(driver: Any, fresh: list[InboxRecord]) -> set[Any]:
        rows = await driver.fetch(
            _PG_BATCH_INSERT,
            [e.action for e in fresh],
            [e.bap_id for e in fresh],
            [e.transaction_id for e in fresh],
            [e.message_id for e in fresh],
            [e.body for e in fresh],
            [e.signer for e in fresh],
            [e.gateway for e in fresh],
            [e.received_at for e in fresh],
        )
        return {(r[0], r[1], r[2], r[3]) for r in rows}

    def _redis_key(self, key: tuple[str, str, str, str]) -> str:
        return f"{self.redis_prefix}inbox:" + "|".join(key)

    async def _redis_known(self, keys: list[tuple[str, str, str, str]]) -> set[Any]:
        if self.redis is None:
            return set()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.exists(self._redis_key(key))
                flags = await pipe.execute()
        except (RedisError, OSError) as exc:  # the database still de-duplicates
            log.warning("inbox.redis_unavailable", error=str(exc))
            return set()
        return {key for key, flag in zip(keys, flags, strict=True) if flag}

    async def _redis_remember(self, keys: list[tuple[str, str, str, str]]) -> None:
        # Only committed keys are remembered: a key in Redis always has a row in the database.
        if self.redis is None or not keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(self._redis_key(key), b"1", ex=self.dedupe_ttl_seconds)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("inbox.redis_unavailable", error=str(exc))

    async def close(self) -> None:
        self._closing = True
        if self._writers:
            await asyncio.wait(list(self._writers), timeout=5)
        parked, self._parked = self._parked, []
        for conn in parked:
            await _close_quietly(conn)
