"""Load test of the served node: signed search plus whole select -> init -> confirm transactions.

    python bench/load.py [--seconds 60] [--searchers 8] [--buyers 8] [--workers 1]
                         [--baseline-seconds 5] [--drain-seconds 30] [--max-requests 200000]

What runs (all on loopback):

* the node: ``uvicorn --factory ondc_adapter.api.app:app_from_env`` (what ``ondc-adapter serve``
  runs) in its own process, configured by ``ONDC_*`` variables: PostgreSQL (a throw-away
  database, migrated, with the sample ODOP catalogue imported) and Redis, real seller logic
  (catalogue search, quotes, orders), inbox processor and callback dispatcher on;
* in this process: a registry double answering ``/v2.0/lookup``, a buyer app receiver that
  verifies every callback's signature against the node's registered key and records it, and the
  load: ``--searchers`` loops sending signed searches (Authorization + X-Gateway-Authorization)
  back to back, and ``--buyers`` loops each running whole transactions: search, wait for
  on_search, select a random item, wait for on_select, init, on_init, confirm, on_confirm.

It stops by itself: new requests stop after ``--seconds`` (or ``--max-requests``), then it waits
at most ``--drain-seconds`` for the callbacks still due. It reports request throughput, ACK
latency p50/p99 per action, callback delivery latency (request sent -> callback received, and
the node's own enqueue -> ACK histogram from ``/metrics``), error count (must be 0), and for the
callbacks: sent (ACKed requests) vs delivered vs lost vs duplicates (must be 0 and 0).

Baseline in the same run: the same search loop for ``--baseline-seconds`` against a bare FastAPI
endpoint returning a constant ACK (same uvicorn settings), so the search throughput is also a
ratio of what this machine and this client can drive at all.

Exit status 0 when there were no errors, nothing lost and no duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Fresh identities every run: the node's shared lookup cache (Redis, ``ondc:lookup:...``) must
# never hand a run the keys of an earlier one.
RUN = uuid.uuid4().hex[:8]
SELLER_ID, SELLER_UKID = f"seller-{RUN}.load", "seller-1"
BAP_ID, BAP_UKID = f"buyer-{RUN}.load", "bap-1"
BG_ID, BG_UKID = f"gateway-{RUN}.load", "bg-1"
UVICORN_ARGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
FLOW_TIMEOUT = 20.0  # seconds a buyer waits for one callback before counting the flow failed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q) - 1))]


# -- bookkeeping --------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What was sent and what came back, keyed by message_id."""

    sent_at: dict[str, float] = field(default_factory=dict)  # ACKed requests only
    action_of: dict[str, str] = field(default_factory=dict)
    ack_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    received: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    first_callback_at: dict[str, float] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    flows_done: int = 0
    flows_failed: int = 0
    requests: int = 0

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {detail[:300]}")


# -- peers in this process ----------------------------------------------------------------------


def registry_app(records: list[dict[str, Any]]) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    app = FastAPI()

    async def lookup(request: Request) -> Response:
        query = orjson.loads(await request.body())
        found = [
            r
            for r in records
            if query.get("subscriber_id") in (None, r["subscriber_id"])
            and query.get("ukId") in (None, r["ukId"])
        ]
        return Response(orjson.dumps(found), media_type="application/json")

    app.router.add_route("/v2.0/lookup", lookup, methods=["POST"])
    app.router.add_route("/lookup", lookup, methods=["POST"])
    return app


def buyer_app(ledger: Ledger, seller_public_key: str) -> Any:
    """Receives callbacks, verifies the signature over the exact bytes, ACKs."""
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

    from ondc_adapter.protocol.ack import ACK_BODY
    from ondc_adapter.signing import SignatureError, verify_request

    app = FastAPI()

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            auth = request.headers.get("authorization", "")
            header = verify_request(body, auth, seller_public_key)
            payload = orjson.loads(body)
        except (SignatureError, orjson.JSONDecodeError) as exc:
            ledger.error("callback_unverified", str(exc))
            return Response(b'{"message":{"ack":{"status":"NACK"}}}', 401)
        if header.subscriber_id != SELLER_ID:
            ledger.error("callback_unverified", f"signed by {header.subscriber_id}")
            return Response(b'{"message":{"ack":{"status":"NACK"}}}', 401)
        message_id = payload.get("context", {}).get("message_id", "")
        now = time.perf_counter()
        ledger.received[message_id].append(body)
        ledger.first_callback_at.setdefault(message_id, now)
        waiter = ledger.waiters.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(payload)
        return Response(ACK_BODY, media_type="application/json")

    app.router.add_route("/protocol/{action}", receive, methods=["POST"])
    return app


