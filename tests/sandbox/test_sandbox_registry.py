"""The sandbox registry's /subscribe checks and its lookups (protocol.md 2.3-2.5)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from conftest import RegistryHarness, node_app
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from ondc_adapter.keys import new_keys
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.sandbox.onboarding import (
    build_subscribe_request,
    sample_entity,
    site_verification_html,
)
from ondc_adapter.sandbox.registry_messages import (
    LookupRecord,
    VLookupParameters,
    vlookup_signing_string,
)
from ondc_adapter.signing import Ed25519PrivateKey, sign_message, sign_request


async def _subscribe(h: RegistryHarness, body: bytes):
    return await h.client.post(
        "http://registry.test/subscribe",
        content=body,
        headers={"Content-Type": "application/json"},
    )


def _payload(keys, request_id, domains=("ONDC:RET16",), kind="sellerApp", **kw):
    req = build_subscribe_request(
        keys, sample_entity(list(domains), participant_type=kind), request_id=request_id, **kw
    )
    return req


async def test_subscribe_correct_node_is_acked_and_looked_up(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    rid = str(uuid.uuid4())
    harness.add_node(
        keys.subscriber_id, node_app(keys, rid, harness.registry_keys.encryption_public_key)
    )
    response = await _subscribe(harness, _payload(keys, rid).model_dump_json().encode())
    assert response.status_code == 200, response.text
    assert response.json()["message"]["ack"]["status"] == "ACK"
    looked = await harness.client.post(
        "http://registry.test/lookup", json={"subscriber_id": keys.subscriber_id, "type": "BPP"}
    )
    records = [LookupRecord.model_validate(r) for r in looked.json()]
    assert [r.signing_public_key for r in records] == [keys.signing_public_key]
    assert records[0].encr_public_key == keys.encryption_public_key
    assert records[0].status == "SUBSCRIBED" and records[0].domain == "ONDC:RET16"
    # the registry really fetched the page and really sent the challenge
    urls = [e.url for e in harness.transcript.exchanges if e.party == "registry"]
    assert any(u.endswith("/ondc-site-verification.html") for u in urls)
    assert any(u.endswith("/on_subscribe") for u in urls)


async def test_wrong_signing_key_fails_domain_verification(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    other = new_keys("seller.example.test", "k1")
    rid = str(uuid.uuid4())
    # the page is signed with a different key than the one sent in /subscribe
    harness.add_node(
        keys.subscriber_id, node_app(other, rid, harness.registry_keys.encryption_public_key)
    )
    response = await _subscribe(harness, _payload(keys, rid).model_dump_json().encode())
    body = response.json()
    assert body["message"]["ack"]["status"] == "NACK"
    assert body["error"] == {
        "type": "POLICY-ERROR",
        "code": "132",
        "path": None,
        "message": "Domain verification is failed",
    }
    assert harness.store.records == {}


async def test_page_signed_for_another_request_id_fails(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    harness.add_node(
        keys.subscriber_id,
        node_app(keys, "some-other-request-id", harness.registry_keys.encryption_public_key),
    )
    response = await _subscribe(harness, _payload(keys, "rid-1").model_dump_json().encode())
    assert response.json()["error"]["message"] == "Domain verification is failed"


async def test_missing_verification_page(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    harness.add_node(keys.subscriber_id, FastAPI())  # serves nothing
    response = await _subscribe(harness, _payload(keys, "rid").model_dump_json().encode())
    err = response.json()["error"]
    assert (err["code"], err["message"]) == ("132", "ondc-site-verification file is not found")


async def test_page_without_meta_tag(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    app = FastAPI()

    @app.get("/ondc-site-verification.html")
    async def page() -> HTMLResponse:
        return HTMLResponse("<html><head></head><body>hello</body></html>")

    harness.add_node(keys.subscriber_id, app)
    response = await _subscribe(harness, _payload(keys, "rid").model_dump_json().encode())
    assert response.json()["error"]["message"] == "Domain verification is failed"


async def test_wrong_challenge_answer(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    rid = str(uuid.uuid4())
    # the node decrypts with the wrong registry key: its answer cannot be right
    wrong_registry = new_keys("elsewhere.test", "x")
    harness.add_node(keys.subscriber_id, node_app(keys, rid, wrong_registry.encryption_public_key))
    response = await _subscribe(harness, _payload(keys, rid).model_dump_json().encode())
    err = response.json()["error"]
    assert err["code"] == "132"
    assert err["message"].endswith(": Encryption verification is failed")
    assert "/on_subscribe" in err["message"]
    assert harness.store.records == {}


async def test_answer_that_is_not_the_plaintext(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    rid = str(uuid.uuid4())
    liar = FastAPI()

    @liar.get("/ondc-site-verification.html")
    async def page() -> HTMLResponse:
        return HTMLResponse(site_verification_html(keys, rid))

    @liar.post("/on_subscribe")
    async def on_subscribe() -> JSONResponse:
        return JSONResponse({"answer": "not-the-challenge"})

    harness.add_node(keys.subscriber_id, liar)
    response = await _subscribe(harness, _payload(keys, rid).model_dump_json().encode())
    assert response.json()["error"]["message"].endswith("Encryption verification is failed")


async def test_schema_error_is_151(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    data = json.loads(_payload(keys, "rid").model_dump_json())
    del data["message"]["entity"]["key_pair"]
    response = await _subscribe(harness, json.dumps(data).encode())
    assert response.status_code == 400
    err = response.json()["error"]
    assert (err["type"], err["code"]) == ("JSON-SCHEMA-ERROR", "151")
    assert "key_pair" in err["message"]
    for junk in (b"", b"not json", b"[]", b'{"context": 1}'):
        r = await _subscribe(harness, junk)
        assert r.status_code == 400 and r.json()["error"]["code"] == "151"


async def test_stale_timestamp_and_bad_type(harness: RegistryHarness) -> None:
    keys = new_keys("seller.example.test", "k1")
    old = _payload(keys, "rid", now=utcnow() - timedelta(hours=1))
    r = await _subscribe(harness, old.model_dump_json().encode())
    assert r.json()["error"]["message"] == "Timestamp is invalid"
    # ops_no 2 is a seller: registering a buyer app with it is refused
    bad = _payload(keys, "rid", kind="buyerApp")
    bad.context.operation.ops_no = 2
    r = await _subscribe(harness, bad.model_dump_json().encode())
    assert r.json()["error"]["message"] == "Please provide valid Network Participant [0] Type"


async def test_whitelist(harness: RegistryHarness) -> None:
    harness.config.whitelist = {"someone.else"}
    keys = new_keys("seller.example.test", "k1")
    r = await _subscribe(harness, _payload(keys, "rid").model_dump_json().encode())
    assert r.json()["error"]["message"] == "Subscriber Id is not whitelisted"


async def _subscribed(
    harness: RegistryHarness, sid: str, domains=("ONDC:RET16",), kind="sellerApp"
):
    keys = new_keys(sid, "k1")
    rid = str(uuid.uuid4())
    harness.add_node(sid, node_app(keys, rid, harness.registry_keys.encryption_public_key))
    r = await _subscribe(harness, _payload(keys, rid, domains, kind).model_dump_json().encode())
    assert r.json()["message"]["ack"]["status"] == "ACK", r.text
    return keys


async def test_v2_lookup_requires_a_valid_signature(harness: RegistryHarness) -> None:
    caller = await _subscribed(harness, "buyer.example.test", kind="buyerApp")
    await _subscribed(harness, "seller.example.test")
    url = "http://registry.test/v2.0/lookup"
    body = json.dumps({"subscriber_id": "seller.example.test"}).encode()

    r = await harness.client.post(url, content=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "1020"

    header = sign_request(
        body,
        caller.signing_key,
        subscriber_id=caller.subscriber_id,
        unique_key_id=caller.unique_key_id,
    ).to_header()
    r = await harness.client.post(url, content=body + b" ", headers={"Authorization": header})
    assert r.status_code == 401 and r.json()["error"]["code"] == "1020"

    stranger = new_keys("stranger.test", "k1")
    forged = sign_request(
        body, stranger.signing_key, subscriber_id=stranger.subscriber_id, unique_key_id="k1"
    ).to_header()
    r = await harness.client.post(url, content=body, headers={"Authorization": forged})
    assert r.status_code == 401 and r.json()["error"]["code"] == "1020"

    # signed with another key under the subscribed identity
    impostor = sign_request(
        body,
        stranger.signing_key,
        subscriber_id=caller.subscriber_id,
        unique_key_id=caller.unique_key_id,
    ).to_header()
    r = await harness.client.post(url, content=body, headers={"Authorization": impostor})
    assert r.status_code == 401 and r.json()["error"]["code"] == "1020"

    r = await harness.client.post(url, content=body, headers={"Authorization": "garbage"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "1020"

    r = await harness.client.post(url, content=body, headers={"Authorization": header})
    assert r.status_code == 200
    assert [x["subscriber_id"] for x in r.json()] == ["seller.example.test"]


async def test_v1_lookup_filters(harness: RegistryHarness) -> None:
    await _subscribed(harness, "a.example.test", ("ONDC:RET16", "ONDC:RET12"))
    await _subscribed(harness, "b.example.test", ("ONDC:RET12",))
    await _subscribed(harness, "buyer.example.test", ("ONDC:RET12",), kind="buyerApp")

    async def ids(query):
        r = await harness.client.post("http://registry.test/lookup", json=query)
        assert r.status_code == 200
        return sorted({x["subscriber_id"] for x in r.json()})

    assert await ids({"type": "BPP", "domain": "ONDC:RET12"}) == [
        "a.example.test",
        "b.example.test",
    ]
    assert await ids({"type": "sellerApp", "domain": "ONDC:RET16"}) == ["a.example.test"]
    assert await ids({"type": "BAP"}) == ["buyer.example.test"]
    assert await ids({"domain": "ONDC:RET12", "city": "std:080"}) == [
        "a.example.test",
        "b.example.test",
        "buyer.example.test",
    ]
    r = await harness.client.post("http://registry.test/lookup", json={"type": "nonsense"})
    assert r.status_code == 400


async def test_seed_file(harness: RegistryHarness, tmp_path) -> None:
    keys = new_keys("seeded.example.test", "s1")
    record = {
        "subscriber_id": keys.subscriber_id,
        "status": "SUBSCRIBED",
        "ukId": "s1",
        "subscriber_url": "http://seeded.example.test/ondc",
        "country": "IND",
        "domain": "ONDC:RET16",
        "valid_from": keys.valid_from,
        "valid_until": keys.valid_until,
        "type": "BPP",
        "signing_public_key": keys.signing_public_key,
        "encr_public_key": keys.encryption_public_key,
        "created": keys.valid_from,
        "updated": keys.valid_from,
        "br_id": "seed",
        "city": "std:080",
    }
    path = tmp_path / "participants.json"
    path.write_text(json.dumps([record]))
    assert harness.store.seed_file(path) == 1
    r = await harness.client.post("http://registry.test/lookup", json={"ukId": "s1"})
    assert r.json() == [record]
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(ValueError):
        harness.store.seed_file(path)


# --- one subscriber_id, one set of keys; ops_no 6 rotates them ----------------------------------


async def _lookup_keys(harness: RegistryHarness, sid: str) -> set[tuple[str, str]]:
    r = await harness.client.post("http://registry.test/lookup", json={"subscriber_id": sid})
    return {(x["ukId"], x["signing_public_key"]) for x in r.json()}


def _serve(harness: RegistryHarness, keys, request_id: str) -> None:
    """(Re)point the subscriber's site at a node serving ``keys``."""
    harness.add_node(
        keys.subscriber_id, node_app(keys, request_id, harness.registry_keys.encryption_public_key)
    )


