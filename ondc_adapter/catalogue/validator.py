"""A domain validator for ``on_search`` payloads, modelled on the checks of ONDC's
log-validation-utility (protocol.md 4.2) with the category rules shipped in ``data/``.

    problems = validate_on_search(payload)   # [] when the catalogue is acceptable

Checks: the category of each item is valid for ``context.domain`` and its ``attribute`` tags
follow the category rules (mandatory codes, allowed values, patterns, no unknown codes);
``descriptor.code`` is ``1:<EAN-8/13>`` (RET10), ``3:<GTIN-8/12/13/14>`` (RET16; check digits
verified) or ``4:<HSN 4/6/8/10>`` (RET12); price > 0 and <= MRP; consumer care is
``name,email,phone``; ``origin`` tag present; descriptions non-empty; provider/location/item/
category ids unique; store, location and item timestamps not after ``context.timestamp``; each
provider has ``serviceability`` and an ``Order``/``All`` ``timing`` tag and, in a full
catalogue, ``categories``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ondc_adapter.catalogue.codes import descriptor_code_problem
from ondc_adapter.catalogue.rules import load_rules
from ondc_adapter.protocol.durations import parse_timestamp

_CONSUMER_CARE = re.compile(r"^[^,]+,[^@\s,]+@[^@\s,]+\.[A-Za-z]{2,},\d{10,11}$")


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _tag_list(tags: Any, code: str) -> list[dict[str, Any]] | None:
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("code") == code:
            return [e for e in tag.get("list") or [] if isinstance(e, dict)]
    return None


def _later_than(stamp: Any, limit: Any) -> bool:
    try:
        return parse_timestamp(str(stamp)) > limit
    except ValueError:
        return True


def validate_on_search(payload: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []

    def add(path: str, message: str) -> None:
        problems.append(Problem(path, message))

    context = payload.get("context") or {}
    domain = context.get("domain", "")
    try:
        sent = parse_timestamp(context.get("timestamp", ""))
    except ValueError:
        add("context.timestamp", "not an RFC 3339 timestamp")
        return problems
    rules = load_rules().get(domain)
    if rules is None:
        add("context.domain", f"no category rules for {domain!r}")
    catalog = (payload.get("message") or {}).get("catalog") or {}
    np_type = _tag_list((catalog.get("bpp/descriptor") or {}).get("tags"), "bpp_terms")
    if catalog.get("bpp/descriptor") is not None and not any(
        e.get("code") == "np_type" for e in np_type or []
    ):
        add("message.catalog.bpp/descriptor.tags", "bpp_terms/np_type missing")
    provider_ids: set[str] = set()
    item_ids: set[str] = set()
    for p_index, provider in enumerate(catalog.get("bpp/providers") or []):
        ppath = f"message.catalog.bpp/providers[{p_index}]"
        pid = provider.get("id")
        if pid in provider_ids:
            add(f"{ppath}.id", f"duplicate provider id {pid!r}")
        provider_ids.add(pid)
        ptime = (provider.get("time") or {}).get("timestamp")
        if ptime is not None and _later_than(ptime, sent):
            add(f"{ppath}.time.timestamp", "after context.timestamp")
        location_ids: set[str] = set()
        for l_index, loc in enumerate(provider.get("locations") or []):
            if loc.get("id") in location_ids:
                add(f"{ppath}.locations[{l_index}].id", f"duplicate location id {loc.get('id')!r}")
            location_ids.add(loc.get("id"))
            ltime = (loc.get("time") or {}).get("timestamp")
            if ltime is not None and _later_than(ltime, sent):
                add(f"{ppath}.locations[{l_index}].time.timestamp", "after context.timestamp")
            for holiday in ((loc.get("time") or {}).get("schedule") or {}).get("holidays") or []:
                if str(holiday) < sent.date().isoformat():
                    add(f"{ppath}.locations[{l_index}].time.schedule.holidays",
                        "holiday in the past")
        if catalog.get("bpp/descriptor") is not None and provider.get("items") and not (
            provider.get("categories")
        ):
            add(f"{ppath}.categories", "missing (the log validator wants them in every provider)")
        category_ids: set[str] = set()
        for c_index, category in enumerate(provider.get("categories") or []):
            if category.get("id") in category_ids:
                add(f"{ppath}.categories[{c_index}].id", "duplicate category id")
            category_ids.add(category.get("id"))
        if "items" in provider and "tags" in provider:
            tags = provider.get("tags") or []
            if not any(t.get("code") == "serviceability" for t in tags):
                add(f"{ppath}.tags", "serviceability tag missing")
            timing_types = {
                e.get("value")
                for t in tags
                if t.get("code") == "timing"
                for e in t.get("list") or []
                if e.get("code") == "type"
            }
            if not timing_types & {"Order", "All"}:
                add(f"{ppath}.tags", "timing tag with type Order or All missing")
        for i_index, item in enumerate(provider.get("items") or []):
            ipath = f"{ppath}.items[{i_index}]"
            iid = item.get("id")
            if iid in item_ids:
                add(f"{ipath}.id", f"duplicate item id {iid!r}")
            item_ids.add(iid)
            itime = (item.get("time") or {}).get("timestamp")
            if itime is None:
                add(f"{ipath}.time", "missing")
            elif _later_than(itime, sent):
                add(f"{ipath}.time.timestamp", "after context.timestamp")
            if (item.get("time") or {}).get("label") == "disable" and "descriptor" not in item:
                continue  # a removal in an incremental push
            descriptor = item.get("descriptor") or {}
            for key in ("short_desc", "long_desc"):
                if not str(descriptor.get(key) or "").strip():
                    add(f"{ipath}.descriptor.{key}", "must not be empty")
            code = descriptor.get("code")
            if not code:
                add(f"{ipath}.descriptor.code", "missing")
            else:
                reason = descriptor_code_problem(domain, str(code))
                if reason:
                    add(f"{ipath}.descriptor.code", reason)
            price = item.get("price") or {}
            try:
                value = Decimal(str(price.get("value")))
                mrp = Decimal(str(price.get("maximum_value")))
                if value <= 0:
                    add(f"{ipath}.price.value", "must be positive")
                if value > mrp:
                    add(f"{ipath}.price.value", f"{value} exceeds maximum_value {mrp}")
            except (InvalidOperation, ValueError):
                add(f"{ipath}.price", "value and maximum_value must be decimal strings")
            care = item.get("@ondc/org/contact_details_consumer_care")
            if not isinstance(care, str) or not _CONSUMER_CARE.match(care):
                add(f"{ipath}.@ondc/org/contact_details_consumer_care", "must be name,email,phone")
            if item.get("location_id") not in location_ids and location_ids:
                add(f"{ipath}.location_id", "not a location of the provider")
            parent = item.get("parent_item_id")
            if parent and parent not in category_ids:
                add(f"{ipath}.parent_item_id", "no such variant group in categories")
            tags = item.get("tags") or []
            origin = _tag_list(tags, "origin")
            if not origin or not any(e.get("code") == "country" for e in origin):
                add(f"{ipath}.tags", "origin tag (country) missing")
            if rules is None:
                continue
            category_id = str(item.get("category_id"))
            if not rules.is_valid_category(category_id):
                add(f"{ipath}.category_id", f"invalidCategoryId {category_id!r} for {domain}")
                continue
            attributes = {
                str(e.get("code")): e.get("value") for e in _tag_list(tags, "attribute") or []
            }
            for code_, reason in rules.attribute_problems(category_id, attributes):
                add(f"{ipath}.tags.attribute.{code_}", reason)
    return problems
