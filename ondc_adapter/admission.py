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

The backlog is one cheap indexed query (count and oldest due time of ``received`` inbox rows),
run at most every ``interval`` seconds per process and shared by every request in between;
each worker process samples the shared database, so they all see the same backlog.
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
    if backlog.oldest_age > budget:
        return (f"the oldest of {backlog.pending} waiting requests has waited "
                f"{backlog.oldest_age:.1f}s, more than this request's {budget:.1f}s budget")
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
            async with self.db.engine.connect() as conn:
                pending, oldest = (
                    await conn.execute(
                        select(func.count(), func.min(InboxEntry.next_attempt_at)).where(
                            InboxEntry.status == RECEIVED
                        )
                    )
                ).one()
        except Exception as exc:  # the database's own trouble answers for itself at insert
            log.warning("admission.sample_failed", error=repr(exc))
            return
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # a driver that hands back naive UTC
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (self.clock() - oldest).total_seconds())
        self._backlog = Backlog(int(pending or 0), age)
        self.metrics.backlog_age.set(age)

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
                        oldest_age=round(backlog.oldest_age, 2), reason=why)
        retry = max(1, min(30, math.ceil(backlog.oldest_age / 2) or 1))
        raise Rejection(
            503,
            Error(type=ErrorType.CORE, code=Code.INTERNAL_ERROR.value,
                  message=f"the seller node is busy: {why}; retry after {retry}s"),
            {"Retry-After": str(retry)},
        )
