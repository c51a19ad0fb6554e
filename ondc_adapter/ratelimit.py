"""Per-sender request rate limit: one buyer app must not be able to starve the others.

Counted per verified signer (the ``keyId`` subscriber, after its signature checked out: an
unverified name could be anyone's, and counting it would let a stranger use up a victim's
allowance). Fixed one-second windows: ``INCR <prefix>rate:<subscriber>:<second>`` in Redis, so
every worker process and host shares one count, or an in-process count without Redis (one
process serves alone). A Redis failure falls back to the in-process count for that request:
a cache outage must not refuse traffic.

A request over the limit gets HTTP 429, ``Retry-After`` and NACK 31001 ("retry"), before it
is recorded: nothing of it is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ondc_adapter.logging import get_logger

log = get_logger(__name__)

MAX_LOCAL_KEYS = 10_000  # bounded: one entry per sender seen in the current second


class RateLimiter:
    def __init__(
        self,
        per_second: int,
        *,
        redis: aioredis.Redis | None = None,
        prefix: str = "ondc:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_second = per_second
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._window = -1
        self._local: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    async def over_limit(self, sender: str) -> float | None:
        """Count one request of ``sender``; ``None`` when allowed, else seconds to wait."""
        if not self.enabled:
            return None
        now = self.clock()
        window = int(now)
        count = await self._shared_count(sender, window)
        if count is None:
            count = self._local_count(sender, window)
        if count > self.per_second:
            return max(0.001, window + 1 - now)
        return None

    async def _shared_count(self, sender: str, window: int) -> int | None:
        if self.redis is None:
            return None
        key = f"{self.prefix}rate:{sender}:{window}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2)
                count, _ = await pipe.execute()
            return int(count)
        except (RedisError, OSError) as exc:
            log.warning("ratelimit.redis_unavailable", error=str(exc))
            return None

    def _local_count(self, sender: str, window: int) -> int:
        if window != self._window or len(self._local) >= MAX_LOCAL_KEYS:
            self._window, self._local = window, {}
        count = self._local.get(sender, 0) + 1
        self._local[sender] = count
        return count
