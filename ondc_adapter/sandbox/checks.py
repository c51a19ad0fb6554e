"""What the runner verifies. Every callback always gets the protocol checks (``CALLBACK_CHECKS``);
a scenario step adds named checks with parameters, e.g. ``- within_seconds: 5`` or
``- fulfillment_state: Packed``. Each check returns problems as strings (empty = passed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.sandbox import paths
from ondc_adapter.sandbox.builders import FlowState
from ondc_adapter.sandbox.buyer import Callback, Sent


@dataclass
class CheckContext:
    state: FlowState
    callback: Callback | None = None
    request: Sent | None = None  # the request a callback answers (reply_to)
    sent: Sent | None = None  # for send steps
    seen_message_ids: set[str] = field(default_factory=set)
    schema_dir: Path | None = None

    @property
    def payload(self) -> dict[str, Any]:
        if self.callback is not None:
            return self.callback.payload or {}
        if self.sent is not None:
            return self.sent.payload
        return {}


@dataclass
class CheckResult:
    name: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


CheckFn = Callable[[CheckContext, Any], list[str]]


# --- schemas -------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _load_schema(directory: str, stem: str) -> dict[str, Any] | None:
    path = Path(directory) / f"{stem}.schema.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_dir(ctx: CheckContext) -> Path:
    if ctx.schema_dir is not None:
        return ctx.schema_dir
    from ondc_adapter.protocol.schemas import DEFAULT_DIR

    return DEFAULT_DIR


@lru_cache(maxsize=64)
def _validator(directory: str, stem: str) -> jsonschema.Draft202012Validator | None:
    schema = _load_schema(directory, stem)
    return None if schema is None else jsonschema.Draft202012Validator(schema)


def schema_problems(payload: dict[str, Any], stem: str, directory: Path) -> list[str]:
    """What is wrong with ``payload`` against ``<directory>/<stem>.schema.json``; a missing
    schema file is a problem too (a check that cannot run must not pass)."""
    validator = _validator(str(directory), stem)
    if validator is None:
        return [f"schema {stem}: no file {stem}.schema.json in {directory}"]
    out = []
    for err in sorted(validator.iter_errors(payload), key=lambda e: list(e.path))[:5]:
        where = "/".join(str(p) for p in err.path) or "(root)"
        out.append(f"schema {stem}: {where}: {err.message[:200]}")
    return out


def schema_candidates(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(schema file stem, part of the payload it describes) in order of preference: the whole
    payload (``order_<action>``, ``<action>``) or its message (``<action>_message``; the
    incremental on_search, city "*", has its own)."""
    action = str(paths.get(payload, "context.action", ""))
    if action in ("issue", "on_issue"):
        # IGM: both directions carry the whole issue; one schema describes that message
        return [("igm_issue_message", "message")]
    out: list[tuple[str, str | None]] = [(f"order_{action}", None), (action, None)]
    if action == "on_search" and paths.get(payload, "context.city", None) == "*":
        out.append(("on_search_incremental_message", "message"))
    out.append((f"{action}_message", "message"))
    return out


def check_schema(ctx: CheckContext, arg: Any) -> list[str]:
    """The envelope schema always, then the first published schema for the action
    (``schemas/*.schema.json``), or the stem given as the check's argument. A missing envelope
    schema, a missing named schema, or no schema at all for the action fails the check."""
    directory = _schema_dir(ctx)
    payload = ctx.payload
    problems = schema_problems(payload, "envelope", directory)
    if isinstance(arg, str):
        return problems + schema_problems(payload, arg, directory)
    candidates = schema_candidates(payload)
    for stem, part in candidates:
        if _load_schema(str(directory), stem) is not None:
            target = payload if part is None else payload.get(part, {})
            problems += schema_problems(target, stem, directory)
            break
    else:
        action = paths.get(payload, "context.action", None)
        tried = ", ".join(f"{stem}.schema.json" for stem, _ in candidates)
        problems.append(f"no schema to check {action or 'this payload'} against: none of "
                        f"{tried} in {directory}")
    return problems


# --- protocol checks on every callback ----------------------------------------------------------


def check_signature(ctx: CheckContext, _arg: Any) -> list[str]:
    cb = ctx.callback
    if cb is None:
        return []
    if cb.signature_error:
        return [f"callback signature rejected: {cb.signature_error}"]
    return []


def check_acked(ctx: CheckContext, _arg: Any) -> list[str]:
    cb = ctx.callback
    if cb is not None and not cb.acked:
        return ["the buyer app could not ACK this callback"]
    return []


