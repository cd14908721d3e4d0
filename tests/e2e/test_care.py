"""Daily check-ins through the sandbox on a fake clock: enrolment, a normal day, the ladder,
help, the all-clear, away mode, a delivery failure, and a restart in the middle of a ladder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP
from bot.settings import Settings
from storage.models import CheckInStep
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, running, text_of
from tests.e2e.test_repair import EMMA, LI, LIU, WANG, ZHANG, last_bot_message, outbox_idle, press

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock
GRANNY = 1004  # 李奶奶, who lives alone
ADDRESS, PHONE = "2号楼1单元101", "13900001111"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Shanghai wall-clock time as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(
        UTC
    )


async def at(linli: Linli, clock: FakeClock, moment: datetime) -> None:
    clock.set(moment)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)


async def texts(linli: Linli, chat: int) -> list[str]:
    await outbox_idle(linli)
    return [m.get("text") or "" for m in await linli.sandbox.transcript(chat)]


def token_in(text: str) -> str:
    return text.split("start=care-")[1].split()[0]


async def enrol(linli: Linli, clock: FakeClock) -> None:
    """Wang sets it up for 李奶奶 at 08:00; granny accepts; Liu (volunteer) and Li (grid) too."""
    clock.set(local(11, 30, 8, 0))
    [intro] = await linli.say(WANG, WANG, "/checkin")
    assert "每日问安" in intro["text"]
    await press(linli, WANG, WANG, intro, "为家人开通")
    await linli.say(WANG, WANG, "李奶奶")
    await linli.say(WANG, WANG, ADDRESS)
    [ask_time] = await linli.say(WANG, WANG, PHONE)
    await press(linli, WANG, WANG, ask_time, "09:00")
    done = await last_bot_message(linli, WANG)
    assert "李奶奶" in done["text"] and "start=care-" in done["text"]
    [consent] = await linli.say(GRANNY, GRANNY, "/start care-" + token_in(done["text"]))
    assert "09:00" in consent["text"] and "同意" in consent["text"]
    await press(linli, GRANNY, GRANNY, consent, "同意")
    welcome = await last_bot_message(linli, GRANNY)
    assert "每天 09:00" in welcome["text"]
    for contact, label in ((LIU, "邀请志愿者"), (LI, "邀请网格员")):
        card = (await linli.say(WANG, WANG, "/checkin"))[0]
        await press(linli, WANG, WANG, card, label)
        invite = await last_bot_message(linli, WANG)
        [ask] = await linli.say(contact, contact, "/start care-" + token_in(invite["text"]))
        await press(linli, contact, contact, ask, "同意")
    await outbox_idle(linli)
    news = "\n".join(await texts(linli, STAFF_GROUP))
    assert "李奶奶 同意加入每日问安" in news


async def test_a_normal_day_and_the_streak(linli: Linli, clock: FakeClock) -> None:
    await enrol(linli, clock)
    await at(linli, clock, local(11, 30, 8, 59))
    assert not [t for t in await texts(linli, GRANNY) if "今天身体怎么样" in t]
    await at(linli, clock, local(11, 30, 9, 0))
    greeting = await last_bot_message(linli, GRANNY)
    assert "今天身体怎么样" in greeting["text"]
    keyboard = greeting.get("keyboard") or greeting.get("reply_markup") or {}
    assert "我很好 👍" in str(keyboard) and "需要帮助 🆘" in str(keyboard)
    [thanks] = await linli.say(GRANNY, GRANNY, "我很好 👍")
    assert "祝您今天" in thanks["text"] or "今天愉快" in thanks["text"], thanks["text"]
    for hour in (10, 11, 13, 14):
        await at(linli, clock, local(11, 30, hour, 0))
    summaries = [t for t in await texts(linli, STAFF_GROUP) if t.startswith("📋 每日问安")]
    assert len(summaries) == 1 and "平安 1 · 等待 0 · 已升级 0" in summaries[0]
    for chat in (WANG, LIU, LI, STAFF_GROUP):
        assert not [t for t in await texts(linli, chat) if "还没有回应" in t], chat
    await at(linli, clock, local(12, 1, 9, 0))
    replies = await linli.say(GRANNY, GRANNY, "好着呢")  # any message counts
    assert len(replies) == 1, [r["text"] for r in replies]
    thanks = replies[0]
    assert "已连续报平安 2 天" in thanks["text"]
    await at(linli, clock, local(12, 2, 9, 0))
    replies = await linli.say(GRANNY, GRANNY, "挺好的。请问物业费在哪交？")  # fine, and a question
    assert "已连续报平安 3 天" in replies[0]["text"]
    assert len(replies) == 2 and "物业" in replies[1]["text"]


async def test_no_answer_climbs_the_ladder_and_a_late_answer_clears_it(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    await at(linli, clock, local(11, 30, 9, 0))
    await at(linli, clock, local(11, 30, 9, 30))
    assert "还没收到您的回复" in (await last_bot_message(linli, GRANNY))["text"]
    await at(linli, clock, local(11, 30, 9, 59))
    assert not [t for t in await texts(linli, WANG) if "还没有回应" in t]
    await at(linli, clock, local(11, 30, 10, 0))
    family = await last_bot_message(linli, WANG)
    assert "李奶奶" in family["text"] and "还没有回应" in family["text"]
    assert ADDRESS in family["text"] and PHONE in family["text"]
    assert any("我去看看" in label for label, _ in buttons_of(family))
    assert not [t for t in await texts(linli, LIU) if "还没有回应" in t]
    await at(linli, clock, local(11, 30, 11, 0))
    for contact in (LIU, LI):
        assert "还没有回应" in (await last_bot_message(linli, contact))["text"]
    assert not [t for t in await texts(linli, STAFF_GROUP) if "还没有回应" in t]
    await at(linli, clock, local(11, 30, 13, 0))
    urgent = [t for t in await texts(linli, STAFF_GROUP) if "还没有回应" in t]
    assert len(urgent) == 1 and "紧急" in urgent[0]

    [reply] = await linli.say(GRANNY, GRANNY, "刚才去买菜了，手机没带")
    assert "谢谢" in reply["text"]
    await outbox_idle(linli)
    for chat in (WANG, LIU, LI, STAFF_GROUP):
        assert "解除" in (await last_bot_message(linli, chat))["text"], chat
    await at(linli, clock, local(11, 30, 14, 0))
    assert len([t for t in await texts(linli, WANG) if "还没有回应" in t]) == 1  # once each
    residents = "\n".join(await texts(linli, RESIDENTS_GROUP))
    assert "李奶奶" not in residents and ADDRESS not in residents and PHONE not in residents


async def test_a_call_for_help_reaches_everyone_and_one_responder_closes_it(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    clock.set(local(11, 30, 15, 0))
    [answer] = await linli.say(GRANNY, GRANNY, "我摔倒了，起不来")
    assert "已通知" in answer["text"] and "120" in answer["text"]
    await outbox_idle(linli)
    alerts = {}
    for chat in (WANG, LIU, LI, STAFF_GROUP):
        alerts[chat] = await last_bot_message(linli, chat)
        assert "请求帮助" in alerts[chat]["text"] and ADDRESS in alerts[chat]["text"], chat
    going = await press(linli, WANG, WANG, alerts[WANG], "我去看看")
    assert "其他人" in going["answer"]["text"]
    await outbox_idle(linli)
    assert "正在去看望" in (await last_bot_message(linli, LIU))["text"]
    second = await press(linli, LIU, LIU, alerts[LIU], "我去看看")
    assert "已经在去" in second["answer"]["text"]
    close = await last_bot_message(linli, WANG)
    await press(linli, WANG, WANG, close, "已送医")
    await outbox_idle(linli)
    for chat in (LIU, LI, STAFF_GROUP):
        assert "已送医" in (await last_bot_message(linli, chat))["text"], chat
    late = await press(linli, LI, LI, alerts[LI], "平安")
    assert "已经处理" in late["answer"]["text"]
    [again] = await linli.say(GRANNY, GRANNY, "需要帮助 🆘")  # the button from the keyboard
    assert "已通知" in again["text"]


async def test_a_contact_who_reached_her_stops_the_ladder(linli: Linli, clock: FakeClock) -> None:
    await enrol(linli, clock)
    await at(linli, clock, local(11, 30, 9, 0))
    await at(linli, clock, local(11, 30, 10, 0))
    family = await last_bot_message(linli, WANG)
    await press(linli, WANG, WANG, family, "已联系上")
    await at(linli, clock, local(11, 30, 11, 0))
    await at(linli, clock, local(11, 30, 13, 0))
    assert not [t for t in await texts(linli, LIU) if "还没有回应" in t]
    assert not [t for t in await texts(linli, STAFF_GROUP) if "还没有回应" in t]


async def test_away_mode_skips_days_and_reminds_the_day_before(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    [card] = await linli.say(GRANNY, GRANNY, "/checkin")
    assert "李奶奶" in card["text"]
    await press(linli, GRANNY, GRANNY, card, "外出")
    choose = await last_bot_message(linli, GRANNY)
    await press(linli, GRANNY, GRANNY, choose, "3 天")  # back on 3 December
    for day, hour in ((30, 9), (1, 9), (1, 13)):
        await at(linli, clock, local(11 if day == 30 else 12, day, hour, 0))
    assert not [t for t in await texts(linli, GRANNY) if "今天身体怎么样" in t]
    assert not [t for t in await texts(linli, WANG) if "还没有回应" in t]
    await at(linli, clock, local(12, 2, 9, 0))
    assert "明天您就回来" in (await last_bot_message(linli, GRANNY))["text"]
    await at(linli, clock, local(12, 3, 9, 0))
    assert "今天身体怎么样" in (await last_bot_message(linli, GRANNY))["text"]


async def test_an_undeliverable_greeting_tells_staff_and_alerts_nobody(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    await linli.sandbox.post("/sandbox/api/block", {"user_id": GRANNY, "blocked": True})
    await at(linli, clock, local(11, 30, 9, 0))
    for _ in range(50):
        staff = [t for t in await texts(linli, STAFF_GROUP) if "无法" in t and "李奶奶" in t]
        if staff:
            break
        await asyncio.sleep(0.02)
    assert staff and "不算未回应" in staff[0]
    await at(linli, clock, local(11, 30, 13, 0))
    for chat in (WANG, LIU, STAFF_GROUP):
        assert not [t for t in await texts(linli, chat) if "还没有回应" in t], chat


async def test_a_restart_in_the_middle_of_the_ladder_alerts_the_family_once(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    settings = make_settings()
    async with running(settings, clock=clock, tick_seconds=None) as linli:
        await enrol(linli, clock)
        await at(linli, clock, local(11, 30, 9, 0))
        await at(linli, clock, local(11, 30, 9, 59))  # +59 min: reminded, family not yet
        assert not [t for t in await texts(linli, WANG) if "还没有回应" in t]
    clock.set(local(11, 30, 10, 5))  # down until +65 min
    async with running(settings, clock=clock, tick_seconds=None) as linli:
        runtime = linli.runtime
        await linli.runtime.ticker.tick()
        await outbox_idle(linli)
        await linli.runtime.ticker.tick()
        await outbox_idle(linli)
        alerts = [t for t in await texts(linli, WANG) if "还没有回应" in t]
        assert len(alerts) == 1
        assert not [t for t in await texts(linli, GRANNY) if "今天身体怎么样" in t]  # not again
        async with runtime.db.uow() as uow:  # type: ignore[union-attr]
            steps = sorted((await uow.session.scalars(select(CheckInStep.step))).all())
        assert steps == ["family", "prompt", "remind"]


async def test_staff_see_the_elders_and_residents_do_not(linli: Linli, clock: FakeClock) -> None:
    await enrol(linli, clock)
    [listing] = await linli.say(STAFF_GROUP, ZHANG, "/elders")
    assert (
        "李奶奶" in listing["text"]
        and "09:00" in listing["text"]
        and "3 位联系人" in listing["text"]
    )
    [refused] = await linli.say(EMMA, EMMA, "/elders")
    assert "李奶奶" not in refused["text"]
    [ladder] = await linli.say(STAFF_GROUP, ZHANG, "/elders ladder 20 45 90 180")
    assert "+45" in ladder["text"]
    [bad] = await linli.say(STAFF_GROUP, ZHANG, "/elders ladder 60 30 90 180")
    assert "递增" in bad["text"]
    assert "李奶奶" not in text_of(await linli.sandbox.transcript(RESIDENTS_GROUP))
