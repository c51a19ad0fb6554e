"""Outbound trust (outbound.py, api/targets.py): callbacks go only to the registered URL, and
never to loopback, private, link-local or other non-public addresses unless allowed.

Tests of addresses that are not on this machine (10.x, 169.254.169.254, public names) use a
resolver that answers from a table and a network layer that records connection attempts and
answers from canned bytes: even a bug here sends nothing to any address but loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from transport_doubles import (
    REFUSED_TARGETS,
    BuyerDouble,
    Participant,
    eventually,
    loopback_socket,
    node_settings,
    request_body,
    served,
    url_of,
)

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.api.targets import Origin, is_registered_target, registered_urls
from ondc_adapter.dispatcher import Dispatcher
from ondc_adapter.exchange import OutboundMessage, serialise
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.inbox import InboxEntry
from ondc_adapter.outbound import (
    AddressPolicy,
    OutboundRefused,
    forbidden_reason,
    outbound_client,
    post_bounded,
)
from ondc_adapter.outbox import NACKED, REFUSED, OutboxAttempt, OutboxEntry, enqueue
from ondc_adapter.registry import StaticKeyResolver, SubscriberRecord
from ondc_adapter.storage import Database

ACK = b'{"message":{"ack":{"status":"ACK"}}}'
PUBLIC_IP = "93.184.216.34"


def http_answer(status: str = "200 OK", body: bytes = ACK, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """Opens no socket: records (host, port) of every connection and answers canned bytes."""

    def __init__(self, answer: bytes | None = None) -> None:
        self.attempts: list[tuple[str, int]] = []
        self.answer = answer if answer is not None else http_answer()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None, socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        return httpcore.AsyncMockStream([self.answer])

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TableResolver:
    """DNS from a table; a list of answers is served one per lookup (rebinding)."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def guarded(
    network: RecordingNetwork, table: dict[str, list[list[str]]] | None = None
) -> httpx.AsyncClient:
    return outbound_client(
        allow_private=False, resolver=TableResolver(table or {}), network=network
    )


# -- which addresses -------------------------------------------------------------------------------

REFUSED_ADDRESSES = [
    "127.0.0.1", "127.8.9.10", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.1",
    "169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "0.0.0.0", "::",
    "224.0.0.1", "ff02::1", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.5",
    "::ffff:169.254.169.254", "::127.0.0.1", "2002:7f00:1::1", "2002:a00:5::1",
    "255.255.255.255", "192.0.0.1", "198.18.0.1",
]


@pytest.mark.parametrize("ip", REFUSED_ADDRESSES)
def test_private_and_special_addresses_are_refused(ip: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(ip)) is not None
    assert AddressPolicy(allow_private=False).check(ip) is not None
    assert AddressPolicy(allow_private=True).check(ip) is None


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(ip: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(ip)) is None


@given(st.ip_addresses(v=4))
def test_an_ipv4_mapped_address_is_judged_as_its_ipv4(ip: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert (forbidden_reason(mapped) is None) == (forbidden_reason(ip) is None)


@given(st.integers(min_value=0, max_value=2**24 - 1))
def test_all_of_ten_slash_eight_is_refused(n: int) -> None:
    assert forbidden_reason(ipaddress.IPv4Address((10 << 24) + n)) is not None


# -- the registered URL rule --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://buyer.example/ondc", True),
        ("https://buyer.example/ondc/", True),
        ("https://BUYER.example:443/ondc/v2/", True),
        ("https://buyer.example./ondc", True),
        ("https://buyer.example/ondcx", False),
        ("https://buyer.example/", False),
        ("http://buyer.example/ondc", False),
        ("https://buyer.example:8443/ondc", False),
        ("https://evil.example/ondc", False),
        ("https://buyer.example.evil.example/ondc", False),
        ("https://buyer.example@evil.example/ondc", False),
        ("https://evil.example@buyer.example/ondc", False),
        ("https://buyer.example/ondc/../admin", False),
        ("https://buyer.example/ondc/%2e%2e/admin", False),
        ("https://buyer.example/ondc?x=1", False),
        ("https://buyer.example/ondc#f", False),
        ("https://buyer.example:99999/ondc", False),
        ("ftp://buyer.example/ondc", False),
        ("https:///ondc", False),
    ],
)
def test_bap_uri_must_be_the_registered_url_or_below(url: str, ok: bool) -> None:
    assert is_registered_target(url, ["https://buyer.example/ondc/"]) is ok