async def test_other_keys_for_an_existing_subscriber_need_key_rotation(
    harness: RegistryHarness,
) -> None:
    sid = "seller.example.test"
    old = await _subscribed(harness, sid)
    new = new_keys(sid, "k2")

    # ops_no 2 with other keys: refused before the registry even calls the node
    rid = str(uuid.uuid4())
    _serve(harness, new, rid)
    calls = len(harness.transcript.exchanges)
    r = await _subscribe(harness, _payload(new, rid).model_dump_json().encode())
    assert r.json()["error"] == {
        "type": "POLICY-ERROR", "code": "132", "path": None,
        "message": "Subscriber id already exists",
    }
    assert not [e for e in harness.transcript.exchanges[calls:] if e.party == "registry"]
    assert await _lookup_keys(harness, sid) == {("k1", old.signing_public_key)}
    # the same ukId with another key is "other keys" too
    same_ukid = new_keys(sid, "k1")
    _serve(harness, same_ukid, rid)
    r = await _subscribe(harness, _payload(same_ukid, rid).model_dump_json().encode())
    assert r.json()["error"]["message"] == "Subscriber id already exists"

    # the same keys again (here: adding a domain) is fine
    rid = str(uuid.uuid4())
    _serve(harness, old, rid)
    again = _payload(old, rid, ("ONDC:RET16", "ONDC:RET12"))
    r = await _subscribe(harness, again.model_dump_json().encode())
    assert r.json()["message"]["ack"]["status"] == "ACK", r.text
    r = await harness.client.post("http://registry.test/lookup", json={"subscriber_id": sid})
    assert sorted(x["domain"] for x in r.json()) == ["ONDC:RET12", "ONDC:RET16"]

    # ops_no 6: key rotation replaces the keys (after the usual onboarding checks)
    rid = str(uuid.uuid4())
    _serve(harness, new, rid)
    rotate = _payload(new, rid)
    rotate.context.operation.ops_no = 6
    r = await _subscribe(harness, rotate.model_dump_json().encode())
    assert r.json()["message"]["ack"]["status"] == "ACK", r.text
    assert await _lookup_keys(harness, sid) == {("k2", new.signing_public_key)}

    # the old key no longer signs a v2 lookup; the new one does
    body = json.dumps({"subscriber_id": sid}).encode()
    for keys, status in ((old, 401), (new, 200)):
        header = sign_request(
            body, keys.signing_key, subscriber_id=sid, unique_key_id=keys.unique_key_id
        ).to_header()
        r = await harness.client.post(
            "http://registry.test/v2.0/lookup", content=body, headers={"Authorization": header}
        )
        assert r.status_code == status, (keys.unique_key_id, r.text)


