"""Fixtures for the transport tests: participants, the registry and buyer doubles served on
loopback, node settings, and a running node (PostgreSQL + Redis unless a test says otherwise)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from transport_doubles import (
    BuyerDouble,
    Participant,
    RegistryDouble,
    loopback_socket,
    node_settings,
    served,
    url_of,
)

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.storage import Database

SELLER_ID = "seller.test"
SELLER_UKID = "seller-k1"


@pytest.fixture
def seller_keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    keys.write_keys(keys.new_keys(SELLER_ID, SELLER_UKID), directory)
    return directory


@pytest.fixture
def seller(seller_keys_dir: Path) -> Participant:
    node = keys.load_keys(seller_keys_dir)
    return Participant(SELLER_ID, SELLER_UKID, "BPP", key=node.signing_key)


@pytest.fixture
def bap() -> Participant:
    return Participant("buyer.test", "bap-k1", "BAP")


@pytest.fixture
def other_bap() -> Participant:
    return Participant("other-buyer.test", "bap-k9", "BAP")


@pytest.fixture
def gateway() -> Participant:
    return Participant("gateway.test", "bg-k1", "BG")


@pytest.fixture
async def registry(
    seller: Participant, bap: Participant, other_bap: Participant, gateway: Participant
) -> AsyncIterator[tuple[RegistryDouble, str]]:
    double = RegistryDouble([seller, bap, other_bap, gateway])
    async with served(double.app) as url:
        yield double, url


@pytest.fixture
def buyer_socket() -> socket.socket:
    return loopback_socket()


@pytest.fixture
def buyer(
    seller: Participant, bap: Participant, buyer_socket: socket.socket
) -> tuple[BuyerDouble, str]:
    """The buyer double (not yet serving: tests start it with ``served(buyer.app, sock)``),
    registered as ``bap``'s subscriber_url."""
    bap.subscriber_url = url_of(buyer_socket) + "/protocol/"
    return BuyerDouble(seller), bap.subscriber_url


NodeFactory = Callable[..., AbstractAsyncContextManager[tuple[str, Any]]]


@pytest.fixture
def start_node(
    seller_keys_dir: Path,
    registry: tuple[RegistryDouble, str],
    pg_db: Database,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> NodeFactory:
    """``async with start_node(**settings_overrides) as (url, app)``: the node served on
    loopback with PostgreSQL and Redis (``db=``/``redis=`` keyword arguments override)."""

    @asynccontextmanager
    async def start(
        *,
        db: Database | None = None,
        redis: Any = "default",
        handlers: Any = None,
        **overrides: Any,
    ) -> AsyncIterator[tuple[str, Any]]:
        database = db or pg_db
        registry_url = overrides.pop("registry_url", registry[1])
        settings = node_settings(seller_keys_dir, registry_url, database.url, **overrides)
        app = create_app(
            settings,
            db=database,
            redis=redis_client if redis == "default" else redis,
            redis_prefix=redis_prefix,
            handlers=handlers if handlers is not None else not_supported_handlers(),
        )
        async with served(app) as url:
            yield url + settings.path_prefix, app

    return start


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http
