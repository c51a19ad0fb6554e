"""Seller logic for the order actions: ``HANDLERS`` maps select ... support to handlers the
inbox processor calls inside its database transaction (see ``exchange.Handler``).

Each handler answers with exactly one ``on_<action>`` (same message_id, a timestamp after the
request's). Business failures (out of stock, not serviceable, bad reason code) are reported in
the callback's ``error`` with the message the flow expects; the request itself was already
ACKed. A message that does not parse gets an error callback with code 30000 and an empty
message (the edge should have NACKed it; this keeps a bad body from ever becoming a 500).

The handlers live by what they do:

* ``checkout``    select, init and confirm (what is asked priced by ``pricing``)
* ``post_order``  status, track, cancel and update of a confirmed order
* ``feedback``    rating and support
* ``replies``     what they share: the callback's time, parsing, the one reply

This module puts them together: ``HANDLERS``, each run through ``pushing_stock``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.handler import profile_of, push_stock_changes
from ondc_adapter.exchange import Handler, InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.orders.checkout import handle_confirm, handle_init, handle_select
from ondc_adapter.orders.feedback import handle_rating, handle_support
from ondc_adapter.orders.post_order import (
    handle_cancel,
    handle_status,
    handle_track,
    handle_update,
)
from ondc_adapter.protocol.order_requests import REQUEST_MESSAGES

# The message models of the requests, for an edge that wants to NACK bad bodies itself.
REQUEST_MODELS = REQUEST_MESSAGES


def pushing_stock(handler: Handler) -> Handler:
    """``handler``, then, in the same transaction, the incremental ``on_search`` of every item
    whose stock it took or gave back (confirm, cancel, RTO, returns), to subscribed buyer
    apps: their catalogues must not go on offering what sold out."""

    async def run(
        request: InboundRequest, session: AsyncSession, deps: SellerDeps
    ) -> list[OutboundMessage]:
        messages = await handler(request, session, deps)
        await push_stock_changes(session, deps.settings, now=deps.now(), profile=profile_of(deps))
        return messages

    return run


HANDLERS: dict[str, Handler] = {
    action: pushing_stock(handler)
    for action, handler in {
        "select": handle_select,
        "init": handle_init,
        "confirm": handle_confirm,
        "status": handle_status,
        "track": handle_track,
        "cancel": handle_cancel,
        "update": handle_update,
        "rating": handle_rating,
        "support": handle_support,
    }.items()
}
