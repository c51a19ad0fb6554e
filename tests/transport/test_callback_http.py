"""The lean callback client (callback_http.py, http1_connection.py) against real local servers:
a raw asyncio server that scripts each answer byte for byte and counts connections, uvicorn for
a real ASGI peer, TLS with a CA made here. The outbound rules are checked with the same refusal
cases as ``test_outbound_trust.py``, through a resolver that answers from a table and a
``create_connection`` that records instead of connecting: nothing leaves loopback.

Parsing properties (chunk sizes and answers split at any byte, the body cap) feed
``Http1Connection`` directly, without sockets.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from test_outbound_trust import PUBLIC_IP, RecordingNetwork, TableResolver, guarded
from transport_doubles import REFUSED_TARGETS, served

from ondc_adapter import callback_http
from ondc_adapter.callback_http import CallbackClient, parse_target
from ondc_adapter.http1_connection import Http1Connection
from ondc_adapter.outbound import AddressPolicy, BoundedResponse, OutboundRefused, post_bounded

ACK = b'{"message":{"ack":{"status":"ACK"}}}'


def answer(status: str = "200 OK", body: bytes = ACK, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def chunked(*chunks: bytes, size_format: bytes = b"%x") -> bytes:
    framed = b"".join(size_format % len(c) + b"\r\n" + c + b"\r\n" for c in chunks if c)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"


# -- a scripted server ------------------------------------------------------------------------


@dataclass
class Received:
    head: bytes  # request line and headers
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.decode().split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


# (request, its index on its connection, writer) -> keep the connection open?
Responder = Callable[[Received, int, asyncio.StreamWriter], Awaitable[bool]]


async def ack(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer())
    return True


@dataclass
class RawServer:
    """Serves on 127.0.0.1; each request is answered by ``respond`` (raw bytes)."""

    respond: Responder = ack
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            await self._exchanges(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed or gave up
        except asyncio.CancelledError:
            # stopped at the end of a test: end normally, or Python 3.11's start_server logs
            # the cancelled handler as an error
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    async def _exchanges(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        n = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request = Received(head, b"")
            request.body = await reader.readexactly(int(request.header("content-length") or 0))
            self.requests.append(request)
            keep = await self.respond(request, n, writer)
            await writer.drain()
            n += 1
            if not keep:
                return

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            try:
                yield f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"
            finally:
                if self.handlers:  # handlers still waiting on a connection: let them end
                    _, pending = await asyncio.wait(self.handlers, timeout=0.05)
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending)


def local_client(**kwargs: Any) -> CallbackClient:
    kwargs.setdefault("connect_timeout", 2.0)
    kwargs.setdefault("read_timeout", 2.0)
    return CallbackClient(AddressPolicy(allow_private=True), **kwargs)


async def post(client: CallbackClient, url: str, **kwargs: Any) -> BoundedResponse:
    return await client.post(url, content=b'{"a":1}', headers={}, **kwargs)


# -- exchanges with a real server ---------------------------------------------------------------


async def asgi_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 201 with what it received: path, query, the signature header, body length."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    echo = b"|".join(
        (
            scope["path"].encode(),
            scope["query_string"],
            headers.get(b"authorization", b""),
            headers[b"host"],
            b"%d" % len(body),
        )
    )
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": echo})


async def test_status_and_body_roundtrip_with_uvicorn() -> None:
    body = b'{"context":{}, "pad":"' + b"x" * 6000 + b'"}'
    async with served(asgi_echo) as url, local_client() as client:
        response = await client.post(
            f"{url}/ondc/on_search?x=1",
            content=body,
            headers={"Content-Type": "application/json", "Authorization": 'Signature k="v"'},
        )
    port = url.rsplit(":", 1)[1]
    assert response == BoundedResponse(
        201,
        b'/ondc/on_search|x=1|Signature k="v"|127.0.0.1:%s|%d' % (port.encode(), len(body)),
        False,
    )


async def test_the_request_is_one_write_with_the_expected_head() -> None:
    server = RawServer()
    async with server.running() as url, local_client() as client:
        await client.post(f"{url}/p", content=b"{}", headers={"Content-Type": "application/json"})
    head = server.requests[0].head.decode()
    assert head.startswith("POST /p HTTP/1.1\r\n")
    assert server.requests[0].header("host") == f"127.0.0.1:{server.port}"
    assert server.requests[0].header("content-length") == "2"
    assert server.requests[0].header("connection") == "keep-alive"
    assert server.requests[0].body == b"{}"


async def test_keep_alive_reuses_one_connection() -> None:
    server = RawServer()
    async with server.running() as url, local_client() as client:
        for _ in range(10):
            assert (await post(client, url)).content == ACK
        assert server.connections == 1
        await asyncio.gather(*(post(client, url) for _ in range(8)))
        assert server.connections <= 8
        before = server.connections
        for _ in range(5):
            await post(client, url)
        assert server.connections == before  # all of them kept


async def test_connections_per_host_are_capped() -> None:
    async def slow(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        writer.write(answer())
        return True

    server = RawServer(slow)
    async with server.running() as url, local_client(max_connections_per_host=2) as client:
        answers = await asyncio.gather(*(post(client, url) for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert server.connections == 2


async def test_chunked_answers_are_read_whole_and_the_connection_kept() -> None:
    async def in_pieces(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        data = chunked(b'{"message":', b'{"ack":{"status":"ACK"}}', b"}")
        for i in range(0, len(data), 7):  # chunk sizes and CRLFs split across reads
            writer.write(data[i : i + 7])
            await writer.drain()
            await asyncio.sleep(0)
        return True

    server = RawServer(in_pieces)
    async with server.running() as url, local_client() as client:
        assert (await post(client, url)).content == ACK
        assert (await post(client, url)).content == ACK
    assert server.connections == 1


@pytest.mark.parametrize(
    ("script", "status", "body"),
    [
        (b"HTTP/1.1 100 Continue\r\n\r\n" + answer(), 200, ACK),
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(), 200, ACK),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", 304, b""),
    ],
)
async def test_informational_and_bodiless_answers(script: bytes, status: int, body: bytes) -> None:
    async def scripted(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(script)
        return True

    server = RawServer(scripted)
    async with server.running() as url, local_client() as client:
        assert await post(client, url) == BoundedResponse(status, body, False)
        assert await post(client, url) == BoundedResponse(status, body, False)
    assert server.connections == 1


async def test_an_answer_delimited_by_close_is_read_to_the_end() -> None:
    async def until_close(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + ACK)
        return False

    server = RawServer(until_close)
    async with server.running() as url, local_client() as client:
        assert await post(client, url) == BoundedResponse(200, ACK, False)
        assert await post(client, url) == BoundedResponse(200, ACK, False)
    assert server.connections == 2


async def test_connection_close_is_honoured() -> None:
    async def closing(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(extra="Connection: close\r\n"))
        return True  # the server would even keep it: the client must not reuse it

    server = RawServer(closing)
    async with server.running() as url, local_client() as client:
        for _ in range(3):
            assert (await post(client, url)).content == ACK
    assert server.connections == 3


@pytest.mark.parametrize("chunked_answer", [False, True])
async def test_the_body_is_cut_at_max_bytes_and_the_connection_dropped(
    chunked_answer: bool,
) -> None:
    big = b"x" * 300_000

    async def large(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(chunked(big[:1000], big[1000:]) if chunked_answer else answer(body=big))
        return True

    server = RawServer(large)
    async with server.running() as url, local_client() as client:
        first = await post(client, url, max_bytes=4096)
        assert first == BoundedResponse(200, big[:4096], True)
        exact = await post(client, url, max_bytes=len(big))
        assert exact == BoundedResponse(200, big, False)
    assert server.connections == 2  # the cut connection was not reused


async def test_no_answer_within_the_read_timeout_is_a_read_timeout() -> None:
    async def silent(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(3)
        return False

    server = RawServer(silent)
    async with server.running() as url, local_client(read_timeout=0.2) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(httpx.ReadTimeout):
            await post(client, url)
        assert asyncio.get_running_loop().time() - started < 1.5
        with pytest.raises(httpx.ReadTimeout):  # the per-call timeout wins
            await post(client, url, timeout=0.1)


async def test_the_read_timeout_is_per_chunk_not_per_answer() -> None:
    async def trickle(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for byte in b"12345678":
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
        return True

    server = RawServer(trickle)
    async with server.running() as url, local_client(read_timeout=0.5) as client:
        # 0.8 s in all, longer than the read timeout; 0.1 s between chunks
        assert (await post(client, url)).content == b"12345678"


async def test_a_kept_connection_the_server_closed_is_replaced() -> None:
    async def one_per_connection(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer())
        return False  # closes after answering, without saying Connection: close

    server = RawServer(one_per_connection)
    async with server.running() as url, local_client() as client:
        assert (await post(client, url)).status_code == 200
        await asyncio.sleep(0.1)  # the close arrives while the connection is idle
        assert (await post(client, url)).status_code == 200
    assert server.connections == 2


async def test_a_request_the_server_drops_on_a_reused_connection_is_sent_once_more() -> None:
    # The race the retry is for: the server closes an idle connection just as the client sends
    # on it. Here it reads the second request and closes without a byte of answer.
    async def drop_second(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        if n == 1:
            return False
        writer.write(answer())
        return True

    server = RawServer(drop_second)
    async with server.running() as url, local_client() as client:
        assert (await post(client, url)).status_code == 200
        assert (await post(client, url)).status_code == 200
    assert server.connections == 2 and len(server.requests) == 3


async def test_a_fresh_connection_closed_unanswered_is_not_retried() -> None:
    async def hang_up(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        return False

    server = RawServer(hang_up)
    async with server.running() as url, local_client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await post(client, url)
    assert server.connections == 1


@pytest.mark.parametrize(
    "script",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",  # closed mid-body
        b"HTTP/1.1 200 OK\r\nContent-Le",  # closed mid-head
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
    ],
)
async def test_malformed_or_cut_answers_are_protocol_errors(script: bytes) -> None:
    async def scripted(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(script)
        return False

    server = RawServer(scripted)
    async with server.running() as url, local_client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await post(client, url)


@pytest.mark.parametrize(
    "flood",
    [b"HTTP/1.1 100 Continue\r\n\r\n", b"X-Pad: " + b"a" * 1000, b"X-Pad: a\r\n"],
    ids=["endless 100 Continue", "one endless header", "endless headers"],
)
async def test_an_endless_head_is_cut_off(flood: bytes) -> None:
    async def endless(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n" if flood.startswith(b"X-") else b"")
        while True:
            writer.write(flood * 100)
            await writer.drain()

    server = RawServer(endless)
    async with server.running() as url, local_client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="larger than"):
            await post(client, url)


async def test_redirects_are_returned_not_followed() -> None:
    async def redirect(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer("302 Found", b"", "Location: /elsewhere\r\n"))
        return True

    server = RawServer(redirect)
    async with server.running() as url, local_client() as client:
        response = await post(client, f"{url}/on_search")
    assert response == BoundedResponse(302, b"", False)
    assert len(server.requests) == 1


async def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback_http, "KEEPALIVE_EXPIRY", 0.1)
    server = RawServer()
    async with server.running() as url, local_client() as client:
        await post(client, url)
        await post(client, url)
        await asyncio.sleep(0.15)
        await post(client, url)
    assert server.connections == 2


async def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool() -> None:
    async def slow_first(request: Received, n: int, writer: asyncio.StreamWriter) -> bool:
        if n == 0:
            await asyncio.sleep(0.3)
        writer.write(answer())
        return True

    server = RawServer(slow_first)
    async with server.running() as url, local_client() as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await post(client, url)
        assert (await post(client, url)).content == ACK
    assert server.connections == 2


async def test_a_closed_port_is_a_connect_error() -> None:
    server = RawServer()
    async with server.running():
        pass
    async with local_client() as client:
        with pytest.raises(httpx.ConnectError) as error:
            await post(client, f"http://127.0.0.1:{server.port}/")
    assert not isinstance(error.value, OutboundRefused)


async def test_a_slow_connect_is_a_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "create_connection", never)
    async with local_client(connect_timeout=0.1) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await post(client, "http://127.0.0.1:9/")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nHost: elsewhere"},
        {"X-Evil": "a\nb"},
        {"Bad Name": "x"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
        {"host": "elsewhere"},
        {"X-Text": "caf\u00e9"},
    ],
)
async def test_headers_that_could_change_the_framing_are_refused(headers: dict[str, str]) -> None:
    server = RawServer()
    async with server.running() as url, local_client() as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.post(url, content=b"{}", headers=headers)
    assert server.requests == []


def test_the_target_is_computed_from_the_url() -> None:
    assert parse_target("https://Buyer.Example/ondc/on_search").head == (
        b"POST /ondc/on_search HTTP/1.1\r\nHost: buyer.example\r\n"
    )
    target = parse_target("http://[::1]:8080/a b?q=1 2#frag")
    assert target.head == b"POST /a%20b?q=1%202 HTTP/1.1\r\nHost: [::1]:8080\r\n"
    assert (target.host, target.port, target.tls) == ("::1", 8080, False)
    assert parse_target("http://b.example:80").head.startswith(
        b"POST / HTTP/1.1\r\nHost: b.example\r"
    )


# -- the outbound rules ---------------------------------------------------------------------------


class RecordingConnect:
    """Stands in for ``loop.create_connection``: records the address, never connects."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []
        self.server_hostnames: list[str | None] = []

    async def __call__(self, factory: Any, host: str, port: int, **kwargs: Any) -> Any:
        self.attempts.append((host, port))
        self.server_hostnames.append(kwargs.get("server_hostname"))
        raise ConnectionRefusedError("recorded, not connected")


