"""Seller logic for the order actions: ``HANDLERS`` maps select ... support to handlers the
inbox processor calls inside its database transaction (see ``exchange.Handler``).

Each handler answers with exactly one ``on_<action>`` (same message_id, a timestamp after the
request's). Business failures (out of stock, not serviceable, bad reason code) are reported in
the callback's ``error`` with the message the flow expects; the request itself was already
ACKed. A message that does not parse gets an error callback with code 30000 and an empty
message (the edge should have NACKed it; this keeps a bad body from ever becoming a 500).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.catalogue.handler import profile_of, push_stock_changes
from ondc_adapter.catalogue.store import ItemRecord, LocationRecord, ProviderRecord
from ondc_adapter.exchange import Handler, InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.orders import lifecycle, repository
from ondc_adapter.orders.build import forward_fulfillment, order_message
from ondc_adapter.orders.lifecycle import IllegalTransition
from ondc_adapter.orders.policy import OrderPolicy, policy_of
from ondc_adapter.orders.quote import CatalogueLine, QuoteResult, commercial_terms, compute_quote
from ondc_adapter.orders.reasons import (
    RATING_CATEGORIES,
    RETURN_REASONS,
    Party,
    cancel_reason,
    rating_value,
)
from ondc_adapter.orders.state import F, OrderState
from ondc_adapter.orders.tables import OrderRating, OrderRecord
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import (
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.order import (
    REQUEST_MESSAGES,
    CancelMessage,
    ConfirmMessage,
    Fulfillment,
    InitMessage,
    OrderItem,
    Payment,
    Provider,
    RatingMessage,
    SelectMessage,
    StatusMessage,
    SupportMessage,
    Tag,
    TrackMessage,
    UpdateMessage,
    format_money,
)

M = TypeVar("M", bound=BaseModel)

# The message models of the requests, for an edge that wants to NACK bad bodies itself.
REQUEST_MODELS = REQUEST_MESSAGES

MAX_RETURN_ID = 32  # order_returns.return_id, and a fulfillment id on the wire


# ---------------------------------------------------------------- plumbing


def callback_time(request: InboundRequest, deps: SellerDeps) -> datetime:
    """Our clock, but never at or before the request's timestamp: LVU requires the callback's
    timestamp to be strictly later, and a peer's clock may run a little ahead of ours."""
    now = deps.now()
    floor = request.context.sent_at + timedelta(milliseconds=1)
    return now if now >= floor else floor


def _reply(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    message: dict[str, Any],
    error: Error | None = None,
) -> list[OutboundMessage]:
    return [OutboundMessage.reply(request, message, settings=deps.settings, now=now, error=error)]


def _parse(model: type[M], request: InboundRequest) -> tuple[M | None, Error | None]:
    try:
        return model.model_validate(request.message), None
    except ValidationError as exc:
        first = exc.errors()[0]
        path = "message." + ".".join(str(p) for p in first["loc"])
        return None, Error.of(Code.INVALID_REQUEST, first["msg"], path=path)


# ---------------------------------------------------------------- pricing (select / init)


@dataclass(slots=True)
class Pricing:
    provider: ProviderRecord
    location: LocationRecord
    items: dict[str, ItemRecord]
    quote: QuoteResult
    lines: list[dict[str, Any]]
    fulfillment: dict[str, Any]  # our fulfillment: id, type, provider_name, TAT, start...
    error: Error | None


def _requested(items: list[OrderItem]) -> list[tuple[str, int]]:
    merged: dict[str, int] = {}
    for item in items:
        merged[item.id] = merged.get(item.id, 0) + (item.quantity.count if item.quantity else 1)
    return list(merged.items())


