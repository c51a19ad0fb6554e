"""A provider's ``bpp/providers[]`` header in ``on_search``: everything about it but its items.

Its stores (``locations``), the serviceability tag of each store for each category it sells,
its timing tags, the order_value and ``odop_seller`` tags, and its variant groups (written into
``categories`` as the items that use them are added). Built once per provider and search;
``on_search_reads.provider_headers`` reads them.

ODOP facts are carried in their own tag group, never inside ``attribute``: provider tag
``odop_seller`` (``kind``: artisan, shg, cooperative, emporium...; and the inclusion facts
``women_led``, ``shg``, ``tribal``, ``khadi``, ``artisan``, ``gi_authorised_user`` "yes"/"no").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ondc_adapter.catalogue.json_text import Timestamps, yn
from ondc_adapter.catalogue.tables import Location, Provider, VariantGroup
from ondc_adapter.protocol.versions import RetailVersion

# 1.2.0 answers carry these timing types for every store, whatever it offers (their bytes stay)
TIMING_TYPES_120 = ("Order", "Delivery")
# fulfillment types that mean the store delivers / lets the buyer collect
DELIVERS = frozenset({"Delivery", "Delivery and Self-Pickup"})
COLLECTS = frozenset({"Self-Pickup", "Delivery and Self-Pickup"})


def location_json(loc: Location, ts: Timestamps, today: str) -> dict[str, Any]:
    label = "disable" if loc.deleted_at is not None else loc.status
    out: dict[str, Any] = {
        "id": loc.id,
        "gps": f"{loc.lat:.6f},{loc.lng:.6f}",
        "address": {
            "street": loc.street,
            "locality": loc.locality,
            "city": loc.city,
            "state": loc.state,
            "area_code": loc.area_code,
        },
        "time": {
            "label": label,
            "timestamp": ts(loc.updated_at),
            "days": loc.days,
            "schedule": {"holidays": sorted(h for h in loc.holidays if h >= today)},
            "range": {"start": loc.open_time, "end": loc.close_time},
        },
    }
    if loc.serviceability == "10" and loc.radius_km is not None:
        out["circle"] = {
            "gps": out["gps"],
            "radius": {"unit": "km", "value": f"{loc.radius_km.normalize():f}"},
        }
    return out


def _tag(code: str, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {"code": code, "list": [{"code": k, "value": v} for k, v in pairs]}


def serviceability_tag(loc: Location, category: str) -> dict[str, Any]:
    if loc.serviceability == "10":
        val, unit = f"{(loc.radius_km or 0).normalize():f}", "km"
    elif loc.serviceability == "11":
        val, unit = ",".join(loc.pincodes), "pincode"
    else:
        val, unit = "IND", "country"
    return _tag(
        "serviceability",
        [("location", loc.id), ("category", category), ("type", loc.serviceability),
         ("val", val), ("unit", unit)],
    )


def timing_kinds(fulfillments: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The timing types of a 1.2.5 header: ``Order``, then each way the store serves the
    buyer. ONDC's 1.2.5 checker wants a timing for every fulfillment type in the catalogue and
    refuses one naming a type no fulfillment has, so a store that does not deliver says no
    delivery hours (1.2.0 keeps ``TIMING_TYPES_120``)."""
    types = {str(f.get("type")) for f in fulfillments}
    kinds = ["Order"]
    if types & DELIVERS:
        kinds.append("Delivery")
    if types & COLLECTS:
        kinds.append("Self-Pickup")
    return tuple(kinds)


def timing_tags(
    loc: Location, kinds: Iterable[str] = TIMING_TYPES_120
) -> list[dict[str, Any]]:
    days = sorted(int(d) for d in loc.days.split(","))
    return [
        _tag(
            "timing",
            [("type", kind), ("location", loc.id), ("day_from", str(days[0])),
             ("day_to", str(days[-1])), ("time_from", loc.open_time),
             ("time_to", loc.close_time)],
        )
        for kind in kinds
    ]


