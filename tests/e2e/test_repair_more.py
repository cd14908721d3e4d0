"""More of the repair feature through the sandbox: the FAQ's 🔧 button, photos and voice for
the staff, Back and Edit, every staff action, timers on the fake clock, bad input, privacy."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP
from storage.models import Dialog, Ticket, TicketStatus
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, text_of
from tests.e2e.test_repair import (
    LI,
    WANG,
    ZHANG,
    fill_in_repair,
    last_bot_message,
    outbox_idle,
    press,
    staff_card,
    submit,
    tiny_png,
)

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock

VOICE = base64.b64encode(b"OggS\x00\x02" + bytes(32)).decode()


async def bot_messages_after(linli: Linli, chat_id: int, after: int) -> list[dict[str, Any]]:
    await linli.settle()
    return [
        m
        for m in await linli.sandbox.transcript(chat_id, after=after)
        if m["from"]["id"] == DEMO_BOT["id"]
    ]


async def choose(linli: Linli, user: int, label: str) -> dict[str, Any]:
    """Press `label` on the bot's last message in the private chat; returns the next one."""
    await press(linli, user, user, await last_bot_message(linli, user), label)
    return await last_bot_message(linli, user)


async def from_description(
    linli: Linli, user: int, description: str, *, urgent: bool = False
) -> dict[str, Any]:
    """Answer the steps from "what is wrong" to the summary (no photo, a new phone)."""
    await linli.say(user, user, description)
    await choose(linli, user, "跳过")
    await choose(linli, user, "紧急" if urgent else "一般")
    await linli.say(user, user, "13812345678")
    return await choose(linli, user, "明天上午")


async def send_voice(linli: Linli, user: int, duration: int = 4) -> None:
    await linli.sandbox.post(
        "/sandbox/api/send",
        {"chat_id": user, "user_id": user, "voice": VOICE, "duration": duration},
    )
    await linli.settle()


async def inject_press(
    linli: Linli, user: int, message: dict[str, Any], data: str
) -> dict[str, Any] | None:
    """A callback query no button carries (forged or stale data); returns the bot's answer."""
    query_id = str(abs(hash((user, message["message_id"], data))) % 10**12)
    sender = {"id": user, "is_bot": False, "first_name": str(user)}
    await linli.sandbox.post(
        "/sandbox/api/inject",
        {
            "update": {
                "callback_query": {
                    "id": query_id,
                    "from": sender,
                    "message": message,
                    "chat_instance": "1",
                    "data": data,
                }
            }
        },
    )
    await linli.settle()
    answers = (await linli.sandbox.call("GET", "/sandbox/api/answers"))[1]["answers"]
    return next((a for a in answers if a["callback_query_id"] == query_id), None)


async def staff_reply(linli: Linli, text: str, **extra: Any) -> list[dict[str, Any]]:
    """Reply to the bot's last Done / Reject / Duplicate / Assign prompt in the staff group."""
    await linli.settle()
    prompts = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if m["from"]["id"] == DEMO_BOT["id"] and "#T" in (m.get("text") or "")
    ]
    prompt = prompts[-1]
    return await linli.say(STAFF_GROUP, ZHANG, text, reply_to_message_id=prompt["message_id"])


async def the_ticket(linli: Linli, number: str = "BX-2026-0001") -> Ticket:
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        ticket = await uow.session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    return ticket


# --- the FAQ's 🔧 button ------------------------------------------------------------------------


async def test_an_faq_answer_about_repairs_offers_the_repair_dialog(linli: Linli) -> None:
    [answer] = await linli.say(WANG, WANG, "水龙头坏了找谁修")
    assert "维修" in answer["text"]
    assert any("🔧" in label for label, _ in buttons_of(answer))
    await press(linli, WANG, WANG, answer, "👍")
    [voted] = [
        m for m in await linli.sandbox.transcript(WANG) if m["message_id"] == answer["message_id"]
    ]
    assert any("🔧" in label for label, _ in buttons_of(voted))  # the vote kept it
    await press(linli, WANG, WANG, voted, "🔧")
    category = await last_bot_message(linli, WANG)
    assert "选择类别" in category["text"]

    [in_group] = await linli.say(RESIDENTS_GROUP, LI, "/ask 水龙头坏了找谁修")
    [(_label, url)] = [(t, d) for t, d in buttons_of(in_group) if "🔧" in t]
    assert url.startswith(f"https://t.me/{DEMO_BOT['username']}?start=repair-")
    [fees] = await linli.say(RESIDENTS_GROUP, LI, "/ask 物业费在哪交")
    assert not any("🔧" in label for label, _ in buttons_of(fees))
    forged = await inject_press(linli, LI, fees, "rp:1")  # the private button, in the group
    assert forged is not None and "失效" in forged["text"]
    assert await bot_messages_after(linli, RESIDENTS_GROUP, fees["message_id"]) == []


