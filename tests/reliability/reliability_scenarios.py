"""The reliability scenarios. Each runs a seller node (uvicorn on loopback, PostgreSQL) against
a counting buyer app and a registry double, injects one fault, and returns a
``ScenarioResult``: the tally (sent / delivered / lost / duplicates) plus named checks.

Scenarios 1-5 (kill, postgres, redis, buyer, registry) test the transport: their node runs
the not-supported handlers (``handlers.not_supported_handlers``), so every request yields
exactly one signed error ``on_*`` callback and no business state. Scenarios 6-7
(orders-kill, orders-postgres, in ``reliability_orders.py``) run the real seller logic
(catalogue search and the orders handlers) and check orders and stock as well.

Used by ``tests/reliability/test_reliability.py`` (small numbers, CI) and by
``bench/reliability.py`` (the suite's own command)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from reliability_harness import (
    ROOT,
    CountingBuyer,
    LocalPostgres,
    LocalRedis,
    Participant,
    RegistryDouble,
    Sender,
    SendStats,
    Tally,
    attempts_of,
    free_port,
    fresh_database,
    loopback_socket,
    node_settings,
    outbox_statuses,
    request_body,
    served,
    tally,
    wait_for,
)

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.outbox import DELIVERED, EXPIRED, NACKED
from ondc_adapter.storage import Database

SELLER_ID, SELLER_UKID = "seller.test", "seller-k1"


@dataclass
class ScenarioResult:
    name: str
    tally: Tally
    checks: list[tuple[str, bool]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, bool(ok)))

    @property
    def ok(self) -> bool:
        t = self.tally
        return (
            all(ok for _, ok in self.checks)
            and t.lost == 0
            and t.duplicates == 0
            and t.server_errors == 0
            and t.unverified == 0
        )

    def failures(self) -> list[str]:
        out = [what for what, ok in self.checks if not ok]
        t = self.tally
        for name in ("lost", "duplicates", "server_errors", "unverified"):
            if getattr(t, name):
                out.append(f"{name}={getattr(t, name)}")
        return out + t.notes[:10]


@dataclass
class Scale:
    """How much traffic each scenario sends (pytest uses the small default)."""

    requests: int = 12
    kill_requests: int = 24
    rounds: int = 1
    buyers: int = 4  # concurrent shoppers in the orders scenarios
    orders: int = 16  # transactions (search ... confirm, seller action, status) they start
    order_kills: int = 2  # SIGKILLs of ``serve`` in orders-kill


@dataclass
class Env:
    """Where scenarios get their databases: a PostgreSQL admin DSN (a fresh database per
    scenario is created and dropped there; the server itself is never stopped)."""

    pg_admin_dsn: str
    workdir: Path


class World:
    """Seller keys, participants, registry double and counting buyer of one scenario."""

    def __init__(self, workdir: Path) -> None:
        self.keys_dir = workdir / "seller-keys"
        node = keys.new_keys(SELLER_ID, SELLER_UKID)
        keys.write_keys(node, self.keys_dir)
        loaded = keys.load_keys(self.keys_dir)
        self.seller = Participant(SELLER_ID, SELLER_UKID, "BPP", key=loaded.signing_key)
        self.buyer = CountingBuyer(self.seller.key.public_key_b64)
        self.buyer_sock = loopback_socket()
        self.bap_uri = f"http://127.0.0.1:{self.buyer_sock.getsockname()[1]}/protocol/"
        # every buyer identity is registered at the counting buyer's URL
        self.bap = Participant("buyer.test", "bap-k1", "BAP", subscriber_url=self.bap_uri)
        self.cold = Participant("cold-buyer.test", "bap-k2", "BAP", subscriber_url=self.bap_uri)
        self.late = Participant("late-buyer.test", "bap-k3", "BAP", subscriber_url=self.bap_uri)
        self.registry = RegistryDouble([self.seller, self.bap, self.cold, self.late])

    def body(
        self, signer: Participant, *, action: str = "search", ttl: str = "PT30S", age: float = 0
    ) -> bytes:
        """A signed-ready request; ``age`` back-dates its context.timestamp."""
        sent = datetime.now(UTC) - timedelta(seconds=age)
        return request_body(action, bap=signer, bap_uri=self.bap_uri, now=sent,
                            context={"ttl": ttl})


@contextlib.asynccontextmanager
async def fresh_db(env: Env) -> AsyncIterator[Database]:
    url, drop = await fresh_database(env.pg_admin_dsn)
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()
        await drop()


@contextlib.asynccontextmanager
async def node(
    world: World, registry_url: str, db: Database, *, redis_dedupe: bool = False,
    **overrides: Any,
) -> AsyncIterator[str]:
    values = {"callback_timeout": 1.0, **overrides}
    settings = node_settings(world.keys_dir, registry_url, db.url, **values)
    # Redis, when wanted, comes from ``redis_url`` in the settings: the app builds (and
    # closes) its own client exactly as ``serve`` does.
    app = create_app(
        settings, db=db, handlers=not_supported_handlers(), redis_dedupe=redis_dedupe
    )
    async with served(app) as url:
        yield url + settings.path_prefix


async def delivered_all(db: Database, expected: int, final: str = DELIVERED) -> bool:
    statuses = await outbox_statuses(db)
    return statuses.get(final, 0) >= expected


async def send_all(
    sender: Sender, world: World, signer: Participant, n: int, **kwargs: Any
) -> list[bytes]:
    bodies = [world.body(signer, **kwargs) for _ in range(n)]
    sem = asyncio.Semaphore(8)

    async def one(body: bytes) -> None:
        async with sem:
            await sender.send("search", body, signer)

    await asyncio.gather(*(one(b) for b in bodies))
    return bodies


def message_id(body: bytes) -> str:
    return str(orjson.loads(body)["context"]["message_id"])


# -- 1. kill -9 of a worker mid-delivery ----------------------------------------------------------


def _node_env(world: World, registry_url: str, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ONDC_SUBSCRIBER_ID": SELLER_ID,
        "ONDC_UNIQUE_KEY_ID": SELLER_UKID,
        "ONDC_KEYS_DIR": str(world.keys_dir),
        "ONDC_BPP_URI": "https://seller.test/ondc",
        "ONDC_PATH_PREFIX": "/ondc",
        "ONDC_REGISTRY_URL": registry_url,
        "ONDC_ALLOW_PRIVATE_NETWORK": "true",  # registry and buyer doubles on loopback
        "ONDC_DATABASE_URL": database_url,
        "ONDC_CALLBACK_BACKOFF_INITIAL": "0.05",
        "ONDC_CALLBACK_BACKOFF_MAX": "0.3",
        "ONDC_DISPATCHER_POLL_SECONDS": "0.05",
        "ONDC_CALLBACK_TIMEOUT": "1",  # the lease of a claimed callback is this + 10 s
        "ONDC_LOG_JSON": "false",
    }
    env.pop("ONDC_REDIS_URL", None)
    return env


def _spawn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "transport" / "node_process.py"), str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def _serving(client: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes]) -> None:
    async def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"node exited with {proc.returncode}")
        try:
            await client.get(f"{url}/ondc-site-verification.html")
        except httpx.TransportError:
            return False
        return True

    await wait_for(up, wait=30, what="node process to serve")


async def kill_worker(env: Env, scale: Scale) -> ScenarioResult:
    """A node process (``tests/transport/node_process.py``: the app ``serve`` builds, but with
    the not-supported handlers) is SIGKILLed while callbacks are in flight (the buyer app
    holds each ACK for 0.3 s), then restarted: every ACKed request's callback arrives, none
    twice. ``orders-kill`` does the same to the real ``ondc-adapter serve``."""
    world = World(env.workdir)
    stats = SendStats()
    figures: dict[str, Any] = {"kills": 0, "in_flight_at_kill": [], "delivered_at_kill": []}
    port = free_port()
    url = f"http://127.0.0.1:{port}/ondc"
    async with (
        fresh_db(env) as db,
        served(world.registry.app) as registry_url,
        served(world.buyer.app, world.buyer_sock),
        httpx.AsyncClient(timeout=15) as client,
    ):
        proc_env = _node_env(world, registry_url, db.url)
        sender = Sender(client, url, stats)
        for _ in range(scale.rounds):
            proc = _spawn(proc_env, port)
            try:
                await _serving(client, url, proc)
                world.buyer.ack_delay = 0.3
                before = len(world.buyer.receipts)
                await send_all(sender, world, world.bap, scale.kill_requests)
                await wait_for(
                    lambda b=before: len(world.buyer.receipts) - b >= scale.kill_requests // 3
                    and world.buyer.in_flight > 0,
                    wait=30, what="callbacks in flight", step=0.005,
                )
            finally:
                figures["in_flight_at_kill"].append(world.buyer.in_flight)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            figures["kills"] += 1
            statuses = await outbox_statuses(db)
            figures["delivered_at_kill"].append(statuses.get(DELIVERED, 0))
        world.buyer.ack_delay = 0.0
        proc = _spawn(proc_env, port)
        try:
            await _serving(client, url, proc)
            acked = len(set(stats.acked))
            await wait_for(lambda: delivered_all(db, acked), wait=60, what="all callbacks")
            await asyncio.sleep(0.5)  # time for a double delivery to show itself
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        result = ScenarioResult("kill -9 worker mid-delivery", await tally(db, world.buyer, stats))
    result.figures = figures
    result.check("every request ACKed before the kill", len(stats.acked) == stats.requests)
    result.check(
        "callbacks were in flight and undelivered at each kill",
        all(n > 0 for n in figures["in_flight_at_kill"])
        and all(d < scale.kill_requests * (i + 1)
                for i, d in enumerate(figures["delivered_at_kill"])),
    )
    return result


# -- 2. PostgreSQL stopped and restarted ----------------------------------------------------------


async def postgres_restart(env: Env, scale: Scale) -> ScenarioResult:
    """The node's own PostgreSQL is stopped right after a burst (processor and dispatcher busy),
    requests are sent while it is down (503 + 31001 + Retry-After, never 500), then it is
    started again: the node recovers without a restart and nothing ACKed is lost."""
    world = World(env.workdir)
    stats = SendStats()
    figures: dict[str, Any] = {}
    pg = LocalPostgres()
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        url = await pg.create_database("node")
        db = Database(url)
        await db.migrate()
        async with (
            served(world.registry.app) as registry_url,
            served(world.buyer.app, world.buyer_sock),
            node(world, registry_url, db) as node_url,
            httpx.AsyncClient(timeout=15) as client,
        ):
            sender = Sender(client, node_url, stats)
            await send_all(sender, world, world.bap, scale.requests)
            await asyncio.to_thread(pg.stop)
            down = SendStats()
            down_sender = Sender(client, node_url, down)
            during = await send_all(down_sender, world, world.bap, scale.requests)
            figures["answers_while_down"] = {
                "ack": len(down.acked), "503/31001": down.retryable_nacks,
                "500": down.server_errors, "other": down.other_refusals,
            }
            figures["slowest_nack_s"] = round(down.max_nack_seconds, 3)
            stats.server_errors += down.server_errors
            stats.retryable_nacks += down.retryable_nacks
            await asyncio.to_thread(pg.start)
            # The sender retries what was refused, then sends new traffic: no node restart.
            for body in during:
                await sender.send("search", body, world.bap, retry_for=30)
            await send_all(sender, world, world.bap, scale.requests)
            acked = len(set(stats.acked))
            await wait_for(lambda: delivered_all(db, acked), wait=60, what="all callbacks")
            await asyncio.sleep(0.3)
            result = ScenarioResult("PostgreSQL stopped + restarted", await tally(
                db, world.buyer, stats))
        await db.dispose()
    finally:
        await asyncio.to_thread(pg.destroy)
    result.figures = figures
    result.check("every request while down got 503 + 31001 (none ACKed, none 500)",
                 down.retryable_nacks == scale.requests and not down.acked
                 and not down.other_refusals and down.server_errors == 0)
    result.check("all requests ACKed after the restart (no node restart)",
                 len(set(stats.acked)) == 3 * scale.requests)
    return result


# -- 3. Redis stopped -----------------------------------------------------------------------------


async def redis_outage(env: Env, scale: Scale) -> ScenarioResult:
    """The node's Redis (key cache + duplicate fast path) is killed: requests from a signer
    never seen before are verified by direct registry lookups, re-sent duplicates are caught by
    the database, everything is ACKed; when Redis returns the cache fills again."""
    world = World(env.workdir)
    stats = SendStats()
    figures: dict[str, Any] = {}
    redis_server = LocalRedis()
    redis_server.start()
    try:
        async with (
            fresh_db(env) as db,
            served(world.registry.app) as registry_url,
            served(world.buyer.app, world.buyer_sock),
            node(
                world, registry_url, db, redis_url=redis_server.url, redis_dedupe=True
            ) as node_url,
            httpx.AsyncClient(timeout=15) as client,
        ):
            sender = Sender(client, node_url, stats)
            first = await send_all(sender, world, world.bap, scale.requests)
            await sender.send("search", first[0], world.bap)  # duplicate, Redis up
            redis_server.stop()
            calls = world.registry.calls
            second = await send_all(sender, world, world.cold, scale.requests)
            figures["registry_calls_while_down"] = world.registry.calls - calls
            await sender.send("search", second[0], world.cold)  # duplicates, Redis down
            await sender.send("search", first[1], world.bap)
            redis_server.start()
            await send_all(sender, world, world.late, scale.requests)
            probe = aioredis.from_url(redis_server.url)
            try:
                cached = await probe.exists("ondc:lookup:late-buyer.test|bap-k3")
            finally:
                await probe.aclose()
            acked = 3 * scale.requests
            await wait_for(lambda: delivered_all(db, acked), wait=60, what="all callbacks")
            await asyncio.sleep(0.3)
            result = ScenarioResult("Redis stopped + restarted", await tally(
                db, world.buyer, stats))
            statuses = await outbox_statuses(db)
    finally:
        redis_server.stop()
    result.figures = figures
    result.check("every request ACKed (duplicates too)", len(stats.acked) == stats.requests)
    result.check("new signer verified by direct registry lookups while Redis was down",
                 figures["registry_calls_while_down"] >= 1)
    result.check("re-sent duplicates produced no extra callback",
                 sum(statuses.values()) == 3 * scale.requests)
    result.check("key cache written to Redis again after it returned", cached == 1)
    return result


# -- 4. buyer app slow, 500, NACK -----------------------------------------------------------------


async def buyer_faults(env: Env, scale: Scale) -> list[ScenarioResult]:
    """The buyer app answers beyond the callback timeout, then with HTTP 500, then NACK, then
    stays down past a short TTL. Slow/500: retried with backoff and delivered once it recovers;
    NACK: recorded after one attempt, not retried; past TTL: expired, attempts recorded."""
    world = World(env.workdir)
    results: list[ScenarioResult] = []
    buyer = world.buyer
    async with (
        fresh_db(env) as db,
        served(world.registry.app) as registry_url,
        served(buyer.app, world.buyer_sock),
        # timestamp skew raised so the TTL case can send a request 28 s old: callbacks may
        # be retried for max(ttl, 30 s) after the request's timestamp (exchange.py).
        node(world, registry_url, db, callback_timeout=0.5, callback_backoff_initial=0.05,
             callback_backoff_max=0.3, timestamp_skew_seconds=40) as node_url,
        httpx.AsyncClient(timeout=15) as client,
    ):
        for mode, label in (("slow", "buyer app slower than callback timeout"),
                            ("error", "buyer app answers HTTP 500")):
            stats = SendStats()
            buyer.mode, buyer.slow_seconds = mode, 1.0
            bodies = await send_all(Sender(client, node_url, stats), world, world.bap,
                                    scale.requests)
            ids = {message_id(b) for b in bodies}

            async def retried(ids: set[str] = ids) -> bool:
                seen = await attempts_of(db)
                return all(seen.get(m, 0) >= 2 for m in ids)

            await wait_for(retried, wait=30, what=f"{mode}: second attempts")
            buyer.mode = "ack"
            await wait_for(lambda ids=ids: _all_status(db, ids, DELIVERED), wait=30,
                           what=f"{mode}: delivery after recovery")
            await asyncio.sleep(0.3)
            result = ScenarioResult(label, await tally(db, buyer, stats))
            attempts = await attempts_of(db)
            result.figures["attempts"] = sorted(attempts[m] for m in ids)
            result.check("each callback retried (>= 2 attempts) then delivered",
                         result.tally.delivered == scale.requests)
            results.append(result)

        stats = SendStats()
        buyer.mode = "nack"
        bodies = await send_all(Sender(client, node_url, stats), world, world.bap, scale.requests)
        ids = {message_id(b) for b in bodies}
        await wait_for(lambda: _all_status(db, ids, NACKED), wait=30, what="nacked")
        await asyncio.sleep(1.0)  # a blind retry would arrive within the backoff
        buyer.mode = "ack"
        result = ScenarioResult("buyer app answers NACK", await tally(db, buyer, stats))
        attempts = await attempts_of(db)
        receipts = [r for r in buyer.receipts if r.message_id in ids]
        result.check("NACK recorded after exactly one attempt",
                     all(attempts[m] == 1 for m in ids) and len(receipts) == len(ids))
        result.check("every NACKed callback refused by the buyer, none lost",
                     result.tally.refused_by_buyer == scale.requests)
        results.append(result)

        stats = SendStats()
        buyer.mode = "error"
        count = max(2, scale.requests // 4)
        bodies = await send_all(Sender(client, node_url, stats), world, world.bap, count,
                                age=28)
        ids = {message_id(b) for b in bodies}
        await wait_for(lambda: _all_status(db, ids, EXPIRED), wait=30, what="expired")
        buyer.mode = "ack"
        result = ScenarioResult("buyer app down past the TTL", await tally(db, buyer, stats))
        attempts = await attempts_of(db)
        result.figures["attempts"] = sorted(attempts[m] for m in ids)
        result.check("retried until the TTL, then expired (not lost)",
                     result.tally.expired == count and all(attempts[m] >= 2 for m in ids))
        results.append(result)
    return results


async def _all_status(db: Database, ids: set[str], status: str) -> bool:
    from sqlalchemy import select

    from ondc_adapter.outbox import OutboxEntry

    async with db.session() as s:
        rows = (await s.execute(
            select(OutboxEntry.message_id, OutboxEntry.status)
            .where(OutboxEntry.message_id.in_(ids))
        )).all()
    return len(rows) == len(ids) and all(st == status for _, st in rows)


# -- 5. registry slow or down ---------------------------------------------------------------------


async def registry_faults(env: Env, scale: Scale) -> ScenarioResult:
    """The registry answers beyond the lookup timeout, then refuses connections: a signer whose
    key is not cached gets 503 + 31001 + Retry-After; a signer with a cached key is still
    ACKed; when the registry is back the refused signer is ACKed (no node restart)."""
    world = World(env.workdir)
    stats = SendStats()
    figures: dict[str, Any] = {}
    reg_sock = loopback_socket()
    reg_port = reg_sock.getsockname()[1]
    registry_url = f"http://127.0.0.1:{reg_port}"
    retry_after: set[str | None] = set()
    cold_answers: list[int] = []
    async with (
        fresh_db(env) as db,
        served(world.buyer.app, world.buyer_sock),
        httpx.AsyncClient(timeout=15) as client,
    ):
        registry_server = served(world.registry.app, reg_sock)
        await registry_server.__aenter__()
        try:
            async with node(world, registry_url, db, registry_timeout=0.3,
                            registry_retries=1) as node_url:
                sender = Sender(client, node_url, stats)
                await send_all(sender, world, world.bap, scale.requests)  # key now cached

                async def cold_probe() -> None:
                    body = world.body(world.cold)
                    response = await sender.send_once("search", body, world.cold)
                    cold_answers.append(response.status_code)
                    retry_after.add(response.headers.get("Retry-After"))
                    if response.status_code == 503:
                        stats.retryable_nacks += 1
                    pending.append(body)

                pending: list[bytes] = []
                world.registry.delay = 2.0  # slow: beyond the 0.3 s lookup timeout
                await cold_probe()
                await send_all(sender, world, world.bap, scale.requests)
                world.registry.delay = 0.0
                await registry_server.__aexit__(None, None, None)  # down: connection refused
                registry_server = None
                await cold_probe()
                await send_all(sender, world, world.bap, scale.requests)
                reg_sock = loopback_socket_on(reg_port)
                registry_server = served(world.registry.app, reg_sock)
                await registry_server.__aenter__()
                for body in pending:  # the refused signer retries after Retry-After
                    stats.requests -= 1  # counted once: the send below counts it again
                    await sender.send("search", body, world.cold, retry_for=30)
                stats.requests += len(pending)
                await send_all(sender, world, world.cold, scale.requests)
                acked = len(set(stats.acked))
                await wait_for(lambda: delivered_all(db, acked), wait=60, what="all callbacks")
                await asyncio.sleep(0.3)
                result = ScenarioResult("registry slow, then down", await tally(
                    db, world.buyer, stats))
        finally:
            if registry_server is not None:
                await registry_server.__aexit__(None, None, None)
    figures["cold_signer_answers"] = cold_answers
    result.figures = figures
    result.check("uncached signer: 503 + 31001 + Retry-After while slow and while down",
                 cold_answers == [503, 503] and retry_after == {"1"})
    result.check("cached signer ACKed throughout, refused signer ACKed after recovery",
                 len(set(stats.acked)) == 4 * scale.requests + 2)
    return result


def loopback_socket_on(port: int) -> Any:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


# -- 6./7. the real seller logic: orders and stock (reliability_orders.py) ------------------------


async def orders_kill(env: Env, scale: Scale) -> ScenarioResult:
    from reliability_orders import orders_kill as scenario

    return await scenario(env, scale)


async def orders_postgres(env: Env, scale: Scale) -> ScenarioResult:
    from reliability_orders import orders_postgres as scenario

    return await scenario(env, scale)


# -- running --------------------------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Env, Scale], Awaitable[ScenarioResult | list[ScenarioResult]]]] = {
    "kill": kill_worker,
    "postgres": postgres_restart,
    "redis": redis_outage,
    "buyer": buyer_faults,
    "registry": registry_faults,
    "orders-kill": orders_kill,
    "orders-postgres": orders_postgres,
}


async def run(names: list[str], env: Env, scale: Scale) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    for name in names:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=env.workdir) as tmp:
            out = await SCENARIOS[name](Env(env.pg_admin_dsn, Path(tmp)), scale)
        for result in out if isinstance(out, list) else [out]:
            result.figures.setdefault("seconds", round(time.monotonic() - started, 1))
            results.append(result)
    return results
