"""Rules on the seller's catalogue (``utils/Retail/Search/on_search.ts``,
``utils/Retail/SearchInc/onSearchIncremental.ts``, ``schema/Retail/RET/on_search.ts``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import Bundle, rule, tag_list, when

SRC = "utils/Retail/Search/on_search.ts"
SRC_SCHEMA = "schema/Retail/RET/on_search.ts"
CATALOGUE_KEYS = ("on_search_full_catalog_refresh", "on_search_inc_refresh")
FULFILLMENT_TYPES = {"Delivery", "Self-Pickup", "Buyer-Delivery"}
GPS = re.compile(r"^-?\d{1,3}\.(\d+),\s*-?\d{1,3}\.(\d+)$")
PHONE = re.compile(r"^(\d{10}|\d{11})$")
EMAIL = re.compile(r"^\S+@\S+\.\S+$")


def _catalogues(bundle: Bundle) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in CATALOGUE_KEYS:
        payload = bundle.get(key)
        if payload:
            catalog = (payload.get("message") or {}).get("catalog") or {}
            yield key, catalog


def _phone(value: Any) -> bool:
    digits = re.sub(r"\D", "", str(value))
    return bool(PHONE.match(digits.removeprefix("0") if len(digits) == 11 else digits))


@rule("on_search.quantity", SRC_SCHEMA + "; " + SRC)
def quantities(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, catalog in _catalogues(bundle):
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            for i, item in enumerate(provider.get("items") or []):
                where = f"bpp/providers[{p}].items[{i}].quantity"
                quantity = item.get("quantity") or {}
                available = str((quantity.get("available") or {}).get("count", ""))
                maximum = str((quantity.get("maximum") or {}).get("count", ""))
                if available not in ("99", "0"):
                    yield key, where + ".available.count", (
                        "available count must be either 99 or 0 only")
                if not maximum.isdigit():
                    yield key, where + ".maximum.count", "maximum.count must be a number"
                elif available == "99" and int(maximum) <= 0:
                    yield key, where + ".maximum.count", (
                        "item.quantity.maximum.count cant be 0 if item is in stock ")


@rule("on_search.ids", SRC)
def unique_ids(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, catalog in _catalogues(bundle):
        providers, locations, items = set(), set(), set()
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            if provider.get("id") in providers:
                yield key, f"bpp/providers[{p}].id", (
                    f"duplicate provider id: {provider.get('id')} in bpp/providers")
            providers.add(provider.get("id"))
            for n, location in enumerate(provider.get("locations") or []):
                if location.get("id") in locations:
                    yield key, f"bpp/providers[{p}].locations[{n}].id", (
                        f"duplicate location id: {location.get('id')} in "
                        f"/bpp/providers[{p}]/locations[{n}]")
                locations.add(location.get("id"))
            for n, item in enumerate(provider.get("items") or []):
                if item.get("id") in items:
                    yield key, f"bpp/providers[{p}].items[{n}].id", (
                        f"duplicate item id: {item.get('id')} in bpp/providers[{p}]")
                items.add(item.get("id"))


@rule("on_search.fulfillments", SRC_SCHEMA)
def fulfillment_types(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, catalog in _catalogues(bundle):
        if key == "on_search_inc_refresh" and catalog.get("bpp/fulfillments"):
            yield key, "bpp/fulfillments", (
                "bpp/fulfillments sent in payload shoulnd't be part of /on_search_inc_refresh api")
            continue
        for n, fulfillment in enumerate(catalog.get("bpp/fulfillments") or []):
            if fulfillment.get("type") not in FULFILLMENT_TYPES:
                yield key, f"bpp/fulfillments[{n}].type", (
                    f"type must be one of {sorted(FULFILLMENT_TYPES)}")


@rule("on_search.descriptor", SRC)
def bpp_terms(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    payload = bundle.get("on_search_full_catalog_refresh")
    if not payload:
        return
    catalog = (payload.get("message") or {}).get("catalog") or {}
    terms = tag_list((catalog.get("bpp/descriptor") or {}).get("tags"), "bpp_terms") or {}
    key = "on_search_full_catalog_refresh"
    if "np_type" not in terms:
        yield key, "bpp/descriptor.tags", "Missing np_type in bpp/descriptor"
    for extra in ("accept_bap_terms", "collect_payment"):
        if extra in terms:
            yield key, "bpp/descriptor.tags", (
                f"{extra} is not required in bpp/descriptor/tags for now ")


@rule("on_search.items", SRC)
def item_rules(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, catalog in _catalogues(bundle):
        stamp = when((bundle.get(key) or {}).get("context", {}).get("timestamp"))
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            fulfillment_ids = {f.get("id") for f in provider.get("fulfillments") or []}
            location_ids = {loc.get("id") for loc in provider.get("locations") or []}
            for i, item in enumerate(provider.get("items") or []):
                where = f"bpp/providers[{p}].items[{i}]"
                price = item.get("price") or {}
                try:
                    value = float(price.get("value"))
                    if value < 1:
                        yield key, where + ".price.value", (
                            "item.price.value should be greater than 0")
                    if value > float(price.get("maximum_value", value)):
                        yield key, where + ".price", (
                            "selling price of item /price/value can't be greater than the "
                            "maximum price /price/maximum_value")
                except (TypeError, ValueError):
                    yield key, where + ".price.value", "price must be a number"
                descriptor = item.get("descriptor") or {}
                if not descriptor.get("short_desc") or not descriptor.get("long_desc"):
                    yield key, where + ".descriptor", (
                        "short_desc and long_desc should not be provided as empty string")
                if key == "on_search_full_catalog_refresh":
                    if fulfillment_ids and item.get("fulfillment_id") not in fulfillment_ids:
                        yield key, where + ".fulfillment_id", (
                            "fulfillment_id should map to one of the fulfillments id in "
                            f"bpp/prvdr{p}/fulfillments")
                    if location_ids and item.get("location_id") not in location_ids:
                        yield key, where + ".location_id", (
                            f"location_id should be one of the locations id in "
                            f"/bpp/providers[{p}]/locations")
                item_time = when((item.get("time") or {}).get("timestamp"))
                if stamp and item_time and item_time > stamp:
                    yield key, where + ".time.timestamp", (
                        f"Timestamp for item[{i}] can't be greater than context.timestamp")
                care = str(item.get("@ondc/org/contact_details_consumer_care", ""))
                parts = care.split(",")
                if care and (len(parts) < 3 or not EMAIL.match(parts[1].strip())
                             or not _phone(parts[2])):
                    yield key, where + ".@ondc/org/contact_details_consumer_care", (
                        'should be in the format "name,email,contactno"')


@rule("on_search.locations", SRC)
def location_rules(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, catalog in _catalogues(bundle):
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            for n, location in enumerate(provider.get("locations") or []):
                where = f"bpp/providers[{p}].locations[{n}]"
                gps = GPS.match(str(location.get("gps", "")))
                if location.get("gps") is not None and (
                    not gps or len(gps.group(1)) < 6 or len(gps.group(2)) < 6
                ):
                    yield key, where + ".gps", (
                        "gps coordinates must be specified with at least six decimal places of "
                        "precision.")
                days = str(((location.get("time") or {}).get("days")) or "")
                if days and not all(d.strip().isdigit() and 1 <= int(d) <= 7
                                    for d in days.split(",")):
                    yield key, where + ".time.days", (
                        'store days should be in the format ("1,2,3,4,5,6,7")')
                window = (location.get("time") or {}).get("range") or {}
                start, end = str(window.get("start", "")), str(window.get("end", ""))
                if window and (not start.isdigit() or not end.isdigit() or int(start) > int(end)
                               or int(end) > 2359):
                    yield key, where + ".time.range", (
                        "end time must be greater than start time in fixed timings")
            if key == "on_search_full_catalog_refresh":
                codes = {t.get("code") for t in provider.get("tags") or []}
                for needed in ("serviceability", "timing"):
                    if needed not in codes:
                        yield key, f"bpp/providers[{p}].tags", (
                            f"{needed} construct is mandatory in /bpp/providers[{p}]/tags")


@rule("on_search.area_code", SRC + "; utils/index.ts (compareSTDwithArea); "
      "constants/AreacodeMap.json")
def area_codes(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Every provider's first store is in the city searched: the PIN of
    ``locations[0].address.area_code`` has ``context.city``'s STD code. The validator looks the
    PIN up in India Post's table (``AreacodeMap.json``: every PIN with its STD code, 2.4 MB,
    not shipped with the node); the port asks the node's city table (``data/cities.csv``:
    each city's STD code and PIN prefixes, ``catalogue.cities``). An approximation both ways:
    a PIN India Post does not know (560999) passes here, and a PIN under another prefix with
    the city's STD code (a suburb: 562106 Anekal is 080) is flagged here. A city missing from
    the table cannot be judged: no finding. ``*`` has no STD code: every store is flagged, as
    the validator does."""
    from ondc_adapter.catalogue.cities import default_directory, normalise_std

    key = "on_search_full_catalog_refresh"
    payload = bundle.get(key)
    if not payload:
        return
    city = str((payload.get("context") or {}).get("city", ""))
    std = city.split(":")[1] if ":" in city else None
    directory = default_directory()
    if std is not None and (not std.isdigit() or normalise_std(std) not in directory.by_std):
        return
    catalog = (payload.get("message") or {}).get("catalog") or {}
    for p, provider in enumerate(catalog.get("bpp/providers") or []):
        address = ((provider.get("locations") or [{}])[0] or {}).get("address")
        if not address:
            continue
        pin = str(address.get("area_code", ""))
        if std is None or directory.std_for_pin(pin) != normalise_std(std):
            yield key, f"bpp/providers[{p}].locations[0].address.area_code", (
                f"STD code does not match with correct area_code on /on_search (PIN {pin} is "
                f"not in {city} by the node's city table, the port's stand-in for the "
                "validator's PIN table)")