# --- photos and voice ---------------------------------------------------------------------------


async def test_photos_and_voice_reach_the_staff_and_the_done_photo_the_resident(
    linli: Linli,
) -> None:
    [_category] = await linli.say(WANG, WANG, "/repair")
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    await send_voice(linli, WANG)
    await linli.sandbox.post(
        "/sandbox/api/send", {"chat_id": WANG, "user_id": WANG, "photo": tiny_png()}
    )
    await choose(linli, WANG, "完成")
    await choose(linli, WANG, "一般")
    await linli.say(WANG, WANG, "13812345678")
    summary = await choose(linli, WANG, "明天上午")
    assert "（语音）" in summary["text"] and "照片：1" in summary["text"]
    await choose(linli, WANG, "提交")
    await outbox_idle(linli)

    card = await staff_card(linli)
    after = await bot_messages_after(linli, STAFF_GROUP, card["message_id"])
    assert [("photo" in m, "voice" in m, m.get("caption")) for m in after] == [
        (True, False, "BX-2026-0001"),
        (False, True, "BX-2026-0001"),
    ]
    resident = await linli.sandbox.transcript(WANG)
    sent_voice = next(m for m in resident if "voice" in m)
    assert after[1]["voice"]["file_id"] == sent_voice["voice"]["file_id"]

    await press(linli, STAFF_GROUP, ZHANG, card, "开始")
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "完成")
    prompt = await last_bot_message(linli, STAFF_GROUP)
    await outbox_idle(linli)
    last_seen = (await last_bot_message(linli, WANG))["message_id"]
    await linli.sandbox.post(
        "/sandbox/api/send",
        {
            "chat_id": STAFF_GROUP,
            "user_id": ZHANG,
            "photo": tiny_png(),
            "caption": "换好了",
            "reply_to_message_id": prompt["message_id"],
        },
    )
    await linli.settle()
    await outbox_idle(linli)
    told = await bot_messages_after(linli, WANG, last_seen)
    assert "已完成" in told[0]["text"] and "换好了" in told[0]["text"]
    assert "photo" in told[1] and told[1]["caption"] == "BX-2026-0001"


# --- the dialog ---------------------------------------------------------------------------------


async def test_back_at_several_steps(linli: Linli) -> None:
    await linli.say(WANG, WANG, "/repair")
    where = await choose(linli, WANG, "门窗")
    assert "在哪里" in where["text"]
    flat = await choose(linli, WANG, "其他住址")
    assert "请写楼号" in flat["text"]
    where = await choose(linli, WANG, "返回")
    assert "在哪里" in where["text"]
    ask = await choose(linli, WANG, "上次的地址")
    assert "什么问题" in ask["text"]
    assert "在哪里" in (await choose(linli, WANG, "返回"))["text"]
    category = await choose(linli, WANG, "返回")
    assert "选择类别" in category["text"]
    assert not any("返回" in label for label, _ in buttons_of(category))  # the first step
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    await linli.say(WANG, WANG, "电梯门关不上")
    urgency = await choose(linli, WANG, "跳过")
    assert "紧急" in urgency["text"]
    photos = await choose(linli, WANG, "返回")
    assert "照片" in photos["text"]
    await choose(linli, WANG, "跳过")
    phone = await choose(linli, WANG, "一般")
    assert "电话" in phone["text"]
    assert "紧急" in (await choose(linli, WANG, "返回"))["text"]
    await choose(linli, WANG, "紧急")
    await linli.say(WANG, WANG, "13812345678")
    summary = await choose(linli, WANG, "明天上午")
    assert "电梯" in summary["text"] and "紧急：是" in summary["text"]


