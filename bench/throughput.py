"""Throughput that counts (issue 12): requests the node ACKs AND answers within their ttl.

    python bench/throughput.py [--quick] [--only pg,1w] [--seconds 20] [--overload-seconds 30]
                               [--no-baseline] [--baseline-commit e35390b] [--json out.json]
                               [--current-commit HEAD] [--rounds 1] [--logs DIR]
                               [--py-spy DIR [--py-spy-native]]

``--quick`` is a ~2-minute smoke run (PostgreSQL, 1 worker, current and baseline, 5 s phases).
The default run is the whole matrix: {current, baseline} x {PostgreSQL, SQLite} x {1, 2
workers}, each node fresh (its own database, migrated, the default 2,000-item sample ODOP
catalogue imported, stock set ample), about 2.5 minutes per node (~20 minutes in all).
``--current-commit HEAD`` runs the current node from a worktree of that commit instead of the
working tree (uncommitted edits stay out of the figures). ``--py-spy DIR`` records the node
with py-spy during the saturation and 60% search phases; ``bench/profile_stacks.py`` says where
that time went. docs/throughput.md has the method and a run's figures.

What runs (all on loopback, as bench/load.py does it and with its helpers):

* the node: ``uvicorn --factory ondc_adapter.api.app:app_from_env --workers N`` (what
  ``ondc-adapter serve --workers N`` runs; every worker runs the inbox processor and the callback
  dispatcher in-process), configured by ``ONDC_*`` variables only, all settings at their
  defaults besides identity, URLs, the database and ``ONDC_LOG_LEVEL=WARNING``. PostgreSQL runs
  with Redis (the lookup cache), SQLite (``sqlite+aiosqlite:///file``) without;
* the baseline, the previous release (``--baseline-commit``, default e35390b), run the same way
  from a ``git worktree add --detach`` of that commit (``PYTHONPATH`` and cwd there; its database
  seeded by its own code), fed only the ``ONDC_*`` variables its ``Settings`` knows (it has no
  admission control, for one). The worktree is removed at the end;
* in this process: a registry double (``/v2.0/lookup``), the buyer app receiving every callback
  (a bare ASGI app: the signature is verified with pynacl once per callback against the node's
  registered key, duplicates are found by the body digest), and the load generator.

Load: searches by name (a random word of a random ODOP product name of the imported catalogue,
in that item's domain, city std:080, ``ttl`` PT30S, signed by the buyer app AND the gateway as
the network sends them) and whole select -> init -> confirm transactions (ttl PT30S per step)
on items the buyer app found by such searches during the warm-up (a buyer app caches the
catalogue; each transaction is new: fresh transaction_id, random item).

Scenarios, per node:

* ``sat-search`` / ``sat-orders``: saturation, closed loop (``--search-loops`` searches /
  ``--order-loops`` transactions in flight, each loop sending its next request once the callback
  of the last arrived): the plateau of answered-within-ttl/s is the node's capacity;
* ``p60-search`` / ``p60-orders``: open loop (a fixed schedule, whatever the node answers) at
  60% of that capacity: callback latency p50/p99 (issue target p99 < 100 ms);
* ``x2-search``: open loop at 2x the search capacity for ``--overload-seconds`` (30), then back
  to 60% for ``--recovery-seconds`` (``x2-recovery`` row): ACKed-but-unanswered-within-ttl (must
  be 0), shed/s, and the time after the overload until (a) everything sent is ACKed and answered
  within its ttl again ("full rate") and (b) answered within ``--recover-latency`` (1 s) again.
  Both targets: within 5 s.

Figures per scenario: offered/s, accepted/s (HTTP 200 ACK), answered-within-ttl/s (the callback
arrived, its signature verified, before ``context.timestamp + context.ttl`` of the request;
for transactions also orders/s, on_confirm so answered), callback latency p50/p99 (request
sent -> first callback received), shed/s (HTTP 503 NACK with ``Retry-After``: admission
control), unanswered (ACKed, no callback within the ttl), errors (transport errors, any other
NACK, callbacks that fail verification, carry an ``error``, or answer nothing we sent) and
duplicates (the same callback body twice). CPU use per phase (machine, node processes,
PostgreSQL, this process) is in the JSON. Ratios: current/baseline for searches/s and orders/s
(1 worker, PostgreSQL; targets >= 5x and >= 4x) and 2 workers / 1 worker (target >= 1.6x).

Cost caveat: the load generator, the buyer app and the registry double share the machine's
cores with the node and its database (2 cores here). It is kept lean: one raw HTTP/1.1
keep-alive connection pool (no httpx), requests signed one scheduler tick (5 ms) ahead, one
BLAKE2b + one Ed25519 verification per callback, callbacks parsed only when a transaction needs
the answer. It still costs roughly 0.2-0.5 ms of CPU per search (two signatures out, one
verification and an HTTP exchange in): its own share is reported per phase ("bench CPU") and
both versions pay it alike; absolute figures on a bigger machine (or with the load on another
host) will be higher.

Exit status: 0 when the current node had no errors, no duplicates and nothing ACKed but left
unanswered within its ttl in any scenario (the baseline's figures are reported, not judged).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import orjson  # noqa: E402
from load import (  # noqa: E402
    REDIS_URL,
    UVICORN_ARGS,
    drop_database,
    free_port,
    percentile,
    prepare_database,
    registry_app,
    serve_here,
    stop,
    wait_http,
)

RUN = uuid.uuid4().hex[:8]
BASELINE_COMMIT = "e35390b"
TTL = "PT30S"
TTL_SECONDS = 30.0
CITY = "std:080"
TICK = 0.005  # open-loop scheduler tick (s)
MAX_CONNECTIONS = 512
# words of product names that find everything or nothing in particular
STOP_WORDS = frozenset(
    ("products", "product", "based", "processing", "with", "from", "made", "sample", "items")
)
FINDER_FEE = {
    "@ondc/org/buyer_app_finder_fee_type": "percent",
    "@ondc/org/buyer_app_finder_fee_amount": "3",
}

# Run with the ``ondc_adapter`` of the tree under test (PYTHONPATH): migrate, import the
# default 2,000-item sample, give every item ample stock (an out-of-stock answer would be a
# business error, not load), print the items' domains and names.
SEED_SCRIPT = r"""
import asyncio, json, sys

async def main(url):
    from sqlalchemy import select, update
    from ondc_adapter.catalogue.tables import Item
    try:
        from ondc_adapter.sandbox.sample_catalogue import load_sample_catalogue
    except ImportError:  # trees before the sandbox seller was split (e35390b)
        from ondc_adapter.sandbox.seller import load_sample_catalogue
    from ondc_adapter.settings import Settings
    from ondc_adapter.storage import Database

    db = Database(url)
    try:
        await db.migrate()
        settings = Settings(_env_file=None, database_url=url)
        count = await load_sample_catalogue(settings, db, per_domain=None)
        async with db.session() as session:
            await session.execute(update(Item).values(stock=10_000_000, max_per_order=10))
        async with db.session() as session:
            rows = (await session.execute(select(Item.domain, Item.name))).all()
    finally:
        await db.dispose()
    import ondc_adapter
    print(json.dumps({"items": count, "names": [[d, n] for d, n in rows],
                      "module": ondc_adapter.__file__}))

