"""A sample catalogue generated from the ODOP registry, for demos and load tests.

    ondc-adapter catalogue sample --items 100000 --out sample.jsonl [--seed 7]

Clearly sample data: every provider is named "Sample ...", every record has ``sample: true``,
the file starts with a ``{"type": "meta", "sample": true, ...}`` line, contacts use the
reserved ``example.in`` domain and descriptions say "Sample listing".

One provider per ODOP district that has a retail product (its store placed near the state's
centre: approximate, made-up coordinates; a made-up PIN code in the state's range, except that
a store in a district that is a city of ``data/cities.csv`` gets that city's head post office
PIN, prefix + "001": 560001 Bengaluru, 221001 Varanasi, so a search of the city finds it *in*
the city), one variant group per product. Besides, a state emporium (``EMPORIA``): the
Karnataka one in Bengaluru (560001, the city the sandbox buyer searches), carrying every
retail ODOP product of its state, as state handicraft emporia do. Items are dealt round-robin
over the emporium's products, then every retail ODOP product of every district, so any
``--items`` >= the number of those covers them all. Every item satisfies its category's
attribute rules and has a valid EAN-13 (RET10/RET16) or HSN (RET12)
code. Prices are whole rupees, as artisans and emporia price (and see ``item``).

Written as a stream: memory does not grow with ``--items``.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ondc_adapter.catalogue.cities import City, read_cities
from ondc_adapter.catalogue.codes import as_gtin, with_check_digit
from ondc_adapter.catalogue.models import statutory_needs
from ondc_adapter.catalogue.odop import OdopProduct, by_lgd, load_registry
from ondc_adapter.catalogue.rules import CategoryRules, load_rules

# Approximate state centres and a PIN prefix per state/UT (made up for sample stores).
STATE_GEO: dict[str, tuple[float, float, str]] = {
    "Andaman and Nicobar Islands": (11.67, 92.73, "744"),
    "Andhra Pradesh": (15.91, 79.74, "52"),
    "Arunachal Pradesh": (28.22, 94.73, "791"),
    "Assam": (26.20, 92.94, "78"),
    "Bihar": (25.10, 85.31, "80"),
    "Chandigarh": (30.73, 76.78, "160"),
    "Chhattisgarh": (21.28, 81.87, "49"),
    "Dadra and Nagar Haveli and Daman and Diu": (20.40, 72.83, "396"),
    "Delhi": (28.70, 77.10, "110"),
    "Goa": (15.30, 74.12, "403"),
    "Gujarat": (22.26, 71.19, "38"),
    "Haryana": (29.06, 76.09, "12"),
    "Himachal Pradesh": (31.10, 77.17, "17"),
    "Jammu and Kashmir": (33.78, 76.58, "19"),
    "Jharkhand": (23.61, 85.28, "83"),
    "Karnataka": (15.32, 75.71, "56"),
    "Kerala": (10.85, 76.27, "68"),
    "Ladakh": (34.15, 77.58, "194"),
    "Lakshadweep": (10.57, 72.64, "682"),
    "Madhya Pradesh": (22.97, 78.66, "46"),
    "Maharashtra": (19.75, 75.71, "41"),
    "Manipur": (24.66, 93.91, "795"),
    "Meghalaya": (25.47, 91.37, "793"),
    "Mizoram": (23.16, 92.94, "796"),
    "Nagaland": (26.16, 94.56, "797"),
    "Odisha": (20.95, 85.10, "75"),
    "Puducherry": (11.94, 79.81, "605"),
    "Punjab": (31.15, 75.34, "14"),
    "Rajasthan": (27.02, 74.22, "30"),
    "Sikkim": (27.53, 88.51, "737"),
    "Tamil Nadu": (11.13, 78.66, "60"),
    "Telangana": (18.11, 79.02, "50"),
    "Tripura": (23.94, 91.99, "799"),
    "Uttar Pradesh": (26.85, 80.95, "22"),
    "Uttarakhand": (30.07, 79.02, "24"),
    "West Bengal": (22.99, 87.85, "70"),
}
# Every hex code is in the COLOUR list of ONDC's log validator (constants/fashionEnum.ts):
# the versions of its fashion rules that check colour against that list accept no other
# ("#1E3A8A": InvldValueforItem), the others want any "#RRGGBB". Names: lower case words.
COLOURS = (
    ("#DC143C", "crimson"), ("#E52B50", "amaranth"), ("#4B0082", "indigo"),
    ("#FFD700", "gold"), ("#228B22", "forest green"), ("#800000", "maroon"),
    ("#F4C430", "saffron"), ("#F5F5DC", "beige"), ("#000000", "black"), ("#FFFFFF", "white"),
    ("#008080", "teal"), ("#964B00", "brown"),
)
KINDS = ("artisan", "shg", "cooperative", "emporium")
# Every sample seller delivers, and buyers may also collect at its counter or workshop. Retail
# 1.2.5's checker wants Self-Pickup hours from every provider of a catalogue once one offers
# pickup (Search/on_search.ts), so the sample offers it everywhere rather than in part.
SAMPLE_FULFILLMENTS = ({"id": "F1", "type": "Delivery"}, {"id": "F2", "type": "Self-Pickup"})
KIND_NAMES = {"artisan": "Artisan", "shg": "Women SHG", "cooperative": "Weavers Cooperative",
              "emporium": "ODOP Emporium"}
# RET10 categories whose goods are not taken back once delivered
PERISHABLE = frozenset({
    "Fruits and Vegetables", "Dairy and Cheese", "Bakery, Cakes & Dairy",
    "Eggs, Meat & Fish", "Frozen Snacks", "Fruit Juices and Fruit Drinks", "Indian Sweets",
})
PRICE_RANGE = {"ONDC:RET10": (60, 900), "ONDC:RET12": (450, 12000), "ONDC:RET16": (150, 6000)}
# preferred values for attributes whose rules give a fixed list
PREFERRED = {
    "gender": ("female", "unisex"),
    "size": ("Free Size", "IND-8"),
    "base_metal": ("brass", "silver"),
    "plating": ("gold", "silver"),
}
CARE = "Sample ODOP Care,care@sample-odop.example.in,9876500000"


@dataclass(frozen=True)
class Emporium:
    """A state's emporium of ODOP products, in a city of ``data/cities.csv``."""

    id: str  # provider id; its store is "L-" + the rest
    state: str
    city: str  # as in data/cities.csv
    street: str
    locality: str
    gps: str