async def _price(
    session: AsyncSession,
    policy: OrderPolicy,
    provider_ref: Provider,
    items: list[OrderItem],
    fulfillments: list[Fulfillment] | None,
    payment: Payment | None,
) -> Pricing | Error:
    provider = await store.get_provider(session, provider_ref.id)
    if provider is None:
        return Error.of(
            Code.PROVIDER_NOT_FOUND, f"provider {provider_ref.id} not found",
            path="message.order.provider.id",
        )
    if not provider.enabled:
        return Error.of(Code.MERCHANT_INACTIVE, f"provider {provider.id} is not active")
    location_id = (
        provider_ref.locations[0].id
        if provider_ref.locations
        else items[0].location_id or (provider.locations[0].id if provider.locations else "")
    )
    location = provider.location(location_id)
    if location is None:
        return Error.of(
            Code.PROVIDER_LOCATION_NOT_FOUND, f"location {location_id} not found",
            path="message.order.provider.locations",
        )
    if location.status == "close":
        return Error.of(Code.MERCHANT_UNAVAILABLE, "the store is not taking orders now")
    requested = _requested(items)
    records = await store.get_items(session, provider.id, [item_id for item_id, _ in requested])
    catalogue = {
        rec.id: CatalogueLine(
            id=rec.id,
            title=rec.name,
            unit_price=rec.price,
            available=rec.stock if rec.enabled and rec.provider_enabled else 0,
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
    if provider.fulfillments and provider.fulfillment(fid) is None:
        fid = provider.fulfillments[0].id
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
    ship = max(
        (parse_duration(rec.time_to_ship) for rec in supplied_records), default=timedelta(0)
    )
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
    return Pricing(provider, location, records, quote, lines, ours, error)


def _provider_ref(pricing: Pricing) -> dict[str, Any]:
    return {"id": pricing.provider.id, "locations": [{"id": pricing.location.id}]}


ON_SELECT_KEYS = ("id", "type", "@ondc/org/provider_name", "tracking", "@ondc/org/category",
                  "@ondc/org/TAT")


async def handle_select(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(SelectMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    policy = policy_of(deps)
    order = msg.order
    pricing = await _price(
        session, policy, order.provider, order.items, order.fulfillments, order.payment
    )
    if isinstance(pricing, Error):
        return _reply(request, deps, now, {}, pricing)
    fulfillment = {k: pricing.fulfillment[k] for k in ON_SELECT_KEYS}
    fulfillment["state"] = {
        "descriptor": {"code": "Serviceable" if pricing.quote.serviceable else "Non-serviceable"}
    }
    out = {
        "provider": _provider_ref(pricing),
        "items": [
            {"id": line.item_id, "fulfillment_id": pricing.fulfillment["id"]}
            for line in pricing.quote.lines
            if line.title_type == "item"
        ],
        "fulfillments": [fulfillment],
        "quote": pricing.quote.wire(ttl=policy.quote_ttl, availability=True),
    }
    await repository.save_draft(
        session,
        transaction_id=request.context.transaction_id,
        stage="select",
        message_id=request.context.message_id,
        bap_id=request.context.bap_id,
        provider_id=pricing.provider.id,
        order=out,
        lines=pricing.lines,
        fulfillment=pricing.fulfillment,
        now=now,
    )
    return _reply(request, deps, now, {"order": out}, pricing.error)


def _payment_terms(
    policy: OrderPolicy, asked: dict[str, Any] | None, beneficiary: str
) -> dict[str, Any]:
    asked = asked or {}
    ptype = asked.get("type") or "ON-ORDER"
    payment: dict[str, Any] = {
        "@ondc/org/buyer_app_finder_fee_type": asked.get(
            "@ondc/org/buyer_app_finder_fee_type", "percent"
        ),
        "@ondc/org/buyer_app_finder_fee_amount": asked.get(
            "@ondc/org/buyer_app_finder_fee_amount", "3"
        ),
        "@ondc/org/settlement_basis": policy.settlement_basis,
        "@ondc/org/settlement_window": policy.settlement_window,
        "@ondc/org/withholding_amount": policy.withholding(),
        "@ondc/org/settlement_details": policy.settlement_details(beneficiary),
        "type": ptype,
        # prepaid is collected by the buyer app (we have no gateway); COD by the seller side
        "collected_by": "BPP" if ptype == "ON-FULFILLMENT" else asked.get("collected_by", "BAP"),
    }
    return payment


async def handle_init(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(InitMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    policy = policy_of(deps)
    order = msg.order
    raw = request.message["order"]
    pricing = await _price(
        session, policy, order.provider, order.items, order.fulfillments, order.payment
    )
    if isinstance(pricing, Error):
        return _reply(request, deps, now, {}, pricing)
    error = pricing.error
    quote = pricing.quote.wire(ttl=policy.quote_ttl)
    selected = await repository.get_draft(session, request.context.transaction_id, "select")
    if (
        error is None
        and selected is not None
        and commercial_terms(selected.order["quote"]) != commercial_terms(quote)
    ):
        # prices moved between select and init although everything is available
        error = Error.of(Code.QUOTE_CHANGED, "the quote changed since on_select")
    buyer_f = copy.deepcopy(raw["fulfillments"][0])
    fulfillment: dict[str, Any] = {
        "id": pricing.fulfillment["id"],
        "type": buyer_f.get("type", "Delivery"),
    }
    if "end" in buyer_f:
        fulfillment["end"] = buyer_f["end"]
    fulfillment["tracking"] = policy.tracking
    if fulfillment["type"] == "Buyer-Delivery":
        fulfillment["tags"] = [
            {"code": "rto_action", "list": [{"code": "return_to_origin", "value": "yes"}]}
        ]
    out = {
        "provider": _provider_ref(pricing),
        "items": [
            {
                "id": line.item_id,
                "fulfillment_id": pricing.fulfillment["id"],
                "quantity": {"count": line.count or 0},
            }
            for line in pricing.quote.lines
            if line.title_type == "item"
        ],
        "billing": raw["billing"],
        "fulfillments": [fulfillment],
        "quote": quote,
        "payment": _payment_terms(policy, raw.get("payment"), pricing.provider.name),
        # retail 1.2.0 has no cancellation_terms on the order ("not enabled yet", ONDC's log
        # validator); the cancellation policy applies all the same (orders.policy)
        "tags": [policy.bpp_terms(pricing.provider.pan)],
    }
    await repository.save_draft(
        session,
        transaction_id=request.context.transaction_id,
        stage="init",
        message_id=request.context.message_id,
        bap_id=request.context.bap_id,
        provider_id=pricing.provider.id,
        order=out,
        lines=pricing.lines,
        fulfillment={**pricing.fulfillment, "end": buyer_f.get("end")},
        now=now,
    )
    return _reply(request, deps, now, {"order": out}, error)


# ---------------------------------------------------------------- confirm


def _echo(raw: dict[str, Any], now: datetime, state: str) -> dict[str, Any]:
    """The buyer's order sent back with a state, for confirm answers that create nothing."""
    order = copy.deepcopy(raw)
    order["state"] = state
    order.setdefault("created_at", format_timestamp(now))
    order["updated_at"] = format_timestamp(now)
    return {"order": order}


async def handle_confirm(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(ConfirmMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    ctx = request.context
    raw = request.message["order"]
    order = msg.order

    existing = await repository.find_by_transaction(session, ctx.transaction_id)
    if existing is not None:
        return _replay_confirm(request, deps, now, existing, order.id, raw)

    draft = await repository.get_draft(session, ctx.transaction_id, "init")
    if draft is None:
        return _reply(
            request, deps, now, _echo(raw, now, "Cancelled"),
            Error.of(Code.QUOTE_UNAVAILABLE, "no on_init for this transaction: send init first"),
        )
    wanted = {item_id: n for item_id, n in _requested(order.items)}
    quoted = {line["id"]: int(line["count"]) for line in draft.lines}
    if order.provider.id != draft.provider_id or wanted != quoted:
        return _reply(
            request, deps, now, _echo(raw, now, "Cancelled"),
            Error.of(Code.ITEM_QUANTITY_CHANGED, "items differ from on_init"),
        )
    if commercial_terms(raw["quote"]) != commercial_terms(draft.order["quote"]):
        return _reply(
            request, deps, now, _echo(raw, now, "Cancelled"),
            Error.of(Code.QUOTE_CHANGED, "quote differs from on_init", path="message.order.quote"),
        )

    policy = policy_of(deps)
    values = _order_values(request, draft, raw, policy, now)
    pk = await repository.claim_order(session, values)
    if pk is None:  # a concurrent confirm of the same transaction won the insert
        existing = await repository.find_by_transaction(session, ctx.transaction_id)
        assert existing is not None
        return _replay_confirm(request, deps, now, existing, order.id, raw)

    reserved: list[tuple[str, int]] = []
    short: list[str] = []
    # fixed order: concurrent confirms lock item rows in the same sequence, never deadlock
    for item_id, count in sorted(quoted.items()):
        if count <= 0:
            continue
        if await store.reserve_stock(session, item_id, count, now=now):
            reserved.append((item_id, count))
        else:
            short.append(item_id)
    if short:
        for item_id, count in reserved:
            await store.release_stock(session, item_id, count, now=now)
        await session.execute(delete(OrderRecord).where(OrderRecord.id == pk))
        return await _out_of_stock_at_confirm(request, deps, now, session, raw, draft, policy)

    record = await session.get(OrderRecord, pk)
    assert record is not None
    fid = forward_fulfillment(record)["id"]
    repository.journal(
        session, record, entity="order", from_state=None, to_state=OrderState.CREATED.value,
        actor="buyer", at=now, reason="confirm", message_id=ctx.message_id,
    )
    repository.journal(
        session, record, entity="fulfillment", fulfillment_id=fid, from_state=None,
        to_state=F.PENDING.value, actor="system", at=now, reason="confirm",
    )
    if record.accepted:
        repository.journal(
            session, record, entity="order", from_state=OrderState.CREATED.value,
            to_state=OrderState.ACCEPTED.value, actor="system", at=now, reason="auto-accept",
        )
    return _reply(request, deps, now, order_message(record))


def _replay_confirm(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    record: OrderRecord,
    order_id: str,
    raw: dict[str, Any],
) -> list[OutboundMessage]:
    """A repeated confirm: the same order again, nothing reserved twice."""
    if record.order_id != order_id:
        return _reply(
            request, deps, now, _echo(raw, now, "Cancelled"),
            Error.of(
                Code.INVALID_ORDER,
                f"transaction already has order {record.order_id}",
                path="message.order.id",
            ),
        )
    return _reply(request, deps, now, order_message(record))


def _order_values(
    request: InboundRequest,
    draft: Any,
    raw: dict[str, Any],
    policy: OrderPolicy,
    now: datetime,
) -> dict[str, Any]:
    ctx = request.context
    ours = draft.fulfillment
    fid = ours["id"]
    created_text = ctx.timestamp
    created = parse_timestamp(created_text)
    tat = parse_duration(ours["@ondc/org/TAT"])
    ship = parse_duration(ours.get("time_to_ship") or "PT0S")
    buyer_f = next(
        (f for f in raw["fulfillments"] if f.get("id", fid) == fid), raw["fulfillments"][0]
    )
    start = copy.deepcopy(ours["start"])
    start["time"] = {
        "range": {"start": format_timestamp(created), "end": format_timestamp(created + ship)}
    }
    end = copy.deepcopy(buyer_f.get("end") or ours.get("end") or {})
    end["time"] = {
        "range": {"start": format_timestamp(created), "end": format_timestamp(created + tat)}
    }
    fulfillment = {
        "id": fid,
        "type": "Delivery",
        "@ondc/org/provider_name": ours["@ondc/org/provider_name"],
        "@ondc/org/category": ours["@ondc/org/category"],
        "@ondc/org/TAT": ours["@ondc/org/TAT"],
        "tracking": ours["tracking"],
        "state": {"descriptor": {"code": F.PENDING.value}},
        "start": start,
        "end": end,
    }
    bap_terms = [t for t in raw.get("tags") or [] if t.get("code") == "bap_terms"]
    accepted = policy.auto_accept
    charges = policy.charges
    return {
        "order_id": raw["id"],
        "transaction_id": ctx.transaction_id,
        "bap_id": ctx.bap_id,
        "bap_uri": ctx.bap_uri,
        "domain": ctx.domain,
        "city": ctx.city,
        "provider_id": draft.provider_id,
        "location_id": draft.order["provider"]["locations"][0]["id"],
        "lines": draft.lines,
        "charges": {
            "delivery": str(charges.delivery),
            "packing": str(charges.packing),
            "convenience": str(charges.convenience),
        },
        "items": [
            {"id": line["id"], "fulfillment_id": fid, "quantity": {"count": int(line["count"])}}
            for line in draft.lines
        ],
        "quote": draft.order["quote"],
        "billing": raw.get("billing") or draft.order["billing"],
        "fulfillments": [fulfillment],
        "payment": raw["payment"],
        "cancellation_terms": draft.order.get("cancellation_terms") or [],
        "tags": [policy.bpp_terms(ours.get("provider_pan"), confirmed=True), *bap_terms],
        "documents": None,
        "cancellation": None,
        "state": (OrderState.ACCEPTED if accepted else OrderState.CREATED).value,
        "fulfillment_state": F.PENDING.value,
        "accepted": accepted,
        "context": request.context.model_dump(exclude_none=True),
        "confirm_message_id": ctx.message_id,
        "created_at": created,
        "created_at_text": created_text,
        "updated_at": now,
        "updated_at_text": format_timestamp(now),
    }


async def _out_of_stock_at_confirm(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    session: AsyncSession,
    raw: dict[str, Any],
    draft: Any,
    policy: OrderPolicy,
) -> list[OutboundMessage]:
    """Stock ran out between init and confirm: nothing is created; the answer carries the
    quote for what is left and 40002 per short item, as on_select would."""
    requested = [(line["id"], int(line["count"])) for line in draft.lines]
    records = await store.get_items(session, draft.provider_id, [i for i, _ in requested])
    catalogue = {
        rec.id: CatalogueLine(
            rec.id, rec.name, rec.price, rec.stock if rec.enabled else 0, rec.max_per_order,
            rec.fulfillment_id, policy.tax_rate,
        )
        for rec in records.values()
    }
    fid = draft.fulfillment["id"]
    quote = compute_quote(requested, catalogue, policy.charges, fulfillment_id=fid)
    body = _echo(raw, now, "Cancelled")
    body["order"]["quote"] = quote.wire(ttl=policy.quote_ttl, availability=True)
    body["order"]["items"] = [
        {"id": line.item_id, "fulfillment_id": fid, "quantity": {"count": line.count or 0}}
        for line in quote.lines
        if line.title_type == "item"
    ]
    error = quote.error() or Error.of(
        Code.ITEM_QUANTITY_UNAVAILABLE, "items became unavailable"
    )
    return _reply(request, deps, now, body, error)


# ---------------------------------------------------------------- after confirm


def _not_found(order_id: str | None) -> Error:
    return Error.of(Code.INVALID_ORDER, f"order {order_id} not found", path="message.order_id")


async def handle_status(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(StatusMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    record = await repository.find_for_request(
        session, transaction_id=request.context.transaction_id, order_id=msg.order_id
    )
    if record is None:
        return _reply(request, deps, now, {}, _not_found(msg.order_id))
    return _reply(request, deps, now, order_message(record))


async def handle_track(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(TrackMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    record = await repository.find_for_request(
        session, transaction_id=request.context.transaction_id, order_id=msg.order_id
    )
    if record is None:
        return _reply(request, deps, now, {}, _not_found(msg.order_id))
    fwd = forward_fulfillment(record)
    if not fwd.get("tracking"):
        return _reply(
            request, deps, now, {"tracking": {"id": fwd["id"], "status": "inactive"}},
            Error.of(Code.TRACKING_NOT_ENABLED, "tracking is not enabled for this order"),
        )
    moving = record.fulfillment_state in (
        F.ORDER_PICKED_UP, F.IN_TRANSIT, F.AT_DESTINATION_HUB, F.OUT_FOR_DELIVERY
    )
    base = str(deps.settings.bpp_uri).rstrip("/")
    start_location = (fwd.get("start") or {}).get("location") or {}
    tracking: dict[str, Any] = {
        "id": fwd["id"],
        "url": f"{base}/track/{record.order_id}",
        "status": "active" if moving else "inactive",
    }
    if start_location.get("gps"):
        tracking["location"] = {"gps": start_location["gps"]}
    return _reply(request, deps, now, {"tracking": tracking})


async def handle_cancel(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(CancelMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    ctx = request.context
    record = await repository.find_for_request(
        session, transaction_id=ctx.transaction_id, order_id=msg.order_id, lock=True
    )
    if record is None:
        return _reply(request, deps, now, {}, _not_found(msg.order_id))
    found = record

    def answer(error: Error | None = None) -> list[OutboundMessage]:
        """on_cancel with the order as it stands (and the refusal, if any)."""
        return _reply(request, deps, now, order_message(found, action="on_cancel"), error)

    reason = cancel_reason(msg.cancellation_reason_id, Party.BUYER)
    if reason is None:
        return answer(Error.of(
            Code.INVALID_CANCELLATION_REASON,
            f"{msg.cancellation_reason_id} is not a buyer cancellation reason",
            path="message.cancellation_reason_id",
        ))
    if not all(line.get("cancellable", True) for line in record.lines if line["count"]):
        return answer(
            Error.of(Code.CANCELLATION_NOT_POSSIBLE, "the order has non-cancellable items")
        )
    if reason.code == "006":
        tat = parse_duration(forward_fulfillment(record).get("@ondc/org/TAT") or "P0D")
        if now < record.created_at + tat:
            return answer(
                Error.of(Code.CANCELLATION_REJECTED_TAT, "the promised delivery time is not over")
            )
    try:
        await lifecycle.cancel(
            session, record, reason, initiated_by=ctx.bap_id, actor="buyer", now=now,
            message_id=ctx.message_id,
        )
    except IllegalTransition as exc:
        return answer(Error.of(exc.code, exc.reason))
    return answer()


def _tag_values(tag: Tag) -> dict[str, str]:
    return {entry.code: entry.value or "" for entry in tag.entries}


async def handle_update(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(UpdateMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    ctx = request.context
    record = await repository.find_for_request(
        session, transaction_id=ctx.transaction_id, order_id=msg.order.id, lock=True
    )
    if record is None:
        return _reply(request, deps, now, {}, _not_found(msg.order.id))
    error: Error | None = None
    targets = msg.targets
    if not targets <= {"item", "payment", "fulfillment"}:
        error = Error.of(Code.UPDATE_NOT_POSSIBLE, f"unknown update_target {msg.update_target}")
    if error is None and "item" in targets:
        error = await _update_items(session, record, msg, ctx.bap_id, now)
    if error is None and "payment" in targets:
        error = _update_payment(record, msg, now)
    if error is None and "fulfillment" in targets:
        error = _update_fulfillment(record, msg, now)
    return _reply(request, deps, now, order_message(record), error)


async def _update_items(
    session: AsyncSession, record: OrderRecord, msg: UpdateMessage, bap_id: str, now: datetime
) -> Error | None:
    returns = [f for f in msg.order.fulfillments if f.type == "Return"]
    if not returns:
        # buyer-initiated part cancel is not part of the retail contract (protocol.md 4.9)
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "only return requests may update items")
    for n, f in enumerate(msg.order.fulfillments):
        if f.type != "Return":
            continue
        request_tag = next((t for t in f.tags or [] if t.code == "return_request"), None)
        if request_tag is None:
            return Error.of(Code.INVALID_RETURN_REQUEST, "return_request tag missing")
        values = _tag_values(request_tag)
        return_id = values.get("id") or f.id or "R1"
        if len(return_id) > MAX_RETURN_ID:  # it becomes the Return fulfillment's id
            return Error.of(
                Code.INVALID_RETURN_REQUEST,
                f"return_request id is {len(return_id)} characters; at most {MAX_RETURN_ID}",
                f"message.order.fulfillments[{n}].tags",
            )
        reason_code = values.get("reason_id", "")
        if reason_code not in RETURN_REASONS:
            return Error.of(
                Code.INVALID_RETURN_REQUEST, f"invalid return reason {reason_code!r}"
            )
        try:
            quantity = int(values.get("item_quantity", "0"))
        except ValueError:
            return Error.of(Code.INVALID_RETURN_REQUEST, "item_quantity must be a number")
        tag_dict = request_tag.dump()
        if "initiated_by" not in values:
            tag_dict["list"].append({"code": "initiated_by", "value": bap_id})
        try:
            await lifecycle.request_return(
                session,
                record,
                return_id=return_id,
                item_id=values.get("item_id", ""),
                quantity=quantity,
                reason_code=reason_code,
                reason_desc=values.get("reason_desc"),
                images=[u for u in values.get("images", "").split(",") if u],
                request_tag=tag_dict,
                initiated_by=bap_id,
                now=now,
            )
        except IllegalTransition as exc:
            return Error.of(exc.code, exc.reason)
    return None


def _update_payment(record: OrderRecord, msg: UpdateMessage, now: datetime) -> Error | None:
    """The buyer app reports the refund it settled (after a part cancel or return)."""
    if msg.order.payment is None or not msg.order.payment.settlement_details:
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "payment.@ondc/org/settlement_details missing")
    payment = copy.deepcopy(record.payment)
    details = payment.setdefault("@ondc/org/settlement_details", [])
    for detail in msg.order.payment.settlement_details:
        entry = detail.dump()
        if entry not in details:
            details.append(entry)
    record.payment = payment
    lifecycle._touch(record, now)
    return None


def _update_fulfillment(record: OrderRecord, msg: UpdateMessage, now: datetime) -> Error | None:
    """Delivery instructions / contact may change until pickup."""
    if record.fulfillment_state not in lifecycle.BEFORE_PICKUP:
        return Error.of(Code.UPDATE_NOT_POSSIBLE, "the order has been picked up")
    fwd = copy.deepcopy(forward_fulfillment(record))
    for f in msg.order.fulfillments:
        if f.id not in (None, fwd["id"]) or f.end is None:
            continue
        end = f.end.dump()
        for key in ("instructions", "contact"):
            if key in end:
                fwd.setdefault("end", {})[key] = end[key]
    record.fulfillments = [fwd if x.get("id") == fwd["id"] else x for x in record.fulfillments]
    lifecycle._touch(record, now)
    return None


async def handle_rating(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(RatingMessage, request)
    if msg is None or not msg.all:
        err = err or Error.of(Code.INVALID_REQUEST, "no rating given", path="message.ratings")
        return _reply(request, deps, now, {"feedback_ack": False, "rating_ack": False}, err)
    ctx = request.context
    record = await repository.find_by_transaction(session, ctx.transaction_id)
    refused = {"feedback_ack": False, "rating_ack": False}
    if record is None:
        return _reply(request, deps, now, refused, _not_found(None))
    valid_ids = {
        "Order": {record.order_id},
        "Item": {line["id"] for line in record.lines},
        "Fulfillment": {f.get("id") for f in record.fulfillments},
        "Agent": {f.get("id") for f in record.fulfillments},
        "Provider": {record.provider_id},
    }
    rows = []
    for i, rating in enumerate(msg.all):
        if rating.rating_category not in RATING_CATEGORIES:
            return _reply(
                request, deps, now, refused,
                Error.of(
                    Code.UNSUPPORTED_RATING_CATEGORY,
                    f"rating category {rating.rating_category!r} not supported",
                    path=f"message.ratings[{i}].rating_category",
                ),
            )
        value = rating_value(rating.value)
        if value is None:
            return _reply(
                request, deps, now, refused,
                Error.of(
                    Code.INVALID_RATING_VALUE, "rating value must be 1 to 5",
                    path=f"message.ratings[{i}].value",
                ),
            )
        if rating.id not in valid_ids[rating.rating_category]:
            return _reply(
                request, deps, now, refused,
                Error.of(
                    Code.INVALID_REQUEST,
                    f"{rating.id} is not a {rating.rating_category} of this order",
                    path=f"message.ratings[{i}].id",
                ),
            )
        if rating.rating_category in ("Fulfillment", "Agent", "Order") and (
            record.state not in (OrderState.COMPLETED.value, OrderState.CANCELLED.value)
        ):
            return _reply(
                request, deps, now, refused,
                Error.of(
                    Code.UNSUPPORTED_RATING_CATEGORY,
                    f"{rating.rating_category} can be rated once the order is completed",
                ),
            )
        feedback = (
            {"form": [f.dump() for f in rating.feedback_form or ()], "id": rating.feedback_id}
            if rating.feedback_form or rating.feedback_id
            else None
        )
        rows.append(
            OrderRating(
                transaction_id=ctx.transaction_id, order_pk=record.id, bap_id=ctx.bap_id,
                category=rating.rating_category, rated_id=rating.id, value=value,
                feedback=feedback, message_id=ctx.message_id, created_at=now,
            )
        )
    session.add_all(rows)
    return _reply(
        request, deps, now,
        {"feedback_ack": any(r.feedback for r in rows), "rating_ack": True},
    )


async def handle_support(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = _parse(SupportMessage, request)
    if msg is None:
        return _reply(request, deps, now, {}, err)
    ctx = request.context
    ref = msg.reference
    record = await repository.find_by_transaction(session, ctx.transaction_id)
    if record is None or (ref and ref not in (record.order_id, record.transaction_id)):
        record = (
            await repository.find_by_order_id(session, ref, bap_id=ctx.bap_id) if ref else None
        )
    if record is None:
        return _reply(request, deps, now, {}, _not_found(ref))
    provider = await store.get_provider(session, record.provider_id)
    if provider is None:
        return _reply(
            request, deps, now, {}, Error.of(Code.SUPPORT_UNAVAILABLE, "seller not reachable")
        )
    policy = policy_of(deps)
    return _reply(
        request, deps, now,
        {
            "phone": provider.phone,
            "email": provider.email,
            "uri": policy.support_uri or f"tel:{provider.phone}",
        },
    )


def pushing_stock(handler: Handler) -> Handler:
    """``handler``, then, in the same transaction, the incremental ``on_search`` of every item
    whose stock it took or gave back (confirm, cancel, RTO, returns), to subscribed buyer
    apps: their catalogues must not go on offering what sold out."""

    async def run(
        request: InboundRequest, session: AsyncSession, deps: SellerDeps
    ) -> list[OutboundMessage]:
        messages = await handler(request, session, deps)
        await push_stock_changes(session, deps.settings, now=deps.now(), profile=profile_of(deps))
        return messages

    return run


HANDLERS: dict[str, Handler] = {
    action: pushing_stock(handler)
    for action, handler in {
        "select": handle_select,
        "init": handle_init,
        "confirm": handle_confirm,
        "status": handle_status,
        "track": handle_track,
        "cancel": handle_cancel,
        "update": handle_update,
        "rating": handle_rating,
        "support": handle_support,
    }.items()
}
