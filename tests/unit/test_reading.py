"""An update the library cannot read is skipped, logged and counted; the others are handled."""

from __future__ import annotations

from collections.abc import Callable

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