asyncio.run(main(sys.argv[1]))
"""
SETTINGS_SCRIPT = (
    "import json, ondc_adapter; from ondc_adapter.settings import Settings; "
    "print(json.dumps({'fields': sorted(Settings.model_fields), 'module': ondc_adapter.__file__}))"
)


# -- bookkeeping ----------------------------------------------------------------------------------


class Req:
    """One request sent: what came back and when (``time.time()`` seconds)."""

    __slots__ = (
        "action",
        "answered",
        "callbacks",
        "deadline",
        "duplicates",
        "error",
        "mid",
        "scheduled",
        "sent",
        "size",
        "status",
        "waiter",
        "want",
    )

    def __init__(self, action: str, mid: str, deadline: float) -> None:
        self.action = action
        self.mid = mid
        self.deadline = deadline  # context.timestamp + context.ttl
        self.scheduled = 0.0
        self.sent = 0.0
        self.status = ""  # ack | shed | nack | transport
        self.answered: float | None = None  # first verified callback
        self.callbacks = 0
        self.duplicates = 0
        self.size = 0
        self.error: str | None = None  # the callback carried an error
        self.waiter: asyncio.Future[dict[str, Any]] | None = None
        self.want = False  # parse the callback for the waiter (else only small ones)

    @property
    def in_ttl(self) -> bool:
        return (
            self.status == "ack"
            and self.answered is not None
            and self.answered <= self.deadline
            and self.error is None
        )


@dataclass
class Phase:
    """The requests of one scenario (or one part of it) and what went wrong outside them."""

    name: str
    start: float = 0.0
    end: float = 0.0
    reqs: list[Req] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    orders_started: list[tuple[float, list[Req]]] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    cpu: dict[str, float] | None = None

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 4:
            self.samples.append(f"{kind}: {detail[:240]}")


class Ledger:
    """Every request by message_id; the phase that callbacks nobody asked for are charged to."""

    def __init__(self) -> None:
        self.reqs: dict[str, Req] = {}
        self.phase = Phase("idle")
        self.digests: set[bytes] = set()

    def add(self, req: Req, phase: Phase) -> None:
        self.reqs[req.mid] = req
        phase.reqs.append(req)


# -- the buyer app (callbacks in) -----------------------------------------------------------------

_MID = b'"message_id":"'


def message_id_of(body: bytes) -> str | None:
    """The context's message_id without parsing a whole catalogue (context comes first)."""
    start = body.find(_MID)
    if start < 0:
        return None
    start += len(_MID)
    end = body.find(b'"', start)
    return body[start:end].decode() if end > 0 else None


def buyer_app(ledger: Ledger, seller_ids: dict[str, str]) -> Callable[..., Awaitable[None]]:
    """A bare ASGI app: read the body, verify the signature (pynacl, once), record, ACK.
    ``seller_ids``: subscriber_id -> signing public key of the nodes that may call back."""
    from ondc_adapter.protocol.ack import ACK_BODY
    from ondc_adapter.signing import (
        SignatureError,
        SignatureFailure,
        check_window,
        parse_signature_header,
        verify_signature,
    )

    nack = b'{"message":{"ack":{"status":"NACK"}}}'
    json_header = [(b"content-type", b"application/json")]

    def handle(body: bytes, auth: str) -> int:
        now = time.time()
        phase = ledger.phase
        digest_raw = hashlib.blake2b(body, digest_size=64).digest()
        try:
            header = parse_signature_header(auth)
            key = seller_ids.get(header.subscriber_id)
            if key is None:
                raise SignatureError(SignatureFailure.UNKNOWN_KEY, header.subscriber_id)
            check_window(header, now=now, created_skew=5)
            verify_signature(body, header, key, body_digest=base64.b64encode(digest_raw).decode())
        except SignatureError as exc:
            phase.error("callback_unverified", str(exc))
            return 401
        mid = message_id_of(body)
        req = ledger.reqs.get(mid) if mid else None
        if req is None:
            phase.error("callback_unexpected", body[:200].decode(errors="replace"))
            return 200
        key_digest = mid.encode() + digest_raw
        if key_digest in ledger.digests:
            req.duplicates += 1
            return 200
        ledger.digests.add(key_digest)
        req.callbacks += 1
        req.size += len(body)
        if req.answered is None:
            req.answered = now
        # Parse only what someone wants, or a small body (an error answer is small).
        payload: dict[str, Any] = {}
        if req.want or len(body) < 4096:
            payload = orjson.loads(body)
            error = payload.get("error")
            if error:
                req.error = orjson.dumps(error).decode()[:300]
        if req.waiter is not None and not req.waiter.done():
            req.waiter.set_result(payload)
        return 200

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        auth = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value.decode("latin-1")
        status = handle(b"".join(chunks), auth)
        await send({"type": "http.response.start", "status": status, "headers": json_header})
        await send({"type": "http.response.body", "body": ACK_BODY if status == 200 else nack})

    return app


# -- the load generator (requests out) ------------------------------------------------------------


