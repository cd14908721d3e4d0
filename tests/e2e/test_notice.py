"""Committee notices through the sandbox: writing, scheduling, fan-out, 收到, reminders, the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP
from bot.settings import Settings
from storage.models import NoticeAck, NoticeOccurrence
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, running
from tests.e2e.test_repair import EMMA, LI, WANG, ZHANG, last_bot_message, outbox_idle, press

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock (09:00 Mon 30 Nov)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """Shanghai wall-clock time as aware UTC."""
    from zoneinfo import ZoneInfo

    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(
        UTC
    )


async def notices_in(linli: Linli, chat: int) -> list[dict[str, Any]]:
    await outbox_idle(linli)
    return [
        m
        for m in await linli.sandbox.transcript(chat)
        if (m.get("text") or "").startswith(("📢 通知", "🚨 紧急通知", "📢 Notice"))
    ]


async def said(linli: Linli, chat: int, fragment: str) -> dict[str, Any]:
    """The bot's latest message in the chat containing `fragment`, waiting for listeners' sends."""
    for _ in range(100):
        await outbox_idle(linli)
        found = [
            m for m in await linli.sandbox.transcript(chat) if fragment in (m.get("text") or "")
        ]
        if found:
            return found[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no message with {fragment!r} in chat {chat}")


async def tick(linli: Linli, clock: FakeClock, moment: datetime) -> None:
    clock.set(moment)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)


async def schedule(linli: Linli, line: str, chat: int = STAFF_GROUP) -> dict[str, Any]:
    """Staff write the one-line form and confirm the preview; returns the confirmed card."""
    [card] = await linli.say(chat, ZHANG, line)
    assert "通知预览" in card["text"], card["text"]
    await press(linli, chat, ZHANG, card, "确认发布")
    return await last_bot_message(linli, chat)


async def test_a_one_line_notice_is_previewed_then_posted_at_its_time(
    linli: Linli, clock: FakeClock
) -> None:
    [card] = await linli.say(
        STAFF_GROUP, ZHANG, "/notice 明天8点 停水通知：3号楼明天9:00-12:00停水"
    )
    text = card["text"]
    assert "通知预览" in text and "停水通知：3号楼明天9:00-12:00停水" in text
    assert "2026年12月1日（周二）08:00" in text and "Asia/Shanghai" in text, text
    assert "全部居民群" in text
    assert not await notices_in(linli, RESIDENTS_GROUP)  # a draft posts nothing
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    confirmed = await last_bot_message(linli, STAFF_GROUP)
    assert "已安排" in confirmed["text"] and any(
        "暂停" in label for label, _ in buttons_of(confirmed)
    )

    await tick(linli, clock, local(12, 1, 7, 59))
    assert not await notices_in(linli, RESIDENTS_GROUP)
    await tick(linli, clock, local(12, 1, 8, 0))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "停水通知：3号楼明天9:00-12:00停水" in posted["text"]
    assert "已收到 0 / 6" in posted["text"]
    await tick(linli, clock, local(12, 1, 8, 1))
    assert len(await notices_in(linli, RESIDENTS_GROUP)) == 1  # never twice


async def test_acknowledgements_count_once_each_and_bursts_are_caught_up(
    linli: Linli, clock: FakeClock
) -> None:
    await schedule(linli, "/notice 明天8点 周末消杀，请关好门窗")
    await tick(linli, clock, local(12, 1, 8, 0))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    first = await press(linli, RESIDENTS_GROUP, WANG, posted, "收到")
    assert "已确认收到" in first["answer"]["text"]
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "已收到 1 / 6" in posted["text"]
    again = await press(linli, RESIDENTS_GROUP, WANG, posted, "收到")
    assert "已经确认过" in again["answer"]["text"]
    await press(linli, RESIDENTS_GROUP, LI, posted, "收到")  # a moment later: coalesced
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "已收到 1 / 6" in posted["text"]
    await tick(linli, clock, local(12, 1, 8, 1))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "已收到 2 / 6" in posted["text"]
    async with linli.runtime.db.uow() as uow:  # type: ignore[union-attr]
        assert await uow.session.scalar(select(func.count()).select_from(NoticeAck)) == 2


async def test_members_who_did_not_confirm_are_reminded_in_private(
    linli: Linli, clock: FakeClock
) -> None:
    await linli.say(WANG, WANG, "/start")  # Wang and Li have a private chat with the bot
    await linli.say(LI, LI, "/start")
    await schedule(linli, "/notice 明天8点 明天上午电梯检修")
    await tick(linli, clock, local(12, 1, 8, 0))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    await press(linli, RESIDENTS_GROUP, LI, posted, "收到")
    await tick(linli, clock, local(12, 1, 9, 59))
    assert "还没确认" not in (await last_bot_message(linli, WANG))["text"]
    await tick(linli, clock, local(12, 1, 10, 0))  # two hours after posting
    reminder = await last_bot_message(linli, WANG)
    assert "还没确认" in reminder["text"] and "电梯检修" in reminder["text"]
    assert "还没确认" not in (await last_bot_message(linli, LI))["text"]  # Li confirmed
    assert not [
        m for m in await linli.sandbox.transcript(EMMA) if "电梯检修" in (m.get("text") or "")
    ]
    await press(linli, WANG, WANG, reminder, "收到")
    await tick(linli, clock, local(12, 1, 10, 1))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "已收到 2 / 6" in posted["text"]
    await tick(linli, clock, local(12, 1, 12, 0))
    reminders = [
        m for m in await linli.sandbox.transcript(WANG) if "还没确认" in (m.get("text") or "")
    ]
    assert len(reminders) == 1  # once

    [listing] = await linli.say(ZHANG, ZHANG, "/notices")
    assert listing["text"].startswith("📋 通知")
    assert "最近 7 天" in listing["text"] and "电梯检修" in listing["text"]
    await press(linli, ZHANG, ZHANG, listing, "谁已确认")
    who = await last_bot_message(linli, ZHANG)
    assert "2 / 6" in who["text"] and "王 阿姨" in who["text"].split("未确认")[0]
    assert "Emma Chen" in who["text"].split("未确认")[1]
    await press(linli, ZHANG, ZHANG, who, "CSV")
    export = await last_bot_message(linli, ZHANG)
    assert export["document"]["file_name"].endswith(".csv")
    content = (await linli.sandbox.download(export["document"]["file_id"])).decode("utf-8-sig")
    assert "王 阿姨" in content and "Emma Chen" in content


async def test_quiet_hours_hold_a_notice_until_morning_unless_it_is_urgent(
    linli: Linli, clock: FakeClock
) -> None:
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/notice 今晚11点 明早停电提醒")
    assert "免打扰" in card["text"] and "07:00" in card["text"]
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/notice 今晚11点 燃气泄漏，请立即开窗")
    await press(linli, STAFF_GROUP, ZHANG, card, "紧急")
    card = await last_bot_message(linli, STAFF_GROUP)
    assert "免打扰" not in card["text"]
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")

    await tick(linli, clock, local(11, 30, 23, 0))
    [urgent] = await notices_in(linli, RESIDENTS_GROUP)
    assert urgent["text"].startswith("🚨 紧急通知") and "燃气泄漏" in urgent["text"]
    await tick(linli, clock, local(12, 1, 6, 59))
    assert len(await notices_in(linli, RESIDENTS_GROUP)) == 1
    await tick(linli, clock, local(12, 1, 7, 0))
    later = await notices_in(linli, RESIDENTS_GROUP)
    assert len(later) == 2 and "明早停电提醒" in later[1]["text"]


async def test_a_weekly_notice_posts_every_week_once(linli: Linli, clock: FakeClock) -> None:
    card = await schedule(linli, "/notice 每周一 9:00 本周垃圾分类宣传：厨余垃圾请沥干")
    assert "每周一" in card["text"] and "12月7日" in card["text"]
    await tick(linli, clock, local(12, 7, 9, 0))
    await tick(linli, clock, local(12, 7, 9, 30))
    await tick(linli, clock, local(12, 14, 9, 0))
    posted = await notices_in(linli, RESIDENTS_GROUP)
    assert len(posted) == 2 and all("垃圾分类宣传" in m["text"] for m in posted)

    [listing] = await linli.say(STAFF_GROUP, ZHANG, "/notices")
    assert "每周一" in listing["text"] and "12月21日" in listing["text"]
    await press(linli, STAFF_GROUP, ZHANG, listing, "✏️")
    card = await last_bot_message(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, card, "暂停")
    paused = await last_bot_message(linli, STAFF_GROUP)
    assert "已暂停" in paused["text"]
    await tick(linli, clock, local(12, 21, 9, 0))
    assert len(await notices_in(linli, RESIDENTS_GROUP)) == 2


async def test_a_restart_across_the_due_time_posts_once_or_reports_it_missed(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    settings = make_settings()
    async with running(settings, clock=clock, tick_seconds=None) as linli:
        await schedule(linli, "/notice 今天10点 下午两点开业主大会")
        await schedule(linli, "/notice 今天11点 今天下午社区义诊")
    clock.set(local(11, 30, 16, 30))  # down from 09:00 to 16:30: 10:00 is 6.5 h late, 11:00 5.5 h
    async with running(settings, clock=clock, tick_seconds=None) as linli:
        runtime = linli.runtime
        await linli.runtime.ticker.tick()
        await outbox_idle(linli)
        posted = await notices_in(linli, RESIDENTS_GROUP)
        assert [("社区义诊" in m["text"]) for m in posted] == [True]
        await linli.runtime.ticker.tick()
        await outbox_idle(linli)
        assert len(await notices_in(linli, RESIDENTS_GROUP)) == 1
        missed = await last_bot_message(linli, STAFF_GROUP)
        assert "错过" in missed["text"] and "业主大会" in missed["text"]
        async with runtime.db.uow() as uow:  # type: ignore[union-attr]
            statuses = sorted((await uow.session.scalars(select(NoticeOccurrence.status))).all())
        assert statuses == ["missed", "posted"]


async def test_broadcast_posts_at_once_and_markup_stays_literal(linli: Linli) -> None:
    [card] = await linli.say(ZHANG, ZHANG, "/broadcast <b>注意</b> & 今天下午3点停电 *别慌*")
    assert "&lt;b&gt;" not in card["text"] and "<b>注意</b>" in card["text"]
    await press(linli, ZHANG, ZHANG, card, "确认发布")
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "<b>注意</b> & 今天下午3点停电 *别慌*" in posted["text"]


async def test_bad_times_long_texts_and_residents_get_clear_answers(linli: Linli) -> None:
    [answer] = await linli.say(RESIDENTS_GROUP, WANG, "/notice 明天8点 我也想发通知")
    assert "只有工作人员" in answer["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/notice 8点 早上好")
    assert "已经过去" in answer["text"] and "明天8点" in answer["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/notice 明天3点 开会")
    assert "下午" in answer["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/notice 找个时间 开会")
    assert "例如" in answer["text"]
    [answer] = await linli.say(STAFF_GROUP, ZHANG, "/notice 明天8点 " + "很长的通知" * 800)
    assert "太长" in answer["text"] and "3500" in answer["text"]
    [card] = await linli.say(RESIDENTS_GROUP, ZHANG, "/notice 明天8点 停水")
    stranger = await press(linli, RESIDENTS_GROUP, WANG, card, "确认发布")
    assert "只有工作人员" in stranger["answer"]["text"]
    assert not await notices_in(linli, RESIDENTS_GROUP)


async def test_the_dialog_in_private_asks_text_then_time(linli: Linli, clock: FakeClock) -> None:
    [ask_text] = await linli.say(ZHANG, ZHANG, "/notice")
    assert "通知的内容" in ask_text["text"]
    [ask_when] = await linli.say(ZHANG, ZHANG, "本周六上午9点在小广场举办义诊")
    assert "什么时候" in ask_when["text"]
    [bad] = await linli.say(ZHANG, ZHANG, "改天吧")
    assert "例如" in bad["text"]
    replies = await linli.say(ZHANG, ZHANG, "tomorrow 9am")
    card = replies[-1]
    assert "通知预览" in card["text"] and "2026年12月1日（周二）09:00" in card["text"]
    await press(linli, ZHANG, ZHANG, card, "确认发布")
    await tick(linli, clock, local(12, 1, 9, 0))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert "小广场举办义诊" in posted["text"]


async def test_a_group_that_refuses_is_reported_to_staff(linli: Linli) -> None:
    await linli.sandbox.post(
        "/sandbox/api/faults",
        {
            "method": "sendMessage",
            "chat_id": RESIDENTS_GROUP,
            "error": 403,
            "description": "Forbidden: bot was kicked from the supergroup chat",
            "times": 1,
        },
    )
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast 明天上午停水")
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    await outbox_idle(linli)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    report = await last_bot_message(linli, STAFF_GROUP)
    assert "未能发到" in report["text"] and "业主群" in report["text"], report["text"]


async def test_a_pinned_notice_is_pinned_where_the_bot_may_and_reported_where_not(
    linli: Linli,
) -> None:
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast 本周六消防演练")
    await press(linli, STAFF_GROUP, ZHANG, card, "置顶")
    card = await last_bot_message(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    assert not posted.get("pinned")  # Linli is no admin in the residents' group
    report = await said(linli, STAFF_GROUP, "无法置顶")
    assert "管理员" in report["text"]

    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": RESIDENTS_GROUP, "user_id": DEMO_BOT["id"], "action": "promote", "by": ZHANG},
    )
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast 演练改到周日")
    await press(linli, STAFF_GROUP, ZHANG, card, "置顶")
    card = await last_bot_message(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    await said(linli, RESIDENTS_GROUP, "演练改到周日")
    for _ in range(100):
        posted = await notices_in(linli, RESIDENTS_GROUP)
        if posted[-1].get("pinned"):
            break
        await asyncio.sleep(0.02)
    assert len(posted) == 2 and posted[1].get("pinned") is True


async def test_staff_choose_the_groups_and_edit_a_scheduled_notice(
    linli: Linli, clock: FakeClock
) -> None:
    [card] = await linli.say(ZHANG, ZHANG, "/notice 明天10点 工作人员周会")
    await press(linli, ZHANG, ZHANG, card, "发到哪些群")
    menu = await last_bot_message(linli, ZHANG)
    assert "发到哪里" in menu["text"]
    await press(linli, ZHANG, ZHANG, menu, "工作群 · Sunny Garden staff")  # that one group
    menu = await last_bot_message(linli, ZHANG)
    await press(linli, ZHANG, ZHANG, menu, "完成")
    card = await last_bot_message(linli, ZHANG)
    assert "选定的群（1 个）" in card["text"] and "工作群" in card["text"]
    await press(linli, ZHANG, ZHANG, card, "确认发布")

    [listing] = await linli.say(ZHANG, ZHANG, "/notices")
    await press(linli, ZHANG, ZHANG, listing, "✏️")
    card = await last_bot_message(linli, ZHANG)
    await press(linli, ZHANG, ZHANG, card, "改内容")
    ask = await last_bot_message(linli, ZHANG)
    assert "通知的内容" in ask["text"]
    replies = await linli.say(ZHANG, ZHANG, "工作人员周会改到三楼会议室")
    assert "已修改" in replies[0]["text"] and "三楼会议室" in replies[-1]["text"]
    await press(linli, ZHANG, ZHANG, replies[-1], "改时间")
    await linli.say(ZHANG, ZHANG, "明天下午2点")
    card = await last_bot_message(linli, ZHANG)
    assert "2026年12月1日（周二）14:00" in card["text"]

    await tick(linli, clock, local(12, 1, 10, 0))
    assert not await notices_in(linli, STAFF_GROUP)
    await tick(linli, clock, local(12, 1, 14, 0))
    [posted] = await notices_in(linli, STAFF_GROUP)
    assert "三楼会议室" in posted["text"]
    assert not await notices_in(linli, RESIDENTS_GROUP)


async def test_a_group_that_removed_the_bot_is_skipped_and_reported(linli: Linli) -> None:
    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": RESIDENTS_GROUP, "user_id": DEMO_BOT["id"], "action": "remove", "by": ZHANG},
    )
    await linli.settle()
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast 明天停水")
    assert "发不到" in card["text"] and "业主群" in card["text"]
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    report = await last_bot_message(linli, STAFF_GROUP)
    assert "已跳过" in report["text"] and "业主群" in report["text"], report["text"]
    assert "0 / 1" in report["text"]