async def test_key_rotation_checks_like_a_subscribe(harness: RegistryHarness) -> None:
    # nothing to rotate
    keys = new_keys("nobody.example.test", "k1")
    rid = str(uuid.uuid4())
    _serve(harness, keys, rid)
    rotate = _payload(keys, rid)
    rotate.context.operation.ops_no = 6
    r = await _subscribe(harness, rotate.model_dump_json().encode())
    assert r.json()["error"]["code"] == "132"
    assert r.json()["error"]["message"].startswith("Subscriber id does not exist")
    assert harness.store.records == {}

    # a rotation to keys whose site page is signed by someone else: refused, old keys kept
    sid = "seller.example.test"
    old = await _subscribed(harness, sid)
    new, other = new_keys(sid, "k2"), new_keys(sid, "k2")
    rid = str(uuid.uuid4())
    _serve(harness, other, rid)
    rotate = _payload(new, rid)
    rotate.context.operation.ops_no = 6
    r = await _subscribe(harness, rotate.model_dump_json().encode())
    assert r.json()["error"]["message"] == "Domain verification is failed"
    assert await _lookup_keys(harness, sid) == {("k1", old.signing_public_key)}


# --- /vlookup -----------------------------------------------------------------------------------

TV1_PRIVATE = (
    "lP3sHA+9gileOkXYJXh4Jg8tK0gEEMbf9yCPnFpbldhrAY+NErqL9WD+Vav7TE5tyVXGXBle9ONZi2W7o144eQ=="
)


