"""Input models of the catalogue (import files and the admin API) and their business checks.

``parse_provider`` / ``parse_item`` turn a raw dict into a model plus a list of ``FieldProblem``
(field path, reason). Pydantic checks types and formats; ``provider_problems`` /
``item_problems`` check the ONDC rules that span fields (category valid for the domain,
descriptor code for the domain, price <= MRP, the category's attribute tags, the ODOP link).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ondc_adapter.catalogue.codes import as_gtin, descriptor_code_problem
from ondc_adapter.catalogue.odop import OdopProduct, find_product
from ondc_adapter.catalogue.rules import load_rules
from ondc_adapter.protocol.durations import parse_duration

PHONE = r"^0?[6-9]\d{9}$|^0\d{10}$"  # 10-digit mobile (optionally 0-prefixed) or 11-digit
EMAIL = r"^[^@\s,]+@[^@\s,]+\.[A-Za-z]{2,}$"
GSTIN = r"^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$"
PAN = r"^[A-Z]{5}\d{4}[A-Z]$"
HHMM = r"^([01]\d|2[0-3])[0-5]\d$"
ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
_CONSUMER_CARE = re.compile(r"^[^,]+,[^@\s,]+@[^@\s,]+\.[A-Za-z]{2,},0?\d{10}$")
_MONTH_YEAR = re.compile(r"^(0[1-9]|1[0-2])/\d{4}$")
FULFILLMENT_TYPES = ("Delivery", "Self-Pickup", "Delivery and Self-Pickup", "Buyer-Delivery")
UNITS = ("unit", "dozen", "gram", "kilogram", "tonne", "litre", "millilitre")
# @ondc/org/statutory_reqs_packaged_commodities
COMMODITY_KEYS = (
    "manufacturer_or_packer_name",
    "manufacturer_or_packer_address",
    "common_or_generic_name_of_commodity",
    "net_quantity_or_measure_of_commodity_in_pkg",
    "month_year_of_manufacture_packing_import",
    "imported_product_country_of_origin",
    "multiple_products_name_number_or_qty",
)
# @ondc/org/statutory_reqs_prepackaged_food
FOOD_KEYS = (
    "nutritional_info",
    "additives_info",
    "brand_owner_FSSAI_license_no",
    "other_FSSAI_license_no",
    "importer_FSSAI_license_no",
    "brand_owner_name",
    "brand_owner_address",
    "manufacturer_or_packer_FSSAI_license_no",
    "net_quantity",
)
STATUTORY_KEYS = COMMODITY_KEYS + FOOD_KEYS
STATUTORY_FILE = Path(__file__).resolve().parent.parent / "data" / "ret10_statutory.json"


@cache
def statutory_needs() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(RET10 category -> block it needs, block -> its required fields): ONDC's data."""
    data = json.loads(STATUTORY_FILE.read_text(encoding="utf-8"))
    return data["categories"], {k: tuple(v) for k, v in data["required_fields"].items()}


def statutory_problems(domain: str, category_id: str,
                       statutory: dict[str, str]) -> list[FieldProblem]:
    """RET10 packaged food and commodities carry their statutory block, as ONDC requires."""
    if domain != "ONDC:RET10":
        return []
    categories, fields = statutory_needs()
    block = categories.get(category_id, "none")
    return [
        FieldProblem(f"statutory.{name}",
                     f"required for {category_id} (@ondc/org/statutory_reqs_{block})")
        for name in fields.get(block, ())
        if not str(statutory.get(name, "")).strip()
    ]

Id = Annotated[str, Field(pattern=ID)]
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000: refused here as bad input (422 / a row problem)
        # instead of failing in the database as an internal error.
        if _has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class FulfillmentIn(_In):
    id: Id = "F1"
    type: Literal["Delivery", "Self-Pickup", "Delivery and Self-Pickup", "Buyer-Delivery"] = (
        "Delivery"
    )


