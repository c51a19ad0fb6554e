"""Rules on what the seller says when an order cannot go as asked: the out-of-stock on_select
(``utils/Retail/Select_OOS/on_select_oos.ts``), the on_cancel's schema and quote_trail
(``utils/Retail/Cancel/onCancel.ts``, ``schema/Retail/Cancel/onCancel.ts``) and the on_status
that ends an RTO (``utils/Retail/Status/onStatusRTODelivered.ts``,
``schema/Retail/Cancel/on_cancel_rto.ts``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import Bundle, rule

SRC_OOS = "utils/Retail/Select_OOS/on_select_oos.ts"
SRC_ON_CANCEL = "utils/Retail/Cancel/onCancel.ts"
SRC_RTO_STATUS = "utils/Retail/Status/onStatusRTODelivered.ts"
RTO_STATUS = "on_status_rto_delivered/disposed"
# schema/Retail/Cancel/onCancel.ts: what every on_cancel fulfillment and settlement detail has
ON_CANCEL_FULFILLMENT = ("id", "@ondc/org/provider_name", "state", "type", "tracking", "start",
                         "end", "tags")
ON_CANCEL_SETTLEMENT = ("settlement_counterparty", "settlement_phase", "beneficiary_name",
                        "settlement_type", "upi_address", "settlement_bank_account_no",
                        "settlement_ifsc_code", "bank_name", "branch_name")
# schema/Retail/Cancel/on_cancel_rto.ts: the order's properties (additionalProperties: false)
RTO_ORDER_KEYS = frozenset({"id", "state", "provider", "items", "billing", "cancellation",
                            "fulfillments", "quote", "payment", "created_at", "updated_at"})


def _number(value: Any) -> float:
    """``Number(value)`` of JavaScript, for the strings and numbers a payload holds."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _int(value: Any) -> float:
    """``parseInt(value, 10)`` (NaN when it does not start with digits)."""
    text = str(value).strip()
    digits = len(text) - len(text.lstrip("+-0123456789"))
    try:
        return float(int(text[:digits]))
    except ValueError:
        return float("nan")


def _js(value: float) -> str:
    """A number as JavaScript prints it in a message (1148.4, 50)."""
    return str(int(value)) if value.is_integer() else repr(value)


def _price(line: dict[str, Any]) -> Any:
    return (line.get("price") or {}).get("value")


