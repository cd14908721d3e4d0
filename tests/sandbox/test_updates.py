"""What the bot receives: messages with entities, edits, button presses, membership changes."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageEntityType

from bot.sandbox import SandboxServer
from tests.sandbox.conftest import BASIC_GROUP, BOT_ID, GROUP, LI, OTHER_GROUP, WANG, Script


async def test_a_chinese_and_emoji_message_has_utf16_entity_offsets(
    bot: Bot, script: Script
) -> None:
    await script.send(WANG, WANG, "你好🌞 /help@linli_demo_bot")
    [update] = await bot.get_updates(timeout=1)
    message = update.message
    assert message.text == "你好🌞 /help@linli_demo_bot"
    assert message.from_user.id == WANG and message.chat.type == "private"
    [entity] = message.entities
    assert (entity.type, entity.offset, entity.length) == (MessageEntityType.BOT_COMMAND, 5, 20)
    assert message.parse_entity(entity) == "/help@linli_demo_bot"


async def test_mentions_urls_and_hashtags_are_found(bot: Bot, script: Script) -> None:
    await script.send(GROUP, WANG, "@linli_demo_bot 电梯坏了 #报修 见 https://example.com/a，谢谢")
    [update] = await bot.get_updates()
    found = {e.type: update.message.parse_entity(e) for e in update.message.entities}
    assert found == {
        MessageEntityType.MENTION: "@linli_demo_bot",
        MessageEntityType.HASHTAG: "#报修",
        MessageEntityType.URL: "https://example.com/a",
    }


async def test_offset_confirms_and_update_ids_increase(bot: Bot, script: Script) -> None:
    for text in ("一", "二", "三"):
        await script.send(WANG, WANG, text)
    first = await bot.get_updates()
    ids = [u.update_id for u in first]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [u.update_id for u in await bot.get_updates()] == ids  # not confirmed yet
    assert [u.message.text for u in await bot.get_updates(offset=ids[1])] == ["二", "三"]
    assert await bot.get_updates(offset=ids[-1] + 1) == ()
    await script.send(WANG, WANG, "四")
    await script.send(WANG, WANG, "五")
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["五"]


async def test_long_polling_returns_as_soon_as_someone_writes(bot: Bot, script: Script) -> None:
    async def write_soon() -> None:
        await asyncio.sleep(0.2)
        await script.send(GROUP, LI, "有人吗")

    started = time.monotonic()
    writer = asyncio.create_task(write_soon())
    updates = await bot.get_updates(timeout=10, read_timeout=15)
    await writer
    assert [u.message.text for u in updates] == ["有人吗"]
    assert time.monotonic() - started < 5


async def test_the_bot_never_receives_its_own_messages(bot: Bot) -> None:
    await bot.send_message(GROUP, "我是机器人")
    assert await bot.get_updates() == ()


async def test_no_updates_from_groups_without_the_bot(bot: Bot, script: Script) -> None:
    await script.send(OTHER_GROUP, WANG, "/start")
    assert await bot.get_updates() == ()


async def test_privacy_mode_lets_only_commands_mentions_and_replies_through(
    bot: Bot, script: Script
) -> None:
    await script.ok("POST", "/sandbox/api/config", json={"privacy_mode": True})
    assert not (await bot.get_me()).can_read_all_group_messages
    mine = await bot.send_message(GROUP, "请回复")
    for text in (
        "随便聊聊",
        "/help",
        "/help@linli_demo_bot",
        "/help@other_bot",
        "问 @linli_demo_bot 一下",
    ):
        await script.send(GROUP, WANG, text)
    await script.send(GROUP, LI, "好的", reply_to_message_id=mine.message_id)
    await script.send(WANG, WANG, "私聊总能收到")
    texts = [u.message.text for u in await bot.get_updates()]
    assert texts == [
        "/help",
        "/help@linli_demo_bot",
        "问 @linli_demo_bot 一下",
        "好的",
        "私聊总能收到",
    ]


async def test_edits_arrive_as_edited_message(bot: Bot, script: Script) -> None:
    message_id = await script.send(GROUP, WANG, "三号楼停电")
    await script.ok(
        "POST",
        "/sandbox/api/edit",
        json={"chat_id": GROUP, "user_id": WANG, "message_id": message_id, "text": "五号楼停电"},
    )
    first, second = await bot.get_updates()
    assert second.edited_message.text == "五号楼停电" and second.edited_message.edit_date
    assert second.edited_message.message_id == first.message.message_id


async def test_pressing_a_button_and_answering_it(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(
        GROUP,
        "停水通知",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("收到", callback_data="ack:7")]]),
    )

    async def answer_when_pressed() -> None:
        [update] = await bot.get_updates(timeout=5)
        query = update.callback_query
        assert (query.data, query.from_user.id, query.message.message_id) == (
            "ack:7",
            WANG,
            sent.message_id,
        )
        assert query.chat_instance and query.message.chat.id == GROUP
        await bot.answer_callback_query(query.id, text="已记录，谢谢", show_alert=True)
        await bot.get_updates(offset=update.update_id + 1)

    answering = asyncio.create_task(answer_when_pressed())
    pressed = await script.ok(
        "POST",
        "/sandbox/api/press",
        json={
            "chat_id": GROUP,
            "user_id": WANG,
            "message_id": sent.message_id,
            "data": "ack:7",
            "wait": 5,
        },
    )
    await answering
    assert pressed["answer"]["text"] == "已记录，谢谢" and pressed["answer"]["show_alert"] is True
    answers = (await script.ok("GET", "/sandbox/api/answers"))["answers"]
    assert [a["callback_query_id"] for a in answers] == [pressed["callback_query_id"]]


async def test_answering_an_unknown_query_is_too_old(bot: Bot) -> None:
    import pytest
    from telegram.error import BadRequest

    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("12345")


async def test_pressing_a_button_that_is_not_there_is_refused(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(
        WANG,
        "x",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
    )
    status, body = await script.call(
        "POST",
        "/sandbox/api/press",
        json={"chat_id": WANG, "user_id": WANG, "message_id": sent.message_id, "data": "b"},
    )
    assert status == 400 and "callback_data" in body["error"] and body["error_zh"]


async def test_the_bot_hears_when_it_is_added_promoted_and_removed(
    bot: Bot, script: Script
) -> None:
    members = "/sandbox/api/members"
    await script.ok(
        "POST",
        members,
        json={"chat_id": OTHER_GROUP, "user_id": BOT_ID, "action": "add", "by": WANG},
    )
    await script.ok(
        "POST", members, json={"chat_id": OTHER_GROUP, "user_id": BOT_ID, "action": "promote"}
    )
    await script.ok(
        "POST", members, json={"chat_id": OTHER_GROUP, "user_id": BOT_ID, "action": "remove"}
    )
    updates = await bot.get_updates()
    changes = [
        (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
        for u in updates
        if u.my_chat_member
    ]
    assert changes == [("left", "member"), ("member", "administrator"), ("administrator", "kicked")]
    joined = [u.message for u in updates if u.message]
    assert joined[0].new_chat_members[0].id == BOT_ID and joined[0].from_user.id == WANG


async def test_people_joining_and_leaving(bot: Bot, script: Script) -> None:
    await script.ok(
        "POST", "/sandbox/api/members", json={"chat_id": GROUP, "user_id": 1009, "action": "add"}
    )
    await script.ok(
        "POST", "/sandbox/api/members", json={"chat_id": GROUP, "user_id": LI, "action": "remove"}
    )
    messages = [u.message for u in await bot.get_updates()]
    assert messages[0].new_chat_members[0].id == 1009
    assert messages[1].left_chat_member.id == LI
    status, _ = await script.call(
        "POST", "/sandbox/api/send", json={"chat_id": GROUP, "user_id": LI, "text": "x"}
    )
    assert status == 400


async def test_chat_member_updates_only_when_asked_for(bot: Bot, script: Script) -> None:
    await bot.get_updates(allowed_updates=Update.ALL_TYPES)
    await script.ok(
        "POST",
        "/sandbox/api/members",
        json={"chat_id": GROUP, "user_id": WANG, "action": "promote"},
    )
    [update] = await bot.get_updates()
    assert update.chat_member.new_chat_member.status == "administrator"
    await bot.get_updates(offset=update.update_id + 1, allowed_updates=["message"])
    await script.ok(
        "POST", "/sandbox/api/members", json={"chat_id": GROUP, "user_id": WANG, "action": "demote"}
    )
    assert await bot.get_updates() == ()


async def test_blocking_the_bot_in_private(bot: Bot, script: Script) -> None:
    await script.ok("POST", "/sandbox/api/block", json={"user_id": WANG, "blocked": True})
    await script.send(WANG, WANG, "/start")  # writing again unblocks, as the Telegram app does
    updates = await bot.get_updates()
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked", "member"] and updates[-1].message.text == "/start"


async def test_migration_updates_in_both_chats(bot: Bot, script: Script) -> None:
    await script.ok("POST", "/sandbox/api/migrate", json={"chat_id": BASIC_GROUP})
    old, new = (u.message for u in await bot.get_updates())
    assert (old.chat.id, old.migrate_to_chat_id) == (BASIC_GROUP, new.chat.id)
    assert new.migrate_from_chat_id == BASIC_GROUP and new.chat.type == "supergroup"


async def test_duplicates_and_injected_updates(bot: Bot, script: Script) -> None:
    await script.send(WANG, WANG, "一次")
    [first] = await bot.get_updates()
    await bot.get_updates(offset=first.update_id + 1)
    await script.ok("POST", "/sandbox/api/inject", json={"repeat_update_id": first.update_id})
    raw = {
        "update_id": first.update_id - 5,
        "message": {
            "message_id": 99,
            "date": 0,
            "chat": {"id": WANG, "type": "private"},
            "text": "旧的",
        },
    }
    await script.ok("POST", "/sandbox/api/inject", json={"update": raw})
    again, old = await bot.get_updates(offset=first.update_id + 1)
    assert again.update_id == first.update_id and again.message.text == "一次"
    assert old.message.text == "旧的"
    status, body = await script.call("POST", "/sandbox/api/inject", json={"repeat_update_id": 1})
    assert status == 400


async def test_webhook_delivery_with_the_secret(
    sandbox: SandboxServer, bot: Bot, script: Script
) -> None:
    received: list[tuple[str, dict]] = []
    failures = [2]  # the first two deliveries fail, then the sandbox retries

    async def hook(request: web.Request) -> web.Response:
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=500)
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret_-x")
        import pytest
        from telegram.error import Conflict

        with pytest.raises(Conflict, match="(?i)webhook is active"):
            await bot.get_updates()
        await script.send(WANG, WANG, "通过 webhook")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
        [(secret, update)] = received
        assert secret == "s3cret_-x" and update["message"]["text"] == "通过 webhook"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()


async def test_an_admin_deletes_a_message_and_the_bot_can_no_longer_edit_it(
    bot: Bot, script: Script
) -> None:
    from telegram.error import BadRequest

    from tests.sandbox.conftest import EMMA

    sent = await bot.send_message(GROUP, "接龙名单")
    refused, body = await script.call(
        "POST",
        "/sandbox/api/delete",
        json={"chat_id": GROUP, "user_id": WANG, "message_id": sent.message_id},
    )
    assert refused == 400 and "admin" in body["error"]  # not hers, and she is no admin
    await script.ok(
        "POST",
        "/sandbox/api/delete",
        json={"chat_id": GROUP, "user_id": EMMA, "message_id": sent.message_id},
    )
    try:
        await bot.edit_message_text("接龙名单 1. 王", chat_id=GROUP, message_id=sent.message_id)
        raise AssertionError("editing a deleted message must fail")
    except BadRequest as exc:
        assert "not found" in str(exc).lower()
    assert await bot.get_updates() == ()  # Telegram tells bots nothing of a deletion
