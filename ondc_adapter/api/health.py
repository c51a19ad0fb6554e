"""Operator endpoints: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``.

* ``GET /healthz``: the process answers; no I/O, so a slow database never gets a live process
  restarted by its supervisor.
* ``GET /readyz``: the node can accept requests: node keys loaded and the database answers a
  ``SELECT 1``. 200 with each check's result, or 503 with ``not_ready`` naming what failed (a
  load balancer takes the worker out of rotation). Redis, when configured, is reported but
  never makes the node unready: without it the node still serves correctly (direct registry
  lookups, de-duplication in the database), and since every worker shares one Redis, a 503 for
  it would take the whole fleet out of rotation at once. It shows as ``"status": "degraded"``
  with ``degraded`` naming it.
* ``GET /metrics``: Prometheus text exposition of this app's ``NodeMetrics``.

These paths sit outside ``ONDC_PATH_PREFIX`` and are meant for the internal network: the proxy
in front of the node should not publish them (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from ondc_adapter.metrics import NodeMetrics

READY_TIMEOUT_SECONDS = 2.0
# Dependencies the node works without (more slowly): reported, never a 503.
OPTIONAL_CHECKS = frozenset({"redis"})


def _json(data: dict[str, Any], status: int = 200) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def _check_database(state: Any, limit: float) -> str | None:
    db = getattr(state, "db", None)
    if db is None:
        return "not started"
    try:
        async with asyncio.timeout(limit):
            async with db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
    except TimeoutError:
        return f"no answer within {limit}s"
    except Exception as exc:  # any driver error means "not ready", never a 500
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


async def _check_redis(state: Any, limit: float) -> str | None:
    redis = getattr(state, "redis", None)
    if redis is None:
        return None
    try:
        async with asyncio.timeout(limit):
            await redis.ping()
    except TimeoutError:
        return f"no answer within {limit}s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


async def readiness(state: Any, *, limit: float = READY_TIMEOUT_SECONDS) -> dict[str, str]:
    """Check name -> ``ok`` or what is wrong. Redis appears only when configured."""
    checks: dict[str, str] = {}
    checks["keys"] = "ok" if getattr(state, "keys", None) is not None else "not loaded"
    database, redis = await asyncio.gather(
        _check_database(state, limit), _check_redis(state, limit)
    )
    checks["database"] = database or "ok"
    if getattr(state, "redis", None) is not None:
        checks["redis"] = redis or "ok"
    return checks


def add_routes(app: FastAPI, metrics: NodeMetrics) -> None:
    async def healthz(request: Request) -> Response:
        return _json({"status": "alive"})

    async def readyz(request: Request) -> Response:
        checks = await readiness(request.app.state)
        failing = sorted(name for name, result in checks.items() if result != "ok")
        required = [name for name in failing if name not in OPTIONAL_CHECKS]
        if required:
            return _json({"status": "not ready", "not_ready": required, "checks": checks}, 503)
        if failing:
            return _json({"status": "degraded", "degraded": failing, "checks": checks})
        return _json({"status": "ready", "checks": checks})

    async def scrape(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # Plain Starlette routes: no request validation or OpenAPI entry needed.
    app.router.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.router.add_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.router.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
