"""ONDC's log-validator rules for IGM 2.0.0, ported (``ondc_adapter.lvu.igm_rules``): the
sandbox's igm-1 bundle comes out clean, and that bundle broken in one way is flagged by the rule
that owns that way, naming itself and the validator file it comes from. At least one broken
bundle per rule; several for the rules that guard several things. The igm-2 bundle (FLOW_2:
other refs, the actors' org names turned round) comes out clean too, and breaks alike."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ondc_adapter.lvu import IGM_RULES, kind_of, validate_bundle
from ondc_adapter.sandbox.network import NetworkOptions
from ondc_adapter.sandbox.report import write_export
from ondc_adapter.sandbox.session import run_flow

DOMAIN = "ONDC:RET12"


@cache
def _exported() -> tuple[dict[str, Any], dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as work:
        output = asyncio.run(run_flow(
            "igm-1", domain=DOMAIN, options=NetworkOptions(domains=[DOMAIN], work_dir=Path(work))))
    assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
    return output.result.export, output.result.wire


def bundle() -> dict[str, Any]:
    """A fresh copy of the exported igm-1 bundle, as the validator would parse it."""
    export, wire = _exported()
    return {**copy.deepcopy(export),
            "payload": {k: json.loads(wire[k]) for k in export["payload"]}}


def issue(d: dict[str, Any], key: str) -> dict[str, Any]:
    return d["payload"][key]["message"]["issue"]


def ctx(d: dict[str, Any], key: str) -> dict[str, Any]:
    return d["payload"][key]["context"]


def actor(d: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    return next(a for a in issue(d, key)["actors"] if a["type"] == kind)


def _drop_ref(d: dict[str, Any], key: str, kind: str) -> None:
    issue(d, key)["refs"] = [r for r in issue(d, key)["refs"] if r["ref_type"] != kind]


def test_the_igm_1_bundle_is_clean() -> None:
    findings = validate_bundle(bundle())
    assert findings == [], "\n".join(map(str, findings))


Break = Callable[[dict[str, Any]], Any]
BROKEN: list[tuple[str, str, Break]] = [
    # shared/validateLogs.ts, constants/index.ts
    ("igm.bundle", "flow named as ONDC's UI does", lambda d: d.update(flow="IGM_flow_1")),
    ("igm.bundle", "a key no table has",
     lambda d: d["payload"].update(on_issue_processing_3=d["payload"]["on_issue_processing_2"])),
    # utils/index.ts checkContext
    ("igm.context", "ttl", lambda d: ctx(d, "on_issue_processing_2").update(ttl="PT1M")),
    ("igm.context", "timestamp without milliseconds",
     lambda d: ctx(d, "issue_info_provided_1").update(
         timestamp=ctx(d, "issue_info_provided_1")["timestamp"][:19] + "Z")),
    ("igm.context", "message_id is the transaction_id",
     lambda d: ctx(d, "issue_closed").update(message_id=ctx(d, "issue_closed")["transaction_id"])),
    # schema/Igm/2.0.0/issue.ts, on_issue.ts
    ("igm.schema", "retail issue without city", lambda d: ctx(d, "issue_open").pop("city")),
    ("igm.schema", "on_issue without location",
     lambda d: ctx(d, "on_issue_resolved").pop("location")),
    ("igm.schema", "on_issue without updated_target",
     lambda d: d["payload"]["on_issue_info_required_1"]["message"].pop("updated_target")),
    ("igm.schema", "issue without the description twin",
     lambda d: issue(d, "issue_info_provided_2").pop("description")),
    ("igm.schema", "action without the description twin",
     lambda d: issue(d, "on_issue_processing_2")["actions"][-1].pop("description")),
    ("igm.schema", "FULFILLMENT with two Ls",
     lambda d: next(r for r in issue(d, "issue_open")["refs"]
                    if r["ref_type"] == "FULFILMENT").update(ref_type="FULFILLMENT")),
    ("igm.schema", "domain outside the enum", lambda d: ctx(d, "issue_open").update(
        domain="ONDC:RET19")),
    ("igm.schema", "actor without email",
     lambda d: actor(d, "on_issue_resolved", "COUNTERPARTY_NP")["info"]["contact"].pop("email")),
    ("igm.schema", "on_issue without respondent_ids",
     lambda d: issue(d, "on_issue_processing_1").pop("respondent_ids")),
    # issue.ts descriptor, common/actions.ts (@359f5ac)
    ("igm.descriptor", "issue without descriptor",
     lambda d: issue(d, "on_issue_processing_1").pop("descriptor")),
    ("igm.descriptor", "action without descriptor",
     lambda d: issue(d, "issue_closed")["actions"][0].pop("descriptor")),
    # per-key statuses
    ("igm.status", "issue_open not OPEN", lambda d: issue(d, "issue_open").update(
        status="PROCESSING")),
    ("igm.status", "on_issue_resolved not RESOLVED", lambda d: issue(d, "on_issue_resolved").update(
        status="PROCESSING")),
    ("igm.status", "on_issue_resolution_proposed RESOLVED",
     lambda d: issue(d, "on_issue_resolution_proposed").update(status="RESOLVED")),
    ("igm.status", "on_issue with an unknown status",
     lambda d: issue(d, "on_issue_processing_2").update(status="INFO_REQUESTED")),
    ("igm.status", "closed as RESOLVED without a resolution",
     lambda d: issue(d, "issue_closed").update(status="RESOLVED")),
    # timestamps of issue and on_issue
    ("igm.timestamps", "on_issue sent after its updated_at",
     lambda d: ctx(d, "on_issue_info_required_2").update(timestamp="2999-01-01T00:00:00.000Z")),
    ("igm.timestamps", "issue updated after it was sent",
     lambda d: issue(d, "issue_resolution_accepted").update(updated_at="2999-01-01T00:00:00.000Z")),
    ("igm.timestamps", "issue_open updated_at differs from created_at",
     lambda d: issue(d, "issue_open").update(
         updated_at=issue(d, "issue_open")["created_at"].replace("Z", "+00:00"))),
    ("igm.timestamps", "on_issue not later than created_at",
     lambda d: issue(d, "on_issue_processing_1").update(
         created_at=issue(d, "on_issue_processing_1")["updated_at"])),
    ("igm.timestamps", "issue later than its last action",
     lambda d: issue(d, "issue_closed")["actions"][-1].update(
         updated_at="2000-01-01T00:00:00.000Z")),
    # last_action_id
    ("igm.last_action", "last_action_id of an earlier action",
     lambda d: issue(d, "on_issue_resolved").update(
         last_action_id=issue(d, "on_issue_resolved")["actions"][0]["id"])),
    ("igm.last_action", "acceptance without actions",
     lambda d: issue(d, "issue_resolution_accepted").update(actions=[])),
    # update_target / updated_target
    ("igm.update_target", "unknown action",
     lambda d: d["payload"]["issue_info_provided_1"]["message"]["update_target"][0].update(
         action="ADDED")),
    ("igm.update_target", "path outside issue",
     lambda d: d["payload"]["on_issue_processing_2"]["message"]["updated_target"][0].update(
         path="actions")),
    ("igm.update_target", "not an array",
     lambda d: d["payload"]["on_issue_resolved"]["message"].update(update_target={})),
    # common/actions.ts
    ("igm.actions", "action without action_by",
     lambda d: issue(d, "on_issue_info_required_1")["actions"][-1].pop("action_by")),
    ("igm.actions", "CLOSE without tags",
     lambda d: issue(d, "issue_closed")["actions"][-1].update(
         descriptor={"code": "CLOSE", "short_desc": "closing"}, tags=[])),
    ("igm.actions", "actor_details without name",
     lambda d: issue(d, "issue_info_provided_2")["actions"][-1].update(actor_details={})),
    # resolutions
    ("igm.resolutions", "proposal without resolutions",
     lambda d: issue(d, "on_issue_resolution_proposed").pop("resolutions")),
    ("igm.resolutions", "singular resolution of another category",
     lambda d: issue(d, "on_issue_resolved").update(
         resolution={"short_desc": "refund", "selected_reason_code": "ITM001"})),
    # common/actors.ts
    ("igm.actors", "seller's org name without the domain",
     lambda d: actor(d, "on_issue_processing_1", "COUNTERPARTY_NP")["info"]["org"].update(
         name=d["bpp_id"])),
    ("igm.actors", "consumer named after the seller",
     lambda d: actor(d, "issue_open", "CONSUMER")["info"]["org"].update(
         name=f"{d['bpp_id']}::{DOMAIN}")),
    ("igm.actors", "phone with a country code",
     lambda d: actor(d, "on_issue_resolved", "COUNTERPARTY_NP")["info"]["contact"].update(
         phone="+919876500001")),
    ("igm.actors", "email without @",
     lambda d: actor(d, "issue_open", "INTERFACING_NP")["info"]["contact"].update(
         email="support.buyer")),
    ("igm.actors", "actor without org", lambda d: actor(d, "issue_open", "CONSUMER")["info"].pop(
        "org")),
    # complainant, source, respondents
    ("igm.actor_ids", "complainant is not the interfacing NP",
     lambda d: issue(d, "issue_open").update(complainant_id="someone-else")),
    ("igm.actor_ids", "source is not the consumer",
     lambda d: issue(d, "on_issue_processing_2").update(source_id="someone-else")),
    ("igm.actor_ids", "respondent who is no actor",
     lambda d: issue(d, "on_issue_resolved")["respondent_ids"].append("ghost.example.com")),
    # common/refs.ts
    ("igm.refs", "no FULFILMENT ref", lambda d: _drop_ref(d, "issue_open", "FULFILMENT")),
    ("igm.refs", "no ITEM ref", lambda d: _drop_ref(d, "on_issue_resolved", "ITEM")),
    ("igm.refs", "item tag of another code",
     lambda d: next(r for r in issue(d, "issue_info_provided_1")["refs"]
                    if r["ref_type"] == "ITEM")["tags"][0]["descriptor"].update(code="items")),
    ("igm.refs", "tag list entry of another code",
     lambda d: next(r for r in issue(d, "issue_closed")["refs"]
                    if r["ref_type"] == "ITEM")["tags"][0]["list"][0]["descriptor"].update(
         code="quantity.count")),
    # ids across payloads
    ("igm.consistency", "on_issue in another transaction",
     lambda d: ctx(d, "on_issue_processing_2").update(transaction_id="another-transaction")),
    ("igm.consistency", "on_issue about another issue",
     lambda d: issue(d, "on_issue_info_required_1").update(id="ISSUE-OTHER")),
    ("igm.consistency", "information for another issue",
     lambda d: issue(d, "issue_info_provided_2").update(id="ISSUE-OTHER")),
    # message ids of on_issue (the newest validator's scope)
    ("igm.message_id", "the second information request repeats the first's message id",
     lambda d: ctx(d, "on_issue_info_required_2").update(
         message_id=ctx(d, "on_issue_info_required_1")["message_id"])),
]


def _flagged(broken: dict[str, Any], rule: str) -> None:
    findings = validate_bundle(broken)
    named = [f for f in findings if f.rule == rule]
    assert named, "\n".join(map(str, findings)) or "no finding"
    for finding in named:
        assert finding.message and finding.source
        assert finding.source.startswith(("utils/", "schema/Igm/2.0.0/", "shared/")), finding
        assert finding.rule in str(finding) and finding.source in str(finding)


@pytest.mark.parametrize(("rule", "what", "breaking"), BROKEN,
                         ids=[f"{r}-{w}" for r, w, _ in BROKEN])
def test_a_broken_bundle_is_flagged_by_its_rule(rule: str, what: str, breaking: Break) -> None:
    broken = bundle()
    breaking(broken)
    _flagged(broken, rule)


# -- FLOW_2 (sandbox igm-2): the seller complains; its issues are the node's, its on_issue the
# buyer app's. The flow turns the actors' org names round and asks for other refs.


@cache
def _exported_2() -> tuple[dict[str, Any], dict[str, bytes]]:
    with tempfile.TemporaryDirectory() as work:
        output = asyncio.run(run_flow(
            "igm-2", domain=DOMAIN, options=NetworkOptions(domains=[DOMAIN], work_dir=Path(work))))
    assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
    return output.result.export, output.result.wire


def bundle_2() -> dict[str, Any]:
    """A fresh copy of the exported igm-2 bundle, as the validator would parse it."""
    export, wire = _exported_2()
    return {**copy.deepcopy(export),
            "payload": {k: json.loads(wire[k]) for k in export["payload"]}}


def test_the_igm_2_bundle_is_clean_and_is_flow_2() -> None:
    clean = bundle_2()
    assert clean["flow"] == "FLOW_2"
    assert validate_bundle(clean) == []
    # the same payloads called FLOW_1 would fail FLOW_1's refs and org names
    as_flow_1 = {**clean, "flow": "FLOW_1"}
    rules = {(f.rule, f.key) for f in validate_bundle(as_flow_1)}
    assert ("igm.refs", "issue_open") in rules and ("igm.actors", "issue_open") in rules


BROKEN_2: list[tuple[str, str, Break]] = [
    ("igm.bundle", "escalated spelt right (the validator's key is issue_esclated)",
     lambda d: d["payload"].update(issue_escalated=d["payload"].pop("issue_esclated"))),
    ("igm.actors", "the seller's interfacing NP named after the buyer app",
     lambda d: actor(d, "issue_open", "INTERFACING_NP")["info"]["org"].update(
         name=f"{d['bap_id']}::{DOMAIN}")),
    ("igm.actors", "the buyer app's GRO named after the seller (FLOW_1's rule)",
     lambda d: actor(d, "on_issue_gro_resolved", "COUNTERPARTY_NP_GRO")["info"]["org"].update(
         name=f"{d['bpp_id']}::{DOMAIN}")),
    ("igm.actors", "the buyer app's support without the domain",
     lambda d: actor(d, "issue_esclated", "COUNTERPARTY_NP")["info"]["org"].update(
         name=d["bap_id"])),
    ("igm.refs", "no TRANSACTION ref", lambda d: _drop_ref(d, "issue_open", "TRANSACTION")),
    ("igm.refs", "no PROVIDER ref", lambda d: _drop_ref(d, "on_issue_gro_processing", "PROVIDER")),
    ("igm.status", "the proposal RESOLVED",
     lambda d: issue(d, "on_issue_resolution_proposed").update(status="RESOLVED")),
    ("igm.status", "resolved still PROCESSING",
     lambda d: issue(d, "on_issue_resolved").update(status="PROCESSING")),
    ("igm.schema", "level spelt as another validator does",
     lambda d: issue(d, "issue_esclated").update(level="GREVIENCE")),
    ("igm.timestamps", "the GRO's answer not later than created_at",
     lambda d: issue(d, "on_issue_gro_processing").update(
         updated_at=issue(d, "on_issue_gro_processing")["created_at"])),
    ("igm.actor_ids", "complainant is the buyer app",
     lambda d: issue(d, "on_issue_gro_processing").update(complainant_id="BUYER-NP-1")),
    ("igm.resolutions", "closed without the resolutions",
     lambda d: issue(d, "issue_gro_close").pop("resolutions")),
    ("igm.consistency", "the GRO answers in another transaction",
     lambda d: ctx(d, "on_issue_gro_resolution_proposed").update(
         transaction_id="another-transaction")),
    ("igm.last_action", "escalation's last_action_id is the opening's",
     lambda d: issue(d, "issue_esclated").update(
         last_action_id=issue(d, "issue_esclated")["actions"][0]["id"])),
]


@pytest.mark.parametrize(("rule", "what", "breaking"), BROKEN_2,
                         ids=[f"{r}-{w}" for r, w, _ in BROKEN_2])
def test_a_broken_flow_2_bundle_is_flagged_by_its_rule(rule: str, what: str,
                                                       breaking: Break) -> None:
    broken = bundle_2()
    breaking(broken)
    _flagged(broken, rule)


def test_every_igm_rule_has_a_broken_bundle() -> None:
    covered = {name for name, _what, _b in BROKEN}
    assert {getattr(r, "__name__", "") for r in IGM_RULES} == covered


def test_findings_name_the_payload_key_and_path() -> None:
    broken = bundle()
    actor(broken, "on_issue_resolved", "COUNTERPARTY_NP")["info"]["org"]["name"] = "x"
    [finding] = [f for f in validate_bundle(broken) if f.rule == "igm.actors"]
    assert finding.key == "on_issue_resolved"
    assert finding.path.startswith("message.issue.actors[") and finding.path.endswith("org.name")
    assert f'"{broken["bpp_id"]}::{DOMAIN}"' in finding.message
    assert finding.source == "utils/igm/igm2/common/actors.ts"


def test_missing_keys_are_not_findings() -> None:
    """The validator skips a key it does not find (the info rounds are optional)."""
    partial = bundle()
    for key in ("on_issue_info_required_2", "issue_info_provided_2"):
        partial["payload"].pop(key)
    assert validate_bundle(partial) == []


def test_the_version_picks_the_rules() -> None:
    assert kind_of("2.0.0") == "IGM 2.0.0" and kind_of("1.2.0") == "retail 1.2.0"
    retail = {**bundle(), "version": "1.2.0"}
    assert {f.rule for f in validate_bundle(retail)} >= {"bundle.flow"}
    other = {**bundle(), "version": "1.0.0"}
    [finding] = validate_bundle(other)
    assert finding.rule == "bundle.version" and "IGM 2.0.0" in finding.message


def test_validate_command_on_igm_bundles(tmp_path: Path) -> None:
    export, wire = _exported()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    write_export(good, export, wire)
    broken = bundle()
    issue(broken, "on_issue_resolved")["status"] = "CLOSED"
    bad.write_text(json.dumps(broken))
    ok = subprocess.run([sys.executable, "-m", "ondc_adapter.cli", "validate", str(good)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"0 finding(s) in flow FLOW_1 ({DOMAIN}, IGM 2.0.0)" in ok.stdout
    flagged = subprocess.run(
        [sys.executable, "-m", "ondc_adapter.cli", "validate", "--json", str(bad)],
        capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1
    found = [json.loads(line) for line in flagged.stdout.splitlines()]
    assert {(f["rule"], f["key"]) for f in found} == {("igm.status", "on_issue_resolved")}
