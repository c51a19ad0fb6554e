"""Runs one scenario through the buyer app against a seller, step by step, and collects what
the CLI prints (progress, transcript), exports (log-validation-utility payload) and judges."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ondc_adapter.sandbox import paths
from ondc_adapter.sandbox.builders import BuildError, FlowState, build
from ondc_adapter.sandbox.buyer import BuyerApp, Callback, Sent
from ondc_adapter.sandbox.checks import (
    CALLBACK_CHECKS,
    CheckContext,
    CheckResult,
    run_check,
)
from ondc_adapter.sandbox.scenario import Scenario, Step

_REF = re.compile(r"^\$\{([^}:]+):([^}]+)\}$")


class SellerControl(Protocol):
    """The seller side of the adapter, as the scenario's ``seller:`` steps drive it.

    ``perform`` returns a short note for the transcript and may complete ``params`` with what
    it resolved or did (``item: first_in_stock`` -> the item id, the price it set); the runner
    records those params as the step's message, so later steps can say ``${step_id:item}``."""

    def supports(self, capability: str) -> bool: ...

    async def perform(self, action: str, params: dict[str, Any], state: FlowState) -> str: ...


class SellerActionFailed(Exception):
    pass


@dataclass
class StepOutcome:
    step: Step
    status: str  # pass | fail | skip
    latency_ms: float | None = None
    ack: str | None = None
    key_fields: dict[str, str] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    note: str | None = None

    @property
    def problems(self) -> list[str]:
        out = [f"{c.name}: {p}" for c in self.checks for p in c.problems]
        if self.note and self.status == "fail":
            out.insert(0, self.note)
        return out