def check_context_basics(ctx: CheckContext, _arg: Any) -> list[str]:
    c = paths.get(ctx.payload, "context", {}) or {}
    out = []
    expected = ctx.state.core_version
    if c.get("core_version") != expected:
        out.append(f"context.core_version is {c.get('core_version')!r}, expected {expected}")
    if c.get("domain") != ctx.state.domain:
        out.append(f"context.domain {c.get('domain')!r} differs from the flow's {ctx.state.domain}")
    if c.get("bap_id") != ctx.state.bap_id:
        out.append(f"context.bap_id {c.get('bap_id')!r} is not the buyer app's")
    if c.get("bap_uri") != ctx.state.bap_uri:
        out.append(f"context.bap_uri {c.get('bap_uri')!r} is not the buyer app's")
    if ctx.state.bpp_id and c.get("bpp_id") and c.get("bpp_id") != ctx.state.bpp_id:
        out.append(f"context.bpp_id {c.get('bpp_id')!r} changed from {ctx.state.bpp_id}")
    if c.get("transaction_id") == c.get("message_id"):
        out.append("context.transaction_id equals message_id")
    try:
        parse_timestamp(str(c.get("timestamp")))
    except ValueError as exc:
        out.append(f"context.timestamp: {exc}")
    return out


def check_pairing(ctx: CheckContext, _arg: Any) -> list[str]:
    """Solicited: same transaction_id and message_id as the request. Unsolicited: the flow's
    transaction_id and a message_id never used before in it."""
    c = paths.get(ctx.payload, "context", {}) or {}
    out = []
    if ctx.request is not None:
        req = ctx.request.payload["context"]
        if c.get("message_id") != req["message_id"]:
            out.append(
                f"message_id {c.get('message_id')} does not pair with the request's "
                f"{req['message_id']}"
            )
        if c.get("transaction_id") != req["transaction_id"]:
            out.append(
                f"transaction_id {c.get('transaction_id')} differs from the request's "
                f"{req['transaction_id']}"
            )
        if c.get("action") != "on_" + str(req["action"]):
            out.append(f"context.action {c.get('action')} does not answer {req['action']}")
    else:
        expected = {ctx.state.transaction_id, ctx.state.search_transaction_id}
        if c.get("transaction_id") not in expected:
            out.append(f"transaction_id {c.get('transaction_id')} is not this flow's")
        if c.get("message_id") in ctx.seen_message_ids:
            out.append(f"unsolicited callback reuses message_id {c.get('message_id')}")
    return out


def check_timestamp_after_request(ctx: CheckContext, _arg: Any) -> list[str]:
    if ctx.request is None:
        return []
    try:
        sent = parse_timestamp(ctx.request.payload["context"]["timestamp"])
        got = parse_timestamp(str(paths.get(ctx.payload, "context.timestamp")))
    except (ValueError, paths.PathError, KeyError):
        return []  # reported by context_basics
    if got <= sent:
        return [f"callback timestamp {got.isoformat()} is not after the request's "
                f"{sent.isoformat()}"]
    return []


CALLBACK_CHECKS: tuple[str, ...] = (
    "signature", "acked", "context", "pairing", "timestamp_after_request", "schema",
)


# --- named checks for scenario files ------------------------------------------------------------


def check_within_seconds(ctx: CheckContext, arg: Any) -> list[str]:
    if ctx.request is None:
        return []
    limit = float(arg)
    try:
        sent = parse_timestamp(ctx.request.payload["context"]["timestamp"])
        got = parse_timestamp(str(paths.get(ctx.payload, "context.timestamp")))
    except (ValueError, paths.PathError, KeyError):
        return []
    delta = (got - sent).total_seconds()
    if delta < limit:
        return []
    return [f"callback came {delta:.2f}s after the request (limit {limit}s)"]


def check_no_error(ctx: CheckContext, _arg: Any) -> list[str]:
    err = ctx.payload.get("error")
    return [f"callback carries error {err}"] if err else []


def check_error_code(ctx: CheckContext, arg: Any) -> list[str]:
    err = ctx.payload.get("error") or {}
    if str(err.get("code")) != str(arg):
        return [f"expected error code {arg}, got {err.get('code')!r}"]
    return []


def _quote_of(payload: dict[str, Any]) -> Any:
    return paths.get(payload, "message.order.quote", None)


