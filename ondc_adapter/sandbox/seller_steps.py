"""The seller steps of a scenario, on the buyer's side: pure functions turning a step's
``params`` and the flow's state (the messages the buyer app has seen) into what the seller
action needs (an item id, an issue id, an offer body) and the message the seller acts after.
The same for the in-process adapter and a ``sandbox up`` in another process (``seller``
performs them); nothing here does I/O."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.sandbox import paths
from ondc_adapter.sandbox.builders import BuildError, FlowState, pick_items
from ondc_adapter.sandbox.runner import SellerActionFailed

# Catalogue actions: what each one needs in ``params`` besides ``item``.
CATALOGUE_ACTIONS: dict[str, tuple[str, ...]] = {
    "set_price": (),  # value (absolute) or percent (of the current price); optional mrp
    "set_stock": ("value",),
    "disable_item": (),
    "enable_item": (),
    # the store the item ships from: status enable (open), close (temporarily) or disable
    "set_store_status": ("status",),
}
ITEM_STRATEGIES = ("first_in_stock", "in_stock", "first")
STORE_STATUSES = ("enable", "close", "disable")
# Actions on the flow's complaint (IGM 2.0.0), on the issue the flow's latest ``issue`` names:
# what each takes in ``params``. ``issue_handled`` changes nothing: it waits until the adapter
# has handled that request and, given ``status``, checks the issue's status (after a buyer's
# RESOLUTION_ACCEPTED or CLOSED the node sends nothing back, so there is no callback to check).
ISSUE_ACTIONS: dict[str, tuple[str, ...]] = {
    "issue_process": ("text",),
    "issue_ask_info": ("question",),
    "issue_propose": ("kind", "amount", "item_id", "text"),
    "issue_resolve": ("text",),
    "issue_handled": ("status",),
}


def prepare_issue_action(action: str, params: dict[str, Any], state: FlowState
                         ) -> tuple[str, str]:
    """Buyer-side part of an issue action, the same for in-process and ``--url`` runs: the
    issue id and the message_id of the flow's latest ``issue`` (the seller acts once the
    adapter has handled it: a request it has not yet taken in would be overtaken)."""
    unknown = sorted(set(params) - set(ISSUE_ACTIONS[action]))
    if unknown:
        raise BuildError(f"{action} takes {', '.join(ISSUE_ACTIONS[action])}, not {unknown}")
    if action == "issue_ask_info" and not params.get("question"):
        raise BuildError("issue_ask_info needs a question")
    if action == "issue_propose" and not params.get("kind"):
        raise BuildError("issue_propose needs a kind (REFUND, REPLACEMENT...)")
    latest = state.latest("issue")
    return state.issue_id(), str(latest["context"]["message_id"])


# Actions on the complaint the seller raises itself (IGM 2.0.0 flow 2, through
# ``igm.complainant``), each sending an ``issue`` to the buyer app: what each takes in
# ``params``. ``issue_raise`` opens it in the flow's transaction (``transaction``: ``order``,
# the default once an order is confirmed, or ``search``) about a store (``provider``: default
# the order's, else the first of the latest on_search); the others act on the issue of the
# latest ``issue`` the buyer app received, once the node has taken in the buyer app's latest
# ``on_issue``. ``issue_taken`` changes nothing: it waits for that and checks the issue's
# ``status`` (and ``level``) as the node holds it.
COMPLAINT_ACTIONS: dict[str, tuple[str, ...]] = {
    "issue_raise": ("category", "short_desc", "long_desc", "provider", "transaction"),
    "issue_provide_info": ("text",),
    "issue_accept": ("text",),
    "issue_reject": ("text",),
    "issue_escalate": ("text",),
    "issue_close": ("text",),
    "issue_taken": ("status", "level"),
}
# what each complainant step is to ``igm.complainant.act``
COMPLAINT_STEPS = {"issue_provide_info": "provide-info", "issue_accept": "accept",
                   "issue_reject": "reject", "issue_escalate": "escalate",
                   "issue_close": "close"}
# what a seller complains of by default (IGM 2.0.0 enums): VIS001, the store is not shown
COMPLAINT_TEXTS = {"VIS001": ("Store not visible", "The store does not show in the buyer app")}


def _provider_of(state: FlowState) -> str:
    if "on_confirm" in state.last:
        provider = paths.get(state.last["on_confirm"], "message.order.provider.id", None)
        if provider:
            return str(provider)
    providers = paths.get(state.latest("on_search"), "message.catalog.bpp/providers", None)
    if not providers or not isinstance(providers[0], dict) or not providers[0].get("id"):
        raise BuildError("issue_raise: no provider in the latest on_search; give one")
    return str(providers[0]["id"])


def prepare_complaint_action(action: str, params: dict[str, Any], state: FlowState
                             ) -> tuple[str | None, str | None]:
    """Buyer-side part of a complaint action, the same for in-process and ``--url`` runs:
    complete ``params`` (``issue_raise``: the transaction id, store and texts) and return the
    issue id (None to raise one) and the message_id of the buyer app's latest ``on_issue``
    (the node acts once it has taken that in; None before the first)."""
    unknown = sorted(set(params) - set(COMPLAINT_ACTIONS[action]))
    if unknown:
        raise BuildError(f"{action} takes {', '.join(COMPLAINT_ACTIONS[action])}, not {unknown}")
    if action == "issue_raise":
        which = params.get("transaction") or ("order" if state.order_id else "search")
        if which not in ("order", "search"):
            raise BuildError("issue_raise: transaction is order or search")
        params["transaction"] = (state.transaction_id if which == "order"
                                 else state.search_transaction_id)
        params["provider"] = str(params.get("provider") or _provider_of(state))
        category = str(params.setdefault("category", "VIS001"))
        short, long = COMPLAINT_TEXTS.get(category, (f"Complaint {category}",) * 2)
        params.setdefault("short_desc", short)
        params.setdefault("long_desc", long)
        return None, None
    answer = state.last.get("on_issue")
    return state.issue_id(), str(answer["context"]["message_id"]) if answer else None


# Offer actions (retail 1.2.5): ``define_offer`` makes the seller define an offer of ``type``
# on the first provider of the latest on_search (or of step ``from``) with items in stock,
# through the adapter's admin API (``PUT /admin/providers/{pid}/offers/{offer_id}``), as a
# seller would; ``id`` names the offer (default ``sandbox-<type>``, lower case as in 1.2.5's
# examples: ONDC's init checker lower-cases the init's offer ids, not the select's).
OFFER_ACTIONS: dict[str, tuple[str, ...]] = {"define_offer": ("type", "id", "from")}
OFFER_TYPES = ("discount", "buyXgetY", "freebie", "slab", "combo", "delivery", "exchange",
               "financing")
# how long a sandbox offer is valid around the moment it is defined
OFFER_VALID_BEFORE = timedelta(hours=1)
OFFER_VALID_AFTER = timedelta(days=30)


def _paise(price: Any) -> int:
    try:
        return int((Decimal(str(price)) * 100).to_integral_value(rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        raise BuildError(f"define_offer: item price {price!r} is not a number") from None


def _offer_terms(kind: str, item: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Qualifier and benefit of a sandbox offer of ``kind`` on ``item`` (``other``: a second
    item of the same store, the combo's partner or the freebie; ``item`` itself when the store
    has one). The cart the flows select (one unit of ``item``, and ``other`` for a combo)
    always qualifies: a minimum value of one rupee."""
    low = {"min_value_paise": 100}
    if kind == "buyXgetY":  # buy one, get one more of the same item free
        return {"qualifier": {**low, "item_count": 1},
                "benefit": {"item_id": item["id"], "item_count": 1, "item_value_paise": 0}}
    if kind == "freebie":
        return {"qualifier": low,
                "benefit": {"item_id": other["id"], "item_count": 1,
                            "item_value_paise": _paise(paths.get(other, "price.value", 0))}}
    if kind == "slab":  # 1 to 5 units: 5 % off, at most 100 rupees
        return {"qualifier": {**low, "item_count": 1, "item_count_upper": 5},
                "benefit": {"percent": "5.00", "cap_paise": 10000}}
    if kind == "combo":
        return {"qualifier": {**low, "item_ids": [other["id"]]},
                "benefit": {"percent": "10.00", "cap_paise": 10000}}
    if kind == "delivery":  # free delivery, up to 100 rupees (ONDC's on_select checker wants
        # a cap with a percent delivery offer: onSelect.ts "cannot be equal to 0")
        return {"qualifier": low, "benefit": {"percent": "100.00", "cap_paise": 10000}}
    # discount: a flat 50 rupees off (every sample item costs more). The checker reads a
    # percent with a cap as a percent *of the cap* (docs/offers.md, conflict 3), so the sandbox's
    # certification discount is an amount, where the spec and the checker agree. Exchange and
    # financing carry no quote arithmetic: the sandbox sends what a discount would.
    return {"qualifier": low, "benefit": {"amount_paise": 5000}}


