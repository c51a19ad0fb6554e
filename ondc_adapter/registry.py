"""Registry client: who is behind a ``keyId``, with caching, retries and single-flight.

``KeyResolver`` is the seam the inbound pipeline depends on: ``(subscriber_id, ukId) ->
SubscriberRecord``. ``RegistryClient`` asks the ONDC registry (``/v2.0/lookup`` signed with our
key, or the v1 ``/lookup``); ``StaticKeyResolver`` serves a fixed list (sandbox, benchmarks).

Caching: an in-process map always sits in front; with Redis, records are also shared between
worker processes (``<prefix>lookup:<subscriber_id>|<ukId>``). A record is cached for
``min(lookup_cache_seconds, valid_until - now)``; the in-process copy for at most
``local_cache_seconds`` when Redis is there, so a refresh by one process reaches the others soon.

Single-flight: concurrent misses for one key in one process share one registry call. Across
processes there is no lock: each process makes at most one call per key per miss, and the first
answer fills Redis for the rest, so a fleet of N workers costs at most N calls per key.

Unknown keys: a "no such key" answer is remembered in-process for ``NOT_FOUND_SECONDS``, so a
request repeated with the same made-up ukId costs one registry call, not one per request; a
key registered meanwhile is found at most that much later. There is deliberately no cap per
subscriber on *different* unknown ukIds: anyone can put a victim's subscriber_id in a keyId,
and such a cap would let them lock the victim out. Floods of fresh keyIds are for the rate
limit in front of the node (docs/operations.md).

Failure policy (decided here, applied by the pipeline):
* ``KeyNotFound`` / ``KeyNotValid``: the registry answered, and the key is unknown, not
  SUBSCRIBED, or outside its validity window -> HTTP 401 NACK 30016 (the signature cannot be
  trusted).
* ``RegistryUnavailable``: timeouts, connection errors, 5xx/429 after ``registry_retries``
  retries with backoff, or an answer we cannot read -> HTTP 503 NACK 31001 CORE-ERROR ("internal
  error, retry"): the sender's signature may be fine, so 30016 would be a false accusation.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ondc_adapter.keys import NodeKeys
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.settings import Settings
from ondc_adapter.signing import sign_request

log = get_logger(__name__)

VALID_STATUSES = frozenset({"SUBSCRIBED", "WHITELISTED"})
GATEWAY_TYPES = frozenset({"BG", "GATEWAY"})


class RegistryError(Exception):
    """Base for lookup failures; ``message`` is safe to put in a NACK."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyNotFound(RegistryError):
    pass


class KeyNotValid(RegistryError):
    pass


class RegistryUnavailable(RegistryError):
    pass


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SubscriberRecord:
    subscriber_id: str
    ukId: str  # the registry's spelling
    type: str
    signing_public_key: str
    encr_public_key: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: str = "SUBSCRIBED"
    subscriber_url: str | None = None
    domain: str | None = None
    city: str | None = None
    # (domain, subscriber_url) of every record the registry holds for this key: a participant
    # registered for several domains may have a URL per domain (api/targets.py)
    registered_urls: tuple[tuple[str, str], ...] = ()

    @property
    def is_gateway(self) -> bool:
        return self.type.upper() in GATEWAY_TYPES

    def check_valid(self, now: datetime) -> None:
        """Raise ``KeyNotValid`` unless SUBSCRIBED/WHITELISTED and inside its window."""
        who = f"{self.subscriber_id}|{self.ukId}"
        if self.status.upper() not in VALID_STATUSES:
            raise KeyNotValid(f"registry status of {who} is {self.status}, not SUBSCRIBED")
        if self.valid_from is not None and now < self.valid_from:
            raise KeyNotValid(f"key {who} is not valid before {self.valid_from.isoformat()}")
        if self.valid_until is not None and now > self.valid_until:
            raise KeyNotValid(f"key {who} expired at {self.valid_until.isoformat()}")

    @classmethod
    def from_lookup(cls, item: dict[str, Any]) -> SubscriberRecord:
        """One element of a lookup answer (flat, or with ``network_participant`` nested)."""
        subscriber_id = item.get("subscriber_id")
        signing = item.get("signing_public_key")
        if not isinstance(subscriber_id, str) or not isinstance(signing, str):
            raise ValueError("lookup record lacks subscriber_id or signing_public_key")
        url = item.get("subscriber_url")
        domain = item.get("domain")
        participants = item.get("network_participant")
        if isinstance(participants, list) and participants and isinstance(participants[0], dict):
            first = participants[0]
            relative = first.get("subscriber_url")
            if not url and isinstance(relative, str):
                url = f"https://{subscriber_id}{relative}"
            domain = domain or first.get("domain")
        return cls(
            subscriber_id=subscriber_id,
            ukId=str(item.get("ukId") or item.get("unique_key_id") or ""),
            type=str(item.get("type") or ""),
            signing_public_key=signing,
            encr_public_key=item.get("encr_public_key") or item.get("encryption_public_key"),
            valid_from=_parse_time(item.get("valid_from")),
            valid_until=_parse_time(item.get("valid_until")),
            status=str(item.get("status") or ""),
            subscriber_url=url if isinstance(url, str) else None,
            domain=domain if isinstance(domain, str) else None,
            city=item.get("city") if isinstance(item.get("city"), str) else None,
        )

    def to_json(self) -> bytes:
        data = asdict(self)
        for name in ("valid_from", "valid_until"):
            if data[name] is not None:
                data[name] = data[name].isoformat()
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes) -> SubscriberRecord:
        data = orjson.loads(raw)
        data["valid_from"] = _parse_time(data.get("valid_from"))
        data["valid_until"] = _parse_time(data.get("valid_until"))
        data["registered_urls"] = tuple(
            (str(d), str(u)) for d, u in data.get("registered_urls") or ()
        )
        return cls(**data)