@rule("on_select_oos.quantity", SRC_OOS)
def on_select_oos_quantity(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An out-of-stock quote line offers no more than it says is available: the available
    count is never below the count quoted, a line offering nothing is available nowhere, and
    an item in stock ("99") can be ordered (its maximum is not 0)."""
    key = "on_select_out_of_stock"
    for n, line in enumerate((bundle.order(key).get("quote") or {}).get("breakup") or []):
        if line.get("@ondc/org/title_type") != "item":
            continue
        quantity = (line.get("item") or {}).get("quantity") or {}
        available, maximum = quantity.get("available"), quantity.get("maximum")
        if not (available and maximum):
            continue
        avail, most = _int(available.get("count")), _int(maximum.get("count"))
        count = _number((line.get("@ondc/org/item_quantity") or {}).get("count"))
        where = f"message.order.quote.breakup[{n}].item.quantity"
        if (isinstance(available.get("count"), str) and isinstance(maximum.get("count"), str)
                and avail == 99 and most == 0):
            yield key, where, "item.quantity.maximum.count cant be 0 if item is in stock "
        if avail < count:
            yield key, where + ".available.count", (
                "Available count can't be less than @ondc/org/item_quantity.count ")
        if count == 0 and most > 0 and avail > 0:
            yield key, where, (
                "item.quantity.maximum.count and item.quantity.available.count is cannot be "
                'greater than zero if "@ondc/org/item_quantity" is 0 ')


@rule("on_cancel.schema", "schema/Retail/Cancel/onCancel.ts; " + SRC_ON_CANCEL)
def on_cancel_schema(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The buyer-cancel on_cancel (flows other than 5, which the validator checks against
    the RTO schema): every fulfillment, the Cancel one too, names its provider, tracking,
    start, end and tags; every settlement detail names the UPI address and the bank account;
    and the first settlement detail is on_init's."""
    order = bundle.order("on_cancel")
    if not order:
        return
    key = "on_cancel"
    if bundle.flow != "5":
        for n, f in enumerate(order.get("fulfillments") or []):
            for name in ON_CANCEL_FULFILLMENT:
                if name not in f:
                    yield key, f"message.order.fulfillments[{n}]", (
                        f"/message/order/fulfillments/{n} must have required property '{name}'")
        details = (order.get("payment") or {}).get("@ondc/org/settlement_details") or []
        for n, detail in enumerate(details):
            for name in ON_CANCEL_SETTLEMENT:
                if name not in detail:
                    yield key, f"message.order.payment.@ondc/org/settlement_details[{n}]", (
                        f"/message/order/payment/@ondc~1org~1settlement_details/{n} must have "
                        f"required property '{name}'")
    init = (bundle.order("on_init").get("payment") or {}).get("@ondc/org/settlement_details")
    sent = (order.get("payment") or {}).get("@ondc/org/settlement_details")
    if init and (not sent or sent[0] != init[0]):
        yield key, "message.order.payment.@ondc/org/settlement_details", (
            "payment settlement_details mismatch in /on_init & /on_cancel")


def _trail_entries(f: dict[str, Any]) -> Iterator[dict[str, str]]:
    for tag in f.get("tags") or []:
        if isinstance(tag, dict) and tag.get("code") == "quote_trail":
            yield {str(e.get("code")): e.get("value") for e in tag.get("list") or []
                   if isinstance(e, dict)}


@rule("on_cancel.quote_trail", SRC_ON_CANCEL + "; " + SRC_RTO_STATUS)
def on_cancel_quote_trail(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """What the cancel took out reconciles with on_confirm: the cancelling fulfillment (RTO in
    flow 5, else Cancel) refunds each item line whole, at on_select's line price; its
    quote_trail plus what the quote still charges is on_confirm's price; and each item line of
    the forward fulfillment has one cancelled line. on_cancel sums the trail's absolute values
    per fulfillment and compares exactly; the on_status that ends an RTO sums the negated
    values of all of them, to two decimals, and compares rupees (both as JavaScript numbers,
    which Python floats are)."""
    confirmed = _number(((bundle.order("on_confirm").get("quote") or {}).get("price") or {})
                        .get("value"))
    on_select = bundle.order("on_select")
    select_prices = {
        b.get("@ondc/org/item_id"): abs(_number(_price(b)))
        for b in (on_select.get("quote") or {}).get("breakup") or []
        if b.get("@ondc/org/title_type") == "item" and _price(b)
    }
    forward = {i.get("id"): i.get("fulfillment_id") for i in on_select.get("items") or []}
    kind = "RTO" if bundle.flow == "5" else "Cancel"
    for key in ("on_cancel", RTO_STATUS):
        order = bundle.order(key)
        if not order:
            continue
        price = _number(((order.get("quote") or {}).get("price") or {}).get("value"))
        cancelling = [f for f in order.get("fulfillments") or [] if f.get("type") == kind]
        if key == "on_cancel":
            for f in cancelling:
                refunded = 0.0
                for entry in _trail_entries(f):
                    refunded += abs(_number(entry.get("value")))
                if confirmed != price + refunded:
                    yield key, "message.order.fulfillments.tags", (
                        "quote_trail price and item quote price sum for on_cancel should be "
                        "equal to the price as in on_confirm")
        else:
            refunded = 0.0
            for f in cancelling:
                for entry in _trail_entries(f):
                    refunded -= _number(entry.get("value"))
            refunded = round(refunded, 2)
            if math.floor(confirmed + 0.5) != math.floor(price + refunded + 0.5):
                yield key, "message.order.fulfillments.tags", (
                    "quote_trail price and item quote price sum for on_cancel should be equal "
                    "to the price as in on_confirm")
        for f in cancelling:
            for entry in _trail_entries(f):
                item_id = entry.get("id")
                expected = select_prices.get(item_id)
                value = abs(_number(entry.get("value")))
                if entry.get("type") == "item" and expected and value and value != expected:
                    yield key, "message.order.fulfillments.tags", (
                        f"Price mismatch for  [{item_id}] provided in quote object "
                        f"'[{_js(expected)}]'. Should be same as in quote of on_select")
        lines = [i for i in order.get("items") or [] if i.get("id") in forward]
        ahead = sum(1 for i in lines if i.get("fulfillment_id") in forward.values())
        if len(lines) - ahead != ahead:
            yield key, "message.order.items", (
                "The count of cancellation fulfillments is not equal to the count of forward "
                "fulfillments or invalid fulfillment id.")


@rule("on_status_rto.order", SRC_RTO_STATUS + "; schema/Retail/Cancel/on_cancel_rto.ts")
def on_status_rto_order(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The on_status that ends an RTO has the on_cancel RTO order's shape (no tags, documents
    or other extra properties), and its RTO fulfillment is RTO-Delivered or RTO-Disposed.

    The RTO's end/time: the validator means it for both final states, but its test reads the
    second and third entries of a two-entry list, so it wants end/time for RTO-Disposed and
    refuses it for RTO-Delivered ("should be present ... when RTO-Initiated", sic). Ported as
    it runs."""
    order = bundle.order(RTO_STATUS)
    if not order:
        return
    key = RTO_STATUS
    for extra in sorted(set(order) - RTO_ORDER_KEYS):
        yield key, "message.order", f"/message/order must NOT have additional properties ({extra})"
    rto = next((f for f in order.get("fulfillments") or [] if f.get("type") == "RTO"), None)
    if rto is None:
        yield key, "message.order.fulfillments", f"RTO object is mandatory for {key}"
        return
    code = ((rto.get("state") or {}).get("descriptor") or {}).get("code")
    if code not in ("RTO-Delivered", "RTO-Disposed"):
        yield key, "message.order.fulfillments.state", (
            f"Delivery state should be one of ['RTO-Delivered', 'RTO-Disposed'] for {key}")
    end = rto.get("end")
    if not end:
        yield key, "message.order.fulfillments.end", (
            f"RTO fulfillment end object  is missing in {key}")
    elif code == "RTO-Disposed":
        if not (end.get("time") or {}).get("timestamp"):
            yield key, "message.order.fulfillments.end.time", (
                f"fulfillment type rto end/time/timestamp is missing in /{key}")
    elif "time" in end:
        yield key, "message.order.fulfillments.end.time", (
            f"fulfillment type rto end/time should be present in /{key} when state/desc/code is "
            "RTO-Initiated")


CANCEL_RULES = (on_select_oos_quantity, on_cancel_schema, on_cancel_quote_trail,
                on_status_rto_order)
