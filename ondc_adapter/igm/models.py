"""The IGM 2.0.0 ``issue`` message, as this node reads it and writes it back.

Shapes follow ONDC's IGM 2.0.0 specification after its 22 April 2025 change (``descriptor`` on
issues and actions, images as ``{url, size_type}``) and the rules of ONDC's log validator. The
older names are still read, because buyer apps moved at their own pace: an issue or action
that carries only ``description`` is taken as its ``descriptor``, and ``updated_target`` as
``update_target``.

Every model ignores fields it does not know (a newer buyer app may add some) but bounds what it
does know: lengths, enumerations, URL schemes, 10-digit phones are not required from buyers
(``+91`` prefixes are common), yet nothing unbounded reaches the database or a log.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ondc_adapter.protocol.durations import parse_duration, parse_timestamp

IssueStatus = Literal["OPEN", "PROCESSING", "RESOLVED", "CLOSED"]
IssueLevel = Literal["ISSUE", "GRIEVANCE", "DISPUTE"]
ActionCode = Literal[
    "OPEN",
    "PROCESSING",
    "CLOSED",
    "CLOSE",
    "CASCADED",
    "INFO_REQUESTED",
    "INFO_PROCESSING",
    "INFO_PROVIDED",
    "INFO_NOT_AVAILABLE",
    "RESOLUTION_PROPOSED",
    "RESOLUTION_FORWARDED",
    "RESOLUTION_PROCESSING",
    "RESOLUTION_ACCEPTED",
    "RESOLUTION_REJECTED",
    "RESOLUTION_CASCADED",
    "RESOLVED",
    "ESCALATED",
]
ActorType = Literal[
    "CONSUMER",
    "INTERFACING_NP",
    "COUNTERPARTY_NP",
    "CASCADED_NP",
    "PROVIDER",
    "SELLER",
    "AGENT",
    "INTERFACING_NP_GRO",
    "COUNTERPARTY_NP_GRO",
    "CASCADED_NP_GRO",
]
RefType = Literal[
    "ORDER",
    "ITEM",
    "FULFILMENT",
    "FULFILLMENT",
    "PROVIDER",
    "TRANSACTION",
    "TRANSACTION_ID",
    "MESSAGE_ID",
    "PAYMENT",
    "AGENT",
    "CUSTOMER",
    "CONSUMER",
    "COMPLAINT",
    "ISSUE",
    "ACTION",
]
ResolutionCode = Literal[
    "REFUND",
    "REPLACEMENT",
    "RETURN",
    "CANCEL",
    "NO_ACTION",
    "PARENT",
    "NOW-VISIBLE",
    "NOW_VISIBLE",
    "CBIL_CORRECTION",
    "ENACH_CANCEL",
    "RECONCILED",
    "NOT_RECONCILED",
]

_SHORT = 500
_LONG = 5000
_ID = r"^[\x21-\x7e]{1,128}$"


def _check_url(value: str) -> str:
    # Only web URLs: a javascript:/data:/file: "image" is refused, not stored and echoed.
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL without spaces")
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Image(Model):
    url: str = Field(max_length=2048)
    size_type: Literal["xs", "sm", "md", "lg", "xl", "custom"] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class Descriptor(Model):
    code: str = Field(min_length=1, max_length=64)
    short_desc: str = Field(min_length=1, max_length=_SHORT)
    long_desc: str | None = Field(default=None, max_length=_LONG)
    name: str | None = Field(default=None, max_length=_SHORT)
    images: list[Image] = Field(default_factory=list, max_length=20)

    @field_validator("images", mode="before")
    @classmethod
    def _images(cls, value: Any) -> Any:
        # the pre-April-2025 shape: a list of URL strings
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value


class TagItem(Model):
    descriptor: dict[str, Any] = Field(default_factory=dict)
    value: str | None = Field(default=None, max_length=_SHORT)


class Tag(Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    descriptor: dict[str, Any] = Field(default_factory=dict)
    entries: list[TagItem] = Field(default_factory=list, max_length=50, alias="list")


class Ref(Model):
    ref_id: str = Field(min_length=1, max_length=128)
    ref_type: RefType
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class Contact(Model):
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,19}$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class Named(Model):
    name: str = Field(min_length=1, max_length=_SHORT)


class ActorInfo(Model):
    org: Named | None = None
    person: Named | None = None
    contact: Contact | None = None


class Actor(Model):
    id: str = Field(pattern=_ID)
    type: ActorType
    info: ActorInfo


class Duration(Model):
    duration: str

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


def _descriptor_from_description(data: Any) -> Any:
    """``description`` (before 22 April 2025) is read as ``descriptor``."""
    if isinstance(data, dict) and "descriptor" not in data and "description" in data:
        return {**data, "descriptor": data["description"]}
    return data


class Action(Model):
    id: str = Field(pattern=_ID)
    ref_id: str | None = Field(default=None, max_length=128)
    ref_type: str | None = Field(default=None, max_length=32)
    descriptor: Descriptor
    updated_at: str
    action_by: str = Field(min_length=1, max_length=128)
    actor_details: Named | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return _descriptor_from_description(data)

    @field_validator("updated_at")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @property
    def code(self) -> str:
        return self.descriptor.code


class Resolution(Model):
    id: str = Field(pattern=_ID)
    ref_id: str | None = Field(default=None, max_length=128)
    ref_type: str | None = Field(default=None, max_length=32)
    descriptor: Descriptor
    updated_at: str | None = None
    proposed_by: str | None = Field(default=None, max_length=128)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class Issue(Model):
    id: str = Field(pattern=_ID)
    status: IssueStatus
    level: IssueLevel = "ISSUE"
    created_at: str
    updated_at: str
    expected_response_time: Duration | None = None
    expected_resolution_time: Duration | None = None
    refs: list[Ref] = Field(min_length=1, max_length=50)
    actors: list[Actor] = Field(min_length=1, max_length=20)
    source_id: str = Field(min_length=1, max_length=128)
    complainant_id: str = Field(min_length=1, max_length=128)
    respondent_ids: list[str] = Field(default_factory=list, max_length=20)
    resolver_ids: list[str] = Field(default_factory=list, max_length=20)
    descriptor: Descriptor
    last_action_id: str = Field(min_length=1, max_length=128)
    actions: list[Action] = Field(min_length=1, max_length=200)
    resolutions: list[Resolution] = Field(default_factory=list, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return _descriptor_from_description(data)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Issue:
        if self.last_action_id != self.actions[-1].id:
            raise ValueError("last_action_id must be the id of the last action")
        ids = {a.id for a in self.actors}
        if self.complainant_id not in ids:
            raise ValueError("complainant_id must be the id of one of the actors")
        if len({a.id for a in self.actions}) != len(self.actions):
            raise ValueError("action ids must be unique")
        return self

    @property
    def last_action(self) -> Action:
        return self.actions[-1]

    def refs_of(self, ref_type: str) -> list[str]:
        spellings = {"FULFILMENT": ("FULFILMENT", "FULFILLMENT")}.get(ref_type, (ref_type,))
        return [r.ref_id for r in self.refs if r.ref_type in spellings]


class UpdateTarget(Model):
    path: str = Field(max_length=128)
    action: Literal["APPENDED", "REMOVED", "MODIFIED"]


class IssueMessage(Model):
    """``message`` of ``POST /issue``."""

    issue: Issue
    update_target: list[UpdateTarget] = Field(default_factory=list, max_length=20)

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "update_target" not in data and "updated_target" in data:
            return {**data, "update_target": data["updated_target"]}
        return data


REQUEST_MODELS: dict[str, type[BaseModel]] = {"issue": IssueMessage}
# the message of `issue` and of `on_issue` alike: the whole issue, with what changed
SCHEMA_MODELS: dict[str, type[BaseModel]] = {"igm_issue_message": IssueMessage}
