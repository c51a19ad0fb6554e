"""Words the console shows that come from data, not from a template: order and fulfillment
states, who did something, weekdays, and the reason texts of ``orders.reasons``. Marked here so
the message extraction finds them; pages translate them where they show them (``_(state)``)."""

from __future__ import annotations

from ondc_adapter.console.explain import N_
from ondc_adapter.orders.reasons import CANCEL_REASONS, RETURN_REJECTION_REASONS

ORDER_STATES = (N_("Created"), N_("Accepted"), N_("In-progress"), N_("Completed"),
                N_("Cancelled"))
FULFILLMENT_STATES = (
    N_("Pending"), N_("Packed"), N_("Agent-assigned"), N_("At-pickup"), N_("Out-for-pickup"),
    N_("Order-picked-up"), N_("In-transit"), N_("At-destination-hub"), N_("Out-for-delivery"),
    N_("Order-delivered"), N_("At-delivery"), N_("Pickup-failed"), N_("Delivery-failed"),
    N_("RTO-Initiated"), N_("RTO-Delivered"), N_("RTO-Disposed"),
    N_("Return_Initiated"), N_("Return_Approved"), N_("Return_Rejected"), N_("Liquidated"),
    N_("Return_Picked"), N_("Return_Pick_Failed"), N_("Return_Delivered"),
    N_("Return_Failed"),
)
ACTORS = (N_("buyer"), N_("seller"), N_("system"))
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
            N_("Saturday"), N_("Sunday"))


def data_messages() -> set[str]:
    """Msgids that come from data tables (reason texts): the catalogue must translate them."""
    return {r.text for r in CANCEL_REASONS.values()} | set(RETURN_REJECTION_REASONS.values())
