"""What a retail 1.2.5 transaction's select, init and confirm answers carry beyond 1.2.0's
(issue 16), as ONDC's 1.2.5 log validator checks them (``utils/Retail_.1.2.5/Init/onInit.ts``,
``Confirm/onConfirm.ts``, ``Select/onSelect.ts``; docs/retail-1.2.5/rules.md). The offers in
the quote are ``offers_quote``'s; everything else that differs is here, so the 1.2.0 builders
stay as they are (a 1.2.0 transaction gets exactly the bytes it got before).

* on_init: no ``cancellation_terms`` (1.2.5 defines them, but ONDC's validators refuse them
  as "not enabled yet" in on_init, on_confirm and on_status; only flow 01E, not played here,
  wants them in on_init); ``payment.collected_by`` is not sent when the buyer app collects
  (onInit.ts refuses
  ``"BAP"`` there: "payments.collected_by not allowed in on_init when BAP"; the buyer app
  states it in confirm); when we collect (cash on delivery), ``settlement_window`` as
  ``PT<n>H`` / ``PT<n>M``, the only form onInit.ts accepts then.
* on_confirm and later: the Delivery fulfillment's ``routing`` tag (``type`` ``P2P``: the
  seller's own delivery, hyperlocal) that decides which on_status states the validator wants,
  and its ``provider_id`` (onConfirm.ts: "provider_id must be present ... as order is
  accepted").
"""

from __future__ import annotations

from typing import Any

from ondc_adapter.protocol.durations import parse_duration

ROUTING_P2P = "P2P"


def on_init_payment(payment: dict[str, Any]) -> dict[str, Any]:
    """1.2.0's on_init payment made acceptable to 1.2.5's on_init checker."""
    out = dict(payment)
    if out.get("collected_by") == "BAP":
        del out["collected_by"]
    elif out.get("collected_by") == "BPP":
        out["@ondc/org/settlement_window"] = hours_or_minutes(
            str(out.get("@ondc/org/settlement_window") or "PT24H")
        )
    return out


def hours_or_minutes(duration: str) -> str:
    """An ISO 8601 duration as ``PT<n>H`` (whole hours) or ``PT<n>M``: P1D -> PT24H."""
    seconds = int(parse_duration(duration).total_seconds())
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    return f"PT{max(seconds // 60, 1)}M"


def routing_tag(kind: str = ROUTING_P2P) -> dict[str, Any]:
    return {"code": "routing", "list": [{"code": "type", "value": kind}]}


def confirmed_delivery(
    fulfillment: dict[str, Any], provider_id: str, routing: str = ROUTING_P2P
) -> dict[str, Any]:
    """The order's Delivery fulfillment as 1.2.5 keeps it from on_confirm on: the provider
    and how the parcel travels (the seller terms' ``routing``)."""
    out = dict(fulfillment)
    out["provider_id"] = provider_id
    tags = [t for t in out.get("tags") or [] if t.get("code") != "routing"]
    out["tags"] = [*tags, routing_tag(routing)]
    return out
