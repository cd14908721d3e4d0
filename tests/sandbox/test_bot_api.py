"""The real python-telegram-bot client cannot tell the sandbox from Telegram."""

from __future__ import annotations

import pytest
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ChatMemberStatus, MessageEntityType
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken

from bot.sandbox import SandboxServer
from tests.sandbox.conftest import (
    BASIC_GROUP,
    BOT_ID,
    EMMA,
    GROUP,
    LI,
    OTHER_GROUP,
    STRANGER,
    WANG,
    Script,
)


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (BOT_ID, "linli_demo_bot", True)
    assert me.can_join_groups and me.can_read_all_group_messages
    assert me.supports_inline_queries is False


async def test_html_becomes_plain_text_with_utf16_entities(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(
        WANG, "<b>你好🌞</b> <i>王阿姨</i> &lt;3 /help", parse_mode="HTML"
    )
    assert sent.text == "你好🌞 王阿姨 <3 /help"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        (MessageEntityType.BOLD, 0, 4),
        (MessageEntityType.ITALIC, 5, 3),
        (MessageEntityType.BOT_COMMAND, 12, 5),
    ]
    assert sent.from_user.id == BOT_ID and sent.chat.id == WANG
    [seen] = await script.transcript(WANG)
    assert seen["text"] == sent.text and seen["from"]["id"] == BOT_ID


async def test_markdown_v2_is_parsed_and_must_be_escaped(bot: Bot) -> None:
    sent = await bot.send_message(WANG, "*报修* 已登记 \\#12", parse_mode="MarkdownV2")
    assert sent.text == "报修 已登记 #12"
    assert sent.entities[0].type == MessageEntityType.BOLD
    with pytest.raises(BadRequest, match="(?i)can't parse entities: Character '.' is reserved"):
        await bot.send_message(WANG, "3.5 元", parse_mode="MarkdownV2")


async def test_broken_html_is_refused_like_telegram(bot: Bot) -> None:
    with pytest.raises(
        BadRequest, match='(?i)can\'t parse entities: Unsupported start tag "blink"'
    ):
        await bot.send_message(WANG, "<blink>x</blink>", parse_mode="HTML")
    with pytest.raises(BadRequest, match='(?i)Can\'t find end tag corresponding to start tag "b"'):
        await bot.send_message(WANG, "<b>没关", parse_mode="HTML")


async def test_text_must_have_1_to_4096_characters(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)Message text is empty"):
        await bot.send_message(WANG, "   ")
    with pytest.raises(BadRequest, match="(?i)Message is too long"):
        await bot.send_message(WANG, "邻" * 4097)
    assert (await bot.send_message(WANG, "邻" * 4096)).text == "邻" * 4096


async def test_inline_keyboard_is_kept_on_the_message(bot: Bot, script: Script) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("收到", callback_data="ack:1"),
                InlineKeyboardButton("网站", url="https://example.com"),
            ]
        ]
    )
    sent = await bot.send_message(GROUP, "通知：明天停水", reply_markup=markup)
    assert sent.reply_markup == markup
    [seen] = await script.transcript(GROUP)
    assert seen["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "收到",
        "callback_data": "ack:1",
    }


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("太长", callback_data="数据" * 11)]])
    with pytest.raises(BadRequest, match="(?i)Button_data_invalid"):
        await bot.send_message(WANG, "x", reply_markup=markup)


