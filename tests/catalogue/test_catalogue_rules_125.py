"""The ported retail 1.2.5 catalogue rules (``lvu.catalogue_rules_125``): a well-formed bundle
passes each new rule, and each rule fires on a payload broken the way its source checks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ondc_adapter.lvu import catalogue_rules_125 as r125
from ondc_adapter.lvu.catalogue_offer_rules_125 import offers
from ondc_adapter.lvu.findings import Bundle, Rule

STAMP = "2026-03-01T10:00:00.000Z"
NEW_RULES: tuple[Rule, ...] = (
    r125.bpp_terms, offers, r125.self_pickup, r125.provider_timing, r125.serviceability,
    r125.item_terms, r125.flow_rules, r125.incremental_shape, r125.incremental_items,
    r125.search_request,
)


def _tag(code: str, **values: str) -> dict[str, Any]:
    return {"code": code, "list": [{"code": k, "value": v} for k, v in values.items()]}


def _timing(kind: str) -> dict[str, Any]:
    return _tag("timing", type=kind, location="L1", day_from="1", day_to="7",
                time_from="0900", time_to="2000")


def good() -> dict[str, Any]:
    """A 1.2.5 bundle (flow 8) the new rules have nothing to say of."""
    pickup = [_timing("Self-Pickup")]
    provider = {
        "id": "P1",
        "fulfillments": [{"id": "F1", "type": "Delivery", "tags": pickup},
                         {"id": "F2", "type": "Self-Pickup", "tags": pickup}],
        "locations": [{"id": "L1", "gps": "12.971600,77.594600"}],
        "tags": [
            _tag("serviceability", location="L1", category="Sarees", type="12", val="IND",
                 unit="country"),
            _timing("Order"), _timing("Delivery"), _timing("Self-Pickup"),
        ],
        "categories": [{"id": "M1", "descriptor": {"name": "Sarees"},
                        "tags": [_tag("type", type="custom_menu")]}],
        "items": [{"id": "I1", "category_id": "Sarees",
                   "replacement_terms": [{"replace_within": {"duration": "P7D"}}]}],
        "offers": [{
            "id": "discp60", "descriptor": {"code": "discount"}, "location_ids": ["L1"],
            "item_ids": ["I1"],
            "time": {"label": "valid", "range": {"start": STAMP, "end": STAMP}},
            "tags": [_tag("qualifier", min_value="159.00"),
                     _tag("benefit", value_type="percent", value="-60.00", value_cap="-120.00"),
                     _tag("meta", additive="yes", auto="no")],
        }],
    }
    context = {"transaction_id": "t-1", "message_id": "m-1", "timestamp": STAMP,
               "domain": "ONDC:RET12"}
    terms = _tag("bap_terms", static_terms="https://b.example.com/1.pdf",
                 static_terms_new="https://b.example.com/2.pdf",
                 effective_date=(datetime.now(UTC) + timedelta(days=30)).isoformat())
    return {
        "domain": "ONDC:RET12", "version": "1.2.5", "flow": "8", "bap_id": "b", "bpp_id": "s",
        "payload": {
            "search_full_catalog_refresh": {
                "context": {**context, "action": "search"},
                "message": {"intent": {
                    "payment": {"@ondc/org/buyer_app_finder_fee_amount": "3"},
                    "fulfillment": {"end": {"location": {"gps": "12.9716,77.5946"}}},
                    "tags": [terms]}}},
            "on_search_full_catalog_refresh": {
                "context": {**context, "action": "on_search"},
                "message": {"catalog": {
                    "bpp/descriptor": {"tags": [_tag("bpp_terms", np_type="MSN")]},
                    "bpp/providers": [provider]}}},
            "on_search_inc_refresh": {
                "context": {**context, "action": "on_search", "city": "*"},
                "message": {"catalog": {"bpp/providers": [{"id": "P1", "items": []}]}}},
        },
    }


def findings(data: dict[str, Any], rule_: Rule) -> list[str]:
    return [f.message for f in rule_(Bundle.of(data))]


def provider_of(data: dict[str, Any]) -> dict[str, Any]:
    return data["payload"]["on_search_full_catalog_refresh"]["message"]["catalog"][
        "bpp/providers"][0]


@pytest.mark.parametrize("rule_", NEW_RULES, ids=lambda r: r.__name__)
def test_a_well_formed_bundle_passes(rule_: Rule) -> None:
    assert findings(good(), rule_) == []


def _offer(d: dict[str, Any]) -> dict[str, Any]:
    return provider_of(d)["offers"][0]


def _set_collect(d: dict[str, Any]) -> None:
    d["flow"] = "007"


def _exchange(d: dict[str, Any]) -> None:
    _offer(d)["descriptor"]["code"] = "exchange"


def _positive(d: dict[str, Any]) -> None:
    _offer(d)["tags"][1]["list"][1]["value"] = "60.00"


def _no_items(d: dict[str, Any]) -> None:
    _offer(d)["item_ids"] = []


def _combo_without_item(d: dict[str, Any]) -> None:
    _offer(d)["descriptor"]["code"] = "combo"


def _delivery_only(d: dict[str, Any]) -> None:
    for f in provider_of(d)["fulfillments"]:
        f.pop("tags")


def _late_pickup(d: dict[str, Any]) -> None:
    provider_of(d)["fulfillments"][0]["tags"] = [
        _tag("timing", type="Self-Pickup", location="L9", day_from="1", day_to="8",
             time_from="2000", time_to="0900")]


def _no_order_timing(d: dict[str, Any]) -> None:
    provider_of(d)["tags"] = [t for t in provider_of(d)["tags"]
                              if (t["list"][0]["value"] != "Order")]


def _pickup_timing_missing(d: dict[str, Any]) -> None:
    provider_of(d)["tags"].pop()  # the Self-Pickup timing, with a Self-Pickup fulfillment


def _two_serviceability(d: dict[str, Any]) -> None:
    provider_of(d)["tags"].insert(0, _tag("serviceability", location="L1", category="Sarees",
                                          type="10", val="ten", unit="km"))


def _bad_replacement(d: dict[str, Any]) -> None:
    provider_of(d)["items"][0]["replacement_terms"] = [{"replace_within": {"duration": "7D"}}]


def _flow_004(d: dict[str, Any]) -> None:
    d["flow"] = "004"


def _same_ids(d: dict[str, Any]) -> None:
    d["payload"]["on_search_full_catalog_refresh"]["context"]["message_id"] = "t-1"


def _inc_descriptor(d: dict[str, Any]) -> None:
    catalog = d["payload"]["on_search_inc_refresh"]["message"]["catalog"]
    catalog["bpp/descriptor"] = {"name": "x"}
    catalog["bpp/providers"][0]["descriptor"] = {"media": [{"mimetype": "image/png",
                                                            "url": "ftp://x"}]}


def _unchanged_item(d: dict[str, Any]) -> None:
    item = copy.deepcopy(provider_of(d)["items"][0])
    item["time"] = {"label": "enable", "timestamp": "2026-03-01T10:05:00.000Z"}
    provider_of(d)["items"][0]["time"] = {"label": "enable", "timestamp": STAMP}
    d["payload"]["on_search_inc_refresh"]["message"]["catalog"]["bpp/providers"][0][
        "items"] = [item]


def _moved_item(d: dict[str, Any]) -> None:
    _unchanged_item(d)
    inc = d["payload"]["on_search_inc_refresh"]["message"]["catalog"]["bpp/providers"][0]
    inc["items"][0]["location_id"] = "L2"


def _no_finder_fee(d: dict[str, Any]) -> None:
    d["payload"]["search_full_catalog_refresh"]["message"]["intent"]["payment"] = {}


def _same_terms(d: dict[str, Any]) -> None:
    tags = d["payload"]["search_full_catalog_refresh"]["message"]["intent"]["tags"]
    tags[0]["list"][1]["value"] = tags[0]["list"][0]["value"]


def _features_120(d: dict[str, Any]) -> None:
    tags = d["payload"]["search_full_catalog_refresh"]["message"]["intent"]["tags"]
    tags.append({"code": "bap_features", "list": [{"code": "001", "value": "yes"}]})


BROKEN: list[tuple[Rule, Callable[[dict[str, Any]], None], str]] = [
    (r125.bpp_terms, _set_collect, "collect_payment is required"),
    (offers, _exchange, "exchange is not possible for ONDC:RET12"),
    (offers, _positive, "must be a negative amount"),
    (offers, _no_items, "Item IDs array is mandatory"),
    (offers, _combo_without_item, "'qualifier' tag must include 'min_value' and 'item_id'"),
    (r125.self_pickup, _delivery_only, "must have a 'timing' tag with list.type='Self-Pickup'"),
    (r125.self_pickup, _late_pickup, "must be greater than 'time_from' (2000)"),
    (r125.provider_timing, _no_order_timing, "must be present for Order"),
    (r125.provider_timing, _pickup_timing_missing, "must be present for Self-Pickup"),
    (r125.serviceability, _two_serviceability, "should be equal to count of serviceability"),
    (r125.item_terms, _bad_replacement, "Invalid or missing ISO 8601 duration"),
    (r125.flow_rules, _flow_004, 'should be "Buyer-Delivery" for flow004'),
    (r125.flow_rules, _same_ids, "Message Id for /search and /on_search api should be same"),
    (r125.incremental_shape, _inc_descriptor, "bpp/descriptor sent in payload"),
    (r125.incremental_shape, _inc_descriptor, "mimetype must be one of"),
    (r125.incremental_items, _unchanged_item, "Similar Item as in /on_search api call"),
    (r125.incremental_items, _moved_item, "location_id in /bpp/providers[0]/items[0] should"),
    (r125.search_request, _no_finder_fee, "buyer_app_finder_fee_amount"),
    (r125.search_request, _same_terms, "static_terms_new must differ"),
    (r125.search_request, _features_120, "code must be equal to one of the allowed values"),
]


@pytest.mark.parametrize(("rule_", "breaker", "said"), BROKEN,
                         ids=[b.__name__.strip("_") for _, b, _ in BROKEN])
def test_each_rule_fires_on_a_broken_payload(
    rule_: Rule, breaker: Callable[[dict[str, Any]], None], said: str
) -> None:
    data = copy.deepcopy(good())
    breaker(data)
    found = findings(data, rule_)
    assert any(said in message for message in found), found


def test_the_1_2_5_list_keeps_the_1_2_0_rules_1_2_5_did_not_change() -> None:
    names = {rule_.__name__ for rule_ in r125.CATALOGUE_RULES_125}
    assert {"on_search.items", "on_search.attributes", "on_search_inc.providers"} <= names
    # 1.2.0's bpp_terms refused collect_payment; 1.2.5's does not (one rule of that name)
    assert [r for r in r125.CATALOGUE_RULES_125 if r.__name__ == "on_search.descriptor"] == [
        r125.bpp_terms]
    data = good()
    catalog = data["payload"]["on_search_full_catalog_refresh"]["message"]["catalog"]
    catalog["bpp/descriptor"]["tags"][0]["list"].append({"code": "collect_payment",
                                                          "value": "Y"})
    assert findings(data, r125.bpp_terms) == []
