"""The retail 1.2.5 driver of the ported validator (``lvu.flows_125``): which keys a flow must
carry, the on_status keys by the order's routing (docs/retail-1.2.5/flows.md)."""

from __future__ import annotations

from typing import Any

import pytest

from ondc_adapter.lvu import validate_bundle
from ondc_adapter.lvu.findings import Bundle
from ondc_adapter.lvu.flows_125 import FLOW_KEYS_125, checked_keys


def _bundle(flow: str, keys: list[str], routing: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {key: {"context": {}, "message": {}} for key in keys}
    if routing is not None:
        tags = [{"code": "routing", "list": [{"code": "type", "value": routing}]}]
        payload["on_confirm"] = {"context": {}, "message": {"order": {
            "fulfillments": [{"type": "Delivery", "tags": tags}]}}}
    return {"domain": "ONDC:RET16", "version": "1.2.5", "flow": flow, "bap_id": "b",
            "bpp_id": "s", "payload": payload}


def _missing(data: dict[str, Any]) -> list[str]:
    return [f.message for f in validate_bundle(data) if f.rule == "bundle.missing_key"]


BEFORE_STATUS = list(FLOW_KEYS_125["2"][:8])


def test_p2p_needs_four_states_and_track() -> None:
    missing = _missing(_bundle("2", BEFORE_STATUS, "P2P"))
    assert missing == [
        "Missing required data of : on_status_pending (Required for P2P routing)",
        "Missing required data of : on_status_packed (Required for P2P routing)",
        "Missing required data of : on_status_picked (Required for P2P routing)",
        "Missing required data of : track",
        "Missing required data of : on_track",
        "Missing required data of : on_status_delivered (Required for P2P routing)",
    ]


def test_p2h2p_needs_the_hub_states_and_skips_at_pickup() -> None:
    missing = _missing(_bundle("2", BEFORE_STATUS, "P2H2P"))
    assert "Missing required data of : on_status_in_transit (Required for P2H2P routing)" in missing
    assert any("on_status_out_for_delivery" in m for m in missing)
    keys = checked_keys(Bundle.of(_bundle("2", BEFORE_STATUS, "P2H2P")))
    assert "on_status_at_pickup" not in keys and "on_status_at_delivery" not in keys


def test_without_routing_no_status_key_is_missing() -> None:
    assert _missing(_bundle("2", BEFORE_STATUS)) == [
        "Missing required data of : track", "Missing required data of : on_track"]


@pytest.mark.parametrize("flow", ["0091", "0092", "0098"])
def test_offer_flows_are_the_order_flow(flow: str) -> None:
    keys = list(FLOW_KEYS_125[flow])
    assert keys[:8] == BEFORE_STATUS
    assert _missing(_bundle(flow, keys)) == []
    assert ("cancel" in keys) == (flow == "0091")


def test_unknown_and_unported_flows_are_refused() -> None:
    assert "would pass unchecked" in str(validate_bundle(_bundle("2A", []))[0])
    assert "not ported yet" in str(validate_bundle(_bundle("00B", []))[0])
