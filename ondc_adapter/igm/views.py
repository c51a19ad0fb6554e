"""An issue as the seller reads it: the same dictionaries for ``ondc-adapter issues`` and the
``/admin/issues`` API (pure; JSON-ready).

``detail`` is one issue: its summary (status, level, order, deadlines), the actions in the
order they were taken, the resolutions proposed, the events (every message in and out, with
its message id) and the issue as last exchanged on the wire. ``queued`` says what a seller
action put into the outbox.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ondc_adapter.exchange import OutboundMessage
from ondc_adapter.igm import service
from ondc_adapter.igm.tables import IssueEvent, IssueRecord

# The seller's text that becomes a short_desc in an on_issue (a question, a resolution's words):
# as long as IGM allows, and no control characters besides line breaks and tabs (a NUL cannot
# be stored in PostgreSQL's JSON; an escape sequence would reach the terminals that show it).
TEXT_MAX = 500
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"


def text_problem(text: str | None) -> str | None:
    """Why the seller's ``text`` cannot go into an on_issue (None when it can)."""
    if text is None:
        return None
    if not 1 <= len(text) <= TEXT_MAX:
        return f"must be 1 to {TEXT_MAX} characters"
    if not re.match(TEXT_PATTERN, text):
        return "must not contain control characters"
    return None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def actions(issue: dict[str, Any]) -> list[dict[str, Any]]:
    """Each action of the issue, in order: who did what, when, and what it refers to."""
    out = []
    for action in issue.get("actions") or []:
        descriptor = action.get("descriptor") or {}
        out.append(
            {
                "id": action.get("id"),
                "code": descriptor.get("code"),
                "short_desc": descriptor.get("short_desc"),
                "by": action.get("action_by"),
                "at": action.get("updated_at"),
                **({"ref_id": action["ref_id"]} if action.get("ref_id") else {}),
            }
        )
    return out


def resolutions(issue: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for res in issue.get("resolutions") or []:
        details = {
            str((entry.get("descriptor") or {}).get("code")): entry.get("value")
            for tag in res.get("tags") or []
            for entry in tag.get("list") or []
        }
        out.append(
            {
                "id": res.get("id"),
                "kind": (res.get("descriptor") or {}).get("code"),
                "short_desc": (res.get("descriptor") or {}).get("short_desc"),
                "proposed_by": res.get("proposed_by"),
                **({"amount": details["REFUND_AMOUNT"]} if "REFUND_AMOUNT" in details else {}),
                **({"item_id": details["ITEM"]} if "ITEM" in details else {}),
            }
        )
    return out


def event(row: IssueEvent) -> dict[str, Any]:
    return {
        "direction": row.direction,
        "code": row.code,
        "action_id": row.action_id,
        "actor": row.actor,
        "summary": row.summary,
        "message_id": row.message_id,
        "at": row.at.isoformat(),
    }


def summary(record: IssueRecord, now: datetime, warn_fraction: float) -> dict[str, Any]:
    """``service.summary`` and the rest of the record's own columns."""
    return {
        **service.summary(record, now, warn_fraction),
        "transaction_id": record.transaction_id,
        "domain": record.domain,
        "updated_at": record.updated_at.isoformat(),
        "responded_at": _when(record.responded_at),
        "resolved_at": _when(record.resolved_at),
        "closed_at": _when(record.closed_at),
        "accepted_resolution": record.accepted_resolution,
    }


def detail(
    record: IssueRecord, events: list[IssueEvent], now: datetime, warn_fraction: float
) -> dict[str, Any]:
    return {
        "issue": summary(record, now, warn_fraction),
        "actions": actions(record.issue),
        "resolutions": resolutions(record.issue),
        "events": [event(e) for e in events],
        "wire": record.issue,
    }


def queued(messages: list[OutboundMessage]) -> list[dict[str, Any]]:
    """What a seller action queued: each ``on_issue`` with the action it carries."""
    out = []
    for message in messages:
        issue = message.payload.get("message", {}).get("issue") or {}
        last = (issue.get("actions") or [{}])[-1]
        out.append(
            {
                "action": message.action,
                "message_id": message.message_id,
                "code": (last.get("descriptor") or {}).get("code"),
                "status": issue.get("status"),
            }
        )
    return out