class Pool:
    """A lean HTTP/1.1 keep-alive client: raw request bytes out, (status, head, body) back.
    A request takes an idle connection, else opens one (up to ``limit``), else waits."""

    IDLE_SECONDS = 3.0  # under uvicorn's keep-alive timeout (5 s): never reuse a closing one

    def __init__(self, host: str, port: int, limit: int = MAX_CONNECTIONS) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0
        self.peak = 0
        self.waiting: deque[asyncio.Future[None]] = deque()

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while True:
            while self.idle:
                reader, writer, since = self.idle.pop()
                if time.monotonic() - since < self.IDLE_SECONDS:
                    return reader, writer, True
                writer.close()
                self.opened -= 1
            if self.opened < self.limit:
                self.opened += 1
                self.peak = max(self.peak, self.opened)
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self._give(None)
                    raise
                return reader, writer, False
            waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            await waiter

    def _give(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        if conn is None:
            self.opened -= 1
        else:
            self.idle.append((*conn, time.monotonic()))
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def post(self, raw: bytes) -> tuple[int, bytes, bytes]:
        for attempt in (1, 2):
            reader, writer, reused = await self._take()
            keep = None
            try:
                writer.write(raw)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    # A kept-alive connection the server closed meanwhile: nothing was read,
                    # so nothing was processed; once more on a new connection.
                    if reused and not exc.partial and attempt == 1:
                        continue
                    raise
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                body = await reader.readexactly(length)
                if not close:
                    keep = (reader, writer)
                return int(head[9:12]), head, body
            finally:
                if keep is None:
                    writer.close()
                self._give(keep)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class Identity:
    seller_id: str
    seller_ukid: str
    bap_id: str
    bg_id: str
    bap_uri: str
    keys_dir: Path
    seller_public: str
    bap_key: Any
    bg_key: Any


class Load:
    """Builds, signs and sends the requests of one node; runs the scenarios."""

    def __init__(
        self, ledger: Ledger, ident: Identity, port: int, queries: list[tuple[str, str]]
    ) -> None:
        self.ledger = ledger
        self.ident = ident
        self.pool = Pool("127.0.0.1", port)
        self.queries = queries
        self.rng = random.Random(12)
        self.items: list[dict[str, Any]] = []  # in-stock items found by searches: select targets

    # -- requests

    def raw(self, action: str, body: bytes, *, gateway: bool) -> bytes:
        from ondc_adapter.signing import sign_request

        ident = self.ident
        auth = sign_request(
            body, ident.bap_key, subscriber_id=ident.bap_id, unique_key_id="bap-1"
        ).to_header()
        extra = ""
        if gateway:
            gw = sign_request(
                body, ident.bg_key, subscriber_id=ident.bg_id, unique_key_id="bg-1"
            ).to_header()
            extra = f"X-Gateway-Authorization: {gw}\r\n"
        return (
            f"POST /ondc/{action} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nAuthorization: {auth}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def search(self) -> tuple[Req, bytes]:
        domain, word = self.rng.choice(self.queries)
        now = time.time()
        stamp = datetime.fromtimestamp(now, UTC)
        mid = str(uuid.uuid4())
        payload = {
            "context": {
                "domain": domain,
                "country": "IND",
                "city": CITY,
                "action": "search",
                "core_version": "1.2.0",
                "bap_id": self.ident.bap_id,
                "bap_uri": self.ident.bap_uri,
                "transaction_id": str(uuid.uuid4()),
                "message_id": mid,
                "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{stamp.microsecond // 1000:03d}Z",
                "ttl": TTL,
            },
            "message": {
                "intent": {
                    "item": {"descriptor": {"name": word}},
                    "fulfillment": {"type": "Delivery"},
                    "payment": FINDER_FEE,
                }
            },
        }
        deadline = int(now * 1000) / 1000 + TTL_SECONDS  # the timestamp as sent (ms)
        req = Req("search", mid, deadline)
        return req, self.raw("search", orjson.dumps(payload), gateway=True)

    def step(self, payload: dict[str, Any]) -> tuple[Req, bytes]:
        from ondc_adapter.protocol.durations import parse_duration, parse_timestamp

        ctx = payload["context"]
        deadline = (
            parse_timestamp(ctx["timestamp"]).timestamp()
            + parse_duration(ctx["ttl"]).total_seconds()
        )
        req = Req(ctx["action"], ctx["message_id"], deadline)
        return req, self.raw(ctx["action"], orjson.dumps(payload), gateway=False)

    async def send(self, phase: Phase, req: Req, raw: bytes) -> None:
        self.ledger.add(req, phase)  # before the write: a callback may beat the ACK
        req.sent = time.time()
        try:
            status, head, body = await self.pool.post(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            req.status = "transport"
            phase.error(f"{req.action}_transport", repr(exc))
            return
        if status == 200 and b'"ACK"' in body:
            req.status = "ack"
        elif status == 503 and b"\r\nretry-after:" in head.lower():
            req.status = "shed"
        else:
            req.status = "nack"
            phase.error(f"{req.action}_nack_{status}", body.decode(errors="replace"))

    async def call(
        self, phase: Phase, req: Req, raw: bytes, *, want: bool = True
    ) -> dict[str, Any] | None:
        """Send and wait (until the ttl runs out) for the callback; None when it did not come.
        ``want``: the parsed callback (else ``{}`` for a big one: parsing costs the client)."""
        req.waiter = asyncio.get_running_loop().create_future()
        req.want = want
        await self.send(phase, req, raw)
        if req.status != "ack":
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(req.waiter, max(0.1, req.deadline - time.time() + 0.5))
        return None

    # -- the transaction pool

    def learn(self, on_search: dict[str, Any]) -> None:
        ctx = on_search.get("context") or {}
        for provider in (on_search.get("message") or {}).get("catalog", {}).get(
            "bpp/providers"
        ) or []:
            for item in provider.get("items") or []:
                count = ((item.get("quantity") or {}).get("available") or {}).get("count", 0)
                price = float(str((item.get("price") or {}).get("value") or 0))
                # >= 100: the sample terms' minimum order value, for an order of one
                if int(str(count or 0)) > 0 and price >= 100 and len(self.items) < 400:
                    narrowed = {**provider, "items": [item]}
                    self.items.append(
                        {
                            "context": {
                                "domain": ctx.get("domain"),
                                "bpp_id": ctx.get("bpp_id"),
                                "bpp_uri": ctx.get("bpp_uri"),
                            },
                            "message": {"catalog": {"bpp/providers": [narrowed]}},
                        }
                    )

    async def order(self, phase: Phase) -> list[Req]:
        """select -> on_select -> init -> on_init -> confirm -> on_confirm on a random item."""
        from ondc_adapter.sandbox.builders import (
            FlowState,
            build_confirm,
            build_init,
            build_select,
        )

        on_search = self.rng.choice(self.items)
        state = FlowState(
            domain=on_search["context"]["domain"],
            city=CITY,
            bap_id=self.ident.bap_id,
            bap_uri=self.ident.bap_uri,
        )
        state.last["on_search"] = on_search
        steps: list[Req] = []
        phase.orders_started.append((time.time(), steps))
        for action, build in (
            ("select", build_select),
            ("init", build_init),
            ("confirm", build_confirm),
        ):
            try:
                request = build(state)
            except Exception as exc:  # a builder refusing what the node answered
                phase.error(f"{action}_build", repr(exc))
                return steps
            state.last[action] = request
            req, raw = self.step(request)
            steps.append(req)
            answer = await self.call(phase, req, raw)
            if answer is None or req.error:
                return steps
            state.last[f"on_{action}"] = answer
        return steps

    # -- scenarios

    async def closed(self, phase: Phase, loops: int, seconds: float, kind: str) -> None:
        stop_at = time.time() + seconds

        async def loop() -> None:
            while time.time() < stop_at:
                if kind == "search":
                    req, raw = self.search()
                    learning = len(self.items) < 400
                    payload = await self.call(phase, req, raw, want=learning)
                    if payload and learning:
                        self.learn(payload)
                    shed = req.status == "shed"
                else:
                    steps = await self.order(phase)
                    shed = bool(steps) and steps[-1].status == "shed"
                if shed:  # a closed loop must not spin on refusals
                    await asyncio.sleep(0.05)

        phase.start = time.time()
        await asyncio.gather(*(loop() for _ in range(loops)))
        phase.end = time.time()

    async def open(self, phase: Phase, schedule: list[tuple[float, float]], kind: str) -> None:
        """Open loop: ``schedule`` [(rate/s, seconds), ...] of searches or transactions sent on
        time whatever the node does; signed one tick ahead."""
        start = time.time()
        bounds: list[tuple[float, float, float, int]] = []  # (t0, t1, rate, count before)
        t, count = 0.0, 0
        for rate, seconds in schedule:
            bounds.append((t, t + seconds, rate, count))
            count += int(rate * seconds)
            t += seconds
        total, end = count, start + t
        ready: deque[tuple[Req, bytes]] = deque()
        tasks: set[asyncio.Task[Any]] = set()
        launched = 0

        def due(elapsed: float) -> int:
            for t0, t1, rate, before in bounds:
                if elapsed < t1:
                    return before + int(rate * (elapsed - t0))
            return total

        def scheduled(k: int) -> float:
            for t0, t1, rate, before in bounds:
                if k < before + int(rate * (t1 - t0)):
                    return start + t0 + (k - before) / rate
            return end

        phase.start = start
        while True:
            now = time.time()
            target = due(now - start)
            for _ in range(target - launched):
                phase.late_ms.append((time.time() - scheduled(launched)) * 1000)
                if kind == "search":
                    req, raw = ready.popleft() if ready else self.search()
                    task = asyncio.create_task(self.send(phase, req, raw))
                else:
                    task = asyncio.create_task(self.order(phase))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                launched += 1
            if now >= end or launched >= total:
                break
            if kind == "search":  # sign what the next tick needs while waiting for it
                rate = next((b[2] for b in bounds if now - start < b[1]), 0.0)
                while len(ready) < max(1, int(rate * TICK) + 1):
                    ready.append(self.search())
            await asyncio.sleep(TICK)
        phase.end = time.time()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, phases: Iterable[Phase]) -> None:
        """Wait until every ACKed request of ``phases`` is answered or its ttl ran out."""
        waiting = [r for p in phases for r in p.reqs if r.status == "ack" and r.answered is None]
        while waiting:
            now = time.time()
            waiting = [r for r in waiting if r.answered is None and r.deadline + 0.5 > now]
            if waiting:
                await asyncio.sleep(0.1)


# -- figures --------------------------------------------------------------------------------------


def cpu_ticks(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each live process of ``pids``."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def used_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings: processes started meanwhile count whole; those
    gone meanwhile cannot be read and count nothing."""
    return sum(now - before.get(pid, 0.0) for pid, now in after.items())


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def postgres_pids(database: str | None) -> list[int]:
    """The PostgreSQL backends serving ``database`` (their process title names it)."""
    if not database:
        return []
    pids = []
    needle = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    pids.append(int(entry.name))
    return pids


def machine_busy() -> tuple[float, float]:
    parts = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class CpuMeter:
    """CPU seconds used between start() and stop(), as % of one core: the whole machine, the
    node's processes, PostgreSQL's, and this process (load generator + buyer app + registry)."""

    def __init__(self, node_pid: int, database: str | None) -> None:
        self.node_pid = node_pid
        self.database = database

    def start(self) -> None:
        self.t = time.time()
        self.node = process_tree(self.node_pid)
        self.values = (
            machine_busy(),
            cpu_ticks(self.node),
            cpu_ticks(postgres_pids(self.database)),
            time.process_time(),
        )

    def stop(self) -> dict[str, float]:
        wall = max(1e-6, time.time() - self.t)
        (busy0, all0), node0, pg0, me0 = self.values
        busy1, all1 = machine_busy()
        node1, pg1 = cpu_ticks(self.node), cpu_ticks(postgres_pids(self.database))
        cores = os.cpu_count() or 1
        out = {
            "machine_pct": round(100 * cores * (busy1 - busy0) / max(1e-6, all1 - all0), 1),
            "node_pct": round(100 * used_since(node0, node1) / wall, 1),
            "postgres_pct": round(100 * used_since(pg0, pg1) / wall, 1),
            "bench_pct": round(100 * (time.process_time() - me0) / wall, 1),
        }
        # anything else on the machine (another test run...): the figures are then suspect
        mine = out["node_pct"] + out["postgres_pct"] + out["bench_pct"]
        out["other_pct"] = round(max(0.0, out["machine_pct"] - mine), 1)
        return out


def figures(
    phase: Phase, cpu: dict[str, float] | None = None, *, per_answer: bool = True
) -> dict[str, Any]:
    seconds = max(1e-6, phase.end - phase.start)
    reqs = phase.reqs
    acked = [r for r in reqs if r.status == "ack"]
    in_ttl = [r for r in acked if r.in_ttl]
    latencies = [(r.answered - r.sent) * 1000 for r in acked if r.answered is not None]
    errors = sum(phase.errors.values()) + sum(1 for r in acked if r.error)
    out: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "sent": len(reqs),
        "offered_per_s": round(len(reqs) / seconds, 1),
        "accepted_per_s": round(len(acked) / seconds, 1),
        "answered_in_ttl_per_s": round(len(in_ttl) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "shed_per_s": round(sum(1 for r in reqs if r.status == "shed") / seconds, 1),
        "shed": sum(1 for r in reqs if r.status == "shed"),
        "acked_unanswered_in_ttl": sum(1 for r in acked if not r.in_ttl and not r.error),
        "answered_late": sum(
            1 for r in acked if r.answered is not None and r.answered > r.deadline
        ),
        "errors": errors,
        "error_kinds": dict(phase.errors),
        "error_samples": phase.samples + [f"{r.action}: {r.error}" for r in acked if r.error][:3],
        "duplicates": sum(r.duplicates for r in reqs),
        "callback_kib_mean": round(sum(r.size for r in in_ttl) / max(1, len(in_ttl)) / 1024, 1),
    }
    if phase.late_ms:
        out["client_late_p99_ms"] = round(percentile(phase.late_ms, 0.99), 1)
    if phase.orders_started:
        done = [
            steps
            for _, steps in phase.orders_started
            if len(steps) == 3 and steps[-1].action == "confirm" and steps[-1].in_ttl
        ]
        out["orders_started"] = len(phase.orders_started)
        out["orders_per_s"] = round(len(done) / seconds, 1)
        order_ms = [(s[-1].answered - s[0].sent) * 1000 for s in done]  # type: ignore[operator]
        out["order_p50_ms"] = round(percentile(order_ms, 0.5), 1)
        out["order_p99_ms"] = round(percentile(order_ms, 0.99), 1)
    if cpu:
        out["cpu"] = cpu
        # CPU of the node and its database per answer: robust to other load on the machine
        used = (cpu["node_pct"] + cpu["postgres_pct"]) / 100 * seconds
        answers = out.get("orders_per_s", out["answered_in_ttl_per_s"]) * seconds
        if per_answer and answers:  # not when answers come after the phase (overload)
            out["node_cpu_ms_per_answer"] = round(1000 * used / answers, 2)
    return out


def recovery(phase: Phase, ends: float, window: float, latency_s: float) -> dict[str, Any]:
    """Seconds after the overload ``ends`` until every request sent (250 ms bins, to the end of
    the recovery window) is ACKed and answered within its ttl ("full rate"), and until it is
    also answered within ``latency_s``; None when that never held to the window's end."""
    bins: dict[int, list[Req]] = defaultdict(list)
    for r in phase.reqs:
        bins[int((r.sent - ends) / 0.25)].append(r)
    count = int(window / 0.25)

    def first_good(ok: Callable[[Req], bool]) -> float | None:
        good_from = None
        for k in range(count):
            if all(ok(r) for r in bins.get(k, [])):
                if good_from is None:
                    good_from = k * 0.25
            else:
                good_from = None
        return good_from

    return {
        "recover_latency_s": latency_s,
        "full_rate_after_s": first_good(lambda r: r.in_ttl),
        "latency_after_s": first_good(
            lambda r: r.in_ttl and r.answered is not None and r.answered - r.sent <= latency_s
        ),
    }


# -- the nodes ------------------------------------------------------------------------------------


@dataclass
class NodeConfig:
    version: str  # current | baseline
    tree: Path
    db: str  # pg | sqlite
    workers: int

    @property
    def label(self) -> str:
        return f"{self.version}/{self.db}/{self.workers}w"


def start_node(
    env: dict[str, str], port: int, workers: int, cwd: Path, log: Any
) -> subprocess.Popen:
    """bench/load.py's start_node, its output to ``log``."""
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "ondc_adapter.api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", *UVICORN_ARGS,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def tree_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONDC_")}
    env["PYTHONPATH"] = str(tree)
    return env


def run_in_tree(tree: Path, args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=tree,
        env=tree_env(tree),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"in {tree}: {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    module = Path(info["module"]).resolve()
    if not module.is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: imported ondc_adapter from {module}, not from that tree")
    return info


def queries_of(names: list[list[str]]) -> list[tuple[str, str]]:
    """(domain, word): one word of an item's ODOP product name (before the variant and the
    serial number), so every query finds something in its domain."""
    out = set()
    for domain, name in names:
        product = re.sub(r"\([^)]*\)", " ", name.split(" - ")[0].split(" #")[0])
        for word in re.findall(r"[A-Za-z]{4,}", product):
            if word.lower() not in STOP_WORDS:
                out.add((domain, word))
    return sorted(out)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.ledger = Ledger()
        self.records: list[dict[str, Any]] = []
        self.sellers: dict[str, str] = {}
        self.registry_url = ""
        self.buyer_url = ""
        self.results: list[dict[str, Any]] = []

    def record(self, sub: str, ukid: str, kind: str, key: str, url: str | None = None) -> None:
        from ondc_adapter.protocol.durations import format_timestamp

        now = datetime.now(UTC)
        rec = {
            "subscriber_id": sub,
            "ukId": ukid,
            "type": kind,
            "status": "SUBSCRIBED",
            "signing_public_key": key,
            "valid_from": format_timestamp(now - timedelta(days=1)),
            "valid_until": format_timestamp(now + timedelta(days=1)),
        }
        if url:
            rec["subscriber_url"] = url  # callbacks go only to the registered URL
        self.records.append(rec)

    def identity(self, number: int) -> Identity:
        """Fresh identities per node: no node ever reuses another's lookup cache entries."""
        from ondc_adapter import keys as node_keys
        from ondc_adapter.signing import Ed25519PrivateKey

        tag = f"{RUN}-{number}"
        seller = node_keys.new_keys(f"seller-{tag}.bench", "seller-1")
        keys_dir = self.work / f"keys-{number}"
        node_keys.write_keys(seller, keys_dir)
        bap_key, bg_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        ident = Identity(
            seller_id=f"seller-{tag}.bench",
            seller_ukid="seller-1",
            bap_id=f"buyer-{tag}.bench",
            bg_id=f"gateway-{tag}.bench",
            bap_uri=f"{self.buyer_url}/protocol/",
            keys_dir=keys_dir,
            seller_public=seller.signing_key.public_key_b64,
            bap_key=bap_key,
            bg_key=bg_key,
        )
        self.record(ident.seller_id, "seller-1", "BPP", ident.seller_public)
        self.record(ident.bap_id, "bap-1", "BAP", bap_key.public_key_b64, ident.bap_uri)
        self.record(ident.bg_id, "bg-1", "BG", bg_key.public_key_b64)
        self.sellers[ident.seller_id] = ident.seller_public
        return ident

    async def database(self, config: NodeConfig, number: int) -> tuple[str, str | None]:
        if config.db == "pg":
            name = f"ondc_tp_{os.getpid()}_{number}"
            return await prepare_database(name), name
        return f"sqlite+aiosqlite:///{self.work / f'node-{number}.db'}", None

    async def run_node(self, config: NodeConfig, number: int) -> dict[str, Any]:
        ident = self.identity(number)
        url, pg_name = await self.database(config, number)
        proc = None
        result: dict[str, Any] = {
            "version": config.version,
            "db": config.db,
            "workers": config.workers,
            "scenarios": {},
        }
        try:
            print(f"[{config.label}] seeding the 2,000-item sample...", file=sys.stderr)
            seeded = await asyncio.to_thread(run_in_tree, config.tree, ["-c", SEED_SCRIPT, url])
            queries = queries_of(seeded["names"])
            fields = set(
                (await asyncio.to_thread(run_in_tree, config.tree, ["-c", SETTINGS_SCRIPT]))[
                    "fields"
                ]
            )
            port = free_port()
            wanted = {
                "subscriber_id": ident.seller_id,
                "unique_key_id": ident.seller_ukid,
                "keys_dir": str(ident.keys_dir),
                "bpp_uri": f"http://127.0.0.1:{port}/ondc",
                "path_prefix": "/ondc",
                "registry_env": "local",
                "registry_url": self.registry_url,
                "allow_private_network": "true",  # registry and buyer app on loopback
                "database_url": url,
                "log_level": "WARNING",
                # the same work as the baseline: every store serving the city answers a search
                # (the default answers only the stores located in it, far fewer here)
                "search_stores": "serving",
            }
            if config.db == "pg":
                wanted["redis_url"] = REDIS_URL
            env = tree_env(config.tree)
            env.update({f"ONDC_{k.upper()}": v for k, v in wanted.items() if k in fields})
            result["items"] = seeded["items"]
            result["queries"] = len(queries)
            result["settings_not_understood"] = sorted(k for k in wanted if k not in fields)
            result["admission_control"] = "admission_control" in fields
            log_path = self.work / f"node-{number}.log"
            with log_path.open("wb") as log:  # the node's warnings (admission.shed...) go here
                proc = start_node(env, port, config.workers, config.tree, log)
            try:
                await wait_http(f"http://127.0.0.1:{port}/readyz", proc)
            except SystemExit:
                print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
            print(
                f"[{config.label}] node up: http://127.0.0.1:{port} (pid {proc.pid}, log "
                f"{log_path}), {seeded['items']} items, {len(queries)} query words",
                file=sys.stderr,
            )
            load = Load(self.ledger, ident, port, queries)
            try:
                await self.scenarios(config, load, proc.pid, pg_name, result)
            finally:
                await load.pool.close()
        finally:
            if proc is not None:
                stop(proc)
                log_file = self.work / f"node-{number}.log"
                if self.args.logs:
                    self.args.logs.mkdir(parents=True, exist_ok=True)
                    name = f"{config.version}-{config.db}-{config.workers}w-{number}.log"
                    shutil.copy(log_file, self.args.logs / name)
                log_text = log_file.read_text(errors="replace")
                result["node_log"] = {
                    "lines": log_text.count("\n"),
                    "admission_shed_lines": log_text.count("admission.shed"),
                    "errors": [x for x in log_text.splitlines() if '"error"' in x][:5],
                }
            if pg_name:
                with contextlib.suppress(Exception):
                    await drop_database(pg_name)
        return result

    async def phase(
        self,
        load: Load,
        name: str,
        run: Callable[[Phase], Awaitable[None]],
        meter: CpuMeter,
        profile: Path | None = None,
    ) -> Phase:
        phase = Phase(name)
        self.ledger.phase = phase
        spy = None
        if profile is not None:
            # --native cannot sample without pausing the process (py-spy's rule): then the
            # node runs a little slower while it is recorded
            mode = ["--native"] if self.args.py_spy_native else ["--nonblocking"]
            with profile.with_suffix(".log").open("wb") as spy_log:
                spy = await asyncio.create_subprocess_exec(
                    "py-spy", "record", "--pid", str(meter.node_pid), "--subprocesses",
                    "--rate", "97", *mode, "--format", "raw", "-o", str(profile),
                    stdout=spy_log,
                    stderr=spy_log,
                )  # fmt: skip
        meter.start()
        await run(phase)
        cpu = meter.stop()
        if spy is not None:
            with contextlib.suppress(ProcessLookupError):  # it may have stopped by itself
                spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
            try:
                await asyncio.wait_for(spy.wait(), 30)
            except TimeoutError:
                spy.kill()
                await spy.wait()
        await load.drain([phase])
        gc.collect()
        gc.freeze()  # what was recorded stays: keep the collector from rescanning it
        phase.cpu = cpu
        return phase

    async def scenarios(
        self,
        config: NodeConfig,
        load: Load,
        node_pid: int,
        pg_name: str | None,
        result: dict[str, Any],
    ) -> None:
        args = self.args
        meter = CpuMeter(node_pid, pg_name)
        rows = result["scenarios"]
        picked = args.scenarios

        def show(name: str, fig: dict[str, Any]) -> None:
            rows[name] = fig
            print(f"[{config.label}] {name}: {brief(fig)}", file=sys.stderr)

        # Warm-up (not counted): the catalogue index and on_search cache, the lookup caches of
        # every worker, and the items the transactions will select.
        warm = Phase("warm-up")
        self.ledger.phase = warm
        await load.closed(warm, 8, args.warmup_seconds, "search")
        await load.drain([warm])
        if not load.items:
            raise SystemExit(f"[{config.label}] no in-stock item came back from the searches")
        if warm.errors:
            print(f"[{config.label}] warm-up errors: {dict(warm.errors)}", file=sys.stderr)
        seconds = args.seconds
        search_rate = order_rate = None

        def profile(scenario: str) -> Path | None:
            if not args.py_spy or config.version not in args.py_spy_versions:
                return None
            args.py_spy.mkdir(parents=True, exist_ok=True)
            return args.py_spy / f"{config.version}-{config.db}-{config.workers}w-{scenario}.txt"

        if picked & {"sat-search", "p60-search", "x2-search"}:
            p = await self.phase(
                load,
                "sat-search",
                lambda ph: load.closed(ph, args.search_loops, seconds, "search"),
                meter,
                profile("sat-search"),
            )
            show("sat-search", figures(p, p.cpu))
            search_rate = rows["sat-search"]["answered_in_ttl_per_s"]
        if picked & {"sat-orders", "p60-orders"}:
            p = await self.phase(
                load,
                "sat-orders",
                lambda ph: load.closed(ph, args.order_loops, seconds, "orders"),
                meter,
            )
            show("sat-orders", figures(p, p.cpu))
            order_rate = rows["sat-orders"]["orders_per_s"]
        if "p60-search" in picked and search_rate:
            rate = 0.6 * search_rate
            p = await self.phase(
                load,
                "p60-search",
                lambda ph: load.open(ph, [(rate, seconds)], "search"),
                meter,
                profile("p60-search"),
            )
            show("p60-search", figures(p, p.cpu))
        if "p60-orders" in picked and order_rate:
            rate = 0.6 * order_rate
            p = await self.phase(
                load, "p60-orders", lambda ph: load.open(ph, [(rate, seconds)], "orders"), meter
            )
            show("p60-orders", figures(p, p.cpu))
        if "x2-search" in picked and search_rate:
            over, calm = 2.0 * search_rate, 0.6 * search_rate
            schedule = [(over, args.overload_seconds), (calm, args.recovery_seconds)]
            p = await self.phase(load, "x2", lambda ph: load.open(ph, schedule, "search"), meter)
            ends = p.start + args.overload_seconds
            over_phase = Phase("x2-search", p.start, ends, [r for r in p.reqs if r.sent < ends])
            calm_phase = Phase("x2-recovery", ends, p.end, [r for r in p.reqs if r.sent >= ends])
            over_phase.errors, over_phase.samples = p.errors, p.samples  # charged to the flood
            over_phase.late_ms = p.late_ms
            show("x2-search", figures(over_phase, p.cpu, per_answer=False))
            fig = figures(calm_phase)
            fig.update(recovery(calm_phase, ends, args.recovery_seconds, args.recover_latency))
            fig["timeline"] = timeline(p, p.start)
            show("x2-recovery", fig)


def timeline(phase: Phase, start: float) -> list[dict[str, int]]:
    """Per second since ``start``: sent, ACKed, shed (by send time); answered within ttl (by
    arrival time)."""
    answered = [r.answered for r in phase.reqs if r.answered is not None]
    length = int(max([phase.end, *answered]) - start) + 1
    rows = [{"t": k, "sent": 0, "acked": 0, "shed": 0, "answered": 0} for k in range(length)]
    for r in phase.reqs:
        k = min(length - 1, max(0, int(r.sent - start)))
        rows[k]["sent"] += 1
        rows[k]["acked"] += r.status == "ack"
        rows[k]["shed"] += r.status == "shed"
        if r.in_ttl and r.answered is not None:
            rows[min(length - 1, max(0, int(r.answered - start)))]["answered"] += 1
    return rows


def brief(fig: dict[str, Any]) -> str:
    text = (
        f"offered {fig['offered_per_s']}/s, accepted {fig['accepted_per_s']}/s, answered in "
        f"ttl {fig['answered_in_ttl_per_s']}/s, p50 {fig['p50_ms']} ms, p99 {fig['p99_ms']} ms, "
        f"shed {fig['shed_per_s']}/s, unanswered {fig['acked_unanswered_in_ttl']}, "
        f"errors {fig['errors']}"
    )
    if "orders_per_s" in fig:
        text += f", orders {fig['orders_per_s']}/s"
    if "cpu" in fig:
        text += f", cpu {fig['cpu']}"
    return text


# -- report ---------------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value != value:
        return "nan"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'node':<22}{'scenario':<13}{'offered/s':>10}{'ACK/s':>8}{'in-ttl/s':>9}"
        f"{'orders/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'shed/s':>8}{'unans.':>7}{'err':>5}"
        f"{'node%':>7}{'bench%':>7}{'cpu ms/ans':>11}  notes"
    )
    lines = [head, "-" * len(head)]
    for res in results:
        label = f"{res['version']}/{res['db']}/{res['workers']}w"
        if res.get("round", 1) > 1:
            label += f" #{res['round']}"
        for name, fig in res["scenarios"].items():
            notes = []
            if "full_rate_after_s" in fig:
                window = f">{fig['seconds']:.0f}"
                full, fast = fig["full_rate_after_s"], fig["latency_after_s"]
                notes.append(
                    f"full rate after {window if full is None else f'{full:.2f}'} s, "
                    f"latency <= {fig['recover_latency_s']:g} s after "
                    f"{window if fast is None else f'{fast:.2f}'} s"
                )
            if fig.get("duplicates"):
                notes.append(f"{fig['duplicates']} duplicates")
            if (fig.get("cpu") or {}).get("other_pct", 0) > 25:
                notes.append(f"NOISY: other processes used {fig['cpu']['other_pct']:.0f}% CPU")
            if fig.get("client_late_p99_ms", 0) > 50:
                notes.append(f"client late p99 {fig['client_late_p99_ms']} ms")
            cpu = fig.get("cpu") or {}
            lines.append(
                f"{label:<22}{name:<13}{fmt(fig['offered_per_s'], '.1f'):>10}"
                f"{fmt(fig['accepted_per_s'], '.1f'):>8}"
                f"{fmt(fig['answered_in_ttl_per_s'], '.1f'):>9}"
                f"{fmt(fig.get('orders_per_s'), '.1f'):>9}{fmt(fig['p50_ms'], '.1f'):>9}"
                f"{fmt(fig['p99_ms'], '.1f'):>9}{fmt(fig['shed_per_s'], '.1f'):>8}"
                f"{fig['acked_unanswered_in_ttl']:>7}{fig['errors']:>5}"
                f"{fmt(cpu.get('node_pct')):>7}{fmt(cpu.get('bench_pct')):>7}"
                f"{fmt(fig.get('node_cpu_ms_per_answer'), '.1f'):>11}  {'; '.join(notes)}"
            )
    return "\n".join(lines)


def pick(
    results: list[dict[str, Any]], version: str, db: str, workers: int, scenario: str, key: str
) -> float | None:
    """The median over rounds of ``key`` of ``scenario`` on that node."""
    values = [
        res["scenarios"].get(scenario, {}).get(key)
        for res in results
        if (res["version"], res["db"], res["workers"]) == (version, db, workers)
    ]
    values = [v for v in values if v]
    return statistics.median(values) if values else None


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []

    def add(what: str, target: float, num: float | None, den: float | None) -> None:
        if num is not None and den is not None:
            out.append(
                {
                    "what": what,
                    "ratio": round(num / den, 2),
                    "target": target,
                    "met": num / den >= target,
                }
            )

    for db in ("pg", "sqlite"):
        for workers in (1, 2):
            for scenario, key, target, label in (
                ("sat-search", "answered_in_ttl_per_s", 5.0, "searches answered in ttl/s"),
                ("sat-orders", "orders_per_s", 4.0, "orders/s"),
            ):
                add(
                    f"current/baseline {label}, {db}, {workers}w",
                    target,
                    pick(results, "current", db, workers, scenario, key),
                    pick(results, "baseline", db, workers, scenario, key),
                )
                # the same per CPU second of node + database (less sensitive to other load)
                cost = "node_cpu_ms_per_answer"
                add(
                    f"  same, per node+DB CPU second, {db}, {workers}w",
                    target,
                    pick(results, "baseline", db, workers, scenario, cost),
                    pick(results, "current", db, workers, scenario, cost),
                )
    for version in ("current", "baseline"):
        for db in ("pg", "sqlite"):
            for scenario, key, label in (
                ("sat-search", "answered_in_ttl_per_s", "searches/s"),
                ("sat-orders", "orders_per_s", "orders/s"),
            ):
                add(
                    f"2 workers / 1 worker {label}, {version}, {db}",
                    1.6,
                    pick(results, version, db, 2, scenario, key),
                    pick(results, version, db, 1, scenario, key),
                )
    return out


# -- orchestration --------------------------------------------------------------------------------


def worktree(commit: str, where: Path, name: str) -> Path:
    path = where / f"{name}-{commit}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
        check=True,
        capture_output=True,
    )
    return path


def git_state(tree: Path = ROOT) -> str:
    """HEAD of the tree under test, and whether ondc_adapter/ had uncommitted changes."""
    head = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--", "ondc_adapter"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}{' (ondc_adapter/ modified)' if dirty else ''}"


def remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
        check=False,
        capture_output=True,
    )
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def configs(
    args: argparse.Namespace, current_tree: Path, baseline_tree: Path | None
) -> list[NodeConfig]:
    out = []
    for db in args.dbs:
        for workers in args.workers:
            for version in args.versions:
                if version == "baseline" and baseline_tree is None:
                    continue
                tree = current_tree if version == "current" else baseline_tree
                assert tree is not None
                out.append(NodeConfig(version, tree, db, workers))
    return out


