"""Helpers for tests/chaos/test_faults.py: injecting Telegram's failures and reading the call log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.demo import DEMO_BOT, STAFF_GROUP
from bot.reading import LinliBot
from bot.services.types import ChatRef, Person
from storage.models import ChatKind, OutboxMessage, OutboxStatus
from tests.e2e.harness import Linli
from tests.proof import record

ZHANG = 2001  # staff
READ_TIMEOUT = 1.0  # seconds the bot waits for an answer in these tests (15 in production)


def quick_bot(token: str, base_url: str, base_file_url: str) -> LinliBot:
    """The bot as bot.reading.make_bot builds it, except that it gives up reading after 1 s."""
    from bot.transport import AiohttpRequest

    return LinliBot(
        token=token,
        base_url=base_url,
        base_file_url=base_file_url,
        request=AiohttpRequest(256, connect_timeout=10, read_timeout=READ_TIMEOUT, write_timeout=20),
        get_updates_request=AiohttpRequest(1, read_timeout=35),
    )


async def inject(
    linli: Linli,
    error: int | str,
    *,
    method: str = "sendMessage",
    chat_id: int | None = None,
    times: int = 1,
    **extra: Any,
) -> None:
    """Queue a fault for the next `times` calls of `method` (in `chat_id`), and count it."""
    fault: dict[str, Any] = {"method": method, "error": error, "times": times, **extra}
    if chat_id is not None:
        fault["chat_id"] = chat_id
    await linli.sandbox.post("/sandbox/api/faults", fault)
    record("faults", times)


async def faults_left(linli: Linli) -> list[dict[str, Any]]:
    """The faults still queued in the sandbox."""
    _status, body = await linli.sandbox.call("GET", "/sandbox/api/faults")
    return body["faults"]  # type: ignore[no-any-return]


async def calls(
    linli: Linli, method: str = "sendMessage", chat_id: int | None = None
) -> list[dict[str, Any]]:
    """The sandbox's log of Bot API calls of `method` (to `chat_id`), oldest first."""
    _status, body = await linli.sandbox.call("GET", "/sandbox/api/calls", params={"method": method})
    found = body["calls"]
    if chat_id is not None:
        found = [c for c in found if str(c["params"].get("chat_id")) == str(chat_id)]
    return found  # type: ignore[no-any-return]


async def bot_texts(linli: Linli, chat: int, fragment: str = "") -> list[str]:
    """The texts of the bot's messages in a chat that contain `fragment`."""
    return [
        m.get("text") or m.get("caption") or ""
        for m in await linli.sandbox.transcript(chat)
        if m["from"]["id"] == DEMO_BOT["id"]
        and fragment in (m.get("text") or m.get("caption") or "")
    ]


async def eventually(check: Callable[[], Any], *, seconds: float = 8.0) -> Any:
    """Poll an async check until it returns something truthy (real time: retries wait)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def outbox_rows(linli: Linli, prefix: str) -> list[OutboxMessage]:
    """The outbox rows whose key starts with `prefix`."""
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        stmt = select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(prefix))
        return list((await uow.session.scalars(stmt)).all())


async def settled(linli: Linli, prefix: str, count: int, seconds: float = 10.0) -> bool:
    """Wait until `count` rows with the key prefix have a final status (sent, failed, unknown)."""
    final = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.UNKNOWN)

    async def done() -> bool:
        assert linli.runtime.outbox is not None
        linli.runtime.outbox.wake()
        rows = await outbox_rows(linli, prefix)
        return len(rows) >= count and all(r.status in final for r in rows)

    return bool(await eventually(done, seconds=seconds))


async def add_residents_groups(linli: Linli, count: int) -> list[int]:
    """`count` more residents' groups of the demo community, with the bot in each."""
    runtime = linli.runtime
    assert runtime.db is not None
    async with runtime.db.uow() as uow:
        staff = await uow.chats.by_telegram_id(STAFF_GROUP)
        assert staff is not None and staff.community_id is not None
        community_id = staff.community_id
    zhang = Person(ZHANG, "张", "主任")
    ids = []
    for i in range(count):
        chat_id = -1002000000100 - i
        title = f"{i + 1}号楼 业主群"
        await linli.sandbox.post(
            "/sandbox/api/chats",
            {
                "id": chat_id,
                "type": "supergroup",
                "title": title,
                "members": [ZHANG],
                "admins": [ZHANG],
                "bot_member": True,
                "by": ZHANG,
            },
        )
        ids.append(chat_id)
    await linli.settle()  # the bot has seen itself added (and said hello) everywhere
    services = _services(linli)
    for chat_id, i in zip(ids, range(count), strict=True):
        ref = ChatRef(chat_id, "supergroup", f"{i + 1}号楼 业主群")
        result = await services.groups.register(zhang, ref, community_id, ChatKind.RESIDENTS)
        assert result.community is not None, result
    return ids


def _services(linli: Linli) -> Any:
    from bot.context import APP_KEY

    assert linli.runtime.application is not None
    return linli.runtime.application.bot_data[APP_KEY].services
