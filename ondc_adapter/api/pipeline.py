"""The inbound pipeline: from raw HTTP bytes to a committed inbox row and an ACK.

    size limit -> content type -> JSON -> admission (backlog vs ttl) -> signatures
    -> signer == sender -> rate limit -> envelope + context -> bap_uri is the registered URL
    -> de-duplicate + record (committed) -> ACK

Admission comes before the signatures: refusing a request the node could not answer in time
must cost less than answering it, or a flood takes the node's capacity with it.

Each step is a small function that either returns a value or raises ``Rejection``; ``handle``
runs them in order and is the only place that turns refusals (and, as a last resort, anything
unexpected) into NACK responses. No request a client can send produces an HTTP 500.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from structlog.contextvars import bind_contextvars

from ondc_adapter.admission import AdmissionControl
from ondc_adapter.api.auth import SignatureVerifier, Verified
from ondc_adapter.api.body import check_content_type, parse_json, read_body
from ondc_adapter.api.nack import Rejection, internal_error, invalid_request
from ondc_adapter.api.targets import check_bap_uri
from ondc_adapter.catalogue.rejections import CatalogRejection
from ondc_adapter.inbox import Inbox, InboxRecord, Recorded
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.protocol.ack import ACK_BODY, Error
from ondc_adapter.protocol.context import BPP_ACTIONS, check_context
from ondc_adapter.protocol.durations import parse_duration
from ondc_adapter.protocol.errors import Code, ErrorType
from ondc_adapter.protocol.messages import Envelope
from ondc_adapter.ratelimit import RateLimiter
from ondc_adapter.settings import Settings

log = get_logger(__name__)


class InboundHeaders(NamedTuple):
    """The few headers the pipeline reads, taken from the ASGI scope in one pass (header
    names there are already lower-case bytes). A NamedTuple: built once per request, and a
    tuple is several times cheaper to create than a frozen dataclass."""

    content_type: str | None = None
    content_length: str | None = None
    authorization: str | None = None
    gateway: str | None = None  # X-Gateway-Authorization, or the legacy Proxy-Authorization

    @classmethod
    def of(cls, scope: Scope) -> InboundHeaders:
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _WANTED and name not in found:
                found[name] = value.decode("latin-1")
        return cls(
            content_type=found.get(b"content-type"),
            content_length=found.get(b"content-length"),
            authorization=found.get(b"authorization"),
            gateway=found.get(b"x-gateway-authorization") or found.get(b"proxy-authorization"),
        )


ACK_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(ACK_BODY)).encode()),
]

_WANTED = frozenset(
    {
        b"content-type",
        b"content-length",
        b"authorization",
        b"x-gateway-authorization",
        b"proxy-authorization",
    }
)


def json_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic ``loc`` -> ``context.timestamp`` / ``message.items[0].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def validate_envelope(data: dict[str, Any], action: str = "") -> Envelope | CatalogRejection:
    """400 NACK 30000 with the JSON path of the first offending field."""
    model: type[Envelope] | type[CatalogRejection] = (
        CatalogRejection if action == "catalog_rejection" else Envelope
    )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = json_path(first["loc"])
        raise invalid_request(f"{path or 'body'}: {first['msg']}", path or None) from None


def check_envelope_context(
    envelope: Envelope | CatalogRejection, *, action: str, settings: Settings, now: datetime
) -> None:
    error = check_context(
        envelope.context,
        action=action,
        bpp_id=settings.subscriber_id,
        domains=settings.domains,
        core_versions=settings.core_versions,
        now=now,
        timestamp_skew=timedelta(seconds=settings.timestamp_skew_seconds),
        bpp_uri=settings.bpp_uri,
        max_ttl=timedelta(seconds=settings.max_request_ttl_seconds),
    )
    if error is not None:
        raise Rejection(400, error)


def _log_context_vars(*names: str) -> tuple[contextvars.ContextVar[Any], ...]:
    """The ContextVars behind structlog's ``bind_contextvars(name=...)`` (what its
    ``merge_contextvars`` processor reads), so the hot path can set and reset them directly:
    ``bind_contextvars``/``reset_contextvars`` build each variable's name and look it up on
    every call (two binds and a reset per request). Bound once in a throwaway context, so
    nothing leaks; a token's ``var`` is the variable it set."""
    tokens = contextvars.Context().run(bind_contextvars, **dict.fromkeys(names))
    return tuple(tokens[name].var for name in names)


def claimed_bap_id(data: dict[str, Any]) -> object:
    context = data.get("context")
    return context.get("bap_id") if isinstance(context, dict) else None


def _log_id(value: object) -> str | None:
    """An id from an unvalidated body, fit for a log field (bounded: the body is untrusted)."""
    return value[:128] if isinstance(value, str) else None


class InboundPipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        verifier: SignatureVerifier,
        inbox: Inbox,
        clock: Callable[[], datetime],
        metrics: NodeMetrics | None = None,
        limiter: RateLimiter | None = None,
        admission: AdmissionControl | None = None,
    ) -> None:
        self.settings = settings
        self.admission = admission
        self.max_ttl = timedelta(seconds=settings.max_request_ttl_seconds)
        self.verifier = verifier
        self.limiter = limiter if limiter is not None else RateLimiter(0)
        self.inbox = inbox
        self.clock = clock
        self.actions = frozenset(BPP_ACTIONS)
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self._ack = self.metrics.ack  # action -> pre-bound counter child
        self._log_action, self._log_transaction, self._log_message = _log_context_vars(
            "action", "transaction_id", "message_id"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI endpoint of ``POST {prefix}/{action}``. Mounted as a raw ASGI route: the ACK
        path is the hot path, so it skips the request/response wrappers and answers with
        pre-built messages."""
        await self.serve(scope, receive, send, scope["path_params"]["action"])

    async def serve(self, scope: Scope, receive: Receive, send: Send, action: str) -> None:
        """Answer one request for ``action`` (``NodeApp`` calls this directly, without the
        router, which is what fills ``path_params``)."""
        response = await self.handle(scope, receive, action)
        if response is None:
            await send({"type": "http.response.start", "status": 200, "headers": ACK_HEADERS})
            await send({"type": "http.response.body", "body": ACK_BODY})
        else:
            await response(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, action: str) -> Response | None:
        """``None`` means ACK (the request is recorded); otherwise the NACK response.

        Every log line written while this request is handled (here, in the verifier, the
        registry client, the inbox) carries ``action`` and, once the body is parsed,
        ``transaction_id`` and ``message_id``: they are bound as structlog context variables
        for the duration of the request."""
        tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = [
            (self._log_action, self._log_action.set(action[:32]))
        ]
        try:
            await self.accept(scope, receive, action, tokens)
        except Rejection as rejection:
            self.metrics.nacked(action, rejection.error.code, rejection.status)
            log.info(
                "inbound.nack",
                status=rejection.status,
                code=rejection.error.code,
                reason=rejection.error.message,
            )
            return rejection.response()
        except Exception as exc:  # last resort: a bug must still answer in protocol terms
            rejection = internal_error("internal error; retry later")
            self.metrics.nacked(action, rejection.error.code, rejection.status)
            log.exception("inbound.unexpected_error", error=repr(exc))
            return rejection.response()
        finally:
            for var, token in reversed(tokens):
                var.reset(token)
        counter = self._ack.get(action)
        if counter is not None:  # accepted means the action is one of ours
            counter.inc()
        return None

    async def accept(
        self,
        scope: Scope,
        receive: Receive,
        action: str,
        tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] | None = None,
    ) -> Recorded:
        """Run the steps; ``tokens`` collects the log context bindings to reset afterwards
        (without it they stay set in the caller's context)."""
        if action not in self.actions:
            raise Rejection(
                404,
                Error.of(
                    Code.INVALID_REQUEST,
                    f"unknown action {action!r}; this node serves {', '.join(BPP_ACTIONS)}",
                ),
            )
        settings = self.settings
        headers = InboundHeaders.of(scope)
        check_content_type(headers.content_type)
        raw = await read_body(receive, settings.max_body_bytes, headers.content_length)
        data = parse_json(raw, max_depth=settings.max_json_depth)
        context = data.get("context")
        if isinstance(context, dict):
            transaction, message = self._log_transaction, self._log_message
            bound = [
                (transaction, transaction.set(_log_id(context.get("transaction_id")))),
                (message, message.set(_log_id(context.get("message_id")))),
            ]
            if tokens is not None:
                tokens.extend(bound)
        if self.admission is not None:
            await self.admission.check(action, self.claimed_ttl(context))
        now = self.clock()
        verified = await self.verifier.verify(
            raw, headers.authorization, headers.gateway, action=action, now=now.timestamp()
        )
        self.verifier.check_sender(verified, claimed_bap_id(data))
        await self.check_rate(verified.signer.subscriber_id)
        envelope = validate_envelope(data, action)
        check_envelope_context(envelope, action=action, settings=settings, now=now)
        # The callback goes to bap_uri: it must be the sender's registered subscriber_url.
        check_bap_uri(envelope.context.bap_uri, verified.signer, envelope.context.domain)
        return await self.record(action, raw, envelope, verified, now)

    def claimed_ttl(self, context: object) -> float:
        """The ttl the body claims, in seconds, within our maximum; 30 s when it claims none
        or one that does not parse (validation later refuses it; admission only needs a
        budget)."""
        ttl = context.get("ttl") if isinstance(context, dict) else None
        try:
            seconds = parse_duration(ttl).total_seconds() if isinstance(ttl, str) else 30.0
        except ValueError:
            seconds = 30.0
        return min(seconds, self.max_ttl.total_seconds())

    async def check_rate(self, sender: str) -> None:
        wait = await self.limiter.over_limit(sender)
        if wait is not None:
            raise Rejection(
                429,
                Error(
                    type=ErrorType.CORE,
                    code=Code.INTERNAL_ERROR.value,
                    message=f"rate limit of {self.limiter.per_second} requests/s for "
                    f"{sender} reached; retry after {wait:.2f}s",
                ),
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )

    async def record(
        self, action: str, raw: bytes, envelope: Envelope | CatalogRejection,
        verified: Verified, now: datetime,
    ) -> Recorded:
        ctx = envelope.context
        entry = InboxRecord(
            action=action,
            bap_id=ctx.bap_id,
            transaction_id=ctx.transaction_id,
            message_id=ctx.message_id,
            body=raw,
            signer=verified.signer.subscriber_id,
            gateway=verified.gateway.subscriber_id if verified.gateway else None,
            received_at=now,
        )
        try:
            result = await self.inbox.record(entry)
        except Exception as exc:
            log.error("inbox.record_failed", error=repr(exc))
            raise internal_error("could not record the request; retry later") from None
        if result is Recorded.DUPLICATE:
            self.metrics.duplicate[action].inc()
            log.info("inbound.duplicate", bap_id=ctx.bap_id)
        return result