async def run(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: F401  (fail early when the node's dependencies are missing)

    work = Path(tempfile.mkdtemp(prefix="ondc-throughput-"))
    baseline_tree = None
    current_tree = ROOT
    current = git_state()
    bench = Bench(args, work)
    load_before = os.getloadavg()[0]
    started = time.time()
    try:
        if "baseline" in args.versions:
            baseline_tree = worktree(args.baseline_commit, work, "baseline")
        if args.current_commit:
            current_tree = worktree(args.current_commit, work, "current")
            current = git_state(current_tree)
        async with (
            serve_here(registry_app(bench.records)) as registry_url,
            serve_here(buyer_app(bench.ledger, bench.sellers)) as buyer_url,
        ):
            bench.registry_url, bench.buyer_url = registry_url, buyer_url
            number = 0
            for round_ in range(1, args.rounds + 1):  # rounds interleave: noise hits all alike
                for config in configs(args, current_tree, baseline_tree):
                    result = await bench.run_node(config, number)
                    result["round"] = round_
                    bench.results.append(result)
                    number += 1
    finally:
        for tree in (baseline_tree, current_tree):
            if tree is not None and tree != ROOT:
                remove_worktree(tree)
        with contextlib.suppress(Exception):
            import redis.asyncio as aioredis

            r = aioredis.from_url(REDIS_URL)
            async for key in r.scan_iter(f"ondc:lookup:*{RUN}*"):
                await r.delete(key)
            await r.aclose()
        shutil.rmtree(work, ignore_errors=True)

    results = bench.results
    rat = ratios(results)
    print(
        f"\nmachine: {os.cpu_count()} CPU(s), load average before {load_before:.2f}; "
        f"{args.seconds:.0f} s per phase, overload {args.overload_seconds:.0f} s at 2x then "
        f"{args.recovery_seconds:.0f} s at 0.6x; ttl {TTL}; current {current}, "
        f"baseline {args.baseline_commit}; "
        f"run took {time.time() - started:.0f} s"
    )
    print(
        "in-ttl/s: answered (callback verified) before the request's timestamp + ttl; "
        "p50/p99: request sent -> callback (orders: per step); unans.: ACKed, no callback "
        "within ttl; node%/bench%: CPU of the node's processes / of this load generator "
        "(100 = one core); cpu ms/ans: CPU ms of node + PostgreSQL per answered search "
        "(orders: per order)\n"
    )
    print(table(results))
    if rat:
        print()
        for r in rat:
            print(
                f"{r['what']:<58} {r['ratio']:>6.2f}x  (target >= {r['target']}x: "
                f"{'met' if r['met'] else 'NOT met'})"
            )
    for res in results:
        if res.get("settings_not_understood"):
            print(
                f"note: {res['version']} does not know ONDC_"
                f"{', ONDC_'.join(s.upper() for s in res['settings_not_understood'])}"
                " (not given to it)"
            )
    bad = []
    for res in results:
        for name, fig in res["scenarios"].items():
            for key in ("errors", "duplicates", "acked_unanswered_in_ttl"):
                if fig.get(key):
                    where = f"{res['version']}/{res['db']}/{res['workers']}w {name}"
                    line = f"{where}: {key} {fig[key]}"
                    if res["version"] == "current":
                        bad.append(line)
                    else:
                        print(f"baseline (not judged): {line}")
                    for sample in fig.get("error_samples", [])[:2] if key == "errors" else []:
                        print(f"  e.g. {sample}")
    ok = not bad
    for line in bad:
        print(f"FAIL {line}")
    print("RESULT:", "PASS" if ok else "FAIL")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": {"cpus": os.cpu_count(), "load_before": load_before},
                    "args": {k: jsonable(v) for k, v in vars(args).items()},
                    "ttl": TTL,
                    "current_commit": current,
                    "results": results,
                    "ratios": rat,
                    "ok": ok,
                    "failures": bad,
                },
                indent=1,
            )
        )
        print(f"results written to {args.json}")
    return 0 if ok else 1


def jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return sorted(value) if isinstance(value, set) else value


SCENARIOS = ("sat-search", "sat-orders", "p60-search", "p60-orders", "x2-search")
DIMENSIONS = {
    "pg": "dbs",
    "sqlite": "dbs",
    "1w": "workers",
    "2w": "workers",
    "current": "versions",
    "baseline": "versions",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (~2 min): --only pg,1w, 5 s phases, 10 s overload, 5 s recovery",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of pg,sqlite,1w,2w,current,baseline (each dimension given "
        "is narrowed to the values named)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (p60/x2 also run their sat-)",
    )
    parser.add_argument("--seconds", type=float, help="each sat- and p60- phase (default 20)")
    parser.add_argument("--overload-seconds", type=float, help="2x overload (default 30)")
    parser.add_argument("--recovery-seconds", type=float, help="after the overload (default 10)")
    parser.add_argument("--warmup-seconds", type=float, help="unmeasured searches (default 4)")
    parser.add_argument("--recover-latency", type=float, default=1.0)
    parser.add_argument("--search-loops", type=int, default=64, help="closed-loop searches")
    parser.add_argument("--order-loops", type=int, default=16, help="closed-loop transactions")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the whole matrix this many times, interleaved; ratios use the medians",
    )
    parser.add_argument("--no-baseline", action="store_true", help="current node only")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument(
        "--current-commit",
        help="run the current node from a worktree of this commit (e.g. HEAD) instead of the "
        "working tree, so uncommitted edits in ondc_adapter/ do not land in the figures",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--logs", type=Path, help="keep each node's log (warnings) here")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="profile the node with py-spy (raw collapsed stacks) during each sat-search and "
        "p60-search phase into this folder (summarise with bench/profile_stacks.py)",
    )
    parser.add_argument(
        "--py-spy-native", action="store_true", help="py-spy --native: C code seen as itself"
    )
    parser.add_argument("--py-spy-versions", default="current", help="current,baseline")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "seconds": 5.0 if quick else 20.0,
        "overload_seconds": 10.0 if quick else 30.0,
        "recovery_seconds": 5.0 if quick else 10.0,
        "warmup_seconds": 3.0 if quick else 4.0,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    chosen: dict[str, set[str]] = defaultdict(set)
    tokens = [t.strip() for t in args.only.split(",") if t.strip()]
    for token in tokens:
        if token not in DIMENSIONS:
            parser.error(f"--only: unknown {token!r} (one of {', '.join(DIMENSIONS)})")
        chosen[DIMENSIONS[token]].add(token)
    if quick:  # PostgreSQL, 1 worker, unless --only names others
        chosen["dbs"] = chosen["dbs"] or {"pg"}
        chosen["workers"] = chosen["workers"] or {"1w"}
    args.dbs = [d for d in ("pg", "sqlite") if not chosen["dbs"] or d in chosen["dbs"]]
    args.workers = [
        int(w[0]) for w in ("1w", "2w") if not chosen["workers"] or w in chosen["workers"]
    ]
    args.versions = [
        v for v in ("current", "baseline") if not chosen["versions"] or v in chosen["versions"]
    ]
    if args.no_baseline and "baseline" in args.versions:
        args.versions.remove("baseline")
    args.scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    if unknown := args.scenarios - set(SCENARIOS):
        parser.error(f"--scenarios: unknown {', '.join(sorted(unknown))}")
    args.py_spy_versions = {v.strip() for v in args.py_spy_versions.split(",")}
    if args.py_spy and not shutil.which("py-spy"):
        parser.error("--py-spy needs py-spy on PATH (pip install py-spy)")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
