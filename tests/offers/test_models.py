"""An offer as the seller defines it: what each type must carry, errors naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ondc_adapter.offers import OfferInvalid, OfferType, load_offer
from ondc_adapter.offers.paise import percent_text, to_paise, to_rupees
from tests.offers.helpers import END, START, offer

GOOD: dict[str, dict[str, Any]] = {
    "discount": {"benefit": {"percent": "60", "cap_paise": 12000}},
    "slab": {
        "qualifier": {"item_count": 6, "item_count_upper": 9},
        "benefit": {"percent": "10", "cap_paise": 10000},
    },
    "combo": {
        "qualifier": {"item_ids": ("I4", "I5")},
        "benefit": {"percent": "50", "cap_paise": 20000},
    },
    "delivery": {"benefit": {"percent": "100", "cap_paise": 7500}},
    "freebie": {"benefit": {"item_id": "I4", "item_count": 1, "item_value_paise": 20000}},
    "buyXgetY": {
        "qualifier": {"item_count": 2},
        "benefit": {"item_id": "I2", "item_count": 1, "item_value_paise": 0},
    },
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_each_type_loads(kind: str) -> None:
    loaded = offer("o1", kind, **GOOD[kind])
    assert loaded.type is OfferType(kind)


def invalid(kind: str, **changes: Any) -> OfferInvalid:
    fields = {**GOOD[kind], **changes}
    with pytest.raises(OfferInvalid) as caught:
        offer("o1", kind, **fields)
    return caught.value


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("discount", {"benefit": {"cap_paise": 100}}, "benefit.percent"),
        ("discount", {"benefit": {"percent": "10", "amount_paise": 100}}, "benefit.percent"),
        ("discount", {"benefit": {"percent": "10", "item_count": 1}}, "benefit.item_count"),
        ("discount", {"benefit": {"percent": "0"}}, "benefit.percent"),
        ("discount", {"benefit": {"percent": "100.01"}}, "benefit.percent"),
        ("discount", {"benefit": {"percent": "12.345"}}, "benefit.percent"),
        ("discount", {"benefit": {"amount_paise": 0}}, "benefit.amount_paise"),
        ("discount", {"benefit": {"amount_paise": 150.5}}, "benefit.amount_paise"),
        ("discount", {"benefit": {"amount_paise": "15000"}}, "benefit.amount_paise"),
        ("discount", {"qualifier": {"item_count": 2}}, "qualifier.item_count"),
        ("discount", {"qualifier": {"min_value_paise": -1}}, "qualifier.min_value_paise"),
        ("slab", {"benefit": {"percent": "10"}}, "benefit.cap_paise"),
        ("slab", {"qualifier": {"item_count_upper": 9}}, "qualifier.item_count"),
        (
            "slab",
            {"qualifier": {"item_count": 6, "item_count_upper": 5}},
            "qualifier.item_count_upper",
        ),
        ("combo", {"qualifier": {}}, "qualifier.item_ids"),
        ("combo", {"benefit": {"amount_paise": 100}}, "benefit.cap_paise"),
        ("delivery", {"qualifier": {"item_ids": ("I4",)}}, "qualifier.item_ids"),
        ("freebie", {"benefit": {"item_id": "I4", "item_count": 1}}, "benefit.item_value_paise"),
        ("freebie", {"benefit": {"item_count": 1, "item_value_paise": 0}}, "benefit.item_id"),
        ("freebie", {"qualifier": {"item_count": 2}}, "qualifier.item_count"),
        ("buyXgetY", {"qualifier": {}}, "qualifier.item_count"),
        ("buyXgetY", {"qualifier": {"item_count": 0}}, "qualifier.item_count"),
        (
            "buyXgetY",
            {"benefit": {"item_id": "I2", "item_count": 1, "item_value_paise": 0, "percent": "5"}},
            "benefit.percent",
        ),
    ],
)
def test_rules_name_the_bad_field(kind: str, changes: dict[str, Any], field: str) -> None:
    assert invalid(kind, **changes).field == field


def test_validity_needs_aware_times_in_order() -> None:
    assert invalid("discount", valid_to=START).field == "valid_to"
    assert invalid("discount", valid_to=START - timedelta(seconds=1)).field == "valid_to"
    naive = datetime(2025, 1, 1, 16, 0)
    assert invalid("discount", valid_from=naive).field == "valid_from"


def test_unknown_type_and_fields_are_named() -> None:
    with pytest.raises(OfferInvalid) as caught:
        offer("o1", "exchange", **GOOD["discount"])
    assert caught.value.field == "type"
    assert invalid("discount", colour="red").field == "colour"
    assert invalid("discount", id=" padded").field == "id"
    assert invalid("discount", additive=None).field == "additive"
    error = invalid("discount", benefit={"percent": "10", "flavour": "x"})
    assert error.field == "benefit.flavour"
    assert str(error).startswith("benefit.flavour: ")


def test_validity_is_inclusive_at_both_ends() -> None:
    loaded = offer("o1", "discount", **GOOD["discount"])
    assert loaded.is_valid_at(START) and loaded.is_valid_at(END)
    assert not loaded.is_valid_at(END + timedelta(microseconds=1))


def test_percent_in_basis_points() -> None:
    data = {**GOOD["discount"], "benefit": {"percent": Decimal("12.5")}}
    assert offer("o1", "discount", **data).benefit.percent_bp == 1250


def test_load_offer_takes_plain_data() -> None:
    loaded = load_offer(
        {
            "id": "flat150",
            "provider_id": "P1",
            "type": "discount",
            "valid_from": "2025-01-01T16:00:00.000Z",
            "valid_to": "2025-01-01T23:00:00+05:30",
            "benefit": {"amount_paise": 15000},
            "additive": True,
            "auto": True,
        }
    )
    assert loaded.valid_to.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("wire", "paise"),
    [("123.45", 12345), ("-120", -12000), ("0.5", 50), ("600.0", 60000), (7, 700)],
)
def test_paise_from_the_wire(wire: str | int, paise: int) -> None:
    assert to_paise(wire) == paise


@pytest.mark.parametrize("wire", ["1.005", "0.001", "12,50", "abc", "1e3"])
def test_paise_refuses_what_is_not_a_whole_paisa(wire: str) -> None:
    with pytest.raises(ValueError):
        to_paise(wire)


def test_paise_to_the_wire() -> None:
    assert [to_rupees(p) for p in (12345, -12000, 0, 5, -1)] == [
        "123.45",
        "-120.00",
        "0.00",
        "0.05",
        "-0.01",
    ]
    assert percent_text(Decimal("60"), negative=True) == "-60.00"
    assert percent_text(Decimal("12.5")) == "12.50"