@pytest.fixture
async def recording(monkeypatch: pytest.MonkeyPatch) -> RecordingConnect:
    """The test's event loop opens no socket: ``create_connection`` records and fails."""
    recorder = RecordingConnect()
    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", recorder)
    return recorder


def checked_client(table: dict[str, list[list[str]]] | None = None) -> CallbackClient:
    return CallbackClient(
        AddressPolicy(allow_private=False),
        TableResolver(table or {}),
        connect_timeout=1.0,
        read_timeout=1.0,
    )


@pytest.mark.parametrize(("url", "table"), REFUSED_TARGETS)
async def test_private_targets_are_refused_before_any_connection(
    recording: RecordingConnect, url: str, table: dict[str, list[list[str]]] | None
) -> None:
    async with checked_client(table) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.post(url, content=b"{}", headers={})
    assert recording.attempts == []
    assert "address" in refused.value.reason
    # word for word what the httpx client says (the dispatcher records it as last_error)
    async with guarded(RecordingNetwork(), table) as http:
        with pytest.raises(OutboundRefused) as by_httpx:
            await post_bounded(http, url, content=b"{}", headers={})
    assert refused.value.reason == by_httpx.value.reason


async def test_a_local_server_is_unreachable_when_private_networks_are_off() -> None:
    server = RawServer()
    async with server.running() as url, checked_client() as client:
        with pytest.raises(OutboundRefused, match=r"loopback address 127\.0\.0\.1"):
            await post(client, url)
    assert server.connections == 0


