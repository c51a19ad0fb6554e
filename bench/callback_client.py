"""Client CPU per callback POST: httpx (``outbound_client`` + ``post_bounded``, what the
dispatcher uses) against ``CallbackClient`` (``callback_http.py``), in one run.

    python bench/callback_client.py [--requests 20000] [--concurrency 16] [--rounds 5]
                                    [--loop uvloop|asyncio]

A minimal ACK server runs in a subprocess (uvloop, httptools, a raw ``asyncio.Protocol``: as
little server CPU as possible, and none of it counted against the clients). This process then
sends, for each client in turn, ``--requests`` POSTs of a stored ``on_confirm`` callback
(``callbacks/examples``, 6.2 KB) with ``Content-Type`` and a signature-sized ``Authorization``
header, ``--concurrency`` at a time over kept-alive connections, both with the private-network
check on the same path as in production (allowed: the server is on loopback), and the same
per-call timeout and answer cap the dispatcher passes. Every answer must be 200 with the ACK
body.

Measured per client and round: requests/s (wall clock) and this process's CPU per request
(``time.process_time``: user + system of every thread). The clients run one after the other in
each round, their order swapped every round, and the table gives the medians over rounds. On a
shared machine requests/s moves with whatever else runs; CPU per request is the steadier figure.
The server's CPU share is printed too: near 100% it, not the client, limits requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY_FILE = ROOT / "callbacks" / "examples" / "RET12" / "flow5-on_confirm.json"
ACK = b'{"message":{"ack":{"status":"ACK"}}}'
TIMEOUT = 5.0  # passed per call, as the dispatcher passes callback_timeout
MAX_BYTES = 64 * 1024

Post = Callable[[], Awaitable[tuple[int, bytes]]]


# -- the server (its own process) -----------------------------------------------------------------


def serve(port: int) -> None:
    """ACK every request; keep-alive; the cheapest HTTP/1.1 server this stack can make."""
    import httptools
    import uvloop

    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (
            len(ACK),
            ACK,
        )
    )

    class Ack(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                assert self.transport is not None
                self.transport.close()

        def on_message_complete(self) -> None:
            assert self.transport is not None
            self.transport.write(answer)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Ack, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    uvloop.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the ACK server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the ACK server did not start")


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU of another process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the clients ----------------------------------------------------------------------------------


def headers() -> dict[str, str]:
    signature = "A" * 88  # an Ed25519 signature in base64
    auth = (
        'Signature keyId="seller.example.com|k1|ed25519",algorithm="ed25519",'
        'created="1700000000",expires="1700000300",'
        f'headers="(created) (expires) digest",signature="{signature}"'
    )
    return {"Content-Type": "application/json", "Authorization": auth}


async def make_clients(url: str, body: bytes) -> tuple[dict[str, Post], Callable[[], Awaitable]]:
    from ondc_adapter.callback_http import CallbackClient
    from ondc_adapter.outbound import AddressPolicy, outbound_client, post_bounded

    head = headers()
    httpx_client = outbound_client(allow_private=True)
    lean = CallbackClient(AddressPolicy(allow_private=True), connect_timeout=3.0, read_timeout=5.0)

    async def via_httpx() -> tuple[int, bytes]:
        response = await post_bounded(
            httpx_client, url, content=body, headers=head, timeout=TIMEOUT, max_bytes=MAX_BYTES
        )
        return response.status_code, response.content

    async def via_lean() -> tuple[int, bytes]:
        response = await lean.post(
            url, content=body, headers=head, timeout=TIMEOUT, max_bytes=MAX_BYTES
        )
        return response.status_code, response.content

    async def close() -> None:
        await httpx_client.aclose()
        await lean.aclose()

    return {"httpx": via_httpx, "lean": via_lean}, close


async def drive(post: Post, requests: int, concurrency: int) -> tuple[float, float]:
    """Send ``requests`` POSTs, ``concurrency`` at a time; (wall seconds, CPU seconds)."""
    left = requests
    bad: list[tuple[int, bytes]] = []

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            status, content = await post()
            if status != 200 or content != ACK:
                bad.append((status, content))

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if bad:
        raise RuntimeError(f"{len(bad)} answers were not 200 ACK, e.g. {bad[0]!r}")
    return wall, cpu


async def run(args: argparse.Namespace, url: str, server_pid: int) -> dict[str, list[dict]]:
    body = BODY_FILE.read_bytes()
    posts, close = await make_clients(url, body)
    results: dict[str, list[dict]] = {name: [] for name in posts}
    try:
        for post in posts.values():  # warm-up: connections open, code paths hot
            await drive(post, 500, args.concurrency)
        print(
            f"body {len(body)} B, {args.requests} POSTs per client and round, "
            f"concurrency {args.concurrency}, loop {args.loop}\n"
        )
        print(f"{'round':>5} {'client':>6} {'req/s':>8} {'CPU ms/req':>11} {'server CPU':>11}")
        for round_no in range(args.rounds):
            order = list(posts) if round_no % 2 == 0 else list(reversed(posts))
            for name in order:
                server_before = process_cpu_seconds(server_pid)
                wall, cpu = await drive(posts[name], args.requests, args.concurrency)
                server_share = (process_cpu_seconds(server_pid) - server_before) / wall
                row = {
                    "rps": args.requests / wall,
                    "cpu_ms": cpu * 1000 / args.requests,
                    "server": server_share,
                }
                results[name].append(row)
                print(
                    f"{round_no + 1:>5} {name:>6} {row['rps']:>8.0f} {row['cpu_ms']:>11.3f} "
                    f"{row['server']:>10.0%}"
                )
    finally:
        await close()
    return results


def report(results: dict[str, list[dict]]) -> None:
    med = {
        name: {key: statistics.median(r[key] for r in rows) for key in ("rps", "cpu_ms")}
        for name, rows in results.items()
    }
    base, lean = med["httpx"], med["lean"]
    print(f"\nmedians over {len(results['httpx'])} rounds")
    print(f"{'client':<28} {'req/s':>8} {'CPU ms/req':>11}")
    print(f"{'httpx (outbound_client)':<28} {base['rps']:>8.0f} {base['cpu_ms']:>11.3f}")
    print(f"{'lean (CallbackClient)':<28} {lean['rps']:>8.0f} {lean['cpu_ms']:>11.3f}")
    print(
        f"{'ratio lean vs httpx':<28} {lean['rps'] / base['rps']:>7.2f}x "
        f"{base['cpu_ms'] / lean['cpu_ms']:>10.2f}x less CPU"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for_port(port, server)
        coro = run(args, f"http://127.0.0.1:{port}/ondc/on_confirm", server.pid)
        if args.loop == "uvloop":
            import uvloop

            results = uvloop.run(coro)
        else:
            results = asyncio.run(coro)
    finally:
        server.terminate()
        server.wait(timeout=10)
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
