"""ONDC's log-validator rules, ported (``ondc_adapter.lvu``): the sandbox's own bundles come out
clean, and a bundle broken in one way is flagged by the rule that owns that way, which names
itself and the validator file it comes from. One broken bundle per rule class at least."""

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

from ondc_adapter.lvu import RULES, validate_bundle
from ondc_adapter.sandbox.network import NetworkOptions
from ondc_adapter.sandbox.report import write_export
from ondc_adapter.sandbox.session import run_flow

DOMAIN = "ONDC:RET16"


@cache
def bundle(flow: str, domain: str = DOMAIN) -> dict[str, Any]:
    """The export of a sandbox run of ``flow`` (played once per test session)."""
    with tempfile.TemporaryDirectory() as work:
        output = asyncio.run(run_flow(
            flow, domain=domain, options=NetworkOptions(domains=[domain], work_dir=Path(work))))
    assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
    return output.result.export


@pytest.mark.parametrize(("flow", "domain"), [
    ("1", DOMAIN), ("2", "ONDC:RET10"), ("2", "ONDC:RET12"), ("2", DOMAIN), ("3", DOMAIN),
    ("4", DOMAIN), ("5", DOMAIN), ("6", "ONDC:RET12"), ("6", DOMAIN), ("7", DOMAIN),
    ("8", DOMAIN), ("9", DOMAIN),
])
def test_the_sandbox_bundles_are_clean(flow: str, domain: str) -> None:
    findings = validate_bundle(bundle(flow, domain))
    assert findings == [], "\n".join(map(str, findings))


def _order(data: dict[str, Any], key: str) -> dict[str, Any]:
    return data["payload"][key]["message"]["order"]


def _catalog(data: dict[str, Any], key: str = "on_search_full_catalog_refresh") -> dict[str, Any]:
    return data["payload"][key]["message"]["catalog"]


def _set_tags(tags: list[dict[str, Any]], code: str, entry: dict[str, str]) -> None:
    next(t for t in tags if t["code"] == code)["list"].append(entry)


def _unchanged_store(data: dict[str, Any]) -> None:
    """The incremental on_search's store shows the label it had in the full catalogue."""
    [changed] = _catalog(data, "on_search_inc_refresh")["bpp/providers"]
    store = changed["locations"][0]
    before = next(p for p in _catalog(data)["bpp/providers"] if p["id"] == changed["id"])
    old = next(loc for loc in before["locations"] if loc["id"] == store["id"])
    store["time"]["label"] = old["time"]["label"]


