"""Retail 1.2.0 ``search`` (intent) and ``on_search`` (catalog) messages (protocol.md 4.1-4.3).

Structure and formats only; the per-domain rules (category attributes, EAN/HSN, price <= MRP,
consumer care, timestamps) are checked by ``ondc_adapter.catalogue.validator``. Unknown keys
are allowed where ONDC payloads carry extensions (buyer apps send more than the spec lists).
Keys such as ``@ondc/org/returnable`` are aliases; ``model_dump(by_alias=True)`` gives the wire.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MONEY = r"^\d+(\.\d{1,2})?$"
COUNT = r"^\d+$"
GPS = r"^\s*-?\d{1,2}\.\d{4,}\s*,\s*-?\d{1,3}\.\d{4,}\s*$"
DURATION = r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TagEntry(_Open):
    code: str
    value: str


class Tag(_Open):
    code: str
    entries: list[TagEntry] = Field(default_factory=list, alias="list")


# ---------------------------------------------------------------- search


class IntentDescriptor(_Open):
    name: str | None = None


class IntentItem(_Open):
    descriptor: IntentDescriptor | None = None


class IntentCategory(_Open):
    id: str | None = None


class IntentProvider(_Open):
    id: str | None = None
    descriptor: IntentDescriptor | None = None


class IntentAddress(_Open):
    area_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class IntentLocation(_Open):
    gps: str | None = Field(default=None, pattern=GPS)
    address: IntentAddress | None = None


class IntentEnd(_Open):
    location: IntentLocation | None = None


class IntentFulfillment(_Open):
    type: str | None = None
    end: IntentEnd | None = None


class IntentPayment(_Open):
    finder_fee_type: Literal["percent", "amount", "Percent", "Amount"] | None = Field(
        default=None, alias="@ondc/org/buyer_app_finder_fee_type"
    )
    finder_fee_amount: str | None = Field(
        default=None, alias="@ondc/org/buyer_app_finder_fee_amount", pattern=MONEY
    )


class Intent(_Open):
    """``message.intent``. ODOP filters: a tag ``{"code": "odop", "list": [...]}`` with codes
    ``lgd_code``, ``district``, ``state``, ``sector``, ``gi`` (yes/no) and seller facts
    ``women_led``, ``shg``, ``tribal``, ``khadi``, ``artisan``, ``gi_authorised_user``."""

    item: IntentItem | None = None
    category: IntentCategory | None = None
    provider: IntentProvider | None = None
    fulfillment: IntentFulfillment | None = None
    payment: IntentPayment | None = None
    tags: list[Tag] | None = None


class SearchMessage(_Open):
    intent: Intent


# ---------------------------------------------------------------- on_search


class Time(_Open):
    label: Literal["enable", "disable", "close"]
    timestamp: str = Field(pattern=TIMESTAMP)


class Descriptor(_Open):
    name: str = Field(min_length=1)
    code: str | None = None
    symbol: str | None = None
    short_desc: str | None = None
    long_desc: str | None = None
    images: list[str] | None = None
    tags: list[Tag] | None = None


class Count(_Open):
    count: str = Field(pattern=COUNT)


class Measure(_Open):
    unit: Literal["unit", "dozen", "gram", "kilogram", "tonne", "litre", "millilitre"]
    value: str = Field(pattern=r"^\d+(\.\d+)?$")


class Unitized(_Open):
    measure: Measure


class Quantity(_Open):
    unitized: Unitized
    available: Count
    maximum: Count


class Price(_Open):
    currency: Literal["INR"]
    value: str = Field(pattern=MONEY)
    maximum_value: str = Field(pattern=r"^\d+(\.\d{1,2})?$")


class Statutory(_Open):
    manufacturer_or_packer_name: str | None = None
    manufacturer_or_packer_address: str | None = None
    common_or_generic_name_of_commodity: str | None = None
    net_quantity_or_measure_of_commodity_in_pkg: str | None = None
    month_year_of_manufacture_packing_import: str | None = None
    imported_product_country_of_origin: str | None = None


class CatalogItem(_Open):
    id: str = Field(min_length=1)
    time: Time
    parent_item_id: str | None = None
    descriptor: Descriptor
    quantity: Quantity
    price: Price
    category_id: str = Field(min_length=1)
    fulfillment_id: str
    location_id: str
    returnable: bool = Field(alias="@ondc/org/returnable")
    cancellable: bool = Field(alias="@ondc/org/cancellable")
    return_window: str = Field(alias="@ondc/org/return_window", pattern=DURATION)
    seller_pickup_return: bool = Field(alias="@ondc/org/seller_pickup_return")
    time_to_ship: str = Field(alias="@ondc/org/time_to_ship", pattern=DURATION)
    available_on_cod: bool = Field(alias="@ondc/org/available_on_cod")
    contact_details_consumer_care: str = Field(alias="@ondc/org/contact_details_consumer_care")
    statutory_reqs_packaged_commodities: Statutory | None = Field(
        default=None, alias="@ondc/org/statutory_reqs_packaged_commodities"
    )
    tags: list[Tag]


class IncrementalItem(_Open):
    """An item in an incremental push: a full item, or id + time for a removal."""

    id: str
    time: Time


class Address(_Open):
    street: str | None = None
    locality: str | None = None
    city: str
    state: str
    area_code: str = Field(pattern=r"^\d{6}$")


class Schedule(_Open):
    holidays: list[str] = Field(default_factory=list)


class Range(_Open):
    start: str
    end: str


class LocationTime(_Open):
    label: Literal["enable", "disable", "close"]
    timestamp: str = Field(pattern=TIMESTAMP)
    days: str | None = Field(default=None, pattern=r"^[1-7](,[1-7]){0,6}$")
    schedule: Schedule | None = None
    range: Range | None = None


class Radius(_Open):
    unit: str
    value: str


class Circle(_Open):
    gps: str = Field(pattern=GPS)
    radius: Radius


class CatalogLocation(_Open):
    id: str
    gps: str | None = Field(default=None, pattern=GPS)
    address: Address | None = None
    time: LocationTime | None = None
    circle: Circle | None = None


class Contact(_Open):
    phone: str = Field(pattern=r"^\d{10,11}$")
    email: str


class ProviderFulfillment(_Open):
    id: str
    type: Literal["Delivery", "Self-Pickup", "Delivery and Self-Pickup", "Buyer-Delivery"]
    contact: Contact


class VariantCategory(_Open):
    id: str
    descriptor: Descriptor
    tags: list[Tag]


class CatalogProvider(_Open):
    id: str = Field(min_length=1)
    time: Time
    fulfillments: list[ProviderFulfillment] = Field(min_length=1)
    descriptor: Descriptor
    ttl: str = Field(pattern=DURATION)
    locations: list[CatalogLocation] = Field(min_length=1)
    categories: list[VariantCategory] = Field(default_factory=list)
    items: list[CatalogItem] = Field(default_factory=list)
    tags: list[Tag]


class BppFulfillment(_Open):
    id: str
    type: str


class Catalog(_Open):
    bpp_descriptor: Descriptor = Field(alias="bpp/descriptor")
    bpp_fulfillments: list[BppFulfillment] = Field(alias="bpp/fulfillments")
    bpp_providers: list[CatalogProvider] = Field(alias="bpp/providers")


class OnSearchMessage(_Open):
    """A full-catalogue ``on_search`` message."""

    catalog: Catalog


class IncrementalProvider(_Open):
    id: str
    time: Time | None = None
    locations: list[CatalogLocation] | None = None
    items: list[CatalogItem | IncrementalItem] | None = None


class IncrementalCatalog(_Open):
    bpp_providers: list[IncrementalProvider] = Field(alias="bpp/providers")


class OnSearchIncrementalMessage(_Open):
    """An incremental ``on_search`` message: only what changed (protocol.md 4.3)."""

    catalog: IncrementalCatalog


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "search_message": SearchMessage,
    "on_search_message": OnSearchMessage,
    "on_search_incremental_message": OnSearchIncrementalMessage,
}
