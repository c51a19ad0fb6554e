"""Doubles for the transport tests: a registry that speaks the lookup API, a buyer app that
verifies our callback signatures, uvicorn serving on loopback, and a signed-request builder."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ondc_adapter.protocol.ack import ACK_BODY
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.settings import Settings
from ondc_adapter.signing import (
    Ed25519PrivateKey,
    SignatureError,
    parse_signature_header,
    sign_request,
    verify_request,
)

# -- serving --------------------------------------------------------------------------------------


def loopback_socket() -> socket.socket:
    """A bound, not yet listening socket: connections to its port are refused until served."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def served(app: Any, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn (lifespan on) on a loopback port; yields its base URL."""
    sock = sock or loopback_socket()
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during startup")
        await asyncio.sleep(0.01)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        await task


async def eventually(
    check: Callable[[], Awaitable[bool]], *, wait: float = 15.0, what: str = "condition"
) -> None:
    """Wait until ``check()`` is true (a wait for an event, not a speed assertion)."""
    deadline = asyncio.get_running_loop().time() + wait
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- node settings ---------------------------------------------------------------------------------


def node_settings(
    keys_dir: Path, registry_url: str, database_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "subscriber_id": "seller.test",
        "unique_key_id": "seller-k1",
        "keys_dir": keys_dir,
        "bpp_uri": "https://seller.test/ondc",
        "path_prefix": "/ondc",
        "registry_url": registry_url,
        "registry_timeout": 1.0,
        "registry_retries": 1,
        "database_url": database_url,
        "callback_timeout": 2.0,
        "callback_backoff_initial": 0.05,
        "callback_backoff_max": 0.3,
        "dispatcher_poll_seconds": 0.05,
        # the doubles (registry, buyer apps) all serve on loopback
        "allow_private_network": True,
        "site_verification_request_id": "27baa06d-f90a-486c-85e5-cc621b787f04",
        "log_json": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- identities -----------------------------------------------------------------------------------


@dataclass
class Participant:
    subscriber_id: str
    ukid: str
    type: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    status: str = "SUBSCRIBED"
    valid_seconds: int = 365 * 86400
    # what the registry answers as subscriber_url; the node sends callbacks only there (or
    # below), so a test's buyer double registers the URL it serves on
    subscriber_url: str | None = None

    def lookup_record(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "subscriber_id": self.subscriber_id,
            "ukId": self.ukid,
            "type": self.type,
            "status": self.status,
            "signing_public_key": self.key.public_key_b64,
            "encr_public_key": "MCowBQYDK2VuAyEAduMuZgmtpjdCuxv+Nc49K0cB6tL/Dj3HZetvVN7ZekM=",
            "subscriber_url": self.subscriber_url or f"https://{self.subscriber_id}/",
            "country": "IND",
            "domain": "ONDC:RET16",
            "city": "std:080",
            "valid_from": format_timestamp(now - timedelta(days=1)),
            "valid_until": format_timestamp(now + timedelta(seconds=self.valid_seconds)),
            "created": format_timestamp(now - timedelta(days=1)),
            "updated": format_timestamp(now - timedelta(days=1)),
        }

    def sign(self, body: bytes, **kwargs: Any) -> str:
        return sign_request(
            body, self.key, subscriber_id=self.subscriber_id, unique_key_id=self.ukid, **kwargs
        ).to_header()


# -- registry -------------------------------------------------------------------------------------


class RegistryDouble:
    """``/v2.0/lookup`` (requires a valid signature from a known participant) and ``/lookup``."""

    def __init__(self, participants: list[Participant]) -> None:
        self.participants = {(p.subscriber_id, p.ukid): p for p in participants}
        self.calls = 0
        self.unsigned_v2_calls = 0
        self.failures_left = 0  # answer 503 this many times first
        self.delay = 0.0
        self.app = FastAPI()
        self.app.add_api_route("/v2.0/lookup", self.v2, methods=["POST"])
        self.app.add_api_route("/lookup", self.v1, methods=["POST"])

    def add(self, participant: Participant) -> None:
        self.participants[(participant.subscriber_id, participant.ukid)] = participant

    def _answer(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            p.lookup_record()
            for (sub, ukid), p in self.participants.items()
            if query.get("subscriber_id") in (None, sub) and query.get("ukId") in (None, ukid)
        ]

    async def _common(self, request: Request) -> tuple[bytes, Response | None]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures_left > 0:
            self.failures_left -= 1
            return b"", JSONResponse({"error": "unavailable"}, status_code=503)
        return await request.body(), None

    async def v2(self, request: Request) -> Response:
        body, failure = await self._common(request)
        if failure is not None:
            return failure
        auth = request.headers.get("authorization")
        if not auth:
            self.unsigned_v2_calls += 1
            return JSONResponse(
                {"error": {"code": "1020", "message": "The auth header not found"}}, 401
            )
        try:
            header = parse_signature_header(auth)
            caller = self.participants[(header.subscriber_id, header.unique_key_id)]
            verify_request(body, header, caller.key.public_key_b64)
        except (SignatureError, KeyError):
            return JSONResponse({"error": {"code": "1021", "message": "bad signature"}}, 401)
        return JSONResponse(self._answer(orjson.loads(body)))

    async def v1(self, request: Request) -> Response:
        body, failure = await self._common(request)
        if failure is not None:
            return failure
        return JSONResponse(self._answer(orjson.loads(body)))


# -- buyer app ------------------------------------------------------------------------------------


@dataclass
class Callback:
    action: str
    body: bytes
    authorization: str | None
    verified: bool
    problem: str | None

    @property
    def payload(self) -> dict[str, Any]:
        return orjson.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.payload["context"]["message_id"]


class BuyerDouble:
    """Receives ``on_*`` callbacks; verifies each signature against the seller's key."""

    def __init__(self, seller: Participant) -> None:
        self.seller = seller
        self.received: list[Callback] = []
        self.answer: tuple[int, bytes] | None = None  # override (status, body) when set
        self.app = FastAPI()
        self.app.add_api_route("/protocol/{action}", self.on_action, methods=["POST"])

    async def on_action(self, action: str, request: Request) -> Response:
        body = await request.body()
        auth = request.headers.get("authorization")
        verified, problem = False, None
        try:
            header = verify_request(body, auth or "", self.seller.key.public_key_b64)
        except SignatureError as exc:
            problem = exc.message
        else:
            if request.headers.get("content-type") != "application/json":
                problem = "wrong content type"
            elif header.subscriber_id != orjson.loads(body)["context"]["bpp_id"]:
                problem = "signer is not bpp_id"
            else:
                verified = True
        self.received.append(Callback(action, body, auth, verified, problem))
        if self.answer is not None:
            return Response(
                self.answer[1], status_code=self.answer[0], media_type="application/json"
            )
        if not verified:
            return Response(
                b'{"message":{"ack":{"status":"NACK"}},"error":{"type":'
                b'"POLICY-ERROR","code":"20001","message":"bad signature"}}',
                status_code=401,
                media_type="application/json",
            )
        return Response(ACK_BODY, media_type="application/json")

    def by_message(self, message_id: str) -> list[Callback]:
        return [c for c in self.received if c.message_id == message_id]


# -- requests -------------------------------------------------------------------------------------


def request_body(
    action: str,
    *,
    bap: Participant,
    bap_uri: str,
    bpp_id: str | None = None,
    bpp_uri: str | None = None,
    now: datetime | None = None,
    message: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> bytes:
    now = now or datetime.now(UTC)
    ctx: dict[str, Any] = {
        "domain": "ONDC:RET16",
        "country": "IND",
        "city": "std:080",
        "action": action,
        "core_version": "1.2.0",
        "bap_id": bap.subscriber_id,
        "bap_uri": bap_uri,
        "transaction_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()),
        "timestamp": format_timestamp(now),
        "ttl": "PT30S",
    }
    if action != "search" or bpp_id:
        ctx["bpp_id"] = bpp_id
        ctx["bpp_uri"] = bpp_uri
    ctx.update(context or {})
    ctx = {k: v for k, v in ctx.items() if v is not None}
    payload = {
        "context": ctx,
        "message": message
        if message is not None
        else {"intent": {"item": {"descriptor": {"name": "Channapatna toys ₹ हस्तशिल्प"}}}},
    }
    # Deliberately not minified and with non-ASCII text: verification must use the raw bytes.
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2)


# Targets the outbound rules refuse before any connection (the resolver table, when given,
# is what each name resolves to): both clients, httpx and CallbackClient, are held to them.
REFUSED_TARGETS = [
    ("http://127.0.0.1:6379/on_search", None),
    ("http://[::1]:5432/on_search", None),
    ("http://10.0.0.5/on_search", None),
    ("http://169.254.169.254/latest/meta-data/on_search", None),
    ("http://[::ffff:127.0.0.1]:8000/on_search", None),
    ("http://[::ffff:a00:5]/on_search", None),
    ("http://buyer.internal/on_search", {"buyer.internal": [["10.1.2.3"]]}),
    ("http://metadata.internal/on_search", {"metadata.internal": [["169.254.169.254"]]}),
    ("http://mapped.internal/on_search", {"mapped.internal": [["::ffff:127.0.0.1"]]}),
    ("https://private.internal/on_search", {"private.internal": [["10.0.0.5", "fd00::5"]]}),
    ("http://buyer.localhost:8000/on_search", None),
    ("http://localhost:8000/on_search", None),
]
