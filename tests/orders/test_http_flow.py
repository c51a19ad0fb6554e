"""The order flows end to end over HTTP: signed requests into the node built by
``create_app`` (real inbox, processor, outbox and dispatcher on PostgreSQL), signed callbacks
out to a buyer app on loopback, the seller acting through the admin API."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from order_flowkit import BAP_ID, seed, validate
from pydantic import SecretStr

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.orders.quote import commercial_terms
from ondc_adapter.protocol.ack import ACK_BODY
from ondc_adapter.protocol.durations import format_timestamp, parse_timestamp
from ondc_adapter.registry import StaticKeyResolver, SubscriberRecord
from ondc_adapter.settings import Settings
from ondc_adapter.signing import Ed25519PrivateKey, sign_request, verify_request

SELLER = "seller.example.com"
ADMIN_KEY = "admin-secret"


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
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


class BuyerApp:
    """Receives callbacks and checks each is signed by the seller's key."""

    def __init__(self, seller_public_key: str) -> None:
        self.key = seller_public_key
        self.received: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.add_api_route("/protocol/{action}", self.on_action, methods=["POST"])

    async def on_action(self, action: str, request: Request) -> Response:
        body = await request.body()
        verify_request(body, request.headers.get("authorization", ""), self.key)
        payload = orjson.loads(body)
        assert payload["context"]["action"] == action
        self.received.append(payload)
        return Response(ACK_BODY, media_type="application/json")

    async def wait_for(self, predicate: Any, what: str) -> dict[str, Any]:
        for _ in range(750):
            for p in self.received:
                if predicate(p):
                    return p
            await asyncio.sleep(0.02)
        raise AssertionError(f"no callback: {what}")


