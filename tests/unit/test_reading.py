"""An update the library cannot read is skipped, logged and counted; the others are handled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.settings import Settings
from tests.e2e.harness import running


async def test_an_unreadable_update_does_not_stop_polling(
    make_settings: Callable[..., Settings],
) -> None:
    from bot import reading

    async with running(make_settings()) as linli:
        before = reading.skipped
        # A chat member without a field this library requires: PTB cannot read it.
        broken = {
            "chat": {"id": -1001000000001, "type": "supergroup", "title": "群"},
            "from": {"id": 2001, "is_bot": False, "first_name": "张"},
            "date": 1764000000,
            "old_chat_member": {
                "user": {"id": 1001, "is_bot": False, "first_name": "王"},
                "status": "restricted",
            },
            "new_chat_member": {
                "user": {"id": 1001, "is_bot": False, "first_name": "王"},
                "status": "member",
            },
        }
        await linli.sandbox.post("/sandbox/api/inject", {"update": {"chat_member": broken}})
        [answer] = await linli.say(1001, 1001, "/help")  # the next update is handled
        assert "邻里" in answer["text"] or "Linli" in answer["text"]
        assert reading.skipped == before + 1


async def test_the_webhook_reads_an_unreadable_update_as_an_empty_one() -> None:
    from telegram import Bot

    from bot.reading import read_update

    bot = Bot("1:x")
    update = read_update({"update_id": 7, "poll_answer": {"poll_id": "1"}}, bot)
    assert update.update_id == 7 and update.effective_message is None
    good = read_update(
        {
            "update_id": 8,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": "hi",
            },
        },
        bot,
    )
    assert good.message is not None and good.message.text == "hi"


async def test_the_next_long_poll_waits_until_every_fetched_update_is_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long poll confirms to Telegram all that came before it: it must not go out while any
    fetched update is still waiting or being handled (a kill would lose them)."""
    from telegram.ext import ExtBot

    from bot.reading import make_bot

    polls: list[object] = []

    async def fetched(self: object, *args: object, **kwargs: object) -> tuple[()]:
        polls.append(kwargs.get("timeout"))
        return ()

    monkeypatch.setattr(ExtBot, "get_updates", fetched)
    bot = make_bot("1:token", "http://127.0.0.1:9/bot", "http://127.0.0.1:9/file")
    queue: asyncio.Queue[str] = asyncio.Queue()
    bot.fetch_after(queue.join)
    queue.put_nowait("update 1")
    poll = asyncio.create_task(bot.get_updates(offset=2, timeout=10))
    for _ in range(5):
        await asyncio.sleep(0)
    assert polls == [], "polled while an update was still queued"
    queue.get_nowait()  # the application takes it …
    for _ in range(5):
        await asyncio.sleep(0)
    assert polls == [], "polled while an update was still being handled"
    queue.task_done()  # … and has handled it
    await asyncio.wait_for(poll, 1)
    assert polls == [10]
    queue.put_nowait("update 2")  # the last, confirming call at shutdown does not wait
    await asyncio.wait_for(bot.get_updates(offset=3, timeout=0), 1)
    assert polls == [10, 0]
