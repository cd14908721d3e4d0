"""A sandbox with a small world, the real PTB Bot pointed at it, and a scripting client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.sandbox import SandboxServer, World

TOKEN = "123456:SANDBOX"
BOT_ID = 7000000001
WANG, LI, EMMA, STRANGER = 1001, 1002, 1003, 1009
GROUP = -1001000000001
OTHER_GROUP = -1001000000002
BASIC_GROUP = -4000000001


def world_dict() -> dict[str, Any]:
    """The bot, four people, two supergroups (the bot is in one) and a basic group."""
    return {
        "bot": {"id": BOT_ID, "first_name": "邻里 Linli", "username": "linli_demo_bot"},
        "users": [
            {"id": WANG, "first_name": "王", "last_name": "阿姨", "username": "wang_ayi",
             "language_code": "zh-hans", "started": True},
            {"id": LI, "first_name": "李", "last_name": "先生", "username": "li_xiansheng",
             "language_code": "zh-hans", "started": True},
            {"id": EMMA, "first_name": "Emma", "username": "emma_chen", "language_code": "en",
             "started": True},
            {"id": STRANGER, "first_name": "路人", "started": False},
        ],
        "chats": [
            {"id": GROUP, "type": "supergroup", "title": "阳光花园 业主群",
             "members": [WANG, LI, EMMA], "bot_member": True, "admins": [EMMA]},
            {"id": OTHER_GROUP, "type": "supergroup", "title": "别的群",
             "members": [WANG], "bot_member": False},
            {"id": BASIC_GROUP, "type": "group", "title": "老群", "members": [WANG, LI],
             "bot_member": True},
        ],
        "privacy_mode": False,
    }  # fmt: skip


class Script:
    """The scripting API over HTTP."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.http = http

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Any request; (status, decoded JSON)."""
        async with self.http.request(method, self.base_url + path, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request that must succeed."""
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, (status, body)
        return body

    async def send(self, chat_id: int, user_id: int, text: str, **extra: Any) -> int:
        """A person writes; returns the message_id."""
        body = await self.ok(
            "POST",
            "/sandbox/api/send",
            json={"chat_id": chat_id, "user_id": user_id, "text": text, **extra},
        )
        return int(body["message_id"])

    async def transcript(
        self, chat_id: int, after: int = 0, wait: float = 0
    ) -> list[dict[str, Any]]:
        """The chat's messages after `after`."""
        params = {"chat_id": str(chat_id), "after": str(after), "wait": str(wait)}
        return (await self.ok("GET", "/sandbox/api/transcript", params=params))["messages"]  # type: ignore[no-any-return]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    """A running sandbox on a free port."""
    server = SandboxServer(
        world=World.from_dict(world_dict()), token=TOKEN, data_dir=tmp_path / "files"
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    """python-telegram-bot's Bot, talking to the sandbox."""
    request = HTTPXRequest(read_timeout=5, connect_timeout=2)
    tg = Bot(TOKEN, base_url=sandbox.bot_api_url, base_file_url=sandbox.file_url, request=request)
    async with tg:
        yield tg


@pytest.fixture
async def script(sandbox: SandboxServer) -> AsyncIterator[Script]:
    """The scripting API client."""
    async with aiohttp.ClientSession() as http:
        yield Script(sandbox.base_url, http)
