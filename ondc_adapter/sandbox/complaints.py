"""The sandbox buyer app's side of IGM 2.0.0: the ``issue`` messages a complainant sends (pure).

A buyer app keeps the issue as last received (our ``on_issue``) and sends it back with its own
action appended. Timestamps follow ONDC's log validator for an ``issue``: ``created_at`` never
changes, and ``updated_at`` equals the new action's time and the request's
``context.timestamp``; in the opening ``issue`` ``updated_at`` is ``created_at`` itself.
"""

from __future__ import annotations

import copy
from typing import Any

from ondc_adapter.igm import wire

CONSUMER_ID = "CONSUMER-1"
BUYER_NP_ID = "BUYER-NP-1"
CLOSURE = [
    {
        "descriptor": {"code": "CLOSURE_DETAILS"},
        "list": [{"descriptor": {"code": "RATING"}, "value": "THUMBS_UP"}],
    }
]
# ONDC's issue categories for retail items (IGM 2.0.0 enums): ITM004 "product quality"
CATEGORIES = {"ITM004": ("Issue with product quality", "The item arrived damaged")}


def _actor(
    actor_id: str, kind: str, *, org: str, name: str, phone: str, email: str
) -> dict[str, Any]:
    return {
        "id": actor_id,
        "type": kind,
        "info": {
            "org": {"name": org},
            "person": {"name": name},
            "contact": {"phone": phone, "email": email},
        },
    }


def opening_issue(
    *,
    issue_id: str,
    bap_id: str,
    domain: str,
    now: str,
    order: dict[str, Any],
    category: str = "ITM004",
    image_url: str,
) -> dict[str, Any]:
    """``message`` of the first ``issue``: about the first item of ``order`` (the on_confirm
    order object), raised by the consumer through this buyer app."""
    item = order["items"][0]
    fulfillment = item.get("fulfillment_id") or order["fulfillments"][0]["id"]
    short, long = CATEGORIES[category]
    org = f"{bap_id}::{domain}"
    return {
        "issue": {
            "id": issue_id,
            "status": "OPEN",
            "level": "ISSUE",
            "created_at": now,
            "updated_at": now,
            "expected_response_time": {"duration": "PT2H"},
            "expected_resolution_time": {"duration": "P1D"},
            "refs": [
                {"ref_id": order["id"], "ref_type": "ORDER"},
                {"ref_id": order["provider"]["id"], "ref_type": "PROVIDER"},
                {"ref_id": fulfillment, "ref_type": "FULFILMENT"},
                {
                    "ref_id": item["id"],
                    "ref_type": "ITEM",
                    "tags": [
                        {
                            "descriptor": {"code": "message.order.items"},
                            "list": [
                                {
                                    "descriptor": {"code": "quantity.selected.count"},
                                    "value": str(item["quantity"]["count"]),
                                }
                            ],
                        }
                    ],
                },
            ],
            "actors": [
                _actor(
                    CONSUMER_ID,
                    "CONSUMER",
                    org=org,
                    name="Asha Devi",
                    phone="9886098860",
                    email="asha@example.com",
                ),
                _actor(
                    BUYER_NP_ID,
                    "INTERFACING_NP",
                    org=org,
                    name="Buyer app support",
                    phone="9886012345",
                    email=f"support@{bap_id}",
                ),
            ],
            "source_id": CONSUMER_ID,
            "complainant_id": BUYER_NP_ID,
            "descriptor": {
                "code": category,
                "short_desc": short,
                "long_desc": long,
                "images": [{"url": image_url, "size_type": "xs"}],
            },
            "last_action_id": "B1",
            "actions": [
                {
                    "id": "B1",
                    "descriptor": {"code": "OPEN", "short_desc": "Complaint created"},
                    "updated_at": now,
                    "action_by": BUYER_NP_ID,
                    "actor_details": {"name": "Asha Devi"},
                }
            ],
        }
    }