class HttpBuyer:
    def __init__(self, node: httpx.AsyncClient, app: BuyerApp, uri: str, domain: str) -> None:
        self.node, self.app, self.uri, self.domain = node, app, uri, domain
        self.key = Ed25519PrivateKey.generate()
        self.transaction_id = str(uuid.uuid4())
        self.order_id = f"O{uuid.uuid4().hex[:10]}"
        self.pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def send(self, action: str, message: dict[str, Any]) -> dict[str, Any]:
        ctx = {
            "domain": self.domain, "country": "IND", "city": "std:080", "action": action,
            "core_version": "1.2.0", "bap_id": BAP_ID, "bap_uri": self.uri, "bpp_id": SELLER,
            "bpp_uri": f"https://{SELLER}/ondc", "transaction_id": self.transaction_id,
            "message_id": str(uuid.uuid4()), "timestamp": format_timestamp(datetime.now(UTC)),
            "ttl": "PT30S",
        }
        if action == "confirm":
            message["order"]["created_at"] = message["order"]["updated_at"] = ctx["timestamp"]
        payload = {"context": ctx, "message": message}
        validate(payload)
        body = orjson.dumps(payload)
        header = sign_request(body, self.key, subscriber_id=BAP_ID, unique_key_id="bap-k1")
        r = await self.node.post(
            f"/{action}", content=body,
            headers={"Authorization": header.to_header(), "Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["message"]["ack"]["status"] == "ACK", r.text
        reply = await self.app.wait_for(
            lambda p: p["context"]["message_id"] == ctx["message_id"], f"on_{action}"
        )
        validate(reply)
        self.pairs.append((payload, reply))
        return reply


@pytest.mark.parametrize("domain", ["ONDC:RET12", "ONDC:RET16"])
async def test_order_to_delivery_and_cancel_over_http(pg_db, tmp_path: Path, domain) -> None:
    await seed(pg_db, domain=domain)
    node_keys = keys.new_keys(SELLER, "seller-k1")
    keys.write_keys(node_keys, tmp_path / "keys")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        subscriber_id=SELLER, unique_key_id="seller-k1", keys_dir=tmp_path / "keys",
        bpp_uri=f"https://{SELLER}/ondc", database_url=pg_db.url,
        admin_api_key=SecretStr(ADMIN_KEY), dispatcher_poll_seconds=0.05, log_json=False,
        allow_private_network=True,  # the buyer app double serves on loopback
    )
    buyer_app = BuyerApp(keys.load_keys(tmp_path / "keys").signing_key.public_key_b64)
    async with served(buyer_app.app) as buyer_url:
        resolver = StaticKeyResolver()
        app = create_app(settings, db=pg_db, redis=None, key_resolver=resolver)
        async with served(app) as node_url, httpx.AsyncClient(base_url=node_url) as node:
            buyer = HttpBuyer(node, buyer_app, buyer_url + "/protocol", domain)
            resolver.add(
                SubscriberRecord(
                    subscriber_id=BAP_ID, ukId="bap-k1", type="BAP",
                    signing_public_key=buyer.key.public_key_b64,
                    subscriber_url=buyer_url + "/protocol",
                )
            )
            where = {"gps": "12.974002,77.613458", "address": {"area_code": "560001"}}
            sel = await buyer.send("select", {"order": {
                "provider": {"id": "P1", "locations": [{"id": "L1"}]},
                "items": [{"id": "I1", "location_id": "L1", "quantity": {"count": 2}}],
                "fulfillments": [{"end": {"location": where}}],
            }})
            assert "error" not in sel
            address = {"name": "Asha", "building": "12", "locality": "MG Road",
                       "city": "Bengaluru", "state": "Karnataka", "country": "IND",
                       "area_code": "560001"}
            billing = {"name": "Asha", "address": address, "phone": "9886098860",
                       "created_at": "2026-01-01T00:00:00.000Z",
                       "updated_at": "2026-01-01T00:00:00.000Z"}
            end = {"location": {"gps": where["gps"], "address": address},
                   "contact": {"phone": "9886098860"}}
            ini = await buyer.send("init", {"order": {
                "provider": {"id": "P1", "locations": [{"id": "L1"}]},
                "items": [{"id": "I1", "fulfillment_id": "F1", "quantity": {"count": 2}}],
                "billing": billing,
                "fulfillments": [{"id": "F1", "type": "Delivery", "end": end}],
            }})
            o = ini["message"]["order"]
            con = await buyer.send("confirm", {"order": {
                "id": buyer.order_id, "state": "Created", "provider": o["provider"],
                "items": o["items"], "billing": o["billing"],
                "fulfillments": [{"id": "F1", "type": "Delivery",
                                  "end": {**end, "person": {"name": "Asha"}}}],
                "quote": o["quote"],
                "payment": {**o["payment"], "status": "PAID", "params": {
                    "amount": o["quote"]["price"]["value"], "currency": "INR",
                    "transaction_id": "pay-1"}},
                "tags": o["tags"],
            }})
            assert "error" not in con
            order = con["message"]["order"]
            assert order["state"] == "Accepted"
            assert commercial_terms(order["quote"]) == commercial_terms(
                sel["message"]["order"]["quote"]
            )
            # the seller packs and ships through the admin API: on_status pushes follow
            h = {"X-API-Key": ADMIN_KEY}
            for state in ("Packed", "Order-picked-up", "Order-delivered"):
                r = await node.post(
                    f"/admin/orders/{buyer.order_id}/advance", headers=h, json={"state": state}
                )
                assert r.status_code == 200, r.text
                mid = r.json()["sent"][0]["message_id"]
                push = await buyer_app.wait_for(
                    lambda p, mid=mid: p["context"]["message_id"] == mid, state
                )
                validate(push)
                got = push["message"]["order"]["fulfillments"][0]["state"]["descriptor"]
                assert got["code"] == state
            st = await buyer.send("status", {"order_id": buyer.order_id})
            assert st["message"]["order"]["state"] == "Completed"
            late = await buyer.send(
                "cancel", {"order_id": buyer.order_id, "cancellation_reason_id": "001"}
            )
            assert late["error"]["code"] == "50001"
    for request, reply in buyer.pairs:
        assert reply["context"]["message_id"] == request["context"]["message_id"]
        assert parse_timestamp(reply["context"]["timestamp"]) > parse_timestamp(
            request["context"]["timestamp"]
        )
