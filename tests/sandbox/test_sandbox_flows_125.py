"""Retail 1.2.5 flows (issue 16): every flow the validator's 1.2.5 driver defines ships, exports
the driver's payload keys, in its order, and the buyer app's requests take 1.2.5's shape while
1.2.0's keep theirs. The flows played end to end are in test_sandbox_flows_125_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ondc_adapter.lvu import flows_125
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.sandbox import SCENARIO_DIR, builders_125
from ondc_adapter.sandbox.builders import build
from ondc_adapter.sandbox.flow_state import BuildError, FlowState
from ondc_adapter.sandbox.scenario import VALIDATOR_FLOWS, find_scenario, scenario_files

VERSION = "1.2.5"
FLOWS = sorted(VALIDATOR_FLOWS[VERSION])
# The sandbox seller delivers itself, point to point: its orders' routing is P2P.
P2P = flows_125.ROUTING_STATES["P2P"]


def test_every_1_2_5_flow_of_the_validator_has_a_file() -> None:
    files = scenario_files(SCENARIO_DIR, VERSION)
    assert sorted(files) == FLOWS
    for flow in FLOWS:
        assert find_scenario(flow, core_version=VERSION).core_version == VERSION


@pytest.mark.parametrize("flow", FLOWS)
def test_a_flow_exports_the_drivers_keys_in_its_order(flow: str) -> None:
    """Every key the driver requires is exported, and nothing it does not list. The one
    latitude is the routing's: a P2P order carries no hub or intercity state (those the driver
    skips under P2P even when sent, Out-for-delivery among them) and may leave out the states
    P2P makes optional."""
    scenario = find_scenario(flow, core_version=VERSION)
    exported = [step.export for step in scenario.steps if step.export]
    driver = flows_125.FLOW_KEYS_125[flow]
    assert len(exported) == len(set(exported)), exported
    assert [key for key in driver if key in exported] == exported  # in the driver's order
    for key in driver:
        state = flows_125.STATUS_STATE.get(key)
        if key in exported:
            assert state not in P2P["forbidden"], f"{key}: skipped under P2P, sent anyway"
        elif state is None or key == "on_status_rto_delivered/disposed":
            pytest.fail(f"flow {flow} does not export {key}, which the driver requires")
        else:
            assert state not in P2P["required"], f"flow {flow}: {key} is required under P2P"


def _state(version: str) -> FlowState:
    return FlowState(domain="ONDC:RET16", city="std:080", bap_id="buyer.sandbox.localhost",
                     bap_uri="http://buyer.sandbox.localhost", core_version=version)


def test_a_1_2_5_search_carries_bnp_features_and_bap_terms_and_a_1_2_0_one_does_not() -> None:
    old = build("search", _state("1.2.0"), {})
    assert [t["code"] for t in old["message"]["intent"]["tags"]] == ["bap_features"]
    new = build("search", _state(VERSION), {})
    intent = new["message"]["intent"]
    assert [t["code"] for t in intent["tags"]] == ["bnp_features", "bap_terms"]
    terms = {e["code"]: e["value"] for e in intent["tags"][1]["list"]}
    assert set(terms) == {"static_terms", "static_terms_new", "effective_date"}
    assert terms["static_terms"] != terms["static_terms_new"]
    assert all(terms[k].startswith("https://") for k in ("static_terms", "static_terms_new"))
    assert parse_timestamp(terms["effective_date"]) > datetime.now(UTC) + timedelta(days=300)
    assert intent["payment"]["@ondc/org/buyer_app_finder_fee_amount"] == "3"
    incremental = build("search_inc", _state(VERSION), {"mode": "start"})
    assert [t["code"] for t in incremental["message"]["intent"]["tags"]] == [
        "catalog_inc", "bnp_features", "bap_terms"]


def _with_catalogue(state: FlowState) -> FlowState:
    provider = {
        "id": "P1", "locations": [{"id": "L1"}],
        "items": [{"id": "I1", "location_id": "L1", "quantity": {"available": {"count": "99"}}}],
        "offers": [{"id": "OFF-1", "descriptor": {"code": "discount"}}],
    }
    state.last["on_search"] = {
        "context": {"bpp_id": "seller.sandbox.localhost", "bpp_uri": "http://seller"},
        "message": {"catalog": {"bpp/providers": [provider]}},
    }
    return state


def test_a_1_2_5_select_applies_an_offer_the_catalogue_shows() -> None:
    selection = [{"id": "OFF-1", "tags": [
        {"code": "selection", "list": [{"code": "apply", "value": "yes"}]}]}]
    for offer in ("discount", "OFF-1"):  # by type or by id
        select = build("select", _with_catalogue(_state(VERSION)), {"offer": offer})
        assert select["message"]["order"]["offers"] == selection
    with pytest.raises(BuildError, match="shows no offer 'slab'"):
        build("select", _with_catalogue(_state(VERSION)), {"offer": "slab"})
    with pytest.raises(BuildError, match=r"offers are retail 1\.2\.5"):
        build("select", _with_catalogue(_state("1.2.0")), {"offer": "discount"})
    plain = build("select", _with_catalogue(_state("1.2.0")), {})
    assert "offers" not in plain["message"]["order"]


def test_cancel_and_return_reasons_follow_the_version() -> None:
    for version, cancel, ret in (("1.2.0", "006", "001"), (VERSION, "010", "003")):
        state = _state(version)
        state.order_id = "O1"
        assert build("cancel", state, {})["message"]["cancellation_reason_id"] == cancel
        assert builders_125.return_reason(state, None, "001") == ret
    state = _state(VERSION)
    state.order_id = "O1"
    # 1.2.5's list names 053 for buyer apps, but one copy of the validator's cancel checker
    # refuses it
    with pytest.raises(BuildError, match=r"refused by the validator's retail 1\.2\.5 cancel"):
        build("cancel", state, {"reason": "053"})