async def test_the_connection_goes_to_the_address_that_was_checked(
    recording: RecordingConnect,
) -> None:
    table = {"rebind.example": [[PUBLIC_IP], ["127.0.0.1"]]}  # public once, loopback after
    async with checked_client(table) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("http://rebind.example/on_search", content=b"{}", headers={})
        with pytest.raises(OutboundRefused):  # the second lookup is refused, not connected
            await client.post("http://rebind.example/on_search", content=b"{}", headers={})
    assert recording.attempts == [(PUBLIC_IP, 80)]


async def test_only_the_public_addresses_of_a_name_are_tried(
    recording: RecordingConnect,
) -> None:
    table = {"mixed.example": [["127.0.0.1", "10.0.0.1", PUBLIC_IP, "::1"]]}
    async with checked_client(table) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("https://mixed.example/x", content=b"{}", headers={})
    assert recording.attempts == [(PUBLIC_IP, 443)]
    assert recording.server_hostnames == ["mixed.example"]  # TLS checks the name, not the IP


async def test_localhost_names_reach_loopback_without_dns() -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError(f"asked DNS about {host}")

    server = RawServer()
    async with (
        server.running(),
        CallbackClient(
            AddressPolicy(allow_private=True), no_dns, connect_timeout=1.0, read_timeout=1.0
        ) as client,
    ):
        response = await post(client, f"http://buyer.sandbox.localhost:{server.port}/")
    assert response.status_code == 200
    assert server.requests[0].header("host") == f"buyer.sandbox.localhost:{server.port}"


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    async with CallbackClient(
        AddressPolicy(), nxdomain, connect_timeout=1.0, read_timeout=1.0
    ) as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve"):
            await post(client, "http://nowhere.example/")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://buyer.example/x",
        "unix:///var/run/docker.sock",
        "buyer.example/on_search",
        "http://buyer.example:99999/x",
        "http:///on_search",
    ],
)
async def test_non_http_or_malformed_urls_are_refused(
    recording: RecordingConnect, url: str
) -> None:
    async with checked_client() as client:
        with pytest.raises(OutboundRefused):
            await client.post(url, content=b"{}", headers={})
    assert recording.attempts == []


