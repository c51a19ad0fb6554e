"""Attacks on the protocol endpoints (``POST /ondc/{action}``, ``/ondc/on_subscribe``): fuzzed
bodies and headers, replay after expiry, keys of other subscribers, fake gateways, oversized
and deeply nested JSON. Every answer is a protocol NACK (never 5xx), JSON, and a refused
request leaves every table exactly as it was (``AttackNode.fingerprint``: every row of every
table, not just the row counts)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from attack_node import AttackNode, changed_tables, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ondc_adapter.protocol.context import BPP_ACTIONS
from ondc_adapter.protocol.durations import format_timestamp

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)  # JSON ints the parser takes
    | st.floats(allow_nan=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=20,
)
# What HTTP allows in a header value (visible ASCII, space, tab, obs-text 0x80-0xFF), trimmed;
# anything else never reaches the app (the HTTP layer refuses it first).
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=200,
).map(str.strip).filter(bool) | st.sampled_from([
    'Signature keyId="buyer.example.com|bap-k1|ed25519",algorithm="ed25519",created="1",'
    'expires="9999999999",headers="(created) (expires) digest",signature="AAAA"',
    'Signature keyId="a|b|c"', "Signature", 'Signature keyId="||",created="-1"',
])
CONTEXT_FIELDS = (
    "domain", "country", "city", "action", "core_version", "bap_id", "bap_uri", "bpp_id",
    "bpp_uri", "transaction_id", "message_id", "timestamp", "ttl",
)


def envelope(node: AttackNode, action: str = "search", **context: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "domain": "ONDC:RET16", "country": "IND", "city": "std:080", "action": action,
        "core_version": "1.2.0", "bap_id": node.bap.subscriber_id,
        "bap_uri": "https://buyer.example.com/ondc", "transaction_id": str(uuid.uuid4()),
        "message_id": str(uuid.uuid4()), "timestamp": format_timestamp(datetime.now(UTC)),
        "ttl": "PT30S",
    }
    if action != "search":
        ctx.update(bpp_id=node.settings.subscriber_id, bpp_uri=node.settings.bpp_uri)
    ctx.update(context)
    return {"context": ctx, "message": {"intent": {"item": {"descriptor": {"name": "saree"}}}}}


def signed(node: AttackNode, body: bytes, signer: Any = None, **kwargs: Any) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "Authorization": (signer or node.bap).sign(body, **kwargs)}


def assert_nack(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["message"]["ack"]["status"] == "NACK", data
    return data["error"]


def post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(url, content=body, headers=headers)


# -- fuzzing --------------------------------------------------------------------------------------


@FUZZ
@given(
    action=st.sampled_from([*BPP_ACTIONS, "on_search", "x" * 40, "%00", "admin"]),
    body=st.binary(max_size=300) | json_values.map(orjson.dumps),
    authorization=st.none() | HEADER_TEXT,
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; x"]),
)
def test_unsigned_fuzz_is_refused_without_a_trace(
    node: AttackNode, http: httpx.Client, action: str, body: bytes, authorization: str | None,
    content_type: str,
) -> None:
    headers: dict[str, Any] = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization.encode("latin-1")  # bytes: sent as they are
    before = node.fingerprint()
    response = post(http, f"{node.protocol}/{action}", body, headers)
    record(f"http {response.status_code}")
    assert_nack(response)
    assert response.status_code in (400, 401, 404, 413, 415)
    assert node.fingerprint() == before


@FUZZ
@given(
    field=st.sampled_from(CONTEXT_FIELDS),
    value=json_values,
    action=st.sampled_from(BPP_ACTIONS),
)
def test_signed_envelopes_with_one_bad_context_field(
    node: AttackNode, http: httpx.Client, field: str, value: Any, action: str
) -> None:
    """Correctly signed by the real buyer app, one context field replaced by anything: ACK
    (the value happened to be acceptable) or a 400 NACK naming it, and then no new row."""
    data = envelope(node, action)
    data["context"][field] = value
    body = orjson.dumps(data)
    before = node.fingerprint()
    response = post(http, f"{node.protocol}/{action}", body, signed(node, body))
    record("ack" if response.status_code == 200 else f"nack {response.status_code}")
    if response.status_code == 200:
        after = node.fingerprint()
        assert after["inbox"][0] == before["inbox"][0] + 1
        assert changed_tables(before, after) == {"inbox"}  # recorded, nothing else yet
        return
    error = assert_nack(response)
    assert response.status_code in (400, 401), response.text
    assert node.fingerprint() == before
    if response.status_code == 400 and error.get("path"):
        assert error["path"].startswith(("context", "message", "body")), error


@FUZZ
@given(message=json_values, extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_signed_bodies_with_arbitrary_messages(
    node: AttackNode, http: httpx.Client, message: Any, extra: dict[str, Any]
) -> None:
    data = {**extra, **envelope(node, "select")}
    data["message"] = message
    body = orjson.dumps(data)
    before = node.fingerprint()
    response = post(http, f"{node.protocol}/select", body, signed(node, body))
    record("ack" if response.status_code == 200 else f"nack {response.status_code}")
    if response.status_code != 200:
        assert_nack(response, 400)
        assert node.fingerprint() == before
    else:
        assert changed_tables(before, node.fingerprint()) == {"inbox"}


@FUZZ
@given(body=st.binary(max_size=400) | json_values.map(orjson.dumps))
def test_on_subscribe_fuzz(node: AttackNode, http: httpx.Client, body: bytes) -> None:
    before = node.fingerprint()
    response = http.post(f"{node.protocol}/on_subscribe", content=body,
                         headers={"Content-Type": "application/json"})
    record(f"http {response.status_code}")
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/json")
    assert node.fingerprint() == before


# -- replay, impersonation, fake gateways -------------------------------------------------------


def test_replay_after_expiry_is_refused_and_has_no_second_effect(
    node: AttackNode, http: httpx.Client
) -> None:
    body = orjson.dumps(envelope(node, "select"))
    now = int(time.time())
    headers = signed(node, body, created=now - 1, expires=now + 2)
    first = post(http, f"{node.protocol}/select", body, headers)
    record(n=3)  # first, duplicate, replay
    assert first.status_code == 200, first.text
    node.process()
    after_first = node.fingerprint()
    again = post(http, f"{node.protocol}/select", body, headers)  # inside the window: duplicate
    assert again.status_code == 200
    node.process()
    assert node.fingerprint() == after_first
    while time.time() <= now + 3:
        time.sleep(0.2)
    replay = post(http, f"{node.protocol}/select", body, headers)
    error = assert_nack(replay, 401)
    assert error["code"] == "30016" and "WWW-Authenticate" in replay.headers
    node.process()
    assert node.fingerprint() == after_first


def test_stale_context_timestamp_resigned_is_refused(node: AttackNode, http: httpx.Client) -> None:
    """A captured body re-signed later (even by its own sender) is stale by its timestamp."""
    old = format_timestamp(datetime.fromtimestamp(time.time() - 3600, UTC))
    body = orjson.dumps(envelope(node, "confirm", timestamp=old))
    record()
    before = node.fingerprint()
    error = assert_nack(post(http, f"{node.protocol}/confirm", body, signed(node, body)), 400)
    assert error["code"] in ("30022", "30000")
    assert node.fingerprint() == before


def test_signature_by_another_subscribers_key(node: AttackNode, http: httpx.Client) -> None:
    body = orjson.dumps(envelope(node, "select"))
    record(n=2)
    before = node.fingerprint()
    # keyId of another registered subscriber, context.bap_id of the victim
    error = assert_nack(post(http, f"{node.protocol}/select", body,
                             signed(node, body, signer=node.other)), 401)
    assert error["code"] == "30016"
    # the victim's keyId, signed with the other subscriber's private key
    forged = node.other.sign(body).replace(
        f'keyId="{node.other.subscriber_id}|{node.other.ukid}|',
        f'keyId="{node.bap.subscriber_id}|{node.bap.ukid}|',
    )
    response = post(http, f"{node.protocol}/select", body,
                    {"Content-Type": "application/json", "Authorization": forged})
    assert assert_nack(response, 401)["code"] == "30016"
    assert node.fingerprint() == before


def test_gateway_header_from_a_non_gateway(node: AttackNode, http: httpx.Client) -> None:
    body = orjson.dumps(envelope(node, "search"))
    headers = signed(node, body)
    headers["X-Gateway-Authorization"] = node.fake_gateway.sign(body)
    record(n=2)
    before = node.fingerprint()
    response = post(http, f"{node.protocol}/search", body, headers)
    assert assert_nack(response, 401)["code"] == "30016"
    assert "Proxy-Authenticate" in response.headers
    assert node.fingerprint() == before
    headers["X-Gateway-Authorization"] = node.gateway.sign(body)  # the real gateway: accepted
    assert post(http, f"{node.protocol}/search", body, headers).status_code == 200


def test_oversized_bodies_get_413(node: AttackNode, http: httpx.Client) -> None:
    data = envelope(node, "search")
    data["message"]["padding"] = "x" * (node.settings.max_body_bytes + 10)
    body = orjson.dumps(data)
    record(n=2)
    before = node.fingerprint()
    assert_nack(post(http, f"{node.protocol}/search", body, signed(node, body)), 413)

    def chunks() -> Any:  # no Content-Length: the limit must hold while streaming
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    response = http.post(f"{node.protocol}/search", content=chunks(), headers=signed(node, body))
    assert_nack(response, 413)
    assert node.fingerprint() == before


def test_deeply_nested_json_gets_400(node: AttackNode, http: httpx.Client) -> None:
    before = node.fingerprint()
    record(n=5)  # three depths, the bomb twice
    for depth in (node.settings.max_json_depth + 1, 5_000, 200_000):
        data = envelope(node, "search")
        body = orjson.dumps(data)[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"
        response = post(http, f"{node.protocol}/search", body, signed(node, body))
        assert_nack(response, 413 if len(body) > node.settings.max_body_bytes else 400)
    bomb = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert_nack(post(http, f"{node.protocol}/on_search", bomb, signed(node, bomb)))
    response = http.post(f"{node.protocol}/on_subscribe", content=bomb[:150_000],
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert node.fingerprint() == before


def test_absurd_ttl_is_a_400_not_an_internal_error(node: AttackNode, http: httpx.Client) -> None:
    """Found by the duration fuzz: ``P9999999999D`` overflowed timedelta (OverflowError, not
    ValueError), which the pipeline could only answer with its last-resort 503."""
    before = node.fingerprint()
    for ttl in ("P9999999999D", "P99999999999Y", "PT99999999999999999999H"):
        record()
        body = orjson.dumps(envelope(node, "select", ttl=ttl))
        error = assert_nack(post(http, f"{node.protocol}/select", body, signed(node, body)), 400)
        assert "ttl" in (error.get("path") or "") + error.get("message", "")
    assert node.fingerprint() == before
