"""IGM flow 1 in the sandbox (`sandbox run igm-1`): an order delivered, then a complaint with two
rounds of information, a refund proposed, accepted, resolved and closed, on RET10, RET12 and
RET16. The export is ONDC's validator request for IGM 2.0.0 (version "2.0.0", flow FLOW_1,
every FLOW_1 key of IGM2FlowSequence), each payload the bytes that went over the wire, and the
ported IGM rules find nothing in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from test_sandbox_export import payload_texts

from ondc_adapter.igm import service as igm
from ondc_adapter.lvu import validate_bundle
from ondc_adapter.lvu.igm_rules import FLOW_SEQUENCE
from ondc_adapter.orders import settlements
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.report import exportable, write_export
from ondc_adapter.sandbox.scenario import Scenario, find_scenario
from ondc_adapter.sandbox.session import run_flow, run_scenario_on

FLOW_1 = FLOW_SEQUENCE["FLOW_1"]


def codes(payload: dict) -> list[str]:
    return [a["descriptor"]["code"] for a in payload["message"]["issue"]["actions"]]


@pytest.mark.parametrize("domain", ["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"])
async def test_igm_flow_1_exports_every_key_as_sent_and_is_clean(domain: str,
                                                                  tmp_path: Path) -> None:
    output = await run_flow("igm-1", domain=domain,
                            options=NetworkOptions(domains=[domain], work_dir=tmp_path))
    result = output.result
    assert result.ok, [p for o in result.outcomes for p in o.problems]
    export = result.export
    assert {k: export[k] for k in ("domain", "version", "flow")} == {
        "domain": domain, "version": "2.0.0", "flow": "FLOW_1"}
    assert export["bap_id"] == "buyer.sandbox.localhost"
    assert export["bpp_id"] == "seller.sandbox.localhost"
    assert exportable(export)
    # every FLOW_1 key, in the validator's order, and nothing of the order part
    assert list(export["payload"]) == list(FLOW_1)

    bundle_path = tmp_path / "igm.json"
    write_export(bundle_path, export, result.wire)
    text = bundle_path.read_text(encoding="utf-8")
    written = json.loads(text)
    assert {k: v for k, v in written.items() if k != "payload"} == {
        k: v for k, v in export.items() if k != "payload"}
    wire = {e.request_body for e in output.transcript.exchanges}
    texts = payload_texts(text)
    assert list(texts) == list(FLOW_1)
    for key, body in texts.items():
        assert body in wire, f"{key} is not what went over the wire"
        assert body.encode("utf-8") == result.wire[key]

    payload = written["payload"]
    assert [payload[k]["context"]["action"] for k in FLOW_1] == [
        "issue" if k.startswith("issue_") else "on_issue" for k in FLOW_1]
    assert codes(payload["issue_closed"]) == [
        "OPEN", "PROCESSING", "INFO_REQUESTED", "INFO_PROVIDED", "PROCESSING", "INFO_REQUESTED",
        "INFO_PROVIDED", "PROCESSING", "RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLVED",
        "CLOSED"]
    # solicited answers pair with their issue; the pushes have message ids of their own
    ids = {k: payload[k]["context"]["message_id"] for k in FLOW_1}
    assert ids["on_issue_processing_1"] == ids["issue_open"]
    assert ids["on_issue_processing_2"] == ids["issue_info_provided_1"]
    assert len({ids[k] for k in FLOW_1 if k.startswith("on_")}) == 6
    assert len({payload[k]["context"]["transaction_id"] for k in FLOW_1}) == 1

    findings = validate_bundle(written)
    assert findings == [], "\n".join(map(str, findings))


async def test_the_refund_reaches_the_order_and_the_issue_is_closed(tmp_path: Path) -> None:
    domain = "ONDC:RET16"
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        output = await run_flow("igm-1", domain=domain, url=net.registry_url,
                                remote_transcript=False)  # seller steps over HTTP, too
        assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
        payload = output.result.export["payload"]
        issue_id = payload["issue_open"]["message"]["issue"]["id"]
        [refund] = payload["on_issue_resolution_proposed"]["message"]["issue"]["resolutions"]
        async with net.adapter_app.state.db.session() as session:
            record = await igm.find(session, issue_id)
            assert record is not None and record.status == "CLOSED"
            assert record.accepted_resolution == refund["id"]
            order = (await session.scalars(
                select(OrderRecord).where(OrderRecord.order_id == record.order_id))).one()
            rows = await settlements.of_order(session, order.id)
    amount = next(e["value"] for e in refund["tags"][0]["list"]
                  if e["descriptor"]["code"] == "REFUND_AMOUNT")
    assert [(r.kind, r.amount, r.source) for r in rows] == [("refund", amount, "igm")]


async def test_a_seller_action_the_node_refuses_fails_its_step(tmp_path: Path) -> None:
    """Resolving before the buyer accepted anything: the step fails with the node's reason
    (igm.rules), and the flow stops there."""
    domain = "ONDC:RET12"
    flow = find_scenario("igm-1")
    steps = [s.model_dump(by_alias=True, exclude_unset=True) for s in flow.steps]
    upto = next(i for i, s in enumerate(steps) if s["id"] == "on_issue_processing_1")
    early = Scenario.model_validate({
        "flow": "igm-early", "name": "resolve too early", "steps": [
            *steps[:upto + 1],
            {"id": "resolve", "seller": "issue_resolve"},
            {"id": "on_issue_resolved", "await": "on_issue", "unsolicited": True, "timeout": 1},
        ]})
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        result = await run_scenario_on(net, early, domain=domain)
    outcomes = {o.step.id: o for o in result.outcomes}
    assert outcomes["on_issue_processing_1"].status == "pass"
    assert outcomes["resolve"].status == "fail"
    assert "resolve follows the buyer's RESOLUTION_ACCEPTED" in outcomes["resolve"].note
    assert outcomes["on_issue_resolved"].status == "skip"


def test_sandbox_run_writes_the_bundle_and_reports_the_igm_rules(tmp_path: Path) -> None:
    bundle, transcript = tmp_path / "igm.json", tmp_path / "run.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "ondc_adapter.cli", "sandbox", "run", "igm-1", "--domain",
         "ONDC:RET12", "--export", str(bundle), "--transcript", str(transcript), "--quiet"],
        capture_output=True, text=True, cwd=tmp_path, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "IGM 2.0.0 FLOW_1): 0 finding(s)" in out
    data = json.loads(bundle.read_text(encoding="utf-8"))
    assert data["version"] == "2.0.0" and list(data["payload"]) == list(FLOW_1)
    bodies = {json.loads(line)["request_body"]
              for line in transcript.read_text(encoding="utf-8").splitlines()}
    assert all(t in bodies for t in payload_texts(bundle.read_text(encoding="utf-8")).values())
    checked = subprocess.run([sys.executable, "-m", "ondc_adapter.cli", "validate", str(bundle)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 finding(s) in flow FLOW_1 (ONDC:RET12, IGM 2.0.0)" in checked.stdout


def test_flows_lists_igm_1_and_2_and_says_when_flow_3_comes() -> None:
    from typer.testing import CliRunner

    from ondc_adapter.cli import app

    r = CliRunner().invoke(app, ["sandbox", "flows"])
    assert r.exit_code == 0, r.output
    listed = " ".join(r.output.split())
    assert "igm-1 IGM flow 1" in listed
    assert "igm-2 IGM flow 2: the seller's complaint" in listed
    assert "not yet" in listed and "igm-3" in listed and "logistics" in listed
    assert listed.index("igm-2") < listed.index("not yet")  # igm-2 is no longer "not yet"