def test_a_root_registration_admits_any_path_on_that_origin() -> None:
    assert is_registered_target("https://b.example/any/path/", ["https://b.example/"])
    assert not is_registered_target("https://b.example:444/any", ["https://b.example/"])


def test_per_domain_urls_pick_by_the_request_domain() -> None:
    record = SubscriberRecord(
        "b.example", "k", "BAP", "pub", subscriber_url="https://b.example/r10",
        registered_urls=(("ONDC:RET10", "https://b.example/r10"),
                         ("ONDC:RET12", "https://b.example/r12")),
    )
    assert registered_urls(record, "ONDC:RET12") == ["https://b.example/r12"]
    assert registered_urls(record, "ONDC:RET16") == ["https://b.example/r10",
                                                     "https://b.example/r12"]
    assert SubscriberRecord.from_json(record.to_json()) == record


@given(st.text(max_size=60))
def test_origin_parse_never_raises(text: str) -> None:
    Origin.parse(text)
    Origin.parse("https://b.example/" + text)


# -- the outbound client ---------------------------------------------------------------------

@pytest.mark.parametrize(("url", "table"), REFUSED_TARGETS)
async def test_private_targets_are_refused_before_any_connection(
    url: str, table: dict[str, list[list[str]]] | None
) -> None:
    network = RecordingNetwork()
    async with guarded(network, table) as client:
        with pytest.raises(OutboundRefused) as refused:
            await post_bounded(client, url, content=b"{}", headers={})
    assert network.attempts == []
    assert "address" in refused.value.reason


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    # A rebinding DNS: public at check time, loopback on any later lookup.
    network = RecordingNetwork()
    table = {"rebind.example": [[PUBLIC_IP], ["127.0.0.1"]]}
    async with guarded(network, table) as client:
        answer = await post_bounded(client, "http://rebind.example/on_search", content=b"{}",
                                    headers={})
    assert answer.status_code == 200
    assert network.attempts == [(PUBLIC_IP, 80)]


async def test_a_name_with_public_and_private_addresses_uses_only_the_public_one() -> None:
    network = RecordingNetwork()
    table = {"mixed.example": [["127.0.0.1", "10.0.0.1", PUBLIC_IP]]}
    async with guarded(network, table) as client:
        await post_bounded(client, "http://mixed.example/x", content=b"{}", headers={})
    assert network.attempts == [(PUBLIC_IP, 80)]


async def test_redirects_are_not_followed() -> None:
    network = RecordingNetwork(
        http_answer("302 Found", b"", "Location: http://127.0.0.1:6379/\r\n")
    )
    async with guarded(network, {"buyer.example": [[PUBLIC_IP]]}) as client:
        answer = await post_bounded(client, "http://buyer.example/on_search", content=b"{}",
                                    headers={})
    assert answer.status_code == 302
    assert network.attempts == [(PUBLIC_IP, 80)]


async def test_answers_are_read_only_up_to_the_cap() -> None:
    network = RecordingNetwork(http_answer(body=b"x" * 300_000))
    async with guarded(network, {"buyer.example": [[PUBLIC_IP]]}) as client:
        answer = await post_bounded(client, "http://buyer.example/on_search", content=b"{}",
                                    headers={}, max_bytes=4096)
    assert answer.truncated and len(answer.content) == 4096