# -- TLS ------------------------------------------------------------------------------------------


@dataclass
class Pki:
    ca_pem: bytes
    server_context: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and a server certificate for ``buyer.test`` signed by it (EC P-256: fast)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "buyer.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("buyer.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("pki")
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Pki(ca.public_bytes(serialization.Encoding.PEM), server_context)


def tls_client(pki: Pki | None, names: list[str]) -> CallbackClient:
    table = {name: [["127.0.0.1"]] for name in names}
    return CallbackClient(
        AddressPolicy(allow_private=True),
        TableResolver(table),
        connect_timeout=2.0,
        read_timeout=2.0,
        ssl_context=pki.client_context() if pki else None,
    )


async def test_tls_to_the_checked_address_verifies_the_host_name(pki: Pki) -> None:
    server = RawServer(ssl_context=pki.server_context)
    async with server.running(), tls_client(pki, ["buyer.test"]) as client:
        for _ in range(3):
            response = await post(client, f"https://buyer.test:{server.port}/on_search")
            assert response == BoundedResponse(200, ACK, False)
    assert server.connections == 1
    assert server.requests[0].header("host") == f"buyer.test:{server.port}"


async def test_tls_with_a_name_the_certificate_does_not_carry_fails(pki: Pki) -> None:
    server = RawServer(ssl_context=pki.server_context)
    async with server.running(), tls_client(pki, ["other.test"]) as client:
        with pytest.raises(httpx.ConnectError, match=r"(?i)hostname|certificate"):
            await post(client, f"https://other.test:{server.port}/on_search")
    assert server.requests == []


