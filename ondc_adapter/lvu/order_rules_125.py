"""Retail 1.2.5 order rules (select to on_confirm, offers in quotes): ported from
``utils/Retail_.1.2.5/{Select,Init,Confirm}`` of ONDC's validator and the helpers of
``utils/index.ts`` they call (``compareQuoteObjects``, ``payment_status``).

Versions read (the index's stored copies): ``Select/onSelect.ts`` id 4620103819 (66,482
characters, the copy the index's string search serves), ``Select/select.ts`` id 4764148161,
``Init/onInit.ts`` @ 2904b73e, ``Confirm/confirm.ts`` @ 2904b73e, ``Confirm/onConfirm.ts`` @
1383ffef (first 32 k). ``Init/init.ts`` was not read: its rule here is 1.2.0's (``init.address``),
assumed unchanged. Rules identical to 1.2.0's are 1.2.0's functions (``order_rules``).

The offer checks are ported as they behave, oddities included (docs/offers.md, "Where the
validator and the spec disagree"): every offer line must be negative; when any additive offer
is in the quote the per-offer checks do not run; a single non-additive offer is checked against
its on_search definition (percent discounts with a cap are "percent of the cap", a delivery
amount must equal the delivery charge, units given are worth catalogue price x count).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import GSTIN, PAN, Bundle, Rule, rule, tag_list, when
from ondc_adapter.lvu.order_rules import (
    _money,
    _pre_order_fulfillments,
    _quote_problems,
    _serviceable,
    init_address,
    on_select_prices,
)

SRC_SELECT = "utils/Retail_.1.2.5/Select/select.ts"
SRC_ON_SELECT = "utils/Retail_.1.2.5/Select/onSelect.ts"
SRC_ON_INIT = "utils/Retail_.1.2.5/Init/onInit.ts; utils/index.ts (compareQuoteObjects)"
SRC_CONFIRM = "utils/Retail_.1.2.5/Confirm/confirm.ts; utils/index.ts (payment_status)"
SRC_ON_CONFIRM = "utils/Retail_.1.2.5/Confirm/onConfirm.ts; utils/index.ts (compareQuoteObjects)"
# retailPymntTtl of onSelect.ts: title -> title type; "offer" lines carry the seller's title
PAYMENT_TITLES = {"delivery charges": "delivery", "packing charges": "packing", "tax": "tax",
                  "discount": "discount", "convenience fee": "misc", "offer": "offer"}
SETTLEMENT_WINDOW = re.compile(r"^PT\d+[MH]$")
OFFER = "offer"


def _catalog_offers(bundle: Bundle) -> list[dict[str, Any]]:
    catalog = ((bundle.get("on_search_full_catalog_refresh") or {}).get("message") or {}).get(
        "catalog") or {}
    return [o for p in catalog.get("bpp/providers") or [] for o in p.get("offers") or []
            if isinstance(o, dict)]


def _catalog_items(bundle: Bundle) -> dict[str, dict[str, Any]]:
    catalog = ((bundle.get("on_search_full_catalog_refresh") or {}).get("message") or {}).get(
        "catalog") or {}
    return {i.get("id"): i for p in catalog.get("bpp/providers") or []
            for i in p.get("items") or []}


def _tag(tags: Any, code: str) -> dict[str, str]:
    return tag_list(tags, code) or {}


def _line_tag(line: dict[str, Any], code: str) -> dict[str, str]:
    return _tag((line.get("item") or {}).get("tags"), code)


def _offer_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in (order.get("quote") or {}).get("breakup") or []
            if b.get("@ondc/org/title_type") == OFFER]


def _without_quantity(quote: dict[str, Any]) -> dict[str, Any]:
    """on_select's quote as the validator keeps it: item lines without ``item.quantity``."""
    out = dict(quote)
    out["breakup"] = [
        {**b, "item": {k: v for k, v in (b.get("item") or {}).items() if k != "quantity"}}
        if b.get("@ondc/org/title_type") == "item" and "item" in b else b
        for b in quote.get("breakup") or []
    ]
    return out


