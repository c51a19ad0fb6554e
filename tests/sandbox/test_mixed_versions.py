"""One node, one run, two buyer apps' versions (issue 16): while the network is mixed, the same
adapter answers a retail 1.2.0 buyer in 1.2.0 and a 1.2.5 buyer in 1.2.5, and both bundles pass
the ported rules of their own version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ondc_adapter.lvu import validate_bundle
from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.session import run_scenario_on, scenario_for

DOMAIN = "ONDC:RET16"


def _versions(export: dict[str, Any]) -> set[str]:
    return {p["context"]["core_version"] for p in export["payload"].values()}


async def test_one_node_answers_a_1_2_0_and_a_1_2_5_buyer_in_one_run(tmp_path: Path) -> None:
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path, core_versions=["1.2.0", "1.2.5"])
    old, new = scenario_for("2", core_version="1.2.0"), scenario_for("2", core_version="1.2.5")
    async with start_network(opts) as network:
        assert network.describe()["core_versions"] == ["1.2.0", "1.2.5"]  # one adapter, both
        # the two buyers' orders interleave on the one node
        first, second = await asyncio.gather(
            run_scenario_on(network, old, domain=DOMAIN),
            run_scenario_on(network, new, domain=DOMAIN),
        )
        await network.gateway_state.drain()
    for result, version in ((first, "1.2.0"), (second, "1.2.5")):
        assert result.ok, [p for o in result.outcomes for p in o.problems] or result.unsupported
        assert result.export["version"] == version
        assert _versions(result.export) == {version}
        assert [str(f) for f in validate_bundle(result.export)] == []
    # two transactions, each kept to the version it started with
    assert first.export["payload"]["on_confirm"]["context"]["transaction_id"] != (
        second.export["payload"]["on_confirm"]["context"]["transaction_id"]
    )


async def test_an_offer_flow_runs_against_a_sandbox_in_another_process(tmp_path: Path) -> None:
    """``sandbox run 0091 --url``: the run makes the offer from its own catalogue and the
    ``sandbox up`` process stores it through its adapter's admin API (define_offer over HTTP)."""
    from ondc_adapter.sandbox.session import run_flow

    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path, core_versions=["1.2.5"])
    async with start_network(opts) as network:
        assert "define_offer" in network.describe()["seller_actions"]
        output = await run_flow("0091", domain=DOMAIN, core_version="1.2.5",
                                url=network.registry_url, remote_transcript=False)
    result = output.result
    assert result.ok, [p for o in result.outcomes for p in o.problems] or result.unsupported
    offer_ids = [b["@ondc/org/item_id"] for b in
                 result.export["payload"]["on_confirm"]["message"]["order"]["quote"]["breakup"]
                 if b["@ondc/org/title_type"] == "offer"]
    assert offer_ids == ["sandbox-discount"]