def check_quote_equals(ctx: CheckContext, arg: Any) -> list[str]:
    other = ctx.state.messages.get(str(arg))
    if other is None:
        return [f"no step {arg!r} to compare the quote with"]
    mine, theirs = _quote_of(ctx.payload), _quote_of(other)
    if mine is None:
        return ["no message.order.quote"]
    # Same total and the same lines (by item id + title type). Only on_select's breakup
    # carries item.quantity (stock); LVU requires it gone afterwards, so it is not compared.
    def core(q: Any) -> Any:
        lines = {}
        for line in (q or {}).get("breakup") or []:
            line = dict(line)
            if isinstance(line.get("item"), dict):
                line["item"] = {k: v for k, v in line["item"].items() if k != "quantity"}
                if not line["item"]:
                    del line["item"]
            key = f"{line.get('@ondc/org/item_id')}/{line.get('@ondc/org/title_type')}"
            lines[key] = line
        return {"price": (q or {}).get("price"), "breakup": lines}

    return [f"quote differs from {arg}'s at {d}" for d in differences(core(theirs), core(mine))]


def differences(a: Any, b: Any, path: str = "quote", limit: int = 5) -> list[str]:
    """Where two JSON values differ, as ``path: old -> new`` (at most ``limit``)."""
    out: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key, "<missing>"), y.get(key, "<missing>"), f"{where}.{key}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                walk(p, q, f"{where}[{i}]")
        elif x != y:
            out.append(f"{where}: {json.dumps(x)[:80]} -> {json.dumps(y)[:80]}")

    walk(a, b, path)
    return out


def check_no_breakup_quantity(ctx: CheckContext, _arg: Any) -> list[str]:
    """LVU: after on_select a quote breakup line must not carry ``item.quantity``."""
    quote = _quote_of(ctx.payload) or {}
    bad = [
        str(line.get("@ondc/org/item_id"))
        for line in quote.get("breakup") or []
        if isinstance(line.get("item"), dict) and "quantity" in line["item"]
    ]
    return [f"quote.breakup item.quantity present after on_select for {bad}"] if bad else []


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def check_quote_total(ctx: CheckContext, _arg: Any) -> list[str]:
    quote = _quote_of(ctx.payload)
    if not quote:
        return ["no message.order.quote"]
    total = _decimal(paths.get(quote, "price.value", None))
    parts = [_decimal(paths.get(b, "price.value", None)) for b in quote.get("breakup") or []]
    if total is None or any(p is None for p in parts):
        return ["quote price or breakup values are not decimals"]
    summed = sum(parts, Decimal(0))  # type: ignore[arg-type]
    if summed != total:
        return [f"quote.price.value {total} != sum of breakup {summed}"]
    return []


def _fulfillment_states(payload: dict[str, Any], ftype: str | None = None) -> list[str]:
    out = []
    for f in paths.get(payload, "message.order.fulfillments", []) or []:
        if ftype and f.get("type") != ftype:
            continue
        code = paths.get(f, "state.descriptor.code", None)
        if code:
            out.append(str(code))
    return out


def check_fulfillment_state(ctx: CheckContext, arg: Any) -> list[str]:
    ftype = None
    if isinstance(arg, dict):
        ftype, arg = arg.get("type"), arg.get("state")
    states = _fulfillment_states(ctx.payload, ftype)
    return [] if arg in states else [f"fulfillment state {arg!r} not in {states}"]


def check_order_state(ctx: CheckContext, arg: Any) -> list[str]:
    got = paths.get(ctx.payload, "message.order.state", None)
    return [] if got == arg else [f"order state is {got!r}, expected {arg!r}"]


def check_same_order_id(ctx: CheckContext, _arg: Any) -> list[str]:
    got = paths.get(ctx.payload, "message.order.id", None)
    if ctx.state.order_id and got != ctx.state.order_id:
        return [f"order.id {got!r} is not the confirmed {ctx.state.order_id!r}"]
    return []


def check_catalog_items(ctx: CheckContext, arg: Any) -> list[str]:
    """``catalog_items: N`` at least N items; ``{exactly: N}``; ``{min: A, max: B}``."""
    if isinstance(arg, dict):
        unknown = set(arg) - {"exactly", "min", "max"}
        if unknown:
            raise ValueError(f"catalog_items takes exactly/min/max, not {sorted(unknown)}")
        if "exactly" in arg:
            low = high = int(arg["exactly"])
        else:
            low = int(arg.get("min", 0))
            high = int(arg["max"]) if "max" in arg else None
    else:
        low, high = int(arg or 1), None
    providers = paths.get(ctx.payload, "message.catalog.bpp/providers", []) or []
    count = sum(len(p.get("items") or []) for p in providers)
    if count < low or (high is not None and count > high):
        want = (f"exactly {low}" if low == high else f">= {low}" if high is None
                else f"{low}..{high}")
        ids = [i.get("id") for p in providers for i in p.get("items") or []][:10]
        return [f"catalog has {count} item(s) {ids}, expected {want}"]
    return []


