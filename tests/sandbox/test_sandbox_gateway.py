"""The sandbox gateway: signature check, X-Gateway-Authorization, multicast by domain and city."""

from __future__ import annotations

import json
import uuid

from conftest import RegistryHarness, node_app
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ondc_adapter.exchange import serialise
from ondc_adapter.keys import NodeKeys, new_keys
from ondc_adapter.protocol.durations import format_timestamp, utcnow
from ondc_adapter.sandbox.gateway import GatewayState, create_gateway_app
from ondc_adapter.sandbox.lookup import RegistryLookup
from ondc_adapter.sandbox.onboarding import build_subscribe_request, sample_entity
from ondc_adapter.sandbox.transcript import recording_client
from ondc_adapter.signing import parse_signature_header, sign_request, verify_request


async def _register(h: RegistryHarness, keys: NodeKeys, kind: str, domains, extra=None):
    rid = str(uuid.uuid4())
    app = node_app(keys, rid, h.registry_keys.encryption_public_key)
    for route in extra.router.routes if extra else []:
        app.router.routes.append(route)
    h.add_node(keys.subscriber_id, app)
    entity = sample_entity(list(domains), participant_type=kind)
    body = build_subscribe_request(keys, entity, request_id=rid).model_dump_json()
    r = await h.client.post("http://registry.test/subscribe", content=body)
    assert r.json()["message"]["ack"]["status"] == "ACK", r.text


def _seller(received: list[tuple[str, bytes, dict[str, str]]], name: str) -> FastAPI:
    app = FastAPI()

    @app.post("/search")
    async def search(request: Request) -> JSONResponse:
        received.append((name, await request.body(), dict(request.headers)))
        return JSONResponse({"message": {"ack": {"status": "ACK"}}})

    return app


def _search(bap: NodeKeys, domain: str, city: str = "std:080") -> bytes:
    return serialise(
        {
            "context": {
                "domain": domain,
                "country": "IND",
                "city": city,
                "action": "search",
                "core_version": "1.2.0",
                "bap_id": bap.subscriber_id,
                "bap_uri": f"http://{bap.subscriber_id}",
                "transaction_id": str(uuid.uuid4()),
                "message_id": str(uuid.uuid4()),
                "timestamp": format_timestamp(utcnow()),
                "ttl": "PT30S",
            },
            "message": {
                "intent": {
                    "fulfillment": {"type": "Delivery"},
                    "item": {"descriptor": {"name": "माटी कला ₹"}},
                }
            },
        }
    )


async def test_gateway_verifies_signs_and_fans_out(harness: RegistryHarness) -> None:
    received: list[tuple[str, bytes, dict[str, str]]] = []
    gw = new_keys("gateway.example.test", "g1")
    bap = new_keys("buyer.example.test", "b1")
    s1 = new_keys("s1.example.test", "k1")
    s2 = new_keys("s2.example.test", "k1")
    s3 = new_keys("s3.example.test", "k1")
    await _register(harness, bap, "buyerApp", ["ONDC:RET16"])
    await _register(harness, s1, "sellerApp", ["ONDC:RET16"], _seller(received, "s1"))
    await _register(harness, s2, "sellerApp", ["ONDC:RET16", "ONDC:RET12"], _seller(received, "s2"))
    await _register(harness, s3, "sellerApp", ["ONDC:RET12"], _seller(received, "s3"))
    state = GatewayState()
    gw_http = recording_client(harness.transcript, "gateway", inner=harness.router)
    lookup = RegistryLookup("http://registry.test", gw_http, keys=gw)
    # the gateway registers too: sellers verify its header through the registry
    app = create_gateway_app(
        gw, lookup, gw_http, request_id="r", registry_encryption_public_key="unused", state=state
    )
    harness.router.add("gw.test", app)
    await _register(harness, gw, "gateway", ["ONDC:RET16"])

    body = _search(bap, "ONDC:RET16")
    header = sign_request(
        body, bap.signing_key, subscriber_id=bap.subscriber_id, unique_key_id=bap.unique_key_id
    ).to_header()
    r = await harness.client.post(
        "http://gw.test/search", content=body, headers={"Authorization": header}
    )
    assert r.status_code == 200 and r.json()["message"]["ack"]["status"] == "ACK"
    await state.drain()
    assert sorted(name for name, _, _ in received) == ["s1", "s2"]
    for _, got, headers in received:
        assert got == body  # byte-for-byte the buyer's body
        assert headers["authorization"] == header
        gw_header = parse_signature_header(headers["x-gateway-authorization"])
        assert gw_header.subscriber_id == gw.subscriber_id
        verify_request(got, gw_header, gw.signing_public_key)
    await gw_http.aclose()


