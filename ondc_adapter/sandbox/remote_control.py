"""What a running ``sandbox up`` does for a ``sandbox run --url`` in another process: the
seller actions its scenario asks for (performed on this process's adapter exactly as an
in-process run performs them) and its share of this process's transcript. The registry app
serves them under ``/sandbox/`` (``network.start_network``)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse

from ondc_adapter.sandbox.builders import FlowState
from ondc_adapter.sandbox.runner import SellerActionFailed
from ondc_adapter.sandbox.seller import ServiceSeller
from ondc_adapter.sandbox.seller_steps import (
    CATALOGUE_ACTIONS,
    COMPLAINT_ACTIONS,
    ISSUE_ACTIONS,
    OFFER_ACTIONS,
)

if TYPE_CHECKING:
    from ondc_adapter.sandbox.network import SandboxNetwork
    from ondc_adapter.sandbox.registry import RegistryConfig

_RUN_BUYER = re.compile(r"buyer-[0-9a-f]{8}\.sandbox\.localhost")


def remote_transcript(
    network: SandboxNetwork, config: RegistryConfig, *, since: float, subscriber_id: str = ""
) -> list[dict[str, Any]]:
    """The exchanges ``network`` recorded since ``since``, as JSON objects. With
    ``subscriber_id`` (a `sandbox run --url` buyer app), exchanges that belong to another such
    run (name its buyer app, or call its URL) are left out, so concurrent runs against one
    `sandbox up` each get their own."""
    others = {sid for sid in config.site_urls if _RUN_BUYER.fullmatch(sid) and sid != subscriber_id}
    other_urls = tuple(config.site_urls[sid].rstrip("/") + "/" for sid in others)
    out = []
    for exchange in list(network.transcript.exchanges):
        if exchange.started_at < since:
            continue
        if subscriber_id:
            named = set(_RUN_BUYER.findall(exchange.url + exchange.request_body))
            if named - {subscriber_id} and subscriber_id not in named:
                continue
            if (exchange.url + "/").startswith(other_urls):
                continue
        out.append(asdict(exchange))
    return out


async def perform_remote_seller_action(
    network: SandboxNetwork, action: str, raw: bytes
) -> JSONResponse:
    """Order actions take ``{order_id, params}``; catalogue actions (set_price, set_stock,
    disable_item, enable_item, set_store_status) take ``{params: {item, ...},
    after_message_id}`` with the item already resolved to an id, and answer the completed
    params (the price set, the store changed...); issue
    actions (issue_ask_info, issue_propose...; the complaint's issue_raise, issue_accept...)
    take ``{issue_id, params, after_message_id}``; ``define_offer`` takes ``{provider,
    offer_id, offer}``, the admin API's offer body made by the run from its catalogue."""
    if network.adapter_app is None:
        return JSONResponse({"error": "this sandbox runs no adapter"}, status_code=409)
    seller = ServiceSeller(network.adapter_app)
    if not seller.supports(f"seller.{action}"):
        return JSONResponse({"error": f"seller action {action!r} unsupported"}, status_code=404)
    catalogue = action in CATALOGUE_ACTIONS
    if action in ISSUE_ACTIONS or action in COMPLAINT_ACTIONS:
        return await remote_issue_action(seller, action, raw)
    if action in OFFER_ACTIONS:
        return await _remote_offer(seller, raw)
    try:
        data = json.loads(raw)
        params = dict(data.get("params") or {})
        if catalogue:
            item = str(params["item"])
            after = data.get("after_message_id")
            after = str(after) if after else None
        else:
            order_id = str(data["order_id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        shape = "{params: {item, ...}, after_message_id}" if catalogue else "{order_id, params}"
        return JSONResponse({"error": f"body must be {shape}"}, status_code=400)
    try:
        if catalogue:
            params["item"] = item
            note = await seller.catalogue_action(action, params, after_message_id=after)
            return JSONResponse({"done": note, "params": params})
        state = FlowState(domain="", city="", bap_id="", bap_uri="", order_id=order_id)
        note = await seller.perform(action, params, state)
    except SellerActionFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"done": note})


async def remote_issue_action(seller: ServiceSeller, action: str, raw: bytes) -> Any:
    """``POST <registry>/sandbox/seller/issue_*`` of a running ``sandbox up``: ``{issue_id,
    params, after_message_id}`` from a ``RemoteSeller``, performed as in-process runs do
    (a complaint action's issue_id and after_message_id may be null: see
    ``prepare_complaint_action``)."""
    complaint = action in COMPLAINT_ACTIONS
    try:
        data = json.loads(raw)
        params = dict(data.get("params") or {})
        issue_id, after = data["issue_id"], data["after_message_id"]
        if not complaint or issue_id is not None:
            issue_id = str(issue_id)
        if not complaint or after is not None:
            after = str(after)
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"error": "body must be {issue_id, params, after_message_id}"},
                            status_code=400)
    try:
        if complaint:
            note = await seller.complaint_action(action, params, issue_id=issue_id,
                                                 after_message_id=after)
        else:
            note = await seller.issue_action(action, params, issue_id=issue_id,
                                             after_message_id=after)
    except SellerActionFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"done": note, **({"params": params} if complaint else {})})


async def _remote_offer(seller: ServiceSeller, raw: bytes) -> JSONResponse:
    """``POST <registry>/sandbox/seller/define_offer``: the offer stored through this
    process's adapter, as an in-process run stores it (its admin API)."""
    try:
        data = json.loads(raw)
        provider, offer_id = str(data["provider"]), str(data["offer_id"])
        offer = data["offer"]
        if not isinstance(offer, dict):
            raise TypeError("offer")
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"error": "body must be {provider, offer_id, offer}"},
                            status_code=400)
    try:
        note = await seller.define_offer(provider, offer_id, offer)
    except SellerActionFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"done": note})