def next_issue(
    last: dict[str, Any],
    *,
    code: str,
    now: str,
    short_desc: str,
    legacy_names: bool = True,
    ref_id: str | None = None,
    ref_type: str | None = None,
    images: list[str] | None = None,
) -> dict[str, Any]:
    """``message`` of a later ``issue``: the issue as last received (``last``, the on_issue's
    ``message.issue``) with the buyer's action ``code`` appended."""
    issue = copy.deepcopy(last)
    issue.pop("description", None)
    issue["actions"] = [
        {k: v for k, v in a.items() if k != "description"} for a in issue.get("actions", [])
    ]
    n = sum(1 for a in issue["actions"] if a.get("action_by") == BUYER_NP_ID) + 1
    taken = {str(a.get("id")) for a in issue["actions"]}
    while f"B{n}" in taken:  # an action the buyer app sent under another action_by
        n += 1
    action: dict[str, Any] = {"id": f"B{n}"}
    if ref_id is not None:
        action["ref_id"] = ref_id
    if ref_type is not None:
        action["ref_type"] = ref_type
    descriptor: dict[str, Any] = {"code": code, "short_desc": short_desc}
    if images:
        descriptor["images"] = [{"url": u, "size_type": "xs"} for u in images]
    action.update(
        {
            "descriptor": descriptor,
            "updated_at": now,
            "action_by": BUYER_NP_ID,
            "actor_details": {"name": "Asha Devi"},
        }
    )
    if code == "CLOSED":
        action["tags"] = CLOSURE
    issue["actions"].append(action)
    issue["last_action_id"] = action["id"]
    issue["updated_at"] = now
    if code == "ESCALATED":
        issue["level"], issue["status"] = "GRIEVANCE", "OPEN"
    elif code == "CLOSED":
        issue["status"] = "CLOSED"
    else:
        issue["status"] = "PROCESSING" if issue.get("status") == "OPEN" else issue["status"]
    # the same message shape, and pre-April-2025 twin names, as the node's own on_issue
    return wire.on_issue_message(issue, legacy_names=legacy_names)


def with_legacy_opening(message: dict[str, Any]) -> dict[str, Any]:
    """The opening ``issue`` with the pre-April-2025 ``description`` twins (see igm.wire)."""
    return {**message, "issue": wire.with_legacy_names(copy.deepcopy(message["issue"]))}


# -- the buyer app as respondent (IGM flow 2: the seller complains) ---------------------------

BUYER_SUPPORT_ID = "BUYER-NP-1"
BUYER_GRO_ID = "BUYER-NP-1-GRO"


def answered(
    last: dict[str, Any],
    *,
    bap_id: str,
    domain: str,
    code: str,
    now: str,
    short_desc: str,
    gro: bool = False,
    resolution: dict[str, Any] | None = None,
    legacy_names: bool = True,
) -> dict[str, Any]:
    """``message`` of the buyer app's ``on_issue`` to a seller's complaint: the issue as last
    received with the buyer app's action appended, by its support desk or, once the issue is
    a grievance, by its GRO. ``on_issue`` times: ``context.timestamp == updated_at == the
    action's time``, later than ``created_at``."""
    issue = copy.deepcopy(last)
    issue.pop("description", None)
    actions = [{k: v for k, v in a.items() if k != "description"} for a in issue["actions"]]
    org = f"{bap_id}::{domain}"
    support = _actor(
        BUYER_SUPPORT_ID,
        "COUNTERPARTY_NP",
        org=org,
        name="Buyer app support",
        phone="9886012345",
        email=f"support@{bap_id}",
    )
    officer = _actor(
        BUYER_GRO_ID,
        "COUNTERPARTY_NP_GRO",
        org=org,
        name="Buyer app GRO",
        phone="9886054321",
        email=f"gro@{bap_id}",
    )
    actors = [a for a in issue["actors"] if a["id"] not in (BUYER_SUPPORT_ID, BUYER_GRO_ID)]
    issue["actors"] = [*actors, support, *([officer] if gro else [])]
    issue["respondent_ids"] = [BUYER_SUPPORT_ID]
    by = BUYER_GRO_ID if gro else BUYER_SUPPORT_ID
    n = sum(1 for a in actions if a.get("action_by") in (BUYER_SUPPORT_ID, BUYER_GRO_ID)) + 1
    action: dict[str, Any] = {"id": f"R-A{n}"}
    if resolution is not None:
        issue["resolutions"] = [*issue.get("resolutions", []), resolution]
        action.update({"ref_id": resolution["id"], "ref_type": "RESOLUTIONS"})
    elif code == "RESOLVED":
        proposed = [a for a in actions if a["descriptor"]["code"] == "RESOLUTION_PROPOSED"]
        if proposed:
            action.update({"ref_id": proposed[-1].get("ref_id"), "ref_type": "RESOLUTIONS"})
    action.update(
        {
            "descriptor": {"code": code, "short_desc": short_desc},
            "updated_at": now,
            "action_by": by,
            "actor_details": {"name": "Buyer app GRO" if gro else "Buyer app support"},
        }
    )
    issue["actions"] = [*actions, action]
    issue["last_action_id"] = action["id"]
    issue["updated_at"] = now
    issue["status"] = "RESOLVED" if code == "RESOLVED" else "PROCESSING"
    # the same message shape, and pre-April-2025 twin names, as the node's own on_issue
    return wire.on_issue_message(issue, legacy_names=legacy_names)


def resolution(
    resolution_id: str,
    *,
    now: str,
    by: str,
    code: str = "NOW-VISIBLE",
    short_desc: str = "The store is visible again",
) -> dict[str, Any]:
    return {
        "id": resolution_id,
        "descriptor": {"code": code, "short_desc": short_desc},
        "updated_at": now,
        "proposed_by": by,
    }
