"""The offer pages in a real browser (Debian's headless Chromium under Playwright), at 360 px:
a seller opens Offers from the menu, adds a percent discount, is sent back by a form naming
the bad field (the end before the start), corrects it, sees the offer in the list in words,
switches it off, and deletes it after the confirmation page. No script runs: the console's
Content-Security-Policy allows none, so this is the plain-HTML path every phone gets."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
import uvicorn
from browser_kit import CHROMIUM, CHROMIUM_ARGS, chromium_present
from console_kit import PASSWORD

from ondc_adapter.catalogue import offer_store
from ondc_adapter.storage import Database

pytestmark = pytest.mark.skipif(
    not chromium_present() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (.ci/run installs it; CI never skips)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_offers_in_a_browser(console_app: Any, pg_db: Database) -> None:

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(console_app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(400):  # uvicorn sets ``started`` once it listens
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the console did not start"
        await drive(f"http://127.0.0.1:{port}/console", pg_db)
    finally:
        server.should_exit = True
        await serving


async def drive(console: str, db: Database) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 800},
                                                locale="en-IN")
            page = await context.new_page()
            await page.goto(f"{console}/offers")
            await page.fill("#username", "asha")
            await page.fill("#password", PASSWORD)
            await page.click("button.primary")
            await page.wait_for_url(f"{console}/offers")
            await page.click("nav >> text=Offers")
            assert await page.text_content("h1") == "Offers: Pattachitra Artisans Cooperative"

            await page.click("ul.links >> text=Discount")
            await page.wait_for_url(f"{console}/offers/new?type=discount")
            assert await page.locator("#f-gift_item_id").count() == 0  # not a discount's field
            await page.fill("#f-id", "diwali10")
            await page.fill("#f-title", "Diwali 10% off")
            await page.fill("#f-valid_from", "2026-10-18T09:00")
            await page.fill("#f-valid_to", "2026-10-01T09:00")  # before the start
            await page.fill("#f-value", "10")
            await page.fill("#f-cap", "100")
            await page.fill("#f-item_ids", "I1\nI2")
            await page.click("button.primary:has-text('Save')")
            summary = page.locator(".error-summary")
            assert "Ends: The end must be after the start." in await summary.inner_text()
            await summary.locator("a").click()  # the summary's link leads to the field
            assert await page.evaluate("document.activeElement.id") == "f-valid_to"
            assert await page.input_value("#f-id") == "diwali10"  # what was typed is kept

            await page.fill("#f-valid_to", "2026-11-02T23:59")
            await page.click("button.primary:has-text('Save')")
            await page.wait_for_url(f"{console}/offers/diwali10?saved=1")
            await page.click("text=All offers")
            card = page.locator("li.card", has_text="Diwali 10% off")
            assert "10% off, up to ₹100.00" in await card.inner_text()
            assert "Handmade item I1, Handmade item I2" in await card.inner_text()

            await card.locator("button:has-text('Switch off')").click()
            await page.wait_for_url(f"{console}/offers?saved=diwali10")
            assert "Switched off" in await page.locator("li.card").inner_text()
            async with db.session() as session:
                stored = await offer_store.get_offer(session, "P1", "diwali10")
            assert stored is not None and not stored.enabled
            assert stored.offer.benefit.cap_paise == 10000

            await page.click("li.card >> text=Delete")
            await page.click("button:has-text('Yes, delete it')")
            await page.wait_for_url(f"{console}/offers?deleted=1")
            assert "No offers yet." in await page.inner_text("main")
        finally:
            await browser.close()
