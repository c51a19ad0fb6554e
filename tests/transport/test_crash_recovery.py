"""A node process killed with SIGKILL while callbacks are undelivered: after a restart they
arrive, each exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from transport_doubles import eventually, loopback_socket, request_body, served

from ondc_adapter.inbox import PROCESSED, InboxEntry
from ondc_adapter.outbox import DELIVERED, OutboxAttempt, OutboxEntry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = pytest.mark.slow


def free_port() -> int:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def start_node(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "node_process.py"), str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until_serving(client: httpx.AsyncClient, url: str, proc) -> None:
    async def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"node exited with {proc.returncode}")
        try:
            await client.get(f"{url}/ondc-site-verification.html")
        except httpx.TransportError:
            return False
        return True

    await eventually(up, wait=30, what="node process to serve")


async def test_undelivered_callbacks_survive_kill_9(
    registry, buyer, buyer_socket, bap, seller_keys_dir, pg_db, pg_database_url
) -> None:
    double, bap_uri = buyer
    port = free_port()
    url = f"http://127.0.0.1:{port}/ondc"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ONDC_SUBSCRIBER_ID": "seller.test",
        "ONDC_UNIQUE_KEY_ID": "seller-k1",
        "ONDC_KEYS_DIR": str(seller_keys_dir),
        "ONDC_BPP_URI": "https://seller.test/ondc",
        "ONDC_PATH_PREFIX": "/ondc",
        "ONDC_REGISTRY_URL": registry[1],
        "ONDC_ALLOW_PRIVATE_NETWORK": "true",  # registry and buyer doubles on loopback
        "ONDC_DATABASE_URL": pg_database_url,
        "ONDC_CALLBACK_BACKOFF_INITIAL": "0.05",
        "ONDC_CALLBACK_BACKOFF_MAX": "0.3",
        "ONDC_DISPATCHER_POLL_SECONDS": "0.05",
        "ONDC_CALLBACK_TIMEOUT": "2",
    }
    env.pop("ONDC_REDIS_URL", None)
    bodies = [request_body("search", bap=bap, bap_uri=bap_uri) for _ in range(5)]
    async with httpx.AsyncClient(timeout=10) as client:
        first = start_node(env, port)
        try:
            await wait_until_serving(client, url, first)
            for body in bodies:
                response = await client.post(
                    f"{url}/search",
                    content=body,
                    headers={"Content-Type": "application/json", "Authorization": bap.sign(body)},
                )
                assert response.status_code == 200, response.text

            async def all_tried() -> bool:
                # every callback exists and has failed at least once (the buyer app is down)
                async with pg_db.session() as s:
                    tried = await s.execute(
                        select(func.count(func.distinct(OutboxAttempt.outbox_id)))
                    )
                    return tried.scalar_one() == len(bodies)

            await eventually(all_tried, what="failed first attempts")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert first.returncode == -signal.SIGKILL

        async with pg_db.session() as s:
            pending = (await s.execute(select(OutboxEntry.status))).scalars().all()
        assert len(pending) == len(bodies) and DELIVERED not in pending

        async with served(double.app, buyer_socket):
            second = start_node(env, port)
            try:
                await wait_until_serving(client, url, second)

                async def delivered() -> bool:
                    async with pg_db.session() as s:
                        rows = (await s.execute(select(OutboxEntry.status))).scalars().all()
                    return rows == [DELIVERED] * len(bodies)

                await eventually(delivered, wait=30, what="callbacks after restart")
                await asyncio.sleep(0.3)  # a double delivery would have had time to happen
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=15)

    sent = sorted(orjson.loads(body)["context"]["message_id"] for body in bodies)
    assert sorted(c.message_id for c in double.received) == sent  # each exactly once
    assert all(c.verified for c in double.received)
    async with pg_db.session() as s:
        statuses = (await s.execute(select(InboxEntry.status))).scalars().all()
    assert statuses == [PROCESSED] * len(bodies)
