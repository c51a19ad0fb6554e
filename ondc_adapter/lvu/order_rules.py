"""Rules from select to on_confirm (``utils/Retail/Select``, ``Init``, ``Confirm`` and their
schemas under ``schema/Retail/RET/``): the buyer's requests and the seller's answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import GSTIN, PAN, Bundle, rule, tag_list

SRC_ON_SELECT = "utils/Retail/Select/onSelect.ts"
SRC_INIT = "utils/Retail/Init/init.ts"
SRC_ON_INIT = "utils/Retail/Init/onInit.ts"
SRC_CONFIRM = "utils/Retail/Confirm/confirm.ts"
SRC_ON_CONFIRM = "utils/Retail/Confirm/onConfirm.ts"
NON_ITEM_TITLES = {"delivery charges": "delivery", "packing charges": "packing", "tax": "tax",
                   "discount": "discount", "convenience fee": "misc"}


def _money(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _quote_problems(key: str, quote: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    breakup = quote.get("breakup") or []
    total = sum(_money((b.get("price") or {}).get("value")) for b in breakup)
    if round(total) != round(_money((quote.get("price") or {}).get("value"))):
        yield key, "message.order.quote", (
            f"quote.price.value {(quote.get('price') or {}).get('value')} does not match with "
            f"the price breakup {total:.2f}")
    if not quote.get("ttl"):
        yield key, "message.order.quote.ttl", "quote.ttl: Validity of the quote is missing"


def _stripped_quote(quote: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in quote.items()}
    out["breakup"] = [
        {**b, "item": {k: v for k, v in (b.get("item") or {}).items() if k != "quantity"}}
        if "item" in b else b
        for b in quote.get("breakup") or []
    ]
    return out


@rule("on_select.quote", SRC_ON_SELECT)
def on_select_quote(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key in ("on_select", "on_select_out_of_stock"):
        order = bundle.order(key)
        if not order:
            continue
        yield from _quote_problems(key, order.get("quote") or {})
        fulfillments = {f.get("id"): f for f in order.get("fulfillments") or []}
        yield from _pre_order_fulfillments(key, order)
        serviceable = _serviceable(order)
        for n, line in enumerate((order.get("quote") or {}).get("breakup") or []):
            kind = line.get("@ondc/org/title_type")
            where = f"message.order.quote.breakup[{n}]"
            if kind == "item":
                quantity = (line.get("item") or {}).get("quantity") or {}
                available = str((quantity.get("available") or {}).get("count", "99"))
                if available not in ("99", "0"):
                    yield key, where + ".item.quantity.available.count", (
                        "available count must be either 99 or 0 only")
            elif (kind in ("delivery", "packing", "misc")
                  and line.get("@ondc/org/item_id") not in fulfillments):
                yield key, where, (
                    f"invalid  id: {line.get('@ondc/org/item_id')} in {kind} line item "
                    "(should be a valid fulfillment_id)")
            if kind != "item":
                title = str(line.get("title", "")).lower().strip()
                if NON_ITEM_TITLES.get(title) not in (kind, None) or title not in NON_ITEM_TITLES:
                    yield key, where + ".title", (
                        f'Quote breakup Payment title "{line.get("title")}" is not as per the '
                        "API Contract")
        if serviceable and not any(
            b.get("@ondc/org/title_type") == "delivery"
            for b in (order.get("quote") or {}).get("breakup") or []
        ):
            yield key, "message.order.quote.breakup", (
                "delivery line item must be present in quote/breakup (if location is serviceable)")


def _pre_order_fulfillments(key: str, order: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """on_select's fulfillments: a pre-order state code, a TAT and a boolean ``tracking``
    (the same in 1.2.0 and 1.2.5)."""
    for n, f in enumerate(order.get("fulfillments") or []):
        code = ((f.get("state") or {}).get("descriptor") or {}).get("code")
        if code not in ("Serviceable", "Non-serviceable"):
            yield key, f"message.order.fulfillments[{n}].state", (
                "Pre-order fulfillment state codes should be used in "
                "fulfillments[].state.descriptor.code")
        if not f.get("@ondc/org/TAT"):
            yield key, f"message.order.fulfillments[{n}]", (
                f"Fulfillment TAT must be present for fulfillment ID: {f.get('id')}")
        if not isinstance(f.get("tracking"), bool):
            yield key, f"message.order.fulfillments[{n}].tracking", (
                f"Tracking must be present for fulfillment ID: {f.get('id')} in boolean form")


def _serviceable(order: dict[str, Any]) -> bool:
    """Some fulfillment is Serviceable: then the quote must carry a delivery line."""
    return any(
        ((f.get("state") or {}).get("descriptor") or {}).get("code") == "Serviceable"
        for f in order.get("fulfillments") or []
    )


def _js_number(value: float) -> str:
    """A number as JavaScript prints it in a message (1722, 1722.6000000000001)."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


@rule("on_select.prices", SRC_ON_SELECT + "; utils/Retail/Select/select.ts; "
      "utils/Retail/Select_OOS/on_select_oos.ts")
