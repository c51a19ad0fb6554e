"""Callback delivery: signs the outbox's stored bytes and POSTs them to the buyer app.

Lease, then deliver outside any transaction, then record:

* Lease: a row is leased by moving its ``next_attempt_at`` forward by ``lease_seconds``. The
  processor writes its callbacks already leased to this process and hands them over in memory
  (``adopt``); rows whose lease ran out, retries and rows other code enqueued are claimed with
  one statement (PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so workers never pick the same row;
  SQLite: a conditional UPDATE that only one writer can win). The row stays ``pending``, so if
  the process dies mid-delivery (``kill -9``) the row is simply due again when the lease ends.
  A callback is sent only while its lease has at least one attempt's time left, so a row whose
  lease could run out mid-send is left for the next claim instead of risking a second sender.
* Streaming: ``run`` keeps up to ``max_in_flight`` sends going at once and starts the next as
  soon as one ends, so one slow buyer app never holds up the callbacks of the others; results
  are recorded in batches by one recorder task (group commit).
* Deliver: sign exactly the stored bytes (fresh ``created``; ``expires`` never beyond the row's
  ``expires_at``), POST with ``Content-Type: application/json``.
* Record: one ``OutboxAttempt`` per try; the results gathered meanwhile are written in one
  transaction (bulk insert, bulk update by primary key). ACK -> delivered. NACK -> nacked, not
  retried, unless the code says "internal error, retry" (31001 / 23001). 5xx, 429, timeouts,
  connection errors -> retried with exponential backoff and jitter until ``expires_at``, then
  expired. A target the outbound client refuses (a private address, a non-http URL:
  ``outbound.py``) -> refused, with the reason, and never retried: the same URL would be
  refused again.

The HTTP client is ``callback_http.CallbackClient`` (or an ``outbound.outbound_client``, through
``post_bounded``): the outbound rules, no redirects followed, and answers read only up to
``max_response_bytes``. The lean client costs a small fraction of httpx's CPU per callback
(``bench/callback_client.py``).

Delivery is at-least-once: a crash after the buyer app ACKed but before the result was recorded
re-sends the same bytes (same message_id), which the buyer app de-duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from sqlalchemy import bindparam, func, insert, select, update
from structlog.contextvars import bound_contextvars

from ondc_adapter.backlog import BacklogSampler
from ondc_adapter.callback_http import CallbackClient
from ondc_adapter.keys import NodeKeys
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.outbound import OutboundRefused, post_bounded
from ondc_adapter.outbox import (
    DELIVERED,
    EXPIRED,
    NACKED,
    PENDING,
    REFUSED,
    Callback,
    OutboxAttempt,
    OutboxEntry,
)
from ondc_adapter.settings import Settings
from ondc_adapter.signing import sign_request
from ondc_adapter.storage.engine import Database, driver_connection

log = get_logger(__name__)

RETRIABLE_NACK_CODES = frozenset({"31001", "23001"})

# A signature whose ``expires`` is this close is refused by the receiver before it is read
# (transit, its clock): such a send is wasted and would come back as a NACK for a message the
# buyer app never saw. The row expires instead.
SIGNATURE_MARGIN = timedelta(seconds=0.5)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt produced; ``retry`` decides between pending and a final state."""

    http_status: int | None
    ack: str | None
    error_code: str | None
    detail: str | None
    retry: bool
    elapsed_ms: float
    refused: bool = False  # never sent: the outbound client refused the target

    @property
    def delivered(self) -> bool:
        return self.ack == "ACK"


