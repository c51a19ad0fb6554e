"""Order and fulfillment state machines (protocol.md 4.7-4.9).

An order has one forward fulfillment (type ``Delivery``, the parcel going to the buyer) and may
gain others: ``Cancel`` (what a cancel removed), ``RTO`` (the parcel going back after a
post-pickup cancel) and ``Return`` (a buyer's return). Each type has its own machine. The order
state is derived from the forward fulfillment (the LVU mapping), never set independently, so the
two can never disagree.

Every function here is pure: it says whether a move is legal and why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderState(StrEnum):
    CREATED = "Created"
    ACCEPTED = "Accepted"
    IN_PROGRESS = "In-progress"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class FulfillmentType(StrEnum):
    DELIVERY = "Delivery"
    CANCEL = "Cancel"
    RTO = "RTO"
    RETURN = "Return"


class FState(StrEnum):
    """``fulfillments[].state.descriptor.code`` values we use."""

    PENDING = "Pending"
    PACKED = "Packed"
    AGENT_ASSIGNED = "Agent-assigned"
    AT_PICKUP = "At-pickup"
    OUT_FOR_PICKUP = "Out-for-pickup"
    PICKUP_FAILED = "Pickup-failed"  # retail 1.2.5
    ORDER_PICKED_UP = "Order-picked-up"
    AT_DELIVERY = "At-delivery"  # retail 1.2.5
    IN_TRANSIT = "In-transit"
    AT_DESTINATION_HUB = "At-destination-hub"
    OUT_FOR_DELIVERY = "Out-for-delivery"
    DELIVERY_FAILED = "Delivery-failed"  # retail 1.2.5
    ORDER_DELIVERED = "Order-delivered"
    CANCELLED = "Cancelled"
    RTO_INITIATED = "RTO-Initiated"
    RTO_DELIVERED = "RTO-Delivered"
    RTO_DISPOSED = "RTO-Disposed"
    RETURN_INITIATED = "Return_Initiated"
    RETURN_APPROVED = "Return_Approved"
    RETURN_REJECTED = "Return_Rejected"
    LIQUIDATED = "Liquidated"
    RETURN_PICKED = "Return_Picked"
    RETURN_PICK_FAILED = "Return_Pick_Failed"
    RETURN_DELIVERED = "Return_Delivered"
    RETURN_FAILED = "Return_Failed"


F = FState

# Forward (Delivery) fulfillment. Hyperlocal P2P skips the hub states; intercity P2H2P goes
# through In-transit and At-destination-hub. Cancel is possible until delivery; after pickup it
# is a cancel with RTO (the RTO fulfillment carries the parcel back).
DELIVERY_TRANSITIONS: dict[FState, frozenset[FState]] = {
    F.PENDING: frozenset({F.PACKED, F.CANCELLED}),
    F.PACKED: frozenset({F.AGENT_ASSIGNED, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.AGENT_ASSIGNED: frozenset({F.OUT_FOR_PICKUP, F.AT_PICKUP, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.OUT_FOR_PICKUP: frozenset({F.AT_PICKUP, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.AT_PICKUP: frozenset({F.ORDER_PICKED_UP, F.CANCELLED}),
    F.ORDER_PICKED_UP: frozenset(
        {F.IN_TRANSIT, F.OUT_FOR_DELIVERY, F.ORDER_DELIVERED, F.CANCELLED}
    ),
    F.IN_TRANSIT: frozenset({F.AT_DESTINATION_HUB, F.OUT_FOR_DELIVERY, F.CANCELLED}),
    F.AT_DESTINATION_HUB: frozenset({F.OUT_FOR_DELIVERY, F.CANCELLED}),
    F.OUT_FOR_DELIVERY: frozenset({F.ORDER_DELIVERED, F.CANCELLED}),
    F.ORDER_DELIVERED: frozenset(),
    F.CANCELLED: frozenset(),
}

RTO_TRANSITIONS: dict[FState, frozenset[FState]] = {
    F.RTO_INITIATED: frozenset({F.RTO_DELIVERED, F.RTO_DISPOSED}),
    F.RTO_DELIVERED: frozenset(),
    F.RTO_DISPOSED: frozenset(),
}

RETURN_TRANSITIONS: dict[FState, frozenset[FState]] = {
    F.RETURN_INITIATED: frozenset({F.RETURN_APPROVED, F.RETURN_REJECTED, F.LIQUIDATED}),
    F.RETURN_APPROVED: frozenset({F.RETURN_PICKED, F.RETURN_PICK_FAILED}),
    F.RETURN_PICK_FAILED: frozenset({F.RETURN_PICKED, F.RETURN_FAILED}),
    F.RETURN_PICKED: frozenset({F.RETURN_DELIVERED, F.RETURN_FAILED}),
    F.RETURN_REJECTED: frozenset(),
    F.LIQUIDATED: frozenset(),
    F.RETURN_DELIVERED: frozenset(),
    F.RETURN_FAILED: frozenset(),
}

CANCEL_TRANSITIONS: dict[FState, frozenset[FState]] = {F.CANCELLED: frozenset()}

MACHINES: dict[FulfillmentType, dict[FState, frozenset[FState]]] = {
    FulfillmentType.DELIVERY: DELIVERY_TRANSITIONS,
    FulfillmentType.RTO: RTO_TRANSITIONS,
    FulfillmentType.RETURN: RETURN_TRANSITIONS,
    FulfillmentType.CANCEL: CANCEL_TRANSITIONS,
}

INITIAL: dict[FulfillmentType, FState] = {
    FulfillmentType.DELIVERY: F.PENDING,
    FulfillmentType.RTO: F.RTO_INITIATED,
    FulfillmentType.RETURN: F.RETURN_INITIATED,
    FulfillmentType.CANCEL: F.CANCELLED,
}

# From these forward states on the parcel has left the store: a cancel becomes an RTO.
# (At-delivery and Delivery-failed are reached by 1.2.5 orders only.)
PICKED_UP = frozenset(
    {F.ORDER_PICKED_UP, F.IN_TRANSIT, F.AT_DESTINATION_HUB, F.OUT_FOR_DELIVERY, F.AT_DELIVERY,
     F.DELIVERY_FAILED}
)
# From these on, ONDC requires start.time.timestamp and the invoice document (protocol.md 4.7).
NEEDS_PICKUP_TIME = PICKED_UP | {F.ORDER_DELIVERED}

# The order-level machine: only used to check that a derived state change is a legal move.
ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.CREATED: frozenset({OrderState.ACCEPTED, OrderState.CANCELLED}),
    OrderState.ACCEPTED: frozenset({OrderState.IN_PROGRESS, OrderState.CANCELLED}),
    OrderState.IN_PROGRESS: frozenset({OrderState.COMPLETED, OrderState.CANCELLED}),
    OrderState.COMPLETED: frozenset(),
    OrderState.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str


def check_fulfillment(
    ftype: FulfillmentType | str,
    current: FState | str,
    target: FState | str,
    machine: dict[FState, frozenset[FState]] | None = None,
) -> Refusal | None:
    """None when ``current -> target`` is legal for a fulfillment of ``ftype``; ``machine``
    replaces the type's own (a 1.2.5 Delivery's, ``delivery_machine``)."""
    try:
        kind = FulfillmentType(ftype)
    except ValueError:
        return Refusal(f"unknown fulfillment type {ftype!r}")
    machine = machine if machine is not None else MACHINES[kind]
    try:
        src, dst = FState(current), FState(target)
    except ValueError as exc:
        return Refusal(f"unknown fulfillment state: {exc}")
    if src not in machine:
        return Refusal(f"{src} is not a state of a {kind} fulfillment")
    if dst not in machine:
        return Refusal(f"{dst} is not a state of a {kind} fulfillment")
    if dst == src:
        return Refusal(f"fulfillment is already {src}")
    if not machine[src]:
        return Refusal(f"{src} is final for a {kind} fulfillment")
    if dst not in machine[src]:
        allowed = ", ".join(sorted(machine[src]))
        return Refusal(f"cannot go from {src} to {dst} (next: {allowed})")
    return None


# Retail 1.2.5 (issue 16): the Delivery moves ONDC's 1.2.5 validator allows
# (constants/fulfillmentStates.ts STATE_TRANSITIONS, as lvu/flows_125 holds it for the checks;
# repeated here because the order logic does not import the validator port, and a test keeps
# the two equal), Cancelled being cancellation's. Then each routing drops the states its
# checkers refuse (routingValidator.ts isStateForbiddenForRouting): a hyperlocal P2P parcel has
# no hub or failed attempts, an intercity P2H2P one is never "at" the pickup or delivery point.
ROUTING_P2P = "P2P"
ROUTING_P2H2P = "P2H2P"
DELIVERY_TRANSITIONS_125: dict[FState, frozenset[FState]] = {
    F.PENDING: frozenset({F.PACKED, F.CANCELLED}),
    F.PACKED: frozenset(
        {F.AGENT_ASSIGNED, F.AT_PICKUP, F.OUT_FOR_PICKUP, F.ORDER_PICKED_UP, F.CANCELLED}
    ),
    F.AGENT_ASSIGNED: frozenset({F.AT_PICKUP, F.OUT_FOR_PICKUP, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.AT_PICKUP: frozenset({F.ORDER_PICKED_UP, F.CANCELLED}),
    F.OUT_FOR_PICKUP: frozenset({F.PICKUP_FAILED, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.PICKUP_FAILED: frozenset({F.OUT_FOR_PICKUP, F.ORDER_PICKED_UP, F.CANCELLED}),
    F.ORDER_PICKED_UP: frozenset(
        {F.AT_DELIVERY, F.IN_TRANSIT, F.OUT_FOR_DELIVERY, F.ORDER_DELIVERED, F.CANCELLED}
    ),
    F.AT_DELIVERY: frozenset({F.ORDER_DELIVERED, F.CANCELLED}),
    F.IN_TRANSIT: frozenset({F.AT_DESTINATION_HUB, F.CANCELLED}),
    F.AT_DESTINATION_HUB: frozenset({F.OUT_FOR_DELIVERY, F.CANCELLED}),
    F.OUT_FOR_DELIVERY: frozenset({F.DELIVERY_FAILED, F.ORDER_DELIVERED, F.CANCELLED}),
    F.DELIVERY_FAILED: frozenset({F.OUT_FOR_DELIVERY, F.ORDER_DELIVERED, F.CANCELLED}),
    F.ORDER_DELIVERED: frozenset(),
    F.CANCELLED: frozenset(),
}
ROUTING_FORBIDDEN: dict[str, frozenset[FState]] = {
    ROUTING_P2P: frozenset({F.OUT_FOR_PICKUP, F.PICKUP_FAILED, F.IN_TRANSIT,
                            F.AT_DESTINATION_HUB, F.OUT_FOR_DELIVERY, F.DELIVERY_FAILED}),
    ROUTING_P2H2P: frozenset({F.AT_PICKUP, F.AT_DELIVERY}),
}


def delivery_machine(
    core_version: str, routing: str | None
) -> dict[FState, frozenset[FState]]:
    """The Delivery fulfillment's machine of an order: 1.2.0's as ever; 1.2.5's without the
    states its routing forbids (P2P when the order names none: the seller's own delivery)."""
    if core_version != "1.2.5":
        return DELIVERY_TRANSITIONS
    forbidden = ROUTING_FORBIDDEN.get(routing or ROUTING_P2P, ROUTING_FORBIDDEN[ROUTING_P2P])
    return {
        state: nxt - forbidden
        for state, nxt in DELIVERY_TRANSITIONS_125.items()
        if state not in forbidden
    }


def order_state_for(forward: FState | str, *, accepted: bool = True) -> OrderState:
    """The order state implied by the forward fulfillment (protocol.md 4.7, LVU mapping).
    ``accepted`` is False while the seller has not accepted a deferred order (state Created)."""
    state = FState(forward)
    if state == F.PENDING:
        return OrderState.ACCEPTED if accepted else OrderState.CREATED
    if state == F.ORDER_DELIVERED:
        return OrderState.COMPLETED
    if state == F.CANCELLED:
        return OrderState.CANCELLED
    return OrderState.IN_PROGRESS


def check_order(current: OrderState | str, target: OrderState | str) -> Refusal | None:
    src, dst = OrderState(current), OrderState(target)
    if src == dst:
        return None  # fulfillment moves within In-progress leave the order where it is
    if dst not in ORDER_TRANSITIONS[src]:
        return Refusal(f"order cannot go from {src} to {dst}")
    return None


def delivery_paths(start: FState = F.PENDING) -> list[list[FState]]:
    """Every path from ``start`` to a final state of the forward machine (for tests and docs)."""
    out: list[list[FState]] = []

    def walk(path: list[FState]) -> None:
        nxt = DELIVERY_TRANSITIONS[path[-1]]
        if not nxt:
            out.append(path)
            return
        for s in sorted(nxt):
            walk([*path, s])

    walk([start])
    return out