def on_select_prices(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An item line's total is its unit price times its count, and the item lines of the
    selected items add up to what they cost in on_search. The validator does this arithmetic
    in binary floating point, as JavaScript numbers, and compares exactly: 574.2 * 3 is
    1722.6000000000001, not the 1722.60 the node quotes (exact, in Decimal). Ported with
    Python floats, the same IEEE doubles, in the validator's order, so it flags what the
    validator flags: prices in paise times a count can; whole rupees never do."""
    for key in ("on_select", "on_select_out_of_stock"):
        for n, line in enumerate((bundle.order(key).get("quote") or {}).get("breakup") or []):
            if line.get("@ondc/org/title_type") != "item":
                continue
            item_id = line.get("@ondc/org/item_id")
            where = f"message.order.quote.breakup[{n}]"
            if "item" not in line:
                yield key, where, (
                    f"Item's unit price missing in quote.breakup for item id {item_id}")
                continue
            unit = _money(((line.get("item") or {}).get("price") or {}).get("value"))
            count = _money((line.get("@ondc/org/item_quantity") or {}).get("count"))
            total = _money((line.get("price") or {}).get("value"))
            if unit * count != total:
                yield key, where + ".price", (
                    f"Item's unit and total price mismatch for id: {item_id}")
    select = bundle.order("select")
    catalog = ((bundle.get("on_search_full_catalog_refresh") or {}).get("message") or {}).get(
        "catalog") or {}
    on_search = {
        i.get("id"): i for p in catalog.get("bpp/providers") or [] for i in p.get("items") or []
    }
    if not select or not bundle.order("on_select") or not on_search:
        return
    selected, counts = 0.0, {}
    for item in select.get("items") or []:
        counts[item.get("id")] = (item.get("quantity") or {}).get("count")
        found = on_search.get(item.get("id"))
        if found is not None:
            selected += _money((found.get("price") or {}).get("value")) * _money(
                (item.get("quantity") or {}).get("count"))
    quoted = 0.0
    for line in (bundle.order("on_select").get("quote") or {}).get("breakup") or []:
        # tax lines count too (the validator leaves them out for F&B only, not retail goods)
        if line.get("@ondc/org/item_id") in counts and line.get("@ondc/org/title_type") in (
            "item", "tax"
        ):
            quoted += _money((line.get("price") or {}).get("value"))
    if quoted != selected:
        yield "on_select", "message.order.quote.breakup", (
            f"Warning: Quoted Price in /on_select INR {_js_number(quoted)} does not match with "
            f"the total price of items in /select INR {_js_number(selected)} i.e price for the "
            "item mismatch in on_search and on_select")


@rule("init.address", SRC_INIT)
def init_address(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for n, f in enumerate(bundle.order("init").get("fulfillments") or []):
        address = ((f.get("end") or {}).get("location") or {}).get("address") or {}
        where = f"message.order.fulfillments[{n}].end.location.address"
        parts = [str(address.get(k, "")) for k in ("name", "building", "locality")]
        for name, value in zip(("name", "building", "locality"), parts, strict=True):
            if len(value) <= 3:
                yield "init", f"{where}.{name}", f"address.{name} should be more than 3 chars"
        if len(set(parts)) < 3:
            yield "init", where, (
                "value of address.name, address.building and address.locality should be unique")
        if sum(len(p) for p in parts) >= 190:
            yield "init", where, ("address.name + address.building + address.locality should "
                                  "be less than 190 chars;")


@rule("on_init.terms", SRC_ON_INIT)
def on_init_terms(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    order = bundle.order("on_init")
    if not order:
        return
    terms = tag_list(order.get("tags"), "bpp_terms")
    if terms is None:
        yield "on_init", "message.order.tags", "tax_number must be present for on_init"
        return
    if "accept_bap_terms" in terms:
        yield "on_init", "message.order.tags", "accept_bap_terms is not required for now!"
    if not GSTIN.match(terms.get("tax_number", "")):
        yield "on_init", "message.order.tags", "Invalid format for tax_number in on_init"
    if not PAN.match(terms.get("provider_tax_number", "")):
        yield "on_init", "message.order.tags", "Invalid format for provider_tax_number in on_init"
    if any(t.get("code") != "bpp_terms" for t in order.get("tags") or []):
        yield "on_init", "message.order.tags", "tags[].code must be bpp_terms in on_init"
    for n, f in enumerate(order.get("fulfillments") or []):
        if f.get("type") == "Delivery" and f.get("tags"):
            yield "on_init", f"message.order.fulfillments[{n}].tags", (
                "/message/order/fulfillment of type 'delivery' should not have tags ")
    yield from _quote_problems("on_init", order.get("quote") or {})
    on_select = bundle.order("on_select").get("quote")
    if on_select and _stripped_quote(on_select) != _stripped_quote(order.get("quote") or {}):
        yield "on_init", "message.order.quote", (
            "quote object of /on_init does not match the quote of /on_select")
    if not (order.get("payment") or {}).get("@ondc/org/settlement_details"):
        yield "on_init", "message.order.payment", "payment settlement_details missing in /on_init"


@rule("confirm.request", SRC_CONFIRM)
def confirm_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    order = bundle.order("confirm")
    if not order:
        return
    ctx = (bundle.get("confirm") or {}).get("context") or {}
    if order.get("state") != "Created":
        yield "confirm", "message.order.state", "Default order state should be used in /confirm"
    if order.get("created_at") != ctx.get("timestamp"):
        yield "confirm", "message.order.created_at", (
            "order.created_at timestamp should match context.timestamp")
    if order.get("updated_at") != order.get("created_at"):
        yield "confirm", "message.order.updated_at", (
            "order.updated_at timestamp should match order.created_at timestamp")
    for n, f in enumerate(order.get("fulfillments") or []):
        if not isinstance(f.get("tracking"), bool):
            yield "confirm", f"message.order.fulfillments[{n}].tracking", (
                f"Tracking must be present for fulfillment ID: {f.get('id')} in boolean form")
        if not (f.get("end") or {}).get("person"):
            yield "confirm", f"message.order.fulfillments[{n}].end.person", (
                f"fulfillments[{n}].end.person object is missing")
    bap = tag_list(order.get("tags"), "bap_terms") or {}
    bpp = tag_list(order.get("tags"), "bpp_terms") or {}
    if len(bap.get("tax_number", "")) != 15:
        yield "confirm", "message.order.tags", (
            "Tags/bap_terms should have valid gst number and fields in /confirm")
    elif bap.get("tax_number") == bpp.get("tax_number"):
        yield "confirm", "message.order.tags", "bap_terms and bpp_terms tax_number must differ"
    payment = order.get("payment") or {}
    if _money((payment.get("params") or {}).get("amount")) != _money(
        (order.get("quote") or {}).get("price", {}).get("value")
    ):
        yield "confirm", "message.order.payment.params.amount", (
            "Quoted price (/confirm) doesn't match with the amount in payment.params")


@rule("on_confirm.order", SRC_ON_CONFIRM)
def on_confirm_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    order = bundle.order("on_confirm")
    if not order:
        return
    key = "on_confirm"
    if order.get("cancellation_terms"):
        yield key, "message.order.cancellation_terms", (
            "'cancellation_terms' in /message/order should not be provided as those are not "
            "enabled yet")
    confirm = bundle.order("confirm")
    if confirm and order.get("id") != confirm.get("id"):
        yield key, "message.order.id", "Order Id mismatches in /confirm and /on_confirm"
    if confirm and order.get("created_at") != confirm.get("created_at"):
        yield key, "message.order.created_at", (
            "order.created_at timestamp mismatches in /confirm and /on_confirm")
    ctx = (bundle.get(key) or {}).get("context") or {}
    if order.get("updated_at") != ctx.get("timestamp"):
        yield key, "message.order.updated_at", (
            "updated_at timestamp should be equal to  context timestamp for /on_confirm")
    for n, f in enumerate(order.get("fulfillments") or []):
        code = ((f.get("state") or {}).get("descriptor") or {}).get("code")
        if code != "Pending":
            yield key, f"message.order.fulfillments[{n}].state", (
                "default fulfillments state is missing in /on_confirm")
        timed = any(((f.get(side) or {}).get("time") or {}).get("range")
                    for side in ("start", "end"))
        if order.get("state") == "Created" and f.get("type") == "Delivery" and timed:
            yield key, f"message.order.fulfillments[{n}]", (
                "Time ranges should only be provided in on_confirm whent he order.state is "
                "'Accepted'")
    terms = tag_list(order.get("tags"), "bpp_terms") or {}
    init_terms = tag_list(bundle.order("on_init").get("tags"), "bpp_terms") or {}
    if "np_type" not in terms:
        yield key, "message.order.tags", "np_type not found in on_confirm"
    if "accept_bap_terms" in terms:
        yield key, "message.order.tags", "accept_bap_terms is not required for now!"
    for code, value in terms.items():
        if code != "np_type" and init_terms.get(code) != value:
            yield key, "message.order.tags", (
                "List of bpp_terms mismatched in message/order/tags/bpp_terms for on_init and "
                f"on_confirm here Code '{code}'")
    asked = tag_list(confirm.get("tags"), "bap_terms") if confirm else None
    answered = tag_list(order.get("tags"), "bap_terms")
    if asked and (answered or {}).get("tax_number") != asked.get("tax_number"):
        yield key, "message.order.tags", (
            "Tags should have same and valid gst_number as passed in /confirm")
    if confirm and order.get("payment") != confirm.get("payment"):
        yield key, "message.order.payment", "payment object mismatches in /confirm & /on_confirm"
    yield from _quote_problems(key, order.get("quote") or {})


ORDER_RULES = (on_select_quote, on_select_prices, init_address, on_init_terms, confirm_request,
               on_confirm_order)
