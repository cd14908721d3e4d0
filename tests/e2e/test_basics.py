"""A resident, a staff member and an English speaker use Linli through the sandbox."""

from __future__ import annotations

from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP
from tests.e2e.harness import Linli, buttons_of, text_of

WANG, LI, EMMA, NAINAI, ZHANG, LIU = 1001, 1002, 1003, 1004, 2001, 3001


async def test_a_resident_gets_a_chinese_welcome_in_private(linli: Linli) -> None:
    replies = await linli.say(WANG, WANG, "/start")
    assert len(replies) == 1
    text = text_of(replies)
    assert "我是邻里" in text and "/help" in text
    assert "你的身份：居民" in text


async def test_help_shows_a_resident_only_what_residents_may_use(linli: Linli) -> None:
    text = text_of(await linli.say(RESIDENTS_GROUP, WANG, "/help"))
    assert "/mydata" in text and "/language" in text
    assert "/setup" not in text and "/staff" not in text and "/volunteer" not in text
    assert "我能做什么" in text


async def test_help_shows_staff_their_commands_in_the_group(linli: Linli) -> None:
    text = text_of(await linli.say(RESIDENTS_GROUP, ZHANG, "/help"))
    assert "/setup" in text and "/volunteer" in text and "/staff" in text


async def test_an_english_speaker_is_answered_in_english(linli: Linli) -> None:
    text = text_of(await linli.say(EMMA, EMMA, "/start"))
    assert "I am Linli" in text and "Your roles: resident" in text


async def test_choosing_english_with_a_button_changes_the_language(linli: Linli) -> None:
    [menu] = await linli.say(WANG, WANG, "/language")
    assert "请选择语言" in menu["text"]
    data = dict(buttons_of(menu))["English"]
    answer = await linli.sandbox.press(WANG, WANG, menu["message_id"], data)
    assert "English" in str(answer)
    text = text_of(await linli.say(WANG, WANG, "/help"))
    assert "What I can do" in text


async def test_mydata_in_a_group_points_to_a_private_chat_without_showing_anything(
    linli: Linli,
) -> None:
    [reply] = await linli.say(RESIDENTS_GROUP, WANG, "/mydata")
    assert "302" not in reply["text"]
    assert "私聊" in reply["text"]
    url = buttons_of(reply)[0][1]
    assert url == f"https://t.me/{DEMO_BOT['username']}?start=mydata"


async def test_mydata_in_private_shows_the_address_and_roles(linli: Linli) -> None:
    text = text_of(await linli.say(WANG, WANG, "/start mydata"))
    assert "3 1 302" in text and "阳光花园" in text and "居民" in text


async def test_forgetme_deletes_after_confirmation(linli: Linli) -> None:
    [question] = await linli.say(WANG, WANG, "/forgetme")
    yes = dict(buttons_of(question))["确定删除我的信息"]
    await linli.sandbox.press(WANG, WANG, question["message_id"], yes)
    await linli.settle()  # the press is answered, then the message edited
    edited = await linli.sandbox.transcript(WANG, after=question["message_id"] - 1)
    assert "已全部删除" in edited[0]["text"]
    text = text_of(await linli.say(WANG, WANG, "/mydata"))
    assert "302" not in text and "阳光花园" not in text


async def test_a_malformed_deep_link_is_answered_politely(linli: Linli) -> None:
    text = text_of(await linli.say(LI, LI, "/start %%%<script>"))
    assert "链接无效或已过期" in text and "我是邻里" in text


async def test_an_unknown_command_in_private_gets_help_and_in_the_group_silence(
    linli: Linli,
) -> None:
    assert "/help" in text_of(await linli.say(LI, LI, "/frobnicate"))
    sent = await linli.sandbox.send(RESIDENTS_GROUP, LI, "/otherbotcommand")
    assert await linli.silent_after(RESIDENTS_GROUP, sent)
    addressed = await linli.say(RESIDENTS_GROUP, LI, f"/frobnicate@{DEMO_BOT['username']}")
    assert "不认识这个命令" in text_of(addressed)


async def test_a_resident_cannot_grant_roles(linli: Linli) -> None:
    text = text_of(await linli.say(RESIDENTS_GROUP, WANG, "/volunteer @li_xiansheng"))
    assert "只有管理员" in text


async def test_the_director_makes_a_neighbour_a_volunteer_by_replying(linli: Linli) -> None:
    target = await linli.sandbox.send(RESIDENTS_GROUP, LI, "我周末有空，可以帮忙")
    text = text_of(
        await linli.say(RESIDENTS_GROUP, ZHANG, "/volunteer", reply_to_message_id=target)
    )
    assert "李 先生现在是志愿者了" in text
    text = text_of(await linli.say(LI, LI, "/start"))
    assert "志愿者" in text


async def test_staff_group_is_registered_in_the_demo(linli: Linli) -> None:
    text = text_of(await linli.say(STAFF_GROUP, ZHANG, "/help"))
    assert "/setup" in text
