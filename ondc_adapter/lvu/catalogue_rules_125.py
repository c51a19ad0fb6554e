"""Retail 1.2.5 catalogue rules (search, on_search, incremental): ported from
``utils/Retail_.1.2.5/Search`` and ``SearchInc`` of ONDC's validator. Where 1.2.5 keeps a
1.2.0 rule, the 1.2.0 rule of ``catalogue_rules`` is listed here too.

Read for this port (issue 16, 2026-12-03; stored copies of
``ONDC-Official/log-validation-utility``):
``Search/on_search.ts`` (stored id 4605188052, 103,862 chars, ``checkOnsearch(data, flow)``, the
version with ``validateMetaTags``/``validateFinanceTags``), ``Search/search.ts`` @ 12934ea6,
``SearchInc/onSearchIncremental.ts`` @ 2904b73e (first 32 k of 43 k), ``utils/index.ts`` @ 01297311
(``checkTagConditions``). Not read (the stored ``utils/index.ts`` predates them):
``validateMetaTags``, ``validateFinanceTags``, ``validateTermsList`` (ported from what
``sandbox/builders_125.py`` records of it), and the 1.2.5 JSON schemas
(``validateSchemaRetailV2``): the schema-based 1.2.0 rules kept here (``quantities``,
``fulfillment_types``) are the 1.2.0 schema's.

Upstream bugs, ported as written (a finding here is what ONDC's validator will say):

* every ``exchange`` offer is refused (``unsupportedDomain``: its domain test is always true);
* outside flow 002, every fulfillment of every provider must carry a ``timing`` tag of type
  ``Self-Pickup``: a store that only delivers cannot meet it without claiming pickup hours it
  does not keep (the node writes the tag only for stores that offer Self-Pickup);
* flow 001 refuses an item that *has* a ``timing`` tag (the test is inverted);
* the incremental checker's offer checks never run (``if (!offers) offers.forEach``): none
  ported.

The offer rules are in ``catalogue_offer_rules_125`` (one concept a module).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ondc_adapter.lvu import catalogue_rules as v120
from ondc_adapter.lvu.catalogue_offer_rules_125 import offers
from ondc_adapter.lvu.findings import Bundle, Rule, rule, tag_list, when

SRC = "utils/Retail_.1.2.5/Search/on_search.ts"
SRC_SEARCH = "utils/Retail_.1.2.5/Search/search.ts"
SRC_INC = "utils/Retail_.1.2.5/SearchInc/onSearchIncremental.ts"
FULL = "on_search_full_catalog_refresh"
INC = "on_search_inc_refresh"
HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$")
TIMING_CODES = frozenset({"type", "day_from", "day_to", "time_from", "time_to", "location"})
FINANCING_FLOWS = frozenset({"007", "0099", "0098"})
MEDIA_TYPES = ("video/mp4", "video/webm", "video/mpeg")


def _full(bundle: Bundle) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from v120._full_providers(bundle)


def _int(value: Any) -> int | None:
    # parseInt of the validator: leading digits, else NaN (None)
    found = re.match(r"^\s*-?\d+", str(value))
    return int(found.group()) if found else None


@rule("on_search.descriptor", SRC)
def bpp_terms(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """``bpp_terms`` needs ``np_type`` and refuses ``accept_bap_terms``; 1.2.5 no longer refuses
    ``collect_payment``, and the financing flows (007, 0099, 0098) want it on every descriptor
    tag, ``Y`` or ``N``."""
    payload = bundle.get(FULL)
    if not payload:
        return
    catalog = (payload.get("message") or {}).get("catalog") or {}
    tags = (catalog.get("bpp/descriptor") or {}).get("tags") or []
    for tag in tags:
        if not isinstance(tag, dict):
            continue
        listing = {str(e.get("code")): e.get("value") for e in tag.get("list") or []
                   if isinstance(e, dict)}
        if tag.get("code") == "bpp_terms":
            if "np_type" not in listing:
                yield FULL, "bpp/descriptor.tags", "Missing np_type in bpp/descriptor"
            if "accept_bap_terms" in listing:
                yield FULL, "bpp/descriptor.tags", (
                    "accept_bap_terms is not required in bpp/descriptor/tags for now ")
        if bundle.flow in FINANCING_FLOWS:
            if "collect_payment" not in listing:
                yield FULL, "bpp/descriptor.tags", (
                    "collect_payment is required in bpp/descriptor/tags for on_search catalogue "
                    f"for flow: {bundle.flow} ")
            elif listing["collect_payment"] not in ("Y", "N"):
                yield FULL, "bpp/descriptor.tags", (
                    f'value must be "Y" or "N" for flow: {bundle.flow}')


@rule("on_search.self_pickup", SRC)
def self_pickup(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Flow 002: a provider has a ``Self-Pickup`` fulfillment. Every other flow: each
    fulfillment carries a ``timing`` tag of type ``Self-Pickup`` naming a store seen so far,
    days 1-7, HHMM times, ``time_to`` after ``time_from`` (upstream bug: asked of stores that
    only deliver too; see the module notes)."""
    seen: set[str] = set()  # the validator's store ids grow provider by provider
    for p, provider in _full(bundle):
        seen |= {str(loc.get("id")) for loc in provider.get("locations") or []
                 if isinstance(loc, dict)}
        fulfillments = [f for f in provider.get("fulfillments") or [] if isinstance(f, dict)]
        if bundle.flow == "002":
            if not any(f.get("type") == "Self-Pickup" for f in fulfillments):
                yield FULL, f"bpp/providers[{p}].fulfillments", (
                    f"Provider[{p}] with flow=002 must have at least one fulfillment of type "
                    "'Self-Pickup'")
            continue
        for f, fulfillment in enumerate(fulfillments):
            where = f"bpp/providers[{p}].fulfillments[{f}].tags"
            tag = next((t for t in fulfillment.get("tags") or [] if isinstance(t, dict)
                        and t.get("code") == "timing"
                        and any(isinstance(e, dict) and e.get("code") == "type"
                                and e.get("value") == "Self-Pickup" for e in t.get("list") or [])),
                       None)
            if tag is None:
                yield FULL, where, (
                    f"Provider[{p}] with flow≠002 must have a 'timing' tag with "
                    "list.type='Self-Pickup'")
                continue
            listing = {str(e.get("code")): e.get("value") for e in tag.get("list") or []
                       if isinstance(e, dict)}
            if not listing.get("location"):
                yield FULL, where, (
                    f"'location' is missing in Self-Pickup timing tag for provider[{p}]")
            elif str(listing["location"]) not in seen:
                yield FULL, where, (
                    "'location' in Self-Pickup timing tag must match one of the "
                    f"provider[{p}]'s location ids")
            for code in ("day_from", "day_to"):
                day = _int(listing.get(code))
                if day is None or not 1 <= day <= 7:
                    yield FULL, where, (
                        f"Invalid value for {code}: {listing.get(code)} in Self-Pickup timing tag")
            for code in ("time_from", "time_to"):
                if not HHMM.match(str(listing.get(code))):
                    yield FULL, where, (
                        f"Invalid format for {code}: {listing.get(code)} in Self-Pickup timing "
                        "tag (expected HHMM)")
            start, end = _int(listing.get("time_from")), _int(listing.get("time_to"))
            if start is not None and end is not None and end <= start:
                yield FULL, where, (
                    f"'time_to' ({end}) must be greater than 'time_from' ({start}) for "
                    "Self-Pickup")