async def test_gateway_incremental_city_star_reaches_every_city(harness: RegistryHarness) -> None:
    received: list[tuple[str, bytes, dict[str, str]]] = []
    gw = new_keys("gateway.example.test", "g1")
    bap = new_keys("buyer.example.test", "b1")
    s1 = new_keys("s1.example.test", "k1")
    await _register(harness, bap, "buyerApp", ["ONDC:RET12"])
    await _register(harness, s1, "sellerApp", ["ONDC:RET12"], _seller(received, "s1"))
    state = GatewayState()
    gw_http = recording_client(harness.transcript, "gateway", inner=harness.router)
    app = create_gateway_app(
        gw,
        RegistryLookup("http://registry.test", gw_http, version="v1"),
        gw_http,
        request_id="r",
        registry_encryption_public_key="x",
        state=state,
    )
    harness.router.add("gw.test", app)
    body = _search(bap, "ONDC:RET12", city="*")
    header = sign_request(
        body, bap.signing_key, subscriber_id=bap.subscriber_id, unique_key_id=bap.unique_key_id
    ).to_header()
    r = await harness.client.post(
        "http://gw.test/search", content=body, headers={"Authorization": header}
    )
    assert r.json()["message"]["ack"]["status"] == "ACK"
    await state.drain()
    assert [n for n, _, _ in received] == ["s1"]
    await gw_http.aclose()


async def test_gateway_refuses_bad_signatures(harness: RegistryHarness) -> None:
    received: list[tuple[str, bytes, dict[str, str]]] = []
    gw = new_keys("gateway.example.test", "g1")
    bap = new_keys("buyer.example.test", "b1")
    s1 = new_keys("s1.example.test", "k1")
    await _register(harness, bap, "buyerApp", ["ONDC:RET16"])
    await _register(harness, s1, "sellerApp", ["ONDC:RET16"], _seller(received, "s1"))
    state = GatewayState()
    gw_http = recording_client(harness.transcript, "gateway", inner=harness.router)
    app = create_gateway_app(
        gw,
        RegistryLookup("http://registry.test", gw_http, version="v1"),
        gw_http,
        request_id="r",
        registry_encryption_public_key="x",
        state=state,
    )
    harness.router.add("gw.test", app)
    body = _search(bap, "ONDC:RET16")
    good = sign_request(
        body, bap.signing_key, subscriber_id=bap.subscriber_id, unique_key_id=bap.unique_key_id
    ).to_header()
    stranger = new_keys("buyer.example.test", "b1")
    cases = {
        "missing": {},
        "tampered": {"Authorization": good, "_body": body.replace(b"Delivery", b"Pickup!!")},
        "wrong key": {
            "Authorization": sign_request(
                body,
                stranger.signing_key,
                subscriber_id=bap.subscriber_id,
                unique_key_id=bap.unique_key_id,
            ).to_header()
        },
        "garbage": {"Authorization": "Signature nonsense"},
    }
    for name, headers in cases.items():
        content = headers.pop("_body", body)
        r = await harness.client.post("http://gw.test/search", content=content, headers=headers)
        assert r.status_code == 401, name
        assert r.json()["error"]["code"] == "10001", name
    # a signer that is not context.bap_id
    other = json.loads(body)
    other["context"]["bap_id"] = "someone.else.test"
    other_body = serialise(other)
    r = await harness.client.post(
        "http://gw.test/search",
        content=other_body,
        headers={
            "Authorization": sign_request(
                other_body,
                bap.signing_key,
                subscriber_id=bap.subscriber_id,
                unique_key_id=bap.unique_key_id,
            ).to_header()
        },
    )
    assert r.status_code == 401
    for junk in (b"", b"[]", b"{}"):
        r = await harness.client.post("http://gw.test/search", content=junk)
        assert r.status_code == 400
    await state.drain()
    assert received == []
    await gw_http.aclose()
