"""Where callbacks may go: a request's ``context.bap_uri`` must be what the registry says.

ONDC's rule is that a participant's URI is the ``subscriber_url`` it registered. A signed request
whose ``bap_uri`` points elsewhere would otherwise make this node POST its answer (and every
later ``on_status``) to any address it can reach. The comparison is exact on scheme, host and
port; the path must be the registered path or a path below it (``/ondc`` admits ``/ondc`` and
``/ondc/v1``, not ``/ondcx``). Where the registry holds URLs per domain, the request's domain
picks them; a record without a domain-specific URL falls back to all of the participant's.

Pure functions: the registry record comes from the signature check's lookup (cached), so this
step costs no I/O; each URL text is parsed once (``_parse`` keeps the last few thousand).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ondc_adapter.api.nack import Rejection
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType
from ondc_adapter.registry import SubscriberRecord

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """The parts of a URL the rule compares."""

    scheme: str
    host: str
    port: int
    path: str  # without a trailing slash; "" for the root

    @classmethod
    def parse(cls, url: str) -> Origin | None:
        """``None`` for anything that is not a plain http(s) URL: user info, a query, a
        fragment, dot segments or an unreadable port have no place in a callback base."""
        return _parse(url)

    def within(self, registered: Origin) -> bool:
        if (self.scheme, self.host, self.port) != (
            registered.scheme,
            registered.host,
            registered.port,
        ):
            return False
        return self.path == registered.path or self.path.startswith(registered.path + "/")


@lru_cache(maxsize=4096)  # bounded: URLs come from requests; a buyer app sends a few
def _parse(url: str) -> Origin | None:
    if "?" in url or "#" in url:  # even empty: the action is appended to the path
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if parts.query or parts.fragment or "\\" in parts.path:
        return None
    segments = [unquote(s) for s in parts.path.split("/")]
    if any(s in (".", "..") or "/" in s for s in segments):
        return None
    return Origin(scheme, host.lower(), port or DEFAULT_PORTS[scheme], parts.path.rstrip("/"))


def registered_urls(record: SubscriberRecord, domain: str | None) -> list[str]:
    """The participant's registered subscriber URLs for ``domain`` (all of them when none is
    registered for that domain specifically)."""
    entries = list(record.registered_urls)
    if not entries and record.subscriber_url:
        entries = [(record.domain or "", record.subscriber_url)]
    for_domain = [url for d, url in entries if domain and d == domain]
    return for_domain or [url for _d, url in entries]


def is_registered_target(url: str, registered: list[str]) -> bool:
    candidate = Origin.parse(url)
    if candidate is None:
        return False
    for base in registered:
        origin = Origin.parse(base)
        if origin is not None and candidate.within(origin):
            return True
    return False


def check_bap_uri(bap_uri: str, record: SubscriberRecord, domain: str | None) -> None:
    """Raise the 400 NACK (CONTEXT-ERROR 30000 at ``context.bap_uri``) unless ``bap_uri`` is
    the registered ``subscriber_url`` of ``record`` or below it."""
    registered = registered_urls(record, domain)
    if is_registered_target(bap_uri, registered):
        return
    if registered:
        shown = " or ".join(registered[:3])
        message = (
            f"context.bap_uri {bap_uri[:200]!r} is not the subscriber_url registered for "
            f"{record.subscriber_id}: {shown}"
        )
    else:
        message = (
            f"context.bap_uri cannot be accepted: the registry gives no subscriber_url for "
            f"{record.subscriber_id}"
        )
    raise Rejection(
        400,
        Error(
            type=ErrorType.CONTEXT,
            code=Code.INVALID_REQUEST.value,
            path="context.bap_uri",
            message=message,
        ),
    )