def test_vlookup_signing_string_matches_the_reference_vector() -> None:
    """protocol.md TV5: country|domain|type|city|subscriber_id signed with the TV1 key."""
    params = VLookupParameters(
        country="IND", domain="ONDC:RET10", type="sellerApp", city="std:080",
        subscriber_id="ondc.org",
    )
    text = vlookup_signing_string(params)
    assert text == "IND|ONDC:RET10|sellerApp|std:080|ondc.org"
    assert params.signing_strings() == [text]
    signature = sign_message(Ed25519PrivateKey.from_base64(TV1_PRIVATE), text)
    assert signature == (
        "m69VWggn4+bZwEpsiJ39kHMryLvEuaVdpqjX38SofZfkRmUUbtyNgvYyQmLFAYvmfLwPCM7G1DeafLcTirS9DA=="
    )
    # missing fields: the Node SDK form keeps empty slots, the Python layer drops them
    partial = VLookupParameters(domain="ONDC:RET10", type="sellerApp")
    assert partial.signing_strings() == ["|ONDC:RET10|sellerApp||", "ONDC:RET10|sellerApp"]


def _vlookup_body(sender, params: dict, *, sign_over: dict | None = None, key=None,
                  style: int = 0) -> dict:
    signed = VLookupParameters.model_validate(sign_over or params).signing_strings()
    text = signed[min(style, len(signed) - 1)]
    return {
        "sender_subscriber_id": sender.subscriber_id,
        "request_id": str(uuid.uuid4()),
        "timestamp": "2024-01-01T10:00:00.000Z",
        "search_parameters": params,
        "signature": sign_message(key or sender.signing_key, text),
    }