SEARCH_TAG_CODES_125 = ("catalog_inc", "bap_terms", "catalog_full", "bnp_features")


@rule("on_search.provider_timing", SRC)
def provider_timing(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """A provider's ``timing`` tags: typed ``Order``, ``Delivery``, ``Self-Pickup`` or
    ``All`` (``All`` alone), one for every fulfillment type of the catalogue and none for a
    type no fulfillment has, ``Order`` always; their codes, days, HHMM times and stores."""
    payload = bundle.get(FULL) or {}
    catalog = (payload.get("message") or {}).get("catalog") or {}
    # the validator's type set spans every provider of the catalogue
    catalogue_types = {str(f.get("type")) for p in catalog.get("bpp/providers") or []
                       if isinstance(p, dict) for f in p.get("fulfillments") or []
                       if isinstance(f, dict)}
    for p, provider in _full(bundle):
        stores = {str(loc.get("id")) for loc in provider.get("locations") or []
                  if isinstance(loc, dict)}
        timings = [t for t in provider.get("tags") or []
                   if isinstance(t, dict) and t.get("code") == "timing"]
        where = f"bpp/providers[{p}].tags"
        if not timings:
            continue  # "timing construct is mandatory": v120.location_rules says it
        kinds = [(tag_list([t], "timing") or {}).get("type") for t in timings]
        every = [t for t, k in zip(timings, kinds, strict=True) if k == "All"]
        others = [t for t, k in zip(timings, kinds, strict=True)
                  if k in ("Order", "Delivery", "Self-Pickup")]
        if every and others:
            yield FULL, where, (
                "If the timings of type 'All' is provided then timings construct for "
                "'Order'/'Delivery'/'Self-Pickup' is not required")
        if len(every) > 1:
            yield FULL, where, "The timings object for 'All' should be provided once!"
        own_types = {str(f.get("type")) for f in provider.get("fulfillments") or []
                     if isinstance(f, dict)}
        texts: set[str] = set()
        for tag, kind in zip(timings, kinds, strict=True):
            if repr(tag) in texts:
                yield FULL, where, (f"timing construct /bpp/providers[{p}]/tags should not be "
                                    "same with the previous timing constructs")
            texts.add(repr(tag))
            if kind not in ("Order", "Delivery", "Self-Pickup", "All"):
                if kind not in own_types:
                    yield FULL, where, (
                        f"The type '{kind}' in timing tags should match with types in "
                        "fulfillments array, along with 'Order'")
                yield FULL, where, "'Order' type must be present in timing tags"
        checked = every[:1] + others
        for tag in checked:
            yield from _timing_codes(tag, stores, where)
        if others:
            named = {(tag_list([t], "timing") or {}).get("type") for t in checked}
            for kind in sorted(catalogue_types - named):
                yield FULL, where, f"The timings object must be present for {kind} in the tags"
            for kind in sorted(k for k in named if k not in ("Order", "All")
                               and k not in catalogue_types):
                yield FULL, where, (
                    f"The timings object {kind} is not present in the onSearch fulfillments")
            if "Order" not in named:
                yield FULL, where, "The timings object must be present for Order in the tags"


def _timing_codes(tag: dict[str, Any], stores: set[str], where: str
                  ) -> Iterator[tuple[str, str, str]]:
    listing = [e for e in tag.get("list") or [] if isinstance(e, dict)]
    for entry in listing:
        code, value = entry.get("code"), entry.get("value")
        if code in ("day_from", "day_to"):
            day = _int(value)
            if day is None or not 1 <= day <= 7 or not NUMBER.match(str(value)):
                yield FULL, where, f"Invalid value for '{code}': {value}"
        elif code in ("time_from", "time_to"):
            if not HHMM.match(str(value)):
                yield FULL, where, f"Invalid time format for '{code}': {value}"
        elif code == "location":
            if str(value) not in stores:
                yield FULL, where, "Invalid location value as it's unavailable in location/ids"
        elif code not in TIMING_CODES:
            yield FULL, where, f"Invalid list.code for 'timing': {code}"
    values = {str(e.get("code")): e.get("value") for e in listing}
    days = _int(values.get("day_from")), _int(values.get("day_to"))
    times = _int(values.get("time_from")), _int(values.get("time_to"))
    if all(v is not None for v in (*days, *times)):
        if days[1] < days[0]:  # type: ignore[operator]
            yield FULL, where, "'day_to' must be greater than or equal to 'day_from'"
        if times[1] <= times[0]:  # type: ignore[operator]
            yield FULL, where, "'time_to' must be greater than 'time_from'"


@rule("on_search.serviceability", SRC)
def serviceability(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Each ``serviceability`` tag: unique, at least 5 entries, a store of the provider, a
    category its items have, type 10 (km), 11 (pincodes) or 12 (IND, country); as many
    serviceability tags as distinct item categories."""
    for p, provider in _full(bundle):
        stores = {str(loc.get("id")) for loc in provider.get("locations") or []
                  if isinstance(loc, dict)}
        categories = {str(i.get("category_id")) for i in provider.get("items") or []
                      if isinstance(i, dict) and "category_id" in i}
        seen: set[str] = set()
        for t, tag in enumerate(provider.get("tags") or []):
            if not isinstance(tag, dict) or tag.get("code") != "serviceability":
                continue
            where = f"bpp/providers[{p}].tags[{t}]"
            text = repr(tag)
            if text in seen:
                yield FULL, where, (
                    f"serviceability construct /bpp/providers[{p}]/tags[{t}] should not be same "
                    "with the previous serviceability constructs")
            seen.add(text)
            listing = [e for e in tag.get("list") or [] if isinstance(e, dict)]
            if len(listing) < 5:
                yield FULL, where, (
                    f"serviceability construct /bpp/providers[{p}]/tags[{t}] should be defined "
                    "as per the API contract")
            values = {str(e.get("code")): str(e.get("value", "")) for e in listing}
            if values.get("location") not in stores:
                yield FULL, where, ("location in serviceability construct should be one of the "
                                    f"location ids bpp/providers[{p}]/locations")
            if values.get("category") not in categories:
                yield FULL, where, ("category in serviceability construct should be one of the "
                                    f"category ids bpp/providers[{p}]/items/category_id")
            yield from _service_area(values, where)
        if seen and len(seen) != len(categories):
            yield FULL, f"bpp/providers[{p}].tags", (
                "The number of unique category_id should be equal to count of serviceability "
                f"in /bpp/providers[{p}]")


def _service_area(values: dict[str, str], where: str) -> Iterator[tuple[str, str, str]]:
    kind, val, unit = values.get("type"), values.get("val", ""), values.get("unit")
    if kind == "10":
        try:
            float(val)
        except ValueError:
            yield FULL, where, "value should be a number (code:\"val\") for type 10 (hyperlocal)"
        if unit != "km":
            yield FULL, where, 'value should be "km" (code:"unit") for type 10 (hyperlocal)'
    elif kind == "11":
        if any(not part.isdigit() or len(part) != 6 for part in re.split(r"[,-]", val)):
            yield FULL, where, ('value should be a valid range of pincodes (code:"val") for '
                                "type 11 (intercity)")
        if unit != "pincode":
            yield FULL, where, 'value should be "pincode" (code:"unit") for type 11 (intercity)'
    elif kind == "12":
        if val != "IND":
            yield FULL, where, 'value should be "IND" (code:"val") for type 12 (PAN India)'
        if unit != "country":
            yield FULL, where, 'value should be "country" (code:"unit") for type 12 (PAN India)'
    else:
        yield FULL, where, f'should be defined as per the API contract (invalid type "{kind}")'


@rule("on_search.item_terms", SRC)
def item_terms(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Items: ``replacement_terms`` (new in 1.2.5), when sent, a non-empty list of terms each
    with an ISO 8601 ``replace_within.duration``; RET10's prepackaged-food block, when sent,
    has all five licence and info fields; RET18's has ``ingredients_info``."""
    food = ("nutritional_info", "additives_info", "brand_owner_FSSAI_license_no",
            "other_FSSAI_license_no", "importer_FSSAI_license_no")
    for p, provider in _full(bundle):
        for i, item in enumerate(provider.get("items") or []):
            where = f"bpp/providers[{p}].items[{i}]"
            if "replacement_terms" in item:
                terms = item["replacement_terms"]
                if not isinstance(terms, list) or not terms:
                    yield FULL, where + ".replacement_terms", (
                        "replacement_terms must be a non-empty array if present for item ID "
                        f"'{item.get('id')}'")
                else:
                    for term in terms:
                        duration = ((term or {}).get("replace_within") or {}).get("duration")
                        if not isinstance(duration, str) or not ISO_DURATION.match(duration):
                            yield FULL, where + ".replacement_terms", (
                                "Invalid or missing ISO 8601 duration in replacement_terms for "
                                f"item ID '{item.get('id')}'. Found: '{duration}'")
            block = item.get("@ondc/org/statutory_reqs_prepackaged_food")
            if bundle.domain == "ONDC:RET10" and isinstance(block, dict) and any(
                    not block.get(f) for f in food):
                yield FULL, where + ".@ondc/org/statutory_reqs_prepackaged_food", (
                    "In ONDC:RET10 @ondc/org/statutory_reqs_prepackaged_food following fields "
                    "are valid and required 'nutritional_info', 'additives_info',"
                    "'other_FSSAI_license_no', 'brand_owner_FSSAI_license_no',"
                    "'importer_FSSAI_license_no'")
            if bundle.domain == "ONDC:RET18" and not (block or {}).get("ingredients_info"):
                yield FULL, where + ".@ondc/org/statutory_reqs_prepackaged_food", (
                    "In ONDC:RET18 for @ondc/org/statutory_reqs_prepackaged_food  "
                    "ingredients_info is a valid field ")


@rule("on_search.flows", SRC)
def flow_rules(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """What single flows ask of the catalogue: 004 every fulfillment ``Buyer-Delivery``; 001
    (inverted upstream) no item ``timing`` tag; 017 ``creds`` on every provider (and in any
    flow, an empty ``creds`` list); 016 a ``custom_group`` category with ``config`` input
    ``text``; the transaction and message ids of the search."""
    payload = bundle.get(FULL)
    if not payload:
        return
    providers = list(_full(bundle))
    for p, provider in providers:
        fulfillments = [f for f in provider.get("fulfillments") or [] if isinstance(f, dict)]
        if bundle.flow == "004" and any(f.get("type") != "Buyer-Delivery" for f in fulfillments):
            yield FULL, f"bpp/providers[{p}].fulfillments", (
                'Fulfillment Type should be "Buyer-Delivery" for flow004 ')
        if bundle.flow == "001" and any(tag_list(i.get("tags"), "timing") is not None
                                        for i in provider.get("items") or []):
            yield FULL, f"bpp/providers[{p}].items", (
                "Item availability timings should be present in items tags with code as "
                "'timing' /on_search")
        creds = provider.get("creds")
        if (bundle.flow == "017" and creds is None) or creds == []:
            yield FULL, f"bpp/providers[{p}].creds", "creds must be present in order in /on_search"
    if bundle.flow == "016" and not any(
        (tag_list(c.get("tags"), "type") or {}).get("type") == "custom_group"
        and (tag_list(c.get("tags"), "config") or {}).get("input") == "text"
        for _, provider in providers for c in provider.get("categories") or []
        if isinstance(c, dict)
    ):
        yield FULL, "bpp/providers", (
            "No custom_group category with input type 'text' found in /on_search for flow 016")
    ctx = payload.get("context") or {}
    asked = (bundle.get("search_full_catalog_refresh") or {}).get("context") or {}
    if ctx.get("transaction_id") == ctx.get("message_id"):
        yield FULL, "context", (
            f"Context transaction_id ({ctx.get('transaction_id')}) and message_id "
            f"({ctx.get('message_id')}) can't be the same.")
    for name in ("transaction_id", "message_id") if asked else ():
        if asked.get(name) != ctx.get(name):
            yield FULL, f"context.{name}", (
                f"{name.replace('_', ' ').title()} for /search and /on_search "
                "api should be same")


@rule("on_search_inc.shape", SRC_INC)
def incremental_shape(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An incremental on_search carries no ``bpp/descriptor``; video ``media`` of providers and
    items (new in 1.2.5) have a video mimetype and an http(s) url."""
    payload = bundle.get(INC)
    if not payload:
        return
    catalog = (payload.get("message") or {}).get("catalog") or {}
    if catalog.get("bpp/descriptor"):
        yield INC, "bpp/descriptor", (
            "bpp/descriptor sent in payload shoulnd't be part of /on_search_inc_refresh api")
    for p, provider in enumerate(catalog.get("bpp/providers") or []):
        owners = [(f"bpp/providers[{p}]", provider)] + [
            (f"bpp/providers[{p}].items[{i}]", item)
            for i, item in enumerate(provider.get("items") or []) if isinstance(item, dict)]
        for where, owner in owners:
            media = (owner.get("descriptor") or {}).get("media")
            for m, entry in enumerate(media if isinstance(media, list) else []):
                here = f"{where}.descriptor.media[{m}]"
                if (entry or {}).get("mimetype") not in MEDIA_TYPES:
                    yield INC, here + ".mimetype", (
                        f"mimetype must be one of {', '.join(MEDIA_TYPES)}")
                if not re.match(r"^https?://.+", str((entry or {}).get("url", ""))):
                    yield INC, here + ".url", f"url must be a valid http(s) URL in media[{m}]"


def _without_timestamps(value: Any) -> Any:
    # JSON.stringify with a replacer dropping every "timestamp" key, at any depth
    if isinstance(value, dict):
        return {k: _without_timestamps(v) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, list):
        return [_without_timestamps(v) for v in value]
    return value


@rule("on_search_inc.items", SRC_INC)
def incremental_items(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An item of an incremental on_search that the full catalogue listed keeps its
    ``fulfillment_id`` and ``location_id``, and must differ from it in more than timestamps
    (``Similar Item as in /on_search``)."""
    full, inc = bundle.get(FULL), bundle.get(INC)
    if not full or not inc:
        return
    before = {str(i.get("id")): i for _, p in _full(bundle) for i in p.get("items") or []
              if isinstance(i, dict)}
    catalog = (inc.get("message") or {}).get("catalog") or {}
    for p, provider in enumerate(catalog.get("bpp/providers") or []):
        for i, item in enumerate((provider or {}).get("items") or []):
            old = before.get(str((item or {}).get("id")))
            if old is None:
                continue
            where = f"bpp/providers[{p}].items[{i}]"
            for name in ("fulfillment_id", "location_id"):
                if item.get(name) != old.get(name):
                    yield INC, f"{where}.{name}", (
                        f"{name} in /bpp/providers[{p}]/items[{i}] should be same as {name} "
                        "sent in /search api call")
            if _without_timestamps(item) == _without_timestamps(old):
                yield INC, where, (
                    f"Similar Item as in /on_search api call, item id- {item.get('id')}")


@rule("search.request", SRC_SEARCH + "; utils/index.ts (checkTagConditions)")
def search_request(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The buyer's full search: a finder fee in ``payment``; ``fulfillment.end`` with gps of 4
    decimals; not both ``item`` and ``category``; when it has tags, ``bap_terms`` as
    ``validateTermsList`` wants it, flow 025's ``bnp_demand_signal``, flow 022's
    ``bap_promos``, and ``catalog_inc``'s mode and times (``checkTagConditions``)."""
    key = "search_full_catalog_refresh"
    payload = bundle.get(key)
    if not payload:
        return
    intent = (payload.get("message") or {}).get("intent") or {}
    try:
        float(str((intent.get("payment") or {}).get("@ondc/org/buyer_app_finder_fee_amount")))
    except ValueError:
        yield key, "message.intent.payment", (
            "payment should have a key @ondc/org/buyer_app_finder_fee_amount")
    end = (intent.get("fulfillment") or {}).get("end")
    if end:
        gps = (end.get("location") or {}).get("gps")
        if not gps:
            yield key, "message.intent.fulfillment.end.location", (
                "fulfillment/end/location should have a required property gps")
        elif any(len(part.strip().partition(".")[2]) < 4 for part in str(gps).split(",")[:2]):
            yield key, "message.intent.fulfillment.end.location.gps", (
                "fulfillment/end/location/gps coordinates must be specified with at least 4 "
                "decimal places of precision.")
    if "item" in intent and "category" in intent:
        yield key, "message.intent", "/message/intent cannot have both properties item and category"
    tags = intent.get("tags")
    if not tags:
        return
    # schema/Retail_1.2.5/RET/search.ts: the tag groups 1.2.5 knows (1.2.0's bap_features is
    # not one of them)
    for n, tag in enumerate(tags):
        if isinstance(tag, dict) and tag.get("code") not in SEARCH_TAG_CODES_125:
            yield key, f"message.intent.tags[{n}].code", (
                f"/message/intent/tags/{n}/code must be equal to one of the allowed values "
                f"({','.join(SEARCH_TAG_CODES_125)})")
    for problem in terms_problems(tags_of(tags, "bap_terms")):
        yield key, "message.intent.tags", problem
    if bundle.flow == "025" and "search_term" not in tags_of(tags, "bnp_demand_signal"):
        yield key, "message.intent.tags", (
            "Missing tag with code 'bnp_demand_signal' in /search for flow025")
    if bundle.flow == "022":
        promos = tags_of(tags, "bap_promos")
        if "category" not in promos or "from" not in promos or "to" not in promos:
            yield key, "message.intent.tags", (
                "Missing tag with code 'bap_promos' in /search for flow022")
        elif (when(promos["from"]) or datetime.max.replace(tzinfo=UTC)) > (
                when(promos["to"]) or datetime.min.replace(tzinfo=UTC)):
            yield key, "message.intent.tags", "'from' date cannot be later than 'to' date."
    inc = tag_list(tags, "catalog_inc") or {}
    if inc.get("mode") not in (None, "start", "stop"):
        yield key, "message.intent.tags", (
            "/message/intent/tags/list/value should be one of start or stop")
    stamp = when((payload.get("context") or {}).get("timestamp"))
    start, stop = when(inc.get("start_time")), when(inc.get("end_time"))
    if stamp and start and stop:
        if start >= stamp:
            yield key, "message.intent.tags", (
                "/message/intent/tags/list/start_time/value cannot be greater than or equal to "
                "/context/timestamp")
        if stop > stamp:
            yield key, "message.intent.tags", (
                "/message/intent/tags/list/end_time/value cannot be greater than "
                "/context/timestamp")
        if stop <= start:
            yield key, "message.intent.tags", (
                "/message/intent/tags/list/end_time/value cannot be less or equal to than "
                "/message/intent/tags/list/start_time/value")


def tags_of(tags: Any, code: str) -> dict[str, str]:
    return tag_list(tags, code) or {}


def terms_problems(terms: dict[str, str], now: datetime | None = None) -> list[str]:
    """``validateTermsList`` as ``sandbox/builders_125.py`` records it (the body was not read):
    two different http(s) URLs, ``static_terms`` and ``static_terms_new``, and an
    ``effective_date`` after the moment the validator runs."""
    problems = []
    urls = [terms.get("static_terms", ""), terms.get("static_terms_new", "")]
    if not all(re.match(r"^https?://", u) for u in urls):
        problems.append("static_terms and static_terms_new must be http(s) URLs")
    elif urls[0] == urls[1]:
        problems.append("static_terms_new must differ from static_terms")
    effective = when(terms.get("effective_date"))
    if effective is None or effective <= (now or datetime.now(UTC)):
        problems.append("effective_date must be a date-time in the future")
    return problems


CATALOGUE_RULES_125: tuple[Rule, ...] = (
    # 1.2.0 rules 1.2.5 keeps as they are
    v120.quantities, v120.unique_ids, v120.fulfillment_types, v120.item_rules,
    v120.location_rules, v120.area_codes, v120.statutory, v120.incremental,
    v120.incremental_providers, v120.provider_categories, v120.item_codes, v120.item_attributes,
    # new or changed in 1.2.5
    bpp_terms, offers, self_pickup, provider_timing, serviceability, item_terms, flow_rules,
    incremental_shape, incremental_items, search_request,
)
