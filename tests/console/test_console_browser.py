"""The console in a real browser (headless Chromium from Debian's package, driven by Playwright),
against a whole sandbox network: a seller signs in, adds an item, changes its stock and sees the
change in the sandbox buyer's next on_search; accepts an order and moves it to delivered while
the buyer app receives each on_status; finds the buyer's complaint about it under Issues and
asks for a photo, which reaches the buyer app as an on_issue; signs out. Once in English and
once in Hindi.

With ``ONDC_CONSOLE_SCREENSHOTS=DIR`` the test also saves each main page at 360 px and 1280 px
in both languages (how ``docs/console/*.png`` are made)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from browser_kit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SandboxBuyer,
    chromium_present,
    seller_account,
)

from ondc_adapter.settings import Settings

pytestmark = pytest.mark.skipif(
    not chromium_present() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (.ci/run installs it; CI never skips)",
)

TEXT = {
    "en": {"sign_in": "Sign in", "add": "Add an item", "save": "Save", "saved": "Saved.",
           "accept": "Accept the order", "mark": "Mark as: {state}", "sign_out": "Sign out",
           "delivered": "Order-delivered", "quality": "Product quality (ITM004)",
           "ask": "Send the question", "overdue": "Overdue"},
    "hi": {"sign_in": "साइन इन करें", "add": "सामान जोड़ें", "save": "सहेजें",
           "saved": "सहेज लिया गया", "accept": "ऑर्डर स्वीकार करें",
           "mark": "स्थिति बदलें: {state}", "sign_out": "साइन आउट",
           "delivered": "डिलीवर हो गया", "quality": "सामान की गुणवत्ता (ITM004)",
           "ask": "सवाल भेजें", "overdue": "समय सीमा निकल गई"},
}
STATES = {
    "en": ["Packed", "Order-picked-up", "Out-for-delivery", "Order-delivered"],
    "hi": ["पैक हो गया", "पिकअप हो गया", "डिलीवरी के लिए निकला", "डिलीवर हो गया"],
}
WIRE_STATES = ["Packed", "Order-picked-up", "Out-for-delivery", "Order-delivered"]


def items_of(on_search: dict[str, Any], provider_id: str) -> dict[str, dict[str, Any]]:
    for provider in on_search["message"]["catalog"].get("bpp/providers", []):
        if provider["id"] == provider_id:
            return {i["id"]: i for i in provider.get("items", [])}
    return {}


def only_store(on_search: dict[str, Any], provider_id: str) -> dict[str, Any]:
    """The on_search with just the seller's store (so the buyer orders from it)."""
    out = copy.deepcopy(on_search)
    catalog = out["message"]["catalog"]
    catalog["bpp/providers"] = [p for p in catalog["bpp/providers"] if p["id"] == provider_id]
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    terms = tmp_path / "terms.json"
    # the seller accepts each order; its settlement account (a terms file must name one)
    terms.write_text(json.dumps({"auto_accept": False, "upi_address": "emporium@upi"}))
    return Settings(_env_file=None, seller_terms_file=terms)  # type: ignore[call-arg]


async def test_console_in_a_browser(tmp_path: Path, settings: Settings) -> None:
    from playwright.async_api import async_playwright

    from ondc_adapter.sandbox.network import NetworkOptions, start_network

    shots = os.environ.get("ONDC_CONSOLE_SCREENSHOTS")
    opts = NetworkOptions(domains=["ONDC:RET16"], work_dir=tmp_path, console_accounts=True)
    async with start_network(opts, settings=settings) as net, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "hi"):
                await play(browser, net, lang, tmp_path, Path(shots) if shots else None)
        finally:
            await browser.close()


