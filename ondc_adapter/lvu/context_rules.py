"""Rules on every payload's ``context`` (``utils/index.ts`` checkContext and the per-action
files' context checks, ``schema/Retail/RET/*`` context schemas)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from ondc_adapter.lvu.findings import ISO_MS, Bundle, rule, when

SRC_INDEX = "utils/index.ts (checkContext)"
SRC_SCHEMA = "schema/Retail/RET/*.ts (context)"
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$", re.IGNORECASE)
PAIRS = {  # callback key -> the request key whose message_id it answers
    "on_search_full_catalog_refresh": "search_full_catalog_refresh",
    "on_search_inc_refresh": "search_inc_refresh",
    "on_select": "select", "on_select_out_of_stock": "select_out_of_stock",
    "on_init": "init", "on_confirm": "confirm",
}


def action_of(key: str) -> str:
    """The ``context.action`` a payload key stands for."""
    for prefix in ("on_search", "on_select", "on_status", "on_update", "on_cancel", "on_init",
                   "on_confirm", "search", "select", "update", "cancel", "init", "confirm",
                   "catalog_rejection"):
        if key == prefix or key.startswith(prefix + "_"):
            return prefix
    return key


@rule("context.basics", SRC_INDEX)
def context_basics(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, payload in bundle.items():
        ctx = payload.get("context") or {}
        if ctx.get("transaction_id") == ctx.get("message_id"):
            yield key, "context.message_id", "transaction_id and message id can't be same"
        if ctx.get("action") != action_of(key):
            yield key, "context.action", f"context.action should be {action_of(key)}"
        if "ttl" in ctx and ctx.get("ttl") != "PT30S":
            yield key, "context.ttl", "ttl = PT30S as per the API Contract"
        if not ISO_MS.match(str(ctx.get("timestamp", ""))) or when(ctx.get("timestamp")) is None:
            yield key, "context.timestamp", (
                "Timestamp not in RFC 3339 (YYYY-MM-DDTHH:MN:SS.MSSZ) Format")
        if ctx.get("core_version") != bundle.version:  # the bundle names the flow's version
            yield key, "context.core_version", f"core_version should be {bundle.version}"
        if ctx.get("domain") != bundle.domain:
            yield key, "context.domain", "Domain should be same in each action"
        for name in ("bap_id", "bpp_id"):
            value = str(ctx.get(name, ""))
            if value.startswith(("http", "https:", "www")):
                yield key, f"context.{name}", f"context/{name} should not be a url"


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a url"
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return "is not an http(s) url"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if HOST.match(host) else "host must be a dotted name (format url)"
    if not address.is_global:
        return "must not be a loopback or private IP address (format url)"
    return None


@rule("context.uri", SRC_SCHEMA + "; utils/index.ts (checkIdInUri)")
def context_uris(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    for key, payload in bundle.items():
        ctx = payload.get("context") or {}
        for uri, sid in (("bap_uri", "bap_id"), ("bpp_uri", "bpp_id")):
            if uri not in ctx:
                continue
            problem = _url_problem(str(ctx[uri]))
            if problem:
                yield key, f"context.{uri}", f"{uri} {problem}"
            if str(ctx.get(sid, "")) not in str(ctx[uri]):
                yield key, f"context.{uri}", (
                    f"{sid.split('_')[0].title()}_id {ctx.get(sid)} is not found in "
                    f"{uri.split('_')[0].title()}Uri {ctx[uri]}")


@rule("context.sequence", "utils/Retail/*/*.ts (transaction, message id and timestamp checks)")
def context_sequence(bundle: Bundle) -> Iterator[tuple[str, str, str]]:
    select_txn = (bundle.get("select") or {}).get("context", {}).get("transaction_id")
    search_city = (bundle.get("search_full_catalog_refresh") or {}).get("context", {}).get("city")
    seen_ids: dict[str, str] = {}
    previous: tuple[str, object] | None = None
    for key, payload in bundle.items():
        ctx = payload.get("context") or {}
        if select_txn and key in FROM_SELECT and ctx.get("transaction_id") != select_txn:
            yield key, "context.transaction_id", (
                "Transaction Id should be same from /select onwards")
        if (search_city and key in FROM_SELECT and key != "catalog_rejection"
                and ctx.get("city") != search_city):
            yield key, "context.city", f"City code mismatch in /search and /{action_of(key)}"
        answered = PAIRS.get(key)
        if answered and answered in bundle.payload:
            want = bundle.payload[answered].get("context", {}).get("message_id")
            if ctx.get("message_id") != want:
                yield key, "context.message_id", (
                    f"Message Ids for /{action_of(answered)} and /{action_of(key)} api should "
                    "be same")
        elif key not in PAIRS and not key.startswith("on_search"):
            msg = str(ctx.get("message_id"))
            if msg in seen_ids and not key.startswith(("on_", "catalog")):
                yield key, "context.message_id", "Message id should not be same with previous calls"
            seen_ids.setdefault(msg, key)
        stamp = when(ctx.get("timestamp"))
        if previous is not None and stamp is not None and key in RISING:
            last_key, last = previous
            if last is not None and stamp <= last:  # type: ignore[operator]
                yield key, "context.timestamp", (
                    f"Timestamp for /{action_of(last_key)} api cannot be greater than or equal "
                    f"to /{action_of(key)} api")
        if key in RISING:
            previous = (key, stamp)


FROM_SELECT = frozenset({
    "select", "on_select", "init", "on_init", "confirm", "on_confirm", "on_status_pending",
    "on_status_packed", "on_status_picked", "on_status_out_for_delivery", "on_status_delivered",
    "cancel", "on_cancel",
})
# keys whose context.timestamp must rise from one to the next, in flow order
RISING = frozenset({
    "select", "on_select", "init", "on_init", "confirm", "on_confirm", "on_status_pending",
    "on_status_packed", "on_status_picked", "on_status_out_for_delivery", "on_status_delivered",
    "cancel", "on_cancel",
})

CONTEXT_RULES = (context_basics, context_uris, context_sequence)
