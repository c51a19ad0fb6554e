"""The one HTTP client for everything the node sends out: callbacks, registry calls, fetches.

A signed request names its own callback address (``context.bap_uri``), so an outbound call is a
lever an outsider can pull. The pipeline ties that address to the registry's ``subscriber_url``
(``api/targets.py``); this module makes sure that even a registered name cannot point the node
at itself or at the operator's private network (server-side request forgery):

* **Address check at connect time.** The host is resolved here, every resolved address is
  checked, and the connection is opened to the checked address itself, never by name again, so
  a DNS answer that changes between check and connect (rebinding) cannot swap the target. TLS
  still verifies the certificate against the host name (httpcore passes it as SNI).
* **Refused ranges:** loopback, private (RFC 1918, ULA), link-local (169.254/16, fe80::/10,
  cloud metadata), multicast, unspecified, shared (100.64/10) and every other non-global range,
  IPv4 and IPv6, including IPv4-mapped (``::ffff:127.0.0.1``) and 6to4/Teredo-embedded IPv4.
  ``ONDC_ALLOW_PRIVATE_NETWORK=true`` lifts this for local networks (the sandbox, tests).
* **Names under ``.localhost``** resolve to loopback without asking DNS (RFC 6761 6.3), so local
  parties can be named as hosts (``buyer.sandbox.localhost``) and still reach each other.
* **No redirects, bounded bodies, timeouts.** A 3xx is an answer, never followed; at most
  ``max_response_bytes`` of a body are read; connect and read each have a timeout.
* **No proxies from the environment** (``trust_env=False``): a proxy would connect on our
  behalf to whatever the name resolves to at its end.

A refused call raises ``OutboundRefused`` (an ``httpx.ConnectError``, so callers that treat
connection errors as "no answer" keep working); the dispatcher records it as refused and never
retries it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# host, port -> the addresses to try, in order (strings, IPv4 or IPv6)
HostResolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
LOOPBACK_NAMES = ("127.0.0.1", "::1")


class OutboundRefused(httpx.ConnectError):
    """The target is not one the node may connect to; ``reason`` says why (safe to log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_localhost_name(host: str) -> bool:
    """``localhost`` and every name under ``.localhost`` (RFC 6761: always loopback)."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries: mapped (::ffff:a.b.c.d), compatible
    (::a.b.c.d, deprecated but still routed by some stacks), 6to4 (2002::/16), Teredo."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] not in (bytes(4), b"\x00\x00\x00\x01"):
        return ipaddress.IPv4Address(packed[12:])
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or ``None`` when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = forbidden_reason(inner)
            return f"{why} (inside IPv6 {address})" if why else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {address}"
    if not address.is_global:  # 100.64/10 (carrier-grade NAT) and other special ranges
        return f"non-public address {address}"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer (getaddrinfo)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.append(ip)
    return seen


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be connected to."""

    allow_private: bool = False

    def check(self, ip: str) -> str | None:
        """Why ``ip`` is refused (``None``: allowed)."""
        if self.allow_private:
            return None
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            return f"unreadable address {ip!r}"
        return forbidden_reason(address)


class CheckedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the address check in front: resolve, check, connect to
    the checked address. ``inner`` opens the sockets (tests pass one that records instead)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: HostResolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` a connection may use; ``OutboundRefused`` if none."""
        literal = host.strip("[]")
        try:
            ipaddress.ip_address(literal.split("%", 1)[0])
            candidates = [literal]
        except ValueError:
            try:
                # RFC 6761 6.3: never ask DNS about .localhost, it is always loopback.
                if is_localhost_name(host):
                    candidates = list(LOOPBACK_NAMES)
                else:
                    candidates = await self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not candidates:
            raise httpx.ConnectError(f"{host} resolves to no address")
        allowed, reasons = [], []
        for ip in candidates:
            why = self.policy.check(ip)
            if why is None:
                allowed.append(ip)
            else:
                reasons.append(why)
        if not allowed:
            raise OutboundRefused(
                f"refused to connect to {host}: {'; '.join(reasons)} "
                "(private networks are off; ONDC_ALLOW_PRIVATE_NETWORK=true allows them)"
            )
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        problem: Exception | None = None
        for ip in await self.addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    ip,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                problem = exc
        assert problem is not None  # addresses() never returns an empty list
        raise problem

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("unix sockets are not an outbound target")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own HTTP transport over ``CheckedNetworkBackend``."""

    def __init__(
        self,
        backend: CheckedNetworkBackend,
        *,
        limits: httpx.Limits,
        verify: typing.Any = True,
    ) -> None:
        # httpx's own __init__ only builds ``self._pool`` (with an SSL context of its own, ~15 ms);
        # building the checked pool instead of calling it keeps that to one context.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def local_transport(limits: httpx.Limits | None = None) -> CheckedTransport:
    """A transport for networks where every party is local (the sandbox, tests): private
    addresses allowed, names under .localhost resolved to loopback."""
    return CheckedTransport(
        CheckedNetworkBackend(AddressPolicy(allow_private=True)),
        limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


def outbound_client(
    *,
    allow_private: bool,
    connect_timeout: float = 3.0,
    read_timeout: float = 5.0,
    resolver: HostResolver = system_resolver,
    network: httpcore.AsyncNetworkBackend | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the rules above. ``resolver`` and ``network`` are seams for
    tests (a resolver that answers 10.0.0.5, a network that records connection attempts)."""
    backend = CheckedNetworkBackend(
        AddressPolicy(allow_private=allow_private), resolver=resolver, inner=network
    )
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(
        transport=CheckedTransport(backend, limits=limits),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class BoundedResponse:
    status_code: int
    content: bytes
    truncated: bool  # the body was longer than the cap; ``content`` is its first part


async def post_bounded(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109 (passed to httpx)
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> BoundedResponse:
    """POST and read at most ``max_bytes`` of the answer (a peer cannot make us buffer a
    gigabyte, or keep us reading forever: the read timeout covers each chunk)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"refused to send to {scheme!r} URL: only http and https")
    kwargs: dict[str, typing.Any] = {"content": content, "headers": headers}
    if timeout is not None:
        kwargs["timeout"] = timeout
    async with client.stream("POST", url, **kwargs) as response:
        body = bytearray()
        truncated = False
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                del body[max_bytes:]
                truncated = True
                break
        return BoundedResponse(response.status_code, bytes(body), truncated)
