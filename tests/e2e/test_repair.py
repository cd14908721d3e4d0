"""Repair requests through the sandbox: the dialog, the staff card, follow-up, reminders."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP, demo_world
from bot.runtime import Runtime
from bot.settings import Settings
from storage.models import Role, TicketStatus
from tests.e2e.harness import (
    Linli,
    SandboxClient,
    buttons_of,
    running,
    text_of,
    tiny_png,
    with_probe,
)

WANG, LI, EMMA, ZHANG, LIU = 1001, 1002, 1003, 2001, 3001


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def linli(make_settings: Callable[..., Settings], clock: FakeClock) -> AsyncIterator[Linli]:
    """Linli on a fake clock: periodic work runs only when a test ticks."""
    async with running(make_settings(), clock=clock, tick_seconds=None) as linli:
        yield linli


async def last_bot_message(linli: Linli, chat_id: int) -> dict[str, Any]:
    await linli.settle()
    messages = [
        m for m in await linli.sandbox.transcript(chat_id) if m["from"]["id"] == DEMO_BOT["id"]
    ]
    return messages[-1]


async def press(
    linli: Linli, chat_id: int, user_id: int, message: dict[str, Any], label: str
) -> dict[str, Any]:
    """Press the button whose label contains `label`; returns the press result."""
    matches = [data for text, data in buttons_of(message) if label in text]
    assert matches, f"no button {label!r} in {buttons_of(message)}"
    result = await linli.sandbox.press(chat_id, user_id, message["message_id"], matches[0])
    await linli.settle()
    return result


async def outbox_idle(linli: Linli) -> None:
    """Wait until the outbox has nothing due or in flight (what a change queued is out)."""
    from sqlalchemy import func, or_, select

    from storage.models import OutboxMessage, OutboxStatus

    runtime = linli.runtime
    assert runtime.db is not None and runtime.outbox is not None
    for _ in range(500):
        runtime.outbox.wake()
        async with runtime.db.uow() as uow:
            busy = await uow.session.scalar(
                select(func.count()).where(
                    or_(
                        OutboxMessage.status == OutboxStatus.SENDING,
                        (OutboxMessage.status == OutboxStatus.PENDING)
                        & (OutboxMessage.not_before <= runtime.clock.now()),
                    )
                )
            )
        if not busy:
            await linli.settle()
            return
        await asyncio.sleep(0.01)  # the dispatcher runs on the same loop; let it work
    raise AssertionError("the outbox did not drain")


async def fill_in_repair(
    linli: Linli, user: int = WANG, *, phone: str = "138 1234 5678"
) -> dict[str, Any]:
    """Go through the whole dialog for a lift repair at the remembered flat; returns the summary."""
    [category] = await linli.say(user, user, "/repair")
    assert "选择类别" in category["text"]
    await press(linli, user, user, category, "电梯")
    where = await last_bot_message(linli, user)
    assert "在哪里" in where["text"]
    await press(linli, user, user, where, "上次的地址")
    [_ask] = await linli.say(user, user, "电梯按钮失灵，按了没反应")
    await linli.sandbox.post(
        "/sandbox/api/send", {"chat_id": user, "user_id": user, "photo": tiny_png()}
    )
    photos = await last_bot_message(linli, user)
    assert "已收到 1 张" in photos["text"]
    await press(linli, user, user, photos, "完成")
    urgency = await last_bot_message(linli, user)
    await press(linli, user, user, urgency, "一般")
    [bad] = await linli.say(user, user, "12345")
    assert "不像电话号码" in bad["text"]
    await linli.say(user, user, phone)
    when = await last_bot_message(linli, user)
    await press(linli, user, user, when, "明天上午")
    return await last_bot_message(linli, user)


async def submit(linli: Linli, user: int = WANG) -> str:
    summary = await fill_in_repair(linli, user)
    await press(linli, user, user, summary, "提交")
    await outbox_idle(linli)  # the confirmation comes through the outbox, with its buttons
    done = await last_bot_message(linli, user)
    assert "已提交" in done["text"]
    return done["text"]


async def staff_card(linli: Linli) -> dict[str, Any]:
    cards = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if (m.get("text") or "").startswith("🛠")
    ]
    return cards[-1]


async def test_repair_in_the_group_goes_private_in_one_line(linli: Linli) -> None:
    [answer] = await linli.say(RESIDENTS_GROUP, WANG, "/repair")
    assert "私聊" in answer["text"] and "302" not in answer["text"]
    [(_label, url)] = buttons_of(answer)
    assert url.startswith(f"https://t.me/{DEMO_BOT['username']}?start=repair-")


async def test_a_whole_repair_from_the_dialog_to_the_rating(linli: Linli) -> None:
    summary = await fill_in_repair(linli)
    for expected in (
        "电梯",
        "3号楼1单元302室",
        "电梯按钮失灵",
        "照片：1",
        "13812345678",
        "明天上午",
    ):
        assert expected in summary["text"], expected
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    submitted = await last_bot_message(linli, WANG)
    assert "BX-2026-0001" in submitted["text"] and "已提交" in submitted["text"]

    card = await staff_card(linli)
    assert (
        "BX-2026-0001" in card["text"] and "13812345678" in card["text"] and "302" in card["text"]
    )
    resident_chat = await linli.sandbox.transcript(RESIDENTS_GROUP)
    assert not any("13812345678" in (m.get("text") or "") for m in resident_chat)

    accepted = await press(linli, STAFF_GROUP, ZHANG, card, "受理")
    assert "已受理" in accepted["answer"]["text"]
    await outbox_idle(linli)
    update = await last_bot_message(linli, WANG)
    assert "BX-2026-0001" in update["text"] and "已受理" in update["text"]

    card = await staff_card(linli)
    assert "状态：已受理" in card["text"]
    await press(linli, STAFF_GROUP, ZHANG, card, "开始")
    card = await staff_card(linli)
    await press(linli, STAFF_GROUP, ZHANG, card, "完成")
    prompt = await last_bot_message(linli, STAFF_GROUP)
    assert "#T" in prompt["text"]
    [confirm] = await linli.say(
        STAFF_GROUP, ZHANG, "换了新的按钮面板", reply_to_message_id=prompt["message_id"]
    )
    assert "已完成" in confirm["text"]
    await outbox_idle(linli)

    done = await last_bot_message(linli, WANG)
    assert "已完成" in done["text"] and "换了新的按钮面板" in done["text"]
    await press(linli, WANG, WANG, done, "⭐⭐⭐⭐⭐")
    ask_comment = await last_bot_message(linli, WANG)
    assert "评价" in ask_comment["text"] or "补充" in ask_comment["text"]
    [thanks] = await linli.say(WANG, WANG, "师傅很快，谢谢")
    assert "谢谢你的评价" in thanks["text"]

    async with linli.runtime.db.uow() as uow:  # type: ignore[union-attr]
        from sqlalchemy import select

        from storage.models import Ticket, TicketEvent

        ticket = await uow.session.scalar(select(Ticket))
        events = (
            await uow.session.scalars(select(TicketEvent.action).order_by(TicketEvent.id))
        ).all()
    assert (
        ticket.status is TicketStatus.DONE
        and ticket.rating == 5
        and ticket.rating_comment == "师傅很快，谢谢"
    )
    assert list(events) == ["submit", "accept", "start", "done", "rate", "comment"]


async def test_two_staff_pressing_accept_at_once_get_one_result(linli: Linli) -> None:
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        [community] = await uow.communities.all()
        await uow.memberships.grant(LIU, community.id, Role.STAFF, ZHANG)
        await uow.commit()
    await linli.sandbox.post(
        "/sandbox/api/members", {"chat_id": STAFF_GROUP, "user_id": LIU, "action": "add"}
    )
    await submit(linli)
    card = await staff_card(linli)
    data = dict((label, d) for label, d in buttons_of(card))
    accept = next(d for label, d in data.items() if "受理" in label)
    first, second = await asyncio.gather(
        linli.sandbox.press(STAFF_GROUP, ZHANG, card["message_id"], accept),
        linli.sandbox.press(STAFF_GROUP, LIU, card["message_id"], accept),
    )
    answers = sorted([first["answer"]["text"], second["answer"]["text"]])
    assert sum("已受理" in a and "已由" not in a for a in answers) == 1
    assert sum("已由" in a for a in answers) == 1
    from sqlalchemy import func, select

    from storage.models import TicketEvent

    async with linli.runtime.db.uow() as uow:
        accepts = await uow.session.scalar(
            select(func.count()).where(TicketEvent.action == "accept")
        )
    assert accepts == 1


async def test_a_stranger_cannot_press_the_staff_buttons(linli: Linli) -> None:
    await submit(linli)
    card = await staff_card(linli)
    await linli.sandbox.post(
        "/sandbox/api/members", {"chat_id": STAFF_GROUP, "user_id": LI, "action": "add"}
    )
    refused = await press(linli, STAFF_GROUP, LI, card, "受理")
    assert "只有工作人员" in refused["answer"]["text"]
    forged = await linli.sandbox.call(
        "POST",
        "/sandbox/api/press",
        json={
            "chat_id": STAFF_GROUP,
            "user_id": ZHANG,
            "message_id": card["message_id"],
            "data": "tk:999:accept:0",
        },
    )
    assert forged[0] == 400  # the sandbox only presses buttons that exist


async def test_the_dialog_survives_a_restart(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    settings = make_settings()
    first = Runtime(settings, world=with_probe(demo_world()), clock=clock, tick_seconds=None)
    await first.start()
    client = SandboxClient(first.sandbox.base_url)
    linli = Linli(first, client)
    [category] = await linli.say(WANG, WANG, "/repair")
    await press(linli, WANG, WANG, category, "门窗")
    await client.close()
    await first.stop()

    second = Runtime(settings, world=with_probe(demo_world()), clock=clock, tick_seconds=None)
    await second.start()
    client = SandboxClient(second.sandbox.base_url)
    linli = Linli(second, client)
    try:
        again = await linli.say(WANG, WANG, "/repair")
        assert "先完成" in again[0]["text"]
        where = again[-1]
        assert "在哪里" in where["text"]  # the step after the category chosen before the restart
        await press(linli, WANG, WANG, where, "上次的地址")
        ask = await last_bot_message(linli, WANG)
        assert "什么问题" in ask["text"]
    finally:
        await client.close()
        await second.stop()


async def test_wrong_input_gets_a_gentle_prompt_and_cancel_works(linli: Linli) -> None:
    await linli.say(WANG, WANG, "/repair")
    [nudge, *_] = await linli.say(WANG, WANG, "电梯坏了")
    assert "请用下面的按钮选择" in nudge["text"]
    [cancelled] = await linli.say(WANG, WANG, "/cancel")
    assert "已取消" in cancelled["text"]
    [nothing] = await linli.say(WANG, WANG, "/cancel")
    assert "没有" in nothing["text"]


async def test_a_document_where_a_photo_is_expected_is_refused_politely(linli: Linli) -> None:
    [category] = await linli.say(WANG, WANG, "/repair")
    await press(linli, WANG, WANG, category, "电梯")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "上次的地址")
    await linli.say(WANG, WANG, "电梯门关不上")
    await linli.sandbox.post(
        "/sandbox/api/send",
        {
            "chat_id": WANG,
            "user_id": WANG,
            "document": base64.b64encode(b"%PDF-1.4").decode(),
            "file_name": "a.pdf",
            "mime_type": "application/pdf",
        },
    )
    reply = await last_bot_message(linli, WANG)
    assert "照片" in reply["text"]


async def test_reminders_and_escalation_follow_a_fake_clock(linli: Linli, clock: FakeClock) -> None:
    await submit(linli)

    async def staff_lines(needle: str) -> list[dict[str, Any]]:
        return [
            m
            for m in await linli.sandbox.transcript(STAFF_GROUP)
            if needle in (m.get("text") or "")
        ]

    clock.advance(minutes=29)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert await staff_lines("尚未受理") == []
    [digest] = await staff_lines("今早未完成的报修：1 张")  # 09:29 in Shanghai: the morning digest
    assert "BX-2026-0001" in digest["text"] and "302" not in digest["text"]
    clock.advance(minutes=2)
    await linli.runtime.ticker.tick()
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert len(await staff_lines("尚未受理")) == 1
    assert len(await staff_lines("今早未完成的报修")) == 1  # once a day
    clock.advance(hours=48)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    escalated = [
        m for m in await linli.sandbox.transcript(ZHANG) if "超过48小时" in (m.get("text") or "")
    ]
    assert len(escalated) == 1


async def test_the_resident_urges_once_per_half_hour_and_can_cancel(
    linli: Linli, clock: FakeClock
) -> None:
    await submit(linli)
    update = await last_bot_message(linli, WANG)
    first = await press(linli, WANG, WANG, update, "催单")
    assert "已提醒" in first["answer"]["text"]
    again = await press(linli, WANG, WANG, update, "催单")
    assert "分钟后" in again["answer"]["text"]
    await outbox_idle(linli)
    urged = [
        m for m in await linli.sandbox.transcript(STAFF_GROUP) if "催单" in (m.get("text") or "")
    ]
    assert len(urged) == 1
    await press(linli, WANG, WANG, update, "取消报修")
    cancelled = await last_bot_message(linli, WANG)
    assert "已取消" in cancelled["text"]


async def test_a_neighbour_with_the_same_problem_says_me_too(linli: Linli) -> None:
    await submit(linli)
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        user = await uow.users.get(LI)
        assert user is not None
        user.building, user.unit, user.room = "3", "2", "501"
        await uow.commit()
    summary = await fill_in_repair(linli, LI)
    assert "BX-2026-0001" in summary["text"]
    await press(linli, LI, LI, summary, "我也是")
    followed = await last_bot_message(linli, LI)
    assert "BX-2026-0001" in followed["text"]
    card = await staff_card(linli)
    await press(linli, STAFF_GROUP, ZHANG, card, "受理")
    await outbox_idle(linli)
    told = await last_bot_message(linli, LI)
    assert "已受理" in told["text"]


async def test_a_low_rating_reopens_the_ticket(linli: Linli) -> None:
    await submit(linli)
    card = await staff_card(linli)
    await press(linli, STAFF_GROUP, ZHANG, card, "开始")
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "完成")
    prompt = await last_bot_message(linli, STAFF_GROUP)
    await linli.say(STAFF_GROUP, ZHANG, "-", reply_to_message_id=prompt["message_id"])
    await outbox_idle(linli)
    done = await last_bot_message(linli, WANG)
    await press(linli, WANG, WANG, done, "⭐")  # the first button: one star
    await outbox_idle(linli)
    reopened = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if "重新打开" in (m.get("text") or "")
    ]
    assert len(reopened) == 1
    text = text_of(await linli.say(STAFF_GROUP, ZHANG, "/ticket BX-2026-0001"))
    history = text.split("记录")[-1]
    assert "已受理" in text and "重新打开" in history and "已评价" in history
    assert "reopen" not in text and "→" not in history  # people's words, not the codes


async def test_ticket_commands_and_bad_numbers(linli: Linli) -> None:
    await submit(linli)
    text = text_of(await linli.say(STAFF_GROUP, ZHANG, "/tickets"))
    assert "BX-2026-0001" in text
    assert "没有编号" in text_of(await linli.say(STAFF_GROUP, ZHANG, "/ticket BX-2026-9999"))
    # A number too big for the database is just a ticket that does not exist (the fuzz found it).
    assert "没有编号" in text_of(
        await linli.say(STAFF_GROUP, ZHANG, "/ticket 99999999999999999999999")
    )
    assert "没有编号" in text_of(
        await linli.say(STAFF_GROUP, ZHANG, "/ticket '; DROP TABLE tickets;--")
    )
    mine = text_of(await linli.say(WANG, WANG, "/tickets"))
    assert "BX-2026-0001" in mine
    assert "没有编号" in text_of(await linli.say(LI, LI, "/ticket BX-2026-0001"))
