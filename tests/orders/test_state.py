"""Order and fulfillment state machines: every legal path, every illegal move refused."""

from __future__ import annotations

import itertools

import pytest

from ondc_adapter.orders.reasons import (
    CANCEL_REASONS,
    RTO_REASONS,
    Party,
    cancel_reason,
    rating_value,
)
from ondc_adapter.orders.state import (
    DELIVERY_TRANSITIONS,
    MACHINES,
    ORDER_TRANSITIONS,
    F,
    FulfillmentType,
    OrderState,
    check_fulfillment,
    check_order,
    delivery_paths,
    order_state_for,
)


def test_every_delivery_path_is_legal_and_keeps_the_order_state_legal() -> None:
    paths = delivery_paths()
    assert ["Pending", "Packed", "Order-picked-up", "Order-delivered"] in [
        [s.value for s in p] for p in paths
    ]  # hyperlocal P2P
    assert [
        "Pending", "Packed", "Agent-assigned", "Order-picked-up", "In-transit",
        "At-destination-hub", "Out-for-delivery", "Order-delivered",
    ] in [[s.value for s in p] for p in paths]  # intercity P2H2P
    for path in paths:
        order = order_state_for(path[0])
        assert order == OrderState.ACCEPTED
        for a, b in itertools.pairwise(path):
            assert check_fulfillment(FulfillmentType.DELIVERY, a, b) is None
            nxt = order_state_for(b)
            assert check_order(order, nxt) is None, (path, a, b)
            order = nxt
        assert order in (OrderState.COMPLETED, OrderState.CANCELLED)


@pytest.mark.parametrize("kind", list(MACHINES))
def test_every_move_not_listed_is_refused_with_a_reason(kind: FulfillmentType) -> None:
    machine = MACHINES[kind]
    for src, dst in itertools.product(list(F), repeat=2):
        refusal = check_fulfillment(kind, src, dst)
        if src in machine and dst in machine.get(src, ()):
            assert refusal is None
        else:
            assert refusal is not None and refusal.reason


def test_lvu_order_state_mapping() -> None:
    assert order_state_for("Pending") == OrderState.ACCEPTED
    assert order_state_for("Pending", accepted=False) == OrderState.CREATED
    for s in ("Packed", "Agent-assigned", "Order-picked-up", "Out-for-delivery", "In-transit"):
        assert order_state_for(s) == OrderState.IN_PROGRESS
    assert order_state_for("Order-delivered") == OrderState.COMPLETED
    assert order_state_for("Cancelled") == OrderState.CANCELLED


def test_terminal_states_and_messages() -> None:
    for terminal in (F.ORDER_DELIVERED, F.CANCELLED):
        assert not DELIVERY_TRANSITIONS[terminal]
        r = check_fulfillment("Delivery", terminal, "Packed")
        assert r is not None and "final" in r.reason
    r = check_fulfillment("Delivery", "Pending", "Order-delivered")
    assert r is not None and "cannot go from Pending to Order-delivered" in r.reason
    assert check_fulfillment("Delivery", "Pending", "Pending") is not None
    assert check_fulfillment("Delivery", "Pending", "Liquidated") is not None
    assert check_fulfillment("Teleport", "Pending", "Packed") is not None
    assert check_fulfillment("Delivery", "Pending", "Lost") is not None
    assert check_fulfillment("RTO", "RTO-Initiated", "RTO-Disposed") is None
    assert check_fulfillment("Return", "Return_Initiated", "Liquidated") is None
    assert check_fulfillment("Return", "Liquidated", "Return_Picked") is not None


def test_order_machine_never_leaves_a_final_state() -> None:
    for final in (OrderState.COMPLETED, OrderState.CANCELLED):
        assert not ORDER_TRANSITIONS[final]
        for other in OrderState:
            if other != final:
                assert check_order(final, other) is not None
    assert check_order("Created", "Completed") is not None
    assert check_order("Accepted", "In-progress") is None


def test_cancel_reasons_by_party() -> None:
    assert cancel_reason("001", Party.BUYER) is not None
    assert cancel_reason("001", Party.SELLER) is None
    assert cancel_reason("005", Party.BUYER) is None
    assert cancel_reason("005", Party.SELLER) is not None
    assert cancel_reason("013", Party.SELLER) is not None  # LSP code the seller passes on
    assert cancel_reason("998", Party.SELLER) is None  # confirmation failures are internal
    assert cancel_reason("404", Party.BUYER) is None
    assert {"003", "006", "007", "009", "010", "011", "012", "013", "014", "015"} == RTO_REASONS
    assert {c for c, r in CANCEL_REASONS.items() if r.part_cancel} == {"002", "012"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), ("5", 5), (3, 3), (" 4 ", 4), ("0", None), ("6", None), ("4.5", None),
     ("five", None), (True, None)],
)
def test_rating_values(value, expected) -> None:
    assert rating_value(value) == expected
