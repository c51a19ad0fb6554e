"""An item's ``items[]`` text in ``on_search``, and the database row it is made from.

Speed: each item's text is its live members (time, quantity, price: written per row) spliced
with the cached text of everything else (``Item.static_json``, written with the item by
``write``; rebuilt from the columns when NULL), so a full catalogue is mostly string
concatenation. No Pydantic here: ``item_json`` is the readable reference that ``item_text``
must match byte for byte (a test holds them together).

ODOP facts are carried in their own tag group, never inside ``attribute``: item tag ``odop``
(``lgd_code``, ``district``, ``state``, ``product``, ``sector``, ``gi`` "yes"/"no").
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Text, and_, case, cast, type_coerce

from ondc_adapter.catalogue.json_text import Timestamps, yn
from ondc_adapter.catalogue.models import COMMODITY_KEYS, FOOD_KEYS
from ondc_adapter.catalogue.on_search_cache import Key
from ondc_adapter.catalogue.tables import STATIC_JSON_COLUMNS, Item

# An item row for on_search, read positionally (``item_text``; attribute access on SQLAlchemy
# rows costs more than the rest of the work):
# 1. what stock, price and availability changes touch, built per row (cheap fields);
LIVE_COLUMNS = (
    Item.id, Item.provider_id, Item.domain, Item.parent_item_id, Item.unit, Item.unit_value,
    Item.stock, Item.max_per_order, Item.price, Item.mrp,
    and_(Item.enabled, Item.deleted_at.is_(None)).label("live"),
    # the raw type: the UTC decorator's per-row call is measurable here; Timestamps copes
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


def row_key(row: Any) -> Key:
    """The ``OnSearchCache`` key of an ``ITEM_COLUMNS`` row: (updated_at, stock, live)."""
    return row[_UPDATED_AT], row[_STOCK], row[_LIVE]


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


def item_json(item: Any, ts: Timestamps, *, live: bool = True) -> dict[str, Any]:
    """One ``items[]`` entry from anything with the item columns as attributes (an ``Item``, a
    row of the items table). The readable reference for ``item_text``, which must give exactly
    ``dumps`` of this (a test holds them together). ``live`` False (or a disabled/deleted
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
                    {"code": "gi", "value": yn(item.odop_gi)},
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


def item_text(row: Any, ts: Timestamps, *, live: bool = True) -> str:
    """``dumps(item_json(item, ts, live=live))`` for a row of ``ITEM_COLUMNS``: the live
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
