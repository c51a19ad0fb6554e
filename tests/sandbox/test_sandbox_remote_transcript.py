"""`sandbox run --url --transcript`: the exchanges the running `sandbox up` recorded for the run
(gateway forwarding the search, the adapter's lookups and callbacks, the registry's checks of the
joining buyer app) are fetched from it and merged into the run's own transcript."""

from __future__ import annotations

import json
from pathlib import Path

from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.session import join_network, merge_remote_transcript, run_flow

DOMAIN = "ONDC:RET16"


async def test_url_run_transcript_has_the_sandbox_side(tmp_path: Path) -> None:
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    async with start_network(opts) as net:
        before = len(net.transcript)  # the network's own start-up: not part of the run
        output = await run_flow("2", domain=DOMAIN, url=net.registry_url)
        assert output.result.ok
        assert output.remote_transcript_note is None
        exchanges = output.transcript.exchanges
        buyer_url = output.network["buyer_app"]
        buyer_id = output.result.export["bap_id"]
        parties = {e.party for e in exchanges}
        # this process's buyer app, and the other process's adapter, gateway and registry
        assert {"buyer", "adapter", "gateway", "registry"} <= parties
        callbacks = [e for e in exchanges if e.party == "adapter" and "/on_" in e.url]
        assert {e.url.rsplit("/", 1)[-1] for e in callbacks} >= {
            "on_search", "on_select", "on_init", "on_confirm", "on_status"
        }
        assert all(e.url.startswith(buyer_url) for e in callbacks)
        forwarded = [e for e in exchanges if e.party == "gateway" and e.url.endswith("/search")]
        assert forwarded and json.loads(forwarded[0].request_body)["context"]["bap_id"] == buyer_id
        # the registry checked the joining buyer app's site and challenge
        registry = [e.url for e in exchanges if e.party == "registry"]
        assert any(u.startswith(buyer_url) and u.endswith("/on_subscribe") for u in registry)
        # nothing from before the run, and not the fetch itself
        assert not any("/sandbox/transcript" in e.url for e in exchanges)
        assert not any(e in net.transcript.exchanges[:before] for e in exchanges)
        assert len(exchanges) > len([e for e in exchanges if e.party == "buyer"])


async def test_a_concurrent_run_is_left_out(tmp_path: Path) -> None:
    """Two buyer apps joined to one sandbox: each run's transcript gets its own exchanges."""
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    async with (
        start_network(opts) as net,
        join_network(net.registry_url) as first,
        join_network(net.registry_url) as second,
    ):
        await merge_remote_transcript(first)
        mine = [e for e in first.transcript.exchanges if e.party == "registry"]
        assert mine and all(e.url.startswith(first.buyer.base_url) for e in mine)
        assert not any(second.buyer.base_url in e.url for e in first.transcript.exchanges)


async def test_a_sandbox_without_the_endpoint_is_reported(tmp_path: Path) -> None:
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    async with start_network(opts) as net, join_network(net.registry_url) as joined:
        joined.registry_url = joined.registry_url + "/not-a-sandbox"
        assert await merge_remote_transcript(joined) == 0
        assert joined.remote_transcript_note and "only this process" in (
            joined.remote_transcript_note
        )
