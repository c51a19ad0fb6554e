"""Server-side request forgery through ``context.bap_uri``: a validly signed request from a
registered buyer app names a callback address that is not its registered ``subscriber_url``
(the node's own Redis or PostgreSQL port, cloud metadata, a private host, a look-alike name).
Every one gets a NACK naming ``context.bap_uri`` and the registered value, leaves no row
anywhere, and produces no callback, now or later (the dispatcher finds nothing to send).

The attack node runs with private networks allowed (its buyer app double is on loopback), so
these requests reach the registered-URL rule; the address rule with the setting off is in
``tests/transport/test_outbound_trust.py`` (recorded connections, no sockets)."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import orjson
import pytest
from attack_node import AttackNode, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_protocol_attacks import assert_nack, envelope, signed

TARGETS = [
    "http://127.0.0.1:6379/",  # the node's Redis
    "http://127.0.0.1:5432/ondc",  # its PostgreSQL
    "http://localhost:8000/admin",  # its own admin API
    "http://[::1]:6379/",
    "http://[::ffff:127.0.0.1]:6379/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://10.0.0.1/ondc",
    "http://192.168.1.1/",
    "http://buyer.example.com.evil.test/ondc",  # look-alike host
    "https://buyer.example.com@127.0.0.1/ondc",  # user info
    "https://buyer.example.com:6379/ondc",  # right host, other port
    "http://buyer.example.com/ondc",  # right host, other scheme
    "https://buyer.example.com/ondc/../../admin",  # path traversal
    "https://buyer.example.com/ondc?next=http://127.0.0.1/",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("target", TARGETS)
def test_a_callback_address_other_than_the_registered_one_is_refused(
    node: AttackNode, http: httpx.Client, target: str
) -> None:
    # The buyer double's URL is registered too (a second URL): it must not widen the rule.
    node.start_buyer()
    before = node.fingerprint()
    received = len(node.buyer.received) if node.buyer else 0
    body = orjson.dumps(envelope(node, bap_uri=target))
    response = http.post(f"{node.protocol}/search", content=body, headers=signed(node, body))
    record(f"http {response.status_code}")
    error = assert_nack(response, 400)
    assert error["path"] == "context.bap_uri", error
    if "registered" in error["message"]:
        assert "https://buyer.example.com/" in error["message"]
    node.process()
    assert node.deliver() == 0  # nothing queued, so nothing sent, now or later
    assert node.fingerprint() == before
    assert node.buyer is not None and len(node.buyer.received) == received


def test_the_registered_url_and_paths_below_it_still_work(
    node: AttackNode, http: httpx.Client
) -> None:
    for bap_uri in ("https://buyer.example.com/ondc", "https://buyer.example.com/"):
        body = orjson.dumps(envelope(node, bap_uri=bap_uri))
        response = http.post(f"{node.protocol}/search", content=body, headers=signed(node, body))
        assert response.json() == {"message": {"ack": {"status": "ACK"}}}, response.text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
@given(
    host=st.sampled_from(["127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "localhost",
                          "buyer.example.com.", "BUYER.EXAMPLE.COM", "buyer.example.co"]),
    port=st.sampled_from(["", ":443", ":80", ":6379"]),
    scheme=st.sampled_from(["http", "https"]),
    path=st.text(alphabet="/.%2e?#@ab", max_size=12),
)
def test_fuzzed_callback_addresses_are_accepted_only_on_the_registered_origin(
    node: AttackNode, http: httpx.Client, host: str, port: str, scheme: str, path: str
) -> None:
    target = f"{scheme}://{host}{port}/{path}"
    body = orjson.dumps(envelope(node, bap_uri=target))
    response = http.post(f"{node.protocol}/search", content=body, headers=signed(node, body))
    assert response.status_code < 500, response.text
    acked = response.json()["message"]["ack"]["status"] == "ACK"
    record("ack" if acked else "nack")
    if acked:  # only the registered origin, with a clean path, may pass
        assert scheme == "https" and port in ("", ":443"), target
        assert host.lower().rstrip(".") == "buyer.example.com", target
        assert "?" not in path and "#" not in path, target
        assert not {".", ".."} & {unquote(s) for s in path.split("/")}, target
    else:
        assert response.json()["error"]["path"] in ("context.bap_uri", "context"), response.text
