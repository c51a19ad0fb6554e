"""A backlog gauge (rows waiting in the inbox or the outbox) sampled by a worker loop.

The count is one cheap query, run at most every ``interval`` seconds by the loop that owns the
queue, never per request; a failed sample is logged and never stops the loop.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Select

from ondc_adapter.logging import get_logger
from ondc_adapter.storage.engine import Database

log = get_logger(__name__)


class BacklogSampler:
    def __init__(
        self, db: Database, gauge: Gauge, count: Select[Any], *, interval: float, owner: str
    ) -> None:
        self.db = db
        self.gauge = gauge
        self.count = count
        self.interval = interval
        self.owner = owner  # names the loop in log events
        self._due = 0.0

    async def sample(self) -> int:
        async with self.db.engine.connect() as conn:
            pending = int(await conn.scalar(self.count) or 0)
        self.gauge.set(pending)
        return pending

    async def maybe_sample(self) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.interval
        try:
            await self.sample()
        except Exception as exc:  # a metric must never stop the loop
            log.warning(f"{self.owner}.depth_sample_failed", error=repr(exc))
