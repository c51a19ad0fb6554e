"""One scenario run, end to end: bring up (or join) a sandbox network, drive the flow, hand
back the result and the transcript. ``sandbox run`` and the end-to-end tests call this."""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ondc_adapter import keys as node_keys
from ondc_adapter.sandbox.buyer import BuyerApp
from ondc_adapter.sandbox.lookup import RegistryLookup
from ondc_adapter.sandbox.network import (
    NetworkOptions,
    SandboxNetwork,
    party_url,
    start_network,
    subscribe,
)
from ondc_adapter.sandbox.onboarding import sample_entity
from ondc_adapter.sandbox.runner import FlowResult, ScenarioRunner, SellerControl, StepOutcome
from ondc_adapter.sandbox.scenario import DEFAULT_VERSION, SCENARIO_DIR, Scenario, find_scenario
from ondc_adapter.sandbox.seller import SETTLE_SECONDS, RemoteSeller, ServiceSeller
from ondc_adapter.sandbox.servers import RunningServer, start_server
from ondc_adapter.sandbox.transcript import Exchange, Transcript, recording_client
from ondc_adapter.settings import Settings


@dataclass
class RunOutput:
    result: FlowResult
    transcript: Transcript
    network: dict[str, Any]
    remote_transcript_note: str | None = None  # --url: why the sandbox's exchanges are missing


def scenario_for(
    flow: str, directory: Path = SCENARIO_DIR, core_version: str = DEFAULT_VERSION
) -> Scenario:
    return find_scenario(flow, directory, core_version)


async def run_scenario_on(
    network: SandboxNetwork,
    scenario: Scenario,
    *,
    domain: str,
    on_step: Callable[[StepOutcome], None] | None = None,
    city: str = "std:080",
) -> FlowResult:
    seller: SellerControl | None = None
    if network.adapter_app is not None:
        seller = ServiceSeller(network.adapter_app)  # our own adapter, in this process
    elif network.adapter_url:
        seller = RemoteSeller(
            # longer than the seller's own wait for the adapter (SETTLE_SECONDS), so a slow
            # adapter is reported by the seller, not as a client timeout
            network.client("seller-control", timeout=SETTLE_SECONDS + 5), network.registry_url,
            actions=network.seller_actions or [],
        )
    runner = ScenarioRunner(network.buyer, seller, domain=domain, city=city, on_step=on_step)
    return await runner.run(scenario)


async def run_flow(
    flow: str,
    *,
    domain: str,
    url: str | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
    settings: Settings | None = None,
    scenario_dir: Path = SCENARIO_DIR,
    options: NetworkOptions | None = None,
    remote_transcript: bool = True,
    core_version: str = DEFAULT_VERSION,
) -> RunOutput:
    """Run ``flow`` in a fresh in-process network, or against a running ``sandbox up`` whose
    registry is at ``url`` (then, with ``remote_transcript``, the transcript also gets what
    that sandbox recorded for this run)."""
    scenario = scenario_for(flow, scenario_dir, core_version)
    if url:
        async with join_network(url) as network:
            result = await run_scenario_on(network, scenario, domain=domain, on_step=on_step)
            if remote_transcript:
                await merge_remote_transcript(network)
            return RunOutput(result, network.transcript, network.describe(),
                             remote_transcript_note=network.remote_transcript_note)
    # One flow, one domain: the network registers (and the adapter loads sample items for) only
    # that one, unless the caller's options say otherwise.
    opts = options or NetworkOptions(domains=[domain])
    if domain not in opts.domains:
        opts.domains = [*opts.domains, domain]
    if scenario.core_version not in opts.core_versions:  # the adapter must serve the flow's
        opts.core_versions = [*opts.core_versions, scenario.core_version]
    async with start_network(opts, settings=settings) as network:
        result = await run_scenario_on(network, scenario, domain=domain, on_step=on_step)
        await network.gateway_state.drain()
        return RunOutput(result, network.transcript, network.describe())


async def merge_remote_transcript(network: SandboxNetwork) -> int:
    """Add the exchanges the running sandbox recorded for this run (its registry fetching our
    verification page, the gateway forwarding our search, the adapter's lookups and callbacks)
    to ``network.transcript``; returns how many. A sandbox that does not serve its transcript
    (older version) adds none: ``network.remote_transcript_note`` says so."""
    own = network.buyer.bap_id
    try:
        response = await network.buyer.http.get(
            f"{network.registry_url}/sandbox/transcript",
            params={"since": network.joined_at or 0.0, "subscriber_id": own},
        )
        rows = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        rows = None
    if not isinstance(rows, list):
        network.remote_transcript_note = (
            "the running sandbox did not hand over its exchanges; this transcript has only "
            "this process's own requests"
        )
        return 0
    # The fetch itself was recorded by our client: it is not part of the flow.
    network.transcript.exchanges = [
        e for e in network.transcript.exchanges if "/sandbox/transcript" not in e.url
    ]
    fields = set(Exchange.__dataclass_fields__)
    added = [Exchange(**{k: v for k, v in row.items() if k in fields}) for row in rows]
    network.transcript.exchanges.extend(added)
    return len(added)


@contextlib.asynccontextmanager
async def join_network(registry_url: str) -> AsyncIterator[SandboxNetwork]:
    """A buyer app of our own, registered with a running sandbox's registry."""
    joined_at = time.time()
    transcript = Transcript()
    registry_url = registry_url.rstrip("/")
    async with contextlib.AsyncExitStack() as stack:
        http = recording_client(transcript, "buyer")
        stack.push_async_callback(http.aclose)
        try:
            info = (await http.get(f"{registry_url}/sandbox/network")).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RuntimeError(f"no sandbox registry at {registry_url}: {exc}") from exc
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ondc-run-")))
        sid = f"buyer-{uuid.uuid4().hex[:8]}.sandbox.localhost"
        keys = node_keys.new_keys(sid, "sandbox-key-1")
        node_keys.write_keys(keys, tmp / "keys")
        buyer = BuyerApp(
            keys=keys,
            lookup=RegistryLookup(registry_url, http, keys=keys),
            http=http,
            gateway_url=info["gateway"],
        )
        request_id = str(uuid.uuid4())
        app = buyer.app(
            request_id=request_id,
            registry_encryption_public_key=info["registry_encryption_public_key"],
        )
        server: RunningServer = await start_server("buyer", app)
        stack.push_async_callback(server.stop)
        buyer.base_url = party_url(sid, (server.host, server.port), server.host)
        await http.post(
            f"{registry_url}/sandbox/site", json={"subscriber_id": sid, "base_url": buyer.base_url}
        )
        await subscribe(
            http, registry_url, keys,
            sample_entity(info.get("domains") or [], participant_type="buyerApp"),
            request_id=request_id,
        )
        network = SandboxNetwork(
            transcript=transcript,
            registry_url=registry_url,
            gateway_url=info["gateway"],
            buyer=buyer,
            registry_store=None,  # type: ignore[arg-type]  # lives in the other process
            gateway_state=None,  # type: ignore[arg-type]
            servers=[server],
            adapter_url=info.get("adapter"),
            admin_api_key=info.get("admin_api_key"),
            work_dir=tmp,
        )
        network.seller_actions = list(info.get("seller_actions") or [])
        network.joined_at = joined_at
        stack.push_async_callback(network.close_clients)
        yield network
