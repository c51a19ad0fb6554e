"""The inbox processor: runs the seller logic for each recorded request, exactly once.

For one inbox row, in ONE database transaction: claim the row, call the action's handler, write
each ``OutboundMessage`` it returns to the outbox, mark the row processed. Either all of that
commits or none of it does, so a crash (even ``kill -9``) leaves the row ``received`` and it is
processed on restart; a committed row is never processed again.

Claiming: PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several processes work side by side without
waiting on each other. SQLite has a single writer: the claim is an UPDATE, which takes the
database write lock for the rest of the transaction, so two processes cannot both run a row.

Batches: ``run`` claims every due row, up to ``batch_size``, and processes them in that one
transaction. A claim, a commit and the session around them cost more than the seller logic of
a search; sharing them among a batch is what lets the answering side keep up with the ACK side.
The batch's writes are shared too: every callback in one INSERT, every processed row in one
UPDATE. Nothing waits for a batch to fill: a loop takes what is due when it wakes, one row when
one is there, so a batch only delays its first callbacks by the seller logic of the rows after
them (milliseconds), while it lets the node answer at the same CPU cost per request at 60% of
its capacity as at 100% (claimed one at a time, each costing a transaction, the node ran out
of CPU well below its saturation rate).

The handlers of a batch run in its transaction without savepoints (a savepoint costs two round
trips). A handler exception rolls the batch back (every partial write vanishes) and the batch's
rows are claimed again and run with a savepoint each, so only the failing row counts an attempt
and retries later with backoff; after
``max_attempts`` it is marked failed and an ``on_*`` with error 31001 is enqueued so the buyer
app hears about it (never a silent drop).

Hand-off: the callbacks are written already leased to the dispatcher of this process
(``CallbackSink``), which takes them in memory once the transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
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
from ondc_adapter.outbox import (
    PENDING,
    Callback,
    CallbackSink,
    OutboxEntry,
    as_callbacks,
    insert_leased,
)
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.errors import Code
from ondc_adapter.settings import Settings
from ondc_adapter.storage.engine import Database, driver_connection

log = get_logger(__name__)

_INBOX = InboxEntry.__table__
# What a claim reads of a row (Core columns: no ORM identity map for rows read once).
_CLAIMED = (
    _INBOX.c.id,
    _INBOX.c.action,
    _INBOX.c.transaction_id,
    _INBOX.c.message_id,
    _INBOX.c.body,
    _INBOX.c.signer,
    _INBOX.c.gateway,
    _INBOX.c.received_at,
    _INBOX.c.attempts,
    _INBOX.c.next_attempt_at,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An inbox row this transaction holds (the columns of ``_CLAIMED``, in that order)."""

    id: int
    action: str
    transaction_id: str
    message_id: str
    body: bytes
    signer: str
    gateway: str | None
    received_at: datetime
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What becomes of a claimed row: its new status and the callbacks it produced."""

    row: Claimed
    status: str  # PROCESSED, FAILED, or RECEIVED again (a retry later)
    messages: list[OutboundMessage] = field(default_factory=list)
    error: str | None = None
    next_attempt_at: datetime | None = None
    attempted: bool = True  # the handler ran (an unreadable body never reached one)


class _HandlerFailed(Exception):
    """A handler raised in a batch: the batch is rolled back and runs again row by row."""

    def __init__(self, row: Claimed, error: Exception) -> None:
        super().__init__(repr(error))
        self.row, self.error = row, error


def inbound_from_row(row: Claimed | InboxEntry) -> InboundRequest:
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
        sink: CallbackSink | None = None,
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
        self.on_enqueued = on_enqueued  # wakes the dispatcher (when there is no sink)
        self.sink = sink  # takes this process's new callbacks in memory
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
            full = worked >= self.batch_size
            if full or self._missed:
                # A full batch may have left rows behind: look again, and let one more loop
                # look, so loops join in while a queue lasts. A smaller batch took everything
                # due; rows recorded since then woke an idle loop, or set ``_missed``.
                self._missed = False
                if full and self._idle:
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
        """Claim up to ``limit`` due rows and process them in one transaction; returns how
        many were claimed."""
        rows: list[Claimed] = []
        try:
            async with self.db.session() as session:
                rows = await self._claim(session, limit)
                if not rows:
                    return 0
                now = self.clock()
                outcomes, work = self._readable_rows(rows, now)
                # No savepoint (two round trips, more than a search's own logic): handlers
                # almost never fail, and when one does the whole transaction is rolled back.
                outcomes += [await self._run(session, row, request) for row, request in work]
                callbacks = await self._write(session, outcomes, now)
        except _HandlerFailed as failed:
            outcomes, callbacks = await self._again_row_by_row(rows, failed)
        for outcome in outcomes:
            self.metrics.processed_row(outcome.row.action, _METRIC[outcome.status])
        if callbacks and self.sink is not None:
            self.sink.adopt(callbacks)
        elif callbacks and self.on_enqueued is not None:
            self.on_enqueued()
        return len(rows)

    async def _again_row_by_row(
        self, rows: list[Claimed], failed: _HandlerFailed
    ) -> tuple[list[_Outcome], list[Callback]]:
        """After a handler failed (its batch rolled back): claim the batch's rows again, those
        no other worker took meanwhile, and run each in a savepoint of its own; the failing
        row counts an attempt without running again."""
        async with self.db.session() as session:
            again = await self._claim(session, len(rows), ids=[row.id for row in rows])
            now = self.clock()
            outcomes, work = self._readable_rows(again, now)
            for row, request in work:
                if row.id == failed.row.id:
                    outcomes.append(self._failed_in_batch(row, request, failed.error, now))
                else:
                    outcomes.append(await self._run_alone(session, row, request, now))
            return outcomes, await self._write(session, outcomes, now)

    def _readable_rows(
        self, rows: list[Claimed], now: datetime
    ) -> tuple[list[_Outcome], list[tuple[Claimed, InboundRequest]]]:
        """The outcomes of rows that cannot be read, and the requests of the others."""
        outcomes: list[_Outcome] = []
        work: list[tuple[Claimed, InboundRequest]] = []
        for row in rows:
            readable = self._readable(row, now)
            if isinstance(readable, _Outcome):
                outcomes.append(readable)
            else:
                work.append((row, readable))
        return outcomes, work

    async def _claim(
        self, session: AsyncSession, limit: int, ids: list[int] | None = None
    ) -> list[Claimed]:
        due = (
            select(*_CLAIMED)
            .where(
                _INBOX.c.status == RECEIVED,
                _INBOX.c.next_attempt_at <= self.clock(),
                _INBOX.c.id.in_(ids) if ids is not None else true(),
            )
            .order_by(_INBOX.c.next_attempt_at, _INBOX.c.id)
            .limit(limit)
        )
        if self.db.is_postgres:
            found = await session.execute(due.with_for_update(skip_locked=True))
            return [Claimed(*row) for row in found.all()]
        # SQLite: write first, so the transaction holds the database write lock before it
        # reads (busy_timeout waits for it); a read-then-upgrade could fail on a stale snapshot.
        claimed = await session.execute(
            update(_INBOX)
            .where(_INBOX.c.id.in_(due.with_only_columns(_INBOX.c.id).scalar_subquery()))
            .values(attempts=_INBOX.c.attempts)
            .returning(_INBOX.c.id)
        )
        ids = [row_id for (row_id,) in claimed.all()]
        if not ids:
            return []
        found = await session.execute(
            select(*_CLAIMED)
            .where(_INBOX.c.id.in_(ids))
            .order_by(_INBOX.c.next_attempt_at, _INBOX.c.id)
        )
        return [Claimed(*row) for row in found.all()]

    def _readable(self, row: Claimed, now: datetime) -> InboundRequest | _Outcome:
        """The row's request, or its failed outcome when the body cannot be read. Cannot
        happen for rows the pipeline wrote (they were validated); kept explicit."""
        try:
            return inbound_from_row(row)
        except (ValueError, KeyError, TypeError) as exc:
            with bound_contextvars(action=row.action, inbox_id=row.id):
                log.error("processor.unreadable_row", error=str(exc))
            return _Outcome(row, FAILED, error=f"unreadable body: {exc}", attempted=False)

    async def _run(self, session: AsyncSession, row: Claimed, request: InboundRequest) -> _Outcome:
        """The handler of ``row`` in the batch's transaction; a failure aborts the batch."""
        with _bound(row):
            try:
                messages = await self._handle(session, row, request)
            except Exception as exc:
                raise _HandlerFailed(row, exc) from exc
            log.info("processor.processed", callbacks=len(messages))
        return _Outcome(row, PROCESSED, messages)

    async def _run_alone(
        self, session: AsyncSession, row: Claimed, request: InboundRequest, now: datetime
    ) -> _Outcome:
        """The handler of ``row`` inside a savepoint of its own."""
        with _bound(row):
            try:
                async with session.begin_nested():
                    messages = await self._handle(session, row, request)
            except Exception as exc:
                return self._failed_attempt(row, request, exc, now)
            log.info("processor.processed", callbacks=len(messages))
        return _Outcome(row, PROCESSED, messages)

    async def _handle(
        self, session: AsyncSession, row: Claimed, request: InboundRequest
    ) -> list[OutboundMessage]:
        handler = self.handlers.get(row.action)
        if handler is None:
            raise LookupError(f"no handler for action {row.action!r}")
        return await handler(request, session, self.deps)

    def _failed_in_batch(
        self, row: Claimed, request: InboundRequest, exc: Exception, now: datetime
    ) -> _Outcome:
        with _bound(row):
            return self._failed_attempt(row, request, exc, now)

    def _failed_attempt(
        self, row: Claimed, request: InboundRequest, exc: Exception, now: datetime
    ) -> _Outcome:
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.error("processor.handler_failed", attempt=attempts, error=error)
        if attempts < self.max_attempts:
            retry_at = now + timedelta(seconds=self.retry_delay * 2 ** (attempts - 1))
            return _Outcome(row, RECEIVED, error=error, next_attempt_at=retry_at)
        failure = Error.of(Code.INTERNAL_ERROR, "internal error while processing the request")
        reply = OutboundMessage.reply(request, {}, settings=self.settings, now=now, error=failure)
        return _Outcome(row, FAILED, [reply], error=error)

    async def _write(
        self, session: AsyncSession, outcomes: list[_Outcome], now: datetime
    ) -> list[Callback]:
        """The batch's writes: every callback in one INSERT, every processed row in one
        UPDATE (the rare retried or failed row in one of its own)."""
        messages = [m for outcome in outcomes for m in outcome.messages]
        # Leased to this process's dispatcher, which gets them in memory after the commit;
        # without one they are due at once, for whichever dispatcher looks first.
        leased_until = now + self.sink.lease if self.sink is not None else now
        processed = [o.row.id for o in outcomes if o.status == PROCESSED]
        if self.db.is_postgres:
            callbacks = await _finish_postgres(session, processed, messages, now, leased_until)
            processed = []  # marked by the same statement
        else:
            callbacks = await insert_leased(session, messages, now=now, leased_until=leased_until)
        if processed:
            await session.execute(
                update(_INBOX)
                .where(_INBOX.c.id.in_(processed))
                .values(
                    status=PROCESSED, processed_at=now, error=None, attempts=_INBOX.c.attempts + 1
                )
            )
        for o in outcomes:
            if o.status == PROCESSED:
                continue
            values: dict[str, object] = {"status": o.status, "error": o.error}
            if o.status == FAILED:
                values["processed_at"] = now
            if o.next_attempt_at is not None:
                values["next_attempt_at"] = o.next_attempt_at
            if o.attempted:
                values["attempts"] = _INBOX.c.attempts + 1
            await session.execute(update(_INBOX).where(_INBOX.c.id == o.row.id).values(**values))
        return callbacks


