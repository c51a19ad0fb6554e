"""Human-readable output of a run: one line per step as it happens, then a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ondc_adapter.sandbox.runner import FlowResult, StepOutcome
from ondc_adapter.sandbox.scenario import VALIDATOR_FLOWS

STATUS_STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def step_line(outcome: StepOutcome) -> Text:
    step = outcome.step
    verb = {"send": "→", "await": "←", "seller": "⚙"}[step.kind]
    text = Text()
    text.append(f"{outcome.status.upper():4} ", style=STATUS_STYLE[outcome.status])
    text.append(f"{verb} {step.action:<10} ", style="bold")
    if step.id != step.action:
        text.append(f"[{step.id}] ", style="dim")
    if outcome.latency_ms is not None:
        text.append(f"{outcome.latency_ms:7.1f} ms ", style="cyan")
    if outcome.ack:
        text.append(f"{outcome.ack:<5} ", style="green" if outcome.ack in ("ACK", "-") else "red")
    text.append(" ".join(f"{k}={v}" for k, v in outcome.key_fields.items()), style="dim")
    for problem in outcome.problems:
        text.append(f"\n       ✗ {problem}", style="red")
    return text


def summary(result: FlowResult) -> Table:
    table = Table(title=f"flow {result.scenario.flow}: {result.scenario.name} ({result.domain})")
    table.add_column("step")
    table.add_column("action")
    table.add_column("latency", justify="right")
    table.add_column("ack")
    table.add_column("checks")
    table.add_column("result")
    for o in result.outcomes:
        passed = sum(c.ok for c in o.checks)
        table.add_row(
            str(o.step.id),
            o.step.action,
            f"{o.latency_ms:.1f} ms" if o.latency_ms is not None else "",
            o.ack or "",
            f"{passed}/{len(o.checks)}" if o.checks else "",
            Text(o.status, style=STATUS_STYLE[o.status]),
        )
    return table


def print_result(console: Console, result: FlowResult) -> None:
    if result.unsupported:
        console.print(
            f"[red]flow {result.scenario.flow} needs what this adapter does not offer: "
            f"{', '.join(result.unsupported)}[/red]"
        )
        return
    console.print(summary(result))
    failed = [o for o in result.outcomes if o.status == "fail"]
    verdict = "[green]PASSED[/green]" if result.ok else f"[red]FAILED ({len(failed)} step(s))[/red]"
    console.print(f"{verdict} in {result.elapsed_s:.2f}s")


def exportable(export: dict[str, Any]) -> bool:
    return str(export.get("flow")) in VALIDATOR_FLOWS.get(str(export.get("version")), ())


def write_export(path: Path, export: dict[str, Any], wire: dict[str, bytes] | None = None) -> None:
    """The log-validation-utility request body (``POST /api/validate``; an IGM bundle, version
    2.0.0, goes to ``/api/validate/igm``). Each payload is the body that went over the wire,
    spliced in byte for byte (never parsed and written again)."""
    wire = wire or {}
    head = ", ".join(
        f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in export.items() if k != "payload"
    )
    payloads = ",\n".join(
        f"    {json.dumps(key)}: "
        + (wire[key].decode("utf-8") if key in wire else json.dumps(value, ensure_ascii=False))
        for key, value in (export.get("payload") or {}).items()
    )
    path.write_text("{" + head + ', "payload": {\n' + payloads + "\n}}\n", encoding="utf-8")
