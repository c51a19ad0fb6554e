"""The inbox processor: runs the seller logic for each recorded request, exactly once.

For one inbox row, in ONE database transaction: claim the row, call the action's handler, write
each ``OutboundMessage`` it returns to the outbox, mark the row processed. Either all of that
commits or none of it does, so a crash (even ``kill -9``) leaves the row ``received`` and it is
processed on restart; a committed row is never processed again.

Claiming: PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several processes work side by side without
waiting on each other. SQLite has a single writer: the claim is an UPDATE, which takes the
database write lock for the rest of the transaction, so two processes cannot both run a row.

Batches: once requests queue up (the row claimed first has waited longer than
``BATCH_AFTER``), ``run`` claims up to ``batch_size`` due rows and processes them in that one
transaction, each row inside its own savepoint. A claim, a commit and the session around them
cost more than the seller logic of a search; sharing them among a batch is what lets the
answering side keep up with the ACK side. Without a queue each row is its own transaction:
every callback of a batch leaves only when the batch commits, which would delay the first
answers for nothing when there is no backlog to catch up with.

A handler exception rolls back to a savepoint (its partial writes vanish), counts an attempt and
retries later with backoff; after ``max_attempts`` the row is marked failed and an ``on_*`` with
error 31001 is enqueued so the buyer app hears about it (never a silent drop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.contextvars import bound_contextvars

from ondc_adapter.backlog import BacklogSampler
from ondc_adapter.exchange import Handler, InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.inbox import FAILED, PROCESSED, RECEIVED, InboxEntry
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.outbox import enqueue
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.errors import Code
from ondc_adapter.settings import Settings
from ondc_adapter.storage.engine import Database

log = get_logger(__name__)

BATCH_AFTER = timedelta(milliseconds=50)  # a row older than this means requests queue up


def inbound_from_row(row: InboxEntry) -> InboundRequest:
    data = orjson.loads(row.body)
    # catalog_rejection carries ``errors`` where every other request has ``message``
    message = data["message"] if "message" in data else {"errors": data.get("errors") or []}
    return InboundRequest(
        action=row.action,
        context=Context.model_validate(data["context"]),
        message=message,
        received_at=row.received_at,
        signer=row.signer,
        gateway=row.gateway,
    )


class InboxProcessor:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        handlers: dict[str, Handler],
        *,
        clock: Callable[[], datetime] | None = None,
        max_attempts: int = 3,
        retry_delay: float = 1.0,
        poll_seconds: float = 1.0,
        on_enqueued: Callable[[], None] | None = None,
        extras: dict[str, object] | None = None,
        metrics: NodeMetrics | None = None,
        depth_interval: float = 5.0,
        batch_size: int = 16,
    ) -> None:
        self.db = db
        self.settings = settings
        self.handlers = handlers
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.poll_seconds = poll_seconds
        self.batch_size = max(1, batch_size)
        self.on_enqueued = on_enqueued  # wakes the dispatcher
        self.deps = SellerDeps(settings=settings, now=self.clock, extras=dict(extras or {}))
        # One event per loop waiting for work: a wake-up goes to one of them, not to all (four
        # loops all claiming for one new row made three empty transactions).
        self._idle: list[asyncio.Event] = []
        self._missed = False  # a wake-up came while no loop was waiting
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self.backlog = BacklogSampler(
            db,
            self.metrics.inbox_pending,
            select(func.count()).select_from(InboxEntry).where(InboxEntry.status == RECEIVED),
            interval=depth_interval,
            owner="processor",
        )

    def wake(self) -> None:
        if self._idle:
            self._idle.pop().set()
        else:
            self._missed = True  # a busy loop claims again before it waits: it will see it

    async def sample_depth(self) -> int:
        """Count rows waiting for the processor into the ``ondc_inbox_pending`` gauge."""
        return await self.backlog.sample()

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; sleeps until woken or ``poll_seconds`` pass."""
        while not stop.is_set():
            await self.backlog.maybe_sample()
            try:
                worked = await self.process_batch(self.batch_size)
            except Exception as exc:  # database hiccup: log, back off, keep going
                log.error("processor.error", error=repr(exc))
                worked = 0
                await asyncio.sleep(self.poll_seconds)
            if worked or self._missed:
                self._missed = False
                if worked and self._idle:
                    # there may be more: let one more loop look, so loops join in while work
                    # lasts (at most one empty claim per loop once it is done)
                    self._idle.pop().set()
                continue
            event = asyncio.Event()
            self._idle.append(event)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout=self.poll_seconds)
            finally:
                if event in self._idle:
                    self._idle.remove(event)

    async def process_all(self) -> int:
        """Process every due row (for tests and one-shot runs); returns how many."""
        count = 0
        while await self.process_one():
            count += 1
        return count

    async def process_one(self) -> bool:
        """Claim and process one due row; False when none is due."""
        return await self.process_batch(1) > 0

    async def process_batch(self, limit: int) -> int:
        """Claim up to ``limit`` due rows and process them in one transaction (a savepoint
        each); returns how many were claimed."""
        async with self.db.session() as session:
            rows = await self._claim(session, 1)
            if rows and limit > 1 and self.clock() - rows[0].next_attempt_at > BATCH_AFTER:
                # SKIP LOCKED skips other transactions' locks, not this one's: name the first
                rows += await self._claim(session, limit - 1, besides=rows[0].id)
            enqueued = 0
            for row in rows:
                enqueued += await self._process(session, row)
        if enqueued and self.on_enqueued is not None:
            self.on_enqueued()
        return len(rows)

    async def _claim(
        self, session: AsyncSession, limit: int = 1, besides: int | None = None
    ) -> list[InboxEntry]:
        now = self.clock()
        due = (
            select(InboxEntry)
            .where(
                InboxEntry.status == RECEIVED,
                InboxEntry.next_attempt_at <= now,
                InboxEntry.id != besides if besides is not None else true(),
            )
            .order_by(InboxEntry.next_attempt_at, InboxEntry.id)
            .limit(limit)
        )
        if self.db.is_postgres:
            return list((await session.execute(due.with_for_update(skip_locked=True))).scalars())
        # SQLite: write first, so the transaction holds the database write lock before it
        # reads (busy_timeout waits for it); a read-then-upgrade could fail on a stale snapshot.
        claimed = await session.execute(
            update(InboxEntry)
            .where(InboxEntry.id.in_(due.with_only_columns(InboxEntry.id).scalar_subquery()))
            .values(attempts=InboxEntry.attempts)
            .returning(InboxEntry.id)
        )
        ids = [row_id for (row_id,) in claimed.all()]
        if not ids:
            return []
        rows = await session.execute(
            select(InboxEntry)
            .where(InboxEntry.id.in_(ids))
            .order_by(InboxEntry.next_attempt_at, InboxEntry.id)
        )
        return list(rows.scalars())

    async def _process(self, session: AsyncSession, row: InboxEntry) -> int:
        # The handler's log lines (and ours) carry the request's ids.
        with bound_contextvars(
            action=row.action,
            transaction_id=row.transaction_id,
            message_id=row.message_id,
            inbox_id=row.id,
        ):
            return await self._process_bound(session, row)

    async def _process_bound(self, session: AsyncSession, row: InboxEntry) -> int:
        now = self.clock()
        try:
            request = inbound_from_row(row)
        except (ValueError, KeyError, TypeError) as exc:
            # Cannot happen for rows the pipeline wrote (they were validated); kept explicit.
            row.status, row.error, row.processed_at = FAILED, f"unreadable body: {exc}", now
            self.metrics.processed_row(row.action, "failed")
            log.error("processor.unreadable_row", error=str(exc))
            return 0
        handler = self.handlers.get(row.action)
        try:
            if handler is None:
                raise LookupError(f"no handler for action {row.action!r}")
            async with session.begin_nested():
                messages = await handler(request, session, self.deps)
                for message in messages:
                    await enqueue(session, message, now=now)
        except Exception as exc:
            return await self._failed_attempt(session, row, request, exc, now)
        row.status, row.processed_at, row.error = PROCESSED, now, None
        row.attempts += 1
        self.metrics.processed_row(row.action, "processed")
        log.info("processor.processed", callbacks=len(messages))
        return len(messages)

    async def _failed_attempt(
        self,
        session: AsyncSession,
        row: InboxEntry,
        request: InboundRequest,
        exc: Exception,
        now: datetime,
    ) -> int:
        row.attempts += 1
        row.error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("processor.handler_failed", attempt=row.attempts, error=row.error)
        if row.attempts < self.max_attempts:
            delay = self.retry_delay * 2 ** (row.attempts - 1)
            row.next_attempt_at = now + timedelta(seconds=delay)
            self.metrics.processed_row(row.action, "retry")
            return 0
        row.status, row.processed_at = FAILED, now
        self.metrics.processed_row(row.action, "failed")
        error = Error.of(Code.INTERNAL_ERROR, "internal error while processing the request")
        reply = OutboundMessage.reply(request, {}, settings=self.settings, now=now, error=error)
        await enqueue(session, reply, now=now)
        return 1
