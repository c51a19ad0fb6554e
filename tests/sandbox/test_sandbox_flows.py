"""End to end: every certification flow the seller side supports, for RET12 and RET16, through
the whole sandbox (registry, gateway, buyer app, the real adapter with the sample catalogue).

Every callback is checked by the runner: signature against the registry, ACK, message_id
pairing, transaction_id, timestamps (after the request; < 5 s for select/init/confirm), quote
equality, fulfillment/order states and the published JSON schemas. Flows 1 and 2 must pass;
a later flow is skipped only while the adapter lacks a seller action it needs (reported by the
runner as ``unsupported``), and must pass as soon as the action exists.

Flow 1-push is flow 1 in push mode: catalog_inc mode=start, three seller changes each pushed as
an incremental on_search with only the changed item, mode=stop, then silence.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from ondc_adapter.sandbox.builders import BuildError, pick_items
from ondc_adapter.sandbox.checks import CALLBACK_CHECKS
from ondc_adapter.sandbox.network import NetworkOptions
from ondc_adapter.sandbox.session import RunOutput, run_flow

MUST_PASS = {"1", "1-push", "2"}
LVU_KEYS = {
    "1-push": [
        "search_full_catalog_refresh",
        "on_search_full_catalog_refresh",
        "search_inc_refresh",
        "on_search_inc_refresh",
    ],
    "1": [
        "search_full_catalog_refresh",
        "on_search_full_catalog_refresh",
        "search_inc_refresh",
        "on_search_inc_refresh",
    ],
    "2": [
        "search_full_catalog_refresh",
        "on_search_full_catalog_refresh",
        "select",
        "on_select",
        "init",
        "on_init",
        "confirm",
        "on_confirm",
        "on_status_pending",
        "on_status_packed",
        "on_status_picked",
        "on_status_out_for_delivery",
        "on_status_delivered",
    ],
}


@pytest.mark.parametrize("domain", ["ONDC:RET12", "ONDC:RET16"])
@pytest.mark.parametrize("flow", ["1", "1-push", "2", "3", "4", "5", "6", "7", "8", "9"])
async def test_flow(flow: str, domain: str, tmp_path: Path) -> None:
    output = await run_flow(
        flow, domain=domain, options=NetworkOptions(domains=[domain], work_dir=tmp_path)
    )
    result = output.result
    if result.unsupported:
        assert flow not in MUST_PASS, f"flow {flow} must be supported: {result.unsupported}"
        pytest.skip(f"seller side lacks {result.unsupported}")
    problems = [f"{o.step.id}: {p}" for o in result.outcomes for p in o.problems]
    assert result.ok, "\n".join(problems)
    assert all(o.status == "pass" for o in result.outcomes)
    # every callback really went through every protocol check
    # (an ``absent`` step passes on silence: there is no callback to check)
    awaited = [o for o in result.outcomes if o.step.kind == "await" and not o.step.absent]
    assert awaited
    for o in awaited:
        assert {c.name for c in o.checks} >= set(CALLBACK_CHECKS), o.step.id
    export = result.export
    assert export["domain"] == domain and export["version"] == "1.2.0"
    assert export["flow"] == flow
    assert export["bap_id"] == "buyer.sandbox.localhost" and export["bpp_id"]
    if flow in LVU_KEYS:
        assert list(export["payload"]) == LVU_KEYS[flow]
    for key, payload in export["payload"].items():
        assert payload["context"]["domain"] == domain, key
    # the transcript holds registry lookups and the callbacks, with the raw bodies as sent
    exchanges = output.transcript.exchanges
    assert any(e.url.endswith("/v2.0/lookup") for e in exchanges)
    callbacks = [e for e in exchanges if e.party == "adapter" and "/on_" in e.url]
    assert len(callbacks) >= len(awaited)
    for e in callbacks:
        assert e.status == 200 and json.loads(e.request_body)["context"]["bpp_id"]
        assert e.request_headers["authorization"].startswith("Signature keyId=")
    if flow == "1-push":
        check_push_flow(output)


def _items(payload: dict) -> list[dict]:
    return [i for p in payload["message"]["catalog"]["bpp/providers"] for i in p.get("items", [])]


def check_push_flow(output: RunOutput) -> None:
    """Flow 1-push beyond its scenario checks: what the export and the transcript show."""
    result = output.result
    payload = result.export["payload"]
    start, push = payload["search_inc_refresh"], payload["on_search_inc_refresh"]
    full = payload["on_search_full_catalog_refresh"]
    assert start["message"]["intent"]["tags"] == [
        {"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]},
        {"code": "bap_features", "list": [{"code": "001", "value": "yes"}]},
    ]
    # unsolicited: the subscription's transaction, a message_id of its own, city "*"
    assert push["context"]["transaction_id"] == start["context"]["transaction_id"]
    assert push["context"]["message_id"] not in {
        start["context"]["message_id"], full["context"]["message_id"]
    }
    assert push["context"]["city"] == "*"
    # only the changed item, at 90 % of the price the full catalogue showed
    [pushed] = _items(push)
    [before] = [i for i in _items(full) if i["id"] == pushed["id"]]
    assert len(_items(full)) > 1
    old = Decimal(before["price"]["value"])
    cut = (old * Decimal("0.9")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert pushed["price"]["value"] == f"{cut:.2f}" != before["price"]["value"]
    # the pushes really left the adapter, one per change before the stop and none after it
    pushes = [
        e for e in output.transcript.exchanges
        if e.party == "adapter" and e.url.endswith("/on_search")
        and json.loads(e.request_body)["context"]["city"] == "*"
    ]
    assert len(pushes) == 3
    did = {o.step.id: o.key_fields.get("did", "") for o in result.outcomes}
    assert did["price_change_after_stop"].endswith("pushed=0")
    assert did["price_change"].endswith("pushed=1")


# Known gap of the seller side (ondc_adapter/orders, not the sandbox): the delivered on_status of
# a cash-on-delivery order still says payment.status NOT-PAID, as the confirm did; it should say
# PAID once the seller side has collected the cash on delivery. Until the orders lifecycle does
# that, this is the one problem flow 012 may report; any other problem fails the test.


async def test_cod_flow_012(tmp_path: Path) -> None:
    """Flow 012 (cash on delivery) on RET10, the domain whose sample items offer COD."""
    domain = "ONDC:RET10"
    output = await run_flow(
        "012", domain=domain, options=NetworkOptions(domains=[domain], work_dir=tmp_path)
    )
    result = output.result
    assert not result.unsupported
    problems = [f"{o.step.id}: {p}" for o in result.outcomes for p in o.problems]
    payload = result.export["payload"]
    # what the buyer app asked for and what the seller side answered
    item_id = payload["select"]["message"]["order"]["items"][0]["id"]
    [item] = [i for p in payload["on_search_full_catalog_refresh"]["message"]["catalog"][
        "bpp/providers"] for i in p.get("items", []) if i["id"] == item_id]
    assert item["@ondc/org/available_on_cod"] is True
    assert payload["select"]["message"]["order"]["payment"] == {"type": "ON-FULFILLMENT"}
    assert payload["init"]["message"]["order"]["payment"] == {"type": "ON-FULFILLMENT"}
    on_init_payment = payload["on_init"]["message"]["order"]["payment"]
    assert (on_init_payment["type"], on_init_payment["collected_by"]) == ("ON-FULFILLMENT", "BPP")
    confirm_payment = payload["confirm"]["message"]["order"]["payment"]
    assert confirm_payment["status"] == "NOT-PAID"
    assert confirm_payment["@ondc/org/settlement_details"][0]["settlement_counterparty"] == (
        "buyer-app"
    )
    assert list(payload) == [
        "search_full_catalog_refresh", "on_search_full_catalog_refresh", "select", "on_select",
        "init", "on_init", "confirm", "on_confirm", "on_status_packed", "on_status_picked",
        "on_status_delivered",
    ]
    assert result.ok, "\n".join(problems)
    # the cash is collected when the parcel is handed over
    assert payload["on_status_delivered"]["message"]["order"]["payment"]["status"] == "PAID"
    assert payload["on_status_picked"]["message"]["order"]["payment"]["status"] == "NOT-PAID"


async def test_cod_for_an_item_not_offered_on_cod_is_refused(tmp_path: Path) -> None:
    """The seller side refuses cash on delivery for an item without
    @ondc/org/available_on_cod (on_select error 40004); a flow that asks for a COD item where
    there is none stops at select, saying why."""
    domain = "ONDC:RET12"  # the sample's silks above Rs 10,000 are not offered on COD
    flow = tmp_path / "cod-refused.yaml"
    flow.write_text(
        "flow: cod-refused\nname: COD for a non-COD item\nsteps:\n"
        "  - {id: search, send: search}\n"
        "  - {id: on_search, await: on_search, reply_to: search}\n"
        "  - {id: select, send: select,\n"
        "     build: {builder: select, items: first_not_cod, payment_type: ON-FULFILLMENT}}\n"
        "  - {id: on_select, await: on_select, reply_to: select, checks: [{error_code: '40004'}]}\n"
    )
    opts = NetworkOptions(domains=[domain], work_dir=tmp_path / "net")
    output = await run_flow(str(flow), domain=domain, options=opts)
    assert output.result.ok, [p for o in output.result.outcomes for p in o.problems]
    catalog = {"bpp/providers": [{"id": "P", "items": [
        {"id": "I", "quantity": {"available": {"count": "99"}},
         "@ondc/org/available_on_cod": False}]}]}
    with pytest.raises(BuildError, match="no provider with 1 item\\(s\\) for 'first_cod'"):
        pick_items(catalog, "first_cod", 1)
