"""Retail 1.2.5 flows as ONDC's validator drives them (``shared/validateRetailLogsV2.ts``):
the payload keys of each flow, in the order they are checked, and which of them may be
missing. docs/retail-1.2.5/flows.md has the tables this module holds.

What is new against 1.2.0: the on_status keys a flow must carry depend on the order's routing,
read from on_confirm (``fulfillments[type=Delivery].tags[code=routing].list[code=type]``,
``P2P`` or ``P2H2P``). A state the routing forbids is not checked even when sent; a state it
makes optional may be missing; without a routing tag no on_status key is ever reported missing.
Every other key of the flow is required.
"""

from __future__ import annotations

from collections.abc import Iterator

from ondc_adapter.lvu.findings import Bundle, Finding

SOURCE = "shared/validateRetailLogsV2.ts"
SEARCH = ("search_full_catalog_refresh", "on_search_full_catalog_refresh")
ORDER = ("select", "on_select", "init", "on_init", "confirm", "on_confirm")
TRACK = ("track", "on_track")

# on_status key -> the fulfillment state it reports
STATUS_STATE = {
    "on_status_pending": "Pending",
    "on_status_packed": "Packed",
    "on_status_agent_assigned": "Agent-assigned",
    "on_status_at_pickup": "At-pickup",
    "on_status_out_for_pickup": "Out-for-pickup",
    "on_status_pickup_failed": "Pickup-failed",
    "on_status_picked": "Order-picked-up",
    "on_status_at_delivery": "At-delivery",
    "on_status_in_transit": "In-transit",
    "on_status_at_destination_hub": "At-destination-hub",
    "on_status_out_for_delivery": "Out-for-delivery",
    "on_status_delivery_failed": "Delivery-failed",
    "on_status_delivered": "Order-delivered",
    "on_status_rto_delivered/disposed": "Cancelled",
}
ROUTING_STATES: dict[str, dict[str, frozenset[str]]] = {
    "P2P": {
        "required": frozenset({"Pending", "Packed", "Order-picked-up", "Order-delivered"}),
        "forbidden": frozenset({"Out-for-pickup", "Pickup-failed", "In-transit",
                                "At-destination-hub", "Out-for-delivery", "Delivery-failed"}),
    },
    "P2H2P": {
        "required": frozenset({"Pending", "Packed", "Order-picked-up", "In-transit",
                               "At-destination-hub", "Out-for-delivery", "Order-delivered"}),
        "forbidden": frozenset({"At-pickup", "At-delivery"}),
    },
}
# The next states each state may move to (constants/fulfillmentStates.ts, STATE_TRANSITIONS)
STATE_TRANSITIONS: dict[str, frozenset[str]] = {
    "Pending": frozenset({"Packed", "Cancelled"}),
    "Packed": frozenset({"Agent-assigned", "At-pickup", "Out-for-pickup", "Order-picked-up",
                         "Cancelled"}),
    "Agent-assigned": frozenset({"At-pickup", "Out-for-pickup", "Order-picked-up", "Cancelled"}),
    "At-pickup": frozenset({"Order-picked-up", "Cancelled"}),
    "Out-for-pickup": frozenset({"Pickup-failed", "Order-picked-up", "Cancelled"}),
    "Pickup-failed": frozenset({"Out-for-pickup", "Order-picked-up", "Cancelled"}),
    "Order-picked-up": frozenset({"At-delivery", "In-transit", "Out-for-delivery",
                                  "Order-delivered", "Cancelled"}),
    "At-delivery": frozenset({"Order-delivered", "Cancelled"}),
    "In-transit": frozenset({"At-destination-hub", "Cancelled"}),
    "At-destination-hub": frozenset({"Out-for-delivery", "Cancelled"}),
    "Out-for-delivery": frozenset({"Delivery-failed", "Order-delivered", "Cancelled"}),
    "Delivery-failed": frozenset({"Out-for-delivery", "Order-delivered", "Cancelled"}),
}


def _st(*names: str) -> tuple[str, ...]:
    return tuple(f"on_status_{name}" for name in names)


_ALL_STATUS = _st("pending", "packed", "agent_assigned", "at_pickup", "out_for_pickup",
                  "pickup_failed", "picked", "at_delivery", "in_transit", "at_destination_hub")
