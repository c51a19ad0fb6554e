"""Offers in ONDC retail 1.2.5 wire shape, as plain dicts (docs/offers.md).

* ``catalog_offer``: an entry of on_search's ``bpp/providers[].offers[]`` (and
  ``parse_catalog_offer``, its inverse, so the conversion is tested both ways);
* ``quote_wire`` / ``breakup``: the quote of on_select, on_init and on_confirm, offers as
  ``@ondc/org/title_type: "offer"`` lines whose ``@ondc/org/item_id`` is the offer id;
* ``quote_trail``: what a cancel or return changed, offers included (type ``offer``);
* ``read_selection``: the offers a buyer chose or declined in select/init ``order.offers``.

Money is written from the integer paise with ``paise.to_rupees`` ("123.45"); benefit values
and caps are negative and minimum values positive, as in 1.2.5's examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ondc_adapter.offers.cart import AppliedOffer, OfferQuote
from ondc_adapter.offers.models import ITEMS_GIVEN, Offer, OfferInvalid, OfferType, load_offer
from ondc_adapter.offers.paise import percent_text, to_paise, to_rupees
from ondc_adapter.offers.refund import Refund

TITLE_DELIVERY = "Delivery charges"


def catalog_offer(
    offer: Offer, *, location_ids: Iterable[str] = (), item_ids: Iterable[str] = ()
) -> dict[str, Any]:
    """The on_search ``offers[]`` entry. ``location_ids`` / ``item_ids`` stand in for an offer
    that covers every store / item: ONDC's validator wants both lists non-empty."""
    q, b = offer.qualifier, offer.benefit
    qualifier = [_tag("min_value", to_rupees(q.min_value_paise or 0))]
    if q.item_count is not None:
        qualifier.append(_tag("item_count", str(q.item_count)))
    if offer.type is OfferType.SLAB:
        # an open-ended slab carries the code with an empty value, as 1.2.5's slab2 does
        upper = q.item_count_upper
        qualifier.append(_tag("item_count_upper", "" if upper is None else str(upper)))
    if q.item_ids:
        qualifier.append(_tag("item_id", ",".join(q.item_ids)))
    benefit = []
    if offer.type in ITEMS_GIVEN:
        benefit.append(_tag("item_count", str(b.item_count)))
        benefit.append(_tag("item_id", b.item_id or ""))
        benefit.append(_tag("item_value", to_rupees(b.item_value_paise or 0)))
    else:
        if b.percent is not None:
            benefit.append(_tag("value_type", "percent"))
            benefit.append(_tag("value", percent_text(b.percent, negative=True)))
        else:
            benefit.append(_tag("value_type", "amount"))
            benefit.append(_tag("value", to_rupees(-(b.amount_paise or 0))))
        if b.cap_paise is not None:
            benefit.append(_tag("value_cap", to_rupees(-b.cap_paise)))
    descriptor: dict[str, Any] = {"code": offer.type.value}
    if offer.images:
        descriptor["images"] = list(offer.images)
    entry: dict[str, Any] = {
        "id": offer.id,
        "descriptor": descriptor,
        "location_ids": list(offer.location_ids or location_ids),
    }
    if offer.category_ids:
        entry["category_ids"] = list(offer.category_ids)
    entry["item_ids"] = list(offer.item_ids or item_ids)
    entry["time"] = {
        "label": "valid",
        "range": {"start": timestamp(offer.valid_from), "end": timestamp(offer.valid_to)},
    }
    entry["tags"] = [
        {"code": "qualifier", "list": qualifier},
        {"code": "benefit", "list": benefit},
        {
            "code": "meta",
            "list": [_tag("additive", _yes(offer.additive)), _tag("auto", _yes(offer.auto))],
        },
    ]
    return entry