@contextlib.asynccontextmanager
async def serve_here(app: Any):
    """``app`` under uvicorn on a loopback port of this event loop; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


# -- the node and the baseline (own processes) --------------------------------------------------


def start_node(env: dict[str, str], port: int, workers: int, cwd: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "ondc_adapter.api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", *UVICORN_ARGS,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=cwd)


BARE_APP = """
from fastapi import FastAPI, Response
from ondc_adapter.protocol.ack import ACK_BODY
app = FastAPI()
@app.post("/ondc/{action}")
async def ack(action: str) -> Response:
    return Response(ACK_BODY, media_type="application/json")
"""


def start_bare(port: int, cwd: Path) -> subprocess.Popen:
    (cwd / "bare_ack.py").write_text(BARE_APP)
    command = [
        sys.executable, "-m", "uvicorn", "bare_ack:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", *UVICORN_ARGS,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{cwd}{os.pathsep}{ROOT}"}
    return subprocess.Popen(command, env=env, cwd=cwd)


async def wait_http(url: str, proc: subprocess.Popen, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url, timeout=1)).status_code < 500:
                    return
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- load -----------------------------------------------------------------------------------------


class Driver:
    def __init__(
        self,
        base: str,
        bap_uri: str,
        ledger: Ledger,
        keys: dict[str, Any],
        deadline: float,
        max_requests: int,
    ) -> None:
        self.base = base
        self.bap_uri = bap_uri
        self.ledger = ledger
        self.bap_key, self.bg_key = keys["bap"], keys["bg"]
        self.deadline = deadline
        self.max_requests = max_requests
        self.http = httpx.AsyncClient(
            timeout=10, limits=httpx.Limits(max_connections=256, max_keepalive_connections=256)
        )

    def running(self) -> bool:
        return time.perf_counter() < self.deadline and self.ledger.requests < self.max_requests

    async def send(self, payload: dict[str, Any], *, via_gateway: bool = False) -> str | None:
        """Sign and POST; the message_id when ACKed, else None (counted as an error)."""
        from ondc_adapter.signing import sign_request

        action = payload["context"]["action"]
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "Authorization": sign_request(
                body, self.bap_key, subscriber_id=BAP_ID, unique_key_id=BAP_UKID
            ).to_header(),
        }
        if via_gateway:
            headers["X-Gateway-Authorization"] = sign_request(
                body, self.bg_key, subscriber_id=BG_ID, unique_key_id=BG_UKID
            ).to_header()
        message_id = payload["context"]["message_id"]
        self.ledger.requests += 1
        started = time.perf_counter()
        try:
            response = await self.http.post(f"{self.base}/{action}", content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.ledger.error(f"{action}_transport", repr(exc))
            return None
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or b'"ACK"' not in response.content:
            self.ledger.error(f"{action}_nack", f"{response.status_code} {response.text}")
            return None
        self.ledger.ack_ms[action].append(elapsed)
        self.ledger.sent_at[message_id] = started
        self.ledger.action_of[message_id] = action
        return message_id

    async def call(self, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """Send and wait for the callback of the same message_id."""
        message_id = payload["context"]["message_id"]
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.ledger.waiters[message_id] = waiter
        if await self.send(payload, **kwargs) is None:
            self.ledger.waiters.pop(message_id, None)
            return None
        try:
            return await asyncio.wait_for(waiter, FLOW_TIMEOUT)
        except TimeoutError:
            self.ledger.waiters.pop(message_id, None)
            return None

    def state(self) -> Any:
        from ondc_adapter.sandbox.builders import FlowState

        return FlowState(domain="ONDC:RET16", city="std:080", bap_id=BAP_ID, bap_uri=self.bap_uri)

    async def searcher(self, *, closed_loop: bool = True) -> None:
        from ondc_adapter.sandbox.builders import build_search

        if not closed_loop:  # the baseline: nothing will call back
            while self.running():
                await self.send(build_search(self.state()), via_gateway=True)
            return

        # Closed loop: the next search goes once this one's on_search arrived, so the load
        # is what the node sustains end to end, not a backlog that grows for a minute.
        while self.running():
            if await self.call(build_search(self.state()), via_gateway=True) is None:
                self.ledger.error("search_no_callback", "no on_search in time")

    async def buyer(self, rng: random.Random) -> None:
        from ondc_adapter.sandbox.builders import (
            build_confirm,
            build_init,
            build_search,
            build_select,
        )

        while self.running():
            state = self.state()
            ok = False
            try:
                steps = iter(("search", "select", "init", "confirm"))
                for action in steps:
                    if action == "search":
                        request = build_search(state)
                    elif action == "select":
                        narrow_to_one_item(state, rng)
                        request = build_select(state)
                    elif action == "init":
                        request = build_init(state)
                    else:
                        request = build_confirm(state)
                    state.last[action] = request
                    answer = await self.call(request, via_gateway=action == "search")
                    if answer is None or answer.get("error"):
                        detail = orjson.dumps(answer.get("error")).decode() if answer else "none"
                        self.ledger.error(f"flow_{action}", detail)
                        break
                    state.last[f"on_{action}"] = answer
                    if action == "search":
                        state.bpp_id = answer["context"].get("bpp_id")
                        state.bpp_uri = answer["context"].get("bpp_uri")
                else:
                    ok = True
            except Exception as exc:  # a builder refusing the catalogue: an error, not a crash
                self.ledger.error("flow_exception", repr(exc))
            if ok:
                self.ledger.flows_done += 1
            else:
                self.ledger.flows_failed += 1


def narrow_to_one_item(state: Any, rng: random.Random) -> None:
    """Let build_select pick a random in-stock item instead of always the first."""
    catalog = state.last["on_search"]["message"]["catalog"]
    choices = [
        (provider, item)
        for provider in catalog.get("bpp/providers") or []
        for item in provider.get("items") or []
        if int(str(((item.get("quantity") or {}).get("available") or {}).get("count", 0)) or 0) > 0
    ]
    if not choices:
        return
    provider, item = rng.choice(choices)
    narrowed = {**provider, "items": [item]}
    on_search = dict(state.last["on_search"])
    on_search["message"] = {"catalog": {**catalog, "bpp/providers": [narrowed]}}
    state.last["on_search"] = on_search


async def baseline(base: str, bap_uri: str, keys: dict[str, Any], seconds: float, n: int) -> float:
    ledger = Ledger()
    driver = Driver(base, bap_uri, ledger, keys, time.perf_counter() + seconds, 10**9)
    started = time.perf_counter()
    await asyncio.gather(*(driver.searcher(closed_loop=False) for _ in range(n)))
    await driver.http.aclose()
    return ledger.requests / (time.perf_counter() - started)


# -- orchestration --------------------------------------------------------------------------------


async def prepare_database(name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def seed_catalogue(database_url: str) -> int:
    """Migrate, import the sample ODOP catalogue, and give every item ample stock so a minute
    of confirms never runs out (an out-of-stock answer would be a business error, not load)."""
    from sqlalchemy import update

    from ondc_adapter.catalogue.tables import Item
    from ondc_adapter.sandbox.sample_catalogue import load_sample_catalogue
    from ondc_adapter.settings import Settings
    from ondc_adapter.storage import Database

    db = Database(database_url)
    try:
        await db.migrate()
        settings = Settings(_env_file=None, database_url=database_url)  # type: ignore[call-arg]
        count = await load_sample_catalogue(settings, db)
        async with db.session() as session:
            await session.execute(update(Item).values(stock=10_000_000, max_per_order=10))
    finally:
        await db.dispose()
    return count


async def scrape(client: httpx.AsyncClient, url: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = (await client.get(f"{url}/metrics", timeout=5)).text
    out: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def histogram_quantile(samples: dict[tuple[str, tuple], float], name: str, q: float) -> float:
    """Approximate quantile (upper bucket bound) of a histogram summed over its labels."""
    buckets: dict[float, float] = defaultdict(float)
    for (sample, labels), value in samples.items():
        if sample == f"{name}_bucket":
            le = dict(labels)["le"]
            buckets[float("inf") if le == "+Inf" else float(le)] += value
    if not buckets:
        return float("nan")
    total = buckets[max(buckets)]
    for bound in sorted(buckets):
        if total and buckets[bound] >= q * total:
            return bound
    return float("nan")


async def run(args: argparse.Namespace) -> int:
    from ondc_adapter import keys as node_keys
    from ondc_adapter.protocol.durations import format_timestamp
    from ondc_adapter.signing import Ed25519PrivateKey

    work = Path(tempfile.mkdtemp(prefix="ondc-load-"))
    pg_name = f"ondc_load_{os.getpid()}"
    node_proc = bare_proc = None
    load_before = os.getloadavg()[0]
    try:
        seller = node_keys.new_keys(SELLER_ID, SELLER_UKID)
        node_keys.write_keys(seller, work / "keys")
        bap_key, bg_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        now = datetime.now(UTC)

        def record(sub: str, ukid: str, kind: str, key: str) -> dict[str, Any]:
            return {
                "subscriber_id": sub, "ukId": ukid, "type": kind, "status": "SUBSCRIBED",
                "signing_public_key": key,
                "valid_from": format_timestamp(now - timedelta(days=1)),
                "valid_until": format_timestamp(now + timedelta(days=1)),
            }  # fmt: skip

        records = [
            record(SELLER_ID, SELLER_UKID, "BPP", seller.signing_key.public_key_b64),
            record(BAP_ID, BAP_UKID, "BAP", bap_key.public_key_b64),
            record(BG_ID, BG_UKID, "BG", bg_key.public_key_b64),
        ]
        database_url = await prepare_database(pg_name)
        print("seeding the sample catalogue...", file=sys.stderr)
        items = await seed_catalogue(database_url)
        ledger = Ledger()
        keys = {"bap": bap_key, "bg": bg_key}
        async with (
            serve_here(registry_app(records)) as registry_url,
            serve_here(buyer_app(ledger, seller.signing_key.public_key_b64)) as buyer_url,
            httpx.AsyncClient() as client,
        ):
            bap_uri = f"{buyer_url}/protocol/"
            records[1]["subscriber_url"] = bap_uri  # callbacks go only to the registered URL
            # Baseline: the same search loop against a bare constant-ACK endpoint.
            base_rps = float("nan")
            if args.baseline_seconds > 0:
                bare_port = free_port()
                bare_proc = start_bare(bare_port, work)
                await wait_http(f"http://127.0.0.1:{bare_port}/docs", bare_proc)
                base_rps = await baseline(
                    f"http://127.0.0.1:{bare_port}/ondc",
                    bap_uri,
                    keys,
                    args.baseline_seconds,
                    args.searchers + args.buyers,
                )
                stop(bare_proc)
                bare_proc = None
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("ONDC_")},
                "ONDC_SUBSCRIBER_ID": SELLER_ID,
                "ONDC_UNIQUE_KEY_ID": SELLER_UKID,
                "ONDC_KEYS_DIR": str(work / "keys"),
                "ONDC_BPP_URI": f"http://127.0.0.1:{port}/ondc",
                "ONDC_PATH_PREFIX": "/ondc",
                "ONDC_REGISTRY_ENV": "local",
                "ONDC_REGISTRY_URL": registry_url,
                "ONDC_ALLOW_PRIVATE_NETWORK": "true",  # registry and buyer app on loopback
                "ONDC_DATABASE_URL": database_url,
                "ONDC_REDIS_URL": REDIS_URL,
                "ONDC_LOG_LEVEL": "WARNING",
                "ONDC_CALLBACK_BACKOFF_INITIAL": "0.1",
                "ONDC_DISPATCHER_POLL_SECONDS": "0.1",
                # as its figures so far: every store serving the city answers a search
                "ONDC_SEARCH_STORES": "serving",
            }
            node_proc = start_node(env, port, args.workers, work)
            node_url = f"http://127.0.0.1:{port}"
            await wait_http(f"{node_url}/readyz", node_proc)
            print(
                f"node up ({args.workers} worker(s), {items} catalogue items); "
                f"load for {args.seconds}s...",
                file=sys.stderr,
            )
            started = time.perf_counter()
            driver = Driver(
                f"{node_url}/ondc",
                bap_uri,
                ledger,
                keys,
                started + args.seconds,
                args.max_requests,
            )
            rng = random.Random(7)
            await asyncio.gather(
                *(driver.searcher() for _ in range(args.searchers)),
                *(driver.buyer(random.Random(rng.random())) for _ in range(args.buyers)),
            )
            load_seconds = time.perf_counter() - started
            await driver.http.aclose()
            # Drain: every ACKed request's callback should arrive; wait for the stragglers.
            drain_until = time.perf_counter() + args.drain_seconds
            while time.perf_counter() < drain_until:
                if not set(ledger.sent_at) - set(ledger.received):
                    break
                await asyncio.sleep(0.2)
            metrics = await scrape(client, node_url) if args.workers == 1 else {}
    finally:
        for proc in (bare_proc, node_proc):
            if proc is not None:
                stop(proc)
        with contextlib.suppress(Exception):
            await drop_database(pg_name)
        with contextlib.suppress(Exception):
            import redis.asyncio as aioredis

            r = aioredis.from_url(REDIS_URL)
            async for key in r.scan_iter(f"ondc:lookup:*{RUN}.load*"):
                await r.delete(key)
            await r.aclose()
        shutil.rmtree(work, ignore_errors=True)

    return report(args, ledger, load_seconds, base_rps, metrics, load_before)


def report(
    args: argparse.Namespace,
    ledger: Ledger,
    load_seconds: float,
    base_rps: float,
    metrics: dict[tuple[str, tuple], float],
    load_before: float,
) -> int:
    sent = set(ledger.sent_at)
    delivered = sent & set(ledger.received)
    lost = sent - delivered
    unexpected = set(ledger.received) - sent
    duplicates = sum(
        len(bodies) - len({hashlib.sha256(b).digest() for b in bodies})
        for bodies in ledger.received.values()
    )
    acked = sum(len(v) for v in ledger.ack_ms.values())
    errors = sum(ledger.errors.values()) + len(lost) + len(unexpected)
    callback_ms = [(ledger.first_callback_at[m] - ledger.sent_at[m]) * 1000 for m in delivered]
    searches = len(ledger.ack_ms.get("search", []))
    print(
        f"\nmachine: {os.cpu_count()} CPU(s), load average before {load_before:.2f}; node: "
        f"uvicorn {args.workers} worker(s) (uvloop, httptools), PostgreSQL + Redis, workers on"
    )
    print(
        f"load: {args.searchers} search loops + {args.buyers} transaction loops for "
        f"{load_seconds:.1f}s"
    )
    print(
        f"requests ACKed: {acked} ({acked / load_seconds:.0f}/s); searches "
        f"{searches / load_seconds:.0f}/s; transactions completed {ledger.flows_done} "
        f"({ledger.flows_done / load_seconds:.1f}/s), failed {ledger.flows_failed}"
    )
    if base_rps == base_rps:  # not NaN
        print(
            f"baseline: this client's signed searches against a bare constant-ACK endpoint "
            f"(same loops, not waiting for callbacks): {base_rps:.0f} req/s; the node's "
            f"end-to-end request rate is {acked / load_seconds / base_rps:.1%} of it"
        )
    print(f"{'ACK latency':<14}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for action in ("search", "select", "init", "confirm"):
        values = ledger.ack_ms.get(action, [])
        print(
            f"{action:<14}{len(values):>8}{percentile(values, 0.5):>9.2f}"
            f"{percentile(values, 0.99):>9.2f}"
        )
    print(
        f"callback latency (request sent -> callback received): p50 "
        f"{percentile(callback_ms, 0.5):.1f} ms, p99 {percentile(callback_ms, 0.99):.1f} ms"
    )
    if metrics:
        attempts = {
            dict(labels)["outcome"]: 0.0 for (name, labels) in metrics
            if name == "ondc_callback_attempts_total"
        }  # fmt: skip
        for (name, labels), value in metrics.items():
            if name == "ondc_callback_attempts_total":
                attempts[dict(labels)["outcome"]] += value
        delivery = "ondc_callback_delivery_seconds"
        p50 = histogram_quantile(metrics, delivery, 0.5) * 1000
        p99 = histogram_quantile(metrics, delivery, 0.99) * 1000
        outcomes = ", ".join(f"{k} {v:.0f}" for k, v in sorted(attempts.items()))
        print(
            f"node /metrics: callback enqueue -> ACK p50 <= {p50:.0f} ms, p99 <= {p99:.0f} ms "
            f"(histogram bucket bounds); attempts {outcomes}"
        )
    print(
        f"callbacks: sent {len(sent)}, delivered {len(delivered)}, lost {len(lost)}, "
        f"duplicates {duplicates}, unexpected {len(unexpected)}"
    )
    print(f"errors: {errors} {dict(ledger.errors) if ledger.errors else ''}")
    for sample in ledger.error_samples:
        print(f"  e.g. {sample}")
    ok = errors == 0 and duplicates == 0 and not lost
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long new requests go")
    parser.add_argument("--searchers", type=int, default=8, help="concurrent search loops")
    parser.add_argument("--buyers", type=int, default=8, help="concurrent transaction loops")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the node")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--drain-seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(asyncio.wait_for(run(args), args.seconds + args.drain_seconds + 300))


if __name__ == "__main__":
    raise SystemExit(main())