# The sandbox buyer searches std:080 (ONDC's validator wants every store of that answer in
# the city), so the sandbox seller needs a store in Bengaluru in every domain it plays.
EMPORIA = (
    Emporium("S-EMP-KA", "Karnataka", "Bengaluru", "1 Sample Emporium Building, MG Road",
             "MG Road", "12.975300,77.606200"),
)


@dataclass
class SampleStats:
    providers: int = 0
    items: int = 0
    products: int = 0
    districts: int = 0
    districts_without_retail_products: int = 0


def _pin(state: str, salt: int) -> str:
    prefix = STATE_GEO.get(state, (22.0, 79.0, "11"))[2]
    width = 6 - len(prefix)
    return prefix + f"{salt % (10 ** width):0{width}d}"


def _place_name(district: str) -> str:
    """``"Bengaluru (Bangalore) Urban"`` -> ``"bengaluru"``: a district's name as a city's."""
    words = re.sub(r"\(.*?\)", " ", district).split()
    kept = [w for w in words if w.casefold() not in ("urban", "city", "district")]
    return " ".join(kept).casefold()


def city_of(districts: list[str], state: str, cities: list[City]) -> City | None:
    """The city of ``data/cities.csv`` a district (any of its spellings) is, if one."""
    names = {_place_name(d) for d in districts}
    return next((c for c in cities if c.name.casefold() in names
                 and c.state.casefold() == state.casefold()), None)


def head_post_office_pin(city: City) -> str:
    """The city's head post office (GPO) PIN: its first prefix + "001" (560001)."""
    return city.pin_prefixes[0] + "001"


