"""The ``on_search`` catalogue builder (protocol.md 4.2, 4.3).

Output shape (``message``)::

    {"catalog": {"bpp/descriptor": {..., "tags": [{"code": "bpp_terms",
                                                   "list": [{"code": "np_type", "value": "MSN"}]}]},
                 "bpp/fulfillments": [{"id": "F1", "type": "Delivery"}, ...],
                 "bpp/providers": [{id, time, fulfillments (with contact), descriptor, ttl,
                                    locations, categories (variant groups), items, tags
                                    (serviceability per location x category, timing,
                                    order_value, odop_seller)}]}}

ODOP facts are carried in their own tag groups, never inside ``attribute``:

* item tag ``odop``: ``lgd_code``, ``district``, ``state``, ``product``, ``sector``,
  ``gi`` ("yes"/"no");
* provider tag ``odop_seller``: ``kind`` (artisan, shg, cooperative, emporium...) and the
  inclusion facts ``women_led``, ``shg``, ``tribal``, ``khadi``, ``artisan``,
  ``gi_authorised_user`` ("yes"/"no").

Speed and size: rows are streamed from the database with Core selects on the session's
connection (no ORM objects, no ORM loading), in the order of an index (provider, domain, id);
each item's text is its live members (time, quantity, price: written per row) spliced with the
cached text of everything else (``Item.static_json``, written with the item; rebuilt from the
columns when NULL), so a full catalogue is mostly string concatenation. No Pydantic on this
path (tests validate the output against the models in ``protocol.catalog``). Pages are cut so
that no serialised callback exceeds ``max_bytes``: an item's size is measured once when it is
added to a page. A page never mixes domains; a provider spread over several pages repeats its
header on each.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    DateTime,
    Select,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.models import COMMODITY_KEYS, FOOD_KEYS
from ondc_adapter.catalogue.on_search_cache import Key, OnSearchCache
from ondc_adapter.catalogue.tables import (
    STATIC_JSON_COLUMNS,
    Item,
    Location,
    Provider,
    VariantGroup,
)
from ondc_adapter.protocol.durations import format_timestamp

ENVELOPE_RESERVE = 4096
MAX_SQL_IDS = 5000  # context + error + JSON punctuation around the message
FULFILLMENT_IDS = {"Delivery": "1", "Self-Pickup": "2", "Delivery and Self-Pickup": "3"}
# bpp/fulfillments lists only the types of ONDC's enumeration (Delivery, Self-Pickup,
# Buyer-Delivery); "Delivery and Self-Pickup" stays a provider-level choice.
CATALOGUE_FULFILLMENTS = [
    {"id": FULFILLMENT_IDS[kind], "type": kind} for kind in ("Delivery", "Self-Pickup")
]


@dataclass(frozen=True, slots=True)
class BppProfile:
    """How this seller node presents itself in ``bpp/descriptor``."""

    name: str = "ODOP Seller Node"
    symbol: str = "https://odop.example.in/logo.png"
    short_desc: str = "One District One Product sellers on ONDC"
    long_desc: str = (
        "Handloom, handicraft and food products of India's districts, sold by artisans, "
        "self-help groups, cooperatives and emporia."
    )
    images: tuple[str, ...] = ("https://odop.example.in/logo.png",)
    np_type: str = "MSN"  # marketplace seller node: many providers behind one bpp_id

    def descriptor(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "symbol": self.symbol,
            "short_desc": self.short_desc,
            "long_desc": self.long_desc,
            "images": list(self.images),
            "tags": [{"code": "bpp_terms", "list": [{"code": "np_type", "value": self.np_type}]}],
        }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


class _Timestamps:
    """``format_timestamp`` cached: imports give thousands of rows the same ``updated_at``.
    Naive values are UTC (SQLite drops the zone when the UTC type decorator is bypassed)."""

    def __init__(self) -> None:
        self.cache: dict[datetime, str] = {}

    def __call__(self, dt: datetime) -> str:
        value = self.cache.get(dt)
        if value is None:
            if len(self.cache) > 10000:
                self.cache.clear()
            aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
            value = self.cache[dt] = format_timestamp(aware)
        return value


# An item row for on_search, read positionally (``item_text``; attribute access on SQLAlchemy
# rows costs more than the rest of the work):
# 1. what stock, price and availability changes touch, built per row (cheap fields);
LIVE_COLUMNS = (
    Item.id, Item.provider_id, Item.domain, Item.parent_item_id, Item.unit, Item.unit_value,
    Item.stock, Item.max_per_order, Item.price, Item.mrp,
    and_(Item.enabled, Item.deleted_at.is_(None)).label("live"),
    # the raw type: the UTC decorator's per-row call is measurable here; _Timestamps copes
    type_coerce(Item.updated_at, DateTime(timezone=True)).label("updated_at"),
)
# 2. the cached text of everything else (tables.Item.static_json);
# 3. only when that is NULL, the columns to build it from (NULLs otherwise: nothing to decode),
#    JSON ones as text for orjson (the driver's json.loads is several times slower).
STATIC_COLUMNS = tuple(getattr(Item, name) for name in STATIC_JSON_COLUMNS)
_JSON_KEYS = frozenset(c.key for c in STATIC_COLUMNS if isinstance(c.type, JSON))


def _uncached(column: Any) -> Any:
    value = cast(column, Text) if column.key in _JSON_KEYS else column
    return case((Item.static_json.is_(None), value)).label(column.key)


ITEM_COLUMNS = (*LIVE_COLUMNS, Item.static_json, *map(_uncached, STATIC_COLUMNS))
_STATIC_AT = len(LIVE_COLUMNS)
_STOCK, _LIVE, _UPDATED_AT = 6, 10, 11
# What a search reads of an item whose text it holds (on_search_cache.OnSearchCache): the first four
# as in ITEM_COLUMNS, then the text's key (updated_at, stock, live).
KEY_COLUMNS = (*LIVE_COLUMNS[:4], LIVE_COLUMNS[_UPDATED_AT], Item.stock, LIVE_COLUMNS[_LIVE])
_JSON_AT = frozenset(n for n, c in enumerate(STATIC_COLUMNS) if c.key in _JSON_KEYS)


def _static_from_row(values: Sequence[Any]) -> str:
    """``static_text`` of the uncached columns of an ``ITEM_COLUMNS`` row."""
    return static_text(*(
        orjson.loads(v) if n in _JSON_AT and v is not None else v for n, v in enumerate(values)
    ))


def statutory_blocks(statutory: dict[str, str]) -> dict[str, dict[str, str]]:
    """The statutory blocks an item carries, each only when it has something: packaged
    commodities and, for prepackaged food, its own block (sorted keys: the text must not
    depend on how the database orders a JSON object)."""
    out: dict[str, dict[str, str]] = {}
    commodities = {k: v for k, v in sorted(statutory.items()) if k in COMMODITY_KEYS}
    food = {k: v for k, v in sorted(statutory.items()) if k in FOOD_KEYS}
    if commodities:
        out["@ondc/org/statutory_reqs_packaged_commodities"] = commodities
    if food:
        out["@ondc/org/statutory_reqs_prepackaged_food"] = food
    return out


def available_count(stock: int) -> str:
    """What a buyer app is told of the stock: "99" (available) or "0" (not), never the
    number (ONDC retail 1.2.0; its log validator refuses any other value)."""
    return "99" if stock > 0 else "0"


def item_json(item: Any, ts: _Timestamps, *, live: bool = True) -> dict[str, Any]:
    """One ``items[]`` entry from anything with the item columns as attributes (an ``Item``, a
    row of the items table). The readable reference for ``item_text``, which must give exactly
    ``_dumps`` of this (a test holds them together). ``live`` False (or a disabled/deleted
    item) gives ``time.label = "disable"``."""
    enabled = live and item.enabled and item.deleted_at is None
    stock = item.stock if enabled else 0
    attributes = sorted((item.attributes or {}).items())
    statutory = dict(sorted((item.statutory or {}).items()))
    out: dict[str, Any] = {
        "id": item.id,
        "time": {"label": "enable" if enabled else "disable", "timestamp": ts(item.updated_at)},
        "quantity": {
            "unitized": {"measure": {"unit": item.unit, "value": item.unit_value}},
            # Stock is not disclosed: "99" in stock, "0" not (ONDC retail 1.2.0); the
            # per-order limit goes in maximum.count.
            "available": {"count": available_count(stock)},
            "maximum": {"count": str(item.max_per_order)},
        },
        "price": {
            "currency": "INR",
            "value": f"{item.price:.2f}",
            "maximum_value": f"{item.mrp:.2f}",
        },
        "descriptor": {
            "name": item.name,
            "code": item.code,
            "symbol": item.symbol or (item.images[0] if item.images else ""),
            "short_desc": item.short_desc,
            "long_desc": item.long_desc,
            "images": list(item.images or ()),
        },
        "category_id": item.category_id,
        "fulfillment_id": item.fulfillment_id,
        "location_id": item.location_id,
        "@ondc/org/returnable": item.returnable,
        "@ondc/org/cancellable": item.cancellable,
        "@ondc/org/return_window": item.return_window,
        "@ondc/org/seller_pickup_return": item.seller_pickup_return,
        "@ondc/org/time_to_ship": item.time_to_ship,
        "@ondc/org/available_on_cod": item.cod,
        "@ondc/org/contact_details_consumer_care": item.consumer_care,
        **statutory_blocks(statutory),
        "tags": [
            {"code": "origin", "list": [{"code": "country", "value": item.origin_country}]},
            {
                "code": "attribute",
                "list": [{"code": k, "value": v} for k, v in attributes],
            },
        ],
    }
    if item.odop_lgd_code:
        out["tags"].append(
            {
                "code": "odop",
                "list": [
                    {"code": "lgd_code", "value": item.odop_lgd_code},
                    {"code": "district", "value": item.odop_district or ""},
                    {"code": "state", "value": item.odop_state or ""},
                    {"code": "product", "value": item.odop_product or ""},
                    {"code": "sector", "value": item.odop_sector or ""},
                    {"code": "gi", "value": _yn(item.odop_gi)},
                ],
            }
        )
    if item.parent_item_id:
        out["parent_item_id"] = item.parent_item_id
    return out


_S = encode_basestring  # JSON string literal (C-accelerated), ensure_ascii=False style


def _b(flag: bool) -> str:
    return "true" if flag else "false"


def static_text(
    name: str, code: str, symbol: str | None, images: Sequence[str] | None, short_desc: str,
    long_desc: str, category_id: str, fulfillment_id: str, location_id: str, returnable: bool,
    cancellable: bool, return_window: str, seller_pickup_return: bool, time_to_ship: str,
    cod: bool, consumer_care: str, statutory: dict[str, str] | None, origin_country: str,
    attributes: dict[str, str] | None, odop_lgd_code: str | None, odop_district: str | None,
    odop_state: str | None, odop_product: str | None, odop_sector: str | None, odop_gi: bool,
    parent_item_id: str | None,
) -> str:
    """The JSON members of an item made from ``STATIC_JSON_COLUMNS`` (arguments in that order),
    from ``"descriptor"`` to the end, without braces: what ``Item.static_json`` caches.
    Keys of ``attributes`` and ``statutory`` are sorted so the text does not depend on how the
    database stores a JSON object (JSONB reorders keys)."""
    images = images or ()
    attrs = ",".join(
        '{"code":' + _S(k) + ',"value":' + _S(v) + "}"
        for k, v in sorted((attributes or {}).items())
    )
    blocks = "".join(
        f',"{name}":{{' + ",".join(_S(k) + ":" + _S(v) for k, v in part.items()) + "}"
        for name, part in statutory_blocks(statutory or {}).items()
    )
    parts = [
        '"descriptor":{"name":', _S(name),
        ',"code":', _S(code),
        ',"symbol":', _S(symbol or (images[0] if images else "")),
        ',"short_desc":', _S(short_desc),
        ',"long_desc":', _S(long_desc),
        ',"images":[', ",".join(map(_S, images)),
        ']},"category_id":', _S(category_id),
        ',"fulfillment_id":', _S(fulfillment_id),
        ',"location_id":', _S(location_id),
        ',"@ondc/org/returnable":', _b(returnable),
        ',"@ondc/org/cancellable":', _b(cancellable),
        ',"@ondc/org/return_window":', _S(return_window),
        ',"@ondc/org/seller_pickup_return":', _b(seller_pickup_return),
        ',"@ondc/org/time_to_ship":', _S(time_to_ship),
        ',"@ondc/org/available_on_cod":', _b(cod),
        ',"@ondc/org/contact_details_consumer_care":', _S(consumer_care),
        blocks,
        ',"tags":[{"code":"origin","list":[{"code":"country","value":', _S(origin_country),
        '}]},{"code":"attribute","list":[', attrs, "]}",
    ]
    if odop_lgd_code:
        parts += [
            ',{"code":"odop","list":[{"code":"lgd_code","value":', _S(odop_lgd_code),
            '},{"code":"district","value":', _S(odop_district or ""),
            '},{"code":"state","value":', _S(odop_state or ""),
            '},{"code":"product","value":', _S(odop_product or ""),
            '},{"code":"sector","value":', _S(odop_sector or ""),
            '},{"code":"gi","value":"', "yes" if odop_gi else "no", '"}]}',
        ]
    parts.append("]")
    if parent_item_id:
        parts += [',"parent_item_id":', _S(parent_item_id)]
    return "".join(parts)


def item_text(row: Any, ts: _Timestamps, *, live: bool = True) -> str:
    """``_dumps(item_json(item, ts, live=live))`` for a row of ``ITEM_COLUMNS``: the live
    members are written here, the rest is the cached ``static_json`` (or, when it is NULL,
    ``static_text`` of the columns that came along instead)."""
    (item_id, _provider_id, _domain, _parent, unit, unit_value, stock, max_per_order, price,
     mrp, alive, updated_at, static) = row[:_STATIC_AT + 1]
    if static is None:
        static = _static_from_row(row[_STATIC_AT + 1:])
    if live and alive:
        label = "enable"
    else:
        label, stock = "disable", 0
    return (
        f'{{"id":{_S(item_id)},"time":{{"label":"{label}","timestamp":"{ts(updated_at)}"}},'
        f'"quantity":{{"unitized":{{"measure":{{"unit":{_S(unit)},"value":{_S(unit_value)}}}}},'
        f'"available":{{"count":"{available_count(stock)}"}},'
        f'"maximum":{{"count":"{max_per_order}"}}}},'
        f'"price":{{"currency":"INR","value":"{price:.2f}","maximum_value":"{mrp:.2f}"}},'
        f"{static}}}"
    )


def location_json(loc: Location, ts: _Timestamps, today: str) -> dict[str, Any]:
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

    def build(self, ts: _Timestamps, today: str, categories: set[str]) -> dict[str, Any]:
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
                [("kind", p.kind), ("women_led", _yn(p.women_led)), ("shg", _yn(p.shg)),
                 ("tribal", _yn(p.tribal)), ("khadi", _yn(p.khadi)),
                 ("artisan", _yn(p.artisan)),
                 ("gi_authorised_user", _yn(p.gi_authorised_user))],
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


@dataclass
class Page:
    """One ``on_search`` message, already serialised (compact UTF-8 JSON, as the outbox
    writes it): ``text`` is the JSON of ``message``."""

    domain: str | None
    text: str
    items: int
    providers: int

    def message(self) -> dict[str, Any]:
        return json.loads(self.text)  # type: ignore[no-any-return]

    @property
    def size(self) -> int:
        return _size(self.text)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class PageBuilder:
    """Packs serialised providers and items into ``on_search`` messages of at most
    ``max_bytes`` (each item is serialised exactly once; pages are assembled as text)."""

    def __init__(
        self, profile: BppProfile, max_bytes: int, *, full: bool = True, inline: bool = True
    ) -> None:
        self.max_bytes = max(max_bytes - ENVELOPE_RESERVE, 16_384)
        self.full = full
        self.inline = inline  # False: providers without categories/items (catalog as link)
        prefix = '{"catalog":{'
        if full:
            prefix += '"bpp/descriptor":' + _dumps(profile.descriptor()) + ","
            fulfillments = CATALOGUE_FULFILLMENTS
            prefix += '"bpp/fulfillments":' + _dumps(fulfillments) + ","
        self.prefix = prefix + '"bpp/providers":['
        self.suffix = "]}}"
        self.ready: list[Page] = []
        self.made = 0
        self._providers: list[str] = []  # finished provider texts of the open page
        self._size = _size(self.prefix) + len(self.suffix)
        self._items = 0
        self._domain: str | None = None
        # the provider being filled
        self._head = ""
        self._groups: dict[str, str] = {}
        self._cats: list[str] = []
        self._used: set[str] = set()
        self._item_texts: list[str] = []
        self._open = False

    # the provider text = header without its closing brace + categories + items
    def _provider_text(self) -> str:
        body = self._head[:-1]
        if not self.inline:
            return self._head
        if self.full or self._cats:
            body += ',"categories":[' + ",".join(self._cats) + "]"
        if self._item_texts or self.full:
            body += ',"items":[' + ",".join(self._item_texts) + "]"
        return body + "}"

    def _provider_overhead(self) -> int:
        return _size(self._head) + 32

    def _close_page(self) -> None:
        if self._providers:
            text = self.prefix + ",".join(self._providers) + self.suffix
            self.ready.append(Page(self._domain, text, self._items, len(self._providers)))
            self.made += 1
        self._providers = []
        self._size = _size(self.prefix) + len(self.suffix)
        self._items = 0

    def start_provider(self, domain: str, header: dict[str, Any],
                       groups: dict[str, dict[str, Any]]) -> None:
        if self._domain is not None and domain != self._domain:
            self._close_page()
        self._domain = domain
        self._head = _dumps(header)
        self._groups = {k: _dumps(v) for k, v in groups.items()}
        self._begin_part()

    def _begin_part(self) -> None:
        overhead = self._provider_overhead()
        if self._providers and self._size + overhead > self.max_bytes:
            self._close_page()
        self._cats, self._used, self._item_texts = [], set(), []
        self._size += overhead
        self._open = True

    def _end_part(self) -> None:
        self._providers.append(self._provider_text())
        self._open = False

    def add_item(self, text: str, group: str | None) -> None:
        """Add one serialised item (``item_text``); ``group`` is its ``parent_item_id``."""
        size = _size(text) + 1
        group_text = self._groups.get(group) if group and group not in self._used else None
        extra = _size(group_text) + 1 if group_text else 0
        if self._item_texts and self._size + size + extra > self.max_bytes:
            # split: this provider continues on the next page with its header repeated
            self._end_part()
            self._close_page()
            self._begin_part()
            group_text = self._groups.get(group) if group else None
            extra = _size(group_text) + 1 if group_text else 0
        if group_text:
            self._cats.append(group_text)
            self._used.add(group)  # type: ignore[arg-type]
        self._item_texts.append(text)
        self._size += size + extra
        self._items += 1

    def end_provider(self) -> None:
        if self._open:
            self._end_part()

    def take(self) -> list[Page]:
        pages, self.ready = self.ready, []
        return pages

    def finish(self) -> list[Page]:
        """The remaining pages; one empty catalogue if nothing was ever added."""
        self._close_page()
        pages = self.take()
        if self.made == 0:
            pages.append(Page(None, self.prefix + self.suffix, 0, 0))
        return pages


async def _headers(
    session: AsyncSession, provider_ids: Sequence[str], cache: OnSearchCache | None = None
) -> dict[str, ProviderHeader]:
    """Providers with their locations and variant groups; parts held in ``cache`` under the
    provider's current ``updated_at`` are not read again."""
    out: dict[str, ProviderHeader] = {}
    pg = await is_postgres(session)
    for start in range(0, len(provider_ids), 500):
        chunk = list(provider_ids[start:start + 500])
        providers = (
            await session.scalars(select(Provider).where(among(Provider.id, chunk, pg)))
        ).all()
        unread: list[str] = []
        for p in providers:
            held = cache.parts.get(p.id) if cache is not None else None
            if held is not None and held[0] == p.updated_at:
                out[p.id] = ProviderHeader(p, list(held[1]), dict(held[2]))
            else:
                out[p.id] = ProviderHeader(p, [], {})
                unread.append(p.id)
        if not unread:
            continue
        for loc in (
            await session.scalars(
                select(Location).where(among(Location.provider_id, unread, pg))
                .order_by(Location.id)
            )
        ).all():
            out[loc.provider_id].locations.append(loc)
        for group in (
            await session.scalars(
                select(VariantGroup).where(among(VariantGroup.provider_id, unread, pg))
            )
        ).all():
            out[group.provider_id].groups[group.id] = group
        if cache is not None:
            for pid in unread:
                header = out[pid]
                cache.parts[pid] = (header.provider.updated_at, tuple(header.locations),
                                    dict(header.groups))
    return out


