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


def timing_tags(loc: Location) -> list[dict[str, Any]]:
    days = sorted(int(d) for d in loc.days.split(","))
    return [
        _tag(
            "timing",
            [("type", kind), ("location", loc.id), ("day_from", str(days[0])),
             ("day_to", str(days[-1])), ("time_from", loc.open_time),
             ("time_to", loc.close_time)],
        )
        for kind in ("Order", "Delivery")
    ]


@dataclass
class ProviderHeader:
    """Everything about a provider except its items, built once per provider."""

    provider: Provider
    locations: list[Location]
    groups: dict[str, VariantGroup]
    json: dict[str, Any] = field(default_factory=dict)
    size: int = 0

    def build(self, ts: Timestamps, today: str, categories: set[str]) -> dict[str, Any]:
        p = self.provider
        live = p.enabled and p.deleted_at is None
        contact = {"phone": p.phone, "email": p.email}
        tags: list[dict[str, Any]] = []
        for loc in self.locations:
            if loc.deleted_at is not None:
                continue
            tags += [serviceability_tag(loc, c) for c in sorted(categories)]
            tags += timing_tags(loc)
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
        out: dict[str, Any] = {
            "id": p.id,
            "time": {"label": "enable" if live else "disable", "timestamp": ts(p.updated_at)},
            "fulfillments": [
                {"id": f["id"], "type": f["type"], "contact": contact} for f in p.fulfillments
            ],
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
