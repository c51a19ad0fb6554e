"""What the browser tests drive besides the browser: the sandbox network (registry, gateway,
buyer app, adapter with its console) in the test's event loop, a buyer that searches and orders
through it, and headless Chromium (Debian's package) under Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ondc_adapter.sandbox.builders import (
    FlowState,
    build_confirm,
    build_init,
    build_issue_open,
    build_search,
    build_select,
)
from ondc_adapter.sandbox.network import SandboxNetwork

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DOMAIN = "ONDC:RET16"
WAIT = 15.0  # seconds for a callback to arrive (a wait for an event, not a speed check)


def chromium_present() -> bool:
    return Path(CHROMIUM).exists() and shutil.which("chromium") is not None


class SandboxBuyer:
    """The sandbox buyer app, driven step by step (the scenario runner plays whole flows)."""

    def __init__(self, net: SandboxNetwork, city: str = "std:080") -> None:
        self.net = net
        self.state = FlowState(domain=DOMAIN, city=city, bap_id=net.buyer.bap_id,
                               bap_uri=net.buyer.base_url)

    async def _exchange(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        sent = await self.net.buyer.send(action, payload)
        assert sent.ack == "ACK", (action, sent.answer, sent.error)
        message_id = payload["context"]["message_id"]
        callback = await self.net.buyer.wait_for(
            lambda cb: cb.action == f"on_{action}"
            and cb.context.get("message_id") == message_id, WAIT)
        assert callback is not None and callback.payload is not None, f"no on_{action}"
        assert callback.signature_error is None, callback.signature_error
        ctx = callback.payload["context"]
        if self.state.bpp_id is None:
            self.state.bpp_id, self.state.bpp_uri = ctx["bpp_id"], ctx["bpp_uri"]
        self.state.last[f"on_{action}"] = callback.payload
        return callback.payload

    async def search(self) -> dict[str, Any]:
        payload = build_search(self.state)
        self.state.last["search"] = payload
        return await self._exchange("search", payload)

    async def order(self, item_id: str | None = None) -> str:
        """search -> select -> init -> confirm; returns the order id."""
        await self.search()
        select = build_select(self.state)
        if item_id is not None:
            select["message"]["order"]["items"][0]["id"] = item_id
        self.state.last["select"] = select
        await self._exchange("select", select)
        init = build_init(self.state)
        self.state.last["init"] = init
        await self._exchange("init", init)
        confirm = build_confirm(self.state)
        self.state.last["confirm"] = confirm
        await self._exchange("confirm", confirm)
        assert self.state.order_id or confirm["message"]["order"]["id"]
        return str(confirm["message"]["order"]["id"])

    async def next_status(self, order_id: str) -> dict[str, Any]:
        """The next unsolicited on_status of ``order_id`` the buyer app receives."""
        callback = await self.net.buyer.wait_for(
            lambda cb: cb.action == "on_status"
            and (cb.payload or {}).get("message", {}).get("order", {}).get("id") == order_id,
            WAIT)
        assert callback is not None, "no on_status"
        assert callback.signature_error is None
        return callback.payload or {}


    async def complain(self, order_id: str) -> str:
        """A complaint (IGM 2.0.0 ``issue``, ITM004) about the order's first item; returns the
        issue id once the node has answered it."""
        self.state.order_id = order_id
        payload = build_issue_open(self.state)
        answer = await self._exchange("issue", payload)
        assert answer["message"]["issue"]["status"] == "PROCESSING", answer
        return str(payload["message"]["issue"]["id"])

    async def next_on_issue(self, issue_id: str, code: str) -> dict[str, Any]:
        """The next unsolicited on_issue about ``issue_id`` whose last action is ``code``."""

        def last_code(payload: dict[str, Any]) -> str | None:
            issue = payload.get("message", {}).get("issue") or {}
            actions = issue.get("actions") or [{}]
            return (actions[-1].get("descriptor") or {}).get("code") if issue.get(
                "id") == issue_id else None

        callback = await self.net.buyer.wait_for(
            lambda cb: cb.action == "on_issue" and last_code(cb.payload or {}) == code, WAIT)
        assert callback is not None, f"no on_issue with {code}"
        assert callback.signature_error is None
        return callback.payload or {}


def seller_account(net: SandboxNetwork) -> dict[str, str]:
    return next(a for a in net.console_accounts if a["username"] == "seller")
