"""1.2.5 wire shapes: on_search offers, quote lines, quote_trail, the buyer's selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ondc_adapter.offers import GiftStock, OfferInvalid, apply_offers, refund
from ondc_adapter.offers.render import (
    catalog_offer,
    parse_catalog_offer,
    quote_trail,
    quote_wire,
    read_selection,
    timestamp,
)
from tests.offers.helpers import AT, cart, offer
from tests.offers.test_examples import (
    BUY2GET3,
    COMBO1,
    DELIVERY1,
    DISCP60,
    FLAT150,
    FREEBIE1,
    SLAB1,
    SLAB2,
)

ALL = [DISCP60, FLAT150, BUY2GET3, FREEBIE1, SLAB1, SLAB2, COMBO1, DELIVERY1]


def test_flat150_as_the_1_2_5_catalog_example() -> None:
    banner = offer(
        "flat150",
        "discount",
        item_ids=("I1",),
        category_ids=("C1", "C2"),
        qualifier={"min_value_paise": 49900},
        benefit={"amount_paise": 15000},
        additive=True,
        auto=True,
        images=("https://snp.com/images/offer2-banner.webp",),
    )
    assert catalog_offer(banner) == {
        "id": "flat150",
        "descriptor": {
            "code": "discount",
            "images": ["https://snp.com/images/offer2-banner.webp"],
        },
        "location_ids": ["L1"],
        "category_ids": ["C1", "C2"],
        "item_ids": ["I1"],
        "time": {
            "label": "valid",
            "range": {"start": "2025-01-01T16:00:00.000Z", "end": "2025-01-01T23:00:00.000Z"},
        },
        "tags": [
            {"code": "qualifier", "list": [{"code": "min_value", "value": "499.00"}]},
            {
                "code": "benefit",
                "list": [
                    {"code": "value_type", "value": "amount"},
                    {"code": "value", "value": "-150.00"},
                ],
            },
            {
                "code": "meta",
                "list": [{"code": "additive", "value": "yes"}, {"code": "auto", "value": "yes"}],
            },
        ],
    }


def tags(entry: dict) -> dict[str, dict[str, str]]:
    return {t["code"]: {i["code"]: i["value"] for i in t["list"]} for t in entry["tags"]}


def test_catalog_tags_of_each_type() -> None:
    got = {o.id: tags(catalog_offer(o)) for o in ALL}
    assert got["discp60"]["benefit"] == {
        "value_type": "percent",
        "value": "-60.00",
        "value_cap": "-120.00",
    }
    assert got["buy2get3"]["qualifier"] == {"min_value": "0.00", "item_count": "2"}
    assert got["buy2get3"]["benefit"] == {"item_count": "1", "item_id": "I2", "item_value": "0.00"}
    assert got["freebie1"]["benefit"] == {
        "item_count": "1",
        "item_id": "I4",
        "item_value": "200.00",
    }
    assert got["slab1"]["qualifier"] == {
        "min_value": "0.00",
        "item_count": "6",
        "item_count_upper": "9",
    }
    assert got["slab2"]["qualifier"]["item_count_upper"] == ""  # open-ended, as 1.2.5's slab2
    assert got["combo1"]["qualifier"] == {"min_value": "0.00", "item_id": "I4,I5"}
    assert got["delivery1"]["benefit"] == {
        "value_type": "percent",
        "value": "-100.00",
        "value_cap": "-75.00",
    }
    assert got["delivery1"]["meta"] == {"additive": "no", "auto": "yes"}


@pytest.mark.parametrize("original", ALL, ids=lambda o: o.id)
def test_catalog_offer_round_trips(original) -> None:
    assert parse_catalog_offer(catalog_offer(original), "P1", original.title) == original


def test_offer_for_everything_lists_the_stores_and_items_given() -> None:
    anything = offer("any", "discount", location_ids=(), benefit={"amount_paise": 100})
    entry = catalog_offer(anything, location_ids=["L1", "L2"], item_ids=["I1", "I2"])
    assert (entry["location_ids"], entry["item_ids"]) == (["L1", "L2"], ["I1", "I2"])
    assert catalog_offer(anything)["item_ids"] == []


def test_parse_names_the_bad_field() -> None:
    entry = catalog_offer(DISCP60)
    entry["tags"][1]["list"][2]["value"] = "-120.005"
    with pytest.raises(OfferInvalid) as caught:
        parse_catalog_offer(entry, "P1")
    assert caught.value.field == "benefit.value_cap"
    entry = catalog_offer(DISCP60)
    entry["time"]["range"]["end"] = "tomorrow"
    with pytest.raises(OfferInvalid) as caught:
        parse_catalog_offer(entry, "P1")
    assert caught.value.field == "time.range.end"


def test_times_are_utc_with_milliseconds() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert timestamp(datetime(2025, 1, 1, 21, 30, 0, 123456, tzinfo=ist)) == (
        "2025-01-01T16:00:00.123Z"
    )


def test_quote_price_is_the_sum_of_its_breakup() -> None:
    quote = apply_offers(
        cart(("I1", 33333, 3, "C1"), ("I2", 12345, 2), delivery=4999),
        ALL,
        at=AT,
        chosen={"discp60"},
        gifts={"I2": GiftStock(12345, 9), "I4": GiftStock(20000, 9)},
    )
    wire = quote_wire(quote, ttl="PT15M")
    values = [Decimal(e["price"]["value"]) for e in wire["breakup"]]
    assert Decimal(wire["price"]["value"]) == sum(values)
    assert int(Decimal(wire["price"]["value"]) * 100) == quote.total
    assert wire["ttl"] == "PT15M"


def test_offer_line_shape_for_units_given() -> None:
    quote = apply_offers(
        cart(("I2", 25000, 4)), [BUY2GET3], at=AT, gifts={"I2": GiftStock(25000, 5)}
    )
    entry = quote_wire(quote, titles={"I2": "Chanderi dupatta"})["breakup"][-1]
    assert entry == {
        "@ondc/org/item_id": "buy2get3",
        "@ondc/org/item_quantity": {"count": 2},
        "title": "Buy 2, get 1 x I2 free",
        "@ondc/org/title_type": "offer",
        "price": {"currency": "INR", "value": "0.00"},
        "item": {
            "tags": [
                {"code": "quote", "list": [{"code": "type", "value": "order"}]},
                {
                    "code": "offer",
                    "list": [
                        {"code": "type", "value": "buyXgetY"},
                        {"code": "auto", "value": "yes"},
                        {"code": "additive", "value": "no"},
                        {"code": "id", "value": "buy2get3"},
                        {"code": "item_id", "value": "I2"},
                        {"code": "item_count", "value": "1"},
                        {"code": "item_value", "value": "0.00"},
                    ],
                },
            ]
        },
    }
    assert quote_wire(quote, titles={"I2": "Chanderi dupatta"})["breakup"][0]["title"] == (
        "Chanderi dupatta"
    )


def test_quote_trail_of_a_part_cancel() -> None:
    order = apply_offers(
        cart(("I1", 10000, 2), ("I3", 10000, 1), delivery=3000),
        [DISCP60],
        at=AT,
        chosen={"discp60"},
    )
    change = refund(order, {"I1": 1})
    assert quote_trail(change) == [
        {
            "code": "quote_trail",
            "list": [
                {"code": "type", "value": "item"},
                {"code": "id", "value": "I1"},
                {"code": "currency", "value": "INR"},
                {"code": "value", "value": "-100.00"},
            ],
        },
        {
            "code": "quote_trail",
            "list": [
                {"code": "type", "value": "offer"},
                {"code": "id", "value": "discp60"},
                {"code": "currency", "value": "INR"},
                {"code": "value", "value": "60.00"},
            ],
        },
    ]
    # the new price plus what the trail took out is the price at confirm
    after = Decimal(quote_wire(change.after)["price"]["value"])
    taken = sum(Decimal(t["list"][3]["value"]) for t in quote_trail(change))
    assert after - taken == Decimal(quote_wire(order)["price"]["value"])


def test_read_selection() -> None:
    chosen, declined = read_selection(
        [
            {"id": "discp60"},
            {
                "id": "x",
                "tags": [{"code": "selection", "list": [{"code": "apply", "value": "yes"}]}],
            },
            {
                "id": "flat150",
                "tags": [{"code": "selection", "list": [{"code": "apply", "value": "no"}]}],
            },
        ]
    )
    assert (chosen, declined) == ({"discp60", "x"}, {"flat150"})


def test_now_is_utc_aware() -> None:
    with pytest.raises(ValueError):
        apply_offers(cart(("I1", 1, 1)), [], at=datetime(2025, 1, 1))
    assert apply_offers(cart(("I1", 1, 1)), [], at=datetime.now(UTC)).total == 1
