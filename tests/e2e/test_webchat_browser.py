"""A person uses the sandbox's web chat page in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import os
import shutil

import pytest

from bot.demo import RESIDENTS_GROUP
from tests.e2e.harness import Linli

WANG = 1001
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail in CI, where LINLI_REQUIRE_BROWSER is set)."""
    path = os.environ.get("LINLI_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    message = "the browser test needs Debian's chromium (apt install chromium); .ci/run installs it"
    if os.environ.get("LINLI_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


async def test_a_resident_chats_with_linli_in_the_browser(linli: Linli) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 375, "height": 740})
            await page.goto(linli.runtime.sandbox.base_url + "/")
            await page.select_option("#user-select", str(WANG))

            # The private chat: ask for help, see the Chinese answer arrive.
            await page.click(f'#chat-list [data-chat-id="{WANG}"]')
            await expect(page.locator("#reply-bar")).to_be_hidden()
            await page.fill("#composer-input", "/help")
            await page.click("#send-button")
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "我能做什么", timeout=10_000
            )

            # Press a button: choose English, then the bot answers in English.
            await page.fill("#composer-input", "/language")
            await page.click("#send-button")
            english = page.locator("#messages button.inline-btn", has_text="English").last
            await expect(english).to_be_visible(timeout=10_000)
            await english.click()
            await page.fill("#composer-input", "/help")
            await page.click("#send-button")
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "What I can do", timeout=10_000
            )

            # The residents' group is in her chat list and works the same way.
            await page.click(f'#chat-list [data-chat-id="{RESIDENTS_GROUP}"]')
            await page.fill("#composer-input", "/start")
            await page.click("#send-button")
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "Linli is here", timeout=10_000
            )

            # A deep-link button opens the private chat and starts it, as Telegram does.
            await page.fill("#composer-input", "/mydata")
            await page.click("#send-button")
            private = page.locator("#messages button.inline-btn[data-url*='start=mydata']").last
            await expect(private).to_be_visible(timeout=10_000)
            await private.click()
            await expect(page.locator("#chat-title")).to_contain_text("Linli", timeout=10_000)
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "302", timeout=10_000
            )
        finally:
            await browser.close()
