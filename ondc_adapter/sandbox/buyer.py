"""The sandbox buyer app (BAP): signs and sends requests (search via the gateway, everything
else straight to the seller's bpp_uri), receives every ``on_*`` callback on its own HTTP server,
verifies its signature against the registry and ACKs it, and records all of it for the runner.
It also receives the one request a seller sends to a buyer app, ``issue`` (IGM flow 2: the
seller's complaint), checked, ACKed and recorded the same way (a ``Callback`` is whatever the
buyer app received; the runner's ``await`` steps wait for either).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ondc_adapter.exchange import serialise
from ondc_adapter.keys import NodeKeys
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.sandbox.lookup import RegistryLookup
from ondc_adapter.sandbox.onboarding import onboarding_router
from ondc_adapter.signing import SignatureError, sign_request

CALLBACK_ACTIONS = (
    "on_search", "on_select", "on_init", "on_confirm", "on_status", "on_track", "on_cancel",
    "on_update", "on_rating", "on_support",
    "on_issue",  # IGM 2.0.0: the seller's answers to complaints, and its later pushes
)
# requests a seller sends to the buyer app: its own complaint (IGM 2.0.0 flow 2), answered
# with the buyer app's on_issue (scenario steps `send: on_issue`)
REQUEST_ACTIONS = ("issue",)
BNP_INVALID_SIGNATURE = "20001"


@dataclass
class Callback:
    action: str
    body: bytes
    payload: dict[str, Any] | None
    headers: dict[str, str]
    received_at: datetime
    signer: str | None = None
    signature_error: str | None = None
    acked: bool = False
    consumed: bool = False

    @property
    def context(self) -> dict[str, Any]:
        ctx = (self.payload or {}).get("context")
        return ctx if isinstance(ctx, dict) else {}

    @property
    def message(self) -> dict[str, Any]:
        msg = (self.payload or {}).get("message")
        return msg if isinstance(msg, dict) else {}


@dataclass
class Sent:
    action: str
    url: str
    payload: dict[str, Any]
    body: bytes
    status: int | None
    response: dict[str, Any] | None
    elapsed_ms: float
    sent_at: datetime
    error: str | None = None

    @property
    def ack(self) -> str | None:
        try:
            return str((self.response or {})["message"]["ack"]["status"])
        except (KeyError, TypeError):
            return None

    @property
    def error_code(self) -> str | None:
        err = (self.response or {}).get("error") or {}
        return err.get("code") if isinstance(err, dict) else None


@dataclass
class BuyerApp:
    keys: NodeKeys
    lookup: RegistryLookup
    http: httpx.AsyncClient
    gateway_url: str
    base_url: str = ""  # set once the server is listening: becomes bap_uri
    callbacks: list[Callback] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def bap_id(self) -> str:
        return self.keys.subscriber_id

    async def send(self, action: str, payload: dict[str, Any], *, url: str | None = None) -> Sent:
        """Serialise once, sign those bytes, post them. ``url`` defaults to the gateway for
        search and to ``context.bpp_uri + /action`` otherwise."""
        body = serialise(payload)
        if url is None:
            if action == "search":
                url = self.gateway_url.rstrip("/") + "/search"
            else:
                url = str(payload["context"]["bpp_uri"]).rstrip("/") + "/" + action
        header = sign_request(
            body,
            self.keys.signing_key,
            subscriber_id=self.keys.subscriber_id,
            unique_key_id=self.keys.unique_key_id,
        ).to_header()
        sent_at = utcnow()
        t0 = time.perf_counter()
        try:
            response = await self.http.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", "Authorization": header},
            )
        except httpx.HTTPError as exc:
            sent = Sent(action, url, payload, body, None, None,
                        (time.perf_counter() - t0) * 1000, sent_at, f"{type(exc).__name__}: {exc}")
            self.sent.append(sent)
            return sent
        elapsed = (time.perf_counter() - t0) * 1000
        try:
            answer = response.json()
        except ValueError:
            answer = None
        sent = Sent(action, url, payload, body, response.status_code,
                    answer if isinstance(answer, dict) else None, elapsed, sent_at)
        self.sent.append(sent)
        return sent

    async def receive(self, action: str, body: bytes, headers: dict[str, str]) -> JSONResponse:
        callback = Callback(action=action, body=body, payload=None, headers=headers,
                            received_at=utcnow())
        status, answer = 200, {"message": {"ack": {"status": "ACK"}}}
        try:
            parsed = json.loads(body)
            callback.payload = parsed if isinstance(parsed, dict) else None
        except ValueError:
            callback.payload = None
        try:
            signer = await self.lookup.verify(body, headers.get("authorization"))
            callback.signer = signer.subscriber_id
            bpp_id = callback.context.get("bpp_id")
            if bpp_id != signer.subscriber_id:
                callback.signature_error = (
                    f"signed by {signer.subscriber_id} but context.bpp_id is {bpp_id}"
                )
        except SignatureError as exc:
            callback.signature_error = f"{exc.reason.value}: {exc.message}"
        if callback.signature_error:
            status = 401
            answer = {
                "message": {"ack": {"status": "NACK"}},
                "error": {"type": "POLICY-ERROR", "code": BNP_INVALID_SIGNATURE,
                          "message": f"Invalid Signature: {callback.signature_error}"},
            }
        elif not callback.context:
            status = 400
            answer = {
                "message": {"ack": {"status": "NACK"}},
                "error": {"type": "JSON-SCHEMA-ERROR", "code": "20006",
                          "message": "callback body is not a JSON object with a context"},
            }
        callback.acked = status == 200
        async with self._changed:
            self.callbacks.append(callback)
            self._changed.notify_all()
        return JSONResponse(answer, status_code=status)

    async def wait_for(
        self, predicate: Callable[[Callback], bool], timeout: float  # noqa: ASYNC109
    ) -> Callback | None:
        """The first unconsumed callback matching ``predicate`` (marked consumed), waiting up
        to ``timeout`` seconds for it to arrive; None on timeout."""

        def find() -> Callback | None:
            for cb in self.callbacks:
                if not cb.consumed and predicate(cb):
                    return cb
            return None

        async with self._changed:
            try:
                found = await asyncio.wait_for(self._changed.wait_for(find), timeout)
            except TimeoutError:
                return None
            found.consumed = True
            return found

    def app(self, *, request_id: str, registry_encryption_public_key: str) -> FastAPI:
        api = FastAPI(title="ONDC sandbox buyer app", docs_url=None, redoc_url=None)
        api.include_router(
            onboarding_router(
                self.keys, request_id=request_id,
                registry_encryption_public_key=registry_encryption_public_key,
            )
        )

        async def endpoint(request: Request) -> JSONResponse:
            action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
            return await self.receive(action, await request.body(), dict(request.headers))

        for action in (*CALLBACK_ACTIONS, *REQUEST_ACTIONS):
            api.add_api_route(f"/{action}", endpoint, methods=["POST"], name=action)
        return api
