"""Rating and support: what a buyer app thinks of an order, and whom it may call about it.

Ratings are kept one row per rated thing (order, item, fulfillment, agent, provider) with any
feedback form; fulfillment, agent and order ratings wait until the order is completed or
cancelled. Support answers with the seller's phone and email, and the policy's support URI.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import store
from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.orders import repository
from ondc_adapter.orders.policy import policy_of
from ondc_adapter.orders.reasons import RATING_CATEGORIES, rating_value
from ondc_adapter.orders.replies import callback_time, not_found, other_version, parse, reply
from ondc_adapter.orders.state import OrderState
from ondc_adapter.orders.tables import OrderRating
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.order_requests import RatingMessage, SupportMessage


async def handle_rating(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(RatingMessage, request)
    if msg is None or not msg.all:
        err = err or Error.of(Code.INVALID_REQUEST, "no rating given", path="message.ratings")
        return reply(request, deps, now, {"feedback_ack": False, "rating_ack": False}, err)
    ctx = request.context
    record = await repository.find_by_transaction(session, ctx.transaction_id)
    refused = {"feedback_ack": False, "rating_ack": False}
    if record is None:
        return reply(request, deps, now, refused, not_found(None))
    if refused_version := other_version(request, deps, now, record.core_version, refused):
        return refused_version
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
            return reply(
                request,
                deps,
                now,
                refused,
                Error.of(
                    Code.UNSUPPORTED_RATING_CATEGORY,
                    f"rating category {rating.rating_category!r} not supported",
                    path=f"message.ratings[{i}].rating_category",
                ),
            )
        value = rating_value(rating.value)
        if value is None:
            return reply(
                request,
                deps,
                now,
                refused,
                Error.of(
                    Code.INVALID_RATING_VALUE,
                    "rating value must be 1 to 5",
                    path=f"message.ratings[{i}].value",
                ),
            )
        if rating.id not in valid_ids[rating.rating_category]:
            return reply(
                request,
                deps,
                now,
                refused,
                Error.of(
                    Code.INVALID_REQUEST,
                    f"{rating.id} is not a {rating.rating_category} of this order",
                    path=f"message.ratings[{i}].id",
                ),
            )
        if rating.rating_category in ("Fulfillment", "Agent", "Order") and (
            record.state not in (OrderState.COMPLETED.value, OrderState.CANCELLED.value)
        ):
            return reply(
                request,
                deps,
                now,
                refused,
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
                transaction_id=ctx.transaction_id,
                order_pk=record.id,
                bap_id=ctx.bap_id,
                category=rating.rating_category,
                rated_id=rating.id,
                value=value,
                feedback=feedback,
                message_id=ctx.message_id,
                created_at=now,
            )
        )
    session.add_all(rows)
    return reply(
        request,
        deps,
        now,
        {"feedback_ack": any(r.feedback for r in rows), "rating_ack": True},
    )


async def handle_support(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    now = callback_time(request, deps)
    msg, err = parse(SupportMessage, request)
    if msg is None:
        return reply(request, deps, now, {}, err)
    ctx = request.context
    ref = msg.reference
    record = await repository.find_by_transaction(session, ctx.transaction_id)
    if record is None or (ref and ref not in (record.order_id, record.transaction_id)):
        record = await repository.find_by_order_id(session, ref, bap_id=ctx.bap_id) if ref else None
    if record is None:
        return reply(request, deps, now, {}, not_found(ref))
    # an order of another transaction (found by its id) keeps its own version; only this
    # transaction's is held to the request's
    if record.transaction_id == ctx.transaction_id and (
        refused := other_version(request, deps, now, record.core_version)
    ):
        return refused
    provider = await store.get_provider(session, record.provider_id)
    if provider is None:
        return reply(
            request, deps, now, {}, Error.of(Code.SUPPORT_UNAVAILABLE, "seller not reachable")
        )
    policy = policy_of(deps)
    return reply(
        request,
        deps,
        now,
        {
            "phone": provider.phone,
            "email": provider.email,
            "uri": policy.support_uri or f"tel:{provider.phone}",
        },
    )
