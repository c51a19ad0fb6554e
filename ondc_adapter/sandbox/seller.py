"""The adapter's seller side as the sandbox drives it (its sample catalogue is
``sample_catalogue``'s): the seller actions scenario steps ask for, performed through the
adapter's own seller-side functions (the ones its admin API and CLI call): order actions
(advance a fulfillment, cancel, part-cancel, accept), catalogue actions (``set_price``,
``set_stock``, ``disable_item``, ``enable_item``, and ``set_store_status`` on the store of an
item), which also push incremental ``on_search`` to subscribed buyer apps, and actions on the
flow's complaint (``issue_ask_info``, ``issue_propose``, ``issue_resolve``..., through
``igm.service``), each sending its ``on_issue``, and on the complaint the seller raises itself
(``issue_raise``, ``issue_accept``, ``issue_escalate``, ``issue_close``..., through
``igm.complainant``), each sending its ``issue`` to the buyer app."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import httpx

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


# How long a catalogue action waits for the adapter to have handled the flow's latest search
# (a catalog_inc start/stop reaches it through the gateway after the buyer app's ACK).
SETTLE_SECONDS = 5.0


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


def _item_change(action: str, item: Any, params: dict[str, Any]) -> dict[str, Any]:
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


class RemoteSeller:
    """``SellerControl`` for ``sandbox run --url``: asks the process running ``sandbox up`` to
    perform the action on its adapter (``POST <registry>/sandbox/seller/<action>``)."""

    def __init__(self, http: httpx.AsyncClient, registry_url: str, *, actions: list[str]
                 ) -> None:
        self.http = http
        self.base = registry_url.rstrip("/")
        self.actions = set(actions)  # what the other process's orders service offers

    def supports(self, capability: str) -> bool:
        return not capability.startswith("seller.") or (
            capability.removeprefix("seller.") in self.actions
        )

    async def perform(self, action: str, params: dict[str, Any], state: FlowState) -> str:
        url = f"{self.base}/sandbox/seller/{action}"
        if action in CATALOGUE_ACTIONS:
            after = prepare_catalogue_action(action, params, state)
            body: dict[str, Any] = {"params": params, "after_message_id": after}
        elif action in ISSUE_ACTIONS:
            issue_id, after = prepare_issue_action(action, params, state)
            body = {"issue_id": issue_id, "params": params, "after_message_id": after}
        elif action in COMPLAINT_ACTIONS:
            complaint, after_answer = prepare_complaint_action(action, params, state)
            body = {"issue_id": complaint, "params": params, "after_message_id": after_answer}
        else:
            if not state.order_id:
                raise SellerActionFailed(f"{action} needs a confirmed order")
            sent = dict(params)
            kind = sent.pop("fulfillment", None)
            if kind and "fulfillment_id" not in sent:
                sent["fulfillment_id"] = fulfillment_id_of_type(state, str(kind))
            body = {"order_id": state.order_id, "params": sent}
        try:
            response = await self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise SellerActionFailed(f"{url}: {exc}") from exc
        if response.status_code != 200:
            raise SellerActionFailed(f"{url} -> {response.status_code}: {response.text[:300]}")
        try:
            answer = response.json()
        except ValueError:
            raise SellerActionFailed(f"{url}: answer is not JSON") from None
        if (action in CATALOGUE_ACTIONS or action in COMPLAINT_ACTIONS) and isinstance(
                answer.get("params"), dict):
            params.update(answer["params"])  # what the other process set (price, issue id)
        return str(answer.get("done", action))


def fulfillment_id_of_type(state: FlowState, kind: str) -> str | None:
    """The id of the latest fulfillment of ``kind`` (RTO, Return, Cancel) the buyer was told of."""
    for payload in reversed(list(state.messages.values())):
        # the newest of its kind: fulfillments are appended as they are made
        fulfillments = (payload.get("message") or {}).get("order", {}).get("fulfillments") or []
        for f in reversed(fulfillments):
            if isinstance(f, dict) and f.get("type") == kind and f.get("id"):
                return str(f["id"])
    return None


class ServiceSeller:
    """``SellerControl`` calling the orders service in-process (the sandbox's own adapter):
    the same functions the admin API and the orders CLI call, in one database transaction,
    then a wake-up of the callback dispatcher."""

    # seller action -> orders.service function name
    FUNCTIONS = {
        "advance": "advance",
        "cancel": "cancel",
        "part_cancel": "part_cancel",
        "accept": "accept",
    }

    def __init__(self, app: Any, *, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.app = app
        self.settle_seconds = settle_seconds

    def _service(self) -> Any:
        try:
            from ondc_adapter.orders import service
        except ModuleNotFoundError:
            return None
        return service

    def supports(self, capability: str) -> bool:
        if not capability.startswith("seller."):
            return True
        action = capability.removeprefix("seller.")
        if action in CATALOGUE_ACTIONS or action in ISSUE_ACTIONS or action in COMPLAINT_ACTIONS:
            return True
        if action in OFFER_ACTIONS:
            # tried through the admin API; a node without its offers route fails the step
            # with that reason rather than the flow being reported unsupported up front
            return True
        service = self._service()
        name = self.FUNCTIONS.get(action)
        return service is not None and name is not None and hasattr(service, name)

    def actions(self) -> list[str]:
        """Every seller action this adapter offers (``sandbox up`` publishes the list).
        ``define_offer`` is not among them: the ``sandbox up`` endpoint does not take it yet,
        so a ``--url`` run reports an offer flow unsupported."""
        return [a for a in [*self.FUNCTIONS, *CATALOGUE_ACTIONS, *ISSUE_ACTIONS,
                            *COMPLAINT_ACTIONS] if self.supports(f"seller.{a}")]

    async def perform(self, action: str, params: dict[str, Any], state: FlowState) -> str:
        if action in CATALOGUE_ACTIONS:
            after = prepare_catalogue_action(action, params, state)
            return await self.catalogue_action(action, params, after_message_id=after)
        if action in OFFER_ACTIONS:
            provider, offer_id, body = prepare_offer_action(params, state)
            return await self.define_offer(provider, offer_id, body)
        if action in ISSUE_ACTIONS:
            issue_id, after = prepare_issue_action(action, params, state)
            return await self.issue_action(action, params, issue_id=issue_id,
                                           after_message_id=after)
        if action in COMPLAINT_ACTIONS:
            complaint, after_answer = prepare_complaint_action(action, params, state)
            return await self.complaint_action(action, params, issue_id=complaint,
                                               after_message_id=after_answer)
        service = self._service()
        name = self.FUNCTIONS.get(action)
        if service is None or name is None or not hasattr(service, name):
            raise SellerActionFailed(f"the orders service has no {action!r}")
        if not state.order_id:
            raise SellerActionFailed(f"{action} needs a confirmed order")
        st = self.app.state
        now = utcnow()
        fn = getattr(service, name)
        try:
            async with st.db.session() as session:
                if action == "advance":
                    fid = params.get("fulfillment_id")
                    if fid is None and params.get("fulfillment"):
                        fid = fulfillment_id_of_type(state, str(params["fulfillment"]))
                        if fid is None:
                            raise SellerActionFailed(f"no {params['fulfillment']} fulfillment")
                    await fn(session, st.settings, state.order_id, str(params["state"]),
                             now=now, fulfillment_id=fid, reason=params.get("reason"))
                elif action == "cancel":
                    await fn(session, st.settings, state.order_id, str(params["reason"]), now=now)
                elif action == "part_cancel":
                    await fn(session, st.settings, state.order_id,
                             {str(params["item_id"]): int(params.get("quantity", 1))},
                             now=now, reason_code=str(params.get("reason", "002")))
                else:  # accept
                    await fn(session, st.settings, state.order_id, now=now)
        except (LookupError, ValueError) as exc:  # OrderNotFound, IllegalTransition
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        detail = params.get("state") or params.get("reason") or ""
        return f"{action} {detail}".strip()

    async def define_offer(self, provider: str, offer_id: str, body: dict[str, Any]) -> str:
        """``PUT /admin/providers/{provider}/offers/{offer_id}`` on the adapter's own app (in
        process, with its admin key), as a seller's back office would call it. A node whose
        admin API has no such route yet (issue 16's offer storage) fails the step saying so."""
        settings = self.app.state.settings
        key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else ""
        path = f"/admin/providers/{provider}/offers/{offer_id}"
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as http:
            response = await http.put(path, json=body, headers={"X-API-Key": key})
        # FastAPI answers a path it has no route for 404 "Not Found" (a missing provider is a
        # 404 with the node's own detail), and a path with other methods only 405
        if response.status_code == 405 or (
                response.status_code == 404 and '"Not Found"' in response.text[:200]):
            raise SellerActionFailed(
                f"define_offer: the adapter's admin API has no PUT {path} route yet (HTTP "
                f"{response.status_code}; issue 16's offer storage): pending")
        if response.status_code >= 300:
            raise SellerActionFailed(f"define_offer: PUT {path} -> {response.status_code}: "
                                     f"{response.text[:300]}")
        return f"define_offer {body['type']} {offer_id} on {provider}"

    async def _settled(self, message_id: str, action: str = "search") -> None:
        """Wait until the adapter has handled the request ``message_id`` (its inbox row is
        processed): a subscription a search starts or stops must be in place before the
        change, an issue's new action recorded before the seller answers it."""
        from sqlalchemy import select

        from ondc_adapter.inbox import RECEIVED, InboxEntry

        db = self.app.state.db
        deadline = time.monotonic() + self.settle_seconds
        while True:
            async with db.session() as session:
                status = await session.scalar(
                    select(InboxEntry.status).where(
                        InboxEntry.message_id == message_id, InboxEntry.action == action
                    )
                )
            if status is not None and status != RECEIVED:
                return
            if time.monotonic() > deadline:
                what = "received" if status is None else "processed"
                raise SellerActionFailed(
                    f"the adapter has not {what} {action} {message_id} within "
                    f"{self.settle_seconds:g}s"
                )
            await asyncio.sleep(0.02)

    async def catalogue_action(
        self, action: str, params: dict[str, Any], *, after_message_id: str | None
    ) -> str:
        """Change one item (or, ``set_store_status``, the store it ships from) through the
        catalogue's write functions and push the change (``catalogue.handler.push_incremental``),
        in one transaction, as the admin API's ``PATCH /admin/items/{id}/price|stock|status``
        and ``PATCH /admin/providers/{id}/locations/{id}/status`` do; completes ``params`` with
        what the catalogue now shows (``value``: price "123.00" or stock "3"; ``provider`` and
        ``location`` of the store)."""
        from ondc_adapter.catalogue import write
        from ondc_adapter.catalogue.handler import push_incremental
        from ondc_adapter.catalogue.tables import Item

        if action not in CATALOGUE_ACTIONS:
            raise SellerActionFailed(f"no catalogue action {action!r}")
        if after_message_id:
            await self._settled(after_message_id)
        st = self.app.state
        item_id = str(params.get("item", ""))
        now = utcnow()
        async with st.db.session() as session:
            item = await session.get(Item, item_id)
            if item is None or item.deleted_at is not None:
                raise SellerActionFailed(f"{action}: no item {item_id!r} in the catalogue")
            if action == "set_store_status":
                status = str(params.get("status"))
                if status not in STORE_STATUSES:
                    raise SellerActionFailed(
                        f"{action}: status is one of {', '.join(STORE_STATUSES)}")
                if not await write.set_location_status(
                        session, item.provider_id, item.location_id, status, now):
                    raise SellerActionFailed(f"{action}: the store of {item_id!r} is gone")
                pushed = await push_incremental(
                    session, settings=st.settings, now=now, provider_ids=[item.provider_id]
                )
                params.update(provider=item.provider_id, location=item.location_id)
            else:
                await write.change_item(session, item_id, now,
                                        **_item_change(action, item, params))
                pushed = await push_incremental(
                    session, settings=st.settings, now=now, item_ids=[item_id]
                )
        st.dispatcher.wake()
        params["pushed"] = len(pushed)
        if action == "set_store_status":
            return (f"{action} {params['location']} of {params['provider']} {params['status']}"
                    f" pushed={len(pushed)}")
        shown = f" {params['value']}" if "value" in params else ""
        return f"{action} {item_id}{shown} pushed={len(pushed)}"

    async def issue_action(
        self, action: str, params: dict[str, Any], *, issue_id: str, after_message_id: str
    ) -> str:
        """Act on the issue through ``igm.service`` (what the admin API and the CLI call) in one
        transaction, its ``on_issue`` written to the outbox in that same transaction, then a
        wake-up of the dispatcher. A refusal (``IssueRefusal``: e.g. resolving before the
        buyer accepted) fails the step with the node's own reason."""
        from ondc_adapter import outbox
        from ondc_adapter.igm import service as igm
        from ondc_adapter.igm.rules import IssueRefusal

        if action not in ISSUE_ACTIONS:
            raise SellerActionFailed(f"no issue action {action!r}")
        await self._settled(after_message_id, "issue")
        st = self.app.state
        now = utcnow()
        try:
            async with st.db.session() as session:
                if action == "issue_handled":
                    record = await igm.find(session, issue_id)
                    if record is None:
                        raise SellerActionFailed(f"the adapter holds no issue {issue_id}")
                    want = params.get("status")
                    if want and record.status != want:
                        raise SellerActionFailed(
                            f"issue {issue_id} is {record.status}, expected {want}")
                    return f"status {record.status}"
                if action == "issue_ask_info":
                    outcome = await igm.ask_info(session, st.settings, issue_id,
                                                 question=str(params["question"]), now=now)
                elif action == "issue_propose":
                    amount = params.get("amount")
                    outcome = await igm.propose(
                        session, st.settings, issue_id, kind=str(params["kind"]), now=now,
                        amount=None if amount is None else str(amount),
                        item_id=params.get("item_id"), text=params.get("text"))
                else:  # issue_process, issue_resolve
                    fn = igm.process if action == "issue_process" else igm.resolve
                    outcome = await fn(session, st.settings, issue_id, now=now,
                                       text=params.get("text"))
                for message in outcome.messages:
                    await outbox.enqueue(session, message, now=now)
        except (IssueRefusal, igm.IssueNotFound) as exc:
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        # the step's key fields: what was done ("propose REFUND"); the issue id is the flow's
        return f"{action.removeprefix('issue_')} {params.get('kind') or ''}".strip()

    async def complaint_action(
        self, action: str, params: dict[str, Any], *, issue_id: str | None,
        after_message_id: str | None,
    ) -> str:
        """The node as complainant (IGM flow 2), through ``igm.complainant`` (what the issues
        CLI calls), its ``issue`` written to the outbox in the same transaction, then a
        wake-up of the dispatcher. A refusal (``IssueRefusal``: accepting with nothing
        proposed, escalating twice...) fails the step with the node's reason."""
        from sqlalchemy import select

        from ondc_adapter import outbox
        from ondc_adapter.igm import complainant
        from ondc_adapter.igm import service as igm
        from ondc_adapter.igm.rules import IssueRefusal
        from ondc_adapter.igm.tables import IssueRecord

        if action not in COMPLAINT_ACTIONS:
            raise SellerActionFailed(f"no complaint action {action!r}")
        if after_message_id:
            await self._settled(after_message_id, "on_issue")
        st = self.app.state
        now = utcnow()
        try:
            async with st.db.session() as session:
                if action == "issue_taken":
                    record = (await session.scalars(select(IssueRecord).where(
                        IssueRecord.issue_id == issue_id,
                        IssueRecord.role == complainant.COMPLAINANT))).first()
                    if record is None:
                        raise SellerActionFailed(f"the adapter raised no issue {issue_id}")
                    for name in ("status", "level"):
                        want, held = params.get(name), getattr(record, name)
                        if want and held != want:
                            raise SellerActionFailed(f"issue {issue_id}: {name} is {held}, "
                                                     f"expected {want}")
                    return f"{record.status} {record.level}"
                if action == "issue_raise":
                    outcome = await complainant.raise_issue(
                        session, st.settings, transaction_id=str(params["transaction"]),
                        provider_id=str(params["provider"]), category=str(params["category"]),
                        short_desc=str(params["short_desc"]), long_desc=str(params["long_desc"]),
                        now=now)
                    params["issue_id"] = outcome.record.issue_id
                else:
                    if issue_id is None:
                        raise SellerActionFailed(f"{action}: the buyer app received no issue")
                    outcome = await complainant.act(
                        session, st.settings, issue_id, COMPLAINT_STEPS[action], now=now,
                        text=params.get("text"))
                for message in outcome.messages:
                    await outbox.enqueue(session, message, now=now)
        except (IssueRefusal, igm.IssueNotFound) as exc:
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        return f"{action.removeprefix('issue_')} {params.get('category') or ''}".strip()


async def remote_issue_action(seller: ServiceSeller, action: str, raw: bytes) -> Any:
    """``POST <registry>/sandbox/seller/issue_*`` of a running ``sandbox up``: ``{issue_id,
    params, after_message_id}`` from a ``RemoteSeller``, performed as in-process runs do
    (a complaint action's issue_id and after_message_id may be null: see
    ``prepare_complaint_action``)."""
    from fastapi.responses import JSONResponse

    complaint = action in COMPLAINT_ACTIONS
    try:
        data = json.loads(raw)
        params = dict(data.get("params") or {})
        issue_id, after = data["issue_id"], data["after_message_id"]
        if not complaint or issue_id is not None:
            issue_id = str(issue_id)
        if not complaint or after is not None:
            after = str(after)
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"error": "body must be {issue_id, params, after_message_id}"},
                            status_code=400)
    try:
        if complaint:
            note = await seller.complaint_action(action, params, issue_id=issue_id,
                                                 after_message_id=after)
        else:
            note = await seller.issue_action(action, params, issue_id=issue_id,
                                             after_message_id=after)
    except SellerActionFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"done": note, **({"params": params} if complaint else {})})
