"""The seller NP's commercial terms: charges, delivery promise, payment and settlement terms,
cancellation terms and ``bpp_terms`` (protocol.md 4.4-4.6).

One ``OrderPolicy`` per node; handlers take it from ``SellerDeps.extras["order_policy"]`` and
fall back to these defaults, so a deployment changes terms without touching code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from ondc_adapter.exchange import SellerDeps
from ondc_adapter.orders.quote import Charges
from ondc_adapter.orders.reasons import CANCEL_REASONS, Party
from ondc_adapter.orders.state import ROUTING_P2H2P, ROUTING_P2P, FState
from ondc_adapter.protocol.money import format_money


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    delivery_charge: Decimal = Decimal("50.00")
    packing_charge: Decimal = Decimal("0.00")
    convenience_fee: Decimal = Decimal("0.00")
    tax_rate: Decimal = Decimal("0.00")  # catalogue prices include GST
    fulfillment_category: str = "Standard Delivery"
    ship_to_delivery: str = "P2D"  # added to the longest time_to_ship for the TAT
    tracking: bool = False
    quote_ttl: str = "P1D"
    auto_accept: bool = True  # on_confirm "Accepted"; False -> "Created", seller accepts later
    # Retail 1.2.5: how a delivery travels, named in on_confirm's routing tag and fixing the
    # states the parcel may pass: "P2P" (the seller's own rider or a hyperlocal one, straight
    # to the door) or "P2H2P" (a courier through its hubs: in transit, at the destination hub,
    # out for delivery, delivery failed), the usual way an artisan's parcel goes out of town.
    routing: str = "P2P"
    # settlement (when the buyer app collects, it pays us after this window)
    settlement_basis: str = "delivery"
    settlement_window: str = "P1D"
    withholding_amount: Decimal = Decimal("10.00")
    settlement_type: str = "upi"
    # the seller's accounts (samples here; a terms file names its own, see ``load_policy``)
    upi_address: str | None = "seller@upi"
    bank_account_no: str | None = "000111222333"
    ifsc_code: str | None = "SBIN0001234"
    bank_name: str | None = "State Bank of India"
    branch_name: str | None = "MG Road, Bengaluru"
    # bpp_terms (protocol.md 4.5): seller NP GSTIN; MSN means the provider PAN is not ours
    np_type: str = "MSN"
    np_tax_number: str = "29AAACO1234A1Z5"
    default_provider_pan: str = "ABCDE1234F"
    max_liability: str = "2"
    max_liability_cap: str = "10000.00"
    mandatory_arbitration: str = "false"
    court_jurisdiction: str = "Bengaluru"
    delay_interest: str = "1000.00"
    support_uri: str | None = None
    # Retail 1.2.5 freebie / buyXgetY quote lines: False writes the spec's line (0.00 for a
    # freebie, count x item_value for buyXgetY); True writes minus the units' worth, the only
    # form ONDC's 1.2.5 on_select checker accepts, which takes that worth off what the buyer
    # pays on top of giving the units (docs/offers.md, conflicts 6 and 7): a certification
    # setting, not a commercial one
    offer_gifts_as_validator: bool = False
    # fulfillment states a buyer may cancel in, with the fee in percent of the order value
    cancellation_fees: dict[str, str] = field(
        default_factory=lambda: {
            FState.PENDING.value: "0.00",
            FState.PACKED.value: "0.00",
            FState.ORDER_PICKED_UP.value: "0.00",
            FState.OUT_FOR_DELIVERY.value: "0.00",
        }
    )

    @property
    def charges(self) -> Charges:
        return Charges(self.delivery_charge, self.packing_charge, self.convenience_fee)

    def cancellation_terms(self) -> list[dict[str, Any]]:
        # Not sent in retail 1.2.0 (ONDC's validator: "not enabled yet"); kept for 1.2.5
        # (issue 16), whose orders carry them. ``cancellation_fees`` stays a seller term.
        buyer_codes = ",".join(
            code for code, r in CANCEL_REASONS.items() if Party.BUYER in r.parties
        )
        return [
            {
                "fulfillment_state": {"descriptor": {"code": state, "short_desc": buyer_codes}},
                "reason_required": True,
                "cancellation_fee": {
                    "percentage": fee,
                    "amount": {"currency": "INR", "value": "0.00"},
                },
            }
            for state, fee in self.cancellation_fees.items()
        ]

    def settlement_details(self, beneficiary: str) -> list[dict[str, Any]]:
        """The seller-app's account for the sale amount. ``settlement_type`` names the rail
        the buyer app pays on; every account the seller gave is sent (its UPI address and its
        bank account), as in ONDC's on_cancel example: ONDC's log validator wants all of
        them on the on_cancel (``schema/Retail/Cancel/onCancel.ts``), and on_cancel's
        settlement details must equal on_init's, so they are the same from on_init on."""
        detail: dict[str, Any] = {
            "settlement_counterparty": "seller-app",
            "settlement_phase": "sale-amount",
            "settlement_type": self.settlement_type,
            "beneficiary_name": beneficiary,
        }
        if self.settlement_type == "upi" or self.upi_address:
            detail["upi_address"] = self.upi_address
        bank = {
            "settlement_bank_account_no": self.bank_account_no,
            "settlement_ifsc_code": self.ifsc_code,
            "bank_name": self.bank_name,
            "branch_name": self.branch_name,
        }
        if self.settlement_type != "upi" or all(bank.values()):
            detail.update(bank)
        return [detail]

    def bpp_terms(self, provider_pan: str | None, *, confirmed: bool = False) -> dict[str, Any]:
        entries = [
            ("max_liability", self.max_liability),
            ("max_liability_cap", self.max_liability_cap),
            ("mandatory_arbitration", self.mandatory_arbitration),
            ("court_jurisdiction", self.court_jurisdiction),
            ("delay_interest", self.delay_interest),
            ("tax_number", self.np_tax_number),
            ("provider_tax_number", provider_pan or self.default_provider_pan),
        ]
        if confirmed:
            # on_confirm's list is on_init's plus np_type (1.2.0 wants no accept_bap_terms:
            # "not required for now", ONDC's log validator)
            entries.insert(0, ("np_type", self.np_type))
        return {"code": "bpp_terms", "list": [{"code": c, "value": v} for c, v in entries]}

    def withholding(self) -> str:
        return format_money(self.withholding_amount)