async def test_non_http_schemes_are_refused() -> None:
    network = RecordingNetwork()
    async with guarded(network) as client:
        with pytest.raises(OutboundRefused):
            await post_bounded(client, "file:///etc/passwd", content=b"{}", headers={})
    assert network.attempts == []


# -- the dispatcher records a refusal and never retries it ----------------------------------------

@pytest.fixture
def settings(seller_keys_dir: Path, pg_db: Database) -> Any:
    return node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url,
                         allow_private_network=False)


async def put_callback(db: Database, url: str) -> int:
    now = datetime.now(UTC)
    message = OutboundMessage(
        action="on_search", url=url, transaction_id="t-1", message_id=f"m-{now.timestamp()}",
        body=serialise({"context": {"bpp_id": "seller.test"}, "message": {}}),
        expires_at=now + timedelta(seconds=30),
    )
    async with db.session() as s:
        entry = await enqueue(s, message, now=now)
        await s.flush()
        return entry.id


async def row_and_attempts(db: Database, entry_id: int) -> tuple[OutboxEntry, list[Any]]:
    async with db.session() as s:
        row = await s.get(OutboxEntry, entry_id)
        attempts = (await s.execute(
            select(OutboxAttempt).where(OutboxAttempt.outbox_id == entry_id)
        )).scalars().all()
    assert row is not None
    return row, list(attempts)


@pytest.mark.parametrize(
    ("url", "table", "why"),
    [
        ("http://127.0.0.1:8000/ondc/on_search", None, "loopback"),
        ("http://[::1]:8000/on_search", None, "loopback"),
        ("http://10.20.30.40/on_search", None, "private"),
        ("http://169.254.169.254/latest/on_search", None, "link-local"),
        ("http://[::ffff:127.0.0.1]:8000/on_search", None, "loopback"),
        ("http://buyer.internal/on_search", {"buyer.internal": [["10.9.8.7"]]}, "private"),
    ],
)
async def test_a_refused_callback_is_recorded_and_never_retried(
    pg_db: Database, settings: Any, seller_keys_dir: Path, url: str,
    table: dict[str, list[list[str]]] | None, why: str,
) -> None:
    network = RecordingNetwork()
    async with guarded(network, table) as http:
        dispatcher = Dispatcher(pg_db, settings, keys.load_keys(seller_keys_dir), http)
        entry_id = await put_callback(pg_db, url)
        assert await dispatcher.dispatch_once() == 1
        assert await dispatcher.dispatch_once() == 0  # not pending any more: never retried
    row, attempts = await row_and_attempts(pg_db, entry_id)
    assert row.status == REFUSED and why in (row.last_error or "")
    assert len(attempts) == 1 and attempts[0].http_status is None
    assert why in (attempts[0].detail or "")
    assert network.attempts == []
    assert dispatcher.metrics.callback[("on_search", "refused")]._value.get() == 1


async def test_a_redirect_to_loopback_is_not_followed_by_the_dispatcher(
    pg_db: Database, settings: Any, seller_keys_dir: Path
) -> None:
    network = RecordingNetwork(
        http_answer("307 Temporary Redirect", b"", "Location: http://127.0.0.1:6379/\r\n")
    )
    async with guarded(network, {"buyer.example": [[PUBLIC_IP]]}) as http:
        dispatcher = Dispatcher(pg_db, settings, keys.load_keys(seller_keys_dir), http)
        entry_id = await put_callback(pg_db, "http://buyer.example/ondc/on_search")
        await dispatcher.dispatch_once()
    row, attempts = await row_and_attempts(pg_db, entry_id)
    assert row.status == NACKED and attempts[0].http_status == 307
    assert network.attempts == [(PUBLIC_IP, 80)]


# -- over HTTP: a node that checks bap_uri ---------------------------------------------------

