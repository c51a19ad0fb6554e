"""A seller node for the attack suite, served by uvicorn in a background thread with its own
event loop, so synchronous hypothesis / schemathesis tests can drive it over real HTTP.

PostgreSQL (a fresh database, dropped afterwards) and Redis (a per-run key prefix). Keys come
from a ``StaticKeyResolver`` holding the buyer apps, a gateway and a subscriber that claims to
be a gateway but is registered as a BAP. Workers are off: nothing changes the database in the
background, so row counts before and after a request say exactly what that request did
(``process()`` runs the inbox processor on demand)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "tests" / "transport", ROOT / "tests" / "reliability"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from reliability_harness import fresh_database  # noqa: E402
from transport_doubles import Participant, served  # noqa: E402

from ondc_adapter import keys  # noqa: E402
from ondc_adapter.api.app import create_app  # noqa: E402
from ondc_adapter.registry import StaticKeyResolver, SubscriberRecord  # noqa: E402
from ondc_adapter.settings import Settings  # noqa: E402
from ondc_adapter.storage import Database  # noqa: E402

PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SELLER_ID, SELLER_UKID = "seller.example.com", "seller-k1"
BPP_URI = "https://seller.example.com/ondc"
ADMIN_KEY = "attack-suite-admin-key"
# Every table a request could change; "no state change" means none of these counts moved.
STATE_TABLES = (
    "inbox", "outbox", "orders", "order_drafts", "order_transitions", "catalogue_providers",
    "catalogue_items", "catalogue_locations", "catalogue_subscriptions",
)


def attack_settings(keys_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "subscriber_id": SELLER_ID,
        "unique_key_id": SELLER_UKID,
        "keys_dir": keys_dir,
        "bpp_uri": BPP_URI,
        "path_prefix": "/ondc",
        "registry_url": "http://127.0.0.1:9",  # never called: keys are static
        "database_url": database_url,
        "admin_api_key": ADMIN_KEY,
        "max_body_bytes": 200_000,
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class AttackNode:
    def __init__(self, workdir: Path) -> None:
        self.keys_dir = workdir / "seller-keys"
        keys.write_keys(keys.new_keys(SELLER_ID, SELLER_UKID), self.keys_dir)
        self.bap = Participant("buyer.example.com", "bap-k1", "BAP")
        self.other = Participant("other-buyer.example.com", "bap-k9", "BAP")
        self.gateway = Participant("gateway.example.com", "bg-k1", "BG")
        self.fake_gateway = Participant("not-a-gateway.example.com", "bap-k7", "BAP")
        self.resolver = StaticKeyResolver(
            SubscriberRecord.from_lookup(p.lookup_record())
            for p in (self.bap, self.other, self.gateway, self.fake_gateway)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.redis_prefix = f"ondc-attack:{uuid.uuid4().hex[:10]}:"
        self.url = ""
        self.app: Any = None
        self.db: Database | None = None

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> AttackNode:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        url, self._drop = await fresh_database(PG_ADMIN_DSN)
        self.db = Database(url)
        self.redis = aioredis.from_url(REDIS_URL)
        self.settings = attack_settings(self.keys_dir, url)
        self.app = create_app(
            self.settings, db=self.db, redis=self.redis, redis_prefix=self.redis_prefix,
            key_resolver=self.resolver, run_workers=False, redis_dedupe=True,
        )
        self._served = served(self.app)
        self.url = await self._served.__aenter__()

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _stop(self) -> None:
        await self._served.__aexit__(None, None, None)
        async for key in self.redis.scan_iter(f"{self.redis_prefix}*"):
            await self.redis.delete(key)
        await self.redis.aclose()
        assert self.db is not None
        await self.db.dispose()
        await self._drop()

    @property
    def protocol(self) -> str:
        return self.url + "/ondc"

    def counts(self) -> dict[str, int]:
        return self.call(self._counts())

    async def _counts(self) -> dict[str, int]:
        assert self.db is not None
        async with self.db.session() as s:
            return {
                t: (await s.execute(text(f'SELECT count(*) FROM "{t}"'))).scalar_one()
                for t in STATE_TABLES
            }

    def tables(self) -> set[str]:
        return self.call(self._tables())

    async def _tables(self) -> set[str]:
        assert self.db is not None
        async with self.db.session() as s:
            rows = await s.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return {r[0] for r in rows}

    def process(self) -> int:
        """Run the inbox processor until nothing is due (workers are off)."""
        return self.call(self.app.state.processor.process_all())

    def sql(self, query: str, **params: Any) -> list[Any]:
        return self.call(self._sql(query, params))

    async def _sql(self, query: str, params: dict[str, Any]) -> list[Any]:
        assert self.db is not None
        async with self.db.session() as s:
            return list((await s.execute(text(query), params)).all())