def prepare_offer_action(params: dict[str, Any], state: FlowState
                         ) -> tuple[str, str, dict[str, Any]]:
    """Buyer-side part of ``define_offer``: the provider, the offer id and the admin API's body
    (``offers.models.Offer`` without its id and provider, which the path names); completes
    ``params`` with ``provider``, ``item`` (the offer's item), ``other`` (a second item of the
    store) and ``offer`` (the id), for later steps (``${define:item}``)."""
    unknown = sorted(set(params) - set(OFFER_ACTIONS["define_offer"]))
    if unknown:
        raise BuildError(f"define_offer takes {', '.join(OFFER_ACTIONS['define_offer'])}, "
                         f"not {unknown}")
    kind = str(params.get("type") or "")
    if kind not in OFFER_TYPES:
        raise BuildError(f"define_offer: type is one of {', '.join(OFFER_TYPES)}")
    catalog = _catalog_of(state, params.pop("from", None), "define_offer")
    try:
        provider, chosen = pick_items(catalog, "first_in_stock", 2)
    except BuildError:
        provider, chosen = pick_items(catalog, "first_in_stock", 1)
    item, other = chosen[0], chosen[-1]
    location = item.get("location_id") or paths.get(provider, "locations[0].id", None)
    offer_id = str(params.get("id") or f"sandbox-{kind.lower()}")
    now = utcnow()
    body: dict[str, Any] = {
        "type": kind,
        "valid_from": (now - OFFER_VALID_BEFORE).isoformat(),
        "valid_to": (now + OFFER_VALID_AFTER).isoformat(),
        "location_ids": [location] if location else [],
        "item_ids": [item["id"]],
        **_offer_terms(kind, item, other),
        # applied only when the buyer asks (select's order.offers), alone
        "additive": False,
        "auto": False,
        "title": f"Sandbox {kind} offer",
    }
    params.update(provider=str(provider["id"]), item=str(item["id"]), other=str(other["id"]),
                  offer=offer_id)
    return str(provider["id"]), offer_id, body


