"""Fixtures for the observability and scale tests: the transport suite's doubles (registry that
speaks the lookup API, buyer app that verifies callbacks, uvicorn on loopback) and a node
factory that can start several apps on one PostgreSQL database and one Redis."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transport"))

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
    return Participant(
        SELLER_ID, SELLER_UKID, "BPP", key=keys.load_keys(seller_keys_dir).signing_key
    )


@pytest.fixture
def bap() -> Participant:
    # registered at a loopback port nothing serves (tests that need the callback use ``buyer``)
    return Participant("buyer.test", "bap-k1", "BAP", subscriber_url="http://127.0.0.1:9/protocol/")


@pytest.fixture
def gateway() -> Participant:
    return Participant("gateway.test", "bg-k1", "BG")


@pytest.fixture
async def registry(
    seller: Participant, bap: Participant, gateway: Participant
) -> AsyncIterator[tuple[RegistryDouble, str]]:
    double = RegistryDouble([seller, bap, gateway])
    async with served(double.app) as url:
        yield double, url


@pytest.fixture
async def buyer(
    seller: Participant, bap: Participant
) -> AsyncIterator[tuple[BuyerDouble, str]]:
    """The buyer app double, served and registered as ``bap``'s subscriber_url; yields
    (double, bap_uri)."""
    double = BuyerDouble(seller)
    sock = loopback_socket()
    bap.subscriber_url = url_of(sock) + "/protocol/"
    async with served(double.app, sock):
        yield double, bap.subscriber_url


NodeFactory = Callable[..., AbstractAsyncContextManager[tuple[str, Any]]]


@pytest.fixture
def start_node(
    seller_keys_dir: Path,
    registry: tuple[RegistryDouble, str],
    pg_db: Database,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> NodeFactory:
    """``async with start_node(**settings) as (url, app)``: a served node. ``db=`` gives it its
    own Database (engine), ``redis=None`` runs it without Redis."""

    @asynccontextmanager
    async def start(
        *,
        db: Database | None = None,
        redis: Any = "default",
        handlers: Any = None,
        **overrides: Any,
    ) -> AsyncIterator[tuple[str, Any]]:
        database = db or pg_db
        settings = node_settings(seller_keys_dir, registry[1], database.url, **overrides)
        app = create_app(
            settings,
            db=database,
            redis=redis_client if redis == "default" else redis,
            redis_prefix=redis_prefix,
            handlers=handlers if handlers is not None else not_supported_handlers(),
        )
        async with served(app) as url:
            yield url, app

    return start


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http