def classify(status: int, content: bytes) -> tuple[str | None, str | None, str | None, bool]:
    """(ack, error_code, detail, retry) for an HTTP answer from the buyer app."""
    ack = code = detail = None
    try:
        data = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        message = data.get("message")
        status_obj = message.get("ack") if isinstance(message, dict) else None
        if isinstance(status_obj, dict) and status_obj.get("status") in ("ACK", "NACK"):
            ack = status_obj["status"]
        error = data.get("error")
        if isinstance(error, dict):
            code = str(error["code"]) if error.get("code") is not None else None
            detail = str(error.get("message")) if error.get("message") is not None else None
    if status >= 500 or status == 429:
        return ack, code, detail or f"HTTP {status}", True
    if ack == "ACK" and 200 <= status < 300:
        return ack, code, detail, False
    if ack == "NACK":
        return ack, code, detail, code in RETRIABLE_NACK_CODES
    # A 4xx (or odd 2xx) without a readable ACK/NACK: the receiver refused; do not hammer it.
    return "NACK", code, detail or f"HTTP {status} without an ACK body", False


_OUTBOX = OutboxEntry.__table__
_ATTEMPTS = OutboxAttempt.__table__
# What a claim reads of a row, in ``Callback``'s field order up to ``leased_until``.
_LEASED = (
    _OUTBOX.c.id,
    _OUTBOX.c.action,
    _OUTBOX.c.url,
    _OUTBOX.c.transaction_id,
    _OUTBOX.c.message_id,
    _OUTBOX.c.body,
    _OUTBOX.c.attempts,
    _OUTBOX.c.created_at,
    _OUTBOX.c.expires_at,
    _OUTBOX.c.next_attempt_at,
    _OUTBOX.c.last_error,
)
# A row's new state after an attempt: every column named for every row, so a batch of results
# is one executemany of one statement.
_RECORD_ROW = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("new_attempts"),
        next_attempt_at=bindparam("new_next_attempt_at"),
        completed_at=bindparam("new_completed_at"),
        last_error=bindparam("new_last_error"),
    )
)

Sent = tuple[Callback, Outcome, dict[str, object], datetime]

