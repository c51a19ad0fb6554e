"""`sandbox up` as a tester uses it, over real HTTP: the printed admin key opens the admin API,
and the printed console accounts sign in to the seller console."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from ondc_adapter.outbound import local_transport
from ondc_adapter.sandbox.network import NetworkOptions, start_network

DOMAIN = "ONDC:RET16"


async def test_admin_api_answers_with_the_printed_key(tmp_path: Path) -> None:
    opts = NetworkOptions(domains=[DOMAIN], work_dir=tmp_path, console_accounts=True)
    # the parties are named under .localhost: a client that resolves those names (as curl
    # and browsers do) talks to them
    async with (
        start_network(opts) as net,
        httpx.AsyncClient(timeout=10, transport=local_transport()) as client,
    ):
        info = net.describe()
        key = info["admin_api_key"]
        orders = await client.get(f"{info['adapter']}/admin/orders", headers={"X-API-Key": key})
        assert orders.status_code == 200, orders.text
        assert orders.json() == {"orders": []}
        wrong = await client.get(f"{info['adapter']}/admin/orders",
                                 headers={"X-API-Key": key + "x"})
        assert wrong.status_code == 401

        # the console accounts `sandbox up` prints can sign in
        assert info["console"] == f"{info['adapter']}/console/"
        seller = next(a for a in info["console_accounts"] if a["username"] == "seller")
        login = await client.get(f"{info['adapter']}/console/login")
        login_token = re.search(r'name="login_token" value="([^"]+)"', login.text)
        assert login_token is not None
        signed = await client.post(
            f"{info['adapter']}/console/login",
            data={"username": "seller", "password": seller["password"],
                  "login_token": login_token.group(1)},
        )
        assert signed.status_code == 303, signed.text
        items = await client.get(f"{info['adapter']}/console/items")
        assert items.status_code == 200
        count = re.search(r"<p>(\d+) items</p>", items.text)
        assert count is not None and int(count.group(1)) > 0  # the seller's store has items
