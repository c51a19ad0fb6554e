"""Pricing a buyer's selection against the catalogue, for select and init: the provider and
store checked, the quote (availability, serviceability, charges, tax), the order-level refusals
(cash on delivery, minimum order value), the lines an order record keeps and our Delivery
fulfillment (TAT, the store's location and contact).

A refusal of the whole request (unknown or inactive provider, unknown store, store closed)
comes back as an ``Error`` in place of a ``Pricing``; one the buyer app answers by changing its
selection (out of stock, not serviceable, cash on delivery, below the minimum order value) is
``Pricing.error``, next to the quote.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.catalogue.store import LocationRecord
from ondc_adapter.orders.offer import OfferedItem, Seller, read_offer
from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.orders.quote import CatalogueLine, QuoteResult, compute_quote
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import format_duration, parse_duration
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.money import format_money
from ondc_adapter.protocol.order_objects import Fulfillment, OrderItem, Payment, Provider


@dataclass(slots=True)
class Pricing:
    provider: Seller
    location: LocationRecord
    items: dict[str, OfferedItem]
    quote: QuoteResult
    lines: list[dict[str, Any]]
    fulfillment: dict[str, Any]  # our fulfillment: id, type, provider_name, TAT, start...
    error: Error | None
    # items asked for beside the selection (retail 1.2.5: what offers may give), by id
    gifts: dict[str, OfferedItem] = field(default_factory=dict)


def requested_counts(items: list[OrderItem]) -> list[tuple[str, int]]:
    merged: dict[str, int] = {}
    for item in items:
        merged[item.id] = merged.get(item.id, 0) + (item.quantity.count if item.quantity else 1)
    return list(merged.items())


async def price(
    session: AsyncSession,
    policy: OrderPolicy,
    provider_ref: Provider,
    items: list[OrderItem],
    fulfillments: list[Fulfillment] | None,
    payment: Payment | None,
    extra_item_ids: Collection[str] = (),
) -> Pricing | Error:
    """The selection priced. ``extra_item_ids`` are read in the same statement but kept out
    of the quote (``Pricing.gifts``): the items 1.2.5 offers give, whose price and stock the
    offers need; 1.2.0 passes none."""
    # the store asked for (as named, even empty); when the request names none, the
    # provider's first
    named = (
        provider_ref.locations[0].id if provider_ref.locations else items[0].location_id or None
    )
    requested = requested_counts(items)
    asked = [item_id for item_id, _ in requested]
    offer = await read_offer(session, provider_ref.id, named, [*asked, *extra_item_ids])
    if offer is None:
        return Error.of(
            Code.PROVIDER_NOT_FOUND,
            f"provider {provider_ref.id} not found",
            path="message.order.provider.id",
        )
    provider = offer.seller
    if not provider.enabled:
        return Error.of(Code.MERCHANT_INACTIVE, f"provider {provider.id} is not active")
    location = offer.location
    if location is None:
        return Error.of(
            Code.PROVIDER_LOCATION_NOT_FOUND,
            f"location {named or ''} not found",
            path="message.order.provider.locations",
        )
    if location.status == "close":
        return Error.of(Code.MERCHANT_UNAVAILABLE, "the store is not taking orders now")
    records = offer.items
    gifts: dict[str, OfferedItem] = {}
    if extra_item_ids:
        gifts = {i: rec for i, rec in records.items() if i in extra_item_ids}
        wanted = set(asked)
        records = {i: rec for i, rec in records.items() if i in wanted}
    catalogue = {
        rec.id: CatalogueLine(
            id=rec.id,
            title=rec.name,
            unit_price=rec.price,
            # the provider is enabled (a disabled one was refused above)
            available=rec.stock if rec.enabled else 0,
            maximum=rec.max_per_order,
            fulfillment_id=rec.fulfillment_id,
            tax_rate=policy.tax_rate,
        )
        for rec in records.values()
    }
    end = (fulfillments[0].end if fulfillments else None) or None
    end_location = end.location if end is not None else None
    serviceable = True
    if end_location is not None and (end_location.gps or end_location.address):
        area_code = end_location.address.area_code if end_location.address else None
        serviceable = store.is_serviceable(location, end_location.gps, area_code)
    fid = next(iter(records.values())).fulfillment_id if records else "F1"
    if provider.fulfillment_ids and fid not in provider.fulfillment_ids:
        fid = provider.fulfillment_ids[0]
    quote = compute_quote(
        requested, catalogue, policy.charges, serviceable=serviceable, fulfillment_id=fid
    )
    error = quote.error()
    cod = payment is not None and payment.type == "ON-FULFILLMENT"
    if error is None and cod and not all(rec.cod for rec in records.values()):
        error = Error.of(Code.PAYMENT_TYPE_NOT_SUPPORTED, "cash on delivery not available")
    items_total = sum(
        (line.amount for line in quote.lines if line.title_type == "item"), Decimal(0)
    )
    if error is None and provider.min_order_value and items_total < provider.min_order_value:
        error = Error.of(
            Code.BELOW_MIN_ORDER_VALUE,
            f"minimum order value is {format_money(provider.min_order_value)}",
        )
    supplied_records = [records[i] for i, n in quote.supplied.items() if n > 0] or list(
        records.values()
    )
    ship = max((parse_duration(rec.time_to_ship) for rec in supplied_records), default=timedelta(0))
    tat = format_duration(ship + parse_duration(policy.ship_to_delivery))
    lines = [
        {
            "id": rec.id,
            "title": rec.name,
            "unit_price": format_money(rec.price),
            "ordered": quote.supplied.get(rec.id, 0),
            "count": quote.supplied.get(rec.id, 0),
            "tax_rate": str(policy.tax_rate),
            "discount": "0",
            "cancellable": rec.cancellable,
            "returnable": rec.returnable,
            "return_window": rec.return_window,
            "time_to_ship": rec.time_to_ship,
            "fulfillment_id": fid,
        }
        for item_id, _ in requested
        if (rec := records.get(item_id)) is not None
    ]
    ours = {
        "id": fid,
        "type": "Delivery",
        "@ondc/org/provider_name": provider.name,
        "tracking": policy.tracking,
        "@ondc/org/category": policy.fulfillment_category,
        "@ondc/org/TAT": tat,
        "time_to_ship": format_duration(ship) if ship else "PT0S",
        "provider_pan": provider.pan,
        "start": {
            "location": {
                "id": location.id,
                "descriptor": {"name": provider.name},
                "gps": location.gps,
                "address": {
                    k: v
                    for k, v in (
                        ("locality", location.locality or location.street),
                        ("city", location.city),
                        ("area_code", location.area_code),
                        ("state", location.state),
                    )
                    if v
                },
            },
            "contact": {"phone": provider.phone, "email": provider.email},
        },
    }
    return Pricing(provider, location, records, quote, lines, ours, error, gifts)


def provider_of(pricing: Pricing) -> dict[str, Any]:
    return {"id": pricing.provider.id, "locations": [{"id": pricing.location.id}]}
