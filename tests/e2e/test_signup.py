"""Sign-up lists (接龙) through the sandbox: creating, joining, +N, the waitlist, replies, the deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of
from tests.e2e.test_repair import EMMA, LI, LIU, WANG, ZHANG, press

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock (Mon 30 Nov, 09:00)


async def the_list(linli: Linli) -> dict[str, Any]:
    await linli.settle()
    lists = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if (m.get("text") or "").startswith("📋 接龙")
    ]
    return lists[-1]


async def test_a_list_fills_up_keeps_a_waitlist_and_promotes_on_cancel(linli: Linli) -> None:
    await linli.say(
        RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 社区义诊 限2人 截止周五18点 每户3人"
    )
    listing = await the_list(linli)
    text = listing["text"]
    assert "社区义诊" in text and "12月5日（周六）09:00" in text and "12月4日（周五）18:00" in text
    assert "0 / 2" in text and any("+2 位家人" in label for label, _ in buttons_of(listing))
    joined = await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    assert "已报名" in joined["answer"]["text"]
    again = await press(linli, RESIDENTS_GROUP, WANG, await the_list(linli), "报名")
    assert "已经在名单" in again["answer"]["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, LI, "+1", reply_to_message_id=listing["message_id"])
    assert "已报名" in answer["text"]
    listing = await the_list(linli)
    assert (
        "1. 王 阿姨" in listing["text"]
        and "2. 李 先生" in listing["text"]
        and "2 / 2" in listing["text"]
    )
    waiting = await press(linli, RESIDENTS_GROUP, LIU, listing, "报名")
    assert "候补" in waiting["answer"]["text"]
    listing = await the_list(linli)
    assert "候补" in listing["text"] and "小刘" in listing["text"].split("候补")[1]
    await press(linli, RESIDENTS_GROUP, WANG, listing, "取消")
    listing = await the_list(linli)
    names = listing["text"].split("候补")[0]
    assert "小刘" in names and "王 阿姨" not in names
    from tests.e2e.test_repair import outbox_idle

    await outbox_idle(linli)  # the news goes through the outbox
    promoted = [m for m in await linli.sandbox.transcript(LIU) if "空出" in (m.get("text") or "")]
    assert promoted, "小刘 is told of the promotion"


async def test_the_last_place_goes_to_exactly_one(linli: Linli) -> None:
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 插花课 限1人 不候补")
    listing = await the_list(linli)
    data = [d for label, d in buttons_of(listing) if "报名" in label][0]
    results = await asyncio.gather(
        *(
            linli.sandbox.press(RESIDENTS_GROUP, who, listing["message_id"], data)
            for who in (WANG, LI, EMMA, LIU)
        )
    )
    answers = [r["answer"]["text"] for r in results]
    assert sum("已报名" in a or "You are on the list" in a for a in answers) == 1
    assert sum("已满" in a or "full" in a for a in answers) == 3
    assert "1 / 1" in (await the_list(linli))["text"]


async def test_bad_lists_and_residents_get_clear_answers(linli: Linli, clock: FakeClock) -> None:
    [answer] = await linli.say(RESIDENTS_GROUP, WANG, "/signup 周六上午9点 我也想组织")
    assert "只有工作人员" in answer["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 义诊 限0人")
    assert "1 到 5000" in answer["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 义诊 截止下周一9点")
    assert "截止时间必须在活动开始之前" in answer["text"]
    [answer] = await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 改天 义诊")
    assert "例如" in answer["text"]
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 明天上午9点 <b>广场舞</b> 截止今天18点")
    listing = await the_list(linli)
    assert "<b>广场舞</b>" in listing["text"]  # shown literally
    clock.advance(hours=10)  # 19:00: past the deadline
    late = await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    assert "已截止" in late["answer"]["text"]


async def test_reminders_go_the_day_before_and_an_hour_before_once(
    linli: Linli, clock: FakeClock
) -> None:
    from tests.e2e.test_care import local
    from tests.e2e.test_repair import outbox_idle

    await linli.say(WANG, WANG, "/start")  # Wang has a private chat; Li has not written to the bot
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 社区义诊 每户2人")
    listing = await the_list(linli)
    await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    await press(linli, RESIDENTS_GROUP, LI, await the_list(linli), "报名")

    async def reminders(user: int) -> list[str]:
        await outbox_idle(linli)
        return [
            m["text"]
            for m in await linli.sandbox.transcript(user)
            if "社区义诊" in (m.get("text") or "")
        ]

    for moment in (
        local(12, 4, 8, 59),
        local(12, 4, 9, 0),
        local(12, 4, 12, 0),
        local(12, 5, 7, 59),
        local(12, 5, 8, 0),
        local(12, 5, 8, 30),
    ):
        clock.set(moment)
        await linli.runtime.ticker.tick()
        if moment == local(12, 4, 8, 59):
            assert await reminders(WANG) == []
    texts = await reminders(WANG)
    assert len(texts) == 2 and "明天" in texts[0] and "一小时后" in texts[1]
    assert await reminders(LI) == []


async def test_staff_export_the_list_and_mark_attendance(linli: Linli) -> None:
    from bot.demo import STAFF_GROUP
    from tests.e2e.test_repair import last_bot_message

    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 社区义诊 每户2人")
    await press(linli, RESIDENTS_GROUP, WANG, await the_list(linli), "报名")
    await press(linli, RESIDENTS_GROUP, LI, await the_list(linli), "位家人")
    [refused] = await linli.say(RESIDENTS_GROUP, WANG, "/signups")
    assert "只有工作人员" in refused["text"]
    [overview] = await linli.say(STAFF_GROUP, ZHANG, "/signups")
    assert "社区义诊" in overview["text"] and "3" in overview["text"]
    await press(linli, STAFF_GROUP, ZHANG, overview, "CSV")
    export = await last_bot_message(linli, STAFF_GROUP)
    content = (await linli.sandbox.download(export["document"]["file_id"])).decode("utf-8-sig")
    assert "王 阿姨" in content and "李 先生" in content and ",2," in content
    await press(linli, STAFF_GROUP, ZHANG, overview, "签到")
    card = await last_bot_message(linli, STAFF_GROUP)
    assert "已签到 0 / 2" in card["text"]
    await press(linli, STAFF_GROUP, ZHANG, card, "王 阿姨")
    card = await last_bot_message(linli, STAFF_GROUP)
    assert any(label.startswith("✅ 王 阿姨") for label, _ in buttons_of(card))


async def the_poll(linli: Linli) -> dict[str, Any]:
    await linli.settle()
    polls = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if (m.get("text") or "").startswith("📊")
    ]
    return polls[-1]


async def test_a_poll_per_household_counts_live_and_closes_at_its_deadline(
    linli: Linli, clock: FakeClock
) -> None:
    from tests.e2e.test_care import local

    [bad] = await linli.say(RESIDENTS_GROUP, ZHANG, "/poll 哪天开会？| 周六")
    assert "2 到 10" in bad["text"]
    await linli.say(
        RESIDENTS_GROUP, ZHANG, "/poll 哪天开业主大会？| 周六 | 周日 截止今天18点 每户一票"
    )
    poll = await the_poll(linli)
    assert "哪天开业主大会" in poll["text"] and "每户一票" in poll["text"]
    first = await press(linli, RESIDENTS_GROUP, WANG, poll, "周六")  # 王阿姨: 3-1-302
    assert "已计票" in first["answer"]["text"]
    again = await press(linli, RESIDENTS_GROUP, WANG, await the_poll(linli), "周六")
    assert "已经投过" in again["answer"]["text"]
    await press(linli, RESIDENTS_GROUP, LI, await the_poll(linli), "周日")  # 李先生: 5-2-1101
    changed = await press(linli, RESIDENTS_GROUP, LI, await the_poll(linli), "周六")
    assert "已改" in changed["answer"]["text"]
    poll = await the_poll(linli)
    assert "周六 — 2 票" in poll["text"] and "周日 — 0 票" in poll["text"]
    clock.set(local(11, 30, 18, 0))
    await linli.runtime.ticker.tick()
    poll = await the_poll(linli)
    assert "已结束" in poll["text"] and not buttons_of(poll)


async def test_family_sign_up_an_elder_by_replying_with_her_name(linli: Linli) -> None:
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 老年人体检 限3人")
    listing = await the_list(linli)
    [answer] = await linli.say(
        RESIDENTS_GROUP, WANG, "接龙 李奶奶", reply_to_message_id=listing["message_id"]
    )
    assert "为 李奶奶" in answer["text"] and "已报名" in answer["text"]
    [again] = await linli.say(
        RESIDENTS_GROUP, WANG, "+1 李奶奶", reply_to_message_id=listing["message_id"]
    )
    assert "已经在名单" in again["text"]
    await linli.say(
        RESIDENTS_GROUP, WANG, "+1", reply_to_message_id=listing["message_id"]
    )  # herself too
    names = (await the_list(linli))["text"]
    assert "1. 李奶奶" in names and "2. 王 阿姨" in names
    [off] = await linli.say(
        RESIDENTS_GROUP, WANG, "取消 李奶奶", reply_to_message_id=listing["message_id"]
    )
    assert "已取消" in off["text"]
    names = (await the_list(linli))["text"]
    assert "李奶奶" not in names and "1. 王 阿姨" in names
    await linli.sandbox.send(
        RESIDENTS_GROUP, LI, "好的，收到", reply_to_message_id=listing["message_id"]
    )
    await linli.settle()  # an ordinary reply to the list is not a sign-up
    assert "李 先生" not in (await the_list(linli))["text"]


async def test_attending_a_volunteering_activity_earns_time_bank_points_once(linli: Linli) -> None:
    from bot.demo import STAFF_GROUP
    from tests.e2e.test_repair import last_bot_message

    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 清洁家园 志愿2小时")
    await press(linli, RESIDENTS_GROUP, LIU, await the_list(linli), "报名")
    [overview] = await linli.say(STAFF_GROUP, ZHANG, "/signups")
    await press(linli, STAFF_GROUP, ZHANG, overview, "签到")
    card = await last_bot_message(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, card, "小刘")
    [points] = await linli.say(LIU, LIU, "/points")
    assert "余额：2 分" in points["text"], points["text"]
    card = await last_bot_message(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, card, "小刘")  # marked by mistake: taken back
    await press(linli, STAFF_GROUP, ZHANG, await last_bot_message(linli, STAFF_GROUP), "小刘")
    [points] = await linli.say(LIU, LIU, "/points")
    assert "余额：2 分" in points["text"]  # once, however often it is marked


async def test_staff_may_let_residents_start_lists(linli: Linli) -> None:
    from bot.demo import STAFF_GROUP

    [refused] = await linli.say(RESIDENTS_GROUP, WANG, "/signup 周六下午3点 包饺子")
    assert "只有工作人员" in refused["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/signups residents on")
    assert "居民也可以发起接龙" in answer["text"]
    await linli.say(RESIDENTS_GROUP, WANG, "/signup 周六下午3点 包饺子 限10人")
    assert "包饺子" in (await the_list(linli))["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/signups residents off")
    assert "只有工作人员" in answer["text"]
    [refused] = await linli.say(RESIDENTS_GROUP, WANG, "/signup 周日下午3点 包粽子")
    assert "只有工作人员" in refused["text"]


async def test_room_and_phone_are_asked_in_private_and_only_the_building_is_shown(
    linli: Linli,
) -> None:
    from bot.demo import STAFF_GROUP
    from tests.e2e.test_repair import last_bot_message

    await linli.say(WANG, WANG, "/start")  # 王阿姨 has a private chat; 李先生 has not
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 上门理发 限10人 登记房号 登记电话")
    listing = await the_list(linli)
    assert "上门理发" in listing["text"] and "私聊" in listing["text"]
    assert "登记" not in listing["text"].splitlines()[0]  # the options are not in the title
    joined = await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    assert "已报名" in joined["answer"]["text"] and "私聊" in joined["answer"]["text"]
    question = await last_bot_message(linli, WANG)
    assert "上门理发" in question["text"] and "房号" in question["text"]
    await press(linli, WANG, WANG, question, "3-1-302")  # remembered from before: one tap
    [phone] = await linli.say(WANG, WANG, "12345")
    assert "不像电话号码" in phone["text"]
    [done] = await linli.say(WANG, WANG, "138 1234 5678")
    assert "已登记" in done["text"]

    # 李先生 has no private chat: the answer carries the link that opens one and asks there.
    joined = await press(linli, RESIDENTS_GROUP, LI, await the_list(linli), "报名")
    url = joined["answer"]["url"]
    assert url and "start=sud-" in url
    [question] = await linli.say(LI, LI, "/start " + url.split("start=")[1])
    assert "房号" in question["text"]
    again = await linli.say(LI, LI, "五楼")
    assert "3-1-302" in again[0]["text"] and "房号" in again[-1]["text"]
    await linli.say(LI, LI, "5号楼2单元1101")
    [done] = await linli.say(LI, LI, "13900001111")
    assert "已登记" in done["text"]

    names = (await the_list(linli))["text"]
    assert "王 阿姨 3号楼" in names and "李 先生 5号楼" in names
    for private in ("302", "1101", "1381234", "13900001111"):
        assert private not in names  # the room and phone never in the residents' group
    [overview] = await linli.say(STAFF_GROUP, ZHANG, "/signups")
    await press(linli, STAFF_GROUP, ZHANG, overview, "CSV")
    export = await last_bot_message(linli, STAFF_GROUP)
    content = (await linli.sandbox.download(export["document"]["file_id"])).decode("utf-8-sig")
    assert "3-1-302" in content and "13812345678" in content and "5-2-1101" in content


async def test_the_organiser_posts_thanks_with_a_photo_once_afterwards(
    linli: Linli, clock: FakeClock
) -> None:
    from tests.e2e.test_repair import last_bot_message, outbox_idle, tiny_png

    await linli.say(ZHANG, ZHANG, "/start")
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 明天上午9点 清洁家园 限5人")
    listing = await the_list(linli)
    await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    await press(linli, RESIDENTS_GROUP, LI, await the_list(linli), "报名")
    [overview] = await linli.say(ZHANG, ZHANG, "/signups")
    assert not any("感谢" in label for label, _ in buttons_of(overview))  # not before it starts
    clock.advance(days=1, hours=3)  # the morning after: it has taken place
    [overview] = await linli.say(ZHANG, ZHANG, "/signups")
    activity_id = [d for label, d in buttons_of(overview) if "感谢" in label][0].split(":")[-1]
    [forged] = await linli.say(WANG, WANG, f"/start sut-{activity_id}")  # a resident's try
    assert "只有组织者或工作人员" in forged["text"]
    await press(linli, ZHANG, ZHANG, overview, "感谢")
    prompt = await last_bot_message(linli, ZHANG)
    assert "清洁家园" in prompt["text"] and "照片" in prompt["text"]
    await linli.sandbox.post(
        "/sandbox/api/send",
        {"chat_id": ZHANG, "user_id": ZHANG, "photo": tiny_png(), "caption": "谢谢<b>大家</b>！"},
    )
    preview = await last_bot_message(linli, ZHANG)
    assert "谢谢<b>大家</b>！" in preview["text"] and "照片" in preview["text"]
    await press(linli, ZHANG, ZHANG, preview, "发布")
    await outbox_idle(linli)
    posted = await last_bot_message(linli, RESIDENTS_GROUP)
    assert posted.get("photo") and "清洁家园" in posted["caption"]
    assert "谢谢<b>大家</b>！" in posted["caption"] and "2 位邻居参加" in posted["caption"]
    assert posted["reply_to_message"]["message_id"] == listing["message_id"]
    [overview] = await linli.say(ZHANG, ZHANG, "/signups")
    await press(linli, ZHANG, ZHANG, overview, "感谢")
    await linli.say(ZHANG, ZHANG, "再次感谢")
    await press(linli, ZHANG, ZHANG, await last_bot_message(linli, ZHANG), "发布")
    assert "已经发过" in (await last_bot_message(linli, ZHANG))["text"]
    await outbox_idle(linli)
    assert (await last_bot_message(linli, RESIDENTS_GROUP))["message_id"] == posted["message_id"]


async def test_a_list_deleted_by_an_admin_comes_back_from_the_database(linli: Linli) -> None:
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 社区义诊 限5人")
    listing = await the_list(linli)
    await press(linli, RESIDENTS_GROUP, WANG, listing, "报名")
    await linli.sandbox.post(
        "/sandbox/api/delete",
        {"chat_id": RESIDENTS_GROUP, "user_id": ZHANG, "message_id": listing["message_id"]},
    )
    # Someone asks where the list went: "/signup" alone posts it again, names intact.
    replies = await linli.say(RESIDENTS_GROUP, LI, "/signup")
    again = await the_list(linli)
    assert again["message_id"] != listing["message_id"] and not again.get("deleted")
    assert "1. 王 阿姨" in again["text"] and "1 / 5" in again["text"]
    pointer = [r for r in replies if "接龙在这里" in (r.get("text") or "")]
    assert pointer and pointer[0]["reply_to_message"]["message_id"] == again["message_id"]
    await press(linli, RESIDENTS_GROUP, LI, again, "报名")  # and the new one works
    assert "2. 李 先生" in (await the_list(linli))["text"]
    # While the list is there, "/signup" only points to it: no second copy.
    await linli.say(RESIDENTS_GROUP, LI, "/signup")
    assert (await the_list(linli))["message_id"] == again["message_id"]


async def test_names_with_markup_are_shown_literally(linli: Linli) -> None:
    await linli.say(RESIDENTS_GROUP, ZHANG, "/signup 周六上午9点 茶话会")
    listing = await the_list(linli)
    [answer] = await linli.say(
        RESIDENTS_GROUP, WANG, "接龙 <i>李奶奶</i>&amp;", reply_to_message_id=listing["message_id"]
    )
    assert "<i>李奶奶</i>&amp;" in answer["text"]
    names = await the_list(linli)
    assert "1. <i>李奶奶</i>&amp;" in names["text"]
    assert all(e["type"] != "italic" for e in names.get("entities", []))
