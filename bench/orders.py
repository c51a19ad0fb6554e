"""Order throughput: full select -> init -> confirm transactions per second, on PostgreSQL and on
SQLite, with the callback path included, against a baseline measured in the same run.

    python bench/orders.py [--orders 300] [--concurrency 4] [--store both|postgres|sqlite]

One "order" is three requests, each handled the way the inbox processor does it: one database
transaction that runs the order handler (catalogue reads, quote, draft / order row, stock
reservation) and writes the ``on_*`` callback to the outbox (serialised once), then the
callback delivered by the node's ``Dispatcher``: the stored bytes signed with the node's
Ed25519 key, POSTed over loopback HTTP to a buyer-app receiver (uvicorn, answers ACK), and the
attempt and the delivered state recorded in the database. The inbound HTTP edge is not
included (``bench/ack_throughput.py`` measures it; ``bench/load.py`` runs everything served).

Baseline, same database, same concurrency: three transactions per order that each insert one
row of the same size as a callback into a scratch table ("bare inserts"). The ratio says how
many bare-insert orders fit in the time of one real order, so it compares across machines.
Each client uses its own transaction ids; every item has enough stock for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import socket  # noqa: E402

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert  # noqa: E402

from ondc_adapter import keys, outbox  # noqa: E402
from ondc_adapter.catalogue.tables import Item, Location, Provider  # noqa: E402
from ondc_adapter.dispatcher import Dispatcher  # noqa: E402
from ondc_adapter.exchange import InboundRequest, SellerDeps  # noqa: E402
from ondc_adapter.logging import configure_logging  # noqa: E402
from ondc_adapter.orders.handlers import HANDLERS  # noqa: E402
from ondc_adapter.protocol.context import Context  # noqa: E402
from ondc_adapter.protocol.durations import format_timestamp  # noqa: E402
from ondc_adapter.settings import Settings  # noqa: E402
from ondc_adapter.storage import Database  # noqa: E402

PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BAP_ID = "buyer.bench"
SELLER = "seller.bench"
ITEMS = ("I1", "I2", "I3")

baseline_table = Table(
    "bench_bare_inserts",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", LargeBinary, nullable=False),
)


async def seed(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add(
            Provider(
                id="P1",
                name="Bench Artisans",
                phone="9876543210",
                email="b@bench.example",
                pan="ABCDE1234F",
                fulfillments=[{"id": "F1", "type": "Delivery"}],
                created_at=now,
                updated_at=now,
            )
        )
        await s.flush()
        s.add(
            Location(
                provider_id="P1",
                id="L1",
                city="Varanasi",
                state="Uttar Pradesh",
                area_code="221001",
                lat=Decimal("25.317600"),
                lng=Decimal("82.973900"),
                updated_at=now,
            )
        )
        await s.flush()
        for i, item_id in enumerate(ITEMS):
            s.add(
                Item(
                    id=item_id,
                    provider_id="P1",
                    location_id="L1",
                    domain="ONDC:RET12",
                    category_id="Sarees",
                    name=f"Banarasi silk saree {i}",
                    code="4:50072090",
                    short_desc="silk",
                    long_desc="silk",
                    price=Decimal("2499.00") + i,
                    mrp=Decimal("2999.00"),
                    stock=10_000_000,
                    max_per_order=10,
                    consumer_care="Care,c@bench.example,9876543210",
                    created_at=now,
                    updated_at=now,
                )
            )


ACK = b'{"message":{"ack":{"status":"ACK"}}}'


async def buyer_sink(scope: Any, receive: Any, send: Any) -> None:
    """The buyer app's receiver: reads the callback, answers ACK."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": ACK})


