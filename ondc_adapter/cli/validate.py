"""``ondc-adapter validate BUNDLE.json``: what ONDC's log validator (retail 1.2.0, IGM 2.0.0)
will say of a bundle, from its rules ported to Python (``ondc_adapter.lvu``), offline. The
bundle is the validator's request body (``sandbox run --export``, or one built from a real
buyer app's logs); its ``version`` picks the rules: ``"2.0.0"`` is an IGM bundle (issues and
grievances, the validator's ``/api/validate/igm``), anything else retail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def validate(
    bundle: Annotated[Path, typer.Argument(help="the validator request: {domain, version, flow, "
                                                "bap_id, bpp_id, payload}")],
    as_json: Annotated[bool, typer.Option("--json", help="findings as JSON lines")] = False,
) -> None:
    """Run ONDC's log-validator rules (ported: retail 1.2.0, IGM 2.0.0) on a bundle; exit 1 on
    findings."""
    from ondc_adapter.lvu import kind_of, validate_bundle

    try:
        data = json.loads(bundle.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read {bundle}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        typer.echo("error: a bundle is a JSON object {domain, version, flow, payload...}", err=True)
        raise typer.Exit(2)
    findings = validate_bundle(data)
    for finding in findings:
        typer.echo(json.dumps(finding.as_dict(), ensure_ascii=False) if as_json else str(finding))
    if not as_json:
        typer.echo(f"{len(findings)} finding(s) in flow {data.get('flow')} "
                   f"({data.get('domain')}, {kind_of(str(data.get('version')))})")
    if findings:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
