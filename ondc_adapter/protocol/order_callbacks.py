"""The order callbacks we send a buyer app (retail 1.2.0, protocol.md 4.4-4.11): on_select,
on_init, on_confirm / on_status / on_cancel / on_update (the full order), on_track, on_rating
and on_support, each the model of its ``message``, and ``EmptyMessage``, the ``{}`` of an error
callback. ``CALLBACK_MESSAGES`` maps the action to its model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ondc_adapter.protocol.order_objects import (
    Billing,
    CancellationTerm,
    Fulfillment,
    Location,
    OndcModel,
    Order,
    OrderItem,
    OrderState,
    Payment,
    Provider,
    Quote,
    State,
    Tag,
)


class OnSelectFulfillment(Fulfillment):
    id: str
    type: str = "Delivery"
    state: State


class OnSelectOrder(OndcModel):
    provider: Provider
    items: list[OrderItem]
    fulfillments: list[OnSelectFulfillment]
    quote: Quote


class OnSelectMessage(OndcModel):
    order: OnSelectOrder


class OnInitOrder(OndcModel):
    provider: Provider
    items: list[OrderItem]
    billing: Billing
    fulfillments: list[Fulfillment]
    quote: Quote
    payment: Payment
    cancellation_terms: list[CancellationTerm] | None = None
    tags: list[Tag]


class OnInitMessage(OndcModel):
    order: OnInitOrder


class FullOrder(Order):
    """The order as on_confirm / on_status / on_cancel / on_update carry it."""

    id: str
    state: OrderState
    provider: Provider
    items: list[OrderItem]
    fulfillments: list[Fulfillment]
    quote: Quote
    created_at: str
    updated_at: str


class OrderMessage(OndcModel):
    order: FullOrder


class Tracking(OndcModel):
    id: str | None = None
    url: str | None = None
    location: Location | None = None
    status: Literal["active", "inactive"]
    tags: list[Tag] | None = None


class OnTrackMessage(OndcModel):
    tracking: Tracking


class OnRatingMessage(OndcModel):
    feedback_ack: bool
    rating_ack: bool


class OnSupportMessage(OndcModel):
    phone: str | None = None
    email: str | None = None
    uri: str | None = None


class EmptyMessage(BaseModel):
    """``{}``: the message of an error callback that has nothing to report (unknown order,
    unparseable request); the ``error`` says why."""

    model_config = ConfigDict(extra="forbid")


CALLBACK_MESSAGES: dict[str, type[OndcModel]] = {
    "on_select": OnSelectMessage,
    "on_init": OnInitMessage,
    "on_confirm": OrderMessage,
    "on_status": OrderMessage,
    "on_track": OnTrackMessage,
    "on_cancel": OrderMessage,
    "on_update": OrderMessage,
    "on_rating": OnRatingMessage,
    "on_support": OnSupportMessage,
}
