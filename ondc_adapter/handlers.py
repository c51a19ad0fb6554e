"""Which seller logic answers which action.

``default_handlers`` starts from ``not_supported_handlers`` (every action answers with a signed,
protocol-valid ``on_*`` carrying ONDC error 40001 "feature not supported" and an empty message:
honest, and no placeholder data) and replaces entries with the real seller logic of the
catalogue and orders packages.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.handler import handle_search
from ondc_adapter.catalogue.rejections import handle_catalog_rejection
from ondc_adapter.exchange import Handler, InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.igm.complainant import handle_on_issue
from ondc_adapter.igm.handler import handle_issue
from ondc_adapter.orders.handlers import HANDLERS as ORDER_HANDLERS
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.context import BPP_ACTIONS
from ondc_adapter.protocol.errors import Code
from ondc_adapter.settings import Settings


def not_supported(action: str) -> Handler:
    async def handle(
        request: InboundRequest, session: AsyncSession, deps: SellerDeps
    ) -> list[OutboundMessage]:
        error = Error.of(
            Code.FEATURE_NOT_SUPPORTED, f"{action} is not supported by this seller node yet"
        )
        return [
            OutboundMessage.reply(request, {}, settings=deps.settings, now=deps.now(), error=error)
        ]

    handle.__name__ = f"{action}_not_supported"
    return handle


def not_supported_handlers() -> dict[str, Handler]:
    handlers = {action: not_supported(action) for action in BPP_ACTIONS}
    # a rejection is stored, never answered: there is no on_catalog_rejection
    handlers["catalog_rejection"] = handle_catalog_rejection
    return handlers


def default_handlers(settings: Settings) -> dict[str, Handler]:
    """Search from the catalogue, every order action from the orders package; anything the
    seller logic does not cover keeps the honest not-supported answer."""
    handlers = not_supported_handlers()
    handlers["search"] = handle_search
    handlers["issue"] = handle_issue
    handlers["on_issue"] = handle_on_issue
    handlers.update({a: h for a, h in ORDER_HANDLERS.items() if a in handlers})
    return handlers
