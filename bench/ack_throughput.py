"""ACK throughput of the inbound pipeline against a bare FastAPI endpoint, in one run.

    python bench/ack_throughput.py [--concurrency 32] [--duration 8] [--store postgres|sqlite]

Starts, one after the other and under identical uvicorn settings (1 worker, uvloop, httptools,
no access log), each in its own process:

  (a) bare: a FastAPI app whose POST /ondc/search returns a constant ACK;
  (b) full: the seller node (``create_app``) doing the whole pipeline for signed ``/search``
      requests carrying ``Authorization`` and ``X-Gateway-Authorization``: size/content-type
      checks, JSON parse, two Ed25519 verifications against registry keys (lookup cache warm:
      records pre-loaded in Redis, then held in process), signer == sender, envelope + context
      validation, de-duplication and a committed inbox insert before each ACK. Storage:
      PostgreSQL + Redis by default (``--store sqlite``: SQLite file, no Redis).

A separate load process drives each server with N concurrent keep-alive connections for a
fixed duration with pre-signed, unique requests (so no request is a duplicate), after a short
warm-up, and reports requests/s and p50/p99 latency; the script prints both and the ratio.
Background workers (processor, dispatcher) are off by default so the figure is the ACK path
alone; ``--with-workers`` runs them (callbacks go to a sink). A small peer process plays the
registry (``/v2.0/lookup``, asked once per key during the warm-up; with Redis the shared cache
is pre-loaded so not even that) and the buyer app.

Those rounds are closed loop: each connection sends its next request the moment it has an
answer, which finds the maximum throughput but makes latency pure queueing (32 connections /
throughput). So latency is then measured once more open loop (``--paced-fraction``, default
60% of the pipeline's measured maximum, same 32 connections, a fixed send schedule, latency
from the scheduled time), bare and full alike: that is the p99 a node sees under real load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ONDC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UVICORN = {"loop": "uvloop", "http": "httptools", "log_level": "warning", "access_log": False}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- servers (each runs in its own process) -------------------------------------------------------


def serve_bare(port: int) -> None:
    """The baseline: a bare FastAPI endpoint returning a constant ACK."""
    import uvicorn
    from fastapi import FastAPI, Response

    from ondc_adapter.protocol.ack import ACK_BODY

    app = FastAPI()

    @app.post("/ondc/{action}")
    async def ack(action: str) -> Response:
        return Response(ACK_BODY, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN)


def serve_peers(port: int, records: list[bytes]) -> None:
    """The other participants during the full runs: a registry answering ``/v2.0/lookup``
    (first request of each key only: the node caches it) and a buyer app ACKing callbacks."""
    import orjson
    import uvicorn
    from fastapi import FastAPI, Request, Response

    from ondc_adapter.protocol.ack import ACK_BODY

    app = FastAPI()
    known = [orjson.loads(r) for r in records]

    async def lookup(request: Request) -> Response:  # a plain Starlette endpoint
        query = orjson.loads(await request.body())
        found = [
            r
            for r in known
            if r["subscriber_id"] == query.get("subscriber_id") and r["ukId"] == query.get("ukId")
        ]
        return Response(orjson.dumps(found), media_type="application/json")

    app.router.add_route("/v2.0/lookup", lookup, methods=["POST"])

    @app.post("/sink/{action}")
    async def sink(action: str) -> Response:
        return Response(ACK_BODY, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN)


def serve_full(port: int, config: dict[str, Any]) -> None:
    import redis.asyncio as aioredis
    import uvicorn

    from ondc_adapter.api.app import create_app
    from ondc_adapter.handlers import not_supported_handlers
    from ondc_adapter.settings import Settings

    settings = Settings(_env_file=None, **config["settings"])  # type: ignore[call-arg]
    redis = aioredis.from_url(config["redis_url"]) if config.get("redis_url") else None
    app = create_app(
        settings,
        redis=redis,
        redis_prefix=config["prefix"],
        handlers=not_supported_handlers(),
        run_workers=config["with_workers"],
    )
    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN)


# -- load generator (its own process) -------------------------------------------------------------


def build_requests(count: int, identities: dict[str, Any], bap_uri: str) -> list[bytes]:
    import orjson

    from ondc_adapter.protocol.durations import format_timestamp
    from ondc_adapter.signing import Ed25519PrivateKey, sign_request

    bap = Ed25519PrivateKey.from_base64(identities["bap_key"])
    bg = Ed25519PrivateKey.from_base64(identities["bg_key"])
    now = datetime.now(UTC)
    out: list[bytes] = []
    for _ in range(count):
        body = orjson.dumps(
            {
                "context": {
                    "domain": "ONDC:RET16",
                    "country": "IND",
                    "city": "std:080",
                    "action": "search",
                    "core_version": "1.2.0",
                    "bap_id": "buyer.bench",
                    "bap_uri": bap_uri,
                    "transaction_id": str(uuid.uuid4()),
                    "message_id": str(uuid.uuid4()),
                    "timestamp": format_timestamp(now),
                    "ttl": "PT5M",  # requests are pre-built; the run must fit inside the ttl
                },
                "message": {
                    "intent": {
                        "item": {"descriptor": {"name": "Channapatna wooden toys"}},
                        "fulfillment": {
                            "type": "Delivery",
                            "end": {
                                "location": {
                                    "gps": "12.974002,77.613458",
                                    "address": {"area_code": "560001"},
                                }
                            },
                        },
                        "payment": {
                            "@ondc/org/buyer_app_finder_fee_type": "percent",
                            "@ondc/org/buyer_app_finder_fee_amount": "3",
                        },
                    }
                },
            }
        )
        auth = sign_request(
            body, bap, subscriber_id="buyer.bench", unique_key_id="bap-1", ttl=600
        ).to_header()
        gw = sign_request(
            body, bg, subscriber_id="gateway.bench", unique_key_id="bg-1", ttl=600
        ).to_header()
        head = (
            "POST /ondc/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            f"Authorization: {auth}\r\nX-Gateway-Authorization: {gw}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def drive(
    port: int,
    requests: list[bytes],
    concurrency: int,
    warmup: float,
    duration: float,
    cycle: bool,
    rate: float | None = None,
) -> dict[str, Any]:
    """Minimal HTTP/1.1 keep-alive client: cheap enough that the server, not the client, is
    what is measured. ``rate`` None: closed loop (each connection sends as soon as it has its
    answer: the server's maximum, where latency is queueing by construction). ``rate`` R:
    open loop, R requests/s in all on a fixed schedule, latency counted from the scheduled
    send time, so a stall is charged to every request it delays."""
    index = 0
    latencies: list[float] = []
    ok = bad = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup
    stop_at = measure_from + duration
    statuses: dict[str, int] = {}

    interval = concurrency / rate if rate else 0.0

    async def connection(k: int) -> None:
        nonlocal index, ok, bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        next_at = start + k * interval / concurrency  # connections staggered over one interval
        try:
            while True:
                now = loop.time()
                if now >= stop_at or (index >= len(requests) and not cycle):
                    return
                if interval:
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    t0 = time.perf_counter() - max(0.0, loop.time() - next_at)
                    next_at += interval
                else:
                    t0 = time.perf_counter()
                payload = requests[index % len(requests)]
                index += 1
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                elapsed = time.perf_counter() - t0
                status = head[9:12].decode()
                if loop.time() >= measure_from:
                    latencies.append(elapsed)
                    if status == "200" and b'"ACK"' in body:
                        ok += 1
                    else:
                        bad += 1
                        statuses[status] = statuses.get(status, 0) + 1
                        if bad <= 3:
                            print(f"  non-ACK answer {status}: {body[:200]!r}", file=sys.stderr)
        finally:
            writer.close()

    await asyncio.gather(*(connection(k) for k in range(concurrency)))
    sent = index
    measured = min(loop.time(), stop_at) - measure_from
    latencies.sort()
    return {
        "requests": ok + bad,
        "ok": ok,
        "errors": bad,
        "error_statuses": statuses,
        "seconds": measured,
        "rps": (ok + bad) / measured if measured > 0 else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
        "exhausted": index >= len(requests) and not cycle,
        "sent_total": sent,
    }


def load_process(
    port: int,
    requests: list[bytes],
    concurrency: int,
    warmup: float,
    duration: float,
    cycle: bool,
    out: Any,
    rate: float | None = None,
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out.put(asyncio.run(drive(port, requests, concurrency, warmup, duration, cycle, rate)))


# -- orchestration --------------------------------------------------------------------------------


def cpu_seconds(pid: int, *, main_thread: bool = False) -> float:
    """User + system CPU time of a process, or of its main (event loop) thread only (Linux
    /proc), so the cost per request can be compared even when other processes compete for the
    machine."""
    path = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, proc: mp.Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise SystemExit(f"server process exited with {proc.exitcode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def measure(
    target: mp.Process,
    port: int,
    requests: list[bytes],
    args: argparse.Namespace,
    *,
    cycle: bool,
    rate: float | None = None,
) -> dict[str, Any]:
    """``cycle``: reuse requests when the pool runs out (only for the bare endpoint, which
    ignores them; the pipeline must get unique requests or it would measure duplicates)."""
    target.start()
    try:
        wait_port(port, target)
        cpu_before = cpu_seconds(target.pid)
        loop_before = cpu_seconds(target.pid, main_thread=True)
        out: mp.Queue = mp.Queue()
        loader = mp.Process(
            target=load_process,
            args=(port, requests, args.concurrency, args.warmup, args.duration, cycle, out, rate),
        )
        loader.start()
        result = out.get(timeout=args.warmup + args.duration + 120)
        loader.join()
        used = cpu_seconds(target.pid) - cpu_before
        loop_used = cpu_seconds(target.pid, main_thread=True) - loop_before
        result["server_cpu_us_per_request"] = used / max(1, result["sent_total"]) * 1e6
        result["loop_cpu_us_per_request"] = loop_used / max(1, result["sent_total"]) * 1e6
        return result
    finally:
        target.terminate()
        target.join(10)


async def create_pg_database(name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def prepare_store(
    database_url: str, redis_url: str | None, prefix: str, records: list[Any]
) -> None:
    """Migrate the database and warm the shared lookup cache with the participants' records."""
    from ondc_adapter.storage import Database

    db = Database(database_url)
    await db.migrate()
    await db.dispose()
    if redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(redis_url)
        for record in records:
            await redis.set(
                f"{prefix}lookup:{record.subscriber_id}|{record.ukId}", record.to_json(), ex=3600
            )
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first")
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        help="pre-signed request pool, split between the full runs (default 50000 per round)",
    )
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--with-workers",
        action="store_true",
        help="run the inbox processor and dispatcher during the full run",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating bare/full pairs")
    parser.add_argument(
        "--paced-fraction",
        type=float,
        default=0.6,
        help="then one open-loop bare/full pair at this fraction of the full pipeline's "
        "measured maximum (0: skip)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    paced_runs = 1 if args.paced_fraction > 0 else 0
    if args.requests is None:
        args.requests = 50_000 * (args.rounds + paced_runs)
    load_before = os.getloadavg()[0]

    from ondc_adapter import keys
    from ondc_adapter.registry import SubscriberRecord
    from ondc_adapter.signing import Ed25519PrivateKey

    tmp = Path(tempfile.mkdtemp(prefix="ondc-bench-"))
    keys.write_keys(keys.new_keys("seller.bench", "seller-1"), tmp / "keys")
    bap_key, bg_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    valid_until = datetime.now(UTC) + timedelta(days=1)
    bare_port, full_port, sink_port = free_port(), free_port(), free_port()
    bap_uri = f"http://127.0.0.1:{sink_port}/sink/"
    records = [
        SubscriberRecord(
            "buyer.bench",
            "bap-1",
            "BAP",
            bap_key.public_key_b64,
            valid_until=valid_until,
            subscriber_url=bap_uri,  # callbacks go only to the registered URL
        ),
        SubscriberRecord(
            "gateway.bench", "bg-1", "BG", bg_key.public_key_b64, valid_until=valid_until
        ),
    ]
    prefix = f"ondc-bench:{uuid.uuid4().hex[:8]}:"
    pg_name = f"ondc_bench_{os.getpid()}"
    if args.store == "postgres":
        database_url = asyncio.run(create_pg_database(pg_name))
        redis_url: str | None = REDIS_URL
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        redis_url = None
    try:
        asyncio.run(prepare_store(database_url, redis_url, prefix, records))
        print(
            f"signing {args.requests} unique requests (Authorization + X-Gateway-Authorization)...",
            file=sys.stderr,
        )
        requests = build_requests(
            args.requests, {"bap_key": bap_key.to_base64(), "bg_key": bg_key.to_base64()}, bap_uri
        )
        config = {
            "settings": {
                "subscriber_id": "seller.bench",
                "unique_key_id": "seller-1",
                "keys_dir": str(tmp / "keys"),
                "bpp_uri": "http://127.0.0.1/ondc",
                "path_prefix": "/ondc",
                "database_url": database_url,
                "registry_url": f"http://127.0.0.1:{sink_port}",
                "search_requires_gateway": True,
                "allow_private_network": True,  # registry and buyer app sink on loopback
                "log_level": "WARNING",
            },
            "redis_url": redis_url,
            "prefix": prefix,
            "with_workers": args.with_workers,
        }
        # Registry and buyer app for the full runs (lookups only until the cache is warm).
        sink = mp.Process(target=serve_peers, args=(sink_port, [r.to_json() for r in records]))
        sink.start()
        wait_port(sink_port, sink)
        rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
        paced: tuple[float, dict[str, Any], dict[str, Any]] | None = None
        try:
            for number in range(1, args.rounds + 1):
                # Alternating runs: a burst of load from elsewhere on the machine hits both.
                print(
                    f"round {number}: bare endpoint, {args.concurrency} connections, "
                    f"{args.duration}s",
                    file=sys.stderr,
                )
                bare = measure(
                    mp.Process(target=serve_bare, args=(bare_port,)),
                    bare_port,
                    requests,
                    args,
                    cycle=True,
                )
                print(
                    f"round {number}: full pipeline, {args.concurrency} connections, "
                    f"{args.duration}s",
                    file=sys.stderr,
                )
                share = len(requests) // (args.rounds + paced_runs)  # fresh for every full run
                fresh = requests[(number - 1) * share : number * share]
                full = measure(
                    mp.Process(target=serve_full, args=(full_port, config)),
                    full_port,
                    fresh,
                    args,
                    cycle=False,
                )
                rounds.append((bare, full))
            if paced_runs:
                rate = args.paced_fraction * statistics.median(f["rps"] for _, f in rounds)
                print(
                    f"paced: bare and full at {rate:.0f} req/s (open loop), "
                    f"{args.concurrency} connections, {args.duration}s",
                    file=sys.stderr,
                )
                paced_bare = measure(
                    mp.Process(target=serve_bare, args=(bare_port,)),
                    bare_port,
                    requests,
                    args,
                    cycle=True,
                    rate=rate,
                )
                share = len(requests) // (args.rounds + paced_runs)
                paced_full = measure(
                    mp.Process(target=serve_full, args=(full_port, config)),
                    full_port,
                    requests[args.rounds * share :],
                    args,
                    cycle=False,
                    rate=rate,
                )
                paced = (rate, paced_bare, paced_full)
        finally:
            sink.terminate()
            sink.join(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.store == "postgres":
            asyncio.run(drop_pg_database(pg_name))
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
            client.close()

    store = "PostgreSQL + Redis" if args.store == "postgres" else "SQLite (no Redis)"
    print(
        f"\nmachine: {os.cpu_count()} CPU(s), load average before the run "
        f"{load_before:.2f}; uvicorn 1 worker (uvloop, httptools, no access log); "
        f"{args.concurrency} concurrent connections; {args.duration}s measured per run"
    )
    print(
        f"full pipeline store: {store}; background workers {'on' if args.with_workers else 'off'}"
    )
    header = (
        f"{'':22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'CPU us/req':>12}{'loop CPU us/req':>17}"
    )
    print(header)
    for number, (bare, full) in enumerate(rounds, 1):
        for name, r in ((f"round {number} bare", bare), (f"round {number} full", full)):
            print(
                f"{name:22}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['errors']:>8}{r['server_cpu_us_per_request']:>12.0f}"
                f"{r['loop_cpu_us_per_request']:>17.0f}"
            )
    ratios = [full["rps"] / bare["rps"] for bare, full in rounds if bare["rps"]]
    p99s = [full["p99_ms"] for _, full in rounds]
    ratio = statistics.median(ratios) if ratios else float("nan")
    print(
        f"throughput ratio full/bare: median {ratio:.1%} over {len(ratios)} round(s) "
        f"(per round: {', '.join(f'{r:.1%}' for r in ratios)}; target >= 35%)"
    )
    print(
        f"full pipeline p99 ACK latency at saturation (closed loop): median "
        f"{statistics.median(p99s):.2f} ms"
    )
    if paced is not None:
        rate, pb, pf = paced
        print(
            f"paced at {rate:.0f} req/s ({args.paced_fraction:.0%} of the pipeline's maximum), "
            f"{args.concurrency} connections, open loop: bare p50 {pb['p50_ms']:.2f} / p99 "
            f"{pb['p99_ms']:.2f} ms; full p50 {pf['p50_ms']:.2f} / p99 {pf['p99_ms']:.2f} ms, "
            f"{pf['rps']:.0f} req/s, {pf['errors']} errors (target p99 < 20 ms)"
        )
    for bare, full in rounds:
        for name, r in (("bare", bare), ("full", full)):
            if r["exhausted"]:
                print(f"note: a {name} run used the whole request pool; raise --requests")
    if args.json:
        print(json.dumps({"rounds": rounds, "ratio": ratio, "store": store}))
    errors = sum(full["errors"] for _, full in rounds) + (paced[2]["errors"] if paced else 0)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