async def test_vlookup_answers_only_signed_searches(harness: RegistryHarness) -> None:
    caller = await _subscribed(harness, "buyer.example.test", kind="buyerApp")
    await _subscribed(harness, "a.example.test", ("ONDC:RET16", "ONDC:RET12"))
    await _subscribed(harness, "b.example.test", ("ONDC:RET12",))
    await _subscribed(harness, "gw.example.test", ("ONDC:RET12",), kind="gateway")
    url = "http://registry.test/vlookup"

    async def ask(body: dict) -> tuple[int, object]:
        r = await harness.client.post(url, json=body)
        return r.status_code, r.json()

    def ids(records) -> list[str]:
        return sorted({r["subscriber_id"] for r in records})

    sellers = {"country": "IND", "domain": "ONDC:RET12", "type": "sellerApp",
               "city": "std:080"}
    status, records = await ask(_vlookup_body(caller, sellers))
    assert status == 200 and ids(records) == ["a.example.test", "b.example.test"]
    assert {r["type"] for r in records} == {"BPP"}  # type mapping sellerApp -> BPP
    status, records = await ask(_vlookup_body(caller, {**sellers, "type": "gateway"}))
    assert status == 200 and ids(records) == ["gw.example.test"]
    assert {r["type"] for r in records} == {"BG"}
    status, records = await ask(_vlookup_body(caller, {**sellers, "type": "BG"}))
    assert ids(records) == ["gw.example.test"]
    one = {**sellers, "domain": "ONDC:RET16", "subscriber_id": "a.example.test"}
    status, records = await ask(_vlookup_body(caller, one))
    assert status == 200 and [r["domain"] for r in records] == ["ONDC:RET16"]
    # both joins of a partial search are accepted
    partial = {"domain": "ONDC:RET16", "type": "sellerApp"}
    for style in (0, 1):
        status, records = await ask(_vlookup_body(caller, partial, style=style))
        assert status == 200 and ids(records) == ["a.example.test"], style

    # signed for other parameters, by a stranger, by nobody known, or not at all
    stranger = new_keys("stranger.test", "k1")
    refused = [
        _vlookup_body(caller, sellers, sign_over={**sellers, "domain": "ONDC:RET16"}),
        _vlookup_body(caller, sellers, key=stranger.signing_key),
        _vlookup_body(stranger, sellers),
        {**_vlookup_body(caller, sellers), "signature": "not base64!"},
    ]
    for body in refused:
        status, answer = await ask(body)
        assert status == 401 and answer["error"]["code"] == "1020", answer
    status, answer = await ask(_vlookup_body(stranger, sellers))
    assert "not subscribed" in answer["error"]["message"]

    good = _vlookup_body(caller, sellers)
    for bad in (
        {k: v for k, v in good.items() if k != "signature"},
        {**good, "timestamp": "yesterday"},
        {**good, "search_parameters": {**sellers, "type": "warehouse"}},
        {**good, "search_parameters": {**sellers, "colour": "blue"}},
    ):
        status, answer = await ask(bad)
        assert status == 400 and answer["error"]["code"] == "1001", answer
