"""The order requests a buyer app sends us (retail 1.2.0, protocol.md 4.4-4.11): select,
init, confirm, status, track, cancel, update, rating and support, each the model of its
``message``. ``REQUEST_MESSAGES`` maps the action to its model.
"""

from __future__ import annotations

from pydantic import Field

from ondc_adapter.protocol.order_objects import (
    Billing,
    Fulfillment,
    Offer,
    OndcModel,
    Order,
    OrderItem,
    Payment,
    Provider,
    Quote,
    Tag,
)


class SelectOrder(OndcModel):
    provider: Provider
    items: list[OrderItem] = Field(min_length=1)
    offers: list[Offer] | None = None
    fulfillments: list[Fulfillment] | None = None
    payment: Payment | None = None


class SelectMessage(OndcModel):
    order: SelectOrder


class InitOrder(OndcModel):
    provider: Provider
    items: list[OrderItem] = Field(min_length=1)
    offers: list[Offer] | None = None
    billing: Billing
    fulfillments: list[Fulfillment] = Field(min_length=1)
    payment: Payment | None = None
    tags: list[Tag] | None = None


class InitMessage(OndcModel):
    order: InitOrder


class ConfirmOrder(Order):
    id: str = Field(min_length=1, max_length=64)
    provider: Provider
    items: list[OrderItem] = Field(min_length=1)
    fulfillments: list[Fulfillment] = Field(min_length=1)
    quote: Quote
    payment: Payment


class ConfirmMessage(OndcModel):
    order: ConfirmOrder


class StatusMessage(OndcModel):
    order_id: str = Field(min_length=1)


class TrackMessage(OndcModel):
    order_id: str = Field(min_length=1)
    callback_url: str | None = None


class CancelDescriptor(OndcModel):
    name: str | None = None
    short_desc: str | None = None
    tags: list[Tag] | None = None


class CancelMessage(OndcModel):
    order_id: str = Field(min_length=1)
    cancellation_reason_id: str = Field(min_length=1)
    descriptor: CancelDescriptor | None = None


class UpdateMessage(OndcModel):
    update_target: str = Field(min_length=1, examples=["item", "payment", "fulfillment"])
    order: Order

    @property
    def targets(self) -> set[str]:
        return {t.strip() for t in self.update_target.split(",") if t.strip()}


class FeedbackForm(OndcModel):
    question: str | None = None
    answer: str | None = None


class Rating(OndcModel):
    rating_category: str = Field(min_length=1, examples=["Order", "Item", "Provider"])
    id: str = Field(min_length=1)
    value: str | int
    feedback_form: list[FeedbackForm] | None = None
    feedback_id: str | None = None


class RatingMessage(OndcModel):
    """Retail 1.2.0 sends ``{"ratings": [...]}`` (beckn 1.1); older apps send one rating flat.
    Both shapes are accepted; ``all`` gives the list either way."""

    ratings: list[Rating] | None = None
    rating_category: str | None = None
    id: str | None = None
    value: str | int | None = None
    feedback_form: list[FeedbackForm] | None = None
    feedback_id: str | None = None

    @property
    def all(self) -> list[Rating]:
        if self.ratings:
            return self.ratings
        if self.rating_category is not None and self.id is not None and self.value is not None:
            return [
                Rating(
                    rating_category=self.rating_category,
                    id=self.id,
                    value=self.value,
                    feedback_form=self.feedback_form,
                    feedback_id=self.feedback_id,
                )
            ]
        return []


class SupportRef(OndcModel):
    ref_id: str | None = None
    order_id: str | None = None


class SupportMessage(OndcModel):
    """``{"ref_id": "<order id>"}`` (1.2.0) or ``{"support": {"ref_id"|"order_id": ...}}``."""

    ref_id: str | None = None
    support: SupportRef | None = None

    @property
    def reference(self) -> str | None:
        if self.ref_id:
            return self.ref_id
        if self.support is not None:
            return self.support.ref_id or self.support.order_id
        return None


REQUEST_MESSAGES: dict[str, type[OndcModel]] = {
    "select": SelectMessage,
    "init": InitMessage,
    "confirm": ConfirmMessage,
    "status": StatusMessage,
    "track": TrackMessage,
    "cancel": CancelMessage,
    "update": UpdateMessage,
    "rating": RatingMessage,
    "support": SupportMessage,
}
