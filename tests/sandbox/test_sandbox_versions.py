"""A flow speaks its retail version end to end (issue 16): the sandbox adapter is started
serving it, every request and answer carries it, and the bundle names it."""

from __future__ import annotations

from pathlib import Path

from ondc_adapter.sandbox import SCENARIO_DIR
from ondc_adapter.sandbox.network import NetworkOptions
from ondc_adapter.sandbox.session import run_flow

DOMAIN = "ONDC:RET16"


def _flow_8_in(version: str, folder: Path) -> Path:
    """Flow 8 (the full catalogue) as a flow of ``version``, in a scenario folder of its own."""
    text = (SCENARIO_DIR / "8-catalogue-only.yaml").read_text(encoding="utf-8")
    (folder / version).mkdir(parents=True)
    target = folder / version / "8-catalogue-only.yaml"
    target.write_text(text.replace('flow: "8"', f'flow: "8"\ncore_version: "{version}"', 1))
    return folder


async def test_a_1_2_5_flow_is_played_and_answered_in_1_2_5(tmp_path: Path) -> None:
    flows = _flow_8_in("1.2.5", tmp_path / "flows")
    output = await run_flow(
        "8", domain=DOMAIN, scenario_dir=flows, core_version="1.2.5",
        options=NetworkOptions(domains=[DOMAIN], work_dir=tmp_path),
    )
    result = output.result
    assert result.ok, [p for o in result.outcomes for p in o.problems]
    assert result.export["version"] == "1.2.5"
    versions = {key: p["context"]["core_version"] for key, p in result.export["payload"].items()}
    assert versions == {
        "search_full_catalog_refresh": "1.2.5", "on_search_full_catalog_refresh": "1.2.5"
    }


async def test_a_1_2_0_flow_still_speaks_1_2_0(tmp_path: Path) -> None:
    output = await run_flow(
        "8", domain=DOMAIN, options=NetworkOptions(domains=[DOMAIN], work_dir=tmp_path)
    )
    assert output.result.ok
    assert output.result.export["version"] == "1.2.0"
    assert {p["context"]["core_version"] for p in output.result.export["payload"].values()} == {
        "1.2.0"
    }
