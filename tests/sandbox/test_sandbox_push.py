"""Flow 1 in push mode beyond the in-process run of test_sandbox_flows: the same scenario
through the sandbox seller endpoint (what ``sandbox run --url`` uses), that endpoint's answers
to bad input, that the runner notices a push after ``mode=stop`` and a push with more than the
changed item, and the scenario language added for it (``absent``, ``catalog_items`` forms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ondc_adapter.catalogue import handler
from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.sandbox.builders import FlowState
from ondc_adapter.sandbox.buyer import Callback
from ondc_adapter.sandbox.checks import CheckContext, run_check
from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.runner import SellerActionFailed
from ondc_adapter.sandbox.scenario import Scenario, find_scenario
from ondc_adapter.sandbox.seller import SETTLE_SECONDS, ServiceSeller
from ondc_adapter.sandbox.session import join_network, run_flow, run_scenario_on

DOMAIN = "ONDC:RET16"


def _problems(result: Any) -> list[str]:
    return [f"{o.step.id}: {p}" for o in result.outcomes for p in o.problems]


async def test_push_flow_through_the_sandbox_seller_endpoint(tmp_path: Path) -> None:
    """A second buyer app joins a running network, as `sandbox run --url` does, and drives
    the seller through POST <registry>/sandbox/seller/<action>."""
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    async with start_network(opts) as net, join_network(net.registry_url) as joined:
        assert joined.adapter_app is None  # so the run goes through RemoteSeller
        assert {"set_price", "set_stock", "disable_item", "enable_item"} <= set(
            joined.seller_actions or []
        )
        result = await run_scenario_on(joined, find_scenario("1-push"), domain=DOMAIN)
        assert result.ok, _problems(result)
        calls = [e for e in joined.transcript.exchanges if "/sandbox/seller/" in e.url]
        assert [e.url.rsplit("/", 1)[-1] for e in calls] == [
            "set_price", "set_stock", "disable_item", "set_price",
        ]
        assert all(e.status == 200 for e in calls)
        # the pushes went to the joined buyer app, not to the network's own one
        assert not [cb for cb in net.buyer.callbacks if cb.context.get("city") == "*"]
        item = result.export["payload"]["on_search_inc_refresh"]["message"]["catalog"][
            "bpp/providers"][0]["items"][0]["id"]

        http = net.client("tester", timeout=SETTLE_SECONDS + 5)
        url = f"{net.registry_url}/sandbox/seller"
        for body in ({}, {"params": []}, {"params": {"value": 1}}, "junk"):
            r = await http.post(f"{url}/set_price", json=body)
            assert r.status_code == 400, (body, r.text)
        r = await http.post(f"{url}/set_price", json={"params": {"item": "nope", "value": 1}})
        assert r.status_code == 409 and "no item 'nope'" in r.json()["error"]
        r = await http.post(f"{url}/set_price",
                            json={"params": {"item": item, "value": "99999999"}})
        assert r.status_code == 409 and "exceeds MRP" in r.json()["error"]
        r = await http.post(f"{url}/set_stock", json={"params": {"item": item, "value": -1}})
        assert r.status_code == 409
        r = await http.post(f"{url}/teleport", json={"params": {"item": item}})
        assert r.status_code == 404
        # a search the adapter never saw: the seller refuses to act blind
        impatient = ServiceSeller(net.adapter_app, settle_seconds=0.1)
        with pytest.raises(SellerActionFailed, match="has not received search never-sent"):
            await impatient.catalogue_action(
                "enable_item", {"item": item}, after_message_id="never-sent"
            )
        r = await http.post(f"{url}/enable_item", json={"params": {"item": item}})
        assert r.status_code == 200 and r.json()["params"] == {"item": item, "pushed": 0}


async def test_a_push_after_stop_fails_the_flow(tmp_path: Path, monkeypatch) -> None:
    """An adapter that ignores catalog_inc mode=stop keeps pushing: the ``absent`` step says so."""
    real = handler._subscribe

    async def ignore_stop(session: Any, request: Any, *, active: bool, now: Any) -> None:
        if active:
            await real(session, request, active=active, now=now)

    monkeypatch.setattr(handler, "_subscribe", ignore_stop)
    output = await run_flow(
        "1-push", domain=DOMAIN, options=NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    )
    result = output.result
    assert not result.ok
    failed = [o for o in result.outcomes if o.status == "fail"]
    assert [o.step.id for o in failed] == ["no_push_after_stop"]
    assert "unexpected on_search" in " ".join(failed[0].problems)
    assert "pushed=1" in result.outcomes[-2].key_fields["did"]


def _ctx(items_per_provider: list[int]) -> CheckContext:
    providers = [
        {"id": f"P{n}", "items": [{"id": f"I{n}.{i}"} for i in range(count)]}
        for n, count in enumerate(items_per_provider)
    ]
    payload = {"context": {}, "message": {"catalog": {"bpp/providers": providers}}}
    state = FlowState(domain=DOMAIN, city="*", bap_id="b", bap_uri="u")
    return CheckContext(state, callback=Callback(
        action="on_search", body=b"", payload=payload, headers={}, received_at=utcnow(),
    ))


@pytest.mark.parametrize(
    ("spec", "counts", "ok"),
    [
        ({"catalog_items": 1}, [1], True),
        ({"catalog_items": 1}, [2, 1], True),  # a number is a minimum (flow 1's meaning)
        ({"catalog_items": 2}, [1], False),
        ({"catalog_items": {"exactly": 1}}, [1], True),
        ({"catalog_items": {"exactly": 1}}, [1, 1], False),  # one item per provider is 2
        ({"catalog_items": {"exactly": 1}}, [0], False),
        ({"catalog_items": {"min": 1, "max": 2}}, [2], True),
        ({"catalog_items": {"min": 1, "max": 2}}, [3], False),
        ({"catalog_items": {"max": 0}}, [], True),
        ({"catalog_items": {"most": 1}}, [1], False),  # unknown key: a problem, not a crash
    ],
)
def test_catalog_items_forms(spec: dict[str, Any], counts: list[int], ok: bool) -> None:
    result = run_check(spec, _ctx(counts))
    assert result.ok is ok, result.problems


def test_absent_belongs_to_unsolicited_await_steps() -> None:
    base: dict[str, Any] = {"flow": "x", "name": "x"}
    with pytest.raises(ValueError, match="absent: true belongs to an await step"):
        Scenario.model_validate({**base, "steps": [
            {"seller": "set_price", "absent": True}]})
    with pytest.raises(ValueError, match="not for a reply_to"):
        Scenario.model_validate({**base, "steps": [
            {"send": "search"}, {"await": "on_search", "reply_to": "search", "absent": True}]})
    sc = Scenario.model_validate({**base, "steps": [
        {"await": "on_search", "unsolicited": True, "absent": True, "timeout": 2}]})
    assert sc.steps[0].absent and sc.steps[0].timeout == 2
