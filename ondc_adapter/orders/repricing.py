"""Re-pricing a confirmed order when units leave it (a cancel, a part cancel, a refunded
return): the record's quote and line counts set for what is left, the forward fulfillment's
items rebuilt, and the ``quote_trail`` (what changed) for the fulfillment that took the units
out. The prices, tax and charges are the order's own, as confirmed, not today's catalogue.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from ondc_adapter.orders.build import forward_fulfillment
from ondc_adapter.orders.quote import (
    CatalogueLine,
    Charges,
    QuoteResult,
    compute_quote,
    trail,
    without_fulfillment_charges,
)
from ondc_adapter.orders.tables import OrderRecord


def charges_of(record: OrderRecord) -> Charges:
    c = record.charges
    return Charges(
        Decimal(c.get("delivery", "0")),
        Decimal(c.get("packing", "0")),
        Decimal(c.get("convenience", "0")),
    )


def price_lines(
    lines: list[dict[str, Any]], counts: dict[str, int], charges: Charges, fulfillment_id: str
) -> QuoteResult:
    catalogue = {
        line["id"]: CatalogueLine(
            id=line["id"],
            title=line["title"],
            unit_price=Decimal(line["unit_price"]),
            available=counts[line["id"]],
            maximum=counts[line["id"]],
            fulfillment_id=fulfillment_id,
            tax_rate=Decimal(line.get("tax_rate", "0")),
            discount=Decimal(line.get("discount", "0")),
        )
        for line in lines
    }
    requested = [(line["id"], counts[line["id"]]) for line in lines]
    return compute_quote(
        requested, catalogue, charges, fulfillment_id=fulfillment_id, check_availability=False
    )


def reprice(
    record: OrderRecord, new_counts: dict[str, int], *, drop_charges: bool = False
) -> list[tuple[str, str, Decimal]]:
    """Set the record's quote for ``new_counts``; returns the quote trail (what changed)."""
    fid = forward_fulfillment(record)["id"]
    old_counts = {line["id"]: int(line["count"]) for line in record.lines}
    charges = charges_of(record)
    if record.charges.get("dropped"):
        charges = without_fulfillment_charges(charges)
    before = price_lines(record.lines, old_counts, charges, fid)
    after_charges = without_fulfillment_charges(charges) if drop_charges else charges
    after = price_lines(record.lines, new_counts, after_charges, fid)
    quote = after.wire(ttl=record.quote.get("ttl", "P1D"))
    offer_trail = _carry_offers(record.quote, quote, any(new_counts.values()))
    record.quote = quote
    record.lines = [{**line, "count": new_counts[line["id"]]} for line in record.lines]
    if drop_charges:
        record.charges = {**record.charges, "dropped": True}
    _rebuild_forward_items(record)
    return [*trail(before, after), *offer_trail]


def _carry_offers(
    old: dict[str, Any], new: dict[str, Any], units_left: bool
) -> list[tuple[str, str, Decimal]]:
    """Carry a 1.2.5 order's offer lines from its quote ``old`` into the re-priced ``new``
    (in place) and return their ``quote_trail`` entries (type ``offer``, positive: discount
    taken back).

    The record keeps the quote as confirmed, not each offer's definition, so the rules of
    ``offers.refund`` cannot run here; what is kept is their bound. Each offer line keeps
    the discount it gave, but never more than what is left to discount, in the order the
    quote lists them, so the total never rises and the buyer is never refunded more than
    was paid. With no unit left every offer line falls to 0.00 (units given to count 0), as
    1.2.5's reversal examples show."""
    lines = [b for b in old.get("breakup") or [] if b.get("@ondc/org/title_type") == "offer"]
    if not lines:
        return []
    room = Decimal(new["price"]["value"])
    out = []
    for line in lines:
        line = copy.deepcopy(line)
        was = Decimal(line["price"]["value"])  # negative, or 0.00 for units given
        now = -min(-was, room) if units_left else Decimal(0)
        now = now if now else Decimal("0.00")  # never "-0.00"
        room += now
        line["price"]["value"] = f"{now:.2f}"
        if not units_left and "@ondc/org/item_quantity" in line:
            line["@ondc/org/item_quantity"] = {"count": 0}
        new["breakup"].append(line)
        if now != was:
            out.append(("offer", str(line.get("@ondc/org/item_id")), now - was))
    new["price"]["value"] = f"{room:.2f}"
    return out


def _rebuild_forward_items(record: OrderRecord) -> None:
    fid = forward_fulfillment(record)["id"]
    counts = {line["id"]: int(line["count"]) for line in record.lines}
    items = []
    for entry in record.items:
        entry = copy.deepcopy(entry)
        if entry.get("fulfillment_id") == fid:
            entry["quantity"] = {"count": counts.get(entry["id"], 0)}
        items.append(entry)
    record.items = items