_METRIC = {PROCESSED: "processed", FAILED: "failed", RECEIVED: "retry"}

# A batch's writes on PostgreSQL, for asyncpg: the processed rows marked and every callback
# inserted (arrays unnested, in order; ids come from the sequence in that order) in ONE
# statement, inside the batch's transaction, which the claim began.
_PG_FINISH = f"""
WITH processed AS (
    UPDATE {_INBOX.name}
    SET status = '{PROCESSED}', processed_at = $1, error = NULL, attempts = attempts + 1
    WHERE id = ANY($2::int[])
)
INSERT INTO {OutboxEntry.__tablename__} (created_at, action, url, transaction_id, message_id,
    body, solicited, status, attempts, next_attempt_at, expires_at)
SELECT $1, a, u, t, m, b, s, '{PENDING}', 0, $3, e
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bool[],
            $10::timestamptz[]) WITH ORDINALITY AS x(a, u, t, m, b, s, e, n)
ORDER BY n
RETURNING id
"""


async def _finish_postgres(
    session: AsyncSession,
    processed: list[int],
    messages: list[OutboundMessage],
    now: datetime,
    leased_until: datetime,
) -> list[Callback]:
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _PG_FINISH,
        now,
        processed,
        leased_until,
        [m.action for m in messages],
        [m.url for m in messages],
        [m.transaction_id for m in messages],
        [m.message_id for m in messages],
        [m.body for m in messages],
        [m.solicited for m in messages],
        [m.expires_at for m in messages],
    )
    ids = sorted(row[0] for row in rows)
    return as_callbacks(ids, messages, now=now, leased_until=leased_until)


def _bound(row: Claimed) -> contextlib.AbstractContextManager[object]:
    """The handler's log lines (and ours) carry the request's ids."""
    return bound_contextvars(
        action=row.action,
        transaction_id=row.transaction_id,
        message_id=row.message_id,
        inbox_id=row.id,
    )