async def test_tls_with_an_unknown_ca_fails(pki: Pki) -> None:
    server = RawServer(ssl_context=pki.server_context)
    async with server.running(), tls_client(None, ["buyer.test"]) as client:
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
            await post(client, f"https://buyer.test:{server.port}/on_search")
    assert server.requests == []


# -- the same exchanges on uvloop, the event loop the node runs on ------------------------------

# Tests above that need neither a monkeypatched loop nor a pytest fixture other than ``pki``: run
# once more each on uvloop, whose transports differ from asyncio's (not asyncio.Transport
# subclasses, connection_made called after create_connection returns).
UVLOOP_CASES: list[Callable[..., Awaitable[None]]] = [
    test_status_and_body_roundtrip_with_uvicorn,
    test_the_request_is_one_write_with_the_expected_head,
    test_keep_alive_reuses_one_connection,
    test_connections_per_host_are_capped,
    test_chunked_answers_are_read_whole_and_the_connection_kept,
    test_an_answer_delimited_by_close_is_read_to_the_end,
    test_connection_close_is_honoured,
    functools.partial(test_the_body_is_cut_at_max_bytes_and_the_connection_dropped, False),
    functools.partial(test_the_body_is_cut_at_max_bytes_and_the_connection_dropped, True),
    test_no_answer_within_the_read_timeout_is_a_read_timeout,
    test_the_read_timeout_is_per_chunk_not_per_answer,
    test_a_kept_connection_the_server_closed_is_replaced,
    test_a_request_the_server_drops_on_a_reused_connection_is_sent_once_more,
    test_a_fresh_connection_closed_unanswered_is_not_retried,
    functools.partial(test_malformed_or_cut_answers_are_protocol_errors, b"HTTP/1.1 200 OK\r\n"),
    test_redirects_are_returned_not_followed,
    test_a_cancelled_request_does_not_leave_its_connection_in_the_pool,
    test_a_closed_port_is_a_connect_error,
    test_a_local_server_is_unreachable_when_private_networks_are_off,
    test_localhost_names_reach_loopback_without_dns,
]
UVLOOP_TLS_CASES = [
    test_tls_to_the_checked_address_verifies_the_host_name,
    test_tls_with_a_name_the_certificate_does_not_carry_fails,
    test_tls_with_an_unknown_ca_fails,
]