async def test_edit_the_phone_from_the_summary(linli: Linli) -> None:
    summary = await fill_in_repair(linli)
    assert "13812345678" in summary["text"]
    assert "要修改哪一项" in (await choose(linli, WANG, "修改"))["text"]
    await choose(linli, WANG, "电话")
    [again] = await linli.say(WANG, WANG, "139 0000 1111")
    assert any("提交" in label for label, _ in buttons_of(again))  # the summary again
    assert "13900001111" in again["text"] and "13812345678" not in again["text"]
    assert "电梯按钮失灵" in again["text"]  # the rest is kept
    await press(linli, WANG, WANG, again, "提交")
    await outbox_idle(linli)
    assert (await the_ticket(linli)).phone == "13900001111"


async def test_a_public_spot_and_a_typed_address(linli: Linli) -> None:
    await linli.say(WANG, WANG, "/repair")
    spot = await choose(linli, WANG, "公共区域")
    assert "具体在哪里" in spot["text"]
    await linli.say(WANG, WANG, "5号楼东侧路灯")
    summary = await from_description(linli, WANG, "路灯不亮")
    assert "5号楼东侧路灯" in summary["text"] and "公共区域" in summary["text"]
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    ticket = await the_ticket(linli)
    assert ticket.public_spot == "5号楼东侧路灯" and ticket.building is None

    await linli.say(LI, LI, "/repair")
    await choose(linli, LI, "门窗")
    [ask] = await linli.say(LI, LI, "5号楼2单元1101")  # typed where a button is offered
    assert "什么问题" in ask["text"]
    summary = await from_description(linli, LI, "窗户关不严")
    assert "5号楼2单元1101室" in summary["text"]


async def test_gas_shows_the_emergency_instructions_first(linli: Linli) -> None:
    [category] = await linli.say(WANG, WANG, "/repair")
    await press(linli, WANG, WANG, category, "燃气")
    emergency, where = await bot_messages_after(linli, WANG, category["message_id"])
    assert "96777" in emergency["text"] and "在哪里" in where["text"]


async def test_two_dialogs_at_once_nothing_is_lost(linli: Linli) -> None:
    await submit(linli)
    update = await last_bot_message(linli, WANG)
    await linli.say(WANG, WANG, "/repair")
    where = await choose(linli, WANG, "门窗")
    await press(linli, WANG, WANG, update, "补充信息")
    told, prompt = await bot_messages_after(linli, WANG, where["message_id"])
    assert "先完成" in told["text"] and "在哪里" in prompt["text"]
    ask = await choose(linli, WANG, "上次的地址")
    assert "什么问题" in ask["text"]
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        kinds = (await uow.session.scalars(select(Dialog.kind).order_by(Dialog.id))).all()
    assert list(kinds) == ["repair", "repair"]  # no info dialog beside the repair one


async def test_a_double_press_on_submit_makes_one_ticket(linli: Linli) -> None:
    summary = await fill_in_repair(linli)
    [data] = [d for label, d in buttons_of(summary) if "提交" in label]
    await asyncio.gather(
        linli.sandbox.press(WANG, WANG, summary["message_id"], data),
        linli.sandbox.press(WANG, WANG, summary["message_id"], data),
    )
    await linli.settle()
    await outbox_idle(linli)
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Ticket)) == 1
    replies = await bot_messages_after(linli, WANG, summary["message_id"])
    assert sum("已提交" in (m.get("text") or "") for m in replies) == 1
    cards = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if (m.get("text") or "").startswith("🛠")
    ]
    assert len(cards) == 1


async def test_a_huge_description_is_cut_and_the_card_fits(linli: Linli) -> None:
    await linli.say(WANG, WANG, "/repair")
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    summary = await from_description(linli, WANG, "漏" * 4096)
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    ticket = await the_ticket(linli)
    assert 0 < len(ticket.description) <= 2000
    card = await staff_card(linli)
    assert "BX-2026-0001" in card["text"] and len(card["text"]) <= 4096
    assert "13812345678" in card["text"]  # the phone is not cut off