def check_path_equals(ctx: CheckContext, arg: Any) -> list[str]:
    got = paths.get(ctx.payload, arg["path"], None)
    return [] if got == arg["value"] else [f"{arg['path']} is {got!r}, expected {arg['value']!r}"]


def check_path_exists(ctx: CheckContext, arg: Any) -> list[str]:
    sentinel = object()
    return [] if paths.get(ctx.payload, str(arg), sentinel) is not sentinel else [f"no {arg}"]


def check_path_absent(ctx: CheckContext, arg: Any) -> list[str]:
    """What must not be there (retail 1.2.0: no order cancellation_terms; an incremental
    on_search: nothing but what changed)."""
    sentinel = object()
    found = paths.get(ctx.payload, str(arg), sentinel)
    return [] if found is sentinel else [f"{arg} present, but should be absent"]


def check_ack(ctx: CheckContext, arg: Any) -> list[str]:
    """For send steps: ``ack: true`` (default) or ``ack: false``."""
    sent = ctx.sent
    if sent is None:
        return []
    want = "ACK" if arg in (True, None, "ACK") else "NACK"
    if sent.error:
        return [f"request failed: {sent.error}"]
    if sent.ack != want:
        return [f"expected {want}, got {sent.ack} (HTTP {sent.status}, error "
                f"{(sent.response or {}).get('error')})"]
    return []


def check_catalog_offer(ctx: CheckContext, arg: Any) -> list[str]:
    """Retail 1.2.5: some provider of the on_search lists the offer ``arg`` (its id) in
    ``offers``, as the seller defined it."""
    providers = paths.get(ctx.payload, "message.catalog.bpp/providers", []) or []
    shown = [str(o.get("id")) for p in providers for o in p.get("offers") or []
             if isinstance(o, dict)]
    return [] if str(arg) in shown else [f"no provider offers {arg!r} (offers: {shown})"]


def check_quote_offer(ctx: CheckContext, arg: Any) -> list[str]:
    """Retail 1.2.5: the quote carries the offer ``arg``: a breakup line of title type
    ``offer`` whose ``@ondc/org/item_id`` is the offer's id."""
    quote = _quote_of(ctx.payload) or {}
    lines = [line for line in quote.get("breakup") or [] if isinstance(line, dict)]
    if any(line.get("@ondc/org/title_type") == "offer"
           and str(line.get("@ondc/org/item_id")) == str(arg) for line in lines):
        return []
    kinds = [f"{line.get('@ondc/org/title_type')}:{line.get('@ondc/org/item_id')}"
             for line in lines]
    return [f"the quote has no offer line for {arg!r} ({kinds})"]


CHECKS: dict[str, CheckFn] = {
    "signature": check_signature,
    "acked": check_acked,
    "context": check_context_basics,
    "pairing": check_pairing,
    "timestamp_after_request": check_timestamp_after_request,
    "schema": check_schema,
    "within_seconds": check_within_seconds,
    "no_error": check_no_error,
    "error_code": check_error_code,
    "quote_equals": check_quote_equals,
    "quote_total": check_quote_total,
    "no_breakup_quantity": check_no_breakup_quantity,
    "fulfillment_state": check_fulfillment_state,
    "order_state": check_order_state,
    "same_order_id": check_same_order_id,
    "catalog_items": check_catalog_items,
    "path_equals": check_path_equals,
    "path_exists": check_path_exists,
    "path_absent": check_path_absent,
    "ack": check_ack,
    "catalog_offer": check_catalog_offer,
    "quote_offer": check_quote_offer,
}


def run_check(spec: str | dict[str, Any], ctx: CheckContext) -> CheckResult:
    if isinstance(spec, str):
        name, arg = spec, None
    else:
        if len(spec) != 1:
            return CheckResult(str(spec), [f"a check is one name with one argument: {spec}"])
        name, arg = next(iter(spec.items()))
    fn = CHECKS.get(name)
    if fn is None:
        return CheckResult(name, [f"unknown check {name!r} (have {sorted(CHECKS)})"])
    try:
        return CheckResult(name, fn(ctx, arg))
    except (paths.PathError, KeyError, TypeError, ValueError) as exc:
        return CheckResult(name, [f"check {name} could not run: {exc}"])
