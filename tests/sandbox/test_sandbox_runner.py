"""The scenario runner against a scripted seller: it passes a well-behaved one and names each
protocol fault of a misbehaving one (signature, pairing, timestamps, quote, schema)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ondc_adapter.exchange import serialise
from ondc_adapter.keys import NodeKeys, new_keys
from ondc_adapter.protocol.durations import format_timestamp, parse_timestamp, utcnow
from ondc_adapter.protocol.schemas import DEFAULT_DIR
from ondc_adapter.sandbox.network import NetworkOptions, start_network, subscribe
from ondc_adapter.sandbox.onboarding import onboarding_router, sample_entity
from ondc_adapter.sandbox.runner import ScenarioRunner
from ondc_adapter.sandbox.scenario import Scenario, find_scenario, load_scenario
from ondc_adapter.sandbox.servers import start_server
from ondc_adapter.signing import sign_request

ITEM = {
    "id": "I1",
    "location_id": "L1",
    "time": {"label": "enable", "timestamp": "2024-01-01T00:00:00.000Z"},
    "descriptor": {"name": "Sample brass lamp"},
    "price": {"currency": "INR", "value": "100.00"},
    "quantity": {"available": {"count": "5"}, "maximum": {"count": "5"}},
}
QUOTE = {
    "price": {"currency": "INR", "value": "150.00"},
    "breakup": [
        {
            "@ondc/org/item_id": "I1",
            "@ondc/org/title_type": "item",
            "title": "lamp",
            "price": {"currency": "INR", "value": "100.00"},
        },
        {
            "@ondc/org/item_id": "F1",
            "@ondc/org/title_type": "delivery",
            "title": "Delivery charges",
            "price": {"currency": "INR", "value": "50.00"},
        },
    ],
    "ttl": "P1D",
}


class ScriptedSeller:
    """A tiny BPP: answers search and select with signed callbacks; ``faults`` break them."""

    def __init__(self, keys: NodeKeys, faults: set[str]) -> None:
        self.keys = keys
        self.faults = faults
        self.url = ""
        self.http: Any = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def callback(self, request: dict[str, Any], message: dict[str, Any]) -> None:
        ctx = copy.deepcopy(request["context"])
        # strictly after the request even within one millisecond (a rule real sellers follow)
        sent = parse_timestamp(request["context"]["timestamp"])
        ctx.update(
            action="on_" + ctx["action"],
            bpp_id=self.keys.subscriber_id,
            bpp_uri=self.url,
            timestamp=format_timestamp(max(utcnow(), sent + timedelta(milliseconds=1))),
        )
        if "pairing" in self.faults and ctx["action"] == "on_select":
            ctx["message_id"] = str(uuid.uuid4())
        if "late" in self.faults and ctx["action"] == "on_select":
            ctx["timestamp"] = format_timestamp(
                parse_timestamp(request["context"]["timestamp"]) + timedelta(seconds=9)
            )
        if "old_timestamp" in self.faults and ctx["action"] == "on_select":
            ctx["timestamp"] = format_timestamp(
                parse_timestamp(request["context"]["timestamp"]) - timedelta(seconds=1)
            )
        if "bad_bpp_id" in self.faults and ctx["action"] == "on_select":
            ctx["bpp_id"] = "someone-else.test"
        payload = {"context": ctx, "message": message}
        body = serialise(payload)
        key = self.keys.signing_key
        if "bad_signature" in self.faults and ctx["action"] == "on_select":
            key = new_keys("x.test", "x").signing_key
        header = sign_request(
            body, key, subscriber_id=self.keys.subscriber_id, unique_key_id=self.keys.unique_key_id
        ).to_header()
        if "schema" in self.faults and ctx["action"] == "on_select":
            payload["extra_top_level"] = True
            body = serialise(payload)
            header = sign_request(
                body,
                key,
                subscriber_id=self.keys.subscriber_id,
                unique_key_id=self.keys.unique_key_id,
            ).to_header()
        await self.http.post(
            ctx["bap_uri"].rstrip("/") + "/" + ctx["action"],
            content=body,
            headers={"Authorization": header, "Content-Type": "application/json"},
        )

    def app(self, request_id: str, registry_key: str) -> FastAPI:
        app = FastAPI()
        app.include_router(
            onboarding_router(
                self.keys, request_id=request_id, registry_encryption_public_key=registry_key
            )
        )

        @app.post("/{action}")
        async def action(action: str, request: Request) -> JSONResponse:
            data = await request.json()
            if action == "search":
                msg = {
                    "catalog": {
                        "bpp/descriptor": {"name": "scripted"},
                        "bpp/providers": [
                            {"id": "P1", "locations": [{"id": "L1"}], "items": [ITEM]}
                        ],
                    }
                }
            else:
                quote = copy.deepcopy(QUOTE)
                if "quote_sum" in self.faults:
                    quote["price"]["value"] = "149.00"
                msg = {
                    "order": {
                        "provider": {"id": "P1"},
                        "items": [{"id": "I1", "fulfillment_id": "F1"}],
                        "fulfillments": [
                            {"id": "F1", "state": {"descriptor": {"code": "Serviceable"}}}
                        ],
                        "quote": quote,
                    }
                }
            if action == "select" and "silent" in self.faults:
                return JSONResponse({"message": {"ack": {"status": "ACK"}}})
            task = asyncio.create_task(self.callback(data, msg))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return JSONResponse({"message": {"ack": {"status": "ACK"}}})

        return app


SCENARIO = {
    "flow": "t1",
    "name": "scripted search + select",
    "steps": [
        {"id": "search", "send": "search", "export": "search_full_catalog_refresh"},
        {
            "id": "on_search",
            "await": "on_search",
            "reply_to": "search",
            "export": "on_search_full_catalog_refresh",
            "checks": [{"catalog_items": 1}],
        },
        {"id": "select", "send": "select", "export": "select"},
        {
            "id": "on_select",
            "await": "on_select",
            "reply_to": "select",
            "export": "on_select",
            "timeout": 1.0,
            "checks": [
                {"within_seconds": 5},
                "quote_total",
                "no_error",
                {"fulfillment_state": "Serviceable"},
            ],
        },
    ],
}


async def _run(faults: set[str], tmp_path: Path):
    opts = NetworkOptions(domains=["ONDC:RET16"], start_adapter=False, work_dir=tmp_path)
    async with start_network(opts) as net:
        keys = new_keys("scripted.sandbox.local", "k1")
        seller = ScriptedSeller(keys, faults)
        seller.http = net.client("scripted")
        rid = str(uuid.uuid4())
        server = await start_server("scripted", seller.app(rid, net.registry_encryption_public_key))
        net.servers.append(server)
        seller.url = server.url
        await net.client("t").post(
            f"{net.registry_url}/sandbox/site",
            json={"subscriber_id": keys.subscriber_id, "base_url": server.url},
        )
        await subscribe(
            net.client("t"), net.registry_url, keys, sample_entity(["ONDC:RET16"]), request_id=rid
        )
        # Only the envelope schema is real: the scripted catalogue is deliberately minimal, and
        # the full message schemas belong to the adapter's own end-to-end tests. The actions'
        # schemas are there but accept anything (a missing schema fails the check).
        schemas = tmp_path / "schemas"
        schemas.mkdir(exist_ok=True)
        (schemas / "envelope.schema.json").write_text(
            (DEFAULT_DIR / "envelope.schema.json").read_text()
        )
        for stem in ("on_search_message", "order_on_select"):
            (schemas / f"{stem}.schema.json").write_text("{}")
        runner = ScenarioRunner(net.buyer, None, domain="ONDC:RET16", schema_dir=schemas)
        result = await runner.run(Scenario.model_validate(SCENARIO))
        await net.gateway_state.drain()
        while seller.tasks:
            await asyncio.gather(*list(seller.tasks))
        return result, net.transcript


def _problems(result) -> str:
    return " | ".join(p for o in result.outcomes for p in o.problems)


async def test_well_behaved_seller_passes(tmp_path: Path) -> None:
    result, transcript = await _run(set(), tmp_path)
    assert result.ok, _problems(result)
    assert [o.status for o in result.outcomes] == ["pass"] * 4
    payload = result.export["payload"]
    assert list(payload) == [
        "search_full_catalog_refresh",
        "on_search_full_catalog_refresh",
        "select",
        "on_select",
    ]
    assert (
        payload["on_select"]["context"]["message_id"] == payload["select"]["context"]["message_id"]
    )
    assert result.export["bpp_id"] == "scripted.sandbox.local"
    assert result.export["version"] == "1.2.0" and result.export["flow"] == "t1"
    urls = [e.url for e in transcript.exchanges]
    assert any(u.endswith("/v2.0/lookup") for u in urls)
    assert any(u.endswith("/subscribe") for u in urls)
    assert any(u.endswith("/on_select") for u in urls)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("bad_signature", "signature"),
        ("bad_bpp_id", "context.bpp_id is someone-else.test"),
        ("late", "after the request (limit 5"),
        ("old_timestamp", "is not after the request"),
        ("quote_sum", "sum of breakup"),
        ("schema", "schema envelope"),
    ],
)
async def test_faults_are_named(fault: str, expected: str, tmp_path: Path) -> None:
    result, _ = await _run({fault}, tmp_path)
    assert not result.ok
    assert expected in _problems(result), _problems(result)
    assert result.outcomes[-1].status == "fail"


async def test_unpaired_or_missing_callback_fails_the_flow(tmp_path: Path) -> None:
    for fault in ("pairing", "silent"):
        result, _ = await _run({fault}, tmp_path / fault)
        assert not result.ok
        assert "no on_select (answer to select) within 1s" in _problems(result)


def test_every_flow_file_loads() -> None:
    flows = {}
    for path in sorted((Path(__file__).parents[2] / "sandbox" / "flows").glob("*.yaml")):
        sc = load_scenario(path)
        flows[sc.flow] = sc
    assert set(flows) >= {"1", "2", "3", "4", "5", "6"}
    assert find_scenario("2").name == flows["2"].name
    for sc in flows.values():
        for step in sc.steps:
            if step.kind == "send":
                name, _ = step.builder()
                from ondc_adapter.sandbox.builders import BUILDERS

                assert name in BUILDERS, (sc.flow, step.id)


def test_flows_are_found_in_their_version_folder(tmp_path: Path) -> None:
    (tmp_path / "1.2.5").mkdir()
    (tmp_path / "2-a.yaml").write_text('flow: "2"\nname: old\nsteps: [{send: search}]\n')
    (tmp_path / "1.2.5" / "2-b.yaml").write_text(
        'flow: "2"\nname: new\ncore_version: "1.2.5"\nsteps: [{send: search}]\n'
    )
    assert find_scenario("2", tmp_path).name == "old"
    assert find_scenario("2", tmp_path).core_version == "1.2.0"
    assert find_scenario("2", tmp_path, "1.2.5").name == "new"
    with pytest.raises(KeyError, match=r"no scenario for flow '3' of retail 1.2.5 .*have 2"):
        find_scenario("3", tmp_path, "1.2.5")
    # a 1.2.0 file in the 1.2.5 folder is named, not played in the wrong version
    (tmp_path / "1.2.5" / "4-c.yaml").write_text('flow: "4"\nname: c\nsteps: [{send: search}]\n')
    with pytest.raises(KeyError, match=r"speaks retail 1\.2\.0, not 1\.2\.5"):
        find_scenario("4", tmp_path, "1.2.5")


def test_a_flow_state_speaks_its_version() -> None:
    from ondc_adapter.sandbox.flow_state import FlowState

    state = FlowState("ONDC:RET16", "std:080", "b.example.com", "https://b.example.com",
                      core_version="1.2.5")
    assert state.context("search")["core_version"] == "1.2.5"
    assert FlowState("ONDC:RET16", "std:080", "b", "https://b").context("init")[
        "core_version"
    ] == "1.2.0"


def test_scenario_validation_errors() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        Scenario.model_validate({"flow": "x", "name": "x", "steps": [{"send": "a", "await": "b"}]})
    with pytest.raises(ValueError, match="duplicate step id"):
        Scenario.model_validate(
            {"flow": "x", "name": "x", "steps": [{"send": "search"}, {"send": "search"}]}
        )
    with pytest.raises(ValueError, match="reply_to"):
        Scenario.model_validate(
            {"flow": "x", "name": "x", "steps": [{"await": "on_search", "reply_to": "nope"}]}
        )


# --- the schema check never passes without a schema ----------------------------------------------

EXAMPLE = Path(__file__).parents[2] / "callbacks" / "examples" / "RET16" / "flow2-on_select.json"


def _schema_check(directory: Path, arg: Any = None) -> list[str]:
    import json

    from ondc_adapter.sandbox.builders import FlowState
    from ondc_adapter.sandbox.buyer import Callback
    from ondc_adapter.sandbox.checks import CheckContext, run_check

    payload = json.loads(EXAMPLE.read_text())
    callback = Callback("on_select", EXAMPLE.read_bytes(), payload, {}, utcnow())
    ctx = CheckContext(
        FlowState(domain="ONDC:RET16", city="std:080", bap_id="b", bap_uri="u"),
        callback=callback, schema_dir=directory,
    )
    return run_check({"schema": arg} if arg else "schema", ctx).problems


def test_schema_check_passes_with_the_published_schemas() -> None:
    assert _schema_check(DEFAULT_DIR) == []


def test_missing_schemas_fail_the_schema_check(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    problems = _schema_check(empty)
    assert f"schema envelope: no file envelope.schema.json in {empty}" in problems
    assert any(
        p.startswith("no schema to check on_select against: none of order_on_select.schema.json")
        for p in problems
    ), problems
    # the envelope alone is not enough either: the action's own schema is missing
    only_envelope = tmp_path / "envelope-only"
    only_envelope.mkdir()
    (only_envelope / "envelope.schema.json").write_text(
        (DEFAULT_DIR / "envelope.schema.json").read_text()
    )
    problems = _schema_check(only_envelope)
    assert len(problems) == 1 and problems[0].startswith("no schema to check on_select"), problems
    # a schema named by the scenario (`schema: <stem>`) that is not there
    problems = _schema_check(DEFAULT_DIR, "order_on_nothing")
    assert problems == [f"schema order_on_nothing: no file order_on_nothing.schema.json in "
                        f"{DEFAULT_DIR}"]


async def test_a_flow_without_schemas_fails(tmp_path: Path) -> None:
    """End to end: a runner pointed at a folder without the action schemas fails the callbacks
    (it used to pass them silently)."""
    opts = NetworkOptions(domains=["ONDC:RET16"], start_adapter=False, work_dir=tmp_path)
    async with start_network(opts) as net:
        keys = new_keys("scripted.sandbox.local", "k1")
        seller = ScriptedSeller(keys, set())
        seller.http = net.client("scripted")
        rid = str(uuid.uuid4())
        server = await start_server("scripted", seller.app(rid, net.registry_encryption_public_key))
        net.servers.append(server)
        seller.url = server.url
        await net.client("t").post(
            f"{net.registry_url}/sandbox/site",
            json={"subscriber_id": keys.subscriber_id, "base_url": server.url},
        )
        await subscribe(
            net.client("t"), net.registry_url, keys, sample_entity(["ONDC:RET16"]), request_id=rid
        )
        schemas = tmp_path / "no-schemas"
        schemas.mkdir()
        runner = ScenarioRunner(net.buyer, None, domain="ONDC:RET16", schema_dir=schemas)
        result = await runner.run(Scenario.model_validate(SCENARIO))
        await net.gateway_state.drain()
        while seller.tasks:
            await asyncio.gather(*list(seller.tasks))
    assert not result.ok
    on_search = next(o for o in result.outcomes if o.step.id == "on_search")
    schema = next(c for c in on_search.checks if c.name == "schema")
    assert not schema.ok and "no file envelope.schema.json" in schema.problems[0]