async def test_a_sticker_at_a_button_step_gets_the_gentle_prompt(linli: Linli) -> None:
    [category] = await linli.say(WANG, WANG, "/repair")
    sticker = {
        "file_id": "CAACAgIAAxkBAAE",
        "file_unique_id": "AgADsticker",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
        "emoji": "👍",
    }
    private = {"id": WANG, "type": "private", "first_name": "王"}
    sender = {"id": WANG, "is_bot": False, "first_name": "王"}
    await linli.sandbox.post(
        "/sandbox/api/inject",
        {
            "update": {
                "message": {
                    "message_id": 900001,
                    "date": 1764464400,
                    "chat": private,
                    "from": sender,
                    "sticker": sticker,
                }
            }
        },
    )
    nudge, again = await bot_messages_after(linli, WANG, category["message_id"])
    assert "请用下面的按钮选择" in nudge["text"] and "选择类别" in again["text"]
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    photos = (await linli.say(WANG, WANG, "电梯门关不上"))[-1]
    await linli.sandbox.post(
        "/sandbox/api/inject",
        {
            "update": {
                "message": {
                    "message_id": 900002,
                    "date": 1764464400,
                    "chat": private,
                    "from": sender,
                    "sticker": sticker,
                }
            }
        },
    )
    [photo_nudge] = await bot_messages_after(linli, WANG, photos["message_id"])
    assert "不要发文件或贴纸" in photo_nudge["text"]


# --- staff actions -------------------------------------------------------------------------------


async def test_assign_to_a_staff_member_then_to_a_handyman(linli: Linli) -> None:
    await submit(linli)
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "派单")
    menu = await last_bot_message(linli, STAFF_GROUP)
    assert "派给" in menu["text"]
    await press(linli, STAFF_GROUP, ZHANG, menu, "张")
    await outbox_idle(linli)
    told = await last_bot_message(linli, WANG)
    assert "已派单" in told["text"] and "处理人：张 主任" in told["text"]
    card = await staff_card(linli)
    assert "已派单" in card["text"]  # the card follows the change

    await press(linli, STAFF_GROUP, ZHANG, card, "派单")
    await press(linli, STAFF_GROUP, ZHANG, await last_bot_message(linli, STAFF_GROUP), "其他人")
    [confirm] = await staff_reply(linli, "刘师傅")
    assert "已派单" in confirm["text"]
    await outbox_idle(linli)
    told = await last_bot_message(linli, WANG)
    assert "处理人：刘师傅" in told["text"]
    assert "处理人：刘师傅" in (await staff_card(linli))["text"]


async def test_reject_with_a_reason_the_resident_hears(linli: Linli) -> None:
    await submit(linli)
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "不予维修")
    [confirm] = await staff_reply(linli, "属于开发商保修范围，请联系开发商")
    assert "不予维修" in confirm["text"]
    await outbox_idle(linli)
    told = await last_bot_message(linli, WANG)
    assert "不予维修" in told["text"] and "请联系开发商" in told["text"]
    card = await staff_card(linli)
    assert "不予维修" in card["text"] and not buttons_of(card)


async def test_duplicate_of_another_ticket(linli: Linli) -> None:
    await submit(linli)
    await submit(linli, LI)  # another building: no "me too"
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "重复报修")
    [missing] = await staff_reply(linli, "BX-2026-0042")
    assert "没有编号" in missing["text"]
    [confirm] = await staff_reply(linli, "BX-2026-0001")
    assert "重复报修" in confirm["text"]
    await outbox_idle(linli)
    told = await last_bot_message(linli, LI)
    assert "BX-2026-0002" in told["text"] and "重复报修" in told["text"]
    assert "BX-2026-0001" in told["text"]
    second = await the_ticket(linli, "BX-2026-0002")
    assert second.status is TicketStatus.DUPLICATE
    assert second.duplicate_of_id == (await the_ticket(linli)).id


# --- timers ---------------------------------------------------------------------------------------


async def staff_lines(linli: Linli, needle: str) -> list[dict[str, Any]]:
    return [
        m for m in await linli.sandbox.transcript(STAFF_GROUP) if needle in (m.get("text") or "")
    ]


