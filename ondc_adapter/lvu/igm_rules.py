"""ONDC's log validator for IGM 2.0.0 (``POST /api/validate/igm``, ``version: "2.0.0"``), ported:
what it will say of a bundle of ``issue`` / ``on_issue`` payloads.

How the validator reads a bundle (``shared/validateLogs.ts``, ``IGMvalidateLogs2``): it walks
the three tables of ``IGM2FlowSequence`` (``constants/index.ts``: FLOW_1, FLOW_2, FLOW_3) in
that order, whatever the bundle's ``flow`` says, and checks every payload key it finds there:
keys ``issue_*`` with ``utils/igm/igm2/issue.ts``, keys ``on_issue_*`` with ``on_issue.ts``.
A missing key is no error and an unknown key is never looked at. ``flow`` only selects the
mandatory ref types and the actors' org-name format, and any value but ``FLOW_1|2|3`` turns
those checks off. State carries from payload to payload in that order: the transaction and
issue ids of the latest ``issue``, the message ids of the ``on_issue`` seen.

The port follows the newest validator code read (``@359f5ac``, which reads ``descriptor`` and
``update_target``) and also the checks of the version deployed in 2025 that still hold
(``description``-era schemas and action checks, ``updated_target``), so a bundle clean here
passes both; where the two eras contradict, the newest wins (message-id uniqueness is checked
only among ``on_issue_info_required_1/_2``: the 2025 version's "Message ID should be unique"
on every other ``on_issue`` was a double-validation bug). Each key is checked once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ondc_adapter.lvu.findings import ISO_MS, Bundle, Rule, rule, when
from ondc_adapter.lvu.igm_schema import ISSUE_SOURCE, ON_ISSUE_SOURCE, schema_errors

# constants/index.ts IGM2FlowSequence (@359f5ac): the payload keys of each flow, in order
FLOW_SEQUENCE: dict[str, tuple[str, ...]] = {
    "FLOW_1": (
        "issue_open", "on_issue_processing_1", "on_issue_info_required_1",
        "issue_info_provided_1", "on_issue_processing_2", "on_issue_info_required_2",
        "issue_info_provided_2", "on_issue_resolution_proposed", "issue_resolution_accepted",
        "on_issue_resolved", "issue_closed",
    ),
    "FLOW_2": (
        "issue_open", "on_issue_processing", "on_issue_resolution_proposed",
        "issue_resolution_accepted", "on_issue_resolved", "issue_esclated",
        "on_issue_gro_processing", "on_issue_gro_resolution_proposed",
        "issue_gro_resolution_accepted", "on_issue_gro_resolved", "issue_gro_close",
    ),
    "FLOW_3": (
        "issue_open", "on_issue_processing", "issue_lsp_open", "on_issue_lsp_processing",
        "on_issue_lsp_info_required", "on_issue_info_required", "issue_info_provided",
        "issue_info_lsp_info_provided", "on_issue_lsp_resolution_proposed",
        "on_issue_resolution_proposed", "issue_resolution_accepted",
        "issue_lsp_resolution_accepted", "on_issue_lsp_resolved", "on_issue_resolved",
        "issue_close", "issue_lsp_close",
    ),
}
# every key once, in the order the validator first meets it
VALIDATED_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for ks in FLOW_SEQUENCE.values()
                                                      for k in ks))

SRC_LOGS = "shared/validateLogs.ts (IGMvalidateLogs2); constants/index.ts (IGM2FlowSequence)"
SRC_CONTEXT = "utils/index.ts (checkContext)"
SRC_ISSUE = "utils/igm/igm2/issue.ts"
SRC_ON_ISSUE = "utils/igm/igm2/on_issue.ts"
SRC_BOTH = f"{SRC_ISSUE}; {SRC_ON_ISSUE}"
SRC_ACTIONS = "utils/igm/igm2/common/actions.ts"
SRC_ACTORS = "utils/igm/igm2/common/actors.ts"
SRC_REFS = "utils/igm/igm2/common/refs.ts"

RESOLUTION_CODES = frozenset({"RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLVED", "CLOSED"})
ON_ISSUE_STATUSES = ("OPEN", "CLOSED", "PROCESSING", "RESOLVED")
# the status each key must carry (issue.ts / on_issue.ts); on_issue_processing_2 has none
KEY_STATUS = {
    "issue_open": ("OPEN", "status_issue_1"),
    "on_issue_processing_1": ("PROCESSING", "status_processing"),
    "on_issue_resolution_proposed": ("PROCESSING", "status_resolution"),
    "on_issue_resolved": ("RESOLVED", "status_resolved"),
}
MANDATORY_REFS = {  # refs.ts @a7181ee
    "FLOW_1": ("ORDER", "PROVIDER", "FULFILMENT", "ITEM"),
    "FLOW_2": ("TRANSACTION", "PROVIDER"),
    "FLOW_3": ("ORDER", "PROVIDER", "FULFILMENT"),
}
# actors.ts: actor type -> whose "<subscriber_id>::<domain>" its org.name must be
ORG_OF = {
    "FLOW_1": {"CONSUMER": "bap", "INTERFACING_NP": "bap", "COUNTERPARTY_NP": "bpp",
               "COUNTERPARTY_NP_GRO": "bpp"},
    "FLOW_2": {"SELLER": "bpp", "INTERFACING_NP": "bpp", "COUNTERPARTY_NP": "bap",
               "COUNTERPARTY_NP_GRO": "bap"},
}
ORG_OF["FLOW_3"] = ORG_OF["FLOW_1"]
TARGET_ACTIONS = ("APPENDED", "REMOVED", "MODIFIED")
MESSAGE_ID_UNIQUE = ("on_issue_info_required_1", "on_issue_info_required_2")  # E3's scope
_JS_INT = re.compile(r"^\s*([+-]?\d+)")


def checked(bundle: Bundle) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(key, payload, its message.issue) for each key the validator checks, in its order."""
    for key in VALIDATED_KEYS:
        payload = bundle.get(key)
        if payload is None:
            continue
        message = payload.get("message")
        issue = message.get("issue") if isinstance(message, dict) else None
        yield key, payload, issue if isinstance(issue, dict) else {}