def compare_quotes(first: dict[str, Any], second: dict[str, Any], api1: str,
                   api2: str) -> list[str]:
    """``compareQuoteObjects``: as many root keys, and every line of ``first`` found in
    ``second`` (same ``@ondc/org/item_id`` and title type) and deeply equal to it."""
    if len(first) != len(second):
        return ["Root level properties mismatch"]
    errors = []
    for line in first.get("breakup") or []:
        match = next((b for b in second.get("breakup") or []
                      if b.get("@ondc/org/item_id") == line.get("@ondc/org/item_id")
                      and b.get("@ondc/org/title_type") == line.get("@ondc/org/title_type")),
                     None)
        if match is None or match != line:
            errors.append(f"Mismatch found for item with item_id {line.get('@ondc/org/item_id')} "
                          f"while comparing quote object of {api1} and {api2}")
    return errors


def _quote_against_on_select(bundle: Bundle, key: str, api: str) -> Iterator[tuple[str, str,
                                                                                 str]]:
    quote = bundle.order(key).get("quote") or {}
    on_select = bundle.order("on_select").get("quote")
    if any("quantity" in (b.get("item") or {}) for b in quote.get("breakup") or []):
        yield key, "message.order.quote", (
            "Extra attribute Quantity provided in quote object i.e not supposed to be provided "
            "after on_select so invalid quote object")
    elif on_select:
        for error in compare_quotes(_without_quantity(on_select), quote, "on_select", api):
            yield key, "message.order.quote", error


# ---------------------------------------------------------------- select (the buyer's offers)


