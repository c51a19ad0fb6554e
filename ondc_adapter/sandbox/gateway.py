"""The sandbox gateway (BG): verifies the buyer app's signature on ``/search``, adds its own
``X-Gateway-Authorization`` over the same bytes and multicasts the search to every seller app
registered for the domain and city (protocol.md 1.5, 3.1). ``on_search`` never passes here.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ondc_adapter.keys import NodeKeys
from ondc_adapter.protocol.ack import ACK_BODY
from ondc_adapter.sandbox.lookup import LookupFailed, RegistryLookup
from ondc_adapter.sandbox.onboarding import onboarding_router
from ondc_adapter.sandbox.registry_messages import LookupRecord
from ondc_adapter.signing import SignatureError, sign_request

GATEWAY_BAD_REQUEST = "10000"
GATEWAY_INVALID_SIGNATURE = "10001"
GATEWAY_INVALID_CITY = "10002"


@dataclass
class Forward:
    """One search delivered (or not) to one seller app."""

    bpp_id: str
    url: str
    status: int | None
    ack: str | None
    error: str | None = None


@dataclass
class GatewayState:
    forwards: list[Forward] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def drain(self) -> None:
        """Wait for every fan-out in flight (tests and the runner use this, never sleeps)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


def _nack(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {
            "message": {"ack": {"status": "NACK"}},
            "error": {"type": "POLICY-ERROR" if status == 401 else "CONTEXT-ERROR",
                      "code": code, "message": message},
        },
        status_code=status,
    )


def create_gateway_app(
    keys: NodeKeys,
    lookup: RegistryLookup,
    http_client: httpx.AsyncClient,
    *,
    request_id: str,
    registry_encryption_public_key: str,
    state: GatewayState | None = None,
) -> FastAPI:
    app = FastAPI(title="ONDC sandbox gateway", docs_url=None, redoc_url=None)
    gw_state = state or GatewayState()
    app.state.gateway = gw_state
    app.include_router(
        onboarding_router(
            keys, request_id=request_id,
            registry_encryption_public_key=registry_encryption_public_key,
        )
    )

    async def forward(record: LookupRecord, body: bytes, headers: dict[str, str]) -> None:
        url = record.subscriber_url.rstrip("/") + "/search"
        try:
            response = await http_client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            gw_state.forwards.append(Forward(record.subscriber_id, url, None, None, str(exc)))
            return
        try:
            ack = response.json()["message"]["ack"]["status"]
        except (ValueError, KeyError, TypeError):
            ack = None
        gw_state.forwards.append(Forward(record.subscriber_id, url, response.status_code, ack))

    @app.post("/search")
    async def search(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            payload = json.loads(body)
            context = payload["context"]
            domain, city = str(context["domain"]), str(context["city"])
            bap_id = str(context["bap_id"])
        except (ValueError, KeyError, TypeError):
            return _nack(GATEWAY_BAD_REQUEST, "body must be a search with a context", 400)
        if not (city == "*" or city.startswith("std:")):
            return _nack(GATEWAY_INVALID_CITY, f"invalid city code {city!r}", 400)
        try:
            signer = await lookup.verify(body, request.headers.get("authorization"))
        except SignatureError as exc:
            return _nack(GATEWAY_INVALID_SIGNATURE, f"Invalid Signature: {exc.message}", 401)
        if signer.subscriber_id != bap_id:
            return _nack(
                GATEWAY_INVALID_SIGNATURE,
                f"signer {signer.subscriber_id} is not context.bap_id {bap_id}",
                401,
            )
        try:
            sellers = await lookup.lookup(
                {"type": "BPP", "domain": domain, "country": str(context.get("country", "IND"))}
            )
        except LookupFailed as exc:
            return _nack(GATEWAY_BAD_REQUEST, str(exc), 502)
        # One delivery per seller even when it has a record per city.
        targets: dict[str, LookupRecord] = {}
        for record in sellers:
            if city == "*" or record.city in ("*", city):
                targets.setdefault(record.subscriber_id, record)
        gateway_header = sign_request(
            body,
            keys.signing_key,
            subscriber_id=keys.subscriber_id,
            unique_key_id=keys.unique_key_id,
        ).to_header()
        headers = {
            "Content-Type": "application/json",
            "Authorization": request.headers["authorization"],
            "X-Gateway-Authorization": gateway_header,
        }
        # ACK first, multicast after: the buyer app learns about sellers only via on_search.
        for record in targets.values():
            task = asyncio.create_task(forward(record, body, headers))
            gw_state.tasks.add(task)
            task.add_done_callback(gw_state.tasks.discard)
        return JSONResponse(content=json.loads(ACK_BODY))

    return app
