"""The order page's buttons (``console.orders.next_states``): where the seller may move the
parcel from where it is, by the order's version and, in 1.2.5, its routing, so that no button
leads to a refusal."""

from __future__ import annotations

import pytest

from ondc_adapter.console.orders import next_states
from ondc_adapter.orders.state import FState, delivery_machine
from ondc_adapter.orders.tables import OrderRecord


def _order(version: str, state: str, routing: str | None = None) -> OrderRecord:
    tags = [{"code": "routing", "list": [{"code": "type", "value": routing}]}] if routing else []
    return OrderRecord(core_version=version, fulfillment_state=state,
                       fulfillments=[{"id": "F1", "type": "Delivery", "tags": tags}])


def test_a_1_2_0_order_keeps_its_five_steps() -> None:
    assert next_states(_order("1.2.0", "Order-picked-up")) == [
        FState.OUT_FOR_DELIVERY, FState.ORDER_DELIVERED]


def test_a_p2p_parcel_is_never_offered_a_hub_or_out_for_delivery() -> None:
    assert next_states(_order("1.2.5", "Order-picked-up", "P2P")) == [
        FState.AT_DELIVERY, FState.ORDER_DELIVERED]


def test_a_p2h2p_parcel_goes_through_the_hubs_and_may_fail_at_the_door() -> None:
    assert next_states(_order("1.2.5", "Order-picked-up", "P2H2P")) == [
        FState.IN_TRANSIT, FState.OUT_FOR_DELIVERY, FState.ORDER_DELIVERED]
    assert next_states(_order("1.2.5", "Out-for-delivery", "P2H2P")) == [
        FState.ORDER_DELIVERED, FState.DELIVERY_FAILED]  # the way forward first


@pytest.mark.parametrize("routing", ["P2P", "P2H2P"])
@pytest.mark.parametrize("state", [s.value for s in FState])
def test_every_button_is_a_move_the_node_takes(routing: str, state: str) -> None:
    machine = delivery_machine("1.2.5", routing)
    offered = next_states(_order("1.2.5", state, routing))
    assert set(offered) <= machine.get(FState(state), frozenset())
    assert FState.CANCELLED not in offered  # cancelling has its own form, with a reason