def is_issue(key: str) -> bool:
    """``issue_*`` keys go to issue.ts, every other key to on_issue.ts."""
    return key.startswith("issue_")


def _ctx(payload: dict[str, Any]) -> dict[str, Any]:
    ctx = payload.get("context")
    return ctx if isinstance(ctx, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _code(node: Any, name: str = "descriptor") -> Any:
    part = node.get(name) if isinstance(node, dict) else None
    return part.get("code") if isinstance(part, dict) else None


@rule("igm.bundle", SRC_LOGS)
def igm_bundle(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    if bundle.flow not in FLOW_SEQUENCE:
        yield "", "flow", (f"flow {bundle.flow!r} is not FLOW_1, FLOW_2 or FLOW_3: the validator "
                           "would skip the mandatory refs and the actors' org names")
    for key in bundle.payload:
        if key not in VALIDATED_KEYS:
            yield key, "", (f"{key} is not a key of IGM2FlowSequence: the validator would not "
                            "check it at all")


@rule("igm.context", SRC_CONTEXT)
def igm_context(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, payload, _issue in checked(bundle):
        ctx = _ctx(payload)
        if ctx.get("transaction_id") == ctx.get("message_id"):
            yield key, "context.message_id", "transaction_id and message id can't be same"
        if ctx.get("ttl") and ctx.get("ttl") != "PT30S":
            yield key, "context.ttl", "ttl = PT30S as per the API Contract"
        stamp = ctx.get("timestamp")
        if stamp:
            if when(stamp) is None:
                yield key, "context.timestamp", "Timestamp should be in date-time format"
            elif not ISO_MS.match(str(stamp)):
                # new Date(ts).toISOString() must give ts back: milliseconds and Z, exactly
                yield key, "context.timestamp", (
                    "Timestamp not in RFC 3339 (YYYY-MM-DDTHH:MN:SS.MSSZ) Format")


@rule("igm.schema", f"{ISSUE_SOURCE}; {ON_ISSUE_SOURCE}")
def igm_schema(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, payload, _issue in checked(bundle):
        for path, message in schema_errors(payload, "issue" if is_issue(key) else "on_issue"):
            yield key, path, message


@rule("igm.descriptor", f"{SRC_ISSUE} (descriptor, @359f5ac); {SRC_ACTIONS} (@359f5ac)")
def igm_descriptor(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """The newest validator reads ``descriptor`` where the deployed schemas read
    ``description``: an issue needs both. The newest code checks an issue's descriptor only
    when present; its presence is required here because the specification has required it
    since 22 April 2025 (``Issue.descriptor``) and the newest schema file was not read."""
    for key, _payload, issue in checked(bundle):
        descriptor = issue.get("descriptor")
        if not isinstance(descriptor, dict):
            yield key, "message.issue.descriptor", (
                "issue.descriptor is required: the newest validator reads descriptor "
                "(description before 22 April 2025)")
        else:
            if not descriptor.get("code") or not descriptor.get("short_desc"):
                yield key, "message.issue.descriptor", "Descriptor must have code and short_desc"
            if "images" in descriptor and not isinstance(descriptor["images"], list):
                yield key, "message.issue.descriptor.images", "Descriptor images must be an array"
        for i, action in enumerate(_list(issue.get("actions"))):
            if not _code(action):
                yield key, f"message.issue.actions[{i}].descriptor.code", (
                    "action descriptor.code is required")


@rule("igm.status", SRC_BOTH)
def igm_status(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, _payload, issue in checked(bundle):
        status = issue.get("status")
        if not is_issue(key) and status not in ON_ISSUE_STATUSES:
            yield key, "message.issue.status", (
                f"Invalid issue status: {status}. Must be one of {', '.join(ON_ISSUE_STATUSES)}")
        want = KEY_STATUS.get(key)
        if want and status != want[0]:
            yield key, "message.issue.status", (
                f"{want[1]}: issue status should be {want[0]} in {key}, not {status}")
        if key == "issue_closed" and status == "RESOLVED" and not issue.get("resolution"):
            yield key, "message.issue.resolution", (
                "missing_resolution: a RESOLVED issue needs its resolution; close with CLOSED")


@rule("igm.timestamps", SRC_BOTH)
def igm_timestamps(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """An issue is at or before its context.timestamp, an on_issue at or after it: only the
    same instant satisfies both (the node and the sandbox write one instant per message)."""
    for key, payload, issue in checked(bundle):
        created, updated = issue.get("created_at"), issue.get("updated_at")
        at, made, sent = when(updated), when(created), when(_ctx(payload).get("timestamp"))
        if made and at and made > at:
            yield key, "message.issue.created_at", "created_at cannot be greater than updated_at"
        if at and sent and is_issue(key) and at > sent:
            yield key, "message.issue.updated_at", (
                "Issue updated_at should be equal to or less than context timestamp")
        if at and sent and not is_issue(key) and at < sent:
            yield key, "message.issue.updated_at", (
                "Issue updated_at should be equal to or greater than context timestamp")
        actions = _list(issue.get("actions"))
        last = when(actions[-1].get("updated_at")) if actions and isinstance(actions[-1], dict) \
            else None
        if at and last and at > last:
            yield key, "message.issue.updated_at", (
                "updated_at_sequence: issue.updated_at should not be later than the last "
                "action's updated_at")
        # compared as strings, as the validator does
        if key == "issue_open" and updated != created:
            yield key, "message.issue.updated_at", (
                "In issue_open, updated_at should be equal to created_at")
        if (not is_issue(key) and isinstance(updated, str) and isinstance(created, str)
                and updated <= created):
            yield key, "message.issue.updated_at", "updated_at must be greater than created_at"


@rule("igm.last_action", SRC_BOTH)
def igm_last_action(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, _payload, issue in checked(bundle):
        actions = _list(issue.get("actions"))
        if not actions:
            if not is_issue(key) and issue.get("last_action_id"):
                yield key, "message.issue.actions", (
                    "missing_actions: last_action_id is present but there are no actions")
            if key == "issue_resolution_accepted":
                yield key, "message.issue.actions", (
                    "no_actions: issue_resolution_accepted must carry actions")
            continue
        last = actions[-1] if isinstance(actions[-1], dict) else {}
        if issue.get("last_action_id") != last.get("id"):
            yield key, "message.issue.last_action_id", (
                f"last_action_id ({issue.get('last_action_id')}) must be the id of the last "
                f"action ({last.get('id')})")


@rule("igm.update_target", SRC_BOTH)
def igm_update_target(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """``update_target`` (newest) and ``updated_target`` (2025): whichever is present."""
    for key, payload, _issue in checked(bundle):
        if key == "issue_open":
            continue
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        for name in ("update_target", "updated_target"):
            if name not in message:
                continue
            targets = message[name]
            if not isinstance(targets, list):
                yield key, f"message.{name}", f"{name} must be an array"
                continue
            for i, target in enumerate(targets):
                where = f"message.{name}[{i}]"
                if not isinstance(target, dict) or not target.get("path") or not target.get(
                        "action"):
                    yield key, where, f"{name}[{i}] must have path and action"
                    continue
                if target["action"] not in TARGET_ACTIONS:
                    yield key, f"{where}.action", (
                        f"{name}[{i}].action must be one of {', '.join(TARGET_ACTIONS)}")
                if not isinstance(target["path"], str) or not target["path"].startswith("issue."):
                    yield key, f"{where}.path", f'{name}[{i}].path must start with "issue."'


@rule("igm.actions", f"{SRC_ACTIONS} (@359f5ac and @2bb67a7)")
def igm_actions(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, _payload, issue in checked(bundle):
        actions = issue.get("actions")
        if "actions" in issue and not isinstance(actions, list):
            yield key, "message.issue.actions", "actions must be an array"
            continue
        for i, action in enumerate(_list(actions)):
            where = f"message.issue.actions[{i}]"
            if not isinstance(action, dict):
                yield key, where, "action must be an object"
                continue
            for name in ("id", "action_by", "updated_at"):
                if not action.get(name):
                    yield key, f"{where}.{name}", f"action {name} is required"
            description = action.get("description")
            if isinstance(description, dict):
                for name in ("code", "short_desc"):
                    if not description.get(name):
                        yield key, f"{where}.description.{name}", (
                            f"action description.{name} is required")
            details = action.get("actor_details")
            if isinstance(details, dict) and not details.get("name"):
                yield key, f"{where}.actor_details.name", "actor_details.name is required"
            if _code(action) == "CLOSE" and not _list(action.get("tags")):
                yield key, f"{where}.tags", "For CLOSE action, tags are mandatory"


@rule("igm.resolutions", f"{SRC_ACTIONS} (@359f5ac); {SRC_ON_ISSUE} (validateResolution)")
def igm_resolutions(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, _payload, issue in checked(bundle):
        for i, action in enumerate(_list(issue.get("actions"))):
            code = _code(action)
            if code in RESOLUTION_CODES and not _list(issue.get("resolutions")):
                yield key, "message.issue.resolutions", (
                    f"actions[{i}] is {code}: message.issue.resolutions must be a non-empty "
                    "array")
                break
        single = issue.get("resolution")
        if not is_issue(key) and isinstance(single, dict):
            # the singular form is checked against the issue's category; send resolutions[]
            if not single.get("short_desc"):
                yield key, "message.issue.resolution.short_desc", "resolution short_desc missing"
            category = _code(issue) or _code(issue, "description")
            if single.get("selected_reason_code") != category:
                yield key, "message.issue.resolution.selected_reason_code", (
                    "resolution.selected_reason_code must equal the issue's descriptor.code")


def _js_int(value: Any) -> int | None:
    """JavaScript's parseInt: leading digits only (``"+91 98..."`` gives 91)."""
    match = _JS_INT.match(str(value))
    return int(match.group(1)) if match else None


@rule("igm.actors", SRC_ACTORS)
def igm_actors(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    orgs = ORG_OF.get(bundle.flow, {})
    for key, payload, issue in checked(bundle):
        ctx = _ctx(payload)
        names = {side: f"{ctx.get(f'{side}_id')}::{ctx.get('domain')}" for side in ("bap", "bpp")}
        actors = issue.get("actors")
        if "actors" in issue and not isinstance(actors, list):
            yield key, "message.issue.actors", "actors must be an array"
            continue
        for i, actor in enumerate(_list(actors)):
            where = f"message.issue.actors[{i}]"
            actor = actor if isinstance(actor, dict) else {}
            if not actor.get("type"):
                yield key, f"{where}.type", "actor type is required"
            info = actor.get("info")
            if not isinstance(info, dict):
                yield key, f"{where}.info", "actor info is required"
                continue
            org = info.get("org")
            if not isinstance(org, dict):
                yield key, f"{where}.info.org", "actor info.org is required"
            elif not org.get("name"):
                yield key, f"{where}.info.org.name", "actor info.org.name is required"
            elif actor.get("type") in orgs and org["name"] != names[orgs[actor["type"]]]:
                want = names[orgs[actor["type"]]]
                yield key, f"{where}.info.org.name", (
                    f'For actor type "{actor["type"]}" in {bundle.flow}, org.name should be '
                    f'"{want}"')
            contact = info.get("contact") if isinstance(info.get("contact"), dict) else {}
            phone = contact.get("phone")
            number = _js_int(phone) if phone else None
            if phone and (number is None or not 1000000000 <= number < 9999999999):
                yield key, f"{where}.info.contact.phone", (
                    "Invalid phone number: 10 digits, no country code")
            if contact.get("email") and "@" not in str(contact["email"]):
                yield key, f"{where}.info.contact.email", "Invalid email format"


@rule("igm.actor_ids", SRC_BOTH)
def igm_actor_ids(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """complainant_id is the INTERFACING_NP's id, source_id the CONSUMER's (issue_open and every
    on_issue), respondent_ids name actors (on_issue)."""
    for key, _payload, issue in checked(bundle):
        if is_issue(key) and key != "issue_open":
            continue
        actors = [a for a in _list(issue.get("actors")) if isinstance(a, dict)]
        for kind, field in (("INTERFACING_NP", "complainant_id"), ("CONSUMER", "source_id")):
            actor = next((a for a in actors if a.get("type") == kind), None)
            if actor is not None and issue.get(field) != actor.get("id"):
                yield key, f"message.issue.{field}", (
                    f"{field} ({issue.get(field)}) must be the id of the {kind} actor "
                    f"({actor.get('id')})")
        respondents = _list(issue.get("respondent_ids"))
        if is_issue(key) or not respondents:
            continue
        if not actors:
            yield key, "message.issue.respondent_ids", (
                "respondent_ids are present but there are no actors")
            continue
        ids = {a.get("id") for a in actors}
        missing = [str(r) for r in respondents if r not in ids]
        if missing:
            yield key, "message.issue.respondent_ids", (
                f"The following respondent_ids are not present in actors: {', '.join(missing)}")


@rule("igm.refs", SRC_REFS + " (@a7181ee)")
def igm_refs(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    mandatory = MANDATORY_REFS.get(bundle.flow, ())
    for key, _payload, issue in checked(bundle):
        refs = issue.get("refs")
        if not isinstance(refs, list):
            yield key, "message.issue.refs", "refs must be an array"
            continue
        present = {r.get("type") or r.get("ref_type") for r in refs if isinstance(r, dict)}
        for kind in mandatory:
            if kind not in present:
                yield key, "message.issue.refs", (
                    f"missing_ref_{kind.lower()}: Reference type '{kind}' is mandatory for "
                    f"{bundle.flow} but is missing")
        for i, ref in enumerate(refs):
            ref = ref if isinstance(ref, dict) else {}
            if not (ref.get("type") or ref.get("ref_type")):
                yield key, f"message.issue.refs[{i}].ref_type", "ref type is required"
            if "tags" not in ref:
                continue
            if not isinstance(ref["tags"], list):
                yield key, f"message.issue.refs[{i}].tags", "ref tags must be an array"
                continue
            for j, tag in enumerate(ref["tags"]):
                tag = tag if isinstance(tag, dict) else {}
                if _code(tag) != "message.order.items":
                    yield key, f"message.issue.refs[{i}].tags[{j}].descriptor.code", (
                        'ref tag descriptor.code must be "message.order.items"')
                for k, entry in enumerate(_list(tag.get("list"))):
                    if _code(entry) != "quantity.selected.count":
                        yield key, f"message.issue.refs[{i}].tags[{j}].list[{k}].descriptor.code", (
                            'ref tag list descriptor.code must be "quantity.selected.count"')


@rule("igm.consistency", f"{SRC_ON_ISSUE} (validateConsistency); {SRC_ISSUE}")
def igm_consistency(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    """Every on_issue (and issue_info_provided_1/_2) against the transaction and issue ids of
    the latest issue before it, in the validator's order."""
    txn: Any = None
    issue_id: Any = None
    for key, payload, issue in checked(bundle):
        ctx = _ctx(payload)
        if not is_issue(key):
            if txn and ctx.get("transaction_id") != txn:
                yield key, "context.transaction_id", (
                    f"transaction_id {ctx.get('transaction_id')} differs from the issue's {txn}")
            if issue_id and issue.get("id") != issue_id:
                yield key, "message.issue.id", (
                    f"issue id {issue.get('id')} differs from the issue's {issue_id}")
            continue
        if key in ("issue_info_provided_1", "issue_info_provided_2") and issue_id and (
                issue.get("id") != issue_id):
            yield key, "message.issue.id", (
                f"issue id {issue.get('id')} differs from the earlier issue's {issue_id}")
        txn, issue_id = ctx.get("transaction_id"), issue.get("id")


@rule("igm.message_id", f"{SRC_ON_ISSUE} (validateMessageIdUniqueness, @359f5ac)")
def igm_message_id(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    seen: set[Any] = set()
    for key, payload, _issue in checked(bundle):
        if key not in MESSAGE_ID_UNIQUE:
            continue
        message_id = _ctx(payload).get("message_id")
        if message_id in seen:
            yield key, "context.message_id", (
                f"Message ID should be unique, but {message_id} was already used")
        seen.add(message_id)


IGM_RULES: tuple[Rule, ...] = (
    igm_bundle, igm_context, igm_schema, igm_descriptor, igm_status, igm_timestamps,
    igm_last_action, igm_update_target, igm_actions, igm_resolutions, igm_actors, igm_actor_ids,
    igm_refs, igm_consistency, igm_message_id,
)
