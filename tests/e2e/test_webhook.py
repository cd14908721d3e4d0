"""Webhook mode: the sandbox posts updates to the bot's aiohttp server, secret checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from bot.settings import Settings
from bot.web import SECRET_HEADER
from tests.e2e.harness import Linli, running, text_of

WANG = 1001
SECRET = "test-secret_123"


@pytest.fixture
async def webhook_linli(make_settings: Callable[..., Settings]) -> AsyncIterator[Linli]:
    settings = make_settings(LINLI_MODE="webhook", LINLI_WEBHOOK_SECRET=SECRET)
    async with running(settings) as linli:
        yield linli


async def test_updates_arrive_by_webhook_and_are_answered(webhook_linli: Linli) -> None:
    assert webhook_linli.runtime.application.updater is None  # type: ignore[union-attr]
    text = text_of(await webhook_linli.say(WANG, WANG, "/start"))
    assert "我是邻里" in text


async def test_the_webhook_refuses_requests_without_the_secret(webhook_linli: Linli) -> None:
    url = f"http://127.0.0.1:{webhook_linli.runtime.web_port}/telegram/webhook"
    update = {
        "update_id": 999,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as response:
            assert response.status == 403
        async with http.post(url, json=update, headers={SECRET_HEADER: "wrong"}) as response:
            assert response.status == 403
        async with http.post(
            url, data=b"\xff{not json", headers={SECRET_HEADER: SECRET}
        ) as response:
            assert response.status == 400
        async with http.get(
            f"http://127.0.0.1:{webhook_linli.runtime.web_port}/healthz"
        ) as response:
            assert (await response.json()) == {"status": "ok"}
        async with http.get(
            f"http://127.0.0.1:{webhook_linli.runtime.web_port}/readyz"
        ) as response:
            assert response.status == 200
