"""IGM flow 2 in the sandbox (`sandbox run igm-2`): an order, then the SELLER complains to the
buyer app (VIS001), accepts its resolution, escalates to the buyer app's GRO, accepts the GRO's
and closes, on RET10, RET12 and RET16. The node sends every `issue` (outbox, dispatcher, signed),
the sandbox buyer app receives it at /issue and answers with `on_issue`. The export is ONDC's
validator request for IGM 2.0.0 (version "2.0.0", flow FLOW_2, every FLOW_2 key of
IGM2FlowSequence), each payload the bytes that went over the wire, and the ported IGM rules
find nothing in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from test_sandbox_export import payload_texts

from ondc_adapter.igm import complainant
from ondc_adapter.igm.tables import IssueEvent, IssueRecord
from ondc_adapter.lvu import validate_bundle
from ondc_adapter.lvu.igm_rules import FLOW_SEQUENCE
from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.report import exportable, write_export
from ondc_adapter.sandbox.scenario import Scenario, find_scenario
from ondc_adapter.sandbox.session import run_flow, run_scenario_on

FLOW_2 = FLOW_SEQUENCE["FLOW_2"]
BAP, BPP = "buyer.sandbox.localhost", "seller.sandbox.localhost"
CODES = [
    "OPEN", "PROCESSING", "RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLVED", "ESCALATED",
    "PROCESSING", "RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLVED", "CLOSED",
]


def codes(payload: dict) -> list[str]:
    return [a["descriptor"]["code"] for a in payload["message"]["issue"]["actions"]]


def test_the_flow_2_keys_are_the_validators() -> None:
    assert FLOW_2 == (
        "issue_open", "on_issue_processing", "on_issue_resolution_proposed",
        "issue_resolution_accepted", "on_issue_resolved", "issue_esclated",
        "on_issue_gro_processing", "on_issue_gro_resolution_proposed",
        "issue_gro_resolution_accepted", "on_issue_gro_resolved", "issue_gro_close")


@pytest.mark.parametrize("domain", ["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"])
async def test_igm_flow_2_exports_every_key_as_sent_and_is_clean(domain: str,
                                                                  tmp_path: Path) -> None:
    output = await run_flow("igm-2", domain=domain,
                            options=NetworkOptions(domains=[domain], work_dir=tmp_path))
    result = output.result
    assert result.ok, [p for o in result.outcomes for p in o.problems]
    export = result.export
    assert {k: v for k, v in export.items() if k != "payload"} == {
        "domain": domain, "version": "2.0.0", "flow": "FLOW_2", "bap_id": BAP, "bpp_id": BPP}
    assert exportable(export)
    # every FLOW_2 key, in the validator's order, and nothing of the order part
    assert list(export["payload"]) == list(FLOW_2)

    bundle_path = tmp_path / "igm2.json"
    write_export(bundle_path, export, result.wire)
    text = bundle_path.read_text(encoding="utf-8")
    written = json.loads(text)
    assert {k: v for k, v in written.items() if k != "payload"} == {
        k: v for k, v in export.items() if k != "payload"}
    texts = payload_texts(text)
    assert list(texts) == list(FLOW_2)
    # the node posts every issue to the buyer app, the buyer app every on_issue to the node
    sent_by = {e.request_body: (e.party, e.url) for e in output.transcript.exchanges}
    for key, body in texts.items():
        assert body in sent_by, f"{key} is not what went over the wire"
        assert body.encode("utf-8") == result.wire[key]
        party, url = sent_by[body]
        if key.startswith("issue_"):
            assert party == "adapter" and url.startswith(f"http://{BAP}:"), (key, party, url)
            assert url.endswith("/issue")
        else:
            assert party == "buyer" and url.startswith(f"http://{BPP}:"), (key, party, url)
            assert url.endswith("/on_issue")

    payload = written["payload"]
    assert [payload[k]["context"]["action"] for k in FLOW_2] == [
        "issue" if k.startswith("issue_") else "on_issue" for k in FLOW_2]
    assert codes(payload["issue_gro_close"]) == CODES
    for n, key in enumerate(FLOW_2):  # each message appends one action to the one before
        assert codes(payload[key]) == CODES[:n + 1], key
    issues = {k: payload[k]["message"]["issue"] for k in FLOW_2}
    assert [(issues[k]["status"], issues[k]["level"]) for k in FLOW_2] == [
        ("OPEN", "ISSUE"), ("PROCESSING", "ISSUE"), ("PROCESSING", "ISSUE"),
        ("PROCESSING", "ISSUE"), ("RESOLVED", "ISSUE"), ("OPEN", "GRIEVANCE"),
        ("PROCESSING", "GRIEVANCE"), ("PROCESSING", "GRIEVANCE"), ("PROCESSING", "GRIEVANCE"),
        ("RESOLVED", "GRIEVANCE"), ("CLOSED", "GRIEVANCE")]
    assert len({i["id"] for i in issues.values()}) == 1
    assert len({i["created_at"] for i in issues.values()}) == 1
    # the complaint is about the order's transaction and its store
    opening = issues["issue_open"]
    confirm = next(json.loads(e.request_body) for e in output.transcript.exchanges
                   if e.url.endswith("/confirm"))
    transaction = confirm["context"]["transaction_id"]
    assert {payload[k]["context"]["transaction_id"] for k in FLOW_2} == {transaction}
    refs = {r["ref_type"]: r["ref_id"] for r in opening["refs"]}
    assert refs == {"TRANSACTION": transaction,
                    "PROVIDER": confirm["message"]["order"]["provider"]["id"]}
    assert opening["source_id"] == refs["PROVIDER"]
    # the validator's FLOW_2 actors: the node's side is the bpp's, the buyer app's the bap's
    closing = issues["issue_gro_close"]
    orgs = {a["type"]: a["info"]["org"]["name"] for a in closing["actors"]}
    assert orgs == {"PROVIDER": f"{BPP}::{domain}", "INTERFACING_NP": f"{BPP}::{domain}",
                    "COUNTERPARTY_NP": f"{BAP}::{domain}",
                    "COUNTERPARTY_NP_GRO": f"{BAP}::{domain}"}
    assert closing["complainant_id"] == next(
        a["id"] for a in closing["actors"] if a["type"] == "INTERFACING_NP")
    # the answers to an issue pair with it; the proposals have message ids of their own
    ids = {k: payload[k]["context"]["message_id"] for k in FLOW_2}
    assert ids["on_issue_processing"] == ids["issue_open"]
    assert ids["on_issue_resolved"] == ids["issue_resolution_accepted"]
    assert ids["on_issue_gro_processing"] == ids["issue_esclated"]
    assert ids["on_issue_gro_resolved"] == ids["issue_gro_resolution_accepted"]
    assert len({ids[k] for k in FLOW_2 if k.startswith("on_")}) == 6
    assert len({ids[k] for k in FLOW_2 if k.startswith("issue_")}) == 5
    assert [r["id"] for r in closing["resolutions"]] == ["R1", "R2"]

    findings = validate_bundle(written)
    assert findings == [], "\n".join(map(str, findings))


async def test_the_node_holds_the_closed_grievance(tmp_path: Path) -> None:
    """Against a running sandbox (seller steps over HTTP, as `sandbox run --url` does): the
    node's record of the complaint it raised is closed at GRIEVANCE level, with every action
    of both sides as an event."""
    domain = "ONDC:RET16"
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        output = await run_flow("igm-2", domain=domain, url=net.registry_url,
                                remote_transcript=False)
        assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
        payload = output.result.export
        issue_id = payload["payload"]["issue_open"]["message"]["issue"]["id"]
        async with net.adapter_app.state.db.session() as session:
            record = (await session.scalars(select(IssueRecord).where(
                IssueRecord.issue_id == issue_id))).one()
            events = list(await session.scalars(
                select(IssueEvent).where(IssueEvent.issue_pk == record.id)
                .order_by(IssueEvent.id)))
    assert (record.role, record.status, record.level) == (
        complainant.COMPLAINANT, "CLOSED", "GRIEVANCE")
    assert record.bap_id == payload["bap_id"] and record.category == "VIS001"
    assert record.closed_at is not None and record.order_id is not None
    assert [e.code for e in events] == CODES
    assert [e.direction for e in events] == ["out", "in", "in", "out", "in", "out",
                                             "in", "in", "out", "in", "out"]


def _upto(step_id: str) -> list[dict]:
    steps = [s.model_dump(by_alias=True, exclude_unset=True) for s in find_scenario("igm-2").steps]
    return steps[:next(i for i, s in enumerate(steps) if s["id"] == step_id) + 1]


async def test_a_complaint_step_the_node_refuses_fails_with_its_reason(tmp_path: Path) -> None:
    """Accepting before the buyer app proposed anything: the step fails with the node's reason
    (igm.complainant), and the flow stops there."""
    domain = "ONDC:RET12"
    early = Scenario.model_validate({
        "flow": "igm-early", "name": "accept too early", "steps": [
            *_upto("processing_taken"),
            {"id": "accept", "seller": "issue_accept"},
            {"id": "issue_resolution_accepted", "await": "issue", "unsolicited": True,
             "timeout": 1},
        ]})
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        result = await run_scenario_on(net, early, domain=domain)
    outcomes = {o.step.id: o for o in result.outcomes}
    assert outcomes["processing_taken"].status == "pass"
    assert outcomes["accept"].status == "fail"
    assert "no proposed resolution to answer" in str(outcomes["accept"].note)
    assert outcomes["issue_resolution_accepted"].status == "skip"


async def test_the_buyer_app_refuses_an_issue_signed_by_someone_else(tmp_path: Path) -> None:
    """The buyer app's /issue checks the signature like a callback's: a body changed after
    signing is NACKed (401, 20001) and the await step fails its signature check."""
    domain = "ONDC:RET12"
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        buyer = net.buyer
        result = await run_scenario_on(net, Scenario.model_validate(
            {"flow": "igm-part", "name": "raise only", "steps": _upto("issue_open")}),
            domain=domain)
        assert result.ok, [p for o in result.outcomes for p in o.problems]
        [received] = [c for c in buyer.callbacks if c.action == "issue"]
        assert received.acked and received.signer == BPP
        tampered = received.body.replace(b'"OPEN"', b'"CLOSED"', 1)
        answer = await buyer.receive("issue", tampered, dict(received.headers))
    assert answer.status_code == 401
    assert json.loads(answer.body)["error"]["code"] == "20001"


def test_sandbox_run_writes_the_flow_2_bundle(tmp_path: Path) -> None:
    bundle, transcript = tmp_path / "igm2.json", tmp_path / "run.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "ondc_adapter.cli", "sandbox", "run", "igm-2", "--domain",
         "ONDC:RET10", "--export", str(bundle), "--transcript", str(transcript), "--quiet"],
        capture_output=True, text=True, cwd=tmp_path, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IGM 2.0.0 FLOW_2): 0 finding(s)" in " ".join(done.stdout.split())
    data = json.loads(bundle.read_text(encoding="utf-8"))
    assert data["flow"] == "FLOW_2" and list(data["payload"]) == list(FLOW_2)
    bodies = {json.loads(line)["request_body"]
              for line in transcript.read_text(encoding="utf-8").splitlines()}
    assert all(t in bodies for t in payload_texts(bundle.read_text(encoding="utf-8")).values())
    checked = subprocess.run([sys.executable, "-m", "ondc_adapter.cli", "validate", str(bundle)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 finding(s) in flow FLOW_2 (ONDC:RET10, IGM 2.0.0)" in checked.stdout


async def test_a_complaint_in_the_search_transaction(tmp_path: Path) -> None:
    """No order needed: the seller may complain in the transaction of a search it answered
    (the specification's TRANSACTION ref is the on_search's); the store defaults to the first
    of that on_search."""
    domain = "ONDC:RET10"
    steps = _upto("on_search")
    steps += [
        {"id": "raise", "seller": "issue_raise", "params": {"transaction": "search"}},
        {"id": "issue_open", "await": "issue", "unsolicited": True, "export": "issue_open"},
        {"id": "on_issue_processing", "send": "on_issue", "reply_to": "issue_open",
         "build": {"builder": "on_issue", "code": "PROCESSING", "short_desc": "Looking"},
         "export": "on_issue_processing"},
        {"id": "taken", "seller": "issue_taken", "params": {"status": "PROCESSING"}},
    ]
    scenario = Scenario.model_validate({"flow": "igm-search", "name": "search only",
                                        "steps": steps, "validator": {"version": "2.0.0",
                                                                      "flow": "FLOW_2"}})
    async with start_network(NetworkOptions(domains=[domain], work_dir=tmp_path)) as net:
        result = await run_scenario_on(net, scenario, domain=domain)
        search = next(json.loads(e.request_body) for e in net.transcript.exchanges
                      if e.party == "buyer" and e.url.endswith("/search"))
    assert result.ok, [p for o in result.outcomes for p in o.problems]
    opened = result.export["payload"]["issue_open"]
    transaction = search["context"]["transaction_id"]
    assert opened["context"]["transaction_id"] == transaction
    refs = {r["ref_type"]: r["ref_id"] for r in opened["message"]["issue"]["refs"]}
    assert refs["TRANSACTION"] == transaction
    assert opened["message"]["issue"]["descriptor"]["code"] == "VIS001"
    raised = next(o for o in result.outcomes if o.step.id == "raise")
    assert raised.key_fields == {"did": "raise VIS001"}
    assert validate_bundle(result.export) == []