async def stream_batches(
    session: AsyncSession, stmt: Select[Any], batch: int = 2000, *, few: bool = False
) -> AsyncIterator[Sequence[Any]]:
    """Rows of a Core ``stmt``, ``batch`` at a time, through a server-side cursor (``few``:
    a short result, fetched at once; a cursor costs two more round trips). Executed on the
    session's connection (same transaction), not through the ORM: ORM execution of a column
    select still runs its per-row loading machinery (~40% of the read)."""
    connection = await session.connection()
    if few:
        rows = (await connection.execute(stmt)).all()
        for start in range(0, len(rows), batch):
            yield rows[start:start + batch]
        return
    result = await connection.stream(stmt.execution_options(yield_per=batch))
    # one greenlet switch per batch, not per row
    async for partition in result.partitions(batch):
        yield partition


async def stream_items(
    session: AsyncSession, stmt: Select[Any], batch: int = 2000
) -> AsyncIterator[Any]:
    """Rows of a Core ``stmt`` one by one (``stream_batches``)."""
    async for partition in stream_batches(session, stmt, batch):
        for row in partition:
            yield row


def among(column: Any, values: Sequence[str], postgres: bool) -> Any:
    """``column IN values``. On PostgreSQL as ``column = ANY(:values)``, one array parameter:
    SQLAlchemy renders an IN list into one cast bound parameter per value on every execution,
    about 2 ms for the few hundred ids of a name search."""
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


