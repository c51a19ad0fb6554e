"""Checkout: select (the quote), init (the terms: billing, delivery, payment, bpp_terms) and
confirm (the order record, stock reserved). Select and init keep a draft of their answer;
confirm creates the order only when the buyer's provider, items and quote are what on_init
sent, answers a repeated confirm with the same order, and creates nothing when stock ran out
since init. The first of them fixes the transaction's retail version (``core_version``, kept
on the drafts and the order); a later step in another version is refused in its callback.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.offers import Offer
from ondc_adapter.orders import offers_quote, repository, retail125
from ondc_adapter.orders.build import json_copy, order_message
from ondc_adapter.orders.policy import OrderPolicy, policy_of
from ondc_adapter.orders.pricing import Pricing, price, provider_of, requested_counts
from ondc_adapter.orders.quote import CatalogueLine, commercial_terms, compute_quote
from ondc_adapter.orders.replies import callback_time, other_version, parse, reply
from ondc_adapter.orders.state import F, OrderState
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import format_timestamp, parse_duration, parse_timestamp
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.money import format_money
from ondc_adapter.protocol.order_requests import ConfirmMessage, InitMessage, SelectMessage
from ondc_adapter.protocol.versions import RetailVersion

ON_SELECT_KEYS = (
    "id",
    "type",
    "@ondc/org/provider_name",
    "tracking",
    "@ondc/org/category",
    "@ondc/org/TAT",
)


async def handle_select(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(SelectMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    policy = policy_of(deps)
    order = msg.order
    v125 = request.context.core_version == RetailVersion.V1_2_5
    offers = await offers_quote.request_offers(session, deps, request, order.provider.id)
    pricing = await price(
        session, policy, order.provider, order.items, order.fulfillments, order.payment,
        offers_quote.gift_item_ids(offers),
    )
    if isinstance(pricing, Error):
        return reply(request, deps, now, {}, pricing)
    quote = pricing.quote.wire(ttl=policy.quote_ttl, availability=True)
    error = pricing.error
    if v125:
        chosen, declined = offers_quote.selection(request.message["order"])
        quote, offer_error = _with_offers(request, policy, pricing, offers, quote, chosen, declined)
        error = error or offer_error
    fulfillment = {k: pricing.fulfillment[k] for k in ON_SELECT_KEYS}
    fulfillment["state"] = {
        "descriptor": {"code": "Serviceable" if pricing.quote.serviceable else "Non-serviceable"}
    }
    out = {
        "provider": provider_of(pricing),
        "items": [
            {"id": line.item_id, "fulfillment_id": pricing.fulfillment["id"]}
            for line in pricing.quote.lines
            if line.title_type == "item"
        ],
        "fulfillments": [fulfillment],
        "quote": quote,
    }
    saved = await repository.save_draft(
        session,
        transaction_id=request.context.transaction_id,
        stage="select",
        message_id=request.context.message_id,
        bap_id=request.context.bap_id,
        provider_id=pricing.provider.id,
        order=out,
        lines=pricing.lines,
        fulfillment=pricing.fulfillment,
        core_version=request.context.core_version,
        now=now,
    )
    if refused := other_version(request, deps, now, saved.core_version):
        return refused
    return reply(request, deps, now, {"order": out}, error)


def _with_offers(
    request: InboundRequest,
    policy: OrderPolicy,
    pricing: Pricing,
    offers: list[Offer],
    quote: dict[str, Any],
    chosen: set[str],
    declined: set[str],
) -> tuple[dict[str, Any], Error | None]:
    """Retail 1.2.5: ``quote`` with the offers that apply at the request's time, and the
    refusal of a chosen offer (30006/30007) when there is one."""
    offered = offers_quote.apply_to(
        pricing, offers, at=request.context.sent_at, chosen=chosen, declined=declined
    )
    lines = offers_quote.offer_lines(offered, gifts_as_validator=policy.offer_gifts_as_validator)
    return offers_quote.with_offers(quote, lines), offered.error


def _without(quote: dict[str, Any], declined: set[str]) -> dict[str, Any]:
    """on_select's quote without the offers the buyer declined in init (1.2.5): the quote
    that declining makes is no change to refuse."""
    if not declined:
        return quote
    kept = [
        b for b in quote["breakup"]
        if not (b.get("@ondc/org/title_type") == "offer" and b.get("@ondc/org/item_id") in declined)
    ]
    total = sum((Decimal(b["price"]["value"]) for b in kept), Decimal(0))
    return {**quote, "breakup": kept, "price": {**quote["price"], "value": format_money(total)}}


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
    msg, err = parse(InitMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    policy = policy_of(deps)
    order = msg.order
    raw = request.message["order"]
    v125 = request.context.core_version == RetailVersion.V1_2_5
    offers = await offers_quote.request_offers(session, deps, request, order.provider.id)
    pricing = await price(
        session, policy, order.provider, order.items, order.fulfillments, order.payment,
        offers_quote.gift_item_ids(offers),
    )
    if isinstance(pricing, Error):
        return reply(request, deps, now, {}, pricing)
    quote = pricing.quote.wire(ttl=policy.quote_ttl)
    offer_error = None
    declined: set[str] = set()
    if v125:
        chosen, declined = offers_quote.selection(raw)
        if "offers" not in raw:  # the buyer keeps on_select's offers
            chosen = await offers_quote.selected_at_select(
                session, request.context.transaction_id
            )
        quote, offer_error = _with_offers(request, policy, pricing, offers, quote, chosen, declined)
    buyer_f = json_copy(raw["fulfillments"][0])
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
        "provider": provider_of(pricing),
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
        # no cancellation_terms on the order, 1.2.0 or 1.2.5: ONDC's validators say "not
        # enabled yet" of them in on_init, on_confirm and on_status (the one 1.2.5 copy that
        # compares on_confirm's with on_init's compares only when on_init had some); the
        # cancellation policy applies all the same (orders.policy)
        "tags": [policy.bpp_terms(pricing.provider.pan)],
    }
    if v125:
        out["payment"] = retail125.on_init_payment(out["payment"])
    # the draft does not depend on the error: it is saved, and on_select's order read back, in
    # one round trip
    saved = await repository.save_draft(
        session,
        transaction_id=request.context.transaction_id,
        stage="init",
        message_id=request.context.message_id,
        bap_id=request.context.bap_id,
        provider_id=pricing.provider.id,
        order=out,
        lines=pricing.lines,
        fulfillment={**pricing.fulfillment, "end": buyer_f.get("end")},
        core_version=request.context.core_version,
        now=now,
        prior_stage="select",
    )
    if refused := other_version(request, deps, now, saved.core_version):
        return refused
    selected = saved.prior_order
    error = pricing.error or offer_error
    if (
        error is None
        and selected is not None
        and commercial_terms(_without(selected["quote"], declined)) != commercial_terms(quote)
    ):
        # prices moved between select and init although everything is available
        error = Error.of(Code.QUOTE_CHANGED, "the quote changed since on_select")
    return reply(request, deps, now, {"order": out}, error)


# ---------------------------------------------------------------- confirm


def _echo(raw: dict[str, Any], now: datetime, state: str) -> dict[str, Any]:
    """The buyer's order sent back with a state, for confirm answers that create nothing."""
    order = json_copy(raw)
    order["state"] = state
    order.setdefault("created_at", format_timestamp(now))
    order["updated_at"] = format_timestamp(now)
    return {"order": order}