def parse_catalog_offer(wire: Mapping[str, Any], provider_id: str, title: str = "") -> Offer:
    """An on_search ``offers[]`` entry back into an ``Offer`` (``OfferInvalid`` if it is not
    one we can apply). A zero ``min_value`` reads as no minimum."""
    tags = {tag.get("code"): _codes(tag.get("list") or []) for tag in wire.get("tags") or []}
    q, b, meta = tags.get("qualifier", {}), tags.get("benefit", {}), tags.get("meta", {})
    time_range = (wire.get("time") or {}).get("range") or {}
    data: dict[str, Any] = {
        "id": wire.get("id"),
        "provider_id": provider_id,
        "type": (wire.get("descriptor") or {}).get("code"),
        "valid_from": _when(time_range.get("start"), "time.range.start"),
        "valid_to": _when(time_range.get("end"), "time.range.end"),
        "location_ids": tuple(wire.get("location_ids") or ()),
        "item_ids": tuple(wire.get("item_ids") or ()),
        "category_ids": tuple(wire.get("category_ids") or ()),
        "additive": meta.get("additive") == "yes",
        "auto": meta.get("auto") == "yes",
        "title": title,
        "images": tuple((wire.get("descriptor") or {}).get("images") or ()),
    }
    qualifier: dict[str, Any] = {}
    if q.get("min_value"):
        qualifier["min_value_paise"] = _paise(q["min_value"], "qualifier.min_value") or None
    for code in ("item_count", "item_count_upper"):
        if q.get(code):
            qualifier[code] = _count(q[code], f"qualifier.{code}")
    if q.get("item_id"):
        qualifier["item_ids"] = tuple(part.strip() for part in q["item_id"].split(","))
    benefit: dict[str, Any] = {}
    if "value" in b:
        if b.get("value_type") == "percent":
            benefit["percent"] = -_decimal(b["value"], "benefit.value")
        else:
            benefit["amount_paise"] = -_paise(b["value"], "benefit.value")
    if "value_cap" in b:
        benefit["cap_paise"] = -_paise(b["value_cap"], "benefit.value_cap")
    if "item_id" in b:
        benefit["item_id"] = b["item_id"]
    if "item_count" in b:
        benefit["item_count"] = _count(b["item_count"], "benefit.item_count")
    if "item_value" in b:
        benefit["item_value_paise"] = _paise(b["item_value"], "benefit.item_value")
    data["qualifier"], data["benefit"] = qualifier, benefit
    return load_offer(data)


