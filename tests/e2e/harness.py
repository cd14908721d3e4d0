"""Drive the real bot through the sandbox over HTTP, as people in the chats do."""

from __future__ import annotations

import asyncio
import base64
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.demo import DEMO_BOT, demo_world
from bot.runtime import Runtime
from bot.settings import Settings

PROBE_USER = 9999  # a private chat no test uses, to know the bot has caught up


@asynccontextmanager
async def running(settings: Settings, **runtime_options: Any) -> AsyncIterator[Linli]:
    """Linli with its sandbox (the demo world plus the probe user), and a client."""
    runtime = Runtime(settings, world=with_probe(demo_world()), **runtime_options)
    await runtime.start()
    client = SandboxClient(runtime.sandbox.base_url)
    try:
        yield Linli(runtime, client)
    finally:
        await client.close()
        await runtime.stop()


def with_probe(world: dict[str, Any]) -> dict[str, Any]:
    """The world plus the probe user, who only ever talks to the bot in private."""
    world["users"].append(
        {"id": PROBE_USER, "first_name": "Probe", "language_code": "en", "started": True}
    )
    return world


class SandboxClient:
    """The sandbox's scripting API (see docs/sandbox.md)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.http.close()

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Any request; returns the status and the decoded JSON."""
        async with self.http.request(method, f"{self.base_url}{path}", **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def _ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, **kwargs)
        assert status == 200, f"{method} {path} -> {status} {body}"
        return body

    async def send(self, chat_id: int, user_id: int, text: str, **extra: Any) -> int:
        """A user sends a message; returns its message_id."""
        body = await self._ok(
            "POST",
            "/sandbox/api/send",
            json={"chat_id": chat_id, "user_id": user_id, "text": text, **extra},
        )
        return int(body["message_id"])

    async def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        file_name: str,
        caption: str = "",
        **extra: Any,
    ) -> int:
        """A user sends a file (with an optional caption); returns its message_id."""
        body = await self._ok(
            "POST",
            "/sandbox/api/send",
            json={
                "chat_id": chat_id,
                "user_id": user_id,
                "document": base64.b64encode(data).decode(),
                "file_name": file_name,
                "caption": caption,
                **extra,
            },
        )
        return int(body["message_id"])

    async def download(self, file_id: str) -> bytes:
        """The bytes of a file sent in a chat (a document or photo)."""
        async with self.http.get(f"{self.base_url}/sandbox/api/file/{file_id}") as response:
            assert response.status == 200, f"file {file_id} -> {response.status}"
            return await response.read()

    async def press(self, chat_id: int, user_id: int, message_id: int, data: str) -> dict[str, Any]:
        """A user presses an inline button."""
        return await self._ok(  # type: ignore[no-any-return]
            "POST",
            "/sandbox/api/press",
            json={
                "chat_id": chat_id,
                "user_id": user_id,
                "message_id": message_id,
                "data": data,
                "wait": 5,
            },
        )

    async def transcript(
        self, chat_id: int, after: int = 0, wait: float = 0
    ) -> list[dict[str, Any]]:
        """The chat's messages after `after`, waiting up to `wait` s for a bot message."""
        params = {"chat_id": str(chat_id), "after": str(after)}
        if wait:
            params["wait"] = str(wait)
        body = await self._ok("GET", "/sandbox/api/transcript", params=params)
        return body["messages"]  # type: ignore[no-any-return]

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON to a scripting route, expecting success."""
        return await self._ok("POST", path, json=payload)


@dataclass
class Linli:
    """A running Linli with its sandbox, and a client to act as the demo people."""

    runtime: Runtime
    sandbox: SandboxClient

    async def say(
        self, chat_id: int, user_id: int, text: str, **extra: Any
    ) -> list[dict[str, Any]]:
        """Send a message and return the bot's replies to it (waiting for at least one)."""
        message_id = await self.sandbox.send(chat_id, user_id, text, **extra)
        return await self.replies(chat_id, message_id)

    async def replies(self, chat_id: int, after: int, wait: float = 10) -> list[dict[str, Any]]:
        """The bot's messages in the chat after message `after`, waiting for the first."""
        messages = await self.sandbox.transcript(chat_id, after=after, wait=wait)
        await self.settle()
        messages = await self.sandbox.transcript(chat_id, after=after)
        return [m for m in messages if m["from"]["id"] == DEMO_BOT["id"]]

    async def settle(self) -> None:
        """Wait until the bot has processed everything sent so far.

        Once the bot answers a probe sent now, everything sent before it has been fetched;
        when its update queue is then empty, all of it has been handled (updates of
        different people may be handled at the same time: LINLI_CONCURRENT_UPDATES).
        """
        probe = await self.sandbox.send(PROBE_USER, PROBE_USER, "/start")
        got = await self.sandbox.transcript(PROBE_USER, after=probe, wait=10)
        assert any(m["from"]["id"] == DEMO_BOT["id"] for m in got), "the bot did not answer a probe"
        application = self.runtime.application
        if application is not None:
            await asyncio.wait_for(application.update_queue.join(), 10)

    async def silent_after(self, chat_id: int, message_id: int) -> bool:
        """True when the bot wrote nothing in the chat after message `message_id`."""
        await self.settle()
        later = await self.sandbox.transcript(chat_id, after=message_id)
        return not [m for m in later if m["from"]["id"] == DEMO_BOT["id"]]


def text_of(messages: list[dict[str, Any]]) -> str:
    """All the text and captions of some messages, joined."""
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)


def buttons_of(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, callback_data or url) of every inline button on a message."""
    markup = message.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data") or b.get("url") or "")
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def tiny_png() -> str:
    """A 1×1 PNG, base64."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    raw += chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()