ROUTINGS = (ROUTING_P2P, ROUTING_P2H2P)

SETTLEMENT_ACCOUNT_FIELDS = (
    "upi_address", "bank_account_no", "ifsc_code", "bank_name", "branch_name"
)


def policy_of(deps: SellerDeps) -> OrderPolicy:
    policy = deps.extras.get("order_policy")
    return policy if isinstance(policy, OrderPolicy) else OrderPolicy()


def load_policy(path: Path) -> OrderPolicy:
    """Seller terms from a JSON object whose keys are ``OrderPolicy`` fields. Unknown keys are
    refused (a typo must not silently fall back to a sample value)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: seller terms must be a JSON object")
    known = {f.name: f for f in fields(OrderPolicy)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"{path}: unknown seller terms {unknown}; known: {sorted(known)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        default = getattr(OrderPolicy(), name)
        if isinstance(default, Decimal):
            try:
                values[name] = Decimal(str(value))
            except ArithmeticError as exc:
                raise ValueError(f"{path}: {name} must be a decimal amount") from exc
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{path}: {name} must be true or false")
        else:
            values[name] = value
    # Accounts are the seller's own: one the file does not give is absent, never a sample
    # (every account given is sent in settlement_details).
    for name in SETTLEMENT_ACCOUNT_FIELDS:
        values.setdefault(name, None)
    if values.get("routing", ROUTINGS[0]) not in ROUTINGS:
        raise ValueError(f"{path}: routing must be one of {list(ROUTINGS)}")
    kind = values.get("settlement_type", OrderPolicy().settlement_type)
    needed = ("upi_address",) if kind == "upi" else SETTLEMENT_ACCOUNT_FIELDS[1:]
    missing = [name for name in needed if not values.get(name)]
    if missing:
        raise ValueError(f"{path}: settlement_type {kind!r} needs {missing}")
    return OrderPolicy(**values)