def _attribute_value(code: str, rules: CategoryRules, category: str, ctx: dict[str, str]) -> str:
    rule = rules.attributes[category][code]
    if code == "colour":
        return ctx["colour"]
    if code == "colour_name":
        return ctx["colour_name"]
    if code == "brand":
        return ctx["brand"]
    if code == "size_chart":
        return "https://sample-odop.example.in/size-chart/free-size"
    if code in ("fabric", "material") and rule.allowed is None:
        return ctx["material"].title() if code == "material" else ctx["material"]
    if rule.allowed is not None:
        real = [v for v in rule.allowed if v != "alpha"]
        for wanted in (ctx.get("material", ""), *PREFERRED.get(code, ())):
            if wanted in real:
                return wanted
        return real[0]
    return ctx.get(code, "handmade")


def item_attributes(
    rules: CategoryRules, category: str, ctx: dict[str, str]
) -> dict[str, str]:
    """Every mandatory attribute of ``category`` with a value its rule accepts."""
    return {
        code: _attribute_value(code, rules, category, ctx) for code in rules.mandatory(category)
    }


class _Generator:
    def __init__(self, items: int, seed: int) -> None:
        self.items = items
        self.rng = random.Random(seed)
        self.seed = seed
        self.rules = load_rules()
        registry = load_registry()
        self.districts = by_lgd(registry)
        self.stats = SampleStats(districts=len(self.districts))
        self.providers: list[dict[str, Any]] = []
        # (product, provider id, product number within provider)
        self.products: list[tuple[OdopProduct, str, int]] = []
        cities = read_cities()
        by_name = {c.name: c for c in cities}
        for emporium in EMPORIA:
            stocked = [p for p in registry if p.retail and p.state == emporium.state]
            provider = self._emporium(emporium, by_name[emporium.city], stocked)
            self.providers.append(provider)
            self.products += [(p, provider["id"], k) for k, p in enumerate(stocked)]
        for n, (lgd, rows) in enumerate(sorted(self.districts.items(), key=lambda kv: int(kv[0]))):
            retail = [p for p in rows if p.retail]
            if not retail:
                self.stats.districts_without_retail_products += 1
                continue
            city = city_of([p.district for p in rows], rows[0].state, cities)
            provider = self._provider(n, lgd, retail, city)
            self.providers.append(provider)
            for k, product in enumerate(retail):
                self.products.append((product, provider["id"], k))
        self.stats.providers = len(self.providers)
        self.stats.products = len(self.products)

    def _emporium(self, emporium: Emporium, city: City, stocked: list[OdopProduct]
                  ) -> dict[str, Any]:
        store_id = "L-" + emporium.id.removeprefix("S-")
        return {
            "type": "provider",
            "id": emporium.id,
            "name": f"Sample {emporium.state} State ODOP Emporium",
            "kind": "emporium",
            "short_desc": f"Sample state emporium of the ODOP products of {emporium.state}, "
            f"in {emporium.city}",
            "long_desc": "Sample data generated from the ODOP list for demos, load tests and "
            "the sandbox.",
            "symbol": f"https://sample-odop.example.in/logo/{emporium.id}.png",
            "images": [f"https://sample-odop.example.in/logo/{emporium.id}.png"],
            "phone": "9800000001",
            "email": f"emporium-{emporium.state.lower().replace(' ', '-')}@sample-odop.example.in",
            "gstin": None,
            "fulfillments": [dict(f) for f in SAMPLE_FULFILLMENTS],
            "ttl": "P1D",
            "min_order_value": "100.00",
            "women_led": False,
            "shg": False,
            "tribal": False,
            "khadi": False,
            "artisan": False,
            "gi_authorised_user": any(p.gi for p in stocked),
            "enabled": True,
            "sample": True,
            "locations": [{
                "id": store_id,
                "street": emporium.street,
                "locality": emporium.locality,
                "city": emporium.city,
                "state": emporium.state,
                "area_code": head_post_office_pin(city),
                "gps": emporium.gps,
                "serviceability": "12",  # emporia ship across India
                "days": "1,2,3,4,5,6,7",
                "open_time": "1000",
                "close_time": "2000",
            }],
            "variant_groups": [
                {"id": f"VG{k + 1}", "name": f"{p.product} colours", "attributes": ["colour"]}
                for k, p in enumerate(stocked)
                if p.ondc and p.ondc.domain != "ONDC:RET10"
            ],
        }

    def _provider(self, n: int, lgd: str, retail: list[OdopProduct], city: City | None = None
                  ) -> dict[str, Any]:
        first = retail[0]
        kind = KINDS[n % len(KINDS)]
        lat, lng, _ = STATE_GEO.get(first.state, (22.0, 79.0, "11"))
        rng = self.rng
        lat += rng.uniform(-1.5, 1.5)
        lng += rng.uniform(-1.5, 1.5)
        # a city's own district: the city's head post office, so it is *in* the city
        pin = head_post_office_pin(city) if city else _pin(first.state, int(lgd) * 7 + 1)
        food_only = all(p.ondc and p.ondc.domain == "ONDC:RET10" for p in retail)
        serviceability = "10" if food_only and n % 3 == 0 else ("11" if n % 10 == 1 else "12")
        prefix = STATE_GEO.get(first.state, (0, 0, "11"))[2]
        width = 6 - len(prefix)
        location: dict[str, Any] = {
            # unique across the whole catalogue, as ONDC wants location ids
            "id": f"L-{lgd}",
            "street": f"{n + 1} Sample Haat Road",
            "locality": f"{first.district} Craft Cluster",
            "city": first.district,
            "state": first.state,
            "area_code": pin,
            "gps": f"{lat:.6f},{lng:.6f}",
            "serviceability": serviceability,
            "days": "1,2,3,4,5,6",
            "open_time": "0900",
            "close_time": "1900",
        }
        if serviceability == "10":
            location["radius_km"] = "25"
        if serviceability == "11":
            location["pincodes"] = [f"{prefix}{'0' * width}-{prefix}{'9' * width}"]
        return {
            "type": "provider",
            "id": f"S-{lgd}",
            "name": f"Sample {first.district} {KIND_NAMES[kind]}",
            "kind": kind,
            "short_desc": f"Sample seller of ODOP products of {first.district}, {first.state}",
            "long_desc": "Sample data generated from the ODOP list for demos and load tests.",
            "symbol": f"https://sample-odop.example.in/logo/S-{lgd}.png",
            "images": [f"https://sample-odop.example.in/logo/S-{lgd}.png"],
            "phone": f"98{int(lgd):08d}"[:10],
            "email": f"seller-{lgd}@sample-odop.example.in",
            "gstin": None,
            "fulfillments": [dict(f) for f in SAMPLE_FULFILLMENTS],
            "ttl": "P1D",
            "min_order_value": "100.00",
            "women_led": kind == "shg" or n % 5 == 0,
            "shg": kind == "shg",
            "tribal": n % 7 == 0,
            "khadi": n % 11 == 0,
            "artisan": kind in ("artisan", "cooperative"),
            "gi_authorised_user": any(p.gi for p in retail),
            "enabled": True,
            "sample": True,
            "locations": [location],
            "variant_groups": [
                {"id": f"VG{k + 1}", "name": f"{p.product} colours", "attributes": ["colour"]}
                for k, p in enumerate(retail)
                if p.ondc and p.ondc.domain != "ONDC:RET10"
            ],
        }

    def item(self, index: int) -> dict[str, Any]:
        product, provider_id, k = self.products[index % len(self.products)]
        variant = index // len(self.products)
        mapping = product.ondc
        assert mapping is not None
        domain, category = mapping.domain, mapping.category_id
        rng = self.rng
        colour, colour_name = COLOURS[(index + variant) % len(COLOURS)]
        low, high = PRICE_RANGE[domain]
        mrp = Decimal(rng.randrange(low, high))
        # Whole rupees, as artisans and emporia price. Not only taste: ONDC's log validator
        # checks quotes in binary floating point (574.2 * 3 != 1722.6), so a price in paise
        # can fail certification logs although the node's Decimal arithmetic is exact.
        percent = rng.choice((100, 95, 90, 85, 80))
        price = Decimal((int(mrp) * percent + 50) // 100).quantize(Decimal("1.00"))
        if domain == "ONDC:RET12":
            code = f"4:{mapping.hsn or '6307'}"
        else:
            # an EAN-13; written as a GTIN (3:) where the domain wants one (RET14/RET15)
            code = as_gtin(domain, "1:" + with_check_digit(f"890{index % 10**9:09d}"))
        ctx = {
            "colour": colour,
            "colour_name": colour_name,
            "brand": f"Sample {product.district}",
            "material": mapping.material or "cotton",
        }
        attributes = item_attributes(self.rules[domain], category, ctx)
        name_suffix = f" - {colour_name.title()}" if domain != "ONDC:RET10" else ""
        # fresh produce and dairy cannot come back; shelf-stable groceries can, as most
        # grocery sellers on ONDC allow (and flow 6 needs a returnable item in RET10 too)
        returnable = domain != "ONDC:RET10" or category not in PERISHABLE
        gi = " (GI)" if product.gi else ""
        item: dict[str, Any] = {
            "type": "item",
            "id": f"S{index + 1:07d}",
            "provider_id": provider_id,
            "location_id": "L-" + provider_id.removeprefix("S-"),
            "fulfillment_id": "F1",
            "odop": {"lgd_code": product.lgd_code, "product": product.product},
            "domain": domain,
            "category_id": category,
            "name": f"{product.product}{gi}{name_suffix} #{variant + 1}",
            "code": code,
            "symbol": f"https://sample-odop.example.in/img/S{index + 1:07d}.jpg",
            "images": [f"https://sample-odop.example.in/img/S{index + 1:07d}.jpg"],
            "short_desc": f"Sample listing: {product.product} from {product.district}, "
            f"{product.state}",
            "long_desc": f"Sample listing generated from the ODOP list: {product.product} is a "
            f"{product.rank.lower()} ODOP product of {product.district} ({product.state}), "
            f"sector {product.sector}{', GI-tagged' if product.gi else ''}. Not a real offer.",
            "price": str(price),
            "mrp": str(mrp.quantize(Decimal("1.00"))),
            "stock": rng.choice((0, 5, 12, 25, 40, 100)),
            "max_per_order": 10,
            "attributes": attributes,
            "origin_country": "IND",
            "returnable": returnable,
            "cancellable": True,
            "seller_pickup_return": returnable,
            "return_window": "P7D" if domain != "ONDC:RET10" else "P2D",
            "time_to_ship": "P2D",
            # cash on delivery for every grocery item and, elsewhere, for items up to
            # Rs 10,000 (sellers cap COD at a price): every domain can play COD flows
            "cod": domain == "ONDC:RET10" or price <= 10000,
            "consumer_care": CARE,
            "statutory": {
                "manufacturer_or_packer_name": f"Sample {product.district} producers",
                "manufacturer_or_packer_address": f"{product.district}, {product.state}",
                "common_or_generic_name_of_commodity": product.product,
                "net_quantity_or_measure_of_commodity_in_pkg": "1 unit",
                "month_year_of_manufacture_packing_import": "01/2026",
            },
            "enabled": True,
            "sample": True,
        }
        if domain != "ONDC:RET10":
            item["parent_item_id"] = f"VG{k + 1}"
        elif statutory_needs()[0].get(category) == "prepackaged_food":
            # packaged food carries its FSSAI block (sample licence numbers: 14 digits)
            item["statutory"].update({
                "nutritional_info": "Energy 380 kcal, protein 9 g, fat 12 g per 100 g",
                "additives_info": "No added preservatives",
                "brand_owner_FSSAI_license_no": f"100{int(product.lgd_code):011d}",
                "other_FSSAI_license_no": f"200{int(product.lgd_code):011d}",
                "importer_FSSAI_license_no": "N/A",
            })
        return item

    def records(self) -> Iterator[dict[str, Any]]:
        yield {"type": "meta", "sample": True, "source": "ODOP list V31 (2025-07-07)",
               "items": self.items, "seed": self.seed}
        yield from self.providers
        for index in range(self.items):
            self.stats.items += 1
            yield self.item(index)


ITEM_CSV_FIELDS = (
    "id", "provider_id", "location_id", "fulfillment_id", "parent_item_id", "odop_lgd_code",
    "odop_product", "domain", "category_id", "name", "code", "symbol", "images", "short_desc",
    "long_desc", "price", "mrp", "stock", "max_per_order", "origin_country", "returnable",
    "cancellable", "seller_pickup_return", "return_window", "time_to_ship", "cod",
    "consumer_care", "enabled", "sample",
)
PROVIDER_CSV_FIELDS = (
    "name", "kind", "short_desc", "long_desc", "symbol", "phone", "email", "min_order_value",
    "women_led", "shg", "tribal", "khadi", "artisan", "gi_authorised_user", "enabled", "sample",
)
LOCATION_CSV_FIELDS = (
    "street", "locality", "city", "state", "area_code", "gps", "serviceability", "radius_km",
    "pincodes", "days", "open_time", "close_time",
)


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(map(str, value))
    return "" if value is None else str(value)


def _write_csv(gen: _Generator, handle: TextIO) -> None:
    attr_codes = sorted(
        {c for r in gen.rules.values() for cat in r.attributes.values() for c in cat}
    )
    stat_keys = (
        "manufacturer_or_packer_name", "manufacturer_or_packer_address",
        "common_or_generic_name_of_commodity", "net_quantity_or_measure_of_commodity_in_pkg",
        "month_year_of_manufacture_packing_import",
        # packaged food (RET10)
        "nutritional_info", "additives_info", "brand_owner_FSSAI_license_no",
        "other_FSSAI_license_no", "importer_FSSAI_license_no",
    )
    header = [*ITEM_CSV_FIELDS, *(f"provider_{f}" for f in PROVIDER_CSV_FIELDS),
              *(f"location_{f}" for f in LOCATION_CSV_FIELDS), "variant_group_name",
              "variant_group_attributes", *(f"attr_{c}" for c in attr_codes),
              *(f"statutory_{k}" for k in stat_keys)]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    providers = {p["id"]: p for p in gen.providers}
    done: set[str] = set()
    for record in gen.records():
        if record["type"] != "item":
            continue
        provider = providers[record["provider_id"]]
        first = provider["id"] not in done
        done.add(provider["id"])
        row = {f: _csv_value(record.get(f)) for f in ITEM_CSV_FIELDS}
        row["odop_lgd_code"] = record["odop"]["lgd_code"]
        row["odop_product"] = record["odop"]["product"]
        if first:
            row.update({f"provider_{f}": _csv_value(provider.get(f)) for f in PROVIDER_CSV_FIELDS})
            loc = provider["locations"][0]
            row.update({f"location_{f}": _csv_value(loc.get(f)) for f in LOCATION_CSV_FIELDS})
        group = next(
            (g for g in provider["variant_groups"] if g["id"] == record.get("parent_item_id")), None
        )
        if group is not None:
            row["variant_group_name"] = group["name"]
            row["variant_group_attributes"] = "|".join(group["attributes"])
        row.update({f"attr_{c}": v for c, v in record["attributes"].items()})
        row.update({f"statutory_{k}": v for k, v in record["statutory"].items()})
        writer.writerow([row.get(h, "") for h in header])


def generate(out: Path, *, items: int, seed: int = 7) -> SampleStats:
    """Write a sample catalogue of ``items`` items to ``out`` (``.jsonl``/``.json``/``.csv``)."""
    gen = _Generator(items, seed)
    suffix = out.suffix.lower()
    with out.open("w", encoding="utf-8", newline="") as handle:
        if suffix == ".csv":
            _write_csv(gen, handle)
        elif suffix in (".jsonl", ".ndjson"):
            for record in gen.records():
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                handle.write("\n")
        elif suffix == ".json":
            # a JSON array, still written record by record
            handle.write("[\n")
            for n, record in enumerate(gen.records()):
                if n:
                    handle.write(",\n")
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n]\n")
        else:
            raise ValueError(f"unknown format {suffix!r}: use .jsonl, .json or .csv")
    return gen.stats
