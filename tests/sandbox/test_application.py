"""A whole PTB Application polls the sandbox and talks to people, in scripts and in a browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import SandboxServer
from tests.sandbox.conftest import BOT_ID, GROUP, TOKEN, WANG, Script


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, with a button."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "你好，我是邻里",
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("English", callback_data="lang:en")]]
        ),
    )


async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the button and change the message."""
    query = update.callback_query
    assert query is not None
    await query.answer("Language: English")
    await query.edit_message_text("Hello, I am Linli")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say what the photo or text was."""
    message = update.effective_message
    assert message is not None
    await message.reply_text("收到照片" if message.photo else f"你说：{message.text}")


@pytest.fixture
async def application(sandbox: SandboxServer) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An Application polling the sandbox."""
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(sandbox.bot_api_url)
        .base_file_url(sandbox.file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(choose))
    app.add_handler(MessageHandler(filters.TEXT | filters.PHOTO, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=5, allowed_updates=Update.ALL_TYPES)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def test_an_application_answers_start_and_a_button(
    application: Application, script: Script
) -> None:  # type: ignore[type-arg]
    asked = await script.send(WANG, WANG, "/start")
    [reply] = await script.transcript(WANG, after=asked, wait=10)
    assert reply["text"] == "你好，我是邻里" and reply["from"]["id"] == BOT_ID
    pressed = await script.ok(
        "POST",
        "/sandbox/api/press",
        json={
            "chat_id": WANG,
            "user_id": WANG,
            "message_id": reply["message_id"],
            "data": "lang:en",
            "wait": 10,
        },
    )
    assert pressed["answer"]["text"] == "Language: English"
    [edited] = [m for m in await script.transcript(WANG) if m["message_id"] == reply["message_id"]]
    assert edited["text"] == "Hello, I am Linli" and "edit_date" in edited


async def test_an_application_in_a_group(application: Application, script: Script) -> None:  # type: ignore[type-arg]
    asked = await script.send(GROUP, WANG, "/start@linli_demo_bot")
    [reply] = await script.transcript(GROUP, after=asked, wait=10)
    assert reply["from"]["id"] == BOT_ID and reply["chat"]["id"] == GROUP
    assert reply["reply_to_message"]["message_id"] == asked  # PTB quotes in groups


def chromium() -> str:
    """Debian's Chromium, or skip."""
    path = os.environ.get("LINLI_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.skip("the browser test needs chromium")
    pytest.importorskip("playwright")
    return path


async def test_a_person_uses_the_web_page(
    application: Application, sandbox: SandboxServer, script: Script
) -> None:  # type: ignore[type-arg]
    executable = chromium()
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 375, "height": 740})
            await page.goto(sandbox.base_url + "/")
            await page.select_option("#user-select", str(WANG))
            await page.click(f'#chat-list [data-chat-id="{WANG}"]')
            await page.fill("#composer-input", "/start")
            await page.click("#send-button")
            bot_message = page.locator("#messages .msg.from-bot").last
            await expect(bot_message).to_contain_text("你好，我是邻里", timeout=10_000)
            await page.click('#messages button.inline-btn[data-callback="lang:en"]')
            await expect(page.locator("#toast")).to_contain_text(
                "Language: English", timeout=10_000
            )
            await expect(bot_message).to_contain_text("Hello, I am Linli", timeout=10_000)

            await page.click(f'#chat-list [data-chat-id="{GROUP}"]')
            await page.fill("#composer-input", "<b>不是标签</b>")
            await page.click("#send-button")
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "你说：<b>不是标签</b>", timeout=10_000
            )

            await page.set_input_files(
                "#photo-input",
                files=[{"name": "p.png", "mimeType": "image/png", "buffer": _tiny_png()}],
            )
            await expect(page.locator("#messages .msg.from-bot").last).to_contain_text(
                "收到照片", timeout=10_000
            )
            await expect(page.locator("#messages img.photo")).to_have_count(1)

            await page.click("#lang-toggle")
            await expect(page.locator("#send-button")).to_have_text("Send")
        finally:
            await browser.close()


def _tiny_png() -> bytes:
    from tests.sandbox.test_files_and_faults import png

    return png(8, 8)
