"""Admission control: the node never ACKs what it cannot answer within the request's ttl.

An ACK is a promise to answer before ``context.ttl`` runs out. A node taking in more than its
seller logic gets through builds a backlog, and every request behind it waits as long as the
oldest one already has. So before recording a request the pipeline asks: how old is the oldest
request still waiting for the seller logic, and how many wait? Past a share of the request's
ttl (or past a depth), the request gets a retryable refusal instead of a hollow ACK: HTTP 503,
NACK 31001, ``Retry-After``. It leaves no inbox row.

Searches are shed first: the network sends every buyer's search to every seller serving the
city, so search is the flood, and a search missed costs a buyer one refresh. Order actions
(select, init, confirm, status, cancel...) are shed last, only when even they could not be
answered in time.

The backlog is one cheap indexed query: the count and oldest due time of ``received`` inbox
rows, and the oldest callback not yet tried once (an answer is late whether it waits for the
seller logic or for the dispatcher; callbacks waiting to be retried are a buyer app's trouble,
not load, and do not count). It runs at most every ``interval`` seconds per process and is
shared by every request in between; each worker process samples the shared database, so they
all see the same backlog.

The check runs before the signatures are verified: a refusal must cost less than an answer,
or a flood of requests to refuse takes the node's capacity with it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from ondc_adapter.api.nack import Rejection
from ondc_adapter.inbox import RECEIVED, InboxEntry
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.outbox import PENDING, OutboxEntry
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType
from ondc_adapter.storage.engine import Database

log = get_logger(__name__)

SEARCH_SHARE = 0.5  # a search is shed once the backlog is older than half its ttl
ORDER_SHARE = 0.8  # an order action once it is older than most of its ttl
ORDER_DEPTH_FACTOR = 2  # and order actions tolerate twice the search depth


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int  # requests waiting for the seller logic
    oldest_age: float  # seconds the oldest of them has waited (0 when none)
    # seconds a request arriving now would wait: the queue ahead of it at the rate the node
    # has been getting through it (None until a rate is known)
    expected_wait: float | None = None

    @property
    def wait(self) -> float:
        """The wait admission judges. The oldest's age says how long the queue WAS; once the
        flood ends the queue drains while its oldest row is still old, and judging by that
        would keep refusing for as long again. The expected wait of a new request is what an
        ACK promises, so it decides when known."""
        return self.oldest_age if self.expected_wait is None else self.expected_wait


@dataclass(frozen=True, slots=True)
class Limits:
    search_seconds: float
    order_seconds: float
    max_pending: int


def decide(action: str, ttl_seconds: float, backlog: Backlog, limits: Limits) -> str | None:
    """Why ``action`` must be refused now (``None``: admit). Pure: the policy in one place."""
    if action == "search":
        budget = min(limits.search_seconds, ttl_seconds * SEARCH_SHARE)
        depth = limits.max_pending
    else:
        budget = min(limits.order_seconds, ttl_seconds * ORDER_SHARE)
        depth = limits.max_pending * ORDER_DEPTH_FACTOR
    if backlog.wait > budget:
        return (f"{backlog.pending} requests are waiting; a new one would wait about "
                f"{backlog.wait:.1f}s, more than this request's {budget:.1f}s budget")
    if backlog.pending >= depth:
        return f"{backlog.pending} requests are waiting (limit {depth})"
    return None


class AdmissionControl:
    def __init__(
        self,
        db: Database,
        limits: Limits,
        *,
        clock: Callable[[], datetime],
        metrics: NodeMetrics,
        interval: float = 0.25,
    ) -> None:
        self.db = db
        self.limits = limits
        self.clock = clock
        self.metrics = metrics
        self.interval = interval
        self._backlog = Backlog(0, 0.0)
        self._due = 0.0
        # for the answering rate: the last sample's time, pending count and newest inbox id
        self._last: tuple[float, int, int] | None = None
        self._rate: float | None = None  # requests the node gets through per second (EWMA)
        self._sampling: asyncio.Task[None] | None = None
        self._last_log = 0.0

    async def backlog(self) -> Backlog:
        """The latest sample; a new one when the last is older than ``interval`` (one query
        per process at a time, whatever the request rate)."""
        if time.monotonic() >= self._due:
            if self._sampling is None or self._sampling.done():
                self._sampling = asyncio.ensure_future(self._sample())
            await asyncio.shield(self._sampling)
        return self._backlog

    async def _sample(self) -> None:
        self._due = time.monotonic() + self.interval
        try:
            inbox = (
                select(func.count(), func.min(InboxEntry.next_attempt_at))
                .where(InboxEntry.status == RECEIVED)
                .subquery()
            )
            newest = select(func.max(InboxEntry.id)).scalar_subquery()
            unsent = (
                select(func.min(OutboxEntry.created_at))
                .where(OutboxEntry.status == PENDING, OutboxEntry.attempts == 0)
                .scalar_subquery()
            )
            async with self.db.engine.connect() as conn:
                pending, oldest, oldest_unsent, newest_id = (
                    await conn.execute(select(*inbox.c, unsent, newest))
                ).one()
        except Exception as exc:  # the database's own trouble answers for itself at insert
            log.warning("admission.sample_failed", error=repr(exc))
            return
        pending, newest_id = int(pending or 0), int(newest_id or 0)
        unsent_age = self._age(oldest_unsent)
        age = max(self._age(oldest), unsent_age)
        expected = None
        rate = self._answering_rate(pending, newest_id)
        if rate is not None:
            expected = max(pending / rate if pending else 0.0, unsent_age)
        elif pending == 0:
            expected = unsent_age
        self._backlog = Backlog(pending, age, expected)
        self.metrics.backlog_age.set(age)

    def _answering_rate(self, pending: int, newest_id: int) -> float | None:
        """Requests answered per second across every worker, from two samples: ids are given
        in order of arrival, so arrivals are the newest id's advance, and what arrived but no
        longer waits was taken up. ``None`` while nothing is known (or nothing moves)."""
        now = time.monotonic()
        last, self._last = self._last, (now, pending, newest_id)
        if last is None or now - last[0] < 0.05:
            return self._rate
        done = last[1] + max(0, newest_id - last[2]) - pending
        measured = max(0, done) / (now - last[0])
        if measured > 0:
            self._rate = measured if self._rate is None else 0.5 * self._rate + 0.5 * measured
        elif pending and self._rate is not None:
            self._rate *= 0.5  # a stalled processor: the promise weakens quickly
        return self._rate if self._rate and self._rate > 0.1 else None

    def _age(self, since: datetime | None) -> float:
        if since is None:
            return 0.0
        if since.tzinfo is None:  # a driver that hands back naive UTC
            since = since.replace(tzinfo=UTC)
        return max(0.0, (self.clock() - since).total_seconds())

    async def check(self, action: str, ttl_seconds: float) -> None:
        """Raise the 503 NACK when ``action`` cannot be answered within its ttl."""
        backlog = await self.backlog()
        why = decide(action, ttl_seconds, backlog, self.limits)
        if why is None:
            return
        self.metrics.shed.labels(action).inc()
        now = time.monotonic()
        if now - self._last_log >= 1.0:  # one line a second, not one per refused request
            self._last_log = now
            log.warning("admission.shed", action=action, pending=backlog.pending,
                        oldest_age=round(backlog.oldest_age, 2),
                        expected_wait=None if backlog.expected_wait is None
                        else round(backlog.expected_wait, 2), reason=why)
        retry = max(1, min(30, math.ceil(backlog.wait / 2) or 1))
        raise Rejection(
            503,
            Error(type=ErrorType.CORE, code=Code.INTERNAL_ERROR.value,
                  message=f"the seller node is busy: {why}; retry after {retry}s"),
            {"Retry-After": str(retry)},
        )