def breakup(quote: OfferQuote, titles: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """``quote.breakup`` entries; ``titles`` names items (item id -> title) and offers."""
    titles = titles or {}
    offers = {applied.offer.id: applied for applied in quote.applied}
    entries: list[dict[str, Any]] = []
    for line in quote.breakup:
        price = {"currency": "INR", "value": to_rupees(line.amount)}
        if line.kind == "item":
            entries.append(
                {
                    "@ondc/org/item_id": line.id,
                    "@ondc/org/item_quantity": {"count": line.count or 0},
                    "title": titles.get(line.id) or _item_title(quote, line.id),
                    "@ondc/org/title_type": "item",
                    "price": price,
                    "item": {
                        "price": {"currency": "INR", "value": to_rupees(line.unit_price or 0)}
                    },
                }
            )
        elif line.kind == "delivery":
            entries.append(
                {
                    "@ondc/org/item_id": line.id,
                    "title": TITLE_DELIVERY,
                    "@ondc/org/title_type": "delivery",
                    "price": price,
                }
            )
        else:
            entries.append(_offer_entry(offers[line.id], price, titles))
    return entries


def quote_wire(
    quote: OfferQuote, *, ttl: str = "P1D", titles: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``quote`` object: its price is the sum of the breakup, in paise, exactly."""
    return {
        "price": {"currency": "INR", "value": to_rupees(quote.total)},
        "breakup": breakup(quote, titles),
        "ttl": ttl,
    }


def quote_trail(change: Refund) -> list[dict[str, Any]]:
    """The ``quote_trail`` tag groups of the Cancel/Return fulfillment: one per changed line,
    its value the change (negative for what left, positive for offer value added back)."""
    return [
        {
            "code": "quote_trail",
            "list": [
                _tag("type", kind),
                _tag("id", id_),
                _tag("currency", "INR"),
                _tag("value", to_rupees(delta)),
            ],
        }
        for kind, id_, delta in change.trail
    ]


def read_selection(order_offers: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """``(chosen, declined)`` offer ids of select/init ``order.offers``: ``apply: "no"``
    declines (1.2.5 init example); an entry without a ``selection`` tag chooses (1.2.5
    select example: ``{"id": "discp60"}``)."""
    chosen: set[str] = set()
    declined: set[str] = set()
    for entry in order_offers:
        selection = {
            code: value
            for tag in entry.get("tags") or []
            if tag.get("code") == "selection"
            for code, value in _codes(tag.get("list") or []).items()
        }
        (declined if selection.get("apply") == "no" else chosen).add(str(entry.get("id")))
    return chosen, declined


def describe(offer: Offer) -> str:
    """A title for the offer's quote line when the seller gave none."""
    q, b = offer.qualifier, offer.benefit
    if offer.type is OfferType.FREEBIE:
        text = f"{b.item_count} x {b.item_id} free"
    elif offer.type is OfferType.BUY_X_GET_Y:
        price = "free" if not b.item_value_paise else f"at ₹{to_rupees(b.item_value_paise)} each"
        text = f"Buy {q.item_count}, get {b.item_count} x {b.item_id} {price}"
    else:
        off = (
            f"{b.percent.normalize():f}%"
            if b.percent is not None
            else f"₹{to_rupees(b.amount_paise or 0)}"
        )
        text = f"{off} off"
        if b.cap_paise is not None:
            text += f" up to ₹{to_rupees(b.cap_paise)}"
        if offer.type is OfferType.DELIVERY:
            text += " on delivery"
        elif offer.type is OfferType.COMBO:
            text += f" on the combo with {', '.join(q.item_ids)}"
        elif offer.type is OfferType.SLAB:
            upper = f"-{q.item_count_upper}" if q.item_count_upper is not None else " or more"
            text += f" on {q.item_count}{upper} units"
    if q.min_value_paise:
        text += f", minimum cart value ₹{to_rupees(q.min_value_paise)}"
    return text


def timestamp(instant: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as 1.2.5's offer examples write times."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _offer_entry(
    applied: AppliedOffer, price: dict[str, str], titles: Mapping[str, str]
) -> dict[str, Any]:
    offer, benefit = applied.offer, applied.offer.benefit
    listing = [
        _tag("type", offer.type.value),
        _tag("auto", _yes(offer.auto)),
        _tag("additive", _yes(offer.additive)),
        # the offer id again: one version of the validator reads it here, not from item_id
        _tag("id", offer.id),
    ]
    entry: dict[str, Any] = {"@ondc/org/item_id": offer.id}
    if offer.type in ITEMS_GIVEN:
        entry["@ondc/org/item_quantity"] = {"count": applied.gift_count}
        listing.append(_tag("item_id", benefit.item_id or ""))
        # the benefit's count, as on_search has it (the validator compares the two); the
        # line's item_quantity is the units given, sets x this count for buyXgetY
        listing.append(_tag("item_count", str(benefit.item_count)))
        if offer.type is OfferType.BUY_X_GET_Y:
            listing.append(_tag("item_value", to_rupees(benefit.item_value_paise or 0)))
    entry["title"] = titles.get(offer.id) or offer.title or describe(offer)
    entry["@ondc/org/title_type"] = "offer"
    entry["price"] = price
    entry["item"] = {
        "tags": [
            {"code": "quote", "list": [_tag("type", applied.level)]},
            {"code": "offer", "list": listing},
        ]
    }
    return entry


def _item_title(quote: OfferQuote, item_id: str) -> str:
    line = quote.cart.line(item_id)
    return (line.title if line is not None else "") or item_id


def _tag(code: str, value: str) -> dict[str, str]:
    return {"code": code, "value": value}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _codes(listing: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(entry.get("code")): str(entry.get("value", "")) for entry in listing}


def _paise(value: str, field: str) -> int:
    try:
        return to_paise(value)
    except ValueError as exc:
        raise OfferInvalid(field, str(exc)) from exc


def _decimal(value: str, field: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise OfferInvalid(field, f"{value!r} is not a number") from exc


def _count(value: str, field: str) -> int:
    if not value.isdigit():
        raise OfferInvalid(field, f"{value!r} is not a count")
    return int(value)


def _when(value: Any, field: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise OfferInvalid(field, f"{value!r} is not an RFC 3339 time") from exc