async def handle_confirm(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(ConfirmMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    ctx = request.context
    raw = request.message["order"]
    order = msg.order

    # one round trip for the draft and for whether the transaction has its order already
    draft, ordered = await repository.init_draft(session, ctx.transaction_id)
    if ordered:
        existing = await repository.find_by_transaction(session, ctx.transaction_id)
        assert existing is not None  # orders are never deleted once committed
        return _replay_confirm(request, deps, now, existing, order.id, raw)
    if draft is not None and (refused := other_version(request, deps, now, draft.core_version)):
        return refused
    if draft is None:
        return reply(
            request,
            deps,
            now,
            _echo(raw, now, "Cancelled"),
            Error.of(Code.QUOTE_UNAVAILABLE, "no on_init for this transaction: send init first"),
        )
    wanted = {item_id: n for item_id, n in requested_counts(order.items)}
    quoted = {line["id"]: int(line["count"]) for line in draft.lines}
    if order.provider.id != draft.provider_id or wanted != quoted:
        return reply(
            request,
            deps,
            now,
            _echo(raw, now, "Cancelled"),
            Error.of(Code.ITEM_QUANTITY_CHANGED, "items differ from on_init"),
        )
    if commercial_terms(raw["quote"]) != commercial_terms(draft.order["quote"]):
        return reply(
            request,
            deps,
            now,
            _echo(raw, now, "Cancelled"),
            Error.of(Code.QUOTE_CHANGED, "quote differs from on_init", path="message.order.quote"),
        )

    v125 = draft.core_version == RetailVersion.V1_2_5
    if v125 and (refused := await _offers_gone(request, session, deps, now, draft, raw)):
        return refused
    policy = policy_of(deps)
    values = _order_values(request, draft, raw, policy, now)
    # the order's first journal entries are written with it (one statement on PostgreSQL);
    # an order refused below for want of stock takes them away with it
    fid = draft.fulfillment["id"]  # the order's one Delivery fulfillment (_order_values)
    entries = [
        repository.transition(
            None,
            entity="order",
            from_state=None,
            to_state=OrderState.CREATED.value,
            actor="buyer",
            at=now,
            reason="confirm",
            message_id=ctx.message_id,
        ),
        repository.transition(
            None,
            entity="fulfillment",
            fulfillment_id=fid,
            from_state=None,
            to_state=F.PENDING.value,
            actor="system",
            at=now,
            reason="confirm",
        ),
    ]
    if values["accepted"]:
        entries.append(
            repository.transition(
                None,
                entity="order",
                from_state=OrderState.CREATED.value,
                to_state=OrderState.ACCEPTED.value,
                actor="system",
                at=now,
                reason="auto-accept",
            )
        )
    record = await repository.claim_order(session, values, entries)
    if record is None:  # a concurrent confirm of the same transaction won the insert
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
    gift_short: list[str] = []
    if v125 and not short:
        # units offers give leave the stock with the order (after the items: a gift never
        # takes what was bought)
        for item_id, count in sorted(offers_quote.gifts_in(draft.order["quote"])):
            if await store.reserve_stock(session, item_id, count, now=now):
                reserved.append((item_id, count))
            else:
                gift_short.append(item_id)
    if short or gift_short:
        for item_id, count in reserved:
            await store.release_stock(session, item_id, count, now=now)
        await session.execute(delete(OrderRecord).where(OrderRecord.id == record.id))
        if not short:
            return reply(
                request, deps, now, _echo(raw, now, "Cancelled"),
                Error.of(Code.OFFER_FULFILLMENT_ERROR,
                         f"offer items out of stock: {', '.join(gift_short)}"),
            )
        return await _out_of_stock_at_confirm(request, deps, now, session, raw, draft, policy)
    return reply(request, deps, now, order_message(record, action="on_confirm"))


async def _offers_gone(
    request: InboundRequest,
    session: AsyncSession,
    deps: SellerDeps,
    now: datetime,
    draft: repository.Draft,
    raw: dict[str, Any],
) -> list[OutboundMessage] | None:
    """Retail 1.2.5: an offer of on_init's quote no longer valid at confirm cancels the
    order before it is made (1.2.5 exception conditions: 30006)."""
    quoted = offers_quote.offer_ids(draft.order["quote"])
    if not quoted:
        return None
    offers = {
        o.id: o
        for o in await offers_quote.provider_offers(
            session, deps, draft.provider_id, request.context.sent_at
        )
    }
    at = request.context.sent_at
    gone = [i for i in quoted if i not in offers or not offers[i].is_valid_at(at)]
    if not gone:
        return None
    return reply(
        request, deps, now, _echo(raw, now, "Cancelled"),
        Error.of(Code.OFFER_CODE_INVALID, f"offers no longer valid: {', '.join(gone)}"),
    )


def _replay_confirm(
    request: InboundRequest,
    deps: SellerDeps,
    now: datetime,
    record: OrderRecord,
    order_id: str,
    raw: dict[str, Any],
) -> list[OutboundMessage]:
    """A repeated confirm: the same order again, nothing reserved twice."""
    if refused := other_version(request, deps, now, record.core_version):
        return refused
    if record.order_id != order_id:
        return reply(
            request,
            deps,
            now,
            _echo(raw, now, "Cancelled"),
            Error.of(
                Code.INVALID_ORDER,
                f"transaction already has order {record.order_id}",
                path="message.order.id",
            ),
        )
    return reply(request, deps, now, order_message(record, action="on_confirm"))


def _order_values(
    request: InboundRequest,
    draft: repository.Draft,
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
    start = json_copy(ours["start"])
    start["time"] = {
        "range": {"start": format_timestamp(created), "end": format_timestamp(created + ship)}
    }
    end = json_copy(buyer_f.get("end") or ours.get("end") or {})
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
    if draft.core_version == RetailVersion.V1_2_5:
        fulfillment = retail125.confirmed_delivery(fulfillment, draft.provider_id, policy.routing)
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
        # the init draft's, checked equal to the confirm's above
        "core_version": draft.core_version,
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
    draft: repository.Draft,
    policy: OrderPolicy,
) -> list[OutboundMessage]:
    """Stock ran out between init and confirm: nothing is created; the answer carries the
    quote for what is left and 40002 per short item, as on_select would."""
    requested = [(line["id"], int(line["count"])) for line in draft.lines]
    records = await store.get_items(session, draft.provider_id, [i for i, _ in requested])
    catalogue = {
        rec.id: CatalogueLine(
            rec.id,
            rec.name,
            rec.price,
            rec.stock if rec.enabled else 0,
            rec.max_per_order,
            rec.fulfillment_id,
            policy.tax_rate,
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
    error = quote.error() or Error.of(Code.ITEM_QUANTITY_UNAVAILABLE, "items became unavailable")
    return reply(request, deps, now, body, error)
