"""Offers in the quote of a retail 1.2.5 transaction (select, init, confirm; docs/offers.md).

The pure engine (``ondc_adapter.offers``) decides which offers apply and by how much; this
module feeds it what pricing found (a ``Cart`` of the priced item lines, the delivery charge,
the store, the stock of the items offers give) and writes its result into the quote the order
handlers already build: the 1.2.0 lines unchanged, then one ``@ondc/org/title_type: "offer"``
line per applied offer, and a price that is the exact sum of the breakup (integer paise).

Where the offers come from: the offer store (``catalogue.offer_store.offers_for``: enabled,
valid at the request's time, in the seller's order), or ``SellerDeps.extras["offer_source"]``,
an async callable ``(session, provider_id, at) -> [Offer]``, when one is given. 1.2.0 never
calls anything in this module (no read is added to its path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import offer_store
from ondc_adapter.exchange import InboundRequest, SellerDeps
from ondc_adapter.offers import Cart, CartLine, GiftStock, Offer, OfferQuote, apply_offers
from ondc_adapter.offers.models import ITEMS_GIVEN
from ondc_adapter.offers.paise import to_paise, to_rupees
from ondc_adapter.offers.render import breakup, read_selection
from ondc_adapter.orders.pricing import Pricing
from ondc_adapter.orders.tables import OrderDraft
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.money import format_money
from ondc_adapter.protocol.versions import RetailVersion

OfferSource = Callable[[AsyncSession, str, datetime], Awaitable[Sequence[Offer]]]
OFFER = "offer"


async def provider_offers(
    session: AsyncSession, deps: SellerDeps, provider_id: str, at: datetime
) -> list[Offer]:
    """The provider's enabled offers valid at ``at``, in the seller's order: the offer store's
    (one read, on the 1.2.5 path only), or ``SellerDeps.extras["offer_source"]``'s when one is
    given (tests, a deployment that keeps offers elsewhere)."""
    source = deps.extras.get("offer_source")
    if source is not None:
        return list(await source(session, provider_id, at))
    return (await offer_store.offers_for(session, [provider_id], at)).get(provider_id, [])


async def request_offers(
    session: AsyncSession, deps: SellerDeps, request: InboundRequest, provider_id: str
) -> list[Offer]:
    """The offers a select or init can get: the provider's, valid when it was sent, for a
    1.2.5 request; none (and no read) for 1.2.0, which has no offers."""
    if request.context.core_version != RetailVersion.V1_2_5:
        return []
    return await provider_offers(session, deps, provider_id, request.context.sent_at)


def gift_item_ids(offers: Iterable[Offer]) -> list[str]:
    """The items freebie and buyXgetY offers give: read with the selection (one statement)."""
    ids = [o.benefit.item_id for o in offers if o.type in ITEMS_GIVEN and o.benefit.item_id]
    return list(dict.fromkeys(ids))


def selection(order: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """``(chosen, declined)`` offer ids of a select/init ``order.offers``."""
    entries = order.get("offers") or []
    return read_selection(e for e in entries if isinstance(e, Mapping))


async def selected_at_select(session: AsyncSession, transaction_id: str) -> set[str]:
    """The offers on_select applied, for an init that names none: the buyer accepted that
    quote, so its offers stay chosen (a 1.2.5 init may repeat or decline them instead).
    One read, on the 1.2.5 path only."""
    order = await session.scalar(
        select(OrderDraft.order).where(
            OrderDraft.transaction_id == transaction_id, OrderDraft.stage == "select"
        )
    )
    if not isinstance(order, dict):
        return set()
    return {
        str(line.get("@ondc/org/item_id"))
        for line in (order.get("quote") or {}).get("breakup") or []
        if line.get("@ondc/org/title_type") == OFFER
    }


def _paise(amount: Decimal) -> int:
    return to_paise(format_money(amount))


def cart_of(pricing: Pricing) -> Cart:
    """The priced selection as the offer engine sees it: item lines at their unit price (the
    counts that can be supplied), the delivery charge, the store and our fulfillment."""
    lines = []
    for line in pricing.quote.lines:
        if line.title_type != "item" or not line.count:
            continue
        rec = pricing.items.get(line.item_id)
        lines.append(
            CartLine(
                item_id=line.item_id,
                unit_price=_paise(line.unit_price or Decimal(0)),
                quantity=line.count,
                category_id=rec.category_id if rec is not None else "",
                title=line.title,
            )
        )
    delivery = sum(
        (line.amount for line in pricing.quote.lines if line.title_type == "delivery"),
        Decimal(0),
    )
    return Cart(
        lines=tuple(lines),
        delivery=_paise(delivery),
        location_id=pricing.location.id,
        fulfillment_id=str(pricing.fulfillment["id"]),
    )


def gift_stock(pricing: Pricing, cart: Cart) -> dict[str, GiftStock]:
    """Units offers may give: in stock beyond what the cart itself takes."""
    stock = {}
    for item_id, rec in pricing.gifts.items():
        in_cart = cart.line(item_id)
        left = (rec.stock if rec.enabled else 0) - (in_cart.quantity if in_cart else 0)
        stock[item_id] = GiftStock(unit_price=_paise(rec.price), available=max(left, 0))
    return stock


@dataclass(frozen=True, slots=True)
class OfferedQuote:
    """The offers a quote got, and the refusal to answer with when the buyer's were not."""

    result: OfferQuote
    error: Error | None

    @property
    def gifts(self) -> list[tuple[str, int]]:
        """(item id, units) the applied offers give: reserved with the order at confirm."""
        return [
            (str(a.offer.benefit.item_id), a.gift_count)
            for a in self.result.applied
            if a.offer.type in ITEMS_GIVEN and a.gift_count > 0
        ]


