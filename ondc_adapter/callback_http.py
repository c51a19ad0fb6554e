"""A lean HTTP/1.1 client for the callback path: POST a few KB of signed JSON, read a short ACK.

httpx (with httpcore and h11 under it) spends a lot of Python per request on generality the
dispatcher never uses: URL and header models, an event hook and auth pipeline, a pure-Python
HTTP parser, anyio's stream layers. ``CallbackClient`` does the one exchange directly on
asyncio (uvloop in production) with httptools' C parser (``http1_connection.py``), and keeps
every guarantee ``outbound.py`` documents, using the same rules rather than copies of them:

* **Address check at connect time:** the host is resolved (IP literals as they are, names under
  ``.localhost`` to loopback without DNS, others by the resolver), every address is checked
  with the ``AddressPolicy`` (``CheckedNetworkBackend.addresses``: same rules, same refusal
  text), and the socket is opened to a checked address itself, never by name again (no DNS
  rebinding). TLS verifies the certificate against the host name (``server_hostname``).
* **No redirects** (a 3xx is returned as the answer), **no proxies** (none is ever consulted),
  **no unix sockets** (only TCP to a checked IP is ever opened), **http and https only**.
* **Bounded answers and timeouts:** at most ``max_bytes`` kept (``truncated`` beyond, and the
  connection dropped); a connect timeout per address tried (DNS included), a read timeout for
  each wait for answer data, and the read timeout again for a free connection slot.
* **httpx's exception classes:** ``OutboundRefused`` (a ``ConnectError``) for refusals,
  ``ConnectError`` / ``ConnectTimeout`` / ``ReadTimeout`` / ``PoolTimeout`` /
  ``RemoteProtocolError`` otherwise, so code written against ``post_bounded`` keeps working.

Connections are kept alive per (scheme, host, port), reused last-in first-out (the warmest
socket; the rest age out), dropped after ``KEEPALIVE_EXPIRY`` idle seconds or when the peer
closed them. A request on a reused connection that the peer closed before answering is sent
once more on a fresh connection: the peer never read it (or dropped it unanswered), and callbacks
are at-least-once anyway (the buyer app de-duplicates by message_id). httpcore differs here: it
polls every pooled socket for readability before each reuse (much of its cost under load) and
retries only a connection it saw closed before sending; a close that races the send ends in
"Server disconnected without sending a response".
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from ondc_adapter.http1_connection import ClosedBeforeResponse, Http1Connection
from ondc_adapter.outbound import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AddressPolicy,
    BoundedResponse,
    CheckedNetworkBackend,
    HostResolver,
    OutboundRefused,
    system_resolver,
)

# Seconds idle before a connection is dropped: httpx's default. uvicorn also closes after 5 s,
# so a reuse can race its close; the one retry on a fresh connection covers that.
KEEPALIVE_EXPIRY = 5.0
_SWEEP_EVERY = 1.0  # how often idle connections of every host are checked for expiry
_MAX_TARGETS = 1024  # parsed URLs remembered (callbacks go to few URLs, many times)

# RFC 9110 5.1 token; values: visible ASCII, space and tab (no CR/LF/NUL: no header injection)
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# framing headers are the client's: a second Content-Length or Host would be request smuggling
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"  # RFC 3986 pchar plus '/', and '%' (already escaped)


@dataclass(frozen=True, slots=True)
class _Target:
    """What a URL means for a request, computed once per URL."""

    key: tuple[str, str, int]  # the pool: (scheme, host, port)
    host: str  # ASCII, no brackets: to resolve, and to verify the certificate against
    port: int
    tls: bool
    head: bytes  # request line and Host header


def parse_target(url: str) -> _Target:
    """``url`` as a POST target; ``OutboundRefused`` for anything but a usable http(s) URL."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"refused to send to {scheme!r} URL: only http and https")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise OutboundRefused(f"refused to send to malformed URL {url!r}: {exc}") from None
    if not host:
        raise OutboundRefused(f"refused to send to URL without a host: {url!r}")
    tls = scheme == "https"
    default = 443 if tls else 80
    port = port if port is not None else default
    authority = f"[{host}]" if ":" in host else host
    if port != default:
        authority = f"{authority}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=_PATH_SAFE + '?')}"
    head = f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
    return _Target((scheme, host, port), host, port, tls, head)


def header_lines(headers: dict[str, str]) -> bytes:
    """The caller's headers as wire lines; ``httpx.LocalProtocolError`` for one that is not a
    valid HTTP/1.1 header or is one the client sets itself."""
    lines = []
    for name, value in headers.items():
        if (
            not _HEADER_NAME.fullmatch(name)
            or not _HEADER_VALUE.fullmatch(value)
            or name.lower() in _OWN_HEADERS
        ):
            raise httpx.LocalProtocolError(f"header {name!r} cannot be sent")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("ascii")


