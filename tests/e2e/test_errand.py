"""Errands through the sandbox: the dialog, the card, the race to take, the life, the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP
from storage.models import Errand, ErrandStatus, Role
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, text_of
from tests.e2e.test_repair import LI, LIU, WANG, last_bot_message, outbox_idle, press

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock

ADDRESS, PHONE = "2号楼1单元101", "13812345678"
GROUPS = (RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP)


async def post_errand(linli: Linli, user: int = WANG, *, when: str = "1 小时内") -> dict[str, Any]:
    """The whole dialog, for an elder's medicine; returns the requester's confirmation."""
    [kind] = await linli.say(user, user, "/errand")
    assert "需要帮什么忙" in kind["text"]
    await press(linli, user, user, kind, "买药")
    await linli.say(user, user, "阿莫西林一盒")
    await linli.say(user, user, "社区卫生服务站")
    [ask_when] = await linli.say(user, user, ADDRESS)
    assert "什么时候" in ask_when["text"]
    if when in ("1 小时内", "今天 20:00 前", "明天上午"):
        await press(linli, user, user, ask_when, when)
    else:
        await linli.say(user, user, when)
    payment = await last_bot_message(linli, user)
    assert "怎么付" in payment["text"], payment["text"]
    await press(linli, user, user, payment, "小费")
    [bad] = await linli.say(user, user, "-5")
    assert "0 到 200" in bad["text"]
    [bad] = await linli.say(user, user, "5000元")
    assert "0 到 200" in bad["text"]
    await linli.say(user, user, "10元")
    await linli.say(user, user, PHONE)
    whom = await last_bot_message(linli, user)
    await press(linli, user, user, whom, "给老人")
    [summary] = await linli.say(user, user, "李奶奶")
    for expected in ("阿莫西林一盒", "社区卫生服务站", ADDRESS, PHONE, "李奶奶", "小费 10 元"):
        assert expected in summary["text"], expected
    await press(linli, user, user, summary, "提交")
    await outbox_idle(linli)
    done = await last_bot_message(linli, user)
    assert "已发给志愿者" in done["text"]
    return done


async def cards(linli: Linli) -> list[dict[str, Any]]:
    return [
        m
        for m in await linli.sandbox.transcript(VOLUNTEERS_GROUP)
        if (m.get("text") or "").startswith("🛵")
    ]


async def the_errand(linli: Linli) -> Errand:
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        errand = await uow.session.scalar(select(Errand).order_by(Errand.id.desc()))
    assert errand is not None
    return errand


async def assert_private_details_stay_private(linli: Linli) -> None:
    await outbox_idle(linli)
    for group in GROUPS:
        text = text_of(await linli.sandbox.transcript(group))
        assert ADDRESS not in text and PHONE not in text, group


async def test_errand_in_a_group_goes_private_in_one_line(linli: Linli) -> None:
    [answer] = await linli.say(RESIDENTS_GROUP, WANG, "/errand")
    assert "私聊" in answer["text"]
    [(_label, url)] = buttons_of(answer)
    assert url.startswith(f"https://t.me/{DEMO_BOT['username']}?start=errand-")
    [start] = await linli.say(WANG, WANG, "/start " + url.split("start=")[1])
    assert "需要帮什么忙" in start["text"]


async def test_the_whole_life_of_an_errand(linli: Linli, clock: FakeClock) -> None:
    await post_errand(linli)
    [card] = await cards(linli)
    assert "👵" in card["text"] and "阿莫西林" in card["text"] and "李奶奶" not in card["text"]
    assert any("接单" in label for label, _ in buttons_of(card))
    taken = await press(linli, VOLUNTEERS_GROUP, LIU, card, "接单")
    assert "接单成功" in taken["answer"]["text"]
    await outbox_idle(linli)
    details = await last_bot_message(linli, LIU)
    assert ADDRESS in details["text"] and PHONE in details["text"] and "李奶奶" in details["text"]
    told = await last_bot_message(linli, WANG)
    assert "接了你的跑腿" in told["text"] and "小刘" in told["text"]
    [card] = await cards(linli)
    assert "已由 小刘 接单" in card["text"] and not buttons_of(card)
    clock.advance(minutes=20)
    await press(linli, LIU, LIU, details, "已取货")
    await outbox_idle(linli)
    assert "已取货" in (await last_bot_message(linli, WANG))["text"]
    clock.advance(minutes=30)
    after_pick_up = [
        m for m in await linli.sandbox.transcript(LIU) if m["message_id"] == details["message_id"]
    ]
    await press(linli, LIU, LIU, after_pick_up[0], "已送达")
    await outbox_idle(linli)
    delivered = await last_bot_message(linli, WANG)
    assert "已送达" in delivered["text"]
    await press(linli, WANG, WANG, delivered, "⭐⭐⭐⭐⭐")
    thanks = await last_bot_message(linli, WANG)
    assert "感谢" in thanks["text"]
    await linli.say(WANG, WANG, "谢谢小刘，药收到了！")
    await outbox_idle(linli)
    taker_side = text_of(await linli.sandbox.transcript(LIU))
    assert "已确认" in taker_side and "★★★★★" in taker_side and "药收到了" in taker_side
    errand = await the_errand(linli)
    assert errand.status is ErrandStatus.CONFIRMED and errand.rating == 5

    [points] = await linli.say(LIU, LIU, "/points")
    assert "余额：1 分" in points["text"]  # 50 minutes taken → delivered: one hour
    [named] = await linli.say(LIU, LIU, "/points name on")
    assert "感谢榜" in named["text"]
    clock.set(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # 1 December, 10:00 in Shanghai
    await linli.runtime.ticker.tick()
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    boards = [
        m
        for m in await linli.sandbox.transcript(VOLUNTEERS_GROUP)
        if "感谢志愿者" in (m.get("text") or "")
    ]
    assert len(boards) == 1 and "小刘：1 单，1 分" in boards[0]["text"]
    await assert_private_details_stay_private(linli)


async def test_many_volunteers_press_take_at_once_and_one_wins(linli: Linli) -> None:
    runtime = linli.runtime
    assert runtime.db is not None
    volunteers = list(range(5001, 5007))
    for uid in [*volunteers, LI]:
        if uid != LI:
            await linli.sandbox.post(
                "/sandbox/api/users",
                {
                    "id": uid,
                    "first_name": f"志愿者{uid}",
                    "language_code": "zh-hans",
                    "started": True,
                },
            )
        await linli.sandbox.post(
            "/sandbox/api/members",
            {"chat_id": VOLUNTEERS_GROUP, "user_id": uid, "action": "add", "by": 2001},
        )
    await linli.settle()  # the bot has recorded the newcomers: no race with the upserts below
    async with runtime.db.uow() as uow:
        [community] = await uow.communities.all()
        for uid in volunteers:
            await uow.users.upsert(
                uid,
                first_name=f"志愿者{uid}",
                last_name=None,
                username=None,
                telegram_language=None,
            )
            await uow.memberships.grant(uid, community.id, Role.VOLUNTEER, 2001)
        await uow.commit()
    await post_errand(linli)
    [card] = await cards(linli)
    [data] = [d for label, d in buttons_of(card) if "接单" in label]
    pressers = [LIU, *volunteers, LI]
    results = await asyncio.gather(
        *(linli.sandbox.press(VOLUNTEERS_GROUP, uid, card["message_id"], data) for uid in pressers)
    )
    answers = [r["answer"]["text"] for r in results]
    assert sum("接单成功" in a for a in answers) == 1, answers
    assert "只有登记的志愿者" in answers[-1]
    assert all("已经接了" in a for a in answers[:-1] if "接单成功" not in a), answers
    errand = await the_errand(linli)
    winner = pressers[next(i for i, a in enumerate(answers) if "接单成功" in a)]
    assert errand.status is ErrandStatus.TAKEN and errand.taker_id == winner
    await outbox_idle(linli)
    for uid in pressers:
        got = text_of(await linli.sandbox.transcript(uid))
        assert (ADDRESS in got) == (uid == winner), uid


async def test_reposted_at_15_and_60_minutes_then_expired(linli: Linli, clock: FakeClock) -> None:
    # 09:00 in Shanghai now; the errand is wanted by 11:30.
    [kind] = await linli.say(WANG, WANG, "/errand")
    await press(linli, WANG, WANG, kind, "取快递")
    await linli.say(WANG, WANG, "一个中通快递，取件码 3-2-1107")
    await linli.say(WANG, WANG, "菜鸟驿站")
    await linli.say(WANG, WANG, ADDRESS)
    for bad, says in (
        ("明天", "看不懂"),
        ("8:00", "已经过了"),
        ("25:00", "看不懂"),
        ("5", "看不懂"),
    ):
        [refused] = await linli.say(WANG, WANG, bad)
        assert says in refused["text"] and "18:00" in refused["text"], bad
    [payment] = await linli.say(WANG, WANG, "11:30")
    await press(linli, WANG, WANG, payment, "只记时间银行")
    await linli.say(WANG, WANG, PHONE)
    whom = await last_bot_message(linli, WANG)
    summary = await press_and_last(linli, whom, "给我自己")
    assert "11-30 11:30" in summary["text"] and "时间银行" in summary["text"]
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    assert len(await cards(linli)) == 1
    for minutes, expected in ((14, 1), (2, 2), (30, 2), (15, 3), (1, 3)):
        clock.advance(minutes=minutes)
        await linli.runtime.ticker.tick()
        await outbox_idle(linli)
        assert len(await cards(linli)) == expected, minutes
    clock.set(datetime(2026, 11, 30, 3, 30, tzinfo=UTC))  # 11:30 in Shanghai
    await linli.runtime.ticker.tick()
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert (await the_errand(linli)).status is ErrandStatus.EXPIRED
    assert "已过期" in (await last_bot_message(linli, WANG))["text"]
    staff = [
        m for m in await linli.sandbox.transcript(STAFF_GROUP) if "已过期" in (m.get("text") or "")
    ]
    assert len(staff) == 1
    card = (await cards(linli))[0]
    late = await linli.sandbox.press(
        VOLUNTEERS_GROUP, LIU, card["message_id"], f"er:{(await the_errand(linli)).id}:take"
    )
    assert "已过期" in late["answer"]["text"]
    await assert_private_details_stay_private(linli)


async def press_and_last(linli: Linli, message: dict[str, Any], label: str) -> dict[str, Any]:
    await press(linli, WANG, WANG, message, label)
    return await last_bot_message(linli, WANG)


async def test_give_back_reposts_and_a_cancel_after_pick_up_tells_taker_and_staff(
    linli: Linli, clock: FakeClock
) -> None:
    await post_errand(linli)
    [card] = await cards(linli)
    await press(linli, VOLUNTEERS_GROUP, LIU, card, "接单")
    await outbox_idle(linli)
    details = await last_bot_message(linli, LIU)
    gave = await press(linli, LIU, LIU, details, "退回")
    assert "重新发布" in gave["answer"]["text"]
    await outbox_idle(linli)
    assert "重新发布" in (await last_bot_message(linli, WANG))["text"]
    fresh = (await cards(linli))[-1]
    assert len(await cards(linli)) == 2 and buttons_of(fresh)
    await press(linli, VOLUNTEERS_GROUP, LIU, fresh, "接单")
    await outbox_idle(linli)
    details = await last_bot_message(linli, LIU)
    await press(linli, LIU, LIU, details, "已取货")
    clock.advance(hours=2, minutes=5)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    staff_text = text_of(await linli.sandbox.transcript(STAFF_GROUP))
    assert "没有进展" in staff_text and "小刘" in staff_text
    mine = [
        m
        for m in await linli.sandbox.transcript(WANG)
        if any("取消跑腿" in b for b, _ in buttons_of(m))
    ]
    cancelled = await press(linli, WANG, WANG, mine[-1], "取消跑腿")
    assert "已取消" in cancelled["answer"]["text"]
    await outbox_idle(linli)
    assert "不用继续" in (await last_bot_message(linli, LIU))["text"]
    staff_text = text_of(await linli.sandbox.transcript(STAFF_GROUP))
    assert "取货后被取消" in staff_text
    picked = [
        m for m in await linli.sandbox.transcript(LIU) if m["message_id"] == details["message_id"]
    ]
    late = await press(linli, LIU, LIU, picked[0], "已送达")  # a stale button: no double state
    assert "已取消" in late["answer"]["text"]
    assert (await the_errand(linli)).status is ErrandStatus.CANCELLED
    await assert_private_details_stay_private(linli)


async def test_errands_lists_elders_first_for_volunteers_and_everything_for_staff(
    linli: Linli,
) -> None:
    await post_errand(linli)
    [listing] = await linli.say(VOLUNTEERS_GROUP, LIU, "/errands")
    assert (
        "👵" in listing["text"] and "阿莫西林" in listing["text"] and ADDRESS not in listing["text"]
    )
    [staff] = await linli.say(STAFF_GROUP, 2001, "/errands")
    assert "等待志愿者接单" in staff["text"]
    [resident] = await linli.say(LI, LI, "/errands")
    assert "没有进行中的跑腿" in resident["text"]
    [not_volunteer] = await linli.say(LI, LI, "/points")
    assert "志愿者" in not_volunteer["text"]


async def test_staff_choose_whether_cards_also_go_to_the_residents_group(linli: Linli) -> None:
    zhang = 2001
    text = text_of(await linli.say(STAFF_GROUP, zhang, "/errands residents"))
    assert "只发到志愿者群" in text
    refused = text_of(await linli.say(RESIDENTS_GROUP, LI, "/errands residents on"))
    assert "也会发到居民群" not in refused
    assert "也会发到居民群" in text_of(await linli.say(STAFF_GROUP, zhang, "/errands residents on"))
    await post_errand(linli)
    in_residents = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if (m.get("text") or "").startswith("🛵")
    ]
    assert len(in_residents) == 1 and "接单" in str(buttons_of(in_residents[0]))
    await assert_private_details_stay_private(linli)