Break = Callable[[dict[str, Any]], None]
BROKEN: list[tuple[str, str, Break]] = [
    ("context.basics", "2",
     lambda d: d["payload"]["on_select"]["context"].update(ttl="PT1M")),
    ("context.uri", "2",
     lambda d: d["payload"]["init"]["context"].update(bap_uri="http://127.0.0.1:8000/ondc")),
    ("context.sequence", "2",
     lambda d: d["payload"]["on_init"]["context"].update(message_id="not-the-init-one")),
    ("on_search.quantity", "2",
     lambda d: _catalog(d)["bpp/providers"][0]["items"][0]["quantity"]["available"].update(
         count="5")),
    ("on_search.ids", "2",  # the sandbox's one store (in Bengaluru), listed twice
     lambda d: _catalog(d)["bpp/providers"].append(copy.deepcopy(_catalog(d)["bpp/providers"][0]))),
    ("on_search.fulfillments", "2",
     lambda d: _catalog(d)["bpp/fulfillments"].append(
         {"id": "3", "type": "Delivery and Self-Pickup"})),
    ("on_search.descriptor", "2",
     lambda d: _set_tags(_catalog(d)["bpp/descriptor"]["tags"], "bpp_terms",
                         {"code": "accept_bap_terms", "value": "Y"})),
    ("on_search.items", "2",
     lambda d: _catalog(d)["bpp/providers"][0]["items"][0]["price"].update(value="0.50")),
    ("on_search.locations", "2",
     lambda d: _catalog(d)["bpp/providers"][0]["locations"][0].update(gps="12.97,77.59")),
    ("on_search.area_code", "2",  # a store in Srinagar answering a search of Bengaluru
     lambda d: _catalog(d)["bpp/providers"][0]["locations"][0]["address"].update(
         area_code="190001")),
    ("on_search.statutory", "2-RET10",
     lambda d: [item.pop("@ondc/org/statutory_reqs_packaged_commodities", None)
                for provider in _catalog(d)["bpp/providers"] for item in provider["items"]]),
    ("on_search.categories", "2-RET10",
     lambda d: _catalog(d)["bpp/providers"][0].update(categories=[])),
    ("on_search.item_code", "2",  # a GTIN where RET16 wants an EAN (1:)
     lambda d: _catalog(d)["bpp/providers"][0]["items"][0]["descriptor"].update(
         code="3:8900000000043")),
    ("on_search.attributes", "2",  # not a category of the domain
     lambda d: _catalog(d)["bpp/providers"][0]["items"][0].update(
         category_id="Gadgets")),
    ("on_search.attributes", "2-RET12",
     lambda d: _set_tags(_catalog(d)["bpp/providers"][0]["items"][0]["tags"], "attribute",
                         {"code": "Brand", "value": "X"})),
    ("on_search_inc.context", "9",
     lambda d: d["payload"]["on_search_inc_refresh"]["context"].update(city="std:080")),
    ("search.tags", "9",
     lambda d: d["payload"]["search_inc_refresh"]["message"]["intent"].update(tags=[
         t for t in d["payload"]["search_inc_refresh"]["message"]["intent"]["tags"]
         if t["code"] != "bap_features"])),
    ("on_search_inc.providers", "1", lambda d: _unchanged_store(d)),
    ("on_select.quote", "2",
     lambda d: next(b for b in _order(d, "on_select")["quote"]["breakup"]
                    if b["@ondc/org/title_type"] == "item")["item"]["quantity"]["available"].update(
         count="7")),
    ("on_select.prices", "2",  # 574.2 * 3 is 1722.6000000000001 in floating point
     lambda d: next(b for b in _order(d, "on_select")["quote"]["breakup"]
                    if b["@ondc/org/title_type"] == "item").update({
                        "@ondc/org/item_quantity": {"count": 3},
                        "price": {"currency": "INR", "value": "1722.60"},
                        "item": {"price": {"currency": "INR", "value": "574.20"}}})),
    ("init.address", "2",
     lambda d: _order(d, "init")["fulfillments"][0]["end"]["location"]["address"].update(
         name="12")),
    ("on_init.terms", "2",
     lambda d: _set_tags(_order(d, "on_init")["tags"], "bpp_terms",
                         {"code": "accept_bap_terms", "value": "Y"})),
    ("confirm.request", "2",
     lambda d: _order(d, "confirm")["fulfillments"][0].pop("tracking")),
    ("on_confirm.order", "2",
     lambda d: _order(d, "on_confirm").update(cancellation_terms=[{"fulfillment_state": {}}])),
    ("on_status.state", "2",
     lambda d: _order(d, "on_status_picked")["fulfillments"][0].update(tags=[])),
    ("cancel.request", "4",
     lambda d: d["payload"]["cancel"]["message"].update(cancellation_reason_id="002")),
    ("on_cancel.order", "4",
     lambda d: _order(d, "on_cancel").update(tags=[])),
    ("on_cancel.rto", "5",
     lambda d: next(f for f in _order(d, "on_cancel")["fulfillments"]
                    if f["type"] == "RTO").pop("start")),
    ("on_select_oos.quantity", "3",
     lambda d: next(b for b in _order(d, "on_select_out_of_stock")["quote"]["breakup"]
                    if b["@ondc/org/title_type"] == "item")["item"]["quantity"]["available"].update(
         count="0")),
    ("on_cancel.schema", "4",
     lambda d: next(f for f in _order(d, "on_cancel")["fulfillments"]
                    if f["type"] == "Cancel").pop("start")),
    ("on_cancel.quote_trail", "5",
     lambda d: next(e for t in next(f for f in _order(d, "on_cancel")["fulfillments"]
                                    if f["type"] == "RTO")["tags"]
                    for e in t["list"] if e["code"] == "value").update(value="-1.00")),
    ("on_status_rto.order", "5",
     lambda d: _order(d, "on_status_rto_delivered/disposed").update(documents=[])),
    # the validator's off-by-one: an RTO-Delivered with its end time is refused
    ("on_status_rto.order", "5",
     lambda d: next(f for f in _order(d, "on_status_rto_delivered/disposed")["fulfillments"]
                    if f["type"] == "RTO")["state"]["descriptor"].update(code="RTO-Delivered")),
    ("on_update.part_cancel_state", "6",  # the seller accepted before cancelling one unit
     lambda d: _order(d, "on_update_part_cancel").update(state="Accepted")),
    ("on_status.cancel_fulfillment", "6",  # the Cancel fulfillment without its leg's start
     lambda d: next(f for f in _order(d, "on_status_packed")["fulfillments"]
                    if f["type"] == "Cancel").pop("start")),
    ("on_status.cancel_unchanged", "6",
     lambda d: _order(d, "on_status_picked").update(fulfillments=[
         f for f in _order(d, "on_status_picked")["fulfillments"] if f["type"] != "Cancel"])),
    ("update.timestamps", "6",  # the buyer app settles after the return is back, not before
     lambda d: d["payload"]["update_settlement_reverse_qc"]["context"].update(
         timestamp=d["payload"]["on_update_delivered"]["context"]["timestamp"])),
    ("on_update.settlement_details", "6",  # the buyer app's last settlement not kept
     lambda d: _order(d, "on_update_delivered")["payment"]["@ondc/org/settlement_details"].pop()),
    ("catalog_rejection.errors", "7",
     lambda d: d["payload"]["catalog_rejection"]["errors"][0].update(message="no pictures")),
    ("bundle.missing_key", "2", lambda d: d["payload"].pop("on_status_packed")),
    ("bundle.flow", "2", lambda d: d.update(flow="6-pickup")),
]