class Client:
    def __init__(
        self, db: Database, settings: Settings, dispatcher: Dispatcher, bap_uri: str
    ) -> None:
        self.db, self.settings, self.dispatcher, self.bap_uri = db, settings, dispatcher, bap_uri
        self.deps = SellerDeps(settings=settings, now=lambda: datetime.now(UTC))
        self.signed_bytes = 0

    async def step(self, tid: str, action: str, message: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC) - timedelta(milliseconds=5)
        ctx = Context(
            domain="ONDC:RET12",
            country="IND",
            city="std:0542",
            action=action,
            core_version="1.2.0",
            bap_id=BAP_ID,
            bap_uri=self.bap_uri,
            bpp_id=SELLER,
            bpp_uri=f"https://{SELLER}",
            transaction_id=tid,
            message_id=str(uuid.uuid4()),
            timestamp=format_timestamp(now),
            ttl="PT30S",
        )
        request = InboundRequest(action, ctx, message, received_at=now, signer=BAP_ID)
        async with self.db.session() as session:
            out = await HANDLERS[action](request, session, self.deps)
            entries = [await outbox.enqueue(session, m, now=datetime.now(UTC)) for m in out]
        for entry in entries:  # sign, POST, record: the dispatcher's delivery of one row
            outcome = await self.dispatcher.deliver(outbox.Callback.of(entry))
            if outcome is None or not outcome.delivered:
                raise RuntimeError(f"on_{action} not delivered: {outcome}")
            self.signed_bytes += len(entry.body)
        payload: dict[str, Any] = out[0].payload
        if "error" in payload:
            raise RuntimeError(f"{action}: {payload['error']}")
        return payload

    async def order(self, n: int) -> None:
        tid = str(uuid.uuid4())
        items = [
            {"id": ITEMS[n % 3], "location_id": "L1", "quantity": {"count": 1 + n % 2}},
            {"id": ITEMS[(n + 1) % 3], "location_id": "L1", "quantity": {"count": 1}},
        ]
        provider = {"id": "P1", "locations": [{"id": "L1"}]}
        address = {
            "name": "A",
            "building": "1",
            "locality": "Lanka",
            "city": "Varanasi",
            "state": "Uttar Pradesh",
            "country": "IND",
            "area_code": "221005",
        }
        end = {
            "location": {"gps": "25.280000,82.990000", "address": address},
            "contact": {"phone": "9000000000"},
        }
        await self.step(
            tid,
            "select",
            {"order": {"provider": provider, "items": items, "fulfillments": [{"end": end}]}},
        )
        billing = {
            "name": "A",
            "address": address,
            "phone": "9000000000",
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
        }
        on_init = await self.step(
            tid,
            "init",
            {
                "order": {
                    "provider": provider,
                    "items": [{**i, "fulfillment_id": "F1"} for i in items],
                    "billing": billing,
                    "fulfillments": [{"id": "F1", "type": "Delivery", "end": end}],
                }
            },
        )
        o = on_init["message"]["order"]
        await self.step(
            tid,
            "confirm",
            {
                "order": {
                    "id": f"B{uuid.uuid4().hex[:16]}",
                    "state": "Created",
                    "provider": provider,
                    "items": o["items"],
                    "billing": billing,
                    "fulfillments": [
                        {"id": "F1", "type": "Delivery", "end": {**end, "person": {"name": "A"}}}
                    ],
                    "quote": o["quote"],
                    "payment": {**o["payment"], "status": "PAID"},
                    "tags": o["tags"],
                }
            },
        )


async def run_clients(concurrency: int, total: int, work: Any) -> float:
    counter = iter(range(total))
    started = time.perf_counter()

    async def worker() -> None:
        for n in counter:
            await work(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bench_store(name: str, url: str, orders: int, concurrency: int) -> dict[str, Any]:
    db = Database(url, pool_size=max(5, concurrency))
    await db.migrate()
    await seed(db)
    async with db.engine.begin() as conn:
        await conn.run_sync(baseline_table.metadata.create_all)
    node = keys.new_keys(SELLER, "k1")
    settings = Settings(
        _env_file=None,
        subscriber_id=SELLER,  # type: ignore[call-arg]
        bpp_uri=f"https://{SELLER}",
        domains=["ONDC:RET12"],
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(buyer_sink, log_level="warning", access_log=False, lifespan="off")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    bap_uri = f"http://127.0.0.1:{sock.getsockname()[1]}/ondc"
    async with httpx.AsyncClient() as http:
        dispatcher = Dispatcher(db, settings, node, http)
        client = Client(db, settings, dispatcher, bap_uri)
        await run_clients(concurrency, max(10, orders // 10), client.order)  # warm-up
        client.signed_bytes = 0
        elapsed = await run_clients(concurrency, orders, client.order)
    server.should_exit = True
    await serving
    body = b"x" * max(1, client.signed_bytes // (3 * orders))

    async def bare(_: int) -> None:
        for _step in range(3):
            async with db.session() as s:
                await s.execute(insert(baseline_table).values(body=body))

    await run_clients(concurrency, max(10, orders // 10), bare)
    bare_elapsed = await run_clients(concurrency, orders, bare)
    await db.dispose()
    return {
        "store": name,
        "orders_per_s": orders / elapsed,
        "ms_per_order": 1000 * elapsed / orders,
        "bare_per_s": orders / bare_elapsed,
        "ratio": bare_elapsed / elapsed,
        "callback_bytes": len(body),
    }


async def postgres_url() -> tuple[str, Any]:
    import asyncpg

    name = f"ondc_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(PG_ADMIN_DSN)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}", drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store", choices=("both", "postgres", "sqlite"), default="both")
    args = parser.parse_args()
    configure_logging("WARNING")  # one info line per callback attempt would swamp the figures
    results = []
    if args.store in ("both", "postgres"):
        url, drop = await postgres_url()
        try:
            results.append(await bench_store("postgres", url, args.orders, args.concurrency))
        finally:
            await drop()
    if args.store in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            results.append(await bench_store("sqlite", url, args.orders, args.concurrency))
    print(
        f"select->init->confirm, {args.orders} orders, concurrency {args.concurrency}, "
        "callbacks enqueued + serialised + signed + POSTed (ACK) + recorded"
    )
    for r in results:
        print(
            f"  {r['store']:<9} {r['orders_per_s']:8.1f} orders/s ({r['ms_per_order']:.2f} ms "
            f"each) | baseline 3 bare inserts: {r['bare_per_s']:8.1f}/s | "
            f"ratio {r['ratio']:.3f} (real order = {1 / r['ratio']:.1f}x bare) | "
            f"callback ~{r['callback_bytes']} B"
        )
    if len(results) == 2:
        print(
            f"  postgres/sqlite orders/s: "
            f"{results[0]['orders_per_s'] / results[1]['orders_per_s']:.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
