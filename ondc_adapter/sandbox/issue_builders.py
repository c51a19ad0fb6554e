"""The sandbox buyer app's IGM 2.0.0 requests (``issue`` and its answers ``on_issue``), built
from what the flow has seen, as ``builders`` builds the retail ones; the messages themselves are
``complaints``'s."""

from __future__ import annotations

import uuid
from typing import Any

from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.sandbox import complaints, paths
from ondc_adapter.sandbox.flow_state import BuildError, FlowState, order_of


def _issue_context(state: FlowState) -> dict[str, Any]:
    """An IGM context: the order's transaction (the specification: the same transaction_id as
    the order), plus ``location``, which ONDC's older IGM schemas require (the node echoes the
    request's context into its on_issue, so this also reaches the on_issue)."""
    if not state.order_id or not state.bpp_id:
        raise BuildError("an issue needs a confirmed order")
    ctx = state.context("issue")
    ctx["location"] = {"country": {"code": ctx["country"]}, "city": {"code": ctx["city"]}}
    return ctx


def _photo(state: FlowState, name: str) -> str:
    # a URL of the buyer app's own (the sandbox serves no images; nobody fetches them)
    return f"{state.bap_uri.rstrip('/')}/images/{name}.jpg"


def build_issue_open(state: FlowState, *, category: str = "ITM004",
                     legacy_names: bool = True) -> dict[str, Any]:
    """The buyer's complaint about the first item of the confirmed order (IGM 2.0.0 flow 1,
    ``issue_open``), built by ``complaints.opening_issue``; ``legacy_names`` adds the
    pre-April-2025 ``description`` twins ONDC's validator schemas still require."""
    ctx = _issue_context(state)
    issue_id = "ISSUE-" + uuid.uuid4().hex[:12].upper()
    try:
        message = complaints.opening_issue(
            issue_id=issue_id, bap_id=state.bap_id, domain=state.domain, now=ctx["timestamp"],
            order=order_of(state, "on_confirm"), category=category,
            image_url=_photo(state, issue_id),
        )
    except KeyError as exc:
        raise BuildError(f"issue_open: {exc}") from None
    if legacy_names:
        message = complaints.with_legacy_opening(message)
    return {"context": ctx, "message": message}


# what a later issue's action refers to: ``ref: info_request`` (INFO_PROVIDED answers the
# seller's latest INFO_REQUESTED action) or ``ref: resolution`` (RESOLUTION_ACCEPTED names the
# latest resolution the seller proposed)
ISSUE_REFS = ("info_request", "resolution")


def build_issue(state: FlowState, *, code: str, short_desc: str, ref: str | None = None,
                photos: int = 0, legacy_names: bool = True) -> dict[str, Any]:
    """A later ``issue``: the issue as the latest on_issue carried it, with the buyer's action
    ``code`` appended (``complaints.next_issue``)."""
    on_issue = state.latest("on_issue")
    last = paths.get(on_issue, "message.issue", None)
    if not isinstance(last, dict):
        raise BuildError(f"the latest on_issue carries no issue (error {on_issue.get('error')})")
    ref_id = ref_type = None
    if ref == "info_request":
        asked = [a for a in last.get("actions") or []
                 if paths.get(a, "descriptor.code", None) == "INFO_REQUESTED"]
        if not asked:
            raise BuildError("ref info_request: the seller has not asked for information")
        ref_id = str(asked[-1]["id"])
    elif ref == "resolution":
        resolutions = last.get("resolutions") or []
        if not resolutions:
            raise BuildError("ref resolution: the seller has proposed no resolution")
        ref_id, ref_type = str(resolutions[-1]["id"]), "RESOLUTIONS"
    elif ref is not None:
        raise BuildError(f"ref must be one of {', '.join(ISSUE_REFS)}, not {ref!r}")
    ctx = _issue_context(state)
    issue_id = str(last.get("id"))
    images = [_photo(state, f"{issue_id}-{n}") for n in range(1, photos + 1)]
    message = complaints.next_issue(
        last, code=code, now=ctx["timestamp"], short_desc=short_desc,
        legacy_names=legacy_names, ref_id=ref_id, ref_type=ref_type, images=images or None,
    )
    return {"context": ctx, "message": message}


def build_on_issue(state: FlowState, *, code: str, short_desc: str, gro: bool = False,
                   resolution: dict[str, Any] | None = None,
                   legacy_names: bool = True) -> dict[str, Any]:
    """The buyer app's answer to the seller's complaint (IGM flow 2): the issue as last
    exchanged (the latest ``issue`` received, or the buyer app's own ``on_issue`` sent after
    it), with its action ``code`` appended by its support desk or, with ``gro``, by its
    grievance officer (``complaints.answered``). ``resolution: {code, short_desc}`` proposes
    one (``R<n>``, by whoever acts). The context is that message's, with a new message_id (a
    step's ``reply_to`` reuses the issue's) and the action's time."""
    state.latest("issue")  # there is a complaint to answer
    latest = next(m for m in reversed(state.messages.values())
                  if paths.get(m, "context.action", None) in ("issue", "on_issue"))
    last = paths.get(latest, "message.issue", None)
    if not isinstance(last, dict) or not isinstance(latest.get("context"), dict):
        raise BuildError("the latest issue carries no context and message.issue")
    ctx = {
        **latest["context"],
        "action": "on_issue",
        "message_id": str(uuid.uuid4()),
        "timestamp": format_timestamp(state.now()),
        "ttl": "PT30S",
    }
    proposed = None
    if resolution is not None:
        unknown = set(resolution) - {"code", "short_desc"}
        if unknown:
            raise BuildError(f"resolution takes code and short_desc, not {sorted(unknown)}")
        n = len(last.get("resolutions") or []) + 1
        by = complaints.BUYER_GRO_ID if gro else complaints.BUYER_SUPPORT_ID
        proposed = complaints.resolution(f"R{n}", now=ctx["timestamp"], by=by, **resolution)
    try:
        message = complaints.answered(
            last, bap_id=state.bap_id, domain=str(ctx.get("domain")), code=code,
            now=ctx["timestamp"], short_desc=short_desc, gro=gro, resolution=proposed,
            legacy_names=legacy_names,
        )
    except (KeyError, TypeError) as exc:
        raise BuildError(f"on_issue: the received issue lacks {exc}") from None
    return {"context": ctx, "message": message}