@dataclass
class FlowResult:
    scenario: Scenario
    domain: str
    outcomes: list[StepOutcome]
    export: dict[str, Any]
    elapsed_s: float
    unsupported: list[str] = field(default_factory=list)
    # export key -> the exact bytes that went over the wire (the bundle splices these in)
    wire: dict[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unsupported and all(o.status != "fail" for o in self.outcomes)


def _resolve(value: Any, state: FlowState) -> Any:
    """``${step_id:path}`` in a ``set`` value refers to an earlier step's message."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            step_id, path = match.groups()
            if step_id not in state.messages:
                raise BuildError(f"{value}: no earlier step {step_id!r}")
            try:
                return copy.deepcopy(paths.get(state.messages[step_id], path))
            except paths.PathError as exc:
                raise BuildError(f"{value}: {exc}") from None
        return value
    if isinstance(value, dict):
        return {k: _resolve(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, state) for v in value]
    return value


def _key_fields(payload: dict[str, Any] | None) -> dict[str, str]:
    if not payload:
        return {}
    out: dict[str, str] = {}
    ctx = payload.get("context") or {}
    if ctx.get("message_id"):
        out["msg"] = str(ctx["message_id"])[:8]
    order = paths.get(payload, "message.order", None)
    if isinstance(order, dict):
        if order.get("id"):
            out["order"] = str(order["id"])
        if order.get("state"):
            out["state"] = str(order["state"])
        states = [
            str(paths.get(f, "state.descriptor.code", ""))
            for f in order.get("fulfillments") or []
            if paths.get(f, "state.descriptor.code", None)
        ]
        if states:
            out["fulfillment"] = ",".join(states)
        total = paths.get(order, "quote.price.value", None)
        if total is not None:
            out["total"] = str(total)
    providers = paths.get(payload, "message.catalog.bpp/providers", None)
    if isinstance(providers, list):
        out["providers"] = str(len(providers))
        out["items"] = str(sum(len(p.get("items") or []) for p in providers))
    issue = paths.get(payload, "message.issue", None)
    if isinstance(issue, dict):  # IGM: where the complaint stands, and the latest action
        out["issue"] = str(issue.get("status"))
        actions = issue.get("actions") or []
        if actions and isinstance(actions[-1], dict):
            out["action"] = str(paths.get(actions[-1], "descriptor.code", "?"))
    err = payload.get("error")
    if isinstance(err, dict) and err.get("code"):
        out["error"] = str(err["code"])
    return out


def _run_step_check(spec: str | dict[str, Any], ctx: CheckContext, state: FlowState
                    ) -> CheckResult:
    """A scenario check, its ``${step:path}`` references resolved first."""
    try:
        resolved = _resolve(spec, state)
    except BuildError as exc:
        name = spec if isinstance(spec, str) else next(iter(spec), "check")
        return CheckResult(str(name), [str(exc)])
    return run_check(resolved, ctx)


class ScenarioRunner:
    def __init__(
        self,
        buyer: BuyerApp,
        seller: SellerControl | None,
        *,
        domain: str,
        city: str = "std:080",
        on_step: Callable[[StepOutcome], None] | None = None,
        schema_dir: Path | None = None,
    ) -> None:
        self.buyer = buyer
        self.seller = seller
        self.domain = domain
        self.city = city
        self.on_step = on_step
        self.schema_dir = schema_dir

    def unsupported(self, scenario: Scenario) -> list[str]:
        if self.seller is None:
            return [r for r in scenario.requires if r.startswith("seller.")]
        return [r for r in scenario.requires if not self.seller.supports(r)]

    async def run(self, scenario: Scenario) -> FlowResult:
        t0 = time.perf_counter()
        state = FlowState(
            domain=self.domain,
            city=self.city,
            bap_id=self.buyer.bap_id,
            bap_uri=self.buyer.base_url,
            core_version=scenario.core_version,
        )
        export: dict[str, Any] = {}
        outcomes: list[StepOutcome] = []
        missing = self.unsupported(scenario)
        if missing:
            return FlowResult(scenario, self.domain, [], {}, 0.0, unsupported=missing)
        sent_by_step: dict[str, Sent] = {}
        seen_ids: set[str] = set()
        self._wire: dict[str, bytes] = {}
        aborted = False
        for step in scenario.steps:
            if aborted:
                outcome = StepOutcome(step, "skip", note="skipped after an earlier failure")
            elif step.kind == "send":
                outcome = await self._send(step, state, sent_by_step, seen_ids, export)
            elif step.kind == "await":
                outcome = await self._await(step, state, sent_by_step, seen_ids, export)
            else:
                outcome = await self._seller(step, state)
            outcomes.append(outcome)
            if self.on_step:
                self.on_step(outcome)
            if outcome.status == "fail" and outcome.note and not step.optional:
                aborted = True  # the flow cannot go on (nothing sent, nothing received)
        return FlowResult(
            scenario,
            self.domain,
            outcomes,
            {
                "domain": self.domain,
                "version": (
                    scenario.validator.version if scenario.validator else scenario.core_version
                ),
                "flow": scenario.validator.flow if scenario.validator else scenario.flow,
                "bap_id": self.buyer.bap_id,
                "bpp_id": state.bpp_id,
                "payload": export,
            },
            time.perf_counter() - t0,
            wire=self._wire,
        )

    async def _send(
        self,
        step: Step,
        state: FlowState,
        sent_by_step: dict[str, Sent],
        seen_ids: set[str],
        export: dict[str, Any],
    ) -> StepOutcome:
        name, params = step.builder()
        try:
            payload = build(name, state, params)
            for path, value in step.set.items():
                paths.set_path(payload, path, _resolve(value, state))
        except (BuildError, paths.PathError) as exc:
            return StepOutcome(step, "fail", note=f"cannot build {step.action}: {exc}")
        if step.reply_to:  # an on_* answering a request the buyer app received: its message_id
            answered = paths.get(state.messages.get(step.reply_to, {}), "context.message_id", None)
            if not answered:
                return StepOutcome(step, "fail", note=f"no message {step.reply_to!r} to answer")
            payload["context"]["message_id"] = answered
        sent = await self.buyer.send(step.action, payload)
        sent_by_step[str(step.id)] = sent
        seen_ids.add(payload["context"]["message_id"])
        state.messages[str(step.id)] = payload
        state.last[step.action] = payload
        if step.export:
            export[step.export] = payload
            self._wire[step.export] = sent.body
        ctx = CheckContext(state, sent=sent, seen_message_ids=seen_ids, schema_dir=self.schema_dir)
        want_ack = step.expect.get("ack", True)
        checks = [run_check({"ack": want_ack}, ctx)]
        if "error_code" in step.expect:
            code = (sent.response or {}).get("error", {}) or {}
            if str(code.get("code")) != str(step.expect["error_code"]):
                checks.append(CheckResult("error_code", [
                    f"expected NACK code {step.expect['error_code']}, got {code.get('code')}"]))
        checks += [_run_step_check(spec, ctx, state) for spec in step.checks]
        fields = _key_fields(payload)
        if sent.error_code:
            fields["nack"] = sent.error_code
        ok = all(c.ok for c in checks)
        # A request that was refused when an ACK was wanted ends the flow.
        fatal = (sent.ack != "ACK" and want_ack) or sent.error is not None
        return StepOutcome(
            step,
            "pass" if ok else "fail",
            latency_ms=sent.elapsed_ms,
            ack=sent.ack or (f"HTTP {sent.status}" if sent.status else "no answer"),
            key_fields=fields,
            checks=checks,
            note=(f"{step.action} was not accepted" if fatal else None),
        )

    def _matcher(
        self, step: Step, state: FlowState, request: Sent | None, seen_ids: set[str]
    ) -> Callable[[Callback], bool]:
        def match(cb: Callback) -> bool:
            if cb.action != step.await_:
                return False
            ctx = cb.context
            if request is not None:
                if ctx.get("message_id") != request.payload["context"]["message_id"]:
                    return False
            else:
                if ctx.get("transaction_id") not in (
                    state.transaction_id, state.search_transaction_id
                ):
                    return False
                if ctx.get("message_id") in seen_ids:
                    return False
            return all(paths.get(cb.payload or {}, path, None) == value for path, value in where)

        where = [(w.path, _resolve(w.equals, state)) for w in step.where]
        return match

    async def _await(
        self,
        step: Step,
        state: FlowState,
        sent_by_step: dict[str, Sent],
        seen_ids: set[str],
        export: dict[str, Any],
    ) -> StepOutcome:
        request = sent_by_step.get(step.reply_to) if step.reply_to else None
        if step.reply_to and request is None:
            return StepOutcome(step, "fail", note=f"no request {step.reply_to!r} was sent")
        started = time.perf_counter()
        try:
            matcher = self._matcher(step, state, request, seen_ids)
        except BuildError as exc:
            return StepOutcome(step, "fail", note=f"where: {exc}")
        cb = await self.buyer.wait_for(matcher, step.timeout)
        if step.absent:
            return self._absent(step, cb, started)
        if cb is None:
            what = f"answer to {step.reply_to}" if request else "unsolicited callback"
            status = "skip" if step.optional else "fail"
            return StepOutcome(step, status, note=f"no {step.await_} ({what}) within "
                                                  f"{step.timeout:g}s")
        if request is not None:
            latency = (cb.received_at - request.sent_at).total_seconds() * 1000
        else:
            latency = (time.perf_counter() - started) * 1000
        payload = cb.payload or {}
        ctx_obj = CheckContext(
            state, callback=cb, request=request, seen_message_ids=set(seen_ids),
            schema_dir=self.schema_dir,
        )
        checks = [run_check(name, ctx_obj) for name in CALLBACK_CHECKS]
        checks += [_run_step_check(spec, ctx_obj, state) for spec in step.checks]
        msg_id = (payload.get("context") or {}).get("message_id")
        if msg_id:
            seen_ids.add(str(msg_id))
        if state.bpp_id is None and cb.context.get("bpp_id"):
            state.bpp_id = str(cb.context["bpp_id"])
            state.bpp_uri = str(cb.context.get("bpp_uri") or "")
        state.messages[str(step.id)] = payload
        state.last[str(step.await_)] = payload
        if step.export:
            export[step.export] = payload
            self._wire[step.export] = cb.body
        ok = all(c.ok for c in checks)
        return StepOutcome(
            step,
            "pass" if ok else "fail",
            latency_ms=latency,
            ack="ACK" if cb.acked else "NACK",
            key_fields=_key_fields(payload),
            checks=checks,
        )

    def _absent(self, step: Step, cb: Callback | None, started: float) -> StepOutcome:
        """``absent: true``: silence for ``timeout`` seconds is the pass. A callback that does
        come fails the check (not the flow: nothing later depends on it)."""
        if cb is None:
            return StepOutcome(
                step, "pass", latency_ms=(time.perf_counter() - started) * 1000, ack="-",
                key_fields={"quiet": f"{step.timeout:g}s"},
            )
        after = (time.perf_counter() - started) * 1000
        problem = (f"unexpected {cb.action} (message_id {cb.context.get('message_id')}) "
                   f"{after:.0f} ms into a {step.timeout:g}s quiet period")
        return StepOutcome(
            step, "fail", latency_ms=after, ack="ACK" if cb.acked else "NACK",
            key_fields=_key_fields(cb.payload), checks=[CheckResult("absent", [problem])],
        )

    async def _seller(self, step: Step, state: FlowState) -> StepOutcome:
        if self.seller is None:
            return StepOutcome(step, "fail", note="no seller control in this run")
        t0 = time.perf_counter()
        try:
            params = _resolve(step.params, state)
            note = await self.seller.perform(step.action, params, state)
        except (SellerActionFailed, BuildError) as exc:
            return StepOutcome(step, "fail", note=f"seller {step.action} failed: {exc}")
        state.messages[str(step.id)] = {"seller": step.action, **params}
        return StepOutcome(
            step, "pass", latency_ms=(time.perf_counter() - t0) * 1000, ack="-",
            key_fields={"did": note} if note else {},
        )