# ``_record`` on PostgreSQL, written for asyncpg: the rows' new states and their attempts in ONE
# statement (a data-modifying CTE), run in autocommit, so a batch of results costs one round
# trip instead of BEGIN, two statements and COMMIT through SQLAlchemy.
_PG_RECORD = f"""
WITH new AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::timestamptz[],
                         $5::timestamptz[], $6::text[])
        AS u(id, status, attempts, next_attempt_at, completed_at, last_error)
), done AS (
    UPDATE {_OUTBOX.name} AS o
    SET status = new.status, attempts = new.attempts, next_attempt_at = new.next_attempt_at,
        completed_at = new.completed_at, last_error = new.last_error
    FROM new WHERE o.id = new.id
)
INSERT INTO {_ATTEMPTS.name} (outbox_id, attempted_at, http_status, ack, error_code, detail,
                              elapsed_ms)
SELECT * FROM unnest($1::int[], $7::timestamptz[], $8::int[], $9::text[], $10::text[],
                     $11::text[], $12::float8[])
"""


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        keys: NodeKeys,
        http_client: httpx.AsyncClient | CallbackClient,
        *,
        clock: Callable[[], datetime] | None = None,
        batch_size: int = 16,
        lease_seconds: float | None = None,
        metrics: NodeMetrics | None = None,
        depth_interval: float = 5.0,
        max_in_flight: int = 64,
    ) -> None:
        self.db = db
        self.settings = settings
        self.keys = keys
        self.http = http_client
        self._post = (
            http_client.post
            if isinstance(http_client, CallbackClient)
            else functools.partial(post_bounded, http_client)
        )
        self.clock = clock or (lambda: datetime.now(UTC))
        self.batch_size = batch_size
        self.max_in_flight = max(1, max_in_flight)
        # A lease longer than one attempt can take, so a live worker never loses its row.
        self.lease = timedelta(
            seconds=lease_seconds if lease_seconds is not None else settings.callback_timeout + 10
        )
        # Time one attempt may take: a row is not started with less lease than this left.
        self.attempt_time = timedelta(seconds=settings.callback_timeout + 1)
        self._wake = asyncio.Event()
        self._claim_now = True  # look in the database at the next turn, not only on the poll
        self._adopted: deque[Callback] = deque()
        self._results: list[Sent] = []
        self._recorded = asyncio.Event()  # set when there are results to record
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self.backlog = BacklogSampler(
            db,
            self.metrics.outbox_pending,
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == PENDING),
            interval=depth_interval,
            owner="dispatcher",
        )

    def wake(self) -> None:
        """Rows were enqueued in the database (not adopted): look for them now."""
        self._claim_now = True
        self._wake.set()

    def adopt(self, callbacks: Sequence[Callback]) -> None:
        """Take callbacks this process's processor committed, leased to us (``CallbackSink``)."""
        self._adopted.extend(callbacks)
        self._wake.set()

    async def sample_depth(self) -> int:
        """Count undelivered callbacks into the ``ondc_outbox_pending`` gauge."""
        return await self.backlog.sample()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: adopted callbacks, and due rows from the database
        when woken for them or every ``dispatcher_poll_seconds``."""
        slots = asyncio.Semaphore(self.max_in_flight)
        sending: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()
        recorder = asyncio.create_task(self._recorder(finished), name="outbox-recorder")
        poll = self.settings.dispatcher_poll_seconds
        next_claim = 0.0
        try:
            while not stop.is_set():
                await self.backlog.maybe_sample()
                rows = self._take_adopted()
                # The database is asked every ``poll`` seconds (retries, leases run out,
                # other workers' leftovers) or when woken for rows enqueued there; adopted
                # rows alone never cost a query.
                if self._claim_now or time.monotonic() >= next_claim:
                    self._claim_now = False
                    next_claim = time.monotonic() + poll
                    try:
                        rows += await self.claim()
                    except Exception as exc:  # database hiccup: log, back off, keep going
                        log.error("dispatcher.error", error=repr(exc))
                        await asyncio.sleep(poll)
                        continue
                for row in rows:
                    await slots.acquire()
                    task = asyncio.create_task(self._send_and_keep(row, slots))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
                if rows or self._adopted:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=poll)
        finally:
            if sending:  # let started sends end (their rows stay leased if cut short)
                await asyncio.wait(list(sending), timeout=self.settings.callback_timeout + 1)
            finished.set()
            self._recorded.set()
            await recorder

    def _take_adopted(self) -> list[Callback]:
        rows: list[Callback] = []
        while self._adopted and len(rows) < self.batch_size:
            rows.append(self._adopted.popleft())
        return rows

    async def _send_and_keep(self, row: Callback, slots: asyncio.Semaphore) -> None:
        try:
            sent = await self._send(row)
        except Exception as exc:  # the row stays leased and is sent again once it runs out
            log.error("dispatcher.send_failed", outbox_id=row.id, error=repr(exc))
            sent = None
        finally:
            slots.release()
        if sent is not None:
            self._results.append(sent)
            self._recorded.set()

    async def _recorder(self, finished: asyncio.Event) -> None:
        """Writes the results gathered since its last write, in one transaction, until
        ``finished`` and nothing is left."""
        while True:
            await self._recorded.wait()
            self._recorded.clear()
            results, self._results = self._results, []
            if results:
                try:
                    await self._record(results)
                except Exception as exc:  # rows stay leased: sent again once it runs out
                    log.error("dispatcher.record_failed", rows=len(results), error=repr(exc))
            if finished.is_set() and not self._results:
                return

    async def dispatch_once(self) -> int:
        """Claim due rows (and take adopted ones), deliver them concurrently, record the
        results together; returns how many (tests and one-shot runs)."""
        rows = self._take_adopted() + await self.claim()
        if rows:
            results = await asyncio.gather(*(self._send(row) for row in rows))
            await self._record([r for r in results if r is not None])
        return len(rows)

    async def _send(self, row: Callback, *, leased: bool = True) -> Sent | None:
        with bound_contextvars(
            action=row.action,
            transaction_id=row.transaction_id,
            message_id=row.message_id,
            outbox_id=row.id,
        ):
            now = self.clock()
            deadline = self.deliverable_until(row.expires_at)
            if now >= deadline:
                await self._expire_unsent(row)
                return None
            if leased and now + self.attempt_time > row.leased_until:
                # Its lease could run out mid-send and another worker claim it: leave it to
                # the next claim (ours or theirs) once the lease has run out.
                log.info("callback.lease_too_short", url=row.url)
                return None
            outcome = await self.attempt(row)
            now = self.clock()
            return row, outcome, self._result(row, outcome, now, deadline), now

    async def claim(self) -> list[Callback]:
        now = self.clock()
        leased_until = now + self.lease
        ids = (
            select(_OUTBOX.c.id)
            .where(_OUTBOX.c.status == PENDING, _OUTBOX.c.next_attempt_at <= now)
            .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
            .limit(self.batch_size)
        )
        if self.db.is_postgres:
            # workers skip each other's rows; SQLite's UPDATE takes its one write lock instead
            ids = ids.with_for_update(skip_locked=True)
        # One statement leases the batch and returns it (a round trip, not one per row).
        lease = (
            update(_OUTBOX)
            .where(_OUTBOX.c.id.in_(ids.scalar_subquery()))
            .values(next_attempt_at=leased_until)
            .returning(*_LEASED)
        )
        async with self.db.engine.begin() as conn:
            rows = [Callback(*row) for row in (await conn.execute(lease)).all()]
        return sorted(rows, key=lambda row: row.id)

    @staticmethod
    def deliverable_until(expires_at: datetime) -> datetime:
        """The last moment a send still carries a usable signature: ``expires`` is a whole
        second no later than ``expires_at`` (floor), less the margin the receiver needs."""
        whole = datetime.fromtimestamp(int(expires_at.timestamp()), UTC)
        return whole - SIGNATURE_MARGIN

    def sign(self, body: bytes, expires_at: datetime) -> str:
        created = int(self.clock().timestamp())
        expires = min(created + self.settings.signature_ttl_seconds, int(expires_at.timestamp()))
        header = sign_request(
            body,
            self.keys.signing_key,
            subscriber_id=self.keys.subscriber_id,
            unique_key_id=self.keys.unique_key_id,
            created=created,
            expires=max(expires, created + 1),  # a window of at least one second
        )
        return header.to_header()

    async def attempt(self, row: Callback) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            "Authorization": self.sign(row.body, row.expires_at),
        }
        started = time.perf_counter()
        try:
            response = await self._post(
                row.url,
                content=row.body,
                headers=headers,
                timeout=self.settings.callback_timeout,
                max_bytes=self.settings.outbound_max_response_bytes,
            )
        except OutboundRefused as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return Outcome(None, None, None, exc.reason[:500], False, elapsed, refused=True)
        except httpx.HTTPError as exc:
            return Outcome(
                None,
                None,
                None,
                f"{type(exc).__name__}: {exc}"[:500],
                True,
                (time.perf_counter() - started) * 1000,
            )
        elapsed = (time.perf_counter() - started) * 1000
        ack, code, detail, retry = classify(response.status_code, response.content)
        if response.truncated and ack is None:
            detail = f"{detail or ''} (answer longer than {len(response.content)} bytes)".strip()
        return Outcome(response.status_code, ack, code, detail, retry, elapsed)

    def backoff(self, attempts: int) -> float:
        base = min(
            self.settings.callback_backoff_max,
            self.settings.callback_backoff_initial * 2 ** max(0, attempts - 1),
        )
        return base * random.uniform(0.5, 1.0)  # jitter: many callbacks must not retry in step

    async def deliver(self, row: Callback) -> Outcome | None:
        """One attempt at ``row``, recorded (None: its TTL ran out first). The caller owns the
        row: it need not hold a lease (one-shot runs, the orders benchmark)."""
        sent = await self._send(row, leased=False)
        if sent is None:
            return None
        await self._record([sent])
        return sent[1]

    def _result(
        self, row: Callback, outcome: Outcome, now: datetime, deadline: datetime
    ) -> dict[str, object]:
        """The row's new values after ``outcome`` (and its metrics and log line)."""
        attempts = row.attempts + 1
        values: dict[str, object] = {
            "new_status": PENDING,
            "new_attempts": attempts,
            "new_next_attempt_at": row.leased_until,
            "new_completed_at": None,
            "new_last_error": outcome.detail,
        }
        metrics = self.metrics
        metrics.callback_attempt_duration.observe(outcome.elapsed_ms / 1000)
        if outcome.delivered:
            values.update(new_status=DELIVERED, new_completed_at=now, new_last_error=None)
            metrics.callback_outcome(row.action, "delivered")
            metrics.delivered_after(row.action, (now - row.created_at).total_seconds())
        elif outcome.refused:
            values.update(new_status=REFUSED, new_completed_at=now)
            metrics.callback_outcome(row.action, "refused")
            log.warning("callback.refused", url=row.url, reason=outcome.detail)
        elif outcome.retry:
            next_at = now + timedelta(seconds=self.backoff(attempts))
            if next_at >= deadline:
                values.update(new_status=EXPIRED, new_completed_at=now)
                metrics.callback_outcome(row.action, "expired")
            else:
                values.update(new_next_attempt_at=next_at)
                metrics.callback_outcome(row.action, "retry")
        else:
            values.update(new_status=NACKED, new_completed_at=now)
            metrics.callback_outcome(row.action, "nacked")
        log.info(
            "callback.attempt",
            url=row.url,
            attempt=attempts,
            http_status=outcome.http_status,
            ack=outcome.ack,
            error_code=outcome.error_code,
            result=values["new_status"],
            detail=outcome.detail,
        )
        return values

    async def _record(self, results: list[Sent]) -> None:
        """Write the attempts and the rows' new states of a batch in one transaction."""
        if not results:
            return
        if self.db.is_postgres:
            await self._record_postgres(results)
            return
        attempts = [
            {
                "outbox_id": row.id,
                "attempted_at": now,
                "http_status": outcome.http_status,
                "ack": outcome.ack,
                "error_code": outcome.error_code,
                "detail": outcome.detail,
                "elapsed_ms": outcome.elapsed_ms,
            }
            for row, outcome, _, now in results
        ]
        async with self.db.engine.begin() as conn:
            await conn.execute(insert(_ATTEMPTS), attempts)
            await conn.execute(
                _RECORD_ROW, [{"row_id": row.id, **values} for row, _, values, _ in results]
            )

    async def _record_postgres(self, results: list[Sent]) -> None:
        values = [v for _, _, v, _ in results]
        outcomes = [o for _, o, _, _ in results]
        async with self.db.engine.connect() as conn:
            driver = await driver_connection(conn)  # no SQLAlchemy transaction: autocommit
            await driver.execute(
                _PG_RECORD,
                [row.id for row, _, _, _ in results],
                [v["new_status"] for v in values],
                [v["new_attempts"] for v in values],
                [v["new_next_attempt_at"] for v in values],
                [v["new_completed_at"] for v in values],
                [v["new_last_error"] for v in values],
                [now for _, _, _, now in results],
                [o.http_status for o in outcomes],
                [o.ack for o in outcomes],
                [o.error_code for o in outcomes],
                [o.detail for o in outcomes],
                [o.elapsed_ms for o in outcomes],
            )

    async def _expire_unsent(self, row: Callback) -> None:
        # Reached after a lease ran out (a crashed worker) or a long backoff: the attempts
        # already recorded stand; no new one is made.
        now = self.clock()
        detail = "TTL ran out before the next attempt"
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == row.id, _OUTBOX.c.status == PENDING)
                .values(status=EXPIRED, completed_at=now, last_error=row.last_error or detail)
            )
        self.metrics.callback_outcome(row.action, "expired")
        log.info("callback.expired", url=row.url, attempts=row.attempts, detail=detail)
