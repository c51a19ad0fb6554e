"""Registry messages (protocol.md 2.3-2.5): /subscribe, /on_subscribe, /lookup and its records.

The same models serve the sandbox registry (what it accepts) and ``ondc-adapter registry
subscribe`` (what it sends), so the payload a seller sends to ONDC is the one the sandbox checks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ondc_adapter.protocol.durations import parse_timestamp

# ops_no (protocol.md 2.3): which participant types one subscribe may register.
KEY_ROTATION_OPS = 6  # replaces the keys of an already subscribed subscriber_id
OPS_TYPES: dict[int, tuple[str, ...]] = {
    1: ("buyerApp",),
    2: ("sellerApp",),
    4: ("buyerApp", "sellerApp"),
    KEY_ROTATION_OPS: ("buyerApp", "sellerApp"),
}
# v1 lookup / record naming vs subscribe naming.
TYPE_TO_LOOKUP = {"buyerApp": "BAP", "sellerApp": "BPP", "gateway": "BG"}
LOOKUP_TO_TYPE = {v: k for k, v in TYPE_TO_LOOKUP.items()}


class Operation(BaseModel):
    ops_no: int


class SubscribeContext(BaseModel):
    operation: Operation


class Gst(BaseModel):
    legal_entity_name: str
    business_address: str
    city_code: list[str]
    gst_no: str


class Pan(BaseModel):
    name_as_per_pan: str
    pan_no: str
    date_of_incorporation: str


class KeyPair(BaseModel):
    signing_public_key: str = Field(min_length=1)
    encryption_public_key: str = Field(min_length=1)
    valid_from: str
    valid_until: str

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _ts(cls, value: str) -> str:
        parse_timestamp(value)
        return value


class Entity(BaseModel):
    gst: Gst
    pan: Pan
    name_of_authorised_signatory: str
    address_of_authorised_signatory: str
    email_id: str
    mobile_no: int
    country: str
    subscriber_id: str = Field(min_length=1)
    unique_key_id: str = Field(min_length=1)
    callback_url: str = "/"
    key_pair: KeyPair


class NetworkParticipant(BaseModel):
    subscriber_url: str
    domain: str
    # Kept a plain string: an unknown type is a registry POLICY error, not a schema error.
    type: str
    msn: bool
    city_code: list[str] = Field(min_length=1)


class SubscribeMessage(BaseModel):
    request_id: str = Field(min_length=1)
    timestamp: str
    entity: Entity
    network_participant: list[NetworkParticipant] = Field(min_length=1)


class SubscribeRequest(BaseModel):
    """``POST /subscribe`` body."""

    context: SubscribeContext
    message: SubscribeMessage


class OnSubscribeRequest(BaseModel):
    """``POST <callback>/on_subscribe`` body (registry -> participant)."""

    subscriber_id: str
    challenge: str


class OnSubscribeResponse(BaseModel):
    answer: str


class LookupRequest(BaseModel):
    """``/lookup`` and ``/v2.0/lookup`` body: every field filters, all optional."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    subscriber_id: str | None = None
    ukId: str | None = None
    type: Literal["BAP", "BPP", "BG", "buyerApp", "sellerApp", "gateway"] | None = None
    domain: str | None = None
    country: str | None = None
    city: str | None = None

    def lookup_type(self) -> str | None:
        if self.type is None:
            return None
        return TYPE_TO_LOOKUP.get(self.type, self.type)


class LookupRecord(BaseModel):
    """One element of a lookup response array (protocol.md 2.5)."""

    model_config = ConfigDict(extra="allow")

    subscriber_id: str
    status: str
    ukId: str
    subscriber_url: str
    country: str = "IND"
    domain: str
    valid_from: str
    valid_until: str
    type: str
    signing_public_key: str
    # Real registries sometimes leave these out; the sandbox registry always fills them.
    encr_public_key: str | None = None
    created: str | None = None
    updated: str | None = None
    br_id: str | None = None
    city: str = "*"

    def matches(self, query: LookupRequest) -> bool:
        if query.subscriber_id and query.subscriber_id != self.subscriber_id:
            return False
        if query.ukId and query.ukId != self.ukId:
            return False
        if query.lookup_type() and query.lookup_type() != self.type:
            return False
        if query.domain and query.domain != self.domain:
            return False
        if query.country and query.country != self.country:
            return False
        # A record for "*" serves every city; a "*" query (incremental search) wants all.
        return not (query.city and "*" not in (query.city, self.city) and query.city != self.city)


VLOOKUP_FIELDS = ("country", "domain", "type", "city", "subscriber_id")


class VLookupParameters(BaseModel):
    """``search_parameters`` of ``/vlookup``: what to look up, and what the sender signed."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = None
    domain: str | None = None
    type: Literal["buyerApp", "sellerApp", "gateway", "BAP", "BPP", "BG"] | None = None
    city: str | None = None
    subscriber_id: str | None = None

    def signing_strings(self) -> list[str]:
        """What the sender may have signed (protocol.md 2.5): ONDC's Node SDK joins all five
        fields with ``|`` (a missing one as empty), its Python layer only the present ones.
        Both are accepted; with all five present they are the same string."""
        values = [getattr(self, name) for name in VLOOKUP_FIELDS]
        every = "|".join(v or "" for v in values)
        present = "|".join(v for v in values if v)
        return [every] if every == present else [every, present]

    def lookup(self) -> LookupRequest:
        """The same search as a /lookup body (type BG->gateway etc. is mapped there)."""
        return LookupRequest.model_validate(self.model_dump())


def vlookup_signing_string(parameters: VLookupParameters) -> str:
    """``country|domain|type|city|subscriber_id``: what a /vlookup client signs (no hashing)."""
    return parameters.signing_strings()[0]


class VLookupRequest(BaseModel):
    """``POST /vlookup`` body (deprecated by ONDC in favour of /v2.0/lookup, still served)."""

    sender_subscriber_id: str = Field(min_length=1)
    request_id: str = Field(min_length=1)
    timestamp: str
    search_parameters: VLookupParameters
    signature: str = Field(min_length=1)

    @field_validator("timestamp")
    @classmethod
    def _ts(cls, value: str) -> str:
        parse_timestamp(value)
        return value


class RegistryError(BaseModel):
    type: str | None = None
    code: str | None = None
    path: str | None = None
    message: str | None = None


class RegistryAck(BaseModel):
    """The registry's answer to /subscribe (ACK carries an all-null error, as ONDC's does)."""

    message: dict[str, Any]
    error: RegistryError = Field(default_factory=RegistryError)


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "registry_subscribe_request": SubscribeRequest,
    "registry_on_subscribe_request": OnSubscribeRequest,
    "registry_on_subscribe_response": OnSubscribeResponse,
    "registry_lookup_request": LookupRequest,
    "registry_vlookup_request": VLookupRequest,
    "registry_lookup_record": LookupRecord,
    "registry_subscribe_response": RegistryAck,
}