class _HostPool:
    """Idle connections to one (scheme, host, port), most recent last, and a slot count."""

    __slots__ = ("idle", "slots", "users")

    def __init__(self, size: int) -> None:
        self.idle: list[Http1Connection] = []
        self.slots = asyncio.Semaphore(size)
        self.users = 0  # requests holding or waiting for a slot

    def take(self, now: float) -> Http1Connection | None:
        """The most recently used idle connection that is still good, or None."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.usable and now - conn.idle_since < KEEPALIVE_EXPIRY:
                conn.on_lost = None
                return conn
            conn.close()
        return None

    def put(self, conn: Http1Connection) -> None:
        conn.on_lost = self._forget
        self.idle.append(conn)

    def expire(self, now: float) -> None:
        """Close idle connections past their expiry (the oldest are first in the list)."""
        idle = self.idle
        while idle and now - idle[0].idle_since >= KEEPALIVE_EXPIRY:
            idle.pop(0).close()

    def _forget(self, conn: Http1Connection) -> None:
        """The peer closed an idle connection: let go of it now, not at its next use."""
        if conn in self.idle:
            self.idle.remove(conn)


class CallbackClient:
    """POSTs with the outbound rules, on kept-alive HTTP/1.1 connections (see the module doc)."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: HostResolver = system_resolver,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections_per_host: int = 32,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_connections_per_host = max_connections_per_host
        # the address rules themselves, not a copy of them (the network backend is never used)
        self._checker = CheckedNetworkBackend(policy, resolver=resolver)
        self._ssl_context = ssl_context
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._targets: dict[str, _Target] = {}
        self._next_sweep = 0.0
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The httpx client's own default: certifi's CA bundle, no SSL_CERT_* from the
        environment, so both clients trust exactly the same buyer apps. Made on first https
        use (loading the CA bundle takes milliseconds)."""
        if self._ssl_context is None:
            context = httpx.create_ssl_context(trust_env=False)
            context.set_alpn_protocols(["http/1.1"])  # what httpcore offers without HTTP/2
            self._ssl_context = context
        return self._ssl_context

    async def __aenter__(self) -> CallbackClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their answer is read."""
        self._closed = True
        for pool in self._pools.values():
            for conn in pool.idle:
                conn.close()
            pool.idle.clear()
        self._pools.clear()

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        timeout: float | None = None,  # noqa: ASYNC109 (one per call, as with post_bounded)
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> BoundedResponse:
        """POST ``content`` to ``url`` and read at most ``max_bytes`` of the answer. A
        ``timeout`` replaces both the connect and the read timeout for this call (as a float
        does for httpx)."""
        if self._closed:
            raise RuntimeError("the callback client is closed")
        target = self._targets.get(url)
        if target is None:
            target = parse_target(url)
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            self._targets[url] = target
        connect_timeout = self.connect_timeout if timeout is None else timeout
        read_timeout = self.read_timeout if timeout is None else timeout
        request = b"".join(
            (
                target.head,
                header_lines(headers),
                b"Content-Length: %d\r\nAccept-Encoding: identity\r\n" % len(content),
                b"Connection: keep-alive\r\n\r\n",
                content,
            )
        )
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._next_sweep:
            self._sweep(now)
        pool = self._pools.get(target.key)
        if pool is None:
            pool = self._pools[target.key] = _HostPool(self.max_connections_per_host)
        pool.users += 1  # counted while waiting too: a sweep must not drop this pool
        try:
            if pool.slots.locked():  # every connection to this host is busy: wait, bounded
                try:
                    async with asyncio.timeout(read_timeout):
                        await pool.slots.acquire()
                except TimeoutError:
                    raise httpx.PoolTimeout(f"no free connection to {target.host}") from None
            else:
                await pool.slots.acquire()
        except BaseException:
            pool.users -= 1
            raise
        try:
            conn = pool.take(now)
            if conn is not None:
                try:
                    return await self._exchange(conn, pool, request, max_bytes, read_timeout)
                except ClosedBeforeResponse:
                    pass  # it was closed as we reused it: once more, on a fresh connection
            conn = await self._connect(target, connect_timeout)
            return await self._exchange(conn, pool, request, max_bytes, read_timeout)
        finally:
            pool.users -= 1
            pool.slots.release()

    async def _exchange(
        self,
        conn: Http1Connection,
        pool: _HostPool,
        request: bytes,
        max_bytes: int,
        read_timeout: float,
    ) -> BoundedResponse:
        try:
            response = await conn.request(request, max_bytes=max_bytes, read_timeout=read_timeout)
        except BaseException:  # failed, or cancelled mid-answer: the connection is spent
            conn.close()
            raise
        if conn.usable and not self._closed:
            pool.put(conn)
        else:
            conn.close()
        return response

    async def _connect(self, target: _Target, timeout: float) -> Http1Connection:  # noqa: ASYNC109
        """A new connection to a checked address of ``target`` (tried in the resolver's
        order); each address gets the whole connect timeout, TLS handshake included."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._checker.addresses(target.host, target.port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"resolving {target.host} timed out") from None
        context = self.ssl_context if target.tls else None
        hostname = target.host if target.tls else None
        problem: httpx.TransportError | None = None
        for ip in addresses:
            try:
                async with asyncio.timeout(timeout):
                    _, conn = await loop.create_connection(
                        lambda: Http1Connection(loop),
                        ip,
                        target.port,
                        ssl=context,
                        server_hostname=hostname,
                    )
                return conn
            except TimeoutError:
                problem = httpx.ConnectTimeout(f"connecting to {target.host} ({ip}) timed out")
            except OSError as exc:  # refused, unreachable, TLS failures (ssl.SSLError)
                problem = httpx.ConnectError(f"cannot connect to {target.host} ({ip}): {exc}")
        assert problem is not None  # addresses() never returns an empty list
        raise problem

    def _sweep(self, now: float) -> None:
        """Expire idle connections of every host, and forget hosts with none left."""
        self._next_sweep = now + _SWEEP_EVERY
        for key, pool in list(self._pools.items()):
            pool.expire(now)
            if not pool.idle and not pool.users:
                del self._pools[key]
