"""Rules on the seller's catalogue (``utils/Retail/Search/on_search.ts``,
``utils/Retail/SearchInc/onSearchIncremental.ts``, ``schema/Retail/RET/on_search.ts``) and on
the buyer's searches asking for it (``schema/Retail/RET/search.ts``)."""

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


SEARCH_KEYS = ("search_full_catalog_refresh", "search_inc_refresh")
SEARCH_TAG_CODES = ("catalog_inc", "bap_terms", "bap_features")
SEARCH_TAG_LIST_CODES = frozenset(
    ["start_time", "end_time", "mode", "static_terms", "effective_date", "static_terms_new",
     "000", "001", "002", "003", "004", "005", "006", "007", "008",
     "0091", "0092", "0093", "0094", "0095", "0096", "0097", "0098", "0099",
     "009A", "009B", "009C", "009D", "009E", "00A", "00B", "00C", "00D", "00E", "00F",
     "010", "011", "012", "013", "014", "015", "016", "017", "018", "019",
     "01A", "01B", "01C", "01D"])


@rule("search.tags", "schema/Retail/RET/search.ts")
def search_tags(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """``intent.tags`` of a search: optional on a full search, required on an incremental
    one (``searchIncremental.ts``); when sent, each group is catalog_inc, bap_terms or
    bap_features with a non-empty list of known codes, and one of them is bap_features."""
    for key in SEARCH_KEYS:
        payload = bundle.get(key)
        if not payload:
            continue
        intent = (payload.get("message") or {}).get("intent") or {}
        tags = intent.get("tags")
        if tags is None:
            if key == "search_inc_refresh":
                yield key, "message.intent.tags", (
                    "/message/intent should have a required property tags")
            continue
        if not isinstance(tags, list) or not tags:
            yield key, "message.intent.tags", (
                "/message/intent/tags must NOT have fewer than 1 items")
            continue
        for n, tag in enumerate(tags):
            if not isinstance(tag, dict) or tag.get("code") not in SEARCH_TAG_CODES:
                yield key, f"message.intent.tags[{n}].code", (
                    f"/message/intent/tags/{n}/code must be equal to one of the allowed values "
                    f"({', '.join(SEARCH_TAG_CODES)})")
                continue
            entries = tag.get("list")
            if not isinstance(entries, list) or not entries:
                yield key, f"message.intent.tags[{n}].list", (
                    f"/message/intent/tags/{n}/list must NOT have fewer than 1 items")
                continue
            for m, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                    yield key, f"message.intent.tags[{n}].list[{m}]", (
                        f"/message/intent/tags/{n}/list/{m} must have required property 'value'")
                elif entry.get("code") not in SEARCH_TAG_LIST_CODES:
                    yield key, f"message.intent.tags[{n}].list[{m}].code", (
                        f"/message/intent/tags/{n}/list/{m}/code must be equal to one of the "
                        "allowed values")
        if not any(isinstance(t, dict) and t.get("code") == "bap_features" and "list" in t
                   for t in tags):
            yield key, "message.intent.tags", (
                "/message/intent/tags must contain at least 1 valid item(s) "
                "(a bap_features group)")


def _locations_by_provider(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(p.get("id")): {str(loc.get("id")): loc for loc in p.get("locations") or []
                           if isinstance(loc, dict)}
        for p in catalog.get("bpp/providers") or [] if isinstance(p, dict)
    }


@rule("on_search_inc.providers", "utils/Retail/SearchInc/onSearchIncremental.ts")
def incremental_providers(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """What an incremental on_search lists must be in the full catalogue the flow got first
    (providers, stores), and a store it lists must have changed: its ``time.label`` differs
    from the full catalogue's."""
    full = bundle.get("on_search_full_catalog_refresh")
    inc = bundle.get("on_search_inc_refresh")
    if not full or not inc:
        return
    known = _locations_by_provider((full.get("message") or {}).get("catalog") or {})
    every_store = {lid for stores in known.values() for lid in stores}
    catalog = (inc.get("message") or {}).get("catalog") or {}
    for n, provider in enumerate(catalog.get("bpp/providers") or []):
        pid = str(provider.get("id"))
        if pid not in known:
            yield "on_search_inc_refresh", f"bpp/providers[{n}].id", (
                f"provider id: {pid} in bpp/providers didn't matched for providers id of "
                "/on_search_full_catalog_refresh")
            continue
        for m, loc in enumerate(provider.get("locations") or []):
            lid = str(loc.get("id"))
            where = f"bpp/providers[{n}].locations[{m}]"
            if lid not in every_store:
                yield "on_search_inc_refresh", f"{where}.id", (
                    "Location id sent in payload was not present in "
                    "/on_search_full_catalog_refresh api ")
                continue
            before = (known[pid].get(lid) or {}).get("time") or {}
            if before.get("label") == (loc.get("time") or {}).get("label"):
                yield "on_search_inc_refresh", f"{where}.time.label", (
                    "location label (/bpp/providers/locations/time/label) for "
                    "/on_search_inc_refresh should not be equal to "
                    "/on_search_full_catalog_refresh.label")


FULL = "on_search_full_catalog_refresh"
CATEGORY_TYPES = ("custom_menu", "custom_group", "variant_group")


def _full_providers(bundle: Bundle) -> Iterator[tuple[int, dict[str, Any]]]:
    payload = bundle.get(FULL)
    if payload:
        catalog = (payload.get("message") or {}).get("catalog") or {}
        for p, provider in enumerate(catalog.get("bpp/providers") or []):
            if isinstance(provider, dict):
                yield p, provider


@rule("on_search.categories", SRC)
def provider_categories(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Every provider of the full catalogue has ``categories`` (any retail domain), each
    typed custom_menu, custom_group or variant_group."""
    for p, provider in _full_providers(bundle):
        categories = provider.get("categories")
        if not categories:
            yield FULL, f"bpp/providers[{p}].categories", (
                f"categories must be present in bpp/providers[{p}]")
            continue
        for c, category in enumerate(categories):
            kind = (tag_list((category or {}).get("tags"), "type") or {}).get("type")
            if kind is not None and kind not in CATEGORY_TYPES:
                yield FULL, f"bpp/providers[{p}].categories[{c}].tags", (
                    "list.code == type then value should be one of 'custom_menu',"
                    f"'custom_group' and 'variant_group' in bpp/providers[{p}]")


# descriptor.code type and digits per domain (the last entry: every other retail domain)
CODE_RULES: tuple[tuple[frozenset[str], str, str, re.Pattern[str]], ...] = (
    (frozenset({"10", "13", "16", "18"}), "1", "1:EAN", re.compile(r"^\d{8,13}$")),
    (frozenset({"12"}), "4", "4:HSN", re.compile(r"^\d{4}$|^\d{6}$|^\d{8}$|^\d{10}$")),
)
GTIN_DIGITS = re.compile(r"^\d{8}$|^\d{12}$|^\d{13}$|^\d{14}$")


@rule("on_search.item_code", SRC)
def item_codes(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """``descriptor.code`` is ``type:code``: 1 (EAN, 8 to 13 digits) in RET10/13/16/18, 4
    (HSN, 4/6/8/10 digits) in RET12, 3 (GTIN, 8/12/13/14 digits) in the other domains; the
    validator accepts none in RET17. (One stored version wants 3: in RET16; the one ONDC ran
    on this project's logs and the newer ones want 1: there: ``catalogue/codes.py``.)"""
    domain = bundle.domain.removeprefix("ONDC:RET")
    for p, provider in _full_providers(bundle):
        for i, item in enumerate(provider.get("items") or []):
            where = f"bpp/providers[{p}].items[{i}].descriptor.code"
            code = str((item.get("descriptor") or {}).get("code") or "")
            if not code:
                yield FULL, where, "code should be provided"
                continue
            kind, _, digits = code.partition(":")
            rule_ = next((r for r in CODE_RULES if domain in r[0]), None)
            if domain == "17":
                yield FULL, where, "code should have a valid value"
            elif rule_ is not None:
                if kind != rule_[1]:
                    yield FULL, where, f"code should have {rule_[2]} as a value"
                elif not rule_[3].match(digits):
                    yield FULL, where, f"{rule_[2]} code {digits!r} has the wrong length"
            elif kind != "3":
                yield FULL, where, "code should have 3:GTIN as a value"
            elif not GTIN_DIGITS.match(digits):
                yield FULL, where, (
                    "code should be number and have a length 8, 12, 13 or 14")


@rule("on_search.attributes", SRC + "; utils/index.ts (checkMandatoryTags); constants/")
def item_attributes(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An item's ``origin`` tag, its ``attribute`` tag (optional in RET10), a category_id the
    domain's rules define (``invalidCategoryId``), attribute codes the category defines
    (``invalid_attribute``), its mandatory ones, and their values.

    With the node's category data (``data/ondc_retail_categories.json``: lower-case codes, as
    ``checkMandatoryTags`` looks mandatory codes up in lower case). The validator versions
    whose constants spell codes capitalised (``Brand``, ``Colour``) refuse every attribute
    list in RET12 and RET16: ``brand`` is not a key, ``Brand`` is not found lower-cased."""
    from ondc_adapter.catalogue.rules import load_rules

    rules = load_rules().get(bundle.domain)
    if rules is None:
        return
    grocery = bundle.domain == "ONDC:RET10"
    for p, provider in _full_providers(bundle):
        for i, item in enumerate(provider.get("items") or []):
            where = f"bpp/providers[{p}].items[{i}]"
            tags = item.get("tags") or []
            if tag_list(tags, "origin") is None:
                yield FULL, where + ".tags", f"Origin tag fields are missing for item[{i}]"
            attributes = None
            for tag in tags:  # the last attribute tag counts, as in the validator
                if isinstance(tag, dict) and tag.get("code") == "attribute":
                    attributes = [e for e in tag.get("list") or [] if isinstance(e, dict)]
            if attributes is None:
                if not grocery:
                    yield FULL, where + ".tags", (
                        f"Attribute tag fields are missing for item[{i}]")
                continue
            category = str(item.get("category_id"))
            reason = rules.category_problem(category)
            if reason:
                yield FULL, where + ".category_id", (
                    f"Invalid category_id ({category}) for {rules.label}: {reason}")
                continue
            known = rules.attributes[category]
            unknown = [str(e.get("code")) for e in attributes if e.get("code") not in known]
            if unknown:
                yield FULL, where + ".tags.attribute", (
                    f"Invalid attribute for item with category id: {', '.join(unknown)}")
            values = {str(e.get("code")): e.get("value") for e in attributes}
            for code, attribute in known.items():
                if not attribute.mandatory:
                    continue
                if code not in values:
                    yield FULL, where + ".tags.attribute", (
                        f"Mandatory tag field [{code}] missing for item[{i}]")
                elif (attribute.allowed or attribute.pattern) and attribute.problem(
                        str(values[code])):
                    yield FULL, where + f".tags.attribute.{code}", (
                        f"Invalid item value: [{values[code]}]. It must be one of the allowed "
                        "values or match the regex pattern")


CATALOGUE_RULES = (quantities, unique_ids, fulfillment_types, bpp_terms, item_rules,
                   location_rules, area_codes, statutory, incremental, search_tags,
                   incremental_providers, provider_categories, item_codes, item_attributes)