class LocationIn(_In):
    id: Id
    street: str = Field(default="", max_length=200)  # max_length: the column's width
    locality: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(min_length=1, max_length=100)
    area_code: str = Field(pattern=r"^[1-9]\d{5}$", description="6-digit PIN code")
    std_code: str | None = Field(default=None, pattern=r"^0?\d{2,5}$")
    gps: str = Field(
        pattern=r"^-?\d{1,2}\.\d{4,},\s*-?\d{1,3}\.\d{4,}$", examples=["25.317645,82.973914"]
    )
    serviceability: Literal["10", "11", "12"] = Field(
        default="12", description="10 hyperlocal radius, 11 intercity PIN list, 12 pan-India"
    )
    radius_km: Decimal | None = Field(default=None, gt=0, le=10000)
    pincodes: list[Annotated[str, Field(pattern=r"^\d{6}(-\d{6})?$")]] = Field(
        default_factory=list
    )
    days: str = Field(default="1,2,3,4,5,6,7", pattern=r"^[1-7](,[1-7]){0,6}$")
    open_time: str = Field(default="0000", pattern=HHMM)
    close_time: str = Field(default="2359", pattern=HHMM)
    holidays: list[Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]] = Field(
        default_factory=list
    )
    status: Literal["enable", "close", "disable"] = "enable"

    @property
    def lat_lng(self) -> tuple[Decimal, Decimal]:
        lat, lng = (Decimal(part.strip()) for part in self.gps.split(","))
        return lat.quantize(Decimal("0.000001")), lng.quantize(Decimal("0.000001"))


class VariantGroupIn(_In):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    attributes: list[str] = Field(min_length=1)


class ProviderIn(_In):
    id: Id
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["artisan", "shg", "cooperative", "emporium", "producer_company", "enterprise"]
    short_desc: str = ""
    long_desc: str = ""
    symbol: str | None = None
    images: list[str] = Field(default_factory=list)
    phone: str = Field(pattern=PHONE)
    email: str = Field(pattern=EMAIL, max_length=254)
    gstin: str | None = Field(default=None, pattern=GSTIN)
    pan: str | None = Field(default=None, pattern=PAN)
    fssai_license_no: str | None = Field(default=None, pattern=r"^\d{14}$")
    fulfillments: list[FulfillmentIn] = Field(default_factory=lambda: [FulfillmentIn()])
    ttl: str = Field(default="P1D", max_length=16)
    min_order_value: Money | None = Field(default=None, ge=0)
    women_led: bool = False
    shg: bool = False
    tribal: bool = False
    khadi: bool = False
    artisan: bool = False
    gi_authorised_user: bool = False
    enabled: bool = True
    sample: bool = False
    locations: list[LocationIn] = Field(min_length=1)
    variant_groups: list[VariantGroupIn] = Field(default_factory=list)

    @field_validator("ttl")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class OdopLink(_In):
    lgd_code: str = Field(pattern=r"^\d{1,6}$")
    product: str = Field(min_length=1)


class ItemIn(_In):
    id: Id
    provider_id: Id
    location_id: Id
    fulfillment_id: Id = "F1"
    parent_item_id: Id | None = None
    odop: OdopLink | None = None
    domain: Literal["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"]
    category_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=300)
    code: str = Field(min_length=3, max_length=20, examples=["1:8901234567892", "4:5007"])
    symbol: str | None = None
    images: list[str] = Field(default_factory=list)
    short_desc: str = Field(min_length=1)
    long_desc: str = Field(min_length=1)
    price: Money = Field(gt=0)
    mrp: Money = Field(gt=0)
    # le: the columns are 32-bit INTEGER; a larger number must be a 422, not a database error
    stock: int = Field(ge=0, le=2_147_483_647)
    max_per_order: int = Field(default=10, gt=0, le=2_147_483_647)
    unit: Literal["unit", "dozen", "gram", "kilogram", "tonne", "litre", "millilitre"] = "unit"
    unit_value: str = Field(default="1", pattern=r"^\d+(\.\d+)?$", max_length=16)
    attributes: dict[str, str] = Field(default_factory=dict)
    origin_country: str = Field(default="IND", pattern=r"^[A-Z]{3}$")
    returnable: bool = True
    cancellable: bool = True
    seller_pickup_return: bool = True
    return_window: str = Field(default="P7D", max_length=16)
    time_to_ship: str = Field(default="P2D", max_length=16)
    cod: bool = False
    consumer_care: str = Field(examples=["Care Desk,care@example.in,9876543210"])
    statutory: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    sample: bool = False

    @field_validator("return_window", "time_to_ship")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _gtin(self) -> ItemIn:
        # Sellers know their barcode as an EAN; RET14/15 want it written as a GTIN (3:), which
        # an EAN-8/13 is, digit for digit (codes.as_gtin).
        self.code = as_gtin(self.domain, self.code)
        return self