@rule("on_search.statutory", SRC + "; utils/index.ts (checkForStatutory); constants/category.ts")
def statutory(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """RET10 packaged food and commodities carry the statutory block of their category."""
    from ondc_adapter.catalogue.models import statutory_needs

    if bundle.domain != "ONDC:RET10":
        return
    categories, fields = statutory_needs()
    for key, catalog in _catalogues(bundle):
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            for i, item in enumerate(provider.get("items") or []):
                block = categories.get(str(item.get("category_id")), "none")
                if block == "none":
                    continue
                name = f"@ondc/org/statutory_reqs_{block}"
                found = item.get(name) or {}
                missing = [f for f in fields[block] if not str(found.get(f, "")).strip()]
                if missing:
                    yield key, f"bpp/providers[{p}].items[{i}].{name}", (
                        f"In ONDC:RET10 {name} following fields are valid and required: "
                        f"{', '.join(missing)}")


@rule("on_search_inc.context", "utils/Retail/SearchInc/onSearchIncremental.ts")
def incremental(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    payload = bundle.get("on_search_inc_refresh")
    if not payload:
        return
    ctx = payload.get("context") or {}
    if ctx.get("city") != "*":
        yield "on_search_inc_refresh", "context.city", (
            'context/city should be "*" in  /on_search_inc_refresh ')
    asked = (bundle.get("search_inc_refresh") or {}).get("context", {})
    if asked and asked.get("transaction_id") != ctx.get("transaction_id"):
        yield "on_search_inc_refresh", "context.transaction_id", (
            "Transaction Id for /search_inc_refresh and /on_search_inc_refresh api should be same")


CATALOGUE_RULES = (quantities, unique_ids, fulfillment_types, bpp_terms, item_rules,
                   location_rules, area_codes, statutory, incremental)
