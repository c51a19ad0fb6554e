"""The retail 1.2.0 ``order`` object and the objects it is made of (provider, items,
fulfillments, quote, payment, billing, cancellation, tags ...): the parts the order requests
(``order_requests``) and callbacks (``order_callbacks``) are built from, and ``OndcModel``, the
base of every order-message model.

Conventions:

* Keys that ONDC writes as ``@ondc/org/xyz`` are Python attributes with an alias; models accept
  either name (``populate_by_name``) and ``dump`` serialises by alias, so what we send is what
  the log validator reads.
* Money is ``Decimal`` inside and a string with exactly two decimals on the wire ("170.00"),
  the ``Money`` type of ``protocol.money``.
* Inbound models allow extra keys: buyer apps add fields we do not use, and refusing them would
  fail certification for no reason. What we send is built from these models, so it only carries
  the fields listed here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ondc_adapter.protocol.money import Money


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
