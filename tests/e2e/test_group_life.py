"""A group's life with Linli: added, registered, upgraded, removed; odd senders and repeats."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.demo import DEMO_BOT, RESIDENTS_GROUP
from storage.models import ChatKind
from tests.e2e.harness import Linli, buttons_of, text_of

WANG, LI, ZHANG = 1001, 1002, 2001
NEW_GROUP = -1002000000009


async def _chat(linli: Linli, telegram_id: int) -> Any:
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        return await uow.chats.by_telegram_id(telegram_id)


async def _new_group(linli: Linli, chat_id: int = NEW_GROUP, kind: str = "supergroup") -> None:
    await linli.sandbox.post(
        "/sandbox/api/chats",
        {
            "id": chat_id,
            "type": kind,
            "title": "3号楼 邻居群",
            "members": [WANG, ZHANG],
            "admins": [ZHANG],
            "bot_member": False,
        },
    )


async def _add_bot(linli: Linli, chat_id: int = NEW_GROUP) -> list[dict[str, Any]]:
    before = await linli.sandbox.transcript(chat_id)
    last = max((m["message_id"] for m in before), default=0)
    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": chat_id, "user_id": DEMO_BOT["id"], "action": "add", "by": ZHANG},
    )
    return await linli.replies(chat_id, last)


async def _register(linli: Linli, chat_id: int, kind_label: str) -> str:
    [question] = await linli.say(chat_id, ZHANG, "/setup")
    data = dict(buttons_of(question))[kind_label]
    await linli.sandbox.press(chat_id, ZHANG, question["message_id"], data)
    await linli.settle()  # the press is answered, then the message edited
    [edited] = [
        m
        for m in await linli.sandbox.transcript(chat_id)
        if m["message_id"] == question["message_id"]
    ]
    return str(edited["text"])


async def test_a_new_group_is_greeted_and_registered_by_the_director_with_buttons(
    linli: Linli,
) -> None:
    await _new_group(linli)
    greeting = text_of(await _add_bot(linli))
    assert "我是社区助手邻里" in greeting and "/setup" in greeting

    [question] = await linli.say(NEW_GROUP, ZHANG, "/setup")
    assert "本群在阳光花园中的用途是" in question["text"]
    labels = [label for label, _ in buttons_of(question)]
    assert labels == ["居民群", "工作群", "志愿者群"]

    data = dict(buttons_of(question))["居民群"]
    refused = await linli.sandbox.press(NEW_GROUP, WANG, question["message_id"], data)
    assert "只有社区的工作人员或管理员可以登记群" in refused["answer"]["text"]
    assert (await _chat(linli, NEW_GROUP)).community_id is None

    done = await linli.sandbox.press(NEW_GROUP, ZHANG, question["message_id"], data)
    assert done["answer"] is not None
    await linli.settle()  # the press is answered, then the message edited
    [edited] = [
        m
        for m in await linli.sandbox.transcript(NEW_GROUP)
        if m["message_id"] == question["message_id"]
    ]
    assert edited["text"] == "本群已登记为阳光花园的居民群。"
    chat = await _chat(linli, NEW_GROUP)
    assert chat.kind is ChatKind.RESIDENTS and chat.community_id is not None and chat.active


async def test_a_resident_cannot_register_a_group(linli: Linli) -> None:
    await _new_group(linli)
    await _add_bot(linli)
    text = text_of(await linli.say(NEW_GROUP, WANG, "/setup"))
    assert "只有社区的工作人员或管理员可以登记群" in text
    assert (await _chat(linli, NEW_GROUP)).community_id is None


async def test_setup_in_private_says_where_to_send_it(linli: Linli) -> None:
    assert "请在要登记的群里发送 /setup" in text_of(await linli.say(ZHANG, ZHANG, "/setup"))


async def test_a_group_that_removes_the_bot_is_marked_inactive_and_keeps_its_data(
    linli: Linli,
) -> None:
    await _new_group(linli)
    await _add_bot(linli)
    await _register(linli, NEW_GROUP, "居民群")
    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": NEW_GROUP, "user_id": DEMO_BOT["id"], "action": "remove", "by": ZHANG},
    )
    await linli.settle()
    chat = await _chat(linli, NEW_GROUP)
    assert not chat.active
    assert chat.kind is ChatKind.RESIDENTS and chat.community_id is not None

    greeting = text_of(await _add_bot(linli))
    assert "我是社区助手邻里" in greeting
    chat = await _chat(linli, NEW_GROUP)
    assert chat.active and chat.kind is ChatKind.RESIDENTS


async def test_a_group_upgraded_to_a_supergroup_keeps_its_registration_and_roster(
    linli: Linli,
) -> None:
    basic = -4000000001
    await _new_group(linli, basic, kind="group")
    await _add_bot(linli, basic)
    assert await _register(linli, basic, "工作群") == "本群已登记为阳光花园的工作群。"
    await linli.sandbox.send(basic, WANG, "大家好")
    moved = await linli.sandbox.post("/sandbox/api/migrate", {"chat_id": basic})
    new_id = moved["migrate_to_chat_id"]
    await linli.settle()

    chat = await _chat(linli, new_id)
    assert chat is not None and chat.kind is ChatKind.STAFF and chat.active
    assert await _chat(linli, basic) is None
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        assert WANG in set(await uow.roster.members(chat.id))
    assert "/setup" in text_of(await linli.say(new_id, ZHANG, "/help"))


async def test_a_command_from_an_anonymous_admin_gets_a_polite_explanation(linli: Linli) -> None:
    text = text_of(await linli.say(RESIDENTS_GROUP, ZHANG, "/setup", sender_chat=True))
    assert "你以群或频道的身份发言时，我无法知道你是谁" in text and "匿名管理员" in text
    assert "本群在" not in text  # nothing was registered on its behalf


async def test_an_edited_message_gets_no_second_answer(linli: Linli) -> None:
    sent = await linli.sandbox.send(WANG, WANG, "/help")
    replies = await linli.replies(WANG, sent)
    assert len(replies) == 1
    last = replies[-1]["message_id"]
    await linli.sandbox.post(
        "/sandbox/api/edit",
        {"chat_id": WANG, "user_id": WANG, "message_id": sent, "text": "/start"},
    )
    assert await linli.silent_after(WANG, last)


async def test_a_repeated_update_is_handled_once(linli: Linli) -> None:
    sent = await linli.sandbox.send(LI, LI, "/help")
    [first] = await linli.replies(LI, sent)
    update = {
        "update_id": 999_000_001,
        "message": {
            "message_id": 99_001,
            "date": 1_790_000_000,
            "chat": {"id": LI, "type": "private", "first_name": "李"},
            "from": {"id": LI, "is_bot": False, "first_name": "李"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    await linli.sandbox.post("/sandbox/api/inject", {"update": update})
    await linli.sandbox.post("/sandbox/api/inject", {"update": update})
    await linli.settle()
    later = await linli.sandbox.transcript(LI, after=first["message_id"])
    bot_messages = [m for m in later if m["from"]["id"] == DEMO_BOT["id"]]
    assert len(bot_messages) == 1, bot_messages


async def test_a_queued_outbox_message_is_delivered_once_by_the_running_bot(linli: Linli) -> None:
    runtime = linli.runtime
    assert runtime.db is not None and runtime.outbox is not None
    settled = asyncio.Event()

    async def on_settled(row: Any, message: Any) -> None:
        settled.set()

    runtime.outbox.add_listener("test:", on_settled)
    async with runtime.db.uow() as uow:
        await uow.outbox.enqueue("test:hello", WANG, {"text": "来自发件箱的消息"})
        await uow.outbox.enqueue("test:hello", WANG, {"text": "来自发件箱的消息"})
        await uow.commit()
    runtime.outbox.wake()
    await asyncio.wait_for(settled.wait(), timeout=10)
    messages = await linli.sandbox.transcript(WANG)
    assert [m["text"] for m in messages] == ["来自发件箱的消息"]
    async with runtime.db.uow() as uow:
        row = await uow.outbox.by_key("test:hello")
    assert row is not None and row.status.value == "sent"
    assert row.telegram_message_id == messages[0]["message_id"]
