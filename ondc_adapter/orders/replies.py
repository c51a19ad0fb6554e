"""How an order handler answers: the callback's timestamp, the request's message parsed into
its model, and the one ``on_<action>`` reply (same message_id), with or without an ``error``.

A message that does not parse is answered with code 30000 and the first validation error's
path; a request that names an order we do not have, with ``not_found``; a request in another
retail version than its transaction's, with ``other_version``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.versions import pinned_version_error

M = TypeVar("M", bound=BaseModel)


def callback_time(request: InboundRequest, deps: SellerDeps) -> datetime:
    """Our clock, but never at or before the request's timestamp: LVU requires the callback's
    timestamp to be strictly later, and a peer's clock may run a little ahead of ours."""
    now = deps.now()
    floor = request.context.sent_at + timedelta(milliseconds=1)
    return now if now >= floor else floor


def reply(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    message: dict[str, Any],
    error: Error | None = None,
) -> list[OutboundMessage]:
    return [OutboundMessage.reply(request, message, settings=deps.settings, now=now, error=error)]


def parse(model: type[M], request: InboundRequest) -> tuple[M | None, Error | None]:
    try:
        return model.model_validate(request.message), None
    except ValidationError as exc:
        first = exc.errors()[0]
        path = "message." + ".".join(str(p) for p in first["loc"])
        return None, Error.of(Code.INVALID_REQUEST, first["msg"], path=path)


def not_found(order_id: str | None) -> Error:
    return Error.of(Code.INVALID_ORDER, f"order {order_id} not found", path="message.order_id")


def other_version(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    pinned: str,
    message: dict[str, Any] | None = None,
) -> list[OutboundMessage] | None:
    """The refusal of a request whose ``core_version`` is not ``pinned``, its transaction's
    (kept on the drafts and the order); ``None`` when they agree. Refused in the callback,
    since the edge ACKed the request before the stored version was known; ``message`` is
    empty (or the action's refusal shape), as no body in the transaction's version answers a
    request in another."""
    error = pinned_version_error(request.context, pinned)
    if error is None:
        return None
    return reply(request, deps, now, message or {}, error)
