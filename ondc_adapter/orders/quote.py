"""Quotes with breakup (protocol.md 4.4): pure arithmetic, no I/O.

Every breakup line is rounded to the paisa *before* it is added, so ``price.value`` is exactly
the sum of the breakup values the buyer app sees (the LVU check), whatever the tax rates.
Re-pricing after a cancel, part-cancel or return runs the same computation on the order's own
lines with new counts; ``trail`` lists what changed (the ``quote_trail`` tags).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.money import format_money

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")

TITLE_DELIVERY = "Delivery charges"
TITLE_PACKING = "Packing charges"
TITLE_TAX = "Tax"
TITLE_DISCOUNT = "Discount"
TITLE_CONVENIENCE = "Convenience Fee"


def paisa(value: Decimal) -> Decimal:
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CatalogueLine:
    """What the seller offers for one item at quote time."""

    id: str
    title: str
    unit_price: Decimal
    available: int  # units in stock (after reservations)
    maximum: int  # most units one order may carry
    fulfillment_id: str = "F1"
    tax_rate: Decimal = ZERO  # percent on top of the price (0 when prices include tax)
    discount: Decimal = ZERO  # amount off per unit (a positive number)


@dataclass(frozen=True, slots=True)
class Charges:
    delivery: Decimal = ZERO
    packing: Decimal = ZERO
    convenience: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Line:
    item_id: str
    title: str
    title_type: str
    amount: Decimal
    count: int | None = None  # item lines only
    unit_price: Decimal | None = None
    available: int | None = None
    maximum: int | None = None
    requested: int | None = None  # what the buyer asked for (count may be less: 40002/40009)

    @property
    def key(self) -> tuple[str, str]:
        return (self.title_type, self.item_id)


@dataclass(frozen=True, slots=True)
class ItemIssue:
    item_id: str
    code: Code


@dataclass(frozen=True, slots=True)
class QuoteResult:
    lines: tuple[Line, ...]
    serviceable: bool
    issues: tuple[ItemIssue, ...] = ()
    supplied: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    def error(self) -> Error | None:
        """The callback error: 30009 when not serviceable, else the item errors (40002 first)."""
        if not self.serviceable:
            return Error.of(
                Code.DROPOFF_NOT_SERVICEABLE, "Dropoff location not serviceable by the seller"
            )
        if not self.issues:
            return None
        codes = [i.code for i in self.issues]
        top = next(
            (c for c in (Code.ITEM_NOT_FOUND, Code.ITEM_QUANTITY_UNAVAILABLE) if c in codes),
            codes[0],
        )
        detail = [{"item_id": i.item_id, "error": i.code.value} for i in self.issues]
        return Error.of(top, json.dumps(detail, separators=(",", ":")))

    def wire(self, *, ttl: str = "P1D", availability: bool = False) -> dict[str, Any]:
        """The ``quote`` object. ``availability`` adds ``item.quantity`` (on_select only)."""
        breakup: list[dict[str, Any]] = []
        for line in self.lines:
            entry: dict[str, Any] = {"@ondc/org/item_id": line.item_id}
            if line.title_type == "item":
                entry["@ondc/org/item_quantity"] = {"count": line.count or 0}
            entry["title"] = line.title
            entry["@ondc/org/title_type"] = line.title_type
            entry["price"] = {"currency": "INR", "value": format_money(line.amount)}
            if line.title_type == "item":
                item: dict[str, Any] = {
                    "price": {"currency": "INR", "value": format_money(line.unit_price or ZERO)}
                }
                if availability:
                    # Stock is not disclosed: "99" when the count quoted is there, else "0".
                    # It answers for the quoted count, not the one asked for: when fewer units
                    # are left than asked (40002) or the per-order maximum caps the count
                    # (40009) the line offers what can be had and says it is available; the
                    # error names the short items. ONDC's out-of-stock rule (available count
                    # never below @ondc/org/item_quantity.count) and the 99-or-0 rule both
                    # hold; a line offering nothing is "0", as in ONDC's out-of-stock example.
                    offered = line.count or 0
                    enough = offered > 0 and (line.available or 0) >= offered
                    item["quantity"] = {
                        "available": {"count": "99" if enough else "0"},
                        "maximum": {"count": str(line.maximum or 0)},
                    }
                entry["item"] = item
            breakup.append(entry)
        return {
            "price": {"currency": "INR", "value": format_money(self.total)},
            "breakup": breakup,
            "ttl": ttl,
        }


def compute_quote(
    requested: Iterable[tuple[str, int]],
    catalogue: Mapping[str, CatalogueLine],
    charges: Charges,
    *,
    serviceable: bool = True,
    fulfillment_id: str = "F1",
    check_availability: bool = True,
) -> QuoteResult:
    """The quote for ``requested`` (item id, count) pairs.

    Unknown items give 30004 and no line. More than in stock gives the line for what is in
    stock (0 if none) and 40002; more than the per-order maximum gives the maximum and 40009.
    ``check_availability=False`` re-prices an existing order (counts are taken as given)."""
    lines: list[Line] = []
    issues: list[ItemIssue] = []
    supplied: dict[str, int] = {}
    for item_id, count in requested:
        offer = catalogue.get(item_id)
        if offer is None:
            issues.append(ItemIssue(item_id, Code.ITEM_NOT_FOUND))
            continue
        can = count
        if check_availability:
            available = max(offer.available, 0)
            if count > available:
                issues.append(ItemIssue(item_id, Code.ITEM_QUANTITY_UNAVAILABLE))
                can = available
            if can > offer.maximum:
                if count <= available:
                    issues.append(ItemIssue(item_id, Code.MAX_ORDER_QTY_EXCEEDED))
                can = offer.maximum
        supplied[item_id] = can
        lines.append(
            Line(
                item_id=item_id,
                title=offer.title,
                title_type="item",
                amount=paisa(offer.unit_price * can),
                count=can,
                unit_price=paisa(offer.unit_price),
                available=min(max(offer.available, 0), offer.maximum),
                maximum=offer.maximum,
                requested=count,
            )
        )
        if offer.discount > 0 and can:
            lines.append(
                Line(item_id, TITLE_DISCOUNT, "discount", -paisa(offer.discount * can))
            )
        if offer.tax_rate > 0 and can:
            taxable = offer.unit_price * can - offer.discount * can
            lines.append(Line(item_id, TITLE_TAX, "tax", paisa(taxable * offer.tax_rate / 100)))
    if serviceable:
        # the delivery line is kept even at zero (LVU expects it whenever serviceable)
        lines.append(Line(fulfillment_id, TITLE_DELIVERY, "delivery", paisa(charges.delivery)))
        if charges.packing > 0:
            lines.append(Line(fulfillment_id, TITLE_PACKING, "packing", paisa(charges.packing)))
        if charges.convenience > 0:
            lines.append(
                Line(fulfillment_id, TITLE_CONVENIENCE, "misc", paisa(charges.convenience))
            )
    return QuoteResult(tuple(lines), serviceable, tuple(issues), supplied)


def trail(before: QuoteResult, after: QuoteResult) -> list[tuple[str, str, Decimal]]:
    """``(title_type, id, delta)`` for every line whose amount changed (negative = refund)."""
    old = {line.key: line.amount for line in before.lines}
    new = {line.key: line.amount for line in after.lines}
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        delta = new.get(key, ZERO) - old.get(key, ZERO)
        if delta != 0:
            out.append((key[0], key[1], delta))
    return out


def without_fulfillment_charges(charges: Charges) -> Charges:
    """Charges refunded when nothing was shipped (a full cancel before pickup)."""
    return replace(charges, delivery=ZERO, packing=ZERO, convenience=ZERO)


def commercial_terms(quote: Mapping[str, Any]) -> dict[str, Any]:
    """A quote without the availability hints of on_select: what must stay equal from
    on_select through on_init to on_confirm (price, ttl, each line's id/type/title/count/price)."""
    lines = []
    for entry in quote.get("breakup", []):
        item = entry.get("item") or {}
        lines.append(
            (
                entry.get("@ondc/org/item_id"),
                entry.get("@ondc/org/title_type"),
                entry.get("title"),
                (entry.get("@ondc/org/item_quantity") or {}).get("count"),
                _amount((entry.get("price") or {}).get("value")),
                _amount((item.get("price") or {}).get("value")),
            )
        )
    return {
        "price": _amount((quote.get("price") or {}).get("value")),
        "breakup": sorted(lines, key=repr),
    }


def _amount(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return paisa(Decimal(str(value)))
    except ArithmeticError:
        return None
