"""The JSON schemas ONDC's log validator applies to IGM 2.0.0 payloads (``schema/Igm/2.0.0/
issue.ts`` and ``on_issue.ts``), transcribed, and ajv's way of reporting what they refuse.

They are the *description era* schemas (before ONDC renamed ``description`` to ``descriptor``
on 22 April 2025): the newest ``issue.ts`` read (``@0f2886b``) and the ``on_issue.ts`` the
validator ran in May 2025, which could not be read but is known from its reports (v1.2.0-logs
issue #3499 and Aurikatech's RET12 report): ``@a09467c`` with ``TRANSACTION`` among the ref
types, ``SELLER`` among the actor types, ``ESCALATED`` among the action codes, and
``description.images`` as objects needing ``url`` and ``size_type``. No schema forbids extra
fields, so a payload may carry ``descriptor`` beside ``description``, as the node's do.

Formats follow ajv-formats (``addFormats(ajv)``, its "full" mode): ``date-time`` (RFC 3339 with
a zone), ``duration`` (ISO 8601), ``email``, ``uri`` (absolute, with a scheme).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema

ISSUE_SOURCE = "schema/Igm/2.0.0/issue.ts"
ON_ISSUE_SOURCE = "schema/Igm/2.0.0/on_issue.ts"

DOMAINS = [
    "nic2004:60232", "ONDC:AGR10", "ONDC:AGR11", "ONDC:AGR12", "ONDC:FIS10", "ONDC:FIS11",
    "ONDC:FIS12", "ONDC:FIS13", "ONDC:FIS14", "ONDC:LOG10", "ONDC:LOG11", "ONDC:MEC10",
    "ONDC:MEC11", "ONDC:NTS10", "ONDC:NTS11", "ONDC:ONEST10", "ONDC:ONEST11", "ONDC:ONEST12",
    "ONDC:ONEST13", "ONDC:RET10", "ONDC:RET11", "ONDC:RET12", "ONDC:RET13", "ONDC:RET14",
    "ONDC:RET15", "ONDC:RET16", "ONDC:RET18", "ONDC:RET1A", "ONDC:RET1B", "ONDC:RET1C",
    "ONDC:RET1D", "ONDC:RET1E", "ONDC:SRV10", "ONDC:SRV11", "ONDC:SRV12", "ONDC:SRV13",
    "ONDC:SRV14", "ONDC:SRV16", "ONDC:SRV17", "ONDC:SRV18", "ONDC:TRV10", "ONDC:TRV11",
    "ONDC:TRV12", "ONDC:TRV13", "ONDC:TRV14",
]  # no ONDC:RET17 or RET19: a complaint in those domains fails the schema
ACTION_CODES = [
    "OPEN", "PROCESSING", "RESOLVED", "CLOSED", "INFO_REQUESTED", "INFO_PROVIDED",
    "INFO_NOT_AVAILABLE", "RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLUTION_REJECTED",
    "RESOLUTION_CASCADED", "ESCALATED",
]
ACTOR_TYPES = [
    "CONSUMER", "INTERFACING_NP", "COUNTERPARTY_NP", "PROVIDER", "AGENT", "INTERFACING_NP_GRO",
    "COUNTERPARTY_NP_GRO", "CASCADED_NP_GRO", "CASCADED_NP", "SELLER",
]
# FULFILMENT with one L: FULFILLMENT fails here
REF_TYPES = [
    "ORDER", "PROVIDER", "FULFILMENT", "ITEM", "AGENT", "TRANSACTION", "MESSAGE_ID",
    "COMPLAINT", "CUSTOMER", "PAYMENT", "ACTION",
]


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


_STR = {"type": "string"}
_CODE = _obj({"code": _STR}, ["code"])
_LOCATION = _obj({"country": _CODE, "city": _CODE}, ["country", "city"])
_DURATION = _obj({"duration": {"type": "string", "format": "duration"}}, ["duration"])
_REF_TAGS = {
    "type": "array",
    "items": _obj({
        "descriptor": _CODE,
        "list": {"type": "array", "items": _obj({"descriptor": _CODE, "value": _STR},
                                                ["descriptor", "value"])},
    }, ["descriptor"]),
}
_ACTOR_INFO = _obj({
    "org": _obj({"name": _STR}, ["name"]),
    "person": _obj({"name": _STR}, ["name"]),
    "contact": _obj({"phone": _STR, "email": {"type": "string", "format": "email"}},
                    ["phone", "email"]),
}, ["org", "contact"])
_TARGET = {
    "type": "array",
    "items": _obj({"path": _STR, "action": {"type": "string", "enum": ["APPENDED"]}},
                  ["path", "action"]),
}
_ISSUE_REQUIRED = [
    "id", "status", "level", "created_at", "updated_at", "expected_response_time",
    "expected_resolution_time", "refs", "actors", "source_id", "complainant_id", "description",
    "last_action_id", "actions",
]


def _issue(images: dict[str, Any]) -> dict[str, Any]:
    return _obj({
        "id": _STR,
        "status": {"type": "string", "enum": ["OPEN", "PROCESSING", "RESOLVED", "CLOSED"]},
        "level": {"type": "string", "enum": ["ISSUE", "GRIEVANCE", "DISPUTE"]},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "expected_response_time": _DURATION,
        "expected_resolution_time": _DURATION,
        "refs": {"type": "array", "items": _obj({
            "ref_id": _STR, "ref_type": {"type": "string", "enum": REF_TYPES},
            "tags": _REF_TAGS}, ["ref_id", "ref_type"])},
        "actors": {"type": "array", "items": _obj({
            "id": _STR, "type": {"type": "string", "enum": ACTOR_TYPES}, "info": _ACTOR_INFO,
        }, ["id", "type", "info"])},
        "source_id": _STR,
        "complainant_id": _STR,
        "respondent_ids": {"type": "array", "items": _STR},
        "description": _obj({
            "code": _STR, "short_desc": _STR, "long_desc": _STR,
            "additional_desc": _obj({"url": {"type": "string", "format": "uri"},
                                     "content_type": _STR}, ["url", "content_type"]),
            "images": {"type": "array", "items": images},
        }, ["code", "short_desc", "long_desc"]),
        "last_action_id": _STR,
        "actions": {"type": "array", "items": _obj({
            "id": _STR,
            "description": _obj({"code": {"type": "string", "enum": ACTION_CODES},
                                 "short_desc": _STR}, ["code", "short_desc"]),
            "updated_at": {"type": "string", "format": "date-time"},
            "action_by": _STR,
            "actor_details": _obj({"name": _STR}, ["name"]),
        }, ["id", "description", "updated_at", "action_by", "actor_details"])},
    }, _ISSUE_REQUIRED)


def _context(action: str, required: list[str]) -> dict[str, Any]:
    return _obj({
        "domain": {"type": "string", "enum": DOMAINS},
        "location": _LOCATION,
        "action": {"type": "string", "const": action},
        "core_version": _STR, "version": _STR, "city": _STR,
        "bap_id": _STR, "bap_uri": _STR, "bpp_id": _STR, "bpp_uri": _STR,
        "transaction_id": _STR, "message_id": _STR,
        "timestamp": {"type": "string", "format": "date-time"},
        "ttl": {"type": "string", "format": "duration"},
    }, required)


# issue.ts @0f2886b: retail and agri contexts need core_version and city (what produced
# "/context must have required property 'city'" in 2025), FIS/TRV/SRV version and location.
ISSUE = _obj({
    "context": {
        **_context("issue", ["domain", "action", "bap_id", "bap_uri", "bpp_id", "bpp_uri",
                             "transaction_id", "message_id", "timestamp", "ttl"]),
        "allOf": [
            {"if": {"properties": {"domain": {
                "pattern": "^(ONDC:RET.*|nic2004:60232|ONDC:AGR.*)$"}}},
             "then": {"required": ["core_version", "city"]}},
            {"if": {"properties": {"domain": {"pattern": "^ONDC:(FIS|TRV|SRV).*"}}},
             "then": {"required": ["version", "location"]}},
            {"if": {"not": {"properties": {"domain": {
                "pattern": "^(ONDC:(RET|FIS|TRV|AGR).*|nic2004:60232)$"}}}},
             "then": {"required": ["location", "core_version"]}},
        ],
    },
    "message": _obj({"updated_target": _TARGET,
                     "issue": _issue(_obj({"url": {"type": "string", "format": "uri"},
                                           "size_type": _STR}, ["url"]))}, ["issue"]),
}, ["context", "message"])

# on_issue.ts as deployed in May 2025 (see the module docstring): location and core_version
# always required, updated_target and respondent_ids required.
_ON_ISSUE_ISSUE = _issue(_obj({"url": {"type": "string", "format": "uri"}, "size_type": _STR},
                              ["url", "size_type"]))
_ON_ISSUE_ISSUE["required"] = [*_ISSUE_REQUIRED[:11], "respondent_ids", *_ISSUE_REQUIRED[11:]]
ON_ISSUE = _obj({
    "context": _context("on_issue", ["domain", "location", "action", "core_version", "bap_id",
                                     "bap_uri", "bpp_id", "bpp_uri", "transaction_id",
                                     "message_id", "timestamp", "ttl"]),
    "message": _obj({"updated_target": _TARGET, "issue": _ON_ISSUE_ISSUE},
                    ["updated_target", "issue"]),
}, ["context", "message"])


# -- formats (ajv-formats, full mode) -------------------------------------------------------

_DATE_TIME = re.compile(
    r"^\d{4}-[01]\d-[0-3]\d[tT ](?:[0-2]\d:[0-5]\d:[0-5]\d|23:59:60)(?:\.\d+)?"
    r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$")
_DURATION_RE = re.compile(
    r"^P(?!$)((\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?|(\d+W)?)$")
_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9]"
    r"(?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", re.IGNORECASE)
_URI = re.compile(r"^[a-z][a-z0-9+.\-]*:[^\s]*$", re.IGNORECASE)


def _date_time(value: object) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return not isinstance(value, str)  # formats only judge strings
    head = value[:10]
    try:
        datetime.strptime(head, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _matches(pattern: re.Pattern[str]) -> Any:
    return lambda value: not isinstance(value, str) or bool(pattern.match(value))


@cache
def _validator(action: str) -> jsonschema.Draft7Validator:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    checker.checks("duration")(_matches(_DURATION_RE))
    checker.checks("email")(_matches(_EMAIL))
    checker.checks("uri")(_matches(_URI))
    schema = ISSUE if action == "issue" else ON_ISSUE
    return jsonschema.Draft7Validator(copy.deepcopy(schema), format_checker=checker)


def _ajv_message(error: jsonschema.ValidationError) -> str:
    """The message ajv gives for ``error`` (what the validator's report shows)."""
    kind = error.validator
    if kind == "required":
        missing = re.match(r"'([^']+)'", error.message)
        return f"must have required property '{missing.group(1) if missing else error.message}'"
    if kind == "enum":
        return "must be equal to one of the allowed values: " + ", ".join(
            map(str, error.validator_value))
    if kind == "const":
        return "must be equal to constant"
    if kind == "format":
        return f'must match format "{error.validator_value}"'
    if kind == "type":
        return f"must be {error.validator_value}"
    return error.message


def schema_errors(payload: dict[str, Any], action: str) -> list[tuple[str, str]]:
    """``(JSON path, "<instancePath> <ajv message>")`` for each thing the IGM schema of
    ``action`` (issue | on_issue) refuses in ``payload``, in document order."""
    out = []
    errors = sorted(_validator(action).iter_errors(payload), key=lambda e: list(map(str, e.path)))
    for error in errors:
        if error.validator in ("allOf", "if", "then", "not"):
            continue  # ajv reports the failing "then" keyword itself (required)
        instance = "".join(f"/{p}" for p in error.path)
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error.path)
        out.append((dotted.replace(".[", "["), f"{instance} {_ajv_message(error)}"))
    return out