@dataclass
class ProviderHeader:
    """Everything about a provider except its items, built once per provider."""

    provider: Provider
    locations: list[Location]
    groups: dict[str, VariantGroup]
    json: dict[str, Any] = field(default_factory=dict)
    size: int = 0

    def build(
        self, ts: Timestamps, today: str, categories: set[str],
        version: RetailVersion = RetailVersion.V1_2_0,
    ) -> dict[str, Any]:
        """The header's JSON in ``version``'s shape: 1.2.5 differs in its timing tags
        (``timing_kinds``) and its fulfillments' Self-Pickup timings
        (``self_pickup_tags``); offers are added by the caller (``on_search_offers``)."""
        p = self.provider
        live = p.enabled and p.deleted_at is None
        contact = {"phone": p.phone, "email": p.email}
        v125 = version is RetailVersion.V1_2_5
        kinds = timing_kinds(p.fulfillments) if v125 else TIMING_TYPES_120
        tags: list[dict[str, Any]] = []
        for loc in self.locations:
            if loc.deleted_at is not None:
                continue
            tags += [serviceability_tag(loc, c) for c in sorted(categories)]
            tags += timing_tags(loc, kinds)
        if p.min_order_value is not None:
            tags.append(_tag("order_value", [("min_value", f"{p.min_order_value:.2f}")]))
        tags.append(
            _tag(
                "odop_seller",
                [("kind", p.kind), ("women_led", yn(p.women_led)), ("shg", yn(p.shg)),
                 ("tribal", yn(p.tribal)), ("khadi", yn(p.khadi)),
                 ("artisan", yn(p.artisan)),
                 ("gi_authorised_user", yn(p.gi_authorised_user))],
            )
        )
        fulfillments = [
            {"id": f["id"], "type": f["type"], "contact": contact} for f in p.fulfillments
        ]
        pickup = self.self_pickup_tags() if v125 else []
        if pickup:
            for fulfillment in fulfillments:
                fulfillment["tags"] = pickup
        out: dict[str, Any] = {
            "id": p.id,
            "time": {"label": "enable" if live else "disable", "timestamp": ts(p.updated_at)},
            "fulfillments": fulfillments,
            "descriptor": {
                "name": p.name,
                "symbol": p.symbol or (p.images[0] if p.images else ""),
                "short_desc": p.short_desc or p.name,
                "long_desc": p.long_desc or p.short_desc or p.name,
                "images": list(p.images or ()),
            },
            "ttl": p.ttl,
            "locations": [
                location_json(loc, ts, today) for loc in self.locations if loc.deleted_at is None
            ],
            "tags": tags,
        }
        if p.fssai_license_no:
            out["@ondc/org/fssai_license_no"] = p.fssai_license_no
        return out

    def self_pickup_tags(self) -> list[dict[str, Any]]:
        """1.2.5: the hours a buyer can collect at each live store, for a provider that offers
        Self-Pickup; none otherwise.

        Why on every fulfillment: ONDC's 1.2.5 checker (Search/on_search.ts, outside flow 002)
        wants each fulfillment of each provider to carry a ``timing`` tag of type
        ``Self-Pickup`` naming a store. For a store that lets buyers collect, its pickup hours
        are a true statement wherever they are written; for one that only delivers they would
        be false, so it gets none and the checker's finding stands (docs/retail-1.2.5)."""
        if not {str(f.get("type")) for f in self.provider.fulfillments} & COLLECTS:
            return []
        return [
            tag
            for loc in self.locations
            if loc.deleted_at is None
            for tag in timing_tags(loc, ("Self-Pickup",))
        ]


def variant_group_json(group: VariantGroup) -> dict[str, Any]:
    attr_tags = [
        _tag("attr", [("name", f"item.tags.attribute.{code}"), ("seq", str(n))])
        for n, code in enumerate(group.attributes, start=1)
    ]
    return {
        "id": group.id,
        "descriptor": {"name": group.name},
        "tags": [_tag("type", [("type", "variant_group")]), *attr_tags],
    }