async def test_reply_keyboards_and_force_reply_are_accepted(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(
        WANG, "选一个", reply_markup=ReplyKeyboardMarkup([["是", "否"]], one_time_keyboard=True)
    )
    assert sent.reply_markup is None  # Telegram only echoes inline keyboards
    await bot.send_message(WANG, "请回复", reply_markup=ForceReply())
    first, _ = await script.transcript(WANG)
    assert first["keyboard"]["keyboard"] == [[{"text": "是"}, {"text": "否"}]]


async def test_replies_embed_the_original(bot: Bot, script: Script) -> None:
    asked = await script.send(WANG, WANG, "几点停水？")
    answer = await bot.send_message(WANG, "十点", reply_parameters=ReplyParameters(asked))
    assert answer.reply_to_message.text == "几点停水？"
    legacy = await bot.send_message(WANG, "十点半", reply_to_message_id=asked)
    assert legacy.reply_to_message.message_id == asked
    with pytest.raises(BadRequest, match="(?i)Message to be replied not found"):
        await bot.send_message(WANG, "?", reply_parameters=ReplyParameters(999))


async def test_edits(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(
        WANG,
        "第一版",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
    )
    edited = await bot.edit_message_text(
        "第二版", WANG, sent.message_id, reply_markup=sent.reply_markup
    )
    assert edited.text == "第二版" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)Message is not modified"):
        await bot.edit_message_text("第二版", WANG, sent.message_id, reply_markup=sent.reply_markup)
    bare = await bot.edit_message_reply_markup(WANG, sent.message_id, reply_markup=None)
    assert bare.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)Message to edit not found"):
        await bot.edit_message_text("x", WANG, 999)
    mine = await script.send(WANG, WANG, "我的消息")
    with pytest.raises(BadRequest, match="(?i)Message can't be edited"):
        await bot.edit_message_text("x", WANG, mine)
    [seen] = [m for m in await script.transcript(WANG) if m["message_id"] == sent.message_id]
    assert seen["text"] == "第二版" and "edit_date" in seen and "reply_markup" not in seen