async def play(browser: Any, net: Any, lang: str, tmp_path: Path, shots: Path | None) -> None:
    t = TEXT[lang]
    account = seller_account(net)
    store = account["store"]
    console = f"{net.adapter_url}/console"
    context = await browser.new_context(
        viewport={"width": 360, "height": 800},
        locale="hi-IN" if lang == "hi" else "en-IN",
        extra_http_headers={"Accept-Language": "hi-IN,hi;q=0.9" if lang == "hi" else "en"},
    )
    page = await context.new_page()
    buyer = SandboxBuyer(net)

    # sign in (the browser's language picks the console's)
    await page.goto(f"{console}/items")
    assert page.url.startswith(f"{console}/login")
    assert await page.get_attribute("html", "lang") == lang
    await page.fill("#username", account["username"])
    await page.fill("#password", account["password"])
    await page.click(f"button.primary:has-text('{t['sign_in']}')")
    await page.wait_for_url(f"{console}/items")

    # add an item
    item_id = f"BR-{lang}-1"
    await page.click(f"text={t['add']}")
    await page.wait_for_url(f"{console}/items/new")
    await page.select_option("#f-domain", "ONDC:RET16")
    await page.select_option("#f-category_id", "Home Decor")
    await page.fill("#f-id", item_id)
    await page.fill("#f-name", f"Blue pottery vase {lang}")
    await page.fill("#f-price", "899")
    await page.fill("#f-mrp", "999")
    await page.fill("#f-stock", "4")
    await page.fill("#f-code", "1:8901234567890")
    await page.fill("#f-images", "https://img.example/vase.jpg")
    await page.fill("#f-short_desc", "Hand-painted vase")
    await page.fill("#f-long_desc", "Jaipur blue pottery, hand-painted")
    await page.fill("#f-attributes", "brand=Jaipur Blue\ncolour=#1D70B8\ncolour_name=Blue\n"
                                     "material=Ceramic")
    await page.click(f"button.primary:has-text('{t['save']}')")
    await page.wait_for_url(f"{console}/items/{item_id}?saved=1")
    first = await buyer.search()
    assert item_id in items_of(first, store), "the new item is not in the next on_search"

    # change its stock from the list: the next on_search shows it ("99" available, or "0")
    await page.goto(f"{console}/items?q={item_id}")
    await page.fill("#stock-1", "0")
    await page.click(f".quick button:has-text('{t['save']}')")
    await page.wait_for_url(f"{console}/items?saved={item_id}")
    assert t["saved"] in await page.inner_text("main")
    second = await buyer.search()
    listed = items_of(second, store)[item_id]
    assert listed["quantity"]["available"]["count"] == "0"
    if shots:
        await screenshots(context, page, console, lang, shots, item_id)

    # an order for this store arrives; the seller accepts it and moves it to delivered
    buyer.state.last["on_search"] = only_store(second, store)
    order_id = await buyer.order()
    await page.goto(f"{console}/orders/{order_id}")
    await page.click(f"button:has-text('{t['accept']}')")
    await page.wait_for_url(f"{console}/orders/{order_id}?done=1")
    status = await buyer.next_status(order_id)
    assert status["message"]["order"]["state"] == "Accepted"
    if shots:
        await shoot(context, page, f"{console}/orders", shots / f"orders-{lang}", lang)
        await shoot(context, page, f"{console}/orders/{order_id}", shots / f"order-{lang}", lang)
    for wire, shown in zip(WIRE_STATES, STATES[lang], strict=True):
        await page.click(f"button:has-text('{t['mark'].format(state=shown)}')")
        await page.wait_for_url(f"{console}/orders/{order_id}?done=1")
        status = await buyer.next_status(order_id)
        fulfillment = status["message"]["order"]["fulfillments"][0]
        assert fulfillment["state"]["descriptor"]["code"] == wire
    assert t["delivered"] in await page.inner_text("main")

    # the buyer complains about the item; the seller finds it under Issues, asks for a photo
    issue_id = await buyer.complain(order_id)
    await page.click("nav a[href='/console/issues']")
    await page.wait_for_url(f"{console}/issues")
    listed = await page.inner_text("main")
    assert issue_id in listed and t["quality"] in listed and t["overdue"] not in listed
    if shots:
        await shoot(context, page, f"{console}/issues", shots / f"issues-{lang}", lang)
    await page.click(f"a[href='/console/issues/{issue_id}']")
    await page.wait_for_url(f"{console}/issues/{issue_id}")
    await page.fill("#ask-question", "Please send a photo of the damage")
    await page.click(f"button:has-text('{t['ask']}')")
    await page.wait_for_url(f"{console}/issues/{issue_id}?done=1")
    pushed = await buyer.next_on_issue(issue_id, "INFO_REQUESTED")
    asked = pushed["message"]["issue"]["actions"][-1]["descriptor"]["short_desc"]
    assert asked == "Please send a photo of the damage"
    if shots:
        await shoot(context, page, f"{console}/issues/{issue_id}", shots / f"issue-{lang}", lang)

    # sign out: the pages ask for sign-in again
    await page.click(f"button:has-text('{t['sign_out']}')")
    await page.wait_for_url(f"{console}/login")
    await page.goto(f"{console}/orders")
    assert page.url.startswith(f"{console}/login")
    await context.close()


async def shoot(context: Any, page: Any, url: str, stem: Path, lang: str) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    for width in (360, 1280):
        await page.set_viewport_size({"width": width, "height": 800})
        await page.goto(url)
        await page.screenshot(path=f"{stem}-{width}.png", full_page=width == 360)
    await page.set_viewport_size({"width": 360, "height": 800})


async def screenshots(context: Any, page: Any, console: str, lang: str, shots: Path,
                      item_id: str) -> None:
    for name, url in (("items", f"{console}/items"), ("item", f"{console}/items/{item_id}"),
                      ("store", f"{console}/store"), ("upload", f"{console}/items/upload")):
        await shoot(context, page, url, shots / f"{name}-{lang}", lang)
    login = await context.browser.new_context(
        viewport={"width": 360, "height": 800},
        extra_http_headers={"Accept-Language": "hi-IN,hi;q=0.9" if lang == "hi" else "en"})
    await shoot(login, await login.new_page(), f"{console}/login", shots / f"login-{lang}", lang)
    await login.close()