@rule("select.offers", SRC_SELECT)
def select_offers(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Each offer the buyer selects is one of the provider's, at the order's store, on an
    ordered item, valid at the select's time and marked ``selection``/``apply: yes``; at most
    one non-additive offer unless additive ones are chosen."""
    select = bundle.order("select")
    if not select.get("offers"):
        return
    catalog = {o.get("id"): o for o in _catalog_offers(bundle)}
    stamp = when(((bundle.get("select") or {}).get("context") or {}).get("timestamp"))
    locations = [loc.get("id") for loc in (select.get("provider") or {}).get("locations") or []]
    items = [i.get("id") for i in select.get("items") or []]
    chosen = []
    for n, offer in enumerate(select["offers"]):
        where, found = f"message.order.offers[{n}]", catalog.get(offer.get("id"))
        if found is None:
            yield "select", where, (
                f"Offer with id {offer.get('id')} is not available for the provider.")
            continue
        if not any(i in locations for i in found.get("location_ids") or []):
            yield "select", where, (f"Offer with id '{offer.get('id')}' is not applicable for "
                                    "any of the order's locations")
            continue
        if not any(i in items for i in found.get("item_ids") or []):
            yield "select", where, (f"Offer with id '{offer.get('id')}' is not applicable for "
                                    "any of the ordered item(s)")
            continue
        span = found.get("time") or {}
        start, end = when((span.get("range") or {}).get("start")), when(
            (span.get("range") or {}).get("end"))
        if span.get("label") != "valid" or start is None or end is None:
            yield "select", where, (f"Offer with id {offer.get('id')} has an invalid or missing "
                                    "time configuration.")
            continue
        if stamp is None or not start <= stamp <= end:
            yield "select", where, (f"Offer with id {offer.get('id')} is not currently valid "
                                    "based on time range.")
            continue
        if _tag(offer.get("tags"), "selection").get("apply") != "yes":
            yield "select", where, (f"Offer with id {offer.get('id')} is not selected (apply: "
                                    '"yes" missing).')
            continue
        chosen.append(found)
    additive = [o for o in chosen if _tag(o.get("tags"), "meta").get("additive", "").lower()
                == "yes"]
    alone = [o for o in chosen if _tag(o.get("tags"), "meta").get("additive", "").lower()
             == "no"]
    if not additive and len(alone) > 1:
        for o in alone:
            yield "select", "message.order.offers", (
                f"Offer {o.get('id')} is non-additive and cannot be combined with other "
                "non-additive offers.")


# ---------------------------------------------------------------- on_select


@rule("on_select.quote", SRC_ON_SELECT)
def on_select_quote(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """1.2.0's quote checks with 1.2.5's changes: ``offer`` is a title type (its title is the
    seller's), and a line's available count must be a positive count."""
    order = bundle.order("on_select")
    if not order:
        return
    key = "on_select"
    yield from _quote_problems(key, order.get("quote") or {})
    fulfillments = {f.get("id") for f in order.get("fulfillments") or []}
    yield from _pre_order_fulfillments(key, order)
    serviceable = _serviceable(order)
    breakup = (order.get("quote") or {}).get("breakup") or []
    for n, line in enumerate(breakup):
        kind, where = line.get("@ondc/org/title_type"), f"message.order.quote.breakup[{n}]"
        quantity = (line.get("item") or {}).get("quantity") or {}
        available = (quantity.get("available") or {}).get("count")
        maximum = (quantity.get("maximum") or {}).get("count")
        counted = isinstance(available, str) and isinstance(maximum, str)
        if counted and not (str(available).strip().isdigit() and str(maximum).strip().isdigit()
                            and int(str(available)) > 0):
            yield key, where + ".item.quantity", (
                "Available and Maximum count should be greater than 0 for item id: "
                f"{line.get('@ondc/org/item_id')} in quote.breakup[{n}]")
        if kind in ("delivery", "packing", "misc") and line.get(
                "@ondc/org/item_id") not in fulfillments:
            yield key, where, (f"invalid  id: {line.get('@ondc/org/item_id')} in {kind} line "
                               "item (should be a valid fulfillment_id as provided in "
                               "message.items for the items)")
        if kind != "item" and kind not in PAYMENT_TITLES.values():
            yield key, where, (f'Quote breakup Payment title type "{kind}" is not as per the API '
                               "contract")
        if kind not in ("item", OFFER):
            title = str(line.get("title", "")).lower().strip()
            if PAYMENT_TITLES.get(title) != kind:
                yield key, where + ".title", (f'Quote breakup Payment title "{line.get("title")}"'
                                              " is not as per the API Contract")
    if serviceable and not any(b.get("@ondc/org/title_type") == "delivery" for b in breakup):
        yield key, "message.order.quote.breakup", (
            "delivery line item must be present in quote/breakup (if location is serviceable)")


def _num(value: Any) -> float:
    """``parseFloat(x) || 0``."""
    number = _money(value)
    return 0.0 if number != number else number


@rule("on_select.offers", SRC_ON_SELECT)
def on_select_offers(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The quote's offer lines. Every one negative; additive offers stop the other checks; a
    lone non-additive offer is held to its on_search definition, per type."""
    order = bundle.order("on_select")
    lines = _offer_lines(order)
    if not lines:
        return
    key, where = "on_select", "message.order.quote.breakup"
    for line in lines:
        price = _money((line.get("price") or {}).get("value"))
        if price != price:
            yield key, where, 'Price for title type "offer" is not a valid number.'
        elif price >= 0:
            yield key, where, f'Price for title type "offer" must be negative, but got {price}.'
    additive = [ln for ln in lines if _line_tag(ln, OFFER).get("additive", "").lower() == "yes"]
    alone = [ln for ln in lines if _line_tag(ln, OFFER).get("additive", "").lower() == "no"]
    catalog = {o.get("id"): o for o in _catalog_offers(bundle)}
    if additive or not alone or not catalog:
        return  # the validator empties its list of offers to check once one is additive
    if len(alone) > 1:
        for line in alone:
            yield key, where, (f"Offer {line.get('@ondc/org/item_id')} is non-additive and "
                               "cannot be combined with other non-additive offers.")
        return
    yield from _lone_offer(bundle, order, alone[0])


def _lone_offer(bundle: Bundle, order: dict[str, Any],
                line: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    key, where = "on_select", "message.order.quote.breakup"
    tag = _line_tag(line, OFFER)
    offer_id = tag.get("id")
    if not offer_id:
        yield key, where, "offerId cannot be null or empty."
        return
    found = {o.get("id"): o for o in _catalog_offers(bundle)}.get(offer_id) or {}
    auto = _tag(found.get("tags"), "meta").get("auto") == tag.get("auto") == "yes"
    if not bundle.order("select").get("offers") and not auto:
        # nothing chosen: only an offer auto-applied in both the catalogue and the quote
        yield key, where, (f"Offer with id '{offer_id}' is not applicable for this order as "
                           "this offer cannot be auto applied but found in on select as "
                           "defined in the catalog.")
        return
    locations = [loc.get("id") for loc in (order.get("provider") or {}).get("locations") or []]
    if not any(i in locations for i in found.get("location_ids") or []):
        yield key, where, (f"Offer with id '{offer_id}' is not applicable for any of the order's "
                           "locations.")
        return
    breakup = (order.get("quote") or {}).get("breakup") or []
    total = sum(_num((b.get("price") or {}).get("value")) for b in breakup
                if b.get("@ondc/org/title_type") != OFFER)
    quoted = _num(((order.get("quote") or {}).get("price") or {}).get("value"))
    price = abs(_num((line.get("price") or {}).get("value")))
    qualifier, benefit = _tag(found.get("tags"), "qualifier"), _tag(found.get("tags"), "benefit")
    minimum = _num(qualifier.get("min_value"))
    kind = tag.get("type")
    if minimum > 0 and total < minimum and kind in ("discount", "freebie", "delivery"):
        yield key, where, (f"Offer not applicable for quote with actual quote value before "
                           f"discount is {total} as required  min_value for order is {minimum}")
    if kind == "discount":
        yield from _discount(benefit, price, total, quoted)
    elif kind in ("freebie", "buyXgetY"):
        if kind == "buyXgetY":
            if not _num(qualifier.get("item_count")):
                yield key, where, ("Minimum Item Count required in catalog /offers/tags/qualifier"
                                   f"/list/code:item_count for offer with id :{offer_id}")
            if minimum > 0:  # compared with an object upstream: never satisfied
                yield key, where, (f"Offer not applicable as required {minimum} min_value for "
                                   "order is not satisfied")
        yield from _gift(bundle, tag, benefit, price, offer_id)
    elif kind == "delivery" and _line_tag(line, "quote").get("type") == "fulfillment":
        delivery = abs(next((_num((b.get("price") or {}).get("value")) for b in breakup
                             if b.get("@ondc/org/title_type") == "delivery"), 0.0))
        value, cap = abs(_num(benefit.get("value"))), abs(_num(benefit.get("value_cap")))
        if benefit.get("value_type") == "percent":
            if cap == 0:
                yield key, where, f"Offer benefit amount cannot be equal to {cap}"
            elif price != min(value / 100 * delivery, cap):
                yield key, where, "Discount value mismatch."
        else:
            if value != price:
                yield key, where, f"Discount mismatch: Expected discount is -₹{value:.2f}"
            if price != delivery:
                yield key, where, (f"Discount mismatch: Expected discount is -₹{price:.2f}, but "
                                   f"delivery charges are -₹{delivery:.2f}.")
            if abs(total - value - quoted) >= 0.01:
                yield key, where, "Quoted price mismatch after the delivery offer"


def _discount(benefit: dict[str, str], price: float, total: float,
              quoted: float) -> Iterator[tuple[str, str, str]]:
    key, where = "on_select", "message.order.quote.breakup"
    value, cap = abs(_num(benefit.get("value"))), abs(_num(benefit.get("value_cap")))
    if benefit.get("value_type") == "percent":
        # with a cap, the validator takes the percent of the cap (docs/offers.md, conflict 3)
        base = cap if cap > 0 else total
        expected = value / 100 * base
        if price != expected:
            yield key, where, (f"Discount mismatch: Expected discount is -₹{expected:.2f}, but "
                               f"found -₹{price:.2f}.")
        if abs(base - expected - quoted) >= 0.01:
            yield key, where, (f"Quoted price mismatch: expected price is "
                               f"₹{base - expected:.2f}, but got ₹{quoted:.2f}.")
    else:
        if price != value:
            yield key, where, (f"Discount mismatch: Expected discount is -₹{value:.2f}, but "
                               f"found -₹{price:.2f}.")
        after = cap - value if cap > 0 else total - value
        if abs(after - quoted) >= 0.01:
            yield key, where, (f"Quoted price mismatch: expected price is ₹{after:.2f}, but got "
                               f"₹{quoted:.2f}.")


def _gift(bundle: Bundle, tag: dict[str, str], benefit: dict[str, str], price: float,
          offer_id: str) -> Iterator[tuple[str, str, str]]:
    key, where = "on_select", "message.order.quote.breakup"
    item_id = tag.get("item_id", "")
    count = int(_num(tag.get("item_count")))
    if not count:
        yield key, where, "item_count is required in on_select /quote"
    if item_id != benefit.get("item_id", ""):
        yield key, where, (f"Mismatch: item_id used in on_select quote.breakup ({item_id}) "
                           "doesn't match with offer benefit item_id "
                           f"({benefit.get('item_id', '')}) for offer ID: {offer_id}")
    if int(_num(benefit.get("item_count"))) != count:
        yield key, where, (f"Mismatch: item_count used in on_select quote.breakup ({count}) "
                           "doesn't match with offer benefit item_count for offer ID: "
                           f"{offer_id}")
    items = _catalog_items(bundle)
    for gift in (i.strip() for i in item_id.split(",") if i.strip()):
        found = items.get(gift)
        if found is None:
            continue
        worth = abs(_num((found.get("price") or {}).get("value"))) * count
        available = str(((found.get("quantity") or {}).get("available") or {}).get("count", "0"))
        if (int(available) if available.isdigit() else 0) < count:
            yield key, where, (f"Item ID: {gift} does not have sufficient stock. Required: "
                               f"{count}")
        if worth != price:
            yield key, where, (f"Price mismatch found for item(s): ID: {gift} (Expected Total: "
                               f"₹{worth:g}, Quoted: ₹{price:g})")


# ---------------------------------------------------------------- on_init


@rule("on_init.terms", SRC_ON_INIT)
def on_init_terms(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """bpp_terms, fulfillments without tags, the quote (its sum, on_select's price and lines),
    payment (who collects, settlement basis/window/details) and, in flow 01E,
    cancellation_terms."""
    order = bundle.order("on_init")
    if not order:
        return
    key = "on_init"
    if bundle.flow == "01E" and not order.get("cancellation_terms"):
        yield key, "message.order", "cancellation_terms are mandatory for flow 01E in /on_init"
    terms = tag_list(order.get("tags"), "bpp_terms")
    if terms is None:
        yield key, "message.order.tags", "tax_number must be present for on_init"
    else:
        if "accept_bap_terms" in terms:
            yield key, "message.order.tags", "accept_bap_terms is not required for now!"
        if not GSTIN.match(terms.get("tax_number", "")):
            yield key, "message.order.tags", "Invalid format for tax_number in on_init"
        if not PAN.match(terms.get("provider_tax_number", "")):
            yield key, "message.order.tags", "Invalid format for provider_tax_number in on_init"
    for n, f in enumerate(order.get("fulfillments") or []):
        if f.get("type") in ("Delivery", "Self-Pickup") and f.get("tags"):
            yield key, f"message.order.fulfillments[{n}].tags", (
                f"/message/order/fulfillment of type {f.get('type')} should not have tags ")
    quote = order.get("quote") or {}
    yield from _quote_problems(key, quote)
    on_select = bundle.order("on_select").get("quote") or {}
    if on_select and round(_num((on_select.get("price") or {}).get("value"))) != round(
            _num((quote.get("price") or {}).get("value"))):
        yield key, "message.order.quote.price", (
            "Quoted Price in /on_init does not match with the quoted price in /on_select")
    if bundle.flow not in ("0099", "0098"):
        yield from _quote_against_on_select(bundle, key, "on_init")
    payment = order.get("payment") or {}
    if payment.get("collected_by") == "BAP":
        yield key, "message.order.payment.collected_by", (
            "payments.collected_by not allowed in on_init when BAP")
    if bundle.flow in ("007", "012") and payment.get("collected_by") != "BPP":
        # upstream compares a boolean with "BPP" here, so it fires in these flows whatever
        # is sent; ported as meant
        yield key, "message.order.payment.collected_by", (
            f"Payment collected_by should be BPP for flow: {bundle.flow}")
    if payment.get("collected_by") == "BPP":
        if payment.get("@ondc/org/settlement_basis") not in ("delivery", "shipment"):
            yield key, "message.order.payment", "Invalid settlement basis in /on_init"
        window = payment.get("@ondc/org/settlement_window")
        if window and not SETTLEMENT_WINDOW.match(str(window)):
            yield key, "message.order.payment", (
                "Invalid settlement window in /on_init. Expected format: PTd+[MH] (e.g., PT1H, "
                "PT30M).")
    details = payment.get("@ondc/org/settlement_details")
    if not details:
        if bundle.flow != "012":  # cash on delivery: settlement details come with confirm
            yield key, "message.order.payment", "payment settlement_details missing in /on_init"
        return
    first = details[0]
    if first.get("settlement_counterparty") != "seller-app":
        yield key, "message.order.payment", (
            "settlement_counterparty is expected to be 'seller-app' in "
            "@ondc/org/settlement_details")
    if first.get("settlement_type") not in ("neft", "rtgs", "upi"):
        yield key, "message.order.payment", (
            "settlement_type is expected to be 'neft/rtgs/upi' in @ondc/org/settlement_details")
    elif first.get("settlement_type") == "upi" and not str(first.get("upi_address") or
                                                             "").strip():
        yield key, "message.order.payment", "Payment details are missing/on_init"


# ---------------------------------------------------------------- confirm (the buyer's)


@rule("confirm.request", SRC_CONFIRM)
def confirm_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The buyer's confirm: state, timestamps, tracking, end.person, amount, settlement details
    as on_init's (not in COD flow 012), a paid payment's transaction id, on_select's quote."""
    order = bundle.order("confirm")
    if not order:
        return
    key = "confirm"
    ctx = (bundle.get(key) or {}).get("context") or {}
    if order.get("state") != "Created":
        yield key, "message.order.state", "Default order state should be used in /confirm"
    if order.get("created_at") != ctx.get("timestamp"):
        yield key, "message.order.created_at", (
            "order.created_at timestamp should match context.timestamp")
    if order.get("updated_at") != order.get("created_at"):
        yield key, "message.order.updated_at", (
            "order.updated_at timestamp should match order.created_at timestamp")
    for n, f in enumerate(order.get("fulfillments") or []):
        if not (f.get("end") or {}).get("person"):
            yield key, f"message.order.fulfillments[{n}].end.person", (
                f"fulfillments[{n}].end.person object is missing")
    payment = order.get("payment") or {}
    if _money((payment.get("params") or {}).get("amount")) != _money(
            ((order.get("quote") or {}).get("price") or {}).get("value")):
        yield key, "message.order.payment.params.amount", (
            "Quoted price (/confirm) doesn't match with the amount in payment.params")
    on_init = (bundle.order("on_init").get("payment") or {}).get("@ondc/org/settlement_details")
    if bundle.flow != "012" and on_init and (
            (payment.get("@ondc/org/settlement_details") or [None])[0] != on_init[0]):
        yield key, "message.order.payment", (
            "payment settlement_details mismatch in /on_init & /confirm")
    if bundle.flow == "012" and payment.get("status") == "PAID":
        yield key, "message.order.payment.status", (
            "Cannot be PAID for 012 flow (Cash on Delivery)")
    elif payment.get("status") == "PAID" and not (payment.get("params") or {}).get(
            "transaction_id"):
        yield key, "message.order.payment", "Transaction_id missing in message/order/payment"
    yield from _quote_against_on_select(bundle, key, "confirm")


# ---------------------------------------------------------------- on_confirm


@rule("on_confirm.order", SRC_ON_CONFIRM)
def on_confirm_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """No cancellation_terms; ids, timestamps, TAT as on_select's; an accepted order's
    Delivery names its provider_id; fulfillments Pending; bpp_terms with np_type and
    on_init's tax_number; payment as confirm's; the quote's sum, on_select's lines, on_init's
    price."""
    order = bundle.order("on_confirm")
    if not order:
        return
    key = "on_confirm"
    if order.get("cancellation_terms"):
        yield key, "message.order", ("'cancellation_terms' in /message/order should not be "
                                     "provided as those are not enabled yet")
    confirm = bundle.order("confirm")
    if confirm and order.get("id") != confirm.get("id"):
        yield key, "message.order.id", "Order Id mismatches in /confirm and /on_confirm"
    if (confirm and order.get("state") in ("Created", "Accepted")
            and order.get("created_at") != confirm.get("created_at")):
        yield key, "message.order.created_at", (
            "order.created_at timestamp mismatches in /confirm and /on_confirm")
    ctx = (bundle.get(key) or {}).get("context") or {}
    if order.get("updated_at") != ctx.get("timestamp"):
        yield key, "message.order.updated_at", (
            "updated_at timestamp should be equal to  context timestamp for /on_confirm")
    tat = {f.get("id"): f.get("@ondc/org/TAT")
           for f in bundle.order("on_select").get("fulfillments") or []}
    for n, f in enumerate(order.get("fulfillments") or []):
        where = f"message.order.fulfillments[{n}]"
        if not f.get("@ondc/org/TAT"):
            yield key, where, "'TAT' must be provided in message/order/fulfillments"
        elif tat and tat.get(f.get("id")) != f.get("@ondc/org/TAT"):
            yield key, where, "TAT Mistatch between  /on_confirm & /on_select"
        if ((f.get("state") or {}).get("descriptor") or {}).get("code") != "Pending":
            yield key, where + ".state", "default fulfillments state is missing in /on_confirm"
        if not f.get("start") or not f.get("end"):
            yield key, where, f"fulfillments[{n}] start and end locations are mandatory"
    delivery = next((f for f in order.get("fulfillments") or [] if f.get("type") == "Delivery"),
                    None)
    if order.get("state") == "Accepted" and delivery is not None and "provider_id" not in delivery:
        yield key, "message.order.fulfillments", (
            "provider_id must be present in on_confirm as order is accepted")
    terms = tag_list(order.get("tags"), "bpp_terms") or {}
    if "np_type" not in terms:
        yield key, "message.order.tags", "np_type not found in on_confirm"
    if "accept_bap_terms" in terms:
        yield key, "message.order.tags", "accept_bap_terms is not required for now!"
    init_terms = tag_list(bundle.order("on_init").get("tags"), "bpp_terms") or {}
    if init_terms and terms.get("tax_number") != init_terms.get("tax_number"):
        yield key, "message.order.tags", (
            "Value of tax Number mismatched in message/order/tags/bpp_terms for ON_INIT and "
            "ON_CONFIRM")
    if confirm and order.get("payment") != confirm.get("payment"):
        yield key, "message.order.payment", "payment object mismatches in /confirm & /on_confirm"
    payment = order.get("payment") or {}
    quote = order.get("quote") or {}
    if _money((payment.get("params") or {}).get("amount")) != _money(
            (quote.get("price") or {}).get("value")):
        yield key, "message.order.payment", (
            "Quoted price (/on_confirm) doesn't match with the amount in payment.params")
    yield from _quote_problems(key, quote)
    if bundle.flow not in ("0099", "0098"):
        yield from _quote_against_on_select(bundle, key, "on_confirm")
    on_init = bundle.order("on_init").get("quote")
    if on_init and _money((on_init.get("price") or {}).get("value")) != _money(
            (quote.get("price") or {}).get("value")):
        yield key, "message.order.quote.price", (
            "Quoted Price in /on_confirm does not match with the quoted price in /on_init")


ORDER_RULES_125: tuple[Rule, ...] = (
    select_offers, on_select_quote, on_select_prices, on_select_offers, init_address,
    on_init_terms, confirm_request, on_confirm_order,
)
