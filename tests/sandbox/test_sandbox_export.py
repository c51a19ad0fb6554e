"""Bundles are the wire: every payload of `sandbox run --export` is, byte for byte, the body
that went over the wire (the transcript's request_body), and a flow ONDC's validator does not
define for the version is not exported at all. Flows 7 and 9 leave the rejection with the
seller, linked to the item it names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ondc_adapter.catalogue.rejections import CatalogueRejection
from ondc_adapter.sandbox.network import NetworkOptions, start_network
from ondc_adapter.sandbox.report import write_export
from ondc_adapter.sandbox.session import run_flow

DOMAIN = "ONDC:RET12"


def payload_texts(bundle: str) -> dict[str, str]:
    """Each payload's raw text inside the bundle (found by decoding in place)."""
    decoder = json.JSONDecoder()
    data = json.loads(bundle)
    out = {}
    for key in data["payload"]:
        marker = f"{json.dumps(key)}: "
        start = bundle.index(marker) + len(marker)
        _value, end = decoder.raw_decode(bundle, start)
        out[key] = bundle[start:end]
    return out


@pytest.mark.parametrize("flow", ["2", "7", "9"])
async def test_every_payload_is_the_body_on_the_wire(flow: str, tmp_path: Path) -> None:
    output = await run_flow(flow, domain=DOMAIN,
                            options=NetworkOptions(domains=[DOMAIN], work_dir=tmp_path))
    assert output.result.ok
    bundle_path = tmp_path / "bundle.json"
    write_export(bundle_path, output.result.export, output.result.wire)
    texts = payload_texts(bundle_path.read_text(encoding="utf-8"))
    wire = {e.request_body for e in output.transcript.exchanges}
    assert texts and set(texts) == set(output.result.export["payload"])
    for key, text in texts.items():
        assert text in wire, f"{key} is not what went over the wire"


def test_a_flow_the_validator_does_not_define_is_not_exported(tmp_path: Path) -> None:
    bundle = tmp_path / "x.json"
    done = subprocess.run(
        [sys.executable, "-m", "ondc_adapter.cli", "sandbox", "run", "6-pickup", "--domain",
         "ONDC:RET16", "--export", str(bundle)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not bundle.exists()
    assert "no bundle written" in done.stdout


@pytest.mark.parametrize("flow", ["7", "9"])
async def test_a_rejection_reaches_the_seller_linked_to_its_item(flow: str,
                                                                 tmp_path: Path) -> None:
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    async with start_network(opts) as net:
        output = await run_flow(flow, domain=DOMAIN, url=net.registry_url,
                                remote_transcript=False)
        assert output.result.ok
        sent = output.result.export["payload"]["catalog_rejection"]
        await net.adapter_app.state.processor.process_all()
        async with net.adapter_app.state.db.session() as session:
            rows = (await session.scalars(select(CatalogueRejection))).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.code == sent["errors"][0]["code"] == "91003"
    assert row.item_id and row.provider_id and row.item_id in sent["errors"][0]["path"]
    if flow == "9":
        assert sent["context"]["city"] == "*"
