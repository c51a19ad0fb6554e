"""Request builders named by scenario steps (``build: {builder: select, quantity: 2}``).

Each builder turns what the flow has seen so far (earlier requests and callbacks) into the next
request, the way a buyer app would: pick an item from on_search, echo on_select's fulfillment
into init, on_init's quote into confirm... Parameters come from the scenario file.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ondc_adapter.protocol.durations import format_timestamp, parse_timestamp
from ondc_adapter.sandbox import builders_125, paths
from ondc_adapter.sandbox.flow_state import BuildError, FlowState, order_of
from ondc_adapter.sandbox.issue_builders import build_issue, build_issue_open, build_on_issue

__all__ = ["BUILDERS", "BuildError", "FlowState", "build", "build_issue", "build_issue_open",
           "build_on_issue", "pick_items"]

# The buyer app's own GSTIN, sent in confirm's bap_terms (a well-formed GSTIN, not the
# seller's: ONDC's validator checks both).
BUYER_APP_GSTIN = "29AABCS1429B1ZB"

BUYER = {
    "name": "Sandbox Buyer",
    "phone": "9886098860",
    "email": "buyer@example.com",
    "gps": "12.974002,77.613458",
    "area_code": "560001",
    # name, building and locality: each of 4+ characters and all different (ONDC's validator)
    "address": {
        "name": "Asha Devi",
        "building": "Sandbox Towers",
        "locality": "MG Road",
        "city": "Bengaluru",
        "state": "Karnataka",
        "country": "IND",
        "area_code": "560001",
    },
}


# The buyer app's feature declaration on every search (``bap_features``): ONDC's retail 1.2.0
# search schema wants the group in ``intent.tags`` whenever tags are sent (a catalog_inc refresh
# without it is rejected), each code from ONDC's feature-discovery list with value "yes". The
# sandbox buyer declares one code, "001": one that both the 1.2.0 schema's list and the later
# ones accept ("000" is gone from those).
BAP_FEATURES = {"code": "bap_features", "list": [{"code": "001", "value": "yes"}]}


def _search_payment(finder_fee: str) -> dict[str, str]:
    return {
        "@ondc/org/buyer_app_finder_fee_type": "percent",
        "@ondc/org/buyer_app_finder_fee_amount": finder_fee,
    }


def build_search(state: FlowState, *, fulfillment_type: str = "Delivery",
                 finder_fee: str = "3", category: str | None = None) -> dict[str, Any]:
    intent: dict[str, Any] = {
        "fulfillment": {"type": fulfillment_type},
        "payment": _search_payment(finder_fee),
        "tags": builders_125.search_tags(state, [copy.deepcopy(BAP_FEATURES)]),
    }
    if category:
        intent["category"] = {"id": category}
    return {
        "context": state.context("search", transaction_id=state.search_transaction_id),
        "message": {"intent": intent},
    }


def build_search_inc(state: FlowState, *, mode: str = "pull", window_seconds: int = 3600,
                     end_offset_seconds: float = 0, since: str | None = None) -> dict[str, Any]:
    """Incremental catalogue refresh (city "*"): ``mode`` pull (start/end window) | start | stop.

    A pull asks for the last ``window_seconds``, or, with ``since`` (an earlier step's id), for
    what changed after that step's message was sent, as a buyer app asks for the changes since
    its last full catalogue."""
    ctx = state.context("search", transaction_id=state.search_transaction_id)
    ctx["city"] = "*"
    # The window must end at or before context.timestamp: measure from that very value.
    now = parse_timestamp(ctx["timestamp"])
    if mode == "pull":
        end = now - timedelta(seconds=end_offset_seconds)
        if since is not None:
            if since not in state.messages:
                raise BuildError(f"search_inc: no earlier step {since!r}")
            start = parse_timestamp(str(paths.get(state.messages[since], "context.timestamp")))
            if not start < end:
                raise BuildError(f"search_inc: step {since!r} is not before the window's end")
        else:
            start = end - timedelta(seconds=window_seconds)
        tag_list = [
            {"code": "start_time", "value": format_timestamp(start)},
            {"code": "end_time", "value": format_timestamp(end)},
        ]
    else:
        tag_list = [{"code": "mode", "value": mode}]
    return {
        "context": ctx,
        "message": {
            "intent": {
                "payment": _search_payment("3"),
                "tags": builders_125.search_tags(
                    state, [{"code": "catalog_inc", "list": tag_list}, copy.deepcopy(BAP_FEATURES)]
                ),
            }
        },
    }


def _count(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def pick_items(catalog: dict[str, Any], strategy: str, how_many: int) -> tuple[
    dict[str, Any], list[dict[str, Any]]
]:
    """The first provider of ``catalog`` with ``how_many`` enabled items for ``strategy``
    (``first_in_stock``/``in_stock``: available count > 0; ``first_cod``: in stock and
    ``@ondc/org/available_on_cod``; ``first_not_cod``: in stock without it (to be refused
    cash on delivery); ``first_returnable``: in stock and
    ``@ondc/org/returnable``; ``first``: any)."""
    for provider in catalog.get("bpp/providers") or []:
        items = [
            i for i in provider.get("items") or []
            if (i.get("time") or {}).get("label", "enable") == "enable"
        ]
        if strategy in ("first_in_stock", "in_stock", "first_cod", "first_not_cod",
                        "first_returnable"):
            chosen = [i for i in items if _count(paths.get(i, "quantity.available.count", 0)) > 0]
            if strategy == "first_cod":
                chosen = [i for i in chosen if i.get("@ondc/org/available_on_cod") is True]
            elif strategy == "first_not_cod":
                chosen = [i for i in chosen if i.get("@ondc/org/available_on_cod") is not True]
            elif strategy == "first_returnable":
                chosen = [i for i in chosen if i.get("@ondc/org/returnable") is True]
        elif strategy == "first":
            chosen = items
        else:
            raise BuildError(f"unknown item strategy {strategy!r}")
        if len(chosen) >= how_many:
            return provider, chosen[:how_many]
    raise BuildError(f"on_search has no provider with {how_many} item(s) for {strategy!r}")


def _items_by_id(catalog: dict[str, Any], wanted: list[str]) -> tuple[
    dict[str, Any], list[dict[str, Any]]
]:
    """The provider listing every item of ``wanted``, and those items in that order."""
    for provider in catalog.get("bpp/providers") or []:
        listed = {str(i.get("id")): i for i in provider.get("items") or []}
        if all(w in listed for w in wanted):
            return provider, [listed[w] for w in wanted]
    raise BuildError(f"on_search has no provider listing items {wanted}")


def build_select(state: FlowState, *, items: str | list[str] = "first_in_stock",
                 how_many: int = 1, quantity: int | str = 1, payment_type: str | None = None,
                 offer: str | None = None) -> dict[str, Any]:
    """``items``: a strategy (``pick_items``) or a list of item ids; ``quantity``: a count, or
    ``over_stock`` (available + 1: the out-of-stock case); ``offer`` (retail 1.2.5): an offer
    id or type of the chosen provider's catalogue to apply (``order.offers``)."""
    on_search = state.latest("on_search")
    state.bpp_id = on_search["context"].get("bpp_id")
    state.bpp_uri = on_search["context"].get("bpp_uri")
    if isinstance(items, list):
        provider, chosen = _items_by_id(on_search["message"]["catalog"], [str(i) for i in items])
    else:
        provider, chosen = pick_items(on_search["message"]["catalog"], items, how_many)
    order_items = []
    for item in chosen:
        if quantity == "over_stock":
            count = _count(paths.get(item, "quantity.available.count", 0)) + 1
        else:
            count = int(quantity)
        line: dict[str, Any] = {"id": item["id"], "quantity": {"count": count}}
        if item.get("location_id"):
            line["location_id"] = item["location_id"]
        order_items.append(line)
    location_ids = sorted({i["location_id"] for i in chosen if i.get("location_id")})
    if not location_ids:
        location_ids = [loc["id"] for loc in (provider.get("locations") or [])[:1]]
    order: dict[str, Any] = {
        "provider": {"id": provider["id"], "locations": [{"id": x} for x in location_ids]},
        "items": order_items,
        "fulfillments": [
            {
                "end": {
                    "location": {"gps": BUYER["gps"], "address": {"area_code": BUYER["area_code"]}}
                }
            }
        ],
    }
    if payment_type:
        order["payment"] = {"type": payment_type}
    if offer is not None:
        order["offers"] = builders_125.selected_offers(state, provider, str(offer))
    return {"context": state.context("select"), "message": {"order": order}}


def _billing(state: FlowState) -> dict[str, Any]:
    stamp = format_timestamp(state.now())
    return {
        "name": BUYER["name"],
        "address": dict(BUYER["address"]),
        "email": BUYER["email"],
        "phone": BUYER["phone"],
        "created_at": stamp,
        "updated_at": stamp,
    }


def build_init(state: FlowState, *, payment_type: str | None = None) -> dict[str, Any]:
    """``payment_type``: ``ON-ORDER`` (prepaid), ``ON-FULFILLMENT`` (cash on delivery); by
    default what the select asked for, else ON-ORDER."""
    on_select = order_of(state, "on_select")
    select = order_of(state, "select")
    ptype = payment_type or paths.get(select, "payment.type", None) or "ON-ORDER"
    fulfillment = (on_select.get("fulfillments") or [{}])[0]
    items = [
        {"id": i["id"], "quantity": i["quantity"], "fulfillment_id": fulfillment.get("id", "F1"),
         **({"location_id": i["location_id"]} if i.get("location_id") else {})}
        for i in select["items"]
    ]
    order = {
        "provider": select["provider"],
        "items": items,
        "billing": _billing(state),
        "fulfillments": [
            {
                "id": fulfillment.get("id", "F1"),
                "type": fulfillment.get("type", "Delivery"),
                "end": {
                    "location": {"gps": BUYER["gps"], "address": dict(BUYER["address"])},
                    "contact": {"phone": BUYER["phone"], "email": BUYER["email"]},
                },
            }
        ],
        "payment": {"type": ptype},
    }
    builders_125.carry_offers(state, select, order)
    return {"context": state.context("init"), "message": {"order": order}}


# Cash on delivery: the seller side collects (collected_by BPP), so the buyer app is the
# party to settle with (its finder fee): protocol.md 4.6, counterparty ``buyer-app`` for COD.
COD_SETTLEMENT = {
    "settlement_counterparty": "buyer-app",
    "settlement_phase": "sale-amount",
    "settlement_type": "upi",
    "beneficiary_name": "Sandbox Buyer App",
    "upi_address": "sandbox-buyer@upi",
}


def build_confirm(state: FlowState, *, order_id: str | None = None,
                  payment_status: str | None = None) -> dict[str, Any]:
    """The payment is on_init's; ``payment_status`` defaults to PAID (prepaid, collected by the
    buyer app) or NOT-PAID for cash on delivery (ON-FULFILLMENT, collected by the seller)."""
    on_init = order_of(state, "on_init")
    init = order_of(state, "init")
    state.order_id = order_id or ("O" + uuid.uuid4().hex[:12].upper())
    ctx = state.context("confirm")
    quote = on_init.get("quote") or {}
    payment = copy.deepcopy(on_init.get("payment") or {})
    cod = payment.get("type") == "ON-FULFILLMENT"
    if cod and payment.get("collected_by") == "BPP":
        payment["@ondc/org/settlement_details"] = [dict(COD_SETTLEMENT)]
    payment.update(
        {
            "type": payment.get("type", "ON-ORDER"),
            "collected_by": payment.get("collected_by", "BAP"),
            "status": payment_status or ("NOT-PAID" if cod else "PAID"),
            "params": {
                "currency": paths.get(quote, "price.currency", "INR"),
                "transaction_id": uuid.uuid4().hex,
                "amount": paths.get(quote, "price.value", "0.00"),
            },
        }
    )
    builders_125.finder_fee(state, payment)
    fulfillments = copy.deepcopy(init["fulfillments"])
    offered = {f.get("id"): f for f in on_init.get("fulfillments") or []}
    for f in fulfillments:
        f.setdefault("end", {})["person"] = {"name": BUYER["name"]}
        # confirm carries the tracking choice on_select / on_init offered
        f["tracking"] = bool(offered.get(f.get("id"), {}).get("tracking", False))
    bpp_terms = [t for t in on_init.get("tags") or [] if t.get("code") == "bpp_terms"]
    bap_terms = {"code": "bap_terms",
                 "list": [{"code": "tax_number", "value": BUYER_APP_GSTIN}]}
    order = {
        "id": state.order_id,
        "state": "Created",
        "provider": on_init.get("provider", init["provider"]),
        "items": init["items"],
        "billing": on_init.get("billing", init["billing"]),
        "fulfillments": fulfillments,
        "quote": quote,
        "payment": payment,
        "tags": [*bpp_terms, bap_terms],
        "created_at": ctx["timestamp"],
        "updated_at": ctx["timestamp"],
    }
    builders_125.carry_offers(state, init, order)
    return {"context": ctx, "message": {"order": order}}


def build_status(state: FlowState) -> dict[str, Any]:
    if not state.order_id:
        raise BuildError("status needs a confirmed order")
    return {"context": state.context("status"), "message": {"order_id": state.order_id}}


def build_track(state: FlowState) -> dict[str, Any]:
    if not state.order_id:
        raise BuildError("track needs a confirmed order")
    return {"context": state.context("track"), "message": {"order_id": state.order_id}}


def build_cancel(state: FlowState, *, reason: str | None = None, force: str | None = None
                 ) -> dict[str, Any]:
    """``reason``: by default 006 in 1.2.0, 003 in 1.2.5 (builders_125: what its checker takes)."""
    if not state.order_id:
        raise BuildError("cancel needs a confirmed order")
    reason = builders_125.cancel_reason(state, reason, "006")
    message: dict[str, Any] = {"order_id": state.order_id, "cancellation_reason_id": reason}
    if force is not None:
        message["descriptor"] = {
            "name": "fulfillment",
            "short_desc": "F1",
            "tags": [{"code": "params", "list": [{"code": "force", "value": force},
                                                  {"code": "ttl_response", "value": "PT1H"}]}],
        }
    return {"context": state.context("cancel"), "message": message}


def build_update_return(state: FlowState, *, reason: str | None = None, quantity: int = 1
                        ) -> dict[str, Any]:
    """Buyer return request (update_target item), as in flow 6 (return, liquidated);
    ``reason`` by default 001 in 1.2.0, 003 in 1.2.5 (whose return reasons are 002-005)."""
    if not state.order_id:
        raise BuildError("a return needs a delivered order")
    reason = builders_125.return_reason(state, reason, "001")
    order = order_of(state, "on_confirm")
    item = order["items"][0]
    ctx = state.context("update")
    return {
        "context": ctx,
        "message": {
            "update_target": "item",
            "order": {
                "id": state.order_id,
                "fulfillments": [
                    {
                        "type": "Return",
                        "tags": [
                            {
                                "code": "return_request",
                                "list": [
                                    {"code": "id", "value": "R" + uuid.uuid4().hex[:6]},
                                    {"code": "item_id", "value": item["id"]},
                                    {"code": "item_quantity", "value": str(quantity)},
                                    {"code": "reason_id", "value": reason},
                                    {"code": "reason_desc", "value": "sandbox return"},
                                    {"code": "images", "value": "https://example.com/r.png"},
                                    {"code": "ttl_approval", "value": "PT24H"},
                                    {"code": "ttl_reverseqc", "value": "P3D"},
                                    *builders_125.return_request_extras(state),
                                ],
                            }
                        ],
                    }
                ],
            },
        },
    }


def _settled_fulfillment(source: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fulfillment a refund settlement is for: the newest Cancel or Return one of the
    seller's latest ``source`` callback."""
    fulfillments = (paths.get(source, "message.order.fulfillments", []) or []) if source else []
    return next(
        (f for f in reversed(fulfillments) if f.get("type") in ("Cancel", "Return")), None
    )


def _return_value(state: FlowState, f: dict[str, Any]) -> float:
    """What the buyer paid for the units a Return takes back (unit price x quantity, from the
    on_confirm quote), for a refund the buyer app pays out before the seller's quote_trail."""
    request = next((t for t in f.get("tags") or [] if t.get("code") == "return_request"), {})
    asked = {e.get("code"): e.get("value") for e in request.get("list") or []}
    quote = order_of(state, "on_confirm").get("quote") or {}
    line = next(
        (b for b in quote.get("breakup") or []
         if b.get("@ondc/org/title_type") == "item"
         and b.get("@ondc/org/item_id") == asked.get("item_id")),
        None,
    )
    if line is None:
        return 0.0
    unit = float(paths.get(line, "item.price.value", 0) or 0)
    return unit * int(asked.get("item_quantity") or 0)


def build_update_settlement(state: FlowState, *, after: str = "on_update") -> dict[str, Any]:
    """Buyer's refund settlement (update_target payment) after a part-cancel or a return: the
    refund of the newest Cancel / Return fulfillment of the latest ``after`` callback, named in
    ``order.fulfillments`` as in ONDC's example. The amount is that fulfillment's quote_trail
    (each settlement covers its own refund, not the ones settled before); a Return the seller
    has not repriced yet (a buyer app refunding its buyer at pickup, before the seller's
    reverse QC) is settled at what the buyer paid for the returned units."""
    if not state.order_id:
        raise BuildError("a settlement needs an order")
    settled = _settled_fulfillment(state.last.get(after))
    total = 0.0
    for tag in (settled or {}).get("tags") or []:
        if tag.get("code") == "quote_trail":
            for entry in tag.get("list") or []:
                if entry.get("code") == "value":  # refunds are negative in a quote_trail
                    total -= float(entry.get("value") or 0)
    total = max(total, 0.0)
    if settled is not None and not total and settled.get("type") == "Return":
        total = _return_value(state, settled)
    ctx = state.context("update")
    order: dict[str, Any] = {"id": state.order_id}
    if settled is not None:
        order["fulfillments"] = [{"id": settled.get("id"), "type": settled.get("type")}]
    order["payment"] = {
        "@ondc/org/settlement_details": [
            {
                "settlement_counterparty": "buyer",
                "settlement_phase": "refund",
                "settlement_type": "upi",
                "settlement_amount": f"{total:.2f}",
                "settlement_timestamp": ctx["timestamp"],
            }
        ]
    }
    return {"context": ctx, "message": {"update_target": "payment", "order": order}}


def build_catalog_rejection(state: FlowState, *, code: str = "91003",
                            provider_code: str = "90019") -> dict[str, Any]:
    """The buyer app refuses part of the catalogue it was sent last (flows 7 and 9): the
    first item of the latest on_search with ``code`` (an ITEM-ERROR), or, when that on_search
    has no item, its first provider with ``provider_code``. Type and message are ONDC's for
    the code; the path names provider and item by id."""
    from ondc_adapter.catalogue.rejections import rejection_codes

    on_search = state.latest("on_search")
    providers = paths.get(on_search, "message.catalog.bpp/providers", None) or []
    if not providers:
        raise BuildError("the last on_search has no provider to refuse")
    provider = providers[0]
    base = f"message.catalog['bpp/providers'][?(@.id=='{provider['id']}')]"
    items = provider.get("items") or []
    chosen, path = (code, f"{base}.items[?(@.id=='{items[0]['id']}')]") if items else (
        provider_code, base)
    known = rejection_codes().get(chosen)
    if known is None:
        raise BuildError(f"{chosen} is not an ONDC catalogue rejection code")
    ctx = state.context("catalog_rejection", transaction_id=on_search["context"]["transaction_id"])
    ctx["city"] = on_search["context"].get("city", ctx["city"])  # "*" after an incremental one
    return {
        "context": ctx,
        "errors": [{"code": chosen, "type": known["type"], "path": path,
                    "message": known["message"]}],
    }


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "search": build_search,
    "search_full_catalog": build_search,
    "search_inc": build_search_inc,
    "select": build_select,
    "init": build_init,
    "confirm": build_confirm,
    "status": build_status,
    "track": build_track,
    "cancel": build_cancel,
    "update_return": build_update_return,
    "update_settlement": build_update_settlement,
    "catalog_rejection": build_catalog_rejection,
    "issue_open": build_issue_open,
    "issue": build_issue,
    "on_issue": build_on_issue,
}


def build(name: str, state: FlowState, params: dict[str, Any]) -> dict[str, Any]:
    if name not in BUILDERS:
        raise BuildError(f"unknown builder {name!r} (have {sorted(BUILDERS)})")
    try:
        return BUILDERS[name](state, **params)
    except TypeError as exc:
        raise BuildError(f"builder {name!r}: {exc}") from exc
