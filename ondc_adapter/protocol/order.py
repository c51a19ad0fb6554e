"""Pydantic models of the retail 1.2.0 order messages (protocol.md 4.4-4.11).

Requests the buyer app sends (select, init, confirm, status, track, cancel, update, rating,
support) and the callbacks we send (on_select ... on_support).

Conventions:

* Keys that ONDC writes as ``@ondc/org/xyz`` are Python attributes with an alias; models accept
  either name (``populate_by_name``) and ``dump`` serialises by alias, so what we send is what
  the log validator reads.
* Money is ``Decimal`` inside and a string with exactly two decimals on the wire ("170.00").
  Inbound values such as "600.0" are accepted.
* Inbound models allow extra keys: buyer apps add fields we do not use, and refusing them would
  fail certification for no reason. What we send is built from these models, so it only carries
  the fields listed here.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from ondc_adapter.protocol.context import Context

PAISA = Decimal("0.01")
_MONEY_TEXT = re.compile(r"^-?\d{1,12}(?:\.\d{1,6})?$")


def to_money(value: Any) -> Decimal:
    """Parse a wire amount ("170", "170.0", "170.00", 170) into a Decimal rounded to the paisa."""
    if isinstance(value, bool):
        raise ValueError("amount must be a decimal string")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # floats are not valid on the wire but some buyer apps send them; str() keeps 2 decimals
        number = Decimal(str(value))
    elif isinstance(value, str) and _MONEY_TEXT.match(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise ValueError("amount must be a decimal string") from exc
    else:
        raise ValueError("amount must be a decimal string such as '170.00'")
    if not number.is_finite():
        raise ValueError("amount must be finite")
    return number.quantize(PAISA, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    return f"{value.quantize(PAISA, rounding=ROUND_HALF_UP):.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,12}(\.\d{1,6})?$"}),
]


class OndcModel(BaseModel):
    """Base of every order-message model: aliases accepted on input, extras kept."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    def dump(self) -> dict[str, Any]:
        """The wire form: aliases, no ``None`` values, money as strings."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# ---------------------------------------------------------------- small building blocks


class Price(OndcModel):
    currency: str = "INR"
    value: Money
    maximum_value: Money | None = None


class Descriptor(OndcModel):
    name: str | None = None
    code: str | None = None
    short_desc: str | None = None
    long_desc: str | None = None
    images: list[str] | None = None


class TagItem(OndcModel):
    code: str
    value: str | None = None


class Tag(OndcModel):
    code: str
    # "list" on the wire; renamed here so the builtin stays usable in the class body
    entries: list[TagItem] = Field(default_factory=list, alias="list")

    def get(self, code: str) -> str | None:
        for item in self.entries:
            if item.code == code:
                return item.value
        return None


def tag(code: str, **values: str | None) -> Tag:
    """``tag("cancel_request", reason_id="002")`` -> ``{"code": ..., "list": [...]}``."""
    return Tag(
        code=code,
        entries=[TagItem(code=k, value=v) for k, v in values.items() if v is not None],
    )


class Address(OndcModel):
    name: str | None = None
    door: str | None = None
    building: str | None = None
    street: str | None = None
    locality: str | None = None
    ward: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    area_code: str | None = None


class Location(OndcModel):
    id: str | None = None
    descriptor: Descriptor | None = None
    gps: str | None = None
    address: Address | None = None


class LocationRef(OndcModel):
    id: str


class Contact(OndcModel):
    phone: str | None = None
    email: str | None = None


class Person(OndcModel):
    name: str | None = None


class TimeRange(OndcModel):
    start: str | None = None
    end: str | None = None


class Time(OndcModel):
    label: str | None = None
    timestamp: str | None = None
    range: TimeRange | None = None


class Instructions(OndcModel):
    code: str | None = None
    name: str | None = None
    short_desc: str | None = None
    long_desc: str | None = None
    images: list[str] | None = None


class StateDescriptor(OndcModel):
    code: str
    short_desc: str | None = None


class State(OndcModel):
    descriptor: StateDescriptor
    updated_at: str | None = None


class Count(OndcModel):
    count: int = Field(ge=0)


class CountText(OndcModel):
    """Catalogue-style quantity (``{"count": "99"}``): a stringified integer."""

    count: str = Field(pattern=r"^\d+$")


class Provider(OndcModel):
    id: str = Field(min_length=1)
    locations: list[LocationRef] | None = None


class OrderItem(OndcModel):
    id: str = Field(min_length=1)
    quantity: Count | None = None
    location_id: str | None = None
    fulfillment_id: str | None = None
    parent_item_id: str | None = None
    tags: list[Tag] | None = None


class Endpoint(OndcModel):
    """``fulfillments[].start`` / ``.end``."""

    location: Location | None = None
    time: Time | None = None
    instructions: Instructions | None = None
    contact: Contact | None = None
    person: Person | None = None


class Agent(OndcModel):
    name: str | None = None
    phone: str | None = None


class Vehicle(OndcModel):
    registration: str | None = None


class Fulfillment(OndcModel):
    id: str | None = None
    type: str | None = None
    provider_name: str | None = Field(default=None, alias="@ondc/org/provider_name")
    category: str | None = Field(default=None, alias="@ondc/org/category")
    tat: str | None = Field(default=None, alias="@ondc/org/TAT")
    tracking: bool | None = None
    state: State | None = None
    start: Endpoint | None = None
    end: Endpoint | None = None
    agent: Agent | None = None
    vehicle: Vehicle | None = None
    tags: list[Tag] | None = None


class BreakupItemQuantity(OndcModel):
    available: CountText | None = None
    maximum: CountText | None = None


class BreakupItemDetail(OndcModel):
    price: Price | None = None
    quantity: BreakupItemQuantity | None = None
    tags: list[Tag] | None = None


TitleType = Literal[
    "item", "delivery", "packing", "tax", "discount", "misc", "discount_f", "tax_f", "offer"
]


class BreakupLine(OndcModel):
    item_id: str = Field(alias="@ondc/org/item_id")
    item_quantity: Count | None = Field(default=None, alias="@ondc/org/item_quantity")
    title: str
    title_type: TitleType = Field(alias="@ondc/org/title_type")
    price: Price
    item: BreakupItemDetail | None = None


class Quote(OndcModel):
    price: Price
    breakup: list[BreakupLine] = Field(default_factory=list)
    ttl: str | None = None


class SettlementDetail(OndcModel):
    settlement_counterparty: str | None = None
    settlement_phase: str | None = None
    settlement_type: str | None = None
    settlement_amount: Money | None = None
    settlement_timestamp: str | None = None
    settlement_status: str | None = None
    settlement_reference: str | None = None
    beneficiary_name: str | None = None
    upi_address: str | None = None
    settlement_bank_account_no: str | None = None
    settlement_ifsc_code: str | None = None
    bank_name: str | None = None
    branch_name: str | None = None


class PaymentParams(OndcModel):
    currency: str | None = None
    transaction_id: str | None = None
    amount: Money | None = None


PaymentType = Literal["ON-ORDER", "ON-FULFILLMENT", "POST-FULFILLMENT"]


class Payment(OndcModel):
    uri: str | None = None
    tl_method: str | None = None
    params: PaymentParams | None = None
    status: Literal["PAID", "NOT-PAID"] | None = None
    type: PaymentType | None = None
    collected_by: Literal["BAP", "BPP"] | None = None
    buyer_app_finder_fee_type: Literal["percent", "amount"] | None = Field(
        default=None, alias="@ondc/org/buyer_app_finder_fee_type"
    )
    buyer_app_finder_fee_amount: str | None = Field(
        default=None, alias="@ondc/org/buyer_app_finder_fee_amount"
    )
    settlement_basis: str | None = Field(default=None, alias="@ondc/org/settlement_basis")
    settlement_window: str | None = Field(default=None, alias="@ondc/org/settlement_window")
    withholding_amount: Money | None = Field(default=None, alias="@ondc/org/withholding_amount")
    settlement_details: list[SettlementDetail] | None = Field(
        default=None, alias="@ondc/org/settlement_details"
    )


class Billing(OndcModel):
    name: str | None = None
    address: Address | None = None
    tax_number: str | None = None
    email: str | None = None
    phone: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class CancellationFee(OndcModel):
    percentage: str | None = None
    amount: Price | None = None


class CancellationTerm(OndcModel):
    fulfillment_state: State
    reason_required: bool | None = None
    cancellation_fee: CancellationFee | None = None


class CancellationReason(OndcModel):
    id: str


class Cancellation(OndcModel):
    cancelled_by: str
    reason: CancellationReason | None = None


class Document(OndcModel):
    url: str
    label: str


class Offer(OndcModel):
    id: str
    tags: list[Tag] | None = None


OrderState = Literal["Created", "Accepted", "In-progress", "Completed", "Cancelled"]


class Order(OndcModel):
    """The order object used by init/confirm/status/cancel/update and all their callbacks."""

    id: str | None = None
    state: OrderState | None = None
    provider: Provider | None = None
    items: list[OrderItem] = Field(default_factory=list)
    offers: list[Offer] | None = None
    billing: Billing | None = None
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    cancellation: Cancellation | None = None
    quote: Quote | None = None
    payment: Payment | None = None
    cancellation_terms: list[CancellationTerm] | None = None
    documents: list[Document] | None = None
    tags: list[Tag] | None = None
    created_at: str | None = None
    updated_at: str | None = None


# ---------------------------------------------------------------- requests (buyer -> us)


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


# ---------------------------------------------------------------- callbacks (us -> buyer)


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


def _envelope(name: str, message: Any) -> type[BaseModel]:
    """A whole-payload model ``{"context", "message", "error"?}`` for one action."""
    from pydantic import create_model

    from ondc_adapter.protocol.ack import Error

    return create_model(  # type: ignore[call-overload, no-any-return]
        name,
        __base__=OndcModel,
        context=(Context, ...),
        message=(message, ...),
        error=(Error | None, None),
    )


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

# Whole payloads (context + message + optional error), one per action; the schema files are
# named after the action so a test can validate any payload by its context.action.
PAYLOADS: dict[str, type[BaseModel]] = {
    **{
        action: _envelope(f"{action.title()}Payload", model)
        for action, model in REQUEST_MESSAGES.items()
    },
    **{
        action: _envelope(f"{action.title().replace('_', '')}Payload", model | EmptyMessage)
        for action, model in CALLBACK_MESSAGES.items()
    },
}

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    f"order_{action}": model for action, model in PAYLOADS.items()
}
