"""One attack node per module (PostgreSQL + Redis, workers off); see ``attack_node.py``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from attack_node import AttackNode


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