async def test_delete_marks_the_message_deleted(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(GROUP, "临时")
    assert await bot.delete_message(GROUP, sent.message_id)
    [seen] = await script.transcript(GROUP)
    assert seen["deleted"] is True
    with pytest.raises(BadRequest, match="(?i)Message to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)
    theirs = await script.send(GROUP, WANG, "别删我")
    with pytest.raises(BadRequest, match="(?i)Message can't be deleted"):
        await bot.delete_message(GROUP, theirs)  # the bot is no admin there


async def test_where_the_bot_may_not_write(bot: Bot, script: Script) -> None:
    with pytest.raises(BadRequest, match="(?i)Chat not found"):
        await bot.send_message(-100999, "x")
    with pytest.raises(Forbidden, match="(?i)bot can't initiate conversation with a user"):
        await bot.send_message(STRANGER, "你好")
    with pytest.raises(Forbidden, match="(?i)bot is not a member of the supergroup chat"):
        await bot.send_message(OTHER_GROUP, "x")
    await script.ok("POST", "/sandbox/api/block", json={"user_id": LI, "blocked": True})
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(LI, "x")
    await script.ok(
        "POST",
        "/sandbox/api/members",
        json={"chat_id": GROUP, "user_id": BOT_ID, "action": "remove"},
    )
    with pytest.raises(Forbidden, match="(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "x")


async def test_a_stranger_who_writes_first_can_be_answered(bot: Bot, script: Script) -> None:
    await script.send(STRANGER, STRANGER, "/start")
    assert (await bot.send_message(STRANGER, "欢迎")).text == "欢迎"


async def test_a_migrated_group_raises_chat_migrated(bot: Bot, script: Script) -> None:
    body = await script.ok("POST", "/sandbox/api/migrate", json={"chat_id": BASIC_GROUP})
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(BASIC_GROUP, "x")
    assert caught.value.new_chat_id == body["migrate_to_chat_id"] == -1004000000001
    assert (await bot.send_message(caught.value.new_chat_id, "新群")).chat.type == "supergroup"


async def test_a_wrong_token_is_unauthorized(sandbox: SandboxServer) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=sandbox.bot_api_url):
            pass  # initialising calls getMe, which is refused


async def test_unknown_methods_and_missing_parameters(
    sandbox: SandboxServer, script: Script
) -> None:
    status, body = await script.call("POST", f"/bot{sandbox.token}/sendTelepathy", json={})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await script.call("POST", f"/bot{sandbox.token}/sendMessage", data={"text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await script.call("GET", f"/bot{sandbox.token}/GETME")
    assert status == 200 and body["result"]["id"] == BOT_ID
    status, body = await script.call(
        "POST", f"/bot{sandbox.token}/sendMessage", data={"chat_id": "abc", "text": "x"}
    )
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_chat_information(bot: Bot) -> None:
    chat = await bot.get_chat(GROUP)
    assert (chat.title, chat.type) == ("阳光花园 业主群", "supergroup")
    private = await bot.get_chat(WANG)
    assert (private.first_name, private.username) == ("王", "wang_ayi")
    admins = await bot.get_chat_administrators(GROUP)
    assert [a.user.id for a in admins] == [EMMA]
    assert admins[0].status == ChatMemberStatus.ADMINISTRATOR and admins[0].can_delete_messages
    assert (await bot.get_chat_member(GROUP, WANG)).status == ChatMemberStatus.MEMBER
    assert (await bot.get_chat_member(GROUP, STRANGER)).status == ChatMemberStatus.LEFT
    assert (await bot.get_chat_member(GROUP, BOT_ID)).status == ChatMemberStatus.MEMBER
    assert await bot.get_chat_member_count(GROUP) == 4


async def test_commands_are_stored_per_scope_and_language(bot: Bot) -> None:
    from telegram import BotCommand, BotCommandScopeAllPrivateChats

    await bot.set_my_commands([BotCommand("help", "帮助")])
    await bot.set_my_commands(
        [BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats(), language_code="en"
    )
    assert [c.description for c in await bot.get_my_commands()] == ["帮助"]
    en = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="en")
    assert [c.description for c in en] == ["Help"]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.set_my_description("邻里助手") and await bot.set_my_short_description("邻里")
    with pytest.raises(BadRequest, match="(?i)Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_pins_need_an_admin_bot_in_groups(bot: Bot, script: Script) -> None:
    sent = await bot.send_message(WANG, "置顶")
    assert await bot.pin_chat_message(WANG, sent.message_id)
    assert (await bot.get_chat(WANG)).pinned_message.message_id == sent.message_id
    assert [m.get("pinned") for m in await script.transcript(WANG)] == [True]
    assert await bot.unpin_chat_message(WANG)
    in_group = await bot.send_message(GROUP, "x")
    with pytest.raises(BadRequest, match="(?i)Not enough rights"):
        await bot.pin_chat_message(GROUP, in_group.message_id)


async def test_copy_and_forward(bot: Bot, script: Script) -> None:
    original = await script.send(WANG, WANG, "转给群里")
    copied = await bot.copy_message(GROUP, WANG, original)
    forwarded = await bot.forward_message(GROUP, WANG, original)
    assert forwarded.forward_origin.sender_user.id == WANG
    texts = [(m["message_id"], m["text"]) for m in await script.transcript(GROUP)]
    assert texts == [(copied.message_id, "转给群里"), (forwarded.message_id, "转给群里")]


async def test_chat_action_and_close_are_accepted(bot: Bot) -> None:
    assert await bot.send_chat_action(WANG, "typing")
    with pytest.raises(BadRequest, match="(?i)Wrong parameter action"):
        await bot.send_chat_action(WANG, "dancing")


async def test_a_sandbox_with_latency_holds_each_answer_back_as_a_network_would(tmp_path) -> None:
    import time

    from telegram.request import HTTPXRequest

    from bot.sandbox import World
    from tests.sandbox.conftest import TOKEN, world_dict

    server = SandboxServer(
        world=World.from_dict(world_dict()), token=TOKEN, data_dir=tmp_path / "files", latency=0.05
    )
    await server.start()
    try:
        request = HTTPXRequest(read_timeout=5, connect_timeout=2)
        async with Bot(TOKEN, base_url=server.bot_api_url, request=request) as tg:
            began = time.monotonic()
            sent = await tg.send_message(GROUP, "hello")
            assert time.monotonic() - began >= 0.05
            assert sent.text == "hello"  # held back, not changed
    finally:
        await server.stop()
