"""Fault-injection harness shared by ``tests/reliability`` (pytest, small numbers) and
``bench/reliability.py`` (the suite's own command, bigger numbers).

Parts:

* ``LocalPostgres`` / ``LocalRedis``: throw-away servers on free loopback ports that a scenario
  may stop and start (the machine's shared PostgreSQL and Redis are never touched).
* ``CountingBuyer``: a buyer app that verifies every callback signature, answers ACK, slowly,
  500 or NACK on demand, and keeps EVERY receipt (it counts duplicates, it never hides them).
* ``Sender``: signs and sends requests; a 503/31001 NACK is re-sent (re-signed, same bytes)
  after ``Retry-After``, the way a conforming buyer app retries.
* ``tally``: what was sent, delivered, lost and duplicated, from the buyer's receipts and the
  node's own outbox records.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.requests import ClientDisconnect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT / "tests" / "transport") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "transport"))

from transport_doubles import (  # noqa: E402
    Participant,
    RegistryDouble,
    loopback_socket,
    node_settings,
    request_body,
    served,
)

from ondc_adapter.outbox import DELIVERED, NACKED, OutboxAttempt, OutboxEntry  # noqa: E402
from ondc_adapter.protocol.ack import ACK_BODY  # noqa: E402
from ondc_adapter.signing import SignatureError, verify_request  # noqa: E402
from ondc_adapter.storage import Database  # noqa: E402

__all__ = [
    "CountingBuyer",
    "LocalPostgres",
    "LocalRedis",
    "Participant",
    "RegistryDouble",
    "Sender",
    "Tally",
    "free_port",
    "loopback_socket",
    "node_settings",
    "request_body",
    "served",
    "tally",
]

BUYER_NACK = (
    b'{"message":{"ack":{"status":"NACK"}},"error":{"type":"DOMAIN-ERROR",'
    b'"code":"20000","message":"buyer app refuses this callback"}}'
)


def free_port() -> int:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


async def wait_for(check: Any, *, wait: float, what: str, step: float = 0.05) -> None:
    """Wait for an event (not a speed assertion); raises ``AssertionError`` on timeout."""
    deadline = time.monotonic() + wait
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {wait:.0f} s waiting for {what}")
        await asyncio.sleep(step)


# -- throw-away servers ---------------------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("initdb not found (PostgreSQL server binaries are required)")
    return Path(initdb).parent


class LocalPostgres:
    """A private PostgreSQL cluster in a temporary directory (initdb, pg_ctl start/stop).

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` user."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="ondc-rel-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}")

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class LocalRedis:
    """A private ``redis-server`` (no persistence) that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


async def fresh_database(admin_dsn: str) -> tuple[str, Any]:
    """A new, migrated database on the server at ``admin_dsn``; returns (url, async dropper)."""
    name = f"ondc_rel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    db = Database(url)
    await db.migrate()
    await db.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return url, drop


# -- the buyer app --------------------------------------------------------------------------------


@dataclass
class Receipt:
    action: str
    message_id: str
    body: bytes
    verified: bool
    answer: str  # "ACK", "NACK", "500"
    received_at: float  # wall clock, comparable with the node's timestamps
    answered_at: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.message_id, self.action)


class CountingBuyer:
    """Receives ``on_*`` callbacks. ``mode``: ``ack`` | ``slow`` (ACK after ``slow_seconds``)
    | ``error`` (HTTP 500) | ``nack`` (NACK 20000). ``ack_delay`` delays every ACK a little
    (keeps callbacks in flight for the kill test)."""

    def __init__(self, seller_public_key: str) -> None:
        self.seller_public_key = seller_public_key
        self.mode = "ack"
        self.slow_seconds = 0.0
        self.ack_delay = 0.0
        self.receipts: list[Receipt] = []
        # the same receipts by (message_id, action) and by transaction_id, for scenarios whose
        # buyers wait for their callbacks (every receipt is kept, duplicates included)
        self.by_key: dict[tuple[str, str], list[Receipt]] = {}
        self.by_transaction: dict[str, list[Receipt]] = {}
        self.in_flight = 0
        self.app = FastAPI()
        self.app.add_api_route("/protocol/{action}", self.on_action, methods=["POST"])

    async def on_action(self, action: str, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the sender died before the body was complete: no receipt
            return Response(status_code=499)
        received = time.time()
        verified = False
        message_id = ""
        transaction_id = ""
        with contextlib.suppress(SignatureError, ValueError, KeyError, TypeError):
            context = orjson.loads(body)["context"]
            message_id = str(context["message_id"])
            transaction_id = str(context.get("transaction_id", ""))
            verify_request(
                body, request.headers.get("authorization") or "", self.seller_public_key
            )
            verified = request.headers.get("content-type") == "application/json"
        mode = self.mode if verified else "nack"
        receipt = Receipt(action, message_id, body, verified, "", received)
        self.receipts.append(receipt)
        self.by_key.setdefault(receipt.key, []).append(receipt)
        self.by_transaction.setdefault(transaction_id, []).append(receipt)
        self.in_flight += 1
        try:
            if mode == "error":
                receipt.answer = "500"
                return Response(b'{"error":"boom"}', 500, media_type="application/json")
            if mode == "nack":
                receipt.answer = "NACK"
                return Response(BUYER_NACK, 400, media_type="application/json")
            receipt.answer = "ACK"  # a real buyer app has taken the message once it got here
            delay = self.slow_seconds if mode == "slow" else self.ack_delay
            if delay:
                await asyncio.sleep(delay)
            return Response(ACK_BODY, media_type="application/json")
        finally:
            receipt.answered_at = time.time()
            self.in_flight -= 1

    def acked_keys(self) -> set[tuple[str, str]]:
        return {r.key for r in self.receipts if r.answer == "ACK"}


# -- the sender -----------------------------------------------------------------------------------


@dataclass
class SendStats:
    requests: int = 0  # distinct requests (message_ids)
    acked: list[str] = field(default_factory=list)  # message_ids the node ACKed
    retryable_nacks: int = 0  # 503 + 31001 answers (re-sent later)
    other_refusals: list[tuple[int, str]] = field(default_factory=list)
    server_errors: int = 0  # HTTP 500 (never allowed)
    transport_errors: int = 0
    max_nack_seconds: float = 0.0  # slowest 503 answer: a NACK must be prompt


class Sender:
    """Signs and POSTs requests to the node; ACKed message_ids are what must arrive."""

    def __init__(self, client: httpx.AsyncClient, node_url: str, stats: SendStats) -> None:
        self.client = client
        self.node_url = node_url
        self.stats = stats

    async def send_once(self, action: str, body: bytes, signer: Participant) -> httpx.Response:
        started = time.monotonic()
        response = await self.client.post(
            f"{self.node_url}/{action}",
            content=body,
            headers={"Content-Type": "application/json", "Authorization": signer.sign(body)},
        )
        elapsed = time.monotonic() - started
        if response.status_code >= 500 and response.status_code != 503:
            self.stats.server_errors += 1
        if response.status_code == 503:
            self.stats.max_nack_seconds = max(self.stats.max_nack_seconds, elapsed)
        return response

    async def send(
        self, action: str, body: bytes, signer: Participant, *, retry_for: float = 0.0
    ) -> httpx.Response | None:
        """Send until ACKed, refused for good, or ``retry_for`` seconds of 503s have passed."""
        self.stats.requests += 1
        message_id = orjson.loads(body)["context"]["message_id"]
        deadline = time.monotonic() + retry_for
        while True:
            try:
                response = await self.send_once(action, body, signer)
            except httpx.TransportError:
                self.stats.transport_errors += 1
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 200:
                self.stats.acked.append(message_id)
                return response
            if response.status_code == 503 and _nack_code(response) == "31001":
                self.stats.retryable_nacks += 1
                if time.monotonic() > deadline:
                    return response
                retry_after = float(response.headers.get("Retry-After", "1"))
                await asyncio.sleep(min(retry_after, 0.5))
                continue
            self.stats.other_refusals.append((response.status_code, _nack_code(response) or ""))
            return response


def _nack_code(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(response.json()["error"]["code"])
    return None


# -- counting -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """One scenario's figures. ``lost`` and ``duplicates`` must be zero."""

    sent: int
    acked: int
    delivered: int
    refused_by_buyer: int
    expired: int
    lost: int
    duplicates: int
    resent: int  # at-least-once re-sends of identical bytes whose ACK we had not recorded
    retryable_nacks: int
    server_errors: int
    unverified: int
    notes: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "notes"}


async def tally(
    db: Database,
    buyer: CountingBuyer,
    stats: SendStats,
    *,
    callback_action: str = "on_search",
    expected: list[tuple[str, str]] | None = None,
) -> Tally:
    """Compare what the node ACKed with what the buyer received and what the node recorded.

    ``expected``: the (message_id, callback action) keys that must arrive, when the requests
    were of several actions (default: every ACKed message_id with ``callback_action``).

    * delivered: ACKed requests whose callback the buyer ACKed.
    * refused_by_buyer: the buyer NACKed it; the node recorded ``nacked`` after one attempt.
    * expired: the node gave up at the request's TTL (``expired``, attempts recorded).
    * lost: an ACKed request with none of the above (must be 0).
    * duplicates: a receipt ACKed by the buyer although the node had already recorded that
      callback as delivered, a second recorded ACK for one callback, or two different bodies
      under one message_id (must be 0).
    * resent: further receipts of identical bytes before the node recorded the ACK (the buyer
      answered too late, or the node died between the buyer's ACK and its own record):
      at-least-once delivery, reported, not hidden.
    """
    async with db.session() as s:
        rows = (await s.execute(select(OutboxEntry))).scalars().all()
        attempts = (await s.execute(select(OutboxAttempt))).scalars().all()
    by_message = {(r.message_id, r.action): r for r in rows}
    recorded_acks: dict[int, int] = {}
    for a in attempts:
        if a.ack == "ACK":
            recorded_acks[a.outbox_id] = recorded_acks.get(a.outbox_id, 0) + 1
    receipts: dict[tuple[str, str], list[Receipt]] = {}
    for r in buyer.receipts:
        receipts.setdefault(r.key, []).append(r)

    delivered = refused = expired = lost = duplicates = resent = 0
    notes: list[str] = []
    keys = expected if expected is not None else [(m, callback_action) for m in stats.acked]
    for key in dict.fromkeys(keys):
        message_id = key[0]
        row = by_message.get(key)
        got = receipts.get(key, [])
        acked_receipts = [r for r in got if r.answer == "ACK"]
        if acked_receipts:
            delivered += 1
        elif row is not None and row.status == NACKED and any(r.answer == "NACK" for r in got):
            refused += 1
        elif row is not None and row.status == "expired":
            expired += 1
        else:
            lost += 1
            notes.append(f"lost {message_id}: outbox {row.status if row else 'no row'}")
            continue
        if row is None:
            continue
        if len({r.body for r in got}) > 1:
            duplicates += 1
            notes.append(f"{message_id}: different bodies under one message_id")
        acks = recorded_acks.get(row.id, 0)
        if acks > 1:
            duplicates += acks - 1
            notes.append(f"{message_id}: delivery recorded {acks} times")
        done = None
        if row.status == DELIVERED and row.completed_at is not None:
            done = row.completed_at.timestamp()
        for extra in acked_receipts[1:]:
            if done is not None and extra.received_at > done:
                duplicates += 1
                notes.append(f"{message_id}: sent again after it was recorded delivered")
            else:
                resent += 1
    unverified = sum(1 for r in buyer.receipts if not r.verified)
    return Tally(
        sent=stats.requests,
        acked=len(set(stats.acked)),
        delivered=delivered,
        refused_by_buyer=refused,
        expired=expired,
        lost=lost,
        duplicates=duplicates,
        resent=resent,
        retryable_nacks=stats.retryable_nacks,
        server_errors=stats.server_errors,
        unverified=unverified,
        notes=notes,
    )


async def outbox_statuses(db: Database) -> dict[str, int]:
    async with db.session() as s:
        rows = (await s.execute(select(OutboxEntry.status))).scalars().all()
    out: dict[str, int] = {}
    for status in rows:
        out[status] = out.get(status, 0) + 1
    return out


async def attempts_of(db: Database) -> dict[str, int]:
    """message_id -> delivery attempts recorded by the node."""
    async with db.session() as s:
        rows = (await s.execute(select(OutboxEntry.message_id, OutboxEntry.attempts))).all()
    return {m: a for m, a in rows}


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket | None = None) -> AsyncIterator[str]:
    async with served(app, sock) as url:
        yield url


def now_ts() -> float:
    return datetime.now().timestamp()