async def is_postgres(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "postgresql"


def _wide_key(row: Any) -> Key:
    return row[_UPDATED_AT], row[_STOCK], row[_LIVE]


async def item_rows(
    session: AsyncSession,
    conditions: Sequence[Any],
    *,
    accept: Callable[[Any], bool],
    ts: _Timestamps | None = None,
    cache: OnSearchCache | None = None,
    domain: str | None = None,
    whole_domain: bool = False,
    ids: Sequence[str] | None = None,
) -> AsyncIterator[list[tuple[Any, str]]]:
    """``(row, item_text)`` of the items matching ``conditions`` in (provider, domain, id)
    order, a batch at a time; ``row[0:4]`` is (id, provider_id, domain, parent_item_id) and
    ``accept(row)`` False skips a row before any text is made.

    With ``cache`` (``on_search_cache.OnSearchCache``) warm for ``domain``, only ``KEY_COLUMNS`` are
    streamed and the whole rows of the items not held are fetched per batch; otherwise whole
    rows are streamed and their texts kept in it. ``whole_domain``: these conditions cover the
    domain's catalogue as a full search reads it (not a handful of ids), so reading them warms
    the domain. ``ids``: the item ids the conditions select, when a short list (a name
    search): the key columns are read first when most of them are held, warm domain or not."""
    ts = ts if ts is not None else _Timestamps()
    order = (Item.provider_id, Item.domain, Item.id)
    pg = await is_postgres(session)
    narrow = cache is not None and (cache.is_warm(domain) or (
        ids is not None and 2 * sum(i in cache.entries for i in ids) >= len(ids)
    ))
    if cache is None or not narrow:
        stmt = select(*ITEM_COLUMNS).where(*conditions).order_by(*order)
        async for batch in stream_batches(session, stmt, few=ids is not None):
            out = [(row, item_text(row, ts)) for row in batch if accept(row)]
            if cache is not None:
                for row, text in out:
                    cache.put(row[0], _wide_key(row), text)
            yield out
        if cache is not None and domain is not None and whole_domain:
            cache.mark_warm(domain)
        return
    connection = await session.connection()
    entries = cache.entries  # read directly: this loop runs once per item of the catalogue
    stmt = select(*KEY_COLUMNS).where(*conditions).order_by(*order)
    async for batch in stream_batches(session, stmt, few=ids is not None):
        found: dict[str, str] = {}
        missing: list[str] = []
        for row in batch:
            if accept(row):
                entry = entries.get(row[0])
                if entry is not None and entry[0] == (row[4], row[5], row[6]):
                    found[row[0]] = entry[1]
                else:
                    missing.append(row[0])
        cache.count(hits=len(found), misses=len(missing))
        if missing:
            # the same conditions: a row changed since the key read is judged as it is now
            fetch = select(*ITEM_COLUMNS).where(among(Item.id, missing, pg), *conditions)
            for row in (await connection.execute(fetch)).all():
                text = found[row[0]] = item_text(row, ts)
                cache.put(row[0], _wide_key(row), text)
        # None: skipped, or gone since the key read
        yield [(row, found[row[0]]) for row in batch if row[0] in found]


async def iter_pages(
    session: AsyncSession,
    *,
    profile: BppProfile,
    max_bytes: int,
    now: datetime,
    domain: str | None = None,
    item_ids: Sequence[str] | None = None,
    provider_ids: Sequence[str] | None = None,
    incremental: bool = False,
    changed_since: datetime | None = None,
    changed_until: datetime | None = None,
    cache: OnSearchCache | None = None,
) -> AsyncIterator[Page]:
    """``on_search`` pages for the selected items, grouped by provider, each at most
    ``max_bytes`` when wrapped in its envelope; yielded as soon as they are full, so memory
    stays at about one page whatever the catalogue size.

    Full catalogue (default): live items of enabled providers, filtered by ``domain`` /
    ``item_ids`` / ``provider_ids``. Incremental: the items (live or not) and providers
    changed in ``[changed_since, changed_until]`` or listed in ``item_ids`` /
    ``provider_ids``; disabled and deleted ones carry ``time.label = "disable"``; a provider
    whose own record did not change is sent as ``{"id", "items"}`` only.

    ``cache``: the process's ``OnSearchCache``, so items unchanged since an earlier search are
    not read from the database again (see ``item_rows``)."""
    ts = _Timestamps()
    today = now.date().isoformat()
    builder = PageBuilder(profile, max_bytes, full=not incremental)
    nothing = (item_ids is not None and not item_ids) or (
        provider_ids is not None and not provider_ids
    )
    if not incremental and nothing:
        # Nothing can match (a search that found nothing, or no store serves the buyer): an
        # empty ``IN ()`` does not stop the database from scanning the domain's items.
        for page in builder.finish():
            yield page
        return
    wanted: set[str] | None = None  # Python-side id filter for very long id lists
    conditions: list[Any] = []
    pg = await is_postgres(session)
    # With a short id list the ids are the selective condition; next to it, a domain condition
    # makes SQLite walk the domain index (every item of the domain). The domain is then
    # checked on the rows instead.
    by_ids = item_ids is not None and 0 < len(item_ids) <= MAX_SQL_IDS
    if domain and not by_ids:
        conditions.append(Item.domain == domain)
    if incremental:
        window: list[Any] = []
        if changed_since is not None:
            window.append(Item.updated_at >= changed_since)
        if changed_until is not None:
            window.append(Item.updated_at <= changed_until)
        picks: list[Any] = []
        if item_ids is not None and len(item_ids) > MAX_SQL_IDS and not window:
            # a big import's changes: too many ids for one IN; filter while streaming
            # (the domain's items are read; serviceability categories cover the domain)
            wanted = set(item_ids)
        elif item_ids is not None:
            picks.append(among(Item.id, item_ids, pg))
        if window:
            picks.append(and_(*window))
        if picks:
            conditions.append(or_(*picks))
        elif wanted is None:
            conditions.append(Item.id.is_(None))  # only provider-level changes
    else:
        conditions += [Item.enabled.is_(True), Item.deleted_at.is_(None)]
        if item_ids is not None and len(item_ids) <= MAX_SQL_IDS:
            conditions.append(among(Item.id, item_ids, pg))
        elif item_ids is not None:
            # too many ids for one IN (drivers cap bind parameters): filter while streaming;
            # the serviceability categories then cover the whole domain of the providers
            wanted = set(item_ids)
        if provider_ids is not None and item_ids is None:
            conditions.append(among(Item.provider_id, provider_ids, pg))
    # With item ids, the stores are filtered here instead: a long provider IN list next to a
    # short id list makes SQLite walk the provider index (every item of every store).
    allowed = (
        set(provider_ids)
        if not incremental and provider_ids is not None and item_ids is not None
        else None
    )

    # (provider, domain) -> categories: needed up front for the serviceability tags
    categories: dict[tuple[str, str], set[str]] = {}
    cat_stmt = select(Item.provider_id, Item.domain, Item.category_id).where(*conditions)
    for pid, dom, cat in (await session.execute(cat_stmt.distinct())).all():
        if (allowed is None or pid in allowed) and (not domain or dom == domain):
            categories.setdefault((pid, dom), set()).add(cat)
    involved = {pid for pid, _ in categories}
    changed_providers: set[str] = set()
    if incremental:
        p_picks: list[Any] = []
        p_window: list[Any] = []
        if changed_since is not None:
            p_window.append(Provider.updated_at >= changed_since)
        if changed_until is not None:
            p_window.append(Provider.updated_at <= changed_until)
        if p_window:
            p_picks.append(and_(*p_window))
        if p_picks:
            changed_providers = set(
                (await session.scalars(select(Provider.id).where(or_(*p_picks)))).all()
            )
        # listed providers need no query (any number of them): unknown ids get no header
        changed_providers |= set(provider_ids or ())
        involved |= changed_providers
    headers = await _headers(session, sorted(involved), cache)
    if not incremental:
        headers = {
            k: h for k, h in headers.items()
            if h.provider.enabled and h.provider.deleted_at is None
        }

    def accept(row: Any) -> bool:
        # positional access (see ITEM_COLUMNS): named access on rows is slow in this loop
        return (wanted is None or row[0] in wanted) and row[1] in headers and (
            not domain or row[2] == domain
        )

    current: tuple[str, str] | None = None
    emitted: set[str] = set()
    async for batch in item_rows(
        session, conditions, ts=ts, accept=accept, cache=cache, domain=domain,
        whole_domain=item_ids is None and not incremental,
        ids=item_ids if item_ids is not None and wanted is None else None,
    ):
        for row, text in batch:
            provider_id, domain_, parent = row[1], row[2], row[3]
            key = (provider_id, domain_)
            if key != current:
                builder.end_provider()
                current = key
                header = headers[provider_id]
                head = header.build(ts, today, categories.get(key, set()))
                if incremental and provider_id not in changed_providers:
                    head = {"id": head["id"]}
                groups = {g.id: variant_group_json(g) for g in header.groups.values()}
                builder.start_provider(domain_, head, groups)
                emitted.add(provider_id)
            builder.add_item(text, parent)
        for page in builder.take():
            yield page
    builder.end_provider()
    for provider_id in sorted(changed_providers - emitted):
        header = headers.get(provider_id)
        if header is not None:  # provider-level change only (enable/disable, details)
            builder.start_provider(domain or "", header.build(ts, today, set()), {})
            builder.end_provider()
    for page in builder.finish():
        yield page


async def build_pages(session: AsyncSession, **kwargs: Any) -> list[Page]:
    """All pages of ``iter_pages`` (fine for small results; stream big ones)."""
    return [page async for page in iter_pages(session, **kwargs)]


# ---------------------------------------------------------------- catalog as link


def _live_conditions(domain: str, provider_ids: Sequence[str] | None) -> list[Any]:
    conditions: list[Any] = [
        Item.domain == domain, Item.enabled.is_(True), Item.deleted_at.is_(None)
    ]
    if provider_ids is not None:
        conditions.append(Item.provider_id.in_(list(provider_ids)))
    return conditions


async def _live_providers(
    session: AsyncSession, conditions: list[Any]
) -> tuple[dict[str, set[str]], dict[str, ProviderHeader]]:
    """The categories of the selected live items per provider, and the headers of those
    providers that are enabled."""
    categories: dict[str, set[str]] = {}
    stmt = select(Item.provider_id, Item.category_id).where(*conditions).distinct()
    for pid, cat in (await session.execute(stmt)).all():
        categories.setdefault(pid, set()).add(cat)
    headers = await _headers(session, sorted(categories))
    live = {
        k: h for k, h in headers.items() if h.provider.enabled and h.provider.deleted_at is None
    }
    return categories, live


async def iter_link_pages(
    session: AsyncSession,
    *,
    profile: BppProfile,
    max_bytes: int,
    now: datetime,
    domain: str,
    provider_ids: Sequence[str] | None,
    extra_tags: Sequence[dict[str, Any]],
) -> AsyncIterator[Page]:
    """Full ``on_search`` pages for the "catalog as link" form (protocol.md 4.1/4.2): every
    enabled provider of ``domain`` with live items (among ``provider_ids``; None = all), with
    its whole header (descriptor, locations, serviceability for the categories it sells,
    timing, order_value, odop_seller) plus ``extra_tags`` (the ``catalog_link`` tag), but no
    ``categories`` or ``items``: those are in the linked file (``stream_catalogue``)."""
    ts = _Timestamps()
    today = now.date().isoformat()
    builder = PageBuilder(profile, max_bytes, inline=False)
    categories, headers = await _live_providers(session, _live_conditions(domain, provider_ids))
    for provider_id in sorted(headers):
        head = headers[provider_id].build(ts, today, categories[provider_id])
        head["tags"] = [*head["tags"], *extra_tags]
        builder.start_provider(domain, head, {})
        builder.end_provider()
        for page in builder.take():
            yield page
    for page in builder.finish():
        yield page


async def stream_catalogue(
    session: AsyncSession,
    *,
    profile: BppProfile,
    now: datetime,
    domain: str,
    chunk_chars: int = 1 << 20,
) -> AsyncIterator[str]:
    """The whole live catalogue of ``domain`` as the text of ONE full ``on_search`` message
    (``{"catalog": {...}}``, no size limit, same objects as the paged replies; in a provider
    ``items`` comes before ``categories``): what the "catalog as link" file holds. Yielded in
    chunks of about ``chunk_chars`` characters, so memory stays at about one chunk plus the
    provider headers whatever the catalogue size."""
    ts = _Timestamps()
    today = now.date().isoformat()
    conditions = _live_conditions(domain, None)
    categories, headers = await _live_providers(session, conditions)
    fulfillments = CATALOGUE_FULFILLMENTS
    parts = [
        '{"catalog":{"bpp/descriptor":', _dumps(profile.descriptor()),
        ',"bpp/fulfillments":', _dumps(fulfillments), ',"bpp/providers":[',
    ]
    size = 0
    current: str | None = None
    first = True
    groups: dict[str, VariantGroup] = {}
    used: dict[str, str] = {}  # variant group id -> its JSON, in order of first use

    def close_provider() -> str:
        return '],"categories":[' + ",".join(used.values()) + "]}"

    stmt = select(*ITEM_COLUMNS).where(*conditions).order_by(Item.provider_id, Item.domain, Item.id)
    async for row in stream_items(session, stmt):
        provider_id, parent = row[1], row[3]
        header = headers.get(provider_id)
        if header is None:
            continue
        if provider_id != current:
            if current is not None:
                parts.append(close_provider() + ",")
            head = header.build(ts, today, categories[provider_id])
            parts.append(_dumps(head)[:-1] + ',"items":[')
            current, first, groups, used = provider_id, True, header.groups, {}
        text = item_text(row, ts)
        parts.append(text if first else "," + text)
        first = False
        if parent and parent not in used and parent in groups:
            used[parent] = _dumps(variant_group_json(groups[parent]))
        size += len(text)
        if size >= chunk_chars:
            yield "".join(parts)
            parts, size = [], 0
    if current is not None:
        parts.append(close_provider())
    parts.append("]}}")
    yield "".join(parts)
