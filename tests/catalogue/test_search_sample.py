"""Name search over a sample catalogue built from the whole ODOP registry (pure index)."""

from __future__ import annotations

import pytest

from ondc_adapter.catalogue.intent import Query, parse_intent
from ondc_adapter.catalogue.odop import find_product
from ondc_adapter.catalogue.sample import _Generator
from ondc_adapter.catalogue.search import SearchIndex


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    gen = _Generator(items=2500, seed=5)
    idx = SearchIndex()
    for p in gen.providers:
        facts = [f for f in ("women_led", "shg", "tribal", "khadi", "artisan") if p[f]]
        idx.set_provider(p["id"], p["name"], facts, True)
    for n in range(gen.items):
        item = gen.item(n)
        odop = find_product(item["odop"]["lgd_code"], item["odop"]["product"])
        assert odop is not None
        idx.upsert({**item, "odop_lgd_code": odop.lgd_code, "odop_district": odop.district,
                    "odop_state": odop.state, "odop_product": odop.product,
                    "odop_sector": odop.sector, "odop_gi": odop.gi})
    return idx


def docs(index: SearchIndex, ids: list[str]) -> list:
    return [index.docs[index.ordinal[i]] for i in ids]


@pytest.mark.parametrize("text", ["Varanasi", "varanasi", "banaras", "Banarasi", "Benares",
                                  "Varanasi silk", "banarasi silk", "varansi"])
def test_varanasi_spellings_find_varanasi_silk(index: SearchIndex, text: str) -> None:
    found = docs(index, index.search(Query(text=text)))
    assert found, text
    assert all(d.district == "varanasi" for d in found)
    if "silk" in text:
        assert all("silk" in d.tokens for d in found)


def test_channapatna_toys(index: SearchIndex) -> None:
    for text in ("Channapatna", "chanapatna toys", "CHANNAPATNA"):
        found = docs(index, index.search(Query(text=text)))
        assert found and all(d.district == "ramanagara" for d in found)
        assert all(d.category_id == "Toys and Games" for d in found)


def test_blue_pottery_finds_pottery(index: SearchIndex) -> None:
    # Blue pottery is not an ODOP V31 product: the best answer is the pottery that is
    found = docs(index, index.search(Query(text="blue pottery")))
    assert found and all("pottery" in d.tokens for d in found)
    assert {d.district for d in found} >= {"morbi", "azamgarh"}


def test_state_name(index: SearchIndex) -> None:
    for text in ("Odisha", "orissa"):
        found = docs(index, index.search(Query(text=text)))
        assert len(found) > 20 and all(d.state == "odisha" for d in found)


def test_gi_only_filter_and_words(index: SearchIndex) -> None:
    q = parse_intent({"item": {"descriptor": {"name": "GI-tagged handloom from Odisha"}}}, None)
    assert q.gi_only and q.text == "handloom from odisha"  # stop words dropped later
    gi_all = docs(index, index.search(Query(gi_only=True)))
    assert gi_all and all(d.gi for d in gi_all)
    assert len(gi_all) < len(index)
    gi_silk = docs(index, index.search(Query(text="silk", gi_only=True)))
    assert gi_silk and all(d.gi for d in gi_silk)


def test_odop_tag_group_filters(index: SearchIndex) -> None:
    intent = {"tags": [{"code": "odop", "list": [{"code": "lgd_code", "value": "187"},
                                                 {"code": "gi", "value": "yes"}]}]}
    q = parse_intent(intent, "ONDC:RET16")
    found = docs(index, index.search(q))
    assert found and all(d.lgd_code == "187" and d.gi and d.domain == "ONDC:RET16"
                         for d in found)
    q = parse_intent({"tags": [{"code": "odop", "list": [
        {"code": "state", "value": "Uttar Pradesh"}, {"code": "women_led", "value": "yes"}]}]},
        None)
    found = docs(index, index.search(q))
    assert found and all(d.state == "uttar pradesh" for d in found)
    assert all("women_led" in index.providers[d.provider_id].facts for d in found)


def test_nonsense_finds_nothing(index: SearchIndex) -> None:
    assert index.search(Query(text="xylophone quantum")) == []


def test_city_answers_are_remembered_until_a_store_changes() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from ondc_adapter.catalogue.cities import default_directory
    from ondc_adapter.catalogue.store import LocationRecord

    def store(pid: str, std: str) -> LocationRecord:
        return LocationRecord(
            id="L1", provider_id=pid, street="1 Main Rd", locality="Centre", city="X",
            state="Y", area_code="560001" if std == "080" else "221001", std_code=std,
            lat=Decimal("12.9"), lng=Decimal("77.5"), serviceability="10",
            radius_km=Decimal("5"), pincodes=(), days="1,2,3,4,5,6,7", open_time="0900",
            close_time="2100", holidays=(), status="enable",
            updated_at=datetime(2026, 1, 1, tzinfo=UTC))

    idx = SearchIndex()
    cities = default_directory()
    idx.set_provider("P1", "One", [], True, fulfillment_types=["Delivery"],
                     locations=[store("P1", "080")])
    idx.set_provider("P2", "Two", [], True, fulfillment_types=["Delivery"],
                     locations=[store("P2", "0542")])
    assert idx.serving_providers(cities, city="std:080") == ["P1"]
    answer = idx.serving_providers(cities, city="std:080")
    answer.append("P9")  # a caller's copy: the remembered answer is not touched
    assert idx.serving_providers(cities, city="std:080") == ["P1"]
    idx.set_provider("P2", "Two", [], True, fulfillment_types=["Delivery"],
                     locations=[store("P2", "080")])  # the store moved to Bengaluru
    assert idx.serving_providers(cities, city="std:080") == ["P1", "P2"]
    idx.set_provider("P1", "One", [], False, locations=[store("P1", "080")])  # disabled
    assert idx.serving_providers(cities, city="std:080") == ["P2"]
    assert idx.serving_providers(cities, city="std:080", fulfillment_type="Self-Pickup") == []