def _catalog_of(state: FlowState, source: Any, action: str) -> dict[str, Any]:
    """The catalogue a seller step reads: the on_search of step ``source``, else the flow's
    latest."""
    if source is not None:
        if str(source) not in state.messages:
            raise BuildError(f"{action}: no earlier step {source!r}")
        on_search = state.messages[str(source)]
    else:
        on_search = state.latest("on_search")
    return (on_search.get("message") or {}).get("catalog") or {}



def prepare_catalogue_action(action: str, params: dict[str, Any], state: FlowState) -> str | None:
    """Buyer-side part of a catalogue action, the same for in-process and ``--url`` runs:
    resolve ``item`` (an id, or ``first_in_stock``/``first`` from the latest on_search, or
    from the on_search of step ``from``) into an id in ``params``, check the parameters, and
    return the message_id of the flow's latest search (the seller acts after handling it)."""
    spec = params.get("item", "first_in_stock")
    source = params.pop("from", None)
    if str(spec) in ITEM_STRATEGIES:
        catalog = _catalog_of(state, source, action)
        _provider, chosen = pick_items(catalog, str(spec), 1)
        params["item"] = str(chosen[0]["id"])
    else:
        params["item"] = str(spec)
    missing = [name for name in CATALOGUE_ACTIONS[action] if name not in params]
    if action == "set_price" and "value" not in params and "percent" not in params:
        missing.append("value or percent")
    if missing:
        raise BuildError(f"{action} needs {', '.join(missing)}")
    if action == "set_store_status" and params["status"] not in STORE_STATUSES:
        raise BuildError(f"set_store_status: status is one of {', '.join(STORE_STATUSES)}")
    search = state.last.get("search")
    return str(search["context"]["message_id"]) if search else None


def new_price(current: Decimal, params: dict[str, Any]) -> Decimal:
    """``value`` as given, or ``percent`` (e.g. -10) applied to ``current``; two decimals."""
    try:
        if "value" in params:
            price = Decimal(str(params["value"]))
        else:
            price = current * (100 + Decimal(str(params["percent"]))) / 100
    except (InvalidOperation, ValueError) as exc:
        raise SellerActionFailed(f"set_price: not a number: {exc}") from None
    price = price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if price <= 0:
        raise SellerActionFailed(f"set_price: price must be > 0, got {price}")
    return price


def item_change(action: str, item: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The ``write.change_item`` arguments of set_price, set_stock, disable_item or
    enable_item on ``item``; completes ``params["value"]`` (price "123.00", stock "3")."""
    change: dict[str, Any] = {}
    if action == "set_price":
        price = new_price(item.price, params)
        mrp = item.mrp
        if params.get("mrp") is not None:
            mrp = new_price(item.mrp, {"value": params["mrp"]})
            change["mrp"] = mrp
        if price > mrp:  # the admin API's rule (422 there)
            raise SellerActionFailed(f"set_price: {price} exceeds MRP {mrp}")
        change["price"] = price
        params["value"] = f"{price:.2f}"
    elif action == "set_stock":
        try:
            stock = int(str(params["value"]))
        except ValueError:
            raise SellerActionFailed("set_stock: value must be a whole number") from None
        if stock < 0:
            raise SellerActionFailed("set_stock: value must be >= 0")
        change["stock"] = stock
        params["value"] = str(stock)
    else:
        change["enabled"] = action == "enable_item"
    return change


def fulfillment_id_of_type(state: FlowState, kind: str) -> str | None:
    """The id of the latest fulfillment of ``kind`` (RTO, Return, Cancel) the buyer was told of."""
    for payload in reversed(list(state.messages.values())):
        # the newest of its kind: fulfillments are appended as they are made
        fulfillments = (payload.get("message") or {}).get("order", {}).get("fulfillments") or []
        for f in reversed(fulfillments):
            if isinstance(f, dict) and f.get("type") == kind and f.get("id"):
                return str(f["id"])
    return None