@pytest.mark.parametrize(("rule", "flow", "breaking"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_bundle_is_flagged_by_its_rule(rule: str, flow: str, breaking: Break) -> None:
    flow, _, domain = flow.partition("-")
    broken = copy.deepcopy(bundle(flow, f"ONDC:{domain}" if domain else DOMAIN))
    breaking(broken)
    findings = validate_bundle(broken)
    assert any(f.rule == rule for f in findings), "\n".join(map(str, findings)) or "no finding"
    named = [f for f in findings if f.rule == rule]
    assert all(f.source and f.message for f in named)


def test_every_rule_has_a_broken_bundle() -> None:
    covered = {name for name, _flow, _b in BROKEN}
    assert {getattr(r, "__name__", "") for r in RULES} <= covered


def test_validate_command_on_a_bundle_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    write_export(good, bundle("2"))
    broken = copy.deepcopy(bundle("2"))
    _order(broken, "on_confirm").update(cancellation_terms=[{"x": 1}])
    bad.write_text(json.dumps(broken))
    ok = subprocess.run([sys.executable, "-m", "ondc_adapter.cli", "validate", str(good)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "0 finding(s)" in ok.stdout, ok.stdout + ok.stderr
    flagged = subprocess.run(
        [sys.executable, "-m", "ondc_adapter.cli", "validate", "--json", str(bad)],
        capture_output=True, text=True, timeout=60)
    assert flagged.returncode == 1
    rules = {json.loads(line)["rule"] for line in flagged.stdout.splitlines()}
    assert "on_confirm.order" in rules