async def test_an_urgent_ticket_is_reminded_after_ten_minutes(
    linli: Linli, clock: FakeClock
) -> None:
    await linli.say(WANG, WANG, "/repair")
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    summary = await from_description(linli, WANG, "有人困在电梯里", urgent=True)
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    assert "紧急" in (await staff_card(linli))["text"]
    clock.advance(minutes=9)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert await staff_lines(linli, "尚未受理") == []
    clock.advance(minutes=2)
    await linli.runtime.ticker.tick()
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert len(await staff_lines(linli, "尚未受理")) == 1


async def test_an_idle_dialog_is_reminded_then_expires(linli: Linli, clock: FakeClock) -> None:
    await linli.say(WANG, WANG, "/repair")
    where = await choose(linli, WANG, "电梯")
    clock.advance(minutes=29)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    assert await bot_messages_after(linli, WANG, where["message_id"]) == []
    clock.advance(minutes=2)
    await linli.runtime.ticker.tick()
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    [reminder] = await bot_messages_after(linli, WANG, where["message_id"])
    assert "没填完" in reminder["text"]
    clock.advance(hours=24)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    [_reminder, expired] = await bot_messages_after(linli, WANG, where["message_id"])
    assert "已过期" in expired["text"]
    [nothing] = await linli.say(WANG, WANG, "/cancel")
    assert "没有" in nothing["text"]
    stale = await press(linli, WANG, WANG, where, "上次的地址")
    assert "失效" in stale["answer"]["text"]


# --- the resident's buttons ---------------------------------------------------------------------


async def test_stale_and_forged_resident_buttons(linli: Linli) -> None:
    await submit(linli)
    update = await last_bot_message(linli, WANG)
    ticket = await the_ticket(linli)
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "开始")
    late = await press(linli, WANG, WANG, update, "取消报修")
    assert "不能取消" in late["answer"]["text"]
    assert (await the_ticket(linli)).status is TicketStatus.IN_PROGRESS

    for user, data in (
        (LI, f"tk:{ticket.id}:urge"),  # someone else's ticket
        (LI, f"tk:{ticket.id}:cancel"),
        (WANG, "tk:abc:urge"),
        (WANG, f"tk:{ticket.id}:rate:9"),
        (WANG, f"tk:{ticket.id}:rate:5"),  # not done yet
        (WANG, f"tk:{ticket.id}:frobnicate"),
        (WANG, "tk:999999:info"),
        (WANG, "dlg:999999:1:_back"),
    ):
        answer = await inject_press(linli, user, update, data)
        assert answer is not None and "失效" in answer["text"], (data, answer)
    ticket = await the_ticket(linli)
    assert ticket.status is TicketStatus.IN_PROGRESS and ticket.rating is None

    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "完成")
    await staff_reply(linli, "-")
    await outbox_idle(linli)
    done = await last_bot_message(linli, WANG)
    await press(linli, WANG, WANG, done, "⭐⭐⭐⭐")
    [star] = [d for label, d in buttons_of(done) if label == "⭐⭐⭐⭐"]
    again = await inject_press(linli, WANG, done, star.replace(":4", ":1"))
    assert again is not None and "已经评价" in again["text"]
    assert (await the_ticket(linli)).rating == 4


# --- privacy ----------------------------------------------------------------------------------------


async def test_phone_and_address_never_reach_the_residents_group(linli: Linli) -> None:
    [invite] = await linli.say(RESIDENTS_GROUP, WANG, "/repair")
    [(_label, url)] = buttons_of(invite)
    await linli.sandbox.send(WANG, WANG, "/start " + url.split("start=")[1])
    await linli.settle()
    await choose(linli, WANG, "电梯")
    await choose(linli, WANG, "上次的地址")
    summary = await from_description(linli, WANG, "电梯异响")
    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    card = await staff_card(linli)
    await press(linli, STAFF_GROUP, ZHANG, card, "受理")
    await linli.say(RESIDENTS_GROUP, WANG, "/ask 电梯坏了多久修好")
    await linli.say(RESIDENTS_GROUP, WANG, "/tickets")
    await linli.say(RESIDENTS_GROUP, WANG, "/ticket BX-2026-0001")
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    group = text_of(await linli.sandbox.transcript(RESIDENTS_GROUP))
    for secret in ("13812345678", "138****5678", "1单元", "302", "3-1-302"):
        assert secret not in group, secret
    assert "13812345678" in card["text"] and "302" in card["text"]
