"""Flow 6-pickup (sandbox/flows/6-return-pickup.yaml) end to end through the whole sandbox
(registry, gateway, buyer app, the real adapter), for RET12 and RET16: a return approved with a
reverse pickup, picked up, delivered back with reverse QC passed, refunded, settled.

Lives here until tests/sandbox/test_sandbox_flows.py lists "6-pickup" in its flows; it makes
the same checks as that test."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ondc_adapter.sandbox.checks import CALLBACK_CHECKS
from ondc_adapter.sandbox.network import NetworkOptions
from ondc_adapter.sandbox.scenario import scenario_files
from ondc_adapter.sandbox.session import run_flow

KEYS = [
    "update_reverse_qc",
    "on_update_interim_reverse_qc",
    "on_update_approval",
    "on_update_picked",
    "on_update_delivered",
    "update_settlement_reverse_qc",
]


def test_the_scenario_is_found() -> None:
    assert scenario_files()["6-pickup"].name == "6-return-pickup.yaml"


def _return_f(payload: dict) -> dict:
    return next(f for f in payload["message"]["order"]["fulfillments"] if f["type"] == "Return")


def _tags(f: dict, code: str) -> dict[str, str]:
    [tag] = [t for t in f.get("tags", []) if t["code"] == code]
    return {e["code"]: e["value"] for e in tag["list"]}


@pytest.mark.parametrize("domain", ["ONDC:RET12", "ONDC:RET16"])
async def test_flow_6_pickup(domain: str, tmp_path: Path) -> None:
    output = await run_flow(
        "6-pickup", domain=domain, options=NetworkOptions(domains=[domain], work_dir=tmp_path)
    )
    result = output.result
    assert not result.unsupported, result.unsupported
    problems = [f"{o.step.id}: {p}" for o in result.outcomes for p in o.problems]
    assert result.ok, "\n".join(problems)
    assert all(o.status == "pass" for o in result.outcomes)
    awaited = [o for o in result.outcomes if o.step.kind == "await" and not o.step.absent]
    for o in awaited:
        assert {c.name for c in o.checks} >= set(CALLBACK_CHECKS), o.step.id
    export = result.export
    assert export["flow"] == "6-pickup" and export["domain"] == domain
    payload = export["payload"]
    assert list(payload)[-len(KEYS):] == KEYS

    confirmed = payload["on_confirm"]["message"]["order"]
    paid = Decimal(confirmed["quote"]["price"]["value"])
    approval = _return_f(payload["on_update_approval"])
    assert "id" not in approval["start"]["location"]  # LVU: the buyer's place has no id
    rng = approval["start"]["time"]["range"]
    assert rng["start"] >= payload["on_update_approval"]["context"]["timestamp"]
    assert rng["end"] > rng["start"]
    picked = _return_f(payload["on_update_picked"])
    assert rng["start"] <= picked["start"]["time"]["timestamp"] <= rng["end"]
    assert "due_by" in _tags(picked, "reverseqc_input")
    back = payload["on_update_delivered"]
    ret = _return_f(back)
    assert _tags(ret, "reverseqc_output")["result"] == "passed"
    refund = -Decimal(_tags(ret, "quote_trail")["value"])
    assert refund > 0
    assert Decimal(back["message"]["order"]["quote"]["price"]["value"]) == paid - refund
    settled = payload["update_settlement_reverse_qc"]["message"]["order"]["payment"]
    assert Decimal(settled["@ondc/org/settlement_details"][0]["settlement_amount"]) == refund