def headers(auth: str, gateway: str | None = None) -> dict[str, str]:
    out = {"Content-Type": "application/json", "Authorization": auth}
    if gateway:
        out["X-Gateway-Authorization"] = gateway
    return out


async def inbox_rows(db: Database) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(InboxEntry))).scalar_one()


async def test_a_search_whose_bap_uri_is_not_registered_gets_a_nack_and_no_callback(
    start_node, buyer, buyer_socket, bap, gateway, pg_db
) -> None:
    double, registered = buyer
    stranger = BuyerDouble(double.seller)
    other_socket = loopback_socket()
    unregistered = url_of(other_socket) + "/protocol/"
    async with (
        served(double.app, buyer_socket),
        served(stranger.app, other_socket),
        start_node() as (url, _app),
        httpx.AsyncClient(timeout=10) as client,
    ):
        for bap_uri in (unregistered, registered.rstrip("/") + "x/"):
            body = request_body("search", bap=bap, bap_uri=bap_uri)
            response = await client.post(
                f"{url}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
            )
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["path"] == "context.bap_uri"
            assert registered in error["message"] and error["code"] == "30000"
        assert await inbox_rows(pg_db) == 0

        body = request_body("search", bap=bap, bap_uri=registered + "v2/")  # below: allowed
        ok = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
        )
        assert ok.json() == {"message": {"ack": {"status": "ACK"}}}
        body = request_body("search", bap=bap, bap_uri=registered)
        ok = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
        )
        assert ok.json() == {"message": {"ack": {"status": "ACK"}}}

        async def answered() -> bool:
            return len(double.received) == 1

        await eventually(answered, what="on_search to the registered URL")
        await asyncio.sleep(0.3)  # the dispatcher polls every 0.05 s: later sends would show
    assert stranger.received == []
    assert [c.action for c in double.received] == ["on_search"]


async def test_a_buyer_registered_at_loopback_gets_no_callback_when_private_is_off(
    seller: Participant, seller_keys_dir: Path, pg_db: Database, gateway: Participant
) -> None:
    """Setting off (production): a buyer whose registered URL is on loopback, by address or by
    a name that resolves there, is ACKed (its bap_uri is what it registered), but the callback
    is refused and recorded, and nothing arrives."""
    double = BuyerDouble(seller)
    sock = loopback_socket()
    port = sock.getsockname()[1]
    buyers = [
        Participant("loop.test", "k1", "BAP", subscriber_url=f"http://127.0.0.1:{port}/protocol/"),
        Participant("named.test", "k1", "BAP",
                    subscriber_url=f"http://buyer.sandbox.localhost:{port}/protocol/"),
    ]
    resolver = StaticKeyResolver(
        SubscriberRecord.from_lookup(p.lookup_record()) for p in (*buyers, gateway)
    )
    settings = node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url,
                             allow_private_network=False)
    app = create_app(settings, db=pg_db, key_resolver=resolver, handlers=not_supported_handlers())
    async with served(double.app, sock), served(app) as url, httpx.AsyncClient() as client:
        for who in buyers:
            assert who.subscriber_url is not None
            body = request_body("search", bap=who, bap_uri=who.subscriber_url)
            response = await client.post(
                f"{url}/ondc/search", content=body,
                headers=headers(who.sign(body), gateway.sign(body)),
            )
            assert response.json() == {"message": {"ack": {"status": "ACK"}}}, response.text

        async def refused() -> bool:
            async with pg_db.session() as s:
                rows = (await s.execute(select(OutboxEntry.status))).scalars().all()
            return len(rows) == 2 and set(rows) == {REFUSED}

        await eventually(refused, what="both callbacks refused")
    assert double.received == []
    async with pg_db.session() as s:
        errors = (await s.execute(select(OutboxEntry.last_error))).scalars().all()
    assert all("loopback" in (e or "") for e in errors), errors
    assert orjson.loads(orjson.dumps(errors))  # plain text, fit for the admin API and logs
