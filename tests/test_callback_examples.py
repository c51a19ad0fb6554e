"""The example callbacks in callbacks/ stay valid against the published schemas and rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ondc_adapter.catalogue.validator import validate_on_search
from ondc_adapter.protocol.schemas import DEFAULT_DIR
from ondc_adapter.sandbox.checks import schema_candidates, schema_problems

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "callbacks" / "examples").rglob("*.json"))


def test_every_action_and_domain_has_examples() -> None:
    seen = {(p.parent.name, json.loads(p.read_text())["context"]["action"]) for p in EXAMPLES}
    for domain in ("RET12", "RET16"):
        for action in ("on_search", "on_select", "on_init", "on_confirm", "on_status",
                       "on_cancel", "on_update"):
            assert (domain, action) in seen


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_matches_schemas(path: Path) -> None:
    payload = json.loads(path.read_text())
    assert payload["context"]["domain"] == f"ONDC:{path.parent.name}"
    problems = schema_problems(payload, "envelope", DEFAULT_DIR)
    used = [
        (stem, part)
        for stem, part in schema_candidates(payload)
        if (DEFAULT_DIR / f"{stem}.schema.json").exists()
    ]
    assert used, f"no schema published for {payload['context']['action']}"
    stem, part = used[0]
    problems += schema_problems(payload if part is None else payload[part], stem, DEFAULT_DIR)
    if payload["context"]["action"] == "on_search":
        problems += [str(p) for p in validate_on_search(payload)]
    assert problems == []


def test_a_broken_example_is_caught() -> None:
    payload = json.loads(next(p for p in EXAMPLES if "on_confirm" in p.name).read_text())
    del payload["context"]["transaction_id"]
    assert schema_problems(payload, "envelope", DEFAULT_DIR)
