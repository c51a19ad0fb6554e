"""The ``on_issue`` this node sends, built from the issue as last exchanged (pure).

An ``on_issue`` repeats the whole issue with what changed: our actor joins the actors (and
``respondent_ids``), the action we take is appended, the status, level and ``updated_at`` move
on, and proposed resolutions are listed. Timestamps follow ONDC's log validator: the new
action, ``issue.updated_at`` and the callback's ``context.timestamp`` are one instant, later
than ``created_at``.

Names from before 22 April 2025 (``description`` beside ``descriptor``, ``updated_target``
beside ``update_target``) are written too while ``legacy_names`` is on: the validator's
schemas still required them in 2025 while its code reads the new ones, and neither rejects the
other's fields. ``images`` stay out of ``description`` (the old rules wanted URL strings there).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

SUPPORT = "support"
GRO = "gro"
ACTOR_TYPES = {SUPPORT: "COUNTERPARTY_NP", GRO: "COUNTERPARTY_NP_GRO"}


@dataclass(frozen=True, slots=True)
class Officer:
    """A person of the seller who acts on issues: the support desk or the GRO."""

    role: str  # support | gro
    name: str
    email: str
    phone: str  # 10 digits


def actor_id(subscriber_id: str, role: str) -> str:
    return subscriber_id if role == SUPPORT else f"{subscriber_id}::GRO"


def actor(officer: Officer, *, subscriber_id: str, domain: str) -> dict[str, Any]:
    return {
        "id": actor_id(subscriber_id, officer.role),
        "type": ACTOR_TYPES[officer.role],
        "info": {
            # the validator wants "<subscriber_id>::<domain>" as the organisation's name
            "org": {"name": f"{subscriber_id}::{domain}"},
            "person": {"name": officer.name},
            "contact": {"phone": officer.phone, "email": officer.email},
        },
    }


def _legacy_description(descriptor: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in descriptor.items() if k in ("code", "short_desc", "long_desc")}


def with_location(context: dict[str, Any]) -> dict[str, Any]:
    """``context`` with ``location`` (country and city codes) when it lacks one: ONDC's log
    validator's ``on_issue`` schema requires it, and a buyer app may have sent only ``city``
    and ``country`` in its ``issue``."""
    if isinstance(context.get("location"), dict):
        return context
    return {
        **context,
        "location": {
            "country": {"code": context.get("country", "IND")},
            "city": {"code": context.get("city", "*")},
        },
    }


def with_legacy_names(issue: dict[str, Any]) -> dict[str, Any]:
    """Add ``description`` beside every ``descriptor`` of the issue and its actions."""
    out = dict(issue)
    if "descriptor" in out:
        out["description"] = _legacy_description(out["descriptor"])
    out["actions"] = [
        {**a, "description": _legacy_description(a["descriptor"])} if "descriptor" in a else a
        for a in out.get("actions", [])
    ]
    return out


def normalised(issue: dict[str, Any]) -> dict[str, Any]:
    """The issue as a buyer app sent it, with ``descriptor`` wherever only ``description``
    came (older buyer apps), so what we store and send back uses one name."""
    out = copy.deepcopy(issue)
    if "descriptor" not in out and isinstance(out.get("description"), dict):
        out["descriptor"] = out["description"]
    out.pop("description", None)
    actions = []
    for action in out.get("actions") or []:
        if isinstance(action, dict):
            action = dict(action)
            if "descriptor" not in action and isinstance(action.get("description"), dict):
                action["descriptor"] = action["description"]
            action.pop("description", None)
        actions.append(action)
    out["actions"] = actions
    return out


def appended(
    issue: dict[str, Any],
    *,
    action: dict[str, Any],
    status: str,
    now: str,
    officer: Officer,
    subscriber_id: str,
    domain: str,
    level: str | None = None,
    resolution: dict[str, Any] | None = None,
    also: Officer | None = None,
) -> dict[str, Any]:
    """``issue`` with our ``action`` (taken by ``officer``) appended; ``also`` joins the
    actors too (the GRO, named once a resolution is proposed, as the specification's flow 1
    shows, so the buyer knows whom to escalate to)."""
    out = copy.deepcopy(issue)
    me = actor(officer, subscriber_id=subscriber_id, domain=domain)
    joining = [me]
    if also is not None and also.role != officer.role:
        joining.append(actor(also, subscriber_id=subscriber_id, domain=domain))
    ids = {a["id"] for a in joining}
    actors = [a for a in out.get("actors", []) if a.get("id") not in ids]
    out["actors"] = [*actors, *joining]
    respondent = actor_id(subscriber_id, SUPPORT)
    if respondent not in out.get("respondent_ids", []):
        out["respondent_ids"] = [*out.get("respondent_ids", []), respondent]
    if officer.role == GRO and me["id"] not in out.get("resolver_ids", []):
        out["resolver_ids"] = [*out.get("resolver_ids", []), me["id"]]
    full = {
        **action,
        "updated_at": now,
        "action_by": me["id"],
        "actor_details": {"name": officer.name},
    }
    out["actions"] = [*out.get("actions", []), full]
    out["last_action_id"] = full["id"]
    out["status"] = status
    if level is not None:
        out["level"] = level
    out["updated_at"] = now
    if resolution is not None:
        out["resolutions"] = [*out.get("resolutions", []), resolution]
    return out


def on_issue_message(issue: dict[str, Any], *, legacy_names: bool) -> dict[str, Any]:
    target = [{"path": "issue.actions", "action": "APPENDED"}]
    message: dict[str, Any] = {"update_target": target}
    if legacy_names:
        message["updated_target"] = target
        issue = with_legacy_names(issue)
    message["issue"] = issue
    return message


def resolution(
    resolution_id: str,
    *,
    kind: str,
    short_desc: str,
    now: str,
    proposed_by: str,
    amount: str | None = None,
    item_id: str | None = None,
) -> dict[str, Any]:
    """One proposed resolution, with its details (item, refund amount) as the specification's
    ``RESOLUTION_DETAILS`` tag."""
    details = []
    if item_id:
        details.append({"descriptor": {"code": "ITEM"}, "value": item_id})
    if amount is not None:
        details.append({"descriptor": {"code": "REFUND_AMOUNT"}, "value": amount})
    out: dict[str, Any] = {
        "id": resolution_id,
        "descriptor": {"code": kind, "short_desc": short_desc},
        "updated_at": now,
        "proposed_by": proposed_by,
    }
    if details:
        out["tags"] = [{"descriptor": {"code": "RESOLUTION_DETAILS"}, "list": details}]
    return out


def refund_of(issue: dict[str, Any], resolution_id: str) -> tuple[str, str | None] | None:
    """(amount, item id) of a REFUND resolution of the issue; None for any other kind."""
    for res in issue.get("resolutions") or []:
        if res.get("id") != resolution_id:
            continue
        if (res.get("descriptor") or {}).get("code") != "REFUND":
            return None
        values: dict[str, str] = {}
        for tag in res.get("tags") or []:
            for entry in tag.get("list") or []:
                values[str((entry.get("descriptor") or {}).get("code"))] = str(entry.get("value"))
        amount = values.get("REFUND_AMOUNT")
        return (amount, values.get("ITEM")) if amount is not None else None
    return None
