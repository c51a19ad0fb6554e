"""Cancellation, return and return-rejection reason codes, reverse QC outcomes, rating
categories (protocol.md 4.8, 4.9, 4.11).

Who may use a cancellation code matters: a buyer app sending a seller-only code gets 30012, and
RTO-triggering codes after pickup send the parcel back to origin instead of simply cancelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Party(StrEnum):
    BUYER = "buyer"  # the buyer NP (BNP)
    SELLER = "seller"  # us, the seller NP (SNP), or the merchant acting through us
    LSP = "lsp"  # the logistics provider (the seller forwards these when it self-delivers)
    SYSTEM = "system"  # order-confirmation failures (996-999)


@dataclass(frozen=True, slots=True)
class CancelReason:
    code: str
    text: str
    parties: frozenset[Party]
    part_cancel: bool = False  # may cancel some items only (merchant part-cancel)
    rto: bool = False  # after pickup the parcel returns to origin


def _r(
    code: str, text: str, *parties: Party, part: bool = False, rto: bool = False
) -> CancelReason:
    return CancelReason(code, text, frozenset(parties), part_cancel=part, rto=rto)


B, S, L, X = Party.BUYER, Party.SELLER, Party.LSP, Party.SYSTEM

CANCEL_REASONS: dict[str, CancelReason] = {
    r.code: r
    for r in (
        _r("001", "Price changed: buyer asked to pay more", B),
        _r("002", "One or more items in the Order not available", S, part=True),
        _r("003", "Product available at lower than order price", B, rto=True),
        _r("005", "Merchant rejected the order", S),
        _r("006", "Order not received as per buyer app TAT SLA", B, rto=True),
        _r("007", "Order not received as per buyer app TAT SLA (logistics)", L, rto=True),
        _r("008", "Order not ready for pickup", L),
        _r("009", "Wrong product delivered", B, rto=True),
        _r("010", "Buyer wants to modify address / other order details", B, rto=True),
        _r("011", "Buyer not found or cannot be contacted", L, S, rto=True),
        _r("012", "Buyer does not want product any more", L, S, part=True, rto=True),
        _r("013", "Buyer refused to accept delivery", L, S, rto=True),
        _r("014", "Address not found", L, S, rto=True),
        _r("015", "Buyer not available at location", L, S, rto=True),
        _r("016", "Accident / rain / strike / vehicle issues", L),
        _r("017", "Order delivery delayed or not possible", L),
        _r("018", "Delivery pin code not serviceable", S),
        _r("019", "Pickup pin code not serviceable", S),
        _r("020", "Order lost in transit", L, S),
        _r("021", "Packed order not complete", L),
        _r("022", "Payment failed", S),
        _r("996", "Order confirmation failure (logistics buyer NP)", X),
        _r("997", "Order confirmation failure (logistics)", X),
        _r("998", "Order confirmation failure (seller NP)", X),
        _r("999", "Order confirmation failure (buyer NP)", X),
    )
}

# protocol.md 4.8: "RTO-triggering: 003, 006, 007, 009-015".
RTO_REASONS = frozenset(code for code, r in CANCEL_REASONS.items() if r.rto)

# Retail 1.2.5's list (ONDC's log validator, constants/reasonCodeRet1.2.5.ts): fewer codes,
# some with a new meaning (021-024 are the store's own troubles), the buyer app's own 051-053.
# A 1.2.5 order is cancelled with these only; USED_BY "LSP & SNP" is the seller's too. The
# 1.2.5 checker of a buyer's cancel (Cancel/cancel.ts) still wants the 1.2.0 buyer codes
# (constants ``buyerCancellationRid``: 001, 003, 006, 009, 010), so a buyer app may use either.
CANCEL_REASONS_125: dict[str, CancelReason] = {
    r.code: r
    for r in (
        *(CANCEL_REASONS[code] for code in ("001", "003", "006", "009", "010")),
        _r("002", "One or more items in the Order not available", S, part=True),
        _r("011", "Buyer not found or cannot be contacted", S, rto=True),
        _r("013", "Buyer refused to accept delivery", L, S, rto=True),
        _r("014", "Address not found", L, S, rto=True),
        _r("016", "Accident / rain / strike / vehicle issues", L),
        _r("018", "Order not serviceable", S, rto=True),
        _r("021", "Store not responsive", S),
        _r("022", "Technical issue in merchant device", S),
        _r("023", "Order received during non-operational hours", S),
        _r("024", "Order received during store rush", S),
        _r("051", "Store is not accepting order", B),
        _r("052", "Order / fulfillment not received as per buyer app TAT SLA", B, rto=True),
        _r("053", "Buyer wants to modify address / other order details", B, rto=True),
        _r("998", "Order confirmation failure (seller NP)", X),
        _r("999", "Order confirmation failure (buyer NP)", X),
    )
}
# The buyer's "not delivered in time" reason, refused before the promised time: 006 in 1.2.0,
# 052 in 1.2.5.
TAT_REASONS = frozenset({"006", "052"})


def cancel_reasons(core_version: str = "1.2.0") -> dict[str, CancelReason]:
    """The cancellation reasons of an order of ``core_version``."""
    return CANCEL_REASONS_125 if core_version == "1.2.5" else CANCEL_REASONS


def cancel_reason(code: str, party: Party, core_version: str = "1.2.0") -> CancelReason | None:
    """The reason if ``party`` may cancel an order of ``core_version`` with ``code``; the
    seller may also pass on LSP codes (it is its own LSP when it self-delivers)."""
    reason = cancel_reasons(core_version).get(code)
    if reason is None:
        return None
    allowed = set(reason.parties)
    if Party.LSP in allowed:
        allowed.add(Party.SELLER)
    return reason if party in allowed else None


# Return reasons accepted by LVU for retail 1.2.0 (protocol.md 4.9); the wording is the common
# reading of the codes, the codes are what is checked.
RETURN_REASONS: dict[str, str] = {
    "001": "Buyer does not want product any more",
    "002": "Product available at lower than order price",
    "003": "Product damaged or not in usable state",
    "004": "Product is of incorrect quantity or size",
    "005": "Product delivered is different from what was shown and ordered",
}

# Retail 1.2.5 return reasons (reasonCodeRet1.2.5.ts return_request_reasonCodes): 001 is gone.
RETURN_REASONS_125: dict[str, str] = {k: v for k, v in RETURN_REASONS.items() if k != "001"}


def return_reasons(core_version: str = "1.2.0") -> dict[str, str]:
    return RETURN_REASONS_125 if core_version == "1.2.5" else RETURN_REASONS


# Why the seller rejects a return (Return_Rejected). protocol.md 4.9 says a rejection carries
# "rejection reason codes" without listing them; ONDC's log validator accepts the codes 001-005,
# 007 and 008 (``return_rejected_request_reasonCodes``) but publishes no meanings. The codes used
# here are within that list; the texts are the adapter's own (UNVERIFIED wording). The code goes
# in the Return fulfillment's ``return_rejection`` tag and in the journal.
RETURN_REJECTION_REASONS: dict[str, str] = {
    "001": "Images do not show the reported problem",
    "002": "Item shows signs of use, damage or alteration by the buyer",
    "003": "Return window is over",
    "004": "Item is not returnable under its return policy",
    "005": "Reason given does not apply to this item",
}

# Retail 1.2.5's rejection codes (reasonCodeRet1.2.5.ts return_rejected_request_reasonCodes:
# 002, 051, 021, 022, 023). The validator gives no meanings; these texts are the adapter's own
# reading of the 1.2.5 cancellation codes of the same numbers (UNVERIFIED wording).
RETURN_REJECTION_REASONS_125: dict[str, str] = {
    "002": "Item is not returnable or its return window is over",
    "021": "Store not responsive to the return request",
    "022": "Technical issue in merchant device",
    "023": "Return requested during non-operational hours",
    "051": "Store is not accepting this return",
}


def return_rejection_reasons(core_version: str = "1.2.0") -> dict[str, str]:
    return RETURN_REJECTION_REASONS_125 if core_version == "1.2.5" else RETURN_REJECTION_REASONS


# The seller's reverse QC outcome when a returned item comes back (Return_Delivered: passed,
# refund and stock back; Return_Failed: failed, no refund). See ``returns`` for the rules.
QC_PASSED = "passed"
QC_FAILED = "failed"
QC_RESULTS = (QC_PASSED, QC_FAILED)

RATING_CATEGORIES = ("Item", "Order", "Fulfillment", "Provider", "Agent")
RATING_VALUES = range(1, 6)


def rating_value(value: str | int) -> int | None:
    """1..5 as an int, or None when the value is not a whole number in range."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number in RATING_VALUES else None
