"""Retail 1.2.5: the checks of ``bpp/providers[].offers[]`` in a full on_search, ported from
``utils/Retail_.1.2.5/Search/on_search.ts`` (stored id 4605188052, "Validating Offers").

Not ported: ``validateMetaTags`` (the ``meta`` tag group, ``metaTagsError<n>``) and
``validateFinanceTags`` (financing offers in flow 0099 or with ``collect_payment`` ``no``):
their bodies are in ``utils/index.ts`` versions the index does not hold. The exchange rule is
ported with its upstream bug: the domain test ``domain !== RET14 || domain !== RET15`` is
always true, so every exchange offer is refused, in RET14 and RET15 too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import Bundle, rule

SRC = "utils/Retail_.1.2.5/Search/on_search.ts"
FULL = "on_search_full_catalog_refresh"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

# descriptor.code -> (codes the qualifier tag must list, codes the benefit tag must list)
NEEDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "buyXgetY": (("min_value", "item_count"), ("item_count",)),
    "freebie": (("min_value",), ("item_count", "item_id", "item_value")),
    "slab": (("min_value",), ("value", "value_type", "value_cap")),
    "combo": (("min_value", "item_id"), ("value", "value_type", "value_cap")),
    "delivery": (("min_value",), ("value", "value_type")),
}


def _codes(tags: list[Any], code: str) -> dict[str, Any] | None:
    for tag in tags:
        if isinstance(tag, dict) and tag.get("code") == code:
            return {str(e.get("code")): e.get("value") for e in tag.get("list") or []
                    if isinstance(e, dict)}
    return None


def _listing(names: tuple[str, ...]) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


@rule("on_search.offers", SRC)
def offers(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Each offer: ``id``, ``descriptor.code``, non-empty ``location_ids`` and ``item_ids``,
    ``time`` with ``label`` and ``range.start``/``end``, a ``tags`` array; then per code the
    qualifier and benefit codes it needs (discount: ``min_value``; ``value_type``, ``value``
    a negative number, ``value_cap`` a number when sent)."""
    payload = bundle.get(FULL)
    if not payload:
        return
    catalog = (payload.get("message") or {}).get("catalog") or {}
    domain = str((payload.get("context") or {}).get("domain", bundle.domain))
    for p, provider in enumerate(catalog.get("bpp/providers") or []):
        listed = (provider or {}).get("offers")
        if listed is None:
            continue  # absent is the empty list
        if not isinstance(listed, list):
            yield FULL, f"bpp/providers[{p}].offers", (
                f"Offers must be an array in bpp/providers[{p}]")
            continue
        for n, offer in enumerate(listed):
            yield from _offer(offer if isinstance(offer, dict) else {}, p, n, domain, bundle.flow)


def _offer(offer: dict[str, Any], p: int, n: int, domain: str, flow: str
           ) -> Iterator[tuple[str, str, str]]:
    where = f"bpp/providers[{p}].offers[{n}]"
    code = (offer.get("descriptor") or {}).get("code")
    if not offer.get("id"):
        yield FULL, where + ".id", f"Offer ID is mandatory for offers[{n}]"
    if not code:
        yield FULL, where + ".descriptor", f"Descriptor with code is mandatory for offers[{n}]"
    for ids in ("location_ids", "item_ids"):
        if not isinstance(offer.get(ids), list) or not offer[ids]:
            name = "Location IDs" if ids == "location_ids" else "Item IDs"
            yield FULL, f"{where}.{ids}", f"{name} array is mandatory for offers[{n}]"
    time = offer.get("time") or {}
    window = time.get("range") or {}
    if not time.get("label") or not window.get("start") or not window.get("end"):
        yield FULL, where + ".time", (
            f"Time object with label and range (start/end) is mandatory for offers[{n}]")
    tags = offer.get("tags")
    if not isinstance(tags, list):
        yield FULL, where + ".tags", (
            f"Tags must be provided for offers[{n}] with descriptor code '{code}'")
        return
    qualifier, benefit = _codes(tags, "qualifier"), _codes(tags, "benefit")
    when_code = f"for offers[{n}] when offer.descriptor.code = {code}"
    if code == "discount":
        if qualifier is None or "min_value" not in qualifier:
            yield FULL, where + ".tags", f"'qualifier' tag must include 'min_value' {when_code}"
        if benefit is None:
            yield FULL, where + ".tags", f"'benefit' tag is required {when_code}"
            return
        if "value_type" not in benefit:
            yield FULL, where + ".tags", f"'value_type' is required in benefit tag for offers[{n}]"
        value = benefit.get("value")
        if "value" not in benefit:
            yield FULL, where + ".tags", f"'value' is required in benefit tag for offers[{n}]"
        elif not NUMBER.match(str(value)):
            yield FULL, where + ".tags", (
                f"'value' in benefit tag must be a valid number for offers[{n}]")
        elif float(str(value)) >= 0:
            yield FULL, where + ".tags", (
                f"'value' in 'benefit' tag must be a negative amount for offers[{n}]")
        if "value_cap" in benefit and not NUMBER.match(str(benefit["value_cap"])):
            yield FULL, where + ".tags", (
                f"'value_cap' in benefit tag must be a valid number for offers[{n}]")
    elif code in NEEDS:
        wants_q, wants_b = NEEDS[str(code)]
        if qualifier is None or any(c not in qualifier for c in wants_q):
            yield FULL, where + ".tags", (
                f"'qualifier' tag must include {_listing(wants_q)} {when_code}")
        if benefit is None or any(c not in benefit for c in wants_b):
            yield FULL, where + ".tags", (
                f"'benefit' tag must include {_listing(wants_b)} {when_code}")
    elif code == "exchange":
        # upstream bug, as written: no domain passes (see the module notes)
        yield FULL, where, (
            f"exchange is not possible for {domain} as supported domains are "
            f"'ONDC:RET14','ONDC:RET15' is required for flow: {flow}")
