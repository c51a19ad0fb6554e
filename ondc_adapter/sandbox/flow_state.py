"""What a sandbox flow has seen so far (``FlowState``), which request builders and checks read,
and the error a builder raises when the flow lacks what its request needs."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ondc_adapter.protocol.durations import format_timestamp, utcnow
from ondc_adapter.sandbox import paths


class BuildError(Exception):
    """The flow so far does not contain what this request needs (e.g. no item in stock)."""


@dataclass
class FlowState:
    """What builders and checks can see: the flow's identity and every step's message."""

    domain: str
    city: str
    bap_id: str
    bap_uri: str
    bpp_id: str | None = None
    bpp_uri: str | None = None
    core_version: str = "1.2.0"  # the scenario's: every request's context.core_version
    search_transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_id: str | None = None
    # step id -> the JSON payload sent or received at that step
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # action -> last payload of that action (requests and callbacks), for builders
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: Callable[[], datetime] = utcnow

    def latest(self, action: str) -> dict[str, Any]:
        if action not in self.last:
            raise BuildError(f"this request needs an earlier {action} in the flow")
        return self.last[action]

    def issue_id(self) -> str:
        """The id of the flow's complaint: the one its latest ``issue`` request carries."""
        issue = paths.get(self.latest("issue"), "message.issue", None)
        if not isinstance(issue, dict) or not issue.get("id"):
            raise BuildError("the latest issue request carries no message.issue.id")
        return str(issue["id"])

    def context(self, action: str, *, transaction_id: str | None = None) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "domain": self.domain,
            "country": "IND",
            "city": self.city,
            "action": action,
            "core_version": self.core_version,
            "bap_id": self.bap_id,
            "bap_uri": self.bap_uri,
            "transaction_id": transaction_id or self.transaction_id,
            "message_id": str(uuid.uuid4()),
            "timestamp": format_timestamp(self.now()),
            "ttl": "PT30S",
        }
        if action != "search" and self.bpp_id:
            ctx["bpp_id"] = self.bpp_id
            ctx["bpp_uri"] = self.bpp_uri
        return ctx


def order_of(state: FlowState, action: str) -> dict[str, Any]:
    """A copy of the ``order`` of the flow's latest ``action`` message."""
    return copy.deepcopy(state.latest(action)["message"]["order"])
