"""What the buyer app's requests carry in retail 1.2.5 and not in 1.2.0 (issue 16).

``builders.py`` builds every request; where a 1.2.5 flow (``state.core_version``) needs
more, it asks this module, so a 1.2.0 request keeps its shape exactly. What is here, and the
validator's 1.2.5 checker that asks for it (docs/retail-1.2.5/rules.md):

* search: a ``bap_terms`` tag group with ``static_terms``, ``static_terms_new`` (two different
  URLs) and an ``effective_date`` in the future: Search/search.ts runs ``validateTermsList`` on
  it whenever the intent has tags, so a search without it is refused;
* select: ``order.offers`` naming the offers the buyer applies, each with the ``selection``
  tag ``apply: yes`` (Select/select.ts refuses an offer without it);
* init and confirm repeat the select's offers; confirm carries the search's finder fee in
  ``payment`` (Confirm/confirm.ts: "Buyer App Finder fee can't change");
* cancel reasons the 1.2.5 cancel checker takes, return reasons from the 1.2.5 list (002 to
  005, constants/reasonCodeRet1.2.5.ts).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.sandbox import paths
from ondc_adapter.sandbox.flow_state import BuildError, FlowState

VERSION = "1.2.5"

# The buyer app's static terms, old and new (validateTermsList: two different http(s) URLs)
STATIC_TERMS = "https://github.com/ONDC-Official/NP-Static-Terms/buyerNP_BNP/1.0/tc.pdf"
STATIC_TERMS_NEW = "https://github.com/ONDC-Official/NP-Static-Terms/buyerNP_BNP/2.0/tc.pdf"
# validateTermsList wants effective_date after the moment it runs (wall clock, not the
# request's timestamp): a year ahead keeps an exported bundle valid for that long.
TERMS_EFFECTIVE_IN = timedelta(days=365)

# Cancel reasons a buyer app may give in 1.2.5. reasonCodeRet1.2.5.ts lists 051, 052, 053 and
# 999 for buyer apps; the validator's 1.2.5 cancel checker (Cancel/cancel.ts) holds the reason
# to constants' buyerCancellationRid, whose stored copies disagree (1.2.0's 001, 003, 006, 009,
# 010 in one; 051, 052, 053, 999, 010 in another). A buyer app being certified sends the one
# code every copy takes: 010 (the buyer wants to modify the order's details).
BUYER_CANCEL_REASONS = frozenset({"010"})
DEFAULT_CANCEL_REASON = "010"
# return_request_reasonCodes of the 1.2.5 list
RETURN_REASONS = frozenset({"002", "003", "004", "005"})
DEFAULT_RETURN_REASON = "003"


def speaks_125(state: FlowState) -> bool:
    return state.core_version == VERSION


def bap_terms(state: FlowState) -> dict[str, Any]:
    effective = format_timestamp(state.now() + TERMS_EFFECTIVE_IN)
    return {
        "code": "bap_terms",
        "list": [
            {"code": "static_terms", "value": STATIC_TERMS},
            {"code": "static_terms_new", "value": STATIC_TERMS_NEW},
            {"code": "effective_date", "value": effective},
        ],
    }


# 1.2.5's search schema (schema/Retail_1.2.5/RET/search.ts) names the buyer app's feature group
# ``bnp_features`` (1.2.0's ``bap_features``), with the feature-discovery list's "000".
FEATURES_125 = {"code": "bnp_features", "list": [{"code": "000", "value": "yes"}]}


def search_tags(state: FlowState, tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A search's intent tags: 1.2.0's as they are; 1.2.5's with the feature group under its
    1.2.5 name and ``bap_terms`` added."""
    if not speaks_125(state):
        return tags
    renamed = [dict(FEATURES_125) if t.get("code") == "bap_features" else t for t in tags]
    return [*renamed, bap_terms(state)]


def _offers_of(provider: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in provider.get("offers") or [] if isinstance(o, dict) and o.get("id")]


def selected_offers(state: FlowState, provider: dict[str, Any], offer: str) -> list[dict[str, Any]]:
    """``order.offers`` of a select applying ``offer``: an offer id of the provider's catalogue,
    or an offer type (``descriptor.code``: discount, buyXgetY...) for its first offer of that
    type. An offer the catalogue does not show cannot be applied: the flow says so."""
    if not speaks_125(state):
        raise BuildError(f"offers are retail {VERSION}; this flow speaks {state.core_version}")
    offers = _offers_of(provider)
    chosen = next((o for o in offers if str(o["id"]) == offer), None) or next(
        (o for o in offers if paths.get(o, "descriptor.code", None) == offer), None
    )
    if chosen is None:
        shown = [f"{o['id']} ({paths.get(o, 'descriptor.code', '?')})" for o in offers]
        raise BuildError(
            f"provider {provider.get('id')} shows no offer {offer!r} in on_search "
            f"(it shows {shown or 'none'})"
        )
    return [{
        "id": chosen["id"],
        "tags": [{"code": "selection", "list": [{"code": "apply", "value": "yes"}]}],
    }]


def carry_offers(state: FlowState, select: dict[str, Any], order: dict[str, Any]) -> None:
    """init and confirm repeat the offers the select applied (the validator compares them
    with on_search's by id)."""
    if speaks_125(state) and select.get("offers"):
        order["offers"] = [dict(o) for o in select["offers"]]


def finder_fee(state: FlowState, payment: dict[str, Any]) -> None:
    """confirm's payment carries the finder fee the search declared, unchanged."""
    if not speaks_125(state):
        return
    search = state.last.get("search")
    declared = paths.get(search, "message.intent.payment", None) if search else None
    if not isinstance(declared, dict):
        raise BuildError("confirm needs the flow's search (its finder fee)")
    for key in ("@ondc/org/buyer_app_finder_fee_type", "@ondc/org/buyer_app_finder_fee_amount"):
        if key in declared:
            payment[key] = declared[key]


def cancel_reason(state: FlowState, reason: str | None, default_120: str) -> str:
    """The cancel's reason: as the flow gives it, else the version's default; a 1.2.5 flow
    may only give one the validator's 1.2.5 cancel checker takes."""
    if not speaks_125(state):
        return reason or default_120
    chosen = reason or DEFAULT_CANCEL_REASON
    if chosen not in BUYER_CANCEL_REASONS:
        raise BuildError(f"cancel reason {chosen} is refused by the validator's retail {VERSION} "
                         f"cancel checker (it takes {', '.join(sorted(BUYER_CANCEL_REASONS))})")
    return chosen


def return_request_extras(state: FlowState) -> list[dict[str, str]]:
    """What a 1.2.5 return request adds to 1.2.0's list: ``exchange`` says whether the unit
    is traded in against an exchange offer (then with its brand, model and condition) or,
    as here, simply returned (ONDC's 1.2.5 update checker wants the code either way)."""
    return [{"code": "exchange", "value": "no"}] if speaks_125(state) else []


def return_reason(state: FlowState, reason: str | None, default_120: str) -> str:
    if not speaks_125(state):
        return reason or default_120
    chosen = reason or DEFAULT_RETURN_REASON
    if chosen not in RETURN_REASONS:
        raise BuildError(f"return reason {chosen} is not a retail {VERSION} return reason "
                         f"(have {', '.join(sorted(RETURN_REASONS))})")
    return chosen