NOT_FOUND_SECONDS = 30.0
NOT_FOUND_MAX_SUBSCRIBERS = 10_000  # bounded memory: subscriber ids are attacker-chosen


class KeyResolver(Protocol):
    async def resolve(
        self, subscriber_id: str, ukid: str, *, refresh: bool = False
    ) -> SubscriberRecord:
        """The record for this key. ``refresh`` bypasses caches (after a failed verification).
        Raises ``KeyNotFound`` or ``RegistryUnavailable``; validity is the caller's check."""
        ...


class StaticKeyResolver:
    """A fixed set of records: for the sandbox, tests and benchmarks."""

    def __init__(self, records: Iterable[SubscriberRecord] = ()) -> None:
        self._records = {(r.subscriber_id, r.ukId): r for r in records}

    def add(self, record: SubscriberRecord) -> None:
        self._records[(record.subscriber_id, record.ukId)] = record

    async def resolve(
        self, subscriber_id: str, ukid: str, *, refresh: bool = False
    ) -> SubscriberRecord:
        try:
            return self._records[(subscriber_id, ukid)]
        except KeyError:
            raise KeyNotFound(f"no registry record for {subscriber_id}|{ukid}") from None


class RegistryClient:
    """``KeyResolver`` backed by the ONDC registry lookup API."""

    def __init__(
        self,
        settings: Settings,
        *,
        keys: NodeKeys,
        http_client: httpx.AsyncClient,
        redis: aioredis.Redis | None = None,
        redis_prefix: str = "ondc:",
        local_cache_seconds: float = 60.0,
        clock: Callable[[], datetime] | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        metrics = metrics if metrics is not None else NodeMetrics()
        # Pre-bound counter children: a cache hit costs one inc on the hot path.
        self._hit_local, self._hit_shared = metrics.cache["hit_local"], metrics.cache["hit_shared"]
        self._miss, self._refresh = metrics.cache["miss"], metrics.cache["refresh"]
        self._lookup_ok, self._lookup_error = metrics.lookup["ok"], metrics.lookup["error"]
        self._lookup_not_found = metrics.lookup["not_found"]
        self.http = http_client
        self.redis = redis
        self.redis_prefix = redis_prefix
        self.local_cache_seconds = local_cache_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self._local: dict[tuple[str, str], tuple[SubscriberRecord, float]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[SubscriberRecord]] = {}
        # subscriber_id -> {ukId: monotonic expiry} of keys the registry said it does not know
        self._absent: dict[str, dict[str, float]] = {}
        self.lookups = 0  # registry calls made (for tests and metrics)

    # -- KeyResolver ---------------------------------------------------------------------------

    async def resolve(
        self, subscriber_id: str, ukid: str, *, refresh: bool = False
    ) -> SubscriberRecord:
        key = (subscriber_id, ukid)
        self._refuse_if_known_absent(key)
        if not refresh:
            hit = self._local.get(key)
            if hit is not None and hit[1] > time.monotonic():
                self._hit_local.inc()
                return hit[0]
            shared = await self._redis_get(key)
            if shared is not None:
                self._hit_shared.inc()
                self._remember_locally(key, shared)
                return shared
            self._miss.inc()
        else:
            self._refresh.inc()
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch_and_cache(key))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _f: self._inflight.pop(key, None))
        # shield: one caller being cancelled (client went away) must not cancel the others.
        return await asyncio.shield(pending)

    # -- cache ---------------------------------------------------------------------------------

    def _ttl(self, record: SubscriberRecord) -> float:
        ttl = float(self.settings.lookup_cache_seconds)
        if record.valid_until is not None:
            ttl = min(ttl, (record.valid_until - self.clock()).total_seconds())
        return ttl

    def _remember_locally(self, key: tuple[str, str], record: SubscriberRecord) -> None:
        ttl = self._ttl(record)
        if self.redis is not None:
            ttl = min(ttl, self.local_cache_seconds)
        if ttl > 0:
            self._local[key] = (record, time.monotonic() + ttl)

    def _redis_key(self, key: tuple[str, str]) -> str:
        return f"{self.redis_prefix}lookup:{key[0]}|{key[1]}"

    async def _redis_get(self, key: tuple[str, str]) -> SubscriberRecord | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self._redis_key(key))
            return SubscriberRecord.from_json(raw) if raw else None
        except (RedisError, OSError) as exc:  # a cache outage costs a lookup, never a NACK
            log.warning("registry.cache_unavailable", error=str(exc))
        except (ValueError, TypeError):
            log.warning("registry.cache_corrupt", key=self._redis_key(key))
        return None

    async def _redis_set(self, key: tuple[str, str], record: SubscriberRecord) -> None:
        ttl = int(self._ttl(record))
        if self.redis is None or ttl <= 0:
            return
        try:
            await self.redis.set(self._redis_key(key), record.to_json(), ex=ttl)
        except (RedisError, OSError) as exc:
            log.warning("registry.cache_unavailable", error=str(exc))

    def _refuse_if_known_absent(self, key: tuple[str, str]) -> None:
        absent = self._absent.get(key[0])
        if not absent:
            return
        now = time.monotonic()
        for ukid in [u for u, until in absent.items() if until <= now]:
            del absent[ukid]
        if key[1] in absent:
            raise KeyNotFound(f"registry has no record for {key[0]}|{key[1]} (asked "
                              f"within the last {NOT_FOUND_SECONDS:.0f}s)")

    def _remember_absent(self, key: tuple[str, str]) -> None:
        if len(self._absent) >= NOT_FOUND_MAX_SUBSCRIBERS:
            self._absent.clear()
        self._absent.setdefault(key[0], {})[key[1]] = time.monotonic() + NOT_FOUND_SECONDS

    async def _fetch_and_cache(self, key: tuple[str, str]) -> SubscriberRecord:
        try:
            record = await self.fetch(*key)
        except KeyNotFound:
            self._remember_absent(key)
            raise
        self._remember_locally(key, record)
        await self._redis_set(key, record)
        return record

    # -- the registry call ---------------------------------------------------------------------

    def lookup_request(self, subscriber_id: str, ukid: str) -> tuple[str, bytes, dict[str, str]]:
        """URL, body and headers of one lookup call (v2 signed with our key, v1 unsigned)."""
        body = orjson.dumps({"subscriber_id": subscriber_id, "ukId": ukid})
        headers = {"Content-Type": "application/json"}
        base = self.settings.registry_url.rstrip("/")
        if self.settings.registry_lookup == "v1":
            return f"{base}/lookup", body, headers
        header = sign_request(
            body,
            self.keys.signing_key,
            subscriber_id=self.keys.subscriber_id,
            unique_key_id=self.keys.unique_key_id,
            ttl=self.settings.signature_ttl_seconds,
        )
        headers["Authorization"] = header.to_header()
        return f"{base}/v2.0/lookup", body, headers

    async def fetch(self, subscriber_id: str, ukid: str) -> SubscriberRecord:
        """Ask the registry, retrying transient failures with exponential backoff + jitter."""
        attempts = 1 + max(0, self.settings.registry_retries)
        problem = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(2.0, 0.1 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))
            url, body, headers = self.lookup_request(subscriber_id, ukid)  # re-signed each time
            self.lookups += 1
            try:
                response = await self.http.post(
                    url, content=body, headers=headers, timeout=self.settings.registry_timeout
                )
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                self._lookup_error.inc()
                log.warning("registry.lookup_failed", attempt=attempt + 1, error=problem)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                problem = f"registry answered HTTP {response.status_code}"
                self._lookup_error.inc()
                log.warning("registry.lookup_failed", attempt=attempt + 1, error=problem)
                continue
            if response.status_code != 200:
                self._lookup_error.inc()
                # Our own request was refused (e.g. our key is not registered): retrying the
                # same request will not help, and it is not the sender's fault.
                raise RegistryUnavailable(
                    f"registry refused our lookup with HTTP {response.status_code}"
                )
            try:
                record = self._pick(response.content, subscriber_id, ukid)
            except KeyNotFound:
                self._lookup_not_found.inc()
                raise
            except RegistryUnavailable:
                self._lookup_error.inc()
                raise
            self._lookup_ok.inc()
            return record
        raise RegistryUnavailable(f"registry lookup failed after {attempts} attempt(s): {problem}")

    @staticmethod
    def _pick(content: bytes, subscriber_id: str, ukid: str) -> SubscriberRecord:
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise RegistryUnavailable("registry answer is not JSON") from exc
        if isinstance(data, dict) and "message" in data and "error" in data:
            # Registry NACK-style answer ("no record"): treat as not found.
            data = []
        if not isinstance(data, list):
            raise RegistryUnavailable("registry answer is not a list of records")
        matches: list[SubscriberRecord] = []
        for item in data:
            if not isinstance(item, dict):
                continue
            try:
                record = SubscriberRecord.from_lookup(item)
            except ValueError:
                continue
            if record.subscriber_id == subscriber_id and record.ukId == ukid:
                matches.append(record)
        if matches:
            urls = tuple(
                (m.domain or "", m.subscriber_url) for m in matches if m.subscriber_url
            )
            return replace(matches[0], registered_urls=tuple(dict.fromkeys(urls)))
        raise KeyNotFound(f"registry has no record for {subscriber_id}|{ukid}")
