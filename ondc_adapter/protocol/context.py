"""The ``context`` object of retail 1.2.0 and 1.2.5 (protocol.md 3.2) and the rules a BPP
applies to it.

``Context`` checks shape and formats; ``check_context`` applies deployment policy (served
versions, our bpp_id, supported domains, clock skew) and returns the first failure as an ONDC
``Error`` with a path. Which retail version a context speaks: ``protocol/versions.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.durations import (
    format_timestamp,
    parse_duration,
    parse_timestamp,
)
from ondc_adapter.protocol.errors import Code, ErrorType
from ondc_adapter.protocol.versions import accepted_versions, not_served_message

BPP_ACTIONS = (
    "search",
    "select",
    "init",
    "confirm",
    "status",
    "track",
    "cancel",
    "update",
    "rating",
    "support",
    # a buyer app's refusal of parts of the catalogue (flows 7 and 9): ACKed, stored, and
    # answered by no on_* callback
    "catalog_rejection",
    # a complaint (IGM 2.0.0, igm/): answered by on_issue
    "issue",
    # a buyer app's answer to a complaint this node raised (IGM flow 2): recorded, not answered
    "on_issue",
)
Action = Literal[
    "search",
    "select",
    "init",
    "confirm",
    "status",
    "track",
    "cancel",
    "update",
    "rating",
    "support",
    "on_search",
    "on_select",
    "on_init",
    "on_confirm",
    "on_status",
    "on_track",
    "on_cancel",
    "on_update",
    "on_rating",
    "on_support",
    "catalog_rejection",
    "issue",
    "on_issue",
]
_FQDN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.\-_]*[A-Za-z0-9])?$")
_CITY = re.compile(r"^(?:std:\d{2,5}|\*)$")
_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")  # compiled once: validated per request


class Context(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    domain: str = Field(min_length=1, examples=["ONDC:RET16"])
    country: str = Field(pattern=r"^[A-Z]{3}$", examples=["IND"])
    city: str = Field(examples=["std:080", "*"])
    action: Action
    # any string here: a version the node does not serve gets check_context's NACK naming
    # the served ones, not a schema error
    core_version: str
    bap_id: str
    bap_uri: str
    bpp_id: str | None = None
    bpp_uri: str | None = None
    transaction_id: str
    message_id: str
    timestamp: str = Field(examples=["2023-06-03T08:00:00.000Z"])
    ttl: str | None = Field(default=None, examples=["PT30S"])
    key: str | None = None

    @field_validator("city")
    @classmethod
    def _city(cls, value: str) -> str:
        if not _CITY.match(value):
            raise ValueError("city must be std:<STD code> or *")
        return value

    @field_validator("bap_id", "bpp_id")
    @classmethod
    def _fqdn(cls, value: str | None) -> str | None:
        if value is not None and not _FQDN.match(value):
            raise ValueError("must be a subscriber id (a domain name), not a URL")
        return value

    @field_validator("bap_uri", "bpp_uri")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("transaction_id", "message_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be 1-128 printable ASCII characters without spaces")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def sent_at(self) -> datetime:
        return parse_timestamp(self.timestamp)

    @property
    def ttl_delta(self) -> timedelta:
        return parse_duration(self.ttl) if self.ttl else timedelta(seconds=30)

    def ttl_within(self, limit: timedelta) -> timedelta:
        """The ttl we honour: the request's own, never more than ``limit`` (a peer must not
        be able to keep a request fresh, or its callback retried, for months)."""
        return min(self.ttl_delta, limit)

    def callback_context(self, *, bpp_id: str, bpp_uri: str, now: datetime) -> Context:
        """The context of our ``on_<action>`` answer: same ids, our identity, a fresh time."""
        return self.model_copy(
            update={
                "action": f"on_{self.action}",
                "bpp_id": bpp_id,
                "bpp_uri": bpp_uri,
                "timestamp": format_timestamp(now),
                "ttl": self.ttl or "PT30S",
            }
        )


def check_context(
    context: Context,
    *,
    action: str,
    bpp_id: str,
    domains: list[str] | tuple[str, ...],
    core_versions: Sequence[str],
    now: datetime,
    timestamp_skew: timedelta,
    bpp_uri: str | None = None,
    max_ttl: timedelta,
) -> Error | None:
    """Deployment rules for an inbound request's context; ``None`` when it is acceptable.
    ``core_versions``: the retail versions this deployment serves (``Settings.core_versions``);
    IGM actions also take IGM's own version."""

    def err(field: str, message: str, code: Code = Code.INVALID_REQUEST) -> Error:
        return Error(
            type=ErrorType.CONTEXT, code=code.value, path=f"context.{field}", message=message
        )

    if context.action != action:
        return err("action", f"context.action {context.action!r} does not match /{action}")
    versions = accepted_versions(action, core_versions)
    if context.core_version not in versions:
        return err("core_version", not_served_message(context.core_version, versions))
    if context.domain not in domains:
        return err("domain", f"domain {context.domain!r} is not served here (serves {domains})")
    if action != "search":
        if context.bpp_id != bpp_id:
            return err("bpp_id", f"bpp_id must be {bpp_id!r}")
        if not context.bpp_uri:
            return err("bpp_uri", "bpp_uri is required after search")
        if bpp_uri is not None and context.bpp_uri.rstrip("/") != bpp_uri.rstrip("/"):
            return err("bpp_uri", f"bpp_uri must be {bpp_uri!r}")
    elif context.bpp_id is not None and context.bpp_id != bpp_id:
        return err("bpp_id", f"bpp_id must be {bpp_id!r} when present")
    if context.transaction_id == context.message_id:
        return err("message_id", "message_id must differ from transaction_id")
    sent = context.sent_at
    if sent > now + timestamp_skew:
        return err("timestamp", f"timestamp is {(sent - now).total_seconds():.1f}s in the future")
    if now - sent > max(context.ttl_within(max_ttl), timestamp_skew):
        return err(
            "timestamp",
            f"request is stale: sent {(now - sent).total_seconds():.1f}s ago, ttl {context.ttl}",
            Code.STALE_REQUEST,
        )
    return None
