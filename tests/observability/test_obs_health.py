"""``/healthz`` and ``/readyz``: liveness without I/O; readiness names what is not ready."""

from __future__ import annotations

import redis.asyncio as aioredis
from transport_doubles import loopback_socket

from ondc_adapter.storage import Database


def closed_port() -> int:
    """A loopback port nothing listens on (bound, never listening: connections are refused)."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_healthz_and_readyz_when_everything_is_up(start_node, client) -> None:
    async with start_node() as (url, _app):
        live = await client.get(f"{url}/healthz")
        ready = await client.get(f"{url}/readyz")
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"keys": "ok", "database": "ok", "redis": "ok"},
    }


async def test_readyz_without_redis_does_not_check_it(start_node, client) -> None:
    async with start_node(redis=None) as (url, _app):
        ready = await client.get(f"{url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"keys": "ok", "database": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(start_node, client) -> None:
    down = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/nowhere")
    try:
        async with start_node(db=down, redis=None) as (url, _app):
            live = await client.get(f"{url}/healthz")
            ready = await client.get(f"{url}/readyz")
    finally:
        await down.dispose()
    assert live.status_code == 200  # the process is alive: no restart, just out of rotation
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["not_ready"] == ["database"]
    assert body["checks"]["keys"] == "ok"
    assert body["checks"]["database"] != "ok"


async def test_readyz_stays_200_but_degraded_when_redis_is_unreachable(
    start_node, client
) -> None:
    # Without Redis the node serves on direct lookups and database de-duplication; one shared
    # Redis failing must not take every worker out of the load balancer.
    dead = aioredis.from_url(
        f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5, retry_on_timeout=False
    )
    try:
        async with start_node(redis=dead) as (url, _app):
            ready = await client.get(f"{url}/readyz")
    finally:
        await dead.aclose()
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["degraded"] == ["redis"]
    assert ready.json()["checks"]["redis"] != "ok"
    assert ready.json()["checks"]["database"] == "ok"


async def test_health_endpoints_are_not_in_the_public_api_schema(start_node, client) -> None:
    async with start_node() as (url, _app):
        schema = (await client.get(f"{url}/openapi.json")).json()
    assert not {"/healthz", "/readyz", "/metrics"} & set(schema["paths"])