def case_name(case: Any) -> str:
    return getattr(case, "__name__", None) or f"{case.func.__name__}{case.args}"


@pytest.mark.parametrize("case", UVLOOP_CASES, ids=case_name)
def test_on_uvloop(case: Callable[[], Awaitable[None]]) -> None:
    uvloop.run(case())


@pytest.mark.parametrize("case", UVLOOP_TLS_CASES, ids=case_name)
def test_tls_on_uvloop(case: Callable[[Pki], Awaitable[None]], pki: Pki) -> None:
    uvloop.run(case(pki))


# -- parsing, without sockets ------------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


def exchange(pieces: list[bytes], max_bytes: int = 1 << 20) -> tuple[Http1Connection, Any]:
    """Feed ``pieces`` as separate reads to a fresh connection; its state and result."""
    loop = asyncio.new_event_loop()
    try:
        conn = Http1Connection(loop)
        conn.connection_made(FakeTransport())
        waiter = conn.request(b"POST / HTTP/1.1\r\n\r\n", max_bytes=max_bytes, read_timeout=5)
        for piece in pieces:
            conn.data_received(piece)
        return conn, (waiter.result() if waiter.done() else None)
    finally:
        loop.close()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]  # a transport never delivers empty reads


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
    upper=st.booleans(),
)
def test_chunked_bodies_split_anywhere_parse_whole(
    chunks: list[bytes], cuts: list[int], upper: bool
) -> None:
    data = chunked(*chunks, size_format=b"%X" if upper else b"%x")  # hex of either case
    conn, result = exchange(split(data, cuts))
    assert result == BoundedResponse(200, b"".join(chunks), False)
    assert conn.usable


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=2000),
    max_bytes=st.integers(min_value=0, max_value=2500),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
    use_chunks=st.booleans(),
)
def test_the_body_cap_holds_however_the_answer_arrives(
    body: bytes, max_bytes: int, cuts: list[int], use_chunks: bool
) -> None:
    data = chunked(body[:700], body[700:]) if use_chunks else answer(body=body)
    conn, result = exchange(split(data, cuts), max_bytes=max_bytes)
    truncated = len(body) > max_bytes
    assert result == BoundedResponse(200, body[:max_bytes], truncated)
    assert conn.usable is not truncated


def test_bytes_after_the_answer_make_the_connection_unusable() -> None:
    conn, result = exchange([answer() + b"HTTP/1.1 200 OK\r\n"])
    assert result is not None and result.status_code == 200
    assert not conn.usable