def pydantic_problems(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        out.append(FieldProblem(prefix + loc, err["msg"]))
    return out


def provider_problems(provider: ProviderIn) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for kind, ids in (
        ("locations", [loc.id for loc in provider.locations]),
        ("fulfillments", [f.id for f in provider.fulfillments]),
        ("variant_groups", [v.id for v in provider.variant_groups]),
    ):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(FieldProblem(kind, f"duplicate ids {dupes}"))
    for i, loc in enumerate(provider.locations):
        if loc.serviceability == "10" and loc.radius_km is None:
            problems.append(FieldProblem(f"locations.{i}.radius_km", "required for type 10"))
        if loc.serviceability == "11" and not loc.pincodes:
            problems.append(FieldProblem(f"locations.{i}.pincodes", "required for type 11"))
        lat, lng = loc.lat_lng
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            problems.append(FieldProblem(f"locations.{i}.gps", "latitude/longitude out of range"))
    return problems


def item_problems(item: ItemIn, odop: OdopProduct | None = None) -> list[FieldProblem]:
    """ONDC rules across fields. ``odop`` is the registry row of ``item.odop`` when known."""
    problems: list[FieldProblem] = []
    rules = load_rules()[item.domain]
    category_problem = rules.category_problem(item.category_id)
    if category_problem:
        problems.append(FieldProblem("category_id", category_problem))
    else:
        for code, reason in rules.attribute_problems(item.category_id, item.attributes):
            problems.append(FieldProblem(f"attributes.{code}", reason))
    reason = descriptor_code_problem(item.domain, item.code)
    if reason:
        problems.append(FieldProblem("code", reason))
    if item.price > item.mrp:
        problems.append(FieldProblem("price", f"selling price {item.price} exceeds MRP {item.mrp}"))
    if not _CONSUMER_CARE.match(item.consumer_care):
        problems.append(
            FieldProblem("consumer_care", "must be 'name,email,phone' (10/11-digit phone)")
        )
    problems.extend(statutory_problems(item.domain, item.category_id, item.statutory))
    unknown = sorted(set(item.statutory) - set(STATUTORY_KEYS))
    if unknown:
        problems.append(FieldProblem("statutory", f"unknown keys {unknown}"))
    month = item.statutory.get("month_year_of_manufacture_packing_import")
    if month and month != "N/A" and not _MONTH_YEAR.match(month):
        problems.append(
            FieldProblem("statutory.month_year_of_manufacture_packing_import", "must be MM/YYYY")
        )
    if item.odop is not None and odop is None:
        problems.append(
            FieldProblem(
                "odop",
                f"{item.odop.product!r} is not an ODOP product of LGD district "
                f"{item.odop.lgd_code}",
            )
        )
    return problems


def parse_provider(data: Any) -> tuple[ProviderIn | None, list[FieldProblem]]:
    try:
        provider = ProviderIn.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc)
    problems = provider_problems(provider)
    return (None if problems else provider), problems


def parse_item(
    data: Any,
) -> tuple[ItemIn | None, OdopProduct | None, list[FieldProblem]]:
    try:
        item = ItemIn.model_validate(data)
    except ValidationError as exc:
        return None, None, pydantic_problems(exc)
    odop = None
    if item.odop is not None:
        odop = find_product(item.odop.lgd_code, item.odop.product)
    problems = item_problems(item, odop)
    return (None if problems else item), odop, problems
