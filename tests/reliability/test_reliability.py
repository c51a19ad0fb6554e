"""The reliability suite in CI (small numbers; ``python bench/reliability.py`` runs more).

Each scenario starts a real node, injects one fault, and must end with every ACKed request's
callback delivered (or, by design, refused by the buyer's NACK / expired at its TTL), nothing
lost, nothing delivered twice, no HTTP 500, every callback signature valid. The orders
scenarios (real seller logic: 4 buyers, 16 transactions, 2 kills of ``ondc-adapter serve`` /
one PostgreSQL restart) also check orders, stock, quotes and seller pushes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from reliability_scenarios import SCENARIOS, Env, Scale, ScenarioResult, run

PG_ADMIN_DSN = os.environ.get("ONDC_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def assert_ok(result: ScenarioResult) -> None:
    t = result.tally
    assert result.ok, f"{result.name}: {result.failures()} {t.row()} {result.figures}"
    assert t.acked > 0 and t.lost == 0 and t.duplicates == 0


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_scenario(name: str, tmp_path: Path) -> None:
    scale = Scale(requests=8, kill_requests=24, buyers=4, orders=16, order_kills=2)
    results = await run([name], Env(PG_ADMIN_DSN, tmp_path), scale)
    assert results
    for result in results:
        assert_ok(result)
