"""A staff member uses the dashboard in Debian's Chromium, driven by Playwright, on a fake
clock: signs in with the link the bot sent, sees today's check-ins, accepts a repair ticket,
and the resident gets the bot's message; a resident gets no link; an old link is refused."""

from __future__ import annotations

import re

from bot.clock import FakeClock
from tests.e2e import test_repair
from tests.e2e.harness import Linli
from tests.e2e.test_care import enrol
from tests.e2e.test_dashboard import login_link
from tests.e2e.test_repair import WANG, outbox_idle, staff_card, submit
from tests.e2e.test_webchat_browser import CHROMIUM_FLAGS, chromium_path

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock


async def test_staff_accept_a_ticket_in_the_browser_and_the_resident_hears_it(
    linli: Linli, clock: FakeClock
) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright, expect

    await enrol(linli, clock)  # 李奶奶 joins the daily check-in
    await submit(linli, WANG)  # 王阿姨 reports the lift: BX-2026-0001
    link = await login_link(linli)  # 张主任 sends /dashboard in private
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1024, "height": 768})
            await page.goto(link)
            await expect(page.locator("h1")).to_contain_text("今天的问安")
            await expect(page.locator("main")).to_contain_text("李奶奶")

            await page.click("header nav a:has-text('报修')")
            row = page.locator("table.list tbody tr", has_text="BX-2026-0001")
            await expect(row).to_contain_text("电梯按钮失灵")
            await expect(row).to_contain_text("已提交")
            await row.locator("a").first.click()
            await expect(page.locator("h1")).to_contain_text("BX-2026-0001")
            await expect(page.locator("main")).to_contain_text("13812345678")
            await expect(page.locator(".photos img")).to_have_count(1)
            await page.wait_for_function(  # the photo came from Telegram (the sandbox)
                "() => document.querySelector('.photos img').naturalWidth > 0", timeout=10_000
            )

            await page.click("form[data-action='accept'] button")
            await expect(page.locator(".notice")).to_contain_text("已受理，已通知居民")
            await expect(page.locator("dl.facts")).to_contain_text("已受理")
            assert re.search(r"done=accept", page.url)

            # The resident's private chat in the sandbox: the bot told her.
            await outbox_idle(linli)
            texts = [m.get("text") or "" for m in await linli.sandbox.transcript(WANG)]
            assert any("BX-2026-0001" in t and "已受理" in t for t in texts)
            assert "状态：已受理" in (await staff_card(linli))["text"]
            chat = await browser.new_page(viewport={"width": 375, "height": 740})
            await chat.goto(linli.runtime.sandbox.base_url + "/")
            await chat.select_option("#user-select", str(WANG))
            await chat.click(f'#chat-list [data-chat-id="{WANG}"]')
            update = chat.locator("#messages .msg.from-bot", has_text="BX-2026-0001").last
            await expect(update).to_contain_text("已受理", timeout=10_000)

            # A resident asking for the dashboard gets no link.
            [answer] = await linli.say(WANG, WANG, "/dashboard")
            assert "token=" not in answer["text"] and "http" not in answer["text"]

            # A link older than ten minutes is refused, in the browser too.
            old = await login_link(linli)
            clock.advance(minutes=11)
            fresh = await browser.new_page(locale="zh-CN")  # a Chinese office PC
            response = await fresh.goto(old)
            assert response is not None and response.status == 403
            await expect(fresh.locator("main")).to_contain_text("已过期或已被使用")
            await expect(fresh.locator("header nav")).to_have_count(0)
        finally:
            await browser.close()
