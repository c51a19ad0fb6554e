"""The typed values that move between the pipeline's boxes (see README "Architecture").

    HTTP edge -> verification -> validation -> inbox -> seller logic -> outbox -> callbacks

* ``InboundRequest``: a verified, context-checked request, as the seller logic receives it.
* ``OutboundMessage``: an ``on_*`` message the seller logic wants delivered (a reply or an
  unsolicited push); the outbox stores it and the dispatcher signs and posts it.
* ``Handler``: the seller logic for one action.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.settings import Settings


@dataclass(frozen=True, slots=True)
class InboundRequest:
    action: str
    context: Context
    message: dict[str, Any]
    received_at: datetime
    signer: str  # subscriber_id of the Authorization header that was verified
    gateway: str | None = None  # subscriber_id of a verified X-Gateway-Authorization


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One ``on_*`` message bound for ``url``. ``body`` is the whole JSON object (context,
    message and optional error) as the exact bytes to sign and send: serialised once, when the
    message is built (compact UTF-8 JSON, ``serialise``), and stored as is by the outbox."""

    action: str
    url: str
    transaction_id: str
    message_id: str
    body: bytes
    expires_at: datetime
    solicited: bool = True

    @property
    def payload(self) -> dict[str, Any]:
        """``body`` parsed (a new object on every access)."""
        return json.loads(self.body)  # type: ignore[no-any-return]

    @classmethod
    def reply(
        cls,
        request: InboundRequest,
        message: dict[str, Any] | str,
        *,
        settings: Settings,
        now: datetime,
        error: Error | None = None,
    ) -> OutboundMessage:
        """The ``on_<action>`` answer to ``request``: same ids, our bpp identity, fresh time.
        The time is never at or before the request's own timestamp: ONDC's log validator
        requires callbacks to be strictly later, and a peer's clock may run ahead of ours.
        ``message`` may be given already serialised (see ``build``)."""
        now = max(now, request.context.sent_at + timedelta(milliseconds=1))
        ctx = request.context.callback_context(
            bpp_id=settings.subscriber_id, bpp_uri=settings.bpp_uri, now=now
        )
        ttl = request.context.ttl_within(timedelta(seconds=settings.max_request_ttl_seconds))
        expires_at = request.context.sent_at + max(ttl, timedelta(seconds=30))
        return cls.build(ctx, message, error=error, expires_at=expires_at)

    @classmethod
    def unsolicited(
        cls,
        base: Context,
        action: str,
        message: dict[str, Any] | str,
        *,
        settings: Settings,
        now: datetime,
        ttl: timedelta = timedelta(minutes=10),
        error: Error | None = None,
    ) -> OutboundMessage:
        """A push in an existing transaction (``on_status``, incremental ``on_search``...):
        same transaction_id, a fresh message_id never used before."""
        ctx = base.model_copy(
            update={
                "action": action,
                "bpp_id": settings.subscriber_id,
                "bpp_uri": settings.bpp_uri,
                "message_id": str(uuid.uuid4()),
                "timestamp": format_timestamp(now),
                "ttl": "PT30S",
            }
        )
        out = cls.build(ctx, message, error=error, expires_at=now + ttl)
        return replace(out, solicited=False)

    @classmethod
    def build(
        cls,
        ctx: Context,
        message: dict[str, Any] | str,
        *,
        error: Error | None,
        expires_at: datetime,
    ) -> OutboundMessage:
        """``message`` is the ``message`` object, or its compact JSON text when the producer
        has it already (``on_search`` pages are built as text: parsing them only to serialise
        them again would double the cost of a big catalogue). Either way the body is the bytes
        ``serialise`` gives for ``{"context": ..., "message": ..., "error": ...}``."""
        text = message if isinstance(message, str) else _dumps(message)
        body = '{"context":' + _dumps(ctx.model_dump(exclude_none=True)) + ',"message":' + text
        if error is not None:
            body += ',"error":' + _dumps(error.model_dump(exclude_none=True, mode="json"))
        return cls(
            action=ctx.action,
            url=callback_url(ctx.bap_uri, ctx.action),
            transaction_id=ctx.transaction_id,
            message_id=ctx.message_id,
            body=(body + "}").encode("utf-8"),
            expires_at=expires_at,
        )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def serialise(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is): the exact bytes signed and sent."""
    return _dumps(payload).encode("utf-8")


def callback_url(bap_uri: str, action: str) -> str:
    return bap_uri + ("" if bap_uri.endswith("/") else "/") + action


@dataclass(frozen=True, slots=True)
class SellerDeps:
    """What seller logic may use besides its database session."""

    settings: Settings
    now: Callable[[], datetime]
    extras: dict[str, Any] = field(default_factory=dict)


# Seller logic for one action. Runs inside the caller's database transaction; whatever it
# returns is written to the outbox in that same transaction.
Handler = Callable[[InboundRequest, AsyncSession, SellerDeps], Awaitable[list[OutboundMessage]]]
