"""One attack node per module (PostgreSQL + Redis, workers off); see ``attack_node.py``.
At the end of the run, how many inputs each attack test tried (``attack_node.record``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from attack_node import TRIED, AttackNode


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackNode]:
    running = AttackNode(tmp_path_factory.mktemp("attack")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def http(node: AttackNode) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    terminalreporter.section("attack inputs tried")
    total = 0
    for test, outcomes in sorted(TRIED.items()):
        n = sum(outcomes.values())
        total += n
        detail = [f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "tried"]
        if len(detail) <= 4:
            line = f"  ({', '.join(detail)})" if detail else ""
            terminalreporter.write_line(f"{n:6d}  {test}{line}")
            continue
        terminalreporter.write_line(f"{n:6d}  {test}")
        for entry in detail:  # many outcomes: one a line
            terminalreporter.write_line(f"{'':8}{entry}")
    terminalreporter.write_line(f"{total:6d}  total")