_TO_DOOR = _st("out_for_delivery", "delivery_failed", "delivered")
_SHORT = _st("pending", "packed", "agent_assigned", "picked", "out_for_delivery", "delivered")
_OFFER_FLOWS = {f"009{n}": (*SEARCH, *ORDER) for n in range(2, 9)}

FLOW_KEYS_125: dict[str, tuple[str, ...]] = {
    "1": (*SEARCH, "search_inc_refresh", "on_search_inc_refresh"),
    "2": (*SEARCH, *ORDER, *_ALL_STATUS, *TRACK, *_TO_DOOR),
    "012": (*SEARCH, *ORDER, *_st("pending", "packed", "agent_assigned", "picked"), *TRACK,
            *_st("out_for_delivery", "delivered")),
    "3": (*SEARCH, "select_out_of_stock", "on_select_out_of_stock", *ORDER, *_ALL_STATUS,
          *_TO_DOOR, *TRACK),
    "4": (*SEARCH, *ORDER, "cancel", "on_cancel"),
    "5": (*SEARCH, *ORDER, "on_update_part_cancel", "update_settlement_part_cancel",
          *_ALL_STATUS, *_st("out_for_delivery", "delivery_failed"), "on_cancel",
          "on_status_rto_delivered/disposed"),
    "6": (*SEARCH, *ORDER, *_ALL_STATUS, *_TO_DOOR, "update_liquidated",
          "on_update_interim_liquidated", "on_update_liquidated",
          "update_settlement_liquidated"),
    "7": (*SEARCH, "catalog_rejection"),
    "8": SEARCH,
    "9": ("search_inc_refresh", "on_search_inc_refresh", "catalog_rejection"),
    "0091": (*SEARCH, *ORDER, "cancel", "on_cancel"),
    **_OFFER_FLOWS,
    "020": (*SEARCH, *ORDER, *_st("pending", "packed", "picked", "out_for_delivery",
                                  "delivered")),
    "008": (*SEARCH, *ORDER[:4]),
    "003": (*SEARCH, *ORDER, *_st("pending", "packed", "picked")),
    "004": (*SEARCH, *ORDER, *_SHORT),
    "025": (*SEARCH, "select", "on_select"),
    "022": SEARCH,
    "01D": (*SEARCH, *ORDER, "on_status_pending"),
    **{flow: (*SEARCH, *ORDER) for flow in ("016", "01F", "01E", "001")},
}
# Flows the driver knows whose payload keys are not written here yet (replacement, address
# and instruction updates, ...): a bundle naming one is refused by the port rather than passed.
NOT_PORTED = frozenset({"00B", "01C", "00F", "011", "017", "00D", "00E", "00C", "005", "002"})


def routing_of(bundle: Bundle) -> str | None:
    """The order's routing type as the validator reads it from on_confirm, if any."""
    for fulfillment in bundle.order("on_confirm").get("fulfillments") or []:
        if not isinstance(fulfillment, dict) or fulfillment.get("type") != "Delivery":
            continue
        for tag in fulfillment.get("tags") or []:
            if isinstance(tag, dict) and tag.get("code") == "routing":
                for entry in tag.get("list") or []:
                    if isinstance(entry, dict) and entry.get("code") == "type":
                        value = entry.get("value")
                        return value if value in ROUTING_STATES else None
        return None
    return None


def checked_keys(bundle: Bundle) -> tuple[str, ...]:
    """The flow's keys the validator checks, the routing's forbidden states left out."""
    routing = routing_of(bundle)
    forbidden = ROUTING_STATES[routing]["forbidden"] if routing else frozenset()
    return tuple(
        key for key in FLOW_KEYS_125.get(bundle.flow, ()) if STATUS_STATE.get(key) not in forbidden
    )


def missing_keys(bundle: Bundle) -> Iterator[Finding]:
    """The validator's "Missing required data" findings of a 1.2.5 bundle."""
    routing = routing_of(bundle)
    for key in checked_keys(bundle):
        if key in bundle.payload:
            continue
        state = STATUS_STATE.get(key)
        if state is not None and key.startswith("on_status_") and key != (
            "on_status_rto_delivered/disposed"
        ):
            if routing and state in ROUTING_STATES[routing]["required"]:
                yield Finding("bundle.missing_key", SOURCE, key, "",
                              f"Missing required data of : {key} (Required for {routing} "
                              "routing)")
            continue
        yield Finding("bundle.missing_key", SOURCE, key, "", f"Missing required data of : {key}")