def apply_to(
    pricing: Pricing,
    offers: Sequence[Offer],
    *,
    at: datetime,
    chosen: Iterable[str] = (),
    declined: Iterable[str] = (),
) -> OfferedQuote:
    """The offers that apply to ``pricing``'s selection at ``at``. A chosen offer refused is
    the error (docs/offers.md: 30006 not valid, 30007 cannot be fulfilled); auto offers that do
    not apply are no error."""
    cart = cart_of(pricing)
    result = apply_offers(
        cart,
        offers,
        at=at,
        chosen=set(chosen),
        declined=set(declined),
        gifts=gift_stock(pricing, cart),
    )
    error = None
    for rejection in result.rejected:
        if rejection.code is not None:
            error = Error.of(rejection.code, f"offer {rejection.offer_id}: {rejection.reason}")
            break
    return OfferedQuote(result, error)


def offer_lines(offered: OfferedQuote, *, gifts_as_validator: bool) -> list[dict[str, Any]]:
    """The quote's offer lines. ``gifts_as_validator``: a freebie or buyXgetY line carries
    minus the worth of the units given (catalogue price less what is paid for them), as ONDC's
    1.2.5 on_select checker demands (every offer line negative, and equal to the item's price
    times the benefit's count); otherwise the spec's line (0.00 for a freebie, count x
    item_value for buyXgetY). See docs/offers.md, conflicts 6 and 7."""
    out = []
    applied = {a.offer.id: a for a in offered.result.applied}
    for entry in breakup(offered.result):
        if entry["@ondc/org/title_type"] != OFFER:
            continue
        done = applied[entry["@ondc/org/item_id"]]
        if gifts_as_validator and done.offer.type in ITEMS_GIVEN:
            worth = done.gift_count * max(done.gift_unit_price - done.paid_per_unit, 0)
            entry["price"] = {"currency": "INR", "value": to_rupees(-worth)}
        out.append(entry)
    return out


def with_offers(quote: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """``quote`` (the 1.2.0 rendering) with the offer lines after its own, its price the exact
    sum of every line."""
    if not lines:
        return quote
    breakup_ = [*quote["breakup"], *lines]
    total = sum(to_paise(line["price"]["value"]) for line in breakup_)
    return {
        "price": {"currency": "INR", "value": to_rupees(total)},
        "breakup": breakup_,
        "ttl": quote["ttl"],
    }


def offer_ids(quote: Mapping[str, Any]) -> list[str]:
    """The ids of the offer lines of a wire quote."""
    return [
        str(line.get("@ondc/org/item_id"))
        for line in quote.get("breakup") or []
        if line.get("@ondc/org/title_type") == OFFER
    ]


def gifts_in(quote: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(item id, units) given by the offer lines of a wire quote (the ``offer`` tag's item)."""
    out = []
    for line in quote.get("breakup") or []:
        if line.get("@ondc/org/title_type") != OFFER:
            continue
        count = int((line.get("@ondc/org/item_quantity") or {}).get("count") or 0)
        tags = (line.get("item") or {}).get("tags") or []
        listing = next((t.get("list") or [] for t in tags if t.get("code") == OFFER), [])
        item_id = next((e.get("value") for e in listing if e.get("code") == "item_id"), None)
        if item_id and count > 0:
            out.append((str(item_id), count))
    return out
