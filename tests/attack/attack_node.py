"""A seller node for the attack suite, served by uvicorn in a background thread with its own
event loop, so synchronous hypothesis / schemathesis tests can drive it over real HTTP.

PostgreSQL (a fresh database, dropped afterwards) and Redis (a per-run key prefix). Keys come
from a ``StaticKeyResolver`` holding the buyer apps, a gateway and a subscriber that claims to
be a gateway but is registered as a BAP. Workers are off: nothing changes the database in the
background, so a content fingerprint of every table (``fingerprint()``: row count and a hash of
every row, ordered by primary key) before and after a request says exactly what that request
did. ``process()`` runs the inbox processor on demand; ``deliver()`` runs the dispatcher once
per due batch, signing callbacks to a buyer app double (``start_buyer()``) on loopback.

``record(outcome)`` counts the inputs each attack test tried (by outcome); ``conftest.py``
prints the tally at the end of the run."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "tests" / "transport", ROOT / "tests" / "reliability"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from reliability_harness import fresh_database  # noqa: E402
from transport_doubles import BuyerDouble, Callback, Participant, served  # noqa: E402

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
# The tables most requests touch (``counts()``). "No state change" is judged by
# ``fingerprint()`` instead, which covers every table in the schema, contents included.
STATE_TABLES = (
    "inbox", "outbox", "orders", "order_drafts", "order_transitions", "catalogue_providers",
    "catalogue_items", "catalogue_locations", "catalogue_subscriptions",
)
# Server side, so one round trip: per table of the public schema, its row count and the md5 of
# all its rows as text, in primary key order (rows of a table without a key: in text order).
# It lives in a schema of its own, which the fingerprint (public tables) does not cover.
_FINGERPRINT_FUNCTION = """
CREATE OR REPLACE FUNCTION attack_suite.fingerprint()
RETURNS TABLE (name text, n bigint, digest text) LANGUAGE plpgsql AS $fp$
DECLARE
    t record;
    keys text;
BEGIN
    FOR t IN SELECT c.oid, c.relname FROM pg_class c
             JOIN pg_namespace s ON s.oid = c.relnamespace
             WHERE s.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
    LOOP
        SELECT string_agg(format('fp.%I', a.attname), ', ' ORDER BY k.ord) INTO keys
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = t.oid AND i.indisprimary;
        RETURN QUERY EXECUTE format(
            'SELECT %L::text, count(*), coalesce(md5(string_agg(fp::text, chr(10) '
            'ORDER BY %s)), '''') FROM public.%I AS fp',
            t.relname, coalesce(keys, 'fp::text'), t.relname);
    END LOOP;
END
$fp$
"""

Fingerprint = dict[str, tuple[int, str]]

# test name (without parameters) -> outcome -> how many inputs
TRIED: defaultdict[str, Counter[str]] = defaultdict(Counter)


def record(outcome: str = "tried", n: int = 1) -> None:
    """Count one input of the running test (named from ``PYTEST_CURRENT_TEST``)."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "unknown::unknown").split(" ")[0]
    module, _, name = current.rpartition("::")
    TRIED[f"{Path(module).stem}::{name.split('[')[0]}"][outcome] += n


def changed_tables(before: Fingerprint, after: Fingerprint) -> set[str]:
    """Tables whose rows differ (added, removed or edited), and tables that appeared or went."""
    return {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)}


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
        # the buyer app double serves on loopback
        "allow_private_network": True,
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
        self.buyer: BuyerDouble | None = None
        self.buyer_url = ""
        self._indexed = 0  # callbacks of self.buyer.received already in _by_message
        self._by_message: dict[tuple[str, str, str], list[Callback]] = {}

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> AttackNode:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        url, self._drop = await fresh_database(PG_ADMIN_DSN)
        self.db = Database(url)
        async with self.db.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS attack_suite")
            await conn.exec_driver_sql(_FINGERPRINT_FUNCTION)
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
        if self.buyer is not None:
            await self._buyer_served.__aexit__(None, None, None)
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

    def fingerprint(self) -> Fingerprint:
        """Per table of the public schema: (row count, md5 of every row as text, in primary
        key order). Any insert, delete or update of any column changes it."""
        return self.call(self._fingerprint())

    async def _fingerprint(self) -> Fingerprint:
        assert self.db is not None
        async with self.db.session() as s:
            rows = await s.execute(text("SELECT * FROM attack_suite.fingerprint()"))
            return {name: (int(n), digest) for name, n, digest in rows}

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

    def start_buyer(self) -> str:
        """Serve a buyer app double (verifies every callback's signature against the seller's
        key) in the node's loop; returns the ``bap_uri`` to put in requests."""
        if self.buyer is None:
            self.call(self._start_buyer())
        return self.buyer_url + "/protocol"

    async def _start_buyer(self) -> None:
        seller = SimpleNamespace(key=keys.load_keys(self.keys_dir).signing_key)
        self.buyer = BuyerDouble(seller)  # type: ignore[arg-type]
        self._buyer_served = served(self.buyer.app)
        self.buyer_url = await self._buyer_served.__aenter__()
        # The node sends callbacks only to a registered URL: register the double's beside
        # the bap's public one, for every domain.
        record = SubscriberRecord.from_lookup(self.bap.lookup_record())
        self.resolver.add(replace(record, registered_urls=(
            ("", record.subscriber_url or ""), ("", self.buyer_url + "/protocol"),
        )))

    def callbacks(self, transaction_id: str, message_id: str, action: str) -> list[Callback]:
        """The ``action`` callbacks the buyer app double received for that transaction and
        message id (indexed as they arrive: each body is parsed once)."""
        assert self.buyer is not None
        received = self.buyer.received
        for callback in received[self._indexed:]:
            context = callback.payload["context"]
            key = (context["transaction_id"], context["message_id"], callback.action)
            self._by_message.setdefault(key, []).append(callback)
        self._indexed = len(received)
        return list(self._by_message.get((transaction_id, message_id, action), ()))

    def deliver(self) -> int:
        """Run the dispatcher until no callback is due (workers are off); returns how many
        delivery attempts were made."""
        return self.call(self._deliver())

    async def _deliver(self) -> int:
        total = 0
        while sent := await self.app.state.dispatcher.dispatch_once():
            total += sent
        return total

    def sql(self, query: str, **params: Any) -> list[Any]:
        return self.call(self._sql(query, params))

    async def _sql(self, query: str, params: dict[str, Any]) -> list[Any]:
        assert self.db is not None
        async with self.db.session() as s:
            result = await s.execute(text(query), params)
            return list(result.all()) if result.returns_rows else []
