"""The residents'-group privacy check itself (tests/e2e/privacy.py) finds what it must."""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP
from tests.e2e import test_repair
from tests.e2e.harness import Linli
from tests.e2e.privacy import Leaks, _problems
from tests.e2e.test_care import enrol
from tests.e2e.test_repair import (
    LIU,
    WANG,
    ZHANG,
    last_bot_message,
    outbox_idle,
    press,
    submit,
)

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock


@pytest.mark.parametrize(
    "text",
    [
        "请联系 13812345678",
        "电话：010-12345678",
        "地址 3-1-302",
        "3号楼1单元302室的邻居",
        "5栋 1101",
        "Building 3, unit 1, room 302",
        "🆘 李奶奶 请求帮助！",
        "⚠️ 李奶奶 的每日问安还没有回应",
        "李奶奶说她头晕",
    ],
)
def test_private_details_are_found(text: str) -> None:
    assert list(_problems(text, set(), ["李奶奶"])), text


@pytest.mark.parametrize(
    "text",
    [
        "📢 通知 2026-11-29 9:00-12:00 3号楼停水",
        "报修单 BX-2026-0001 已受理",
        "📋 接龙 社区义诊 限30人 · 3号楼 2人",
        "🚨 紧急通知：燃气泄漏，请立即开窗",
        "已收到 0 / 6 · 请点下方按钮确认",
        "物业电话请私聊工作人员",
        "3号楼 2026年12月1日 9:00 停电",
        "5栋 1030点前请挪车",
    ],
)
def test_ordinary_group_messages_pass(text: str) -> None:
    assert not list(_problems(text, set(), ["李奶奶"])), text


async def test_a_bot_message_with_a_phone_in_the_residents_group_is_found(linli: Linli) -> None:
    assert linli.runtime.application is not None
    bot = linli.runtime.application.bot
    sent = await bot.send_message(RESIDENTS_GROUP, "王阿姨的电话 13812345678，3-1-302")
    leaks = Leaks()
    await leaks.scan(linli.runtime)
    found = "\n".join(leaks.found)
    assert "a phone number '13812345678'" in found and "a flat '3-1-302'" in found, found
    assert "a stored phone or address '3-1-302'" in found  # 王阿姨's own flat, from the database
    await bot.edit_message_text("（已撤回）", RESIDENTS_GROUP, sent.message_id)  # the test passes
    leaks = Leaks()
    await leaks.scan(linli.runtime)
    assert not leaks.found


async def test_commands_in_the_residents_group_show_nothing_private(
    linli: Linli, clock: FakeClock
) -> None:
    """Everything that could show a phone, a flat or an elder, asked for in the group.

    The autouse check (tests/e2e/privacy.py) reads the group at the end; here the answers must
    also have come, so the test cannot pass by the bot staying silent.
    """
    await submit(linli, WANG)  # a ticket with 3-1-302 and 13812345678
    await enrol(linli, clock)  # 李奶奶 with her address and phone, Wang as family
    asked = 0
    for user, text in (
        (WANG, "/mydata"),
        (WANG, "/tickets"),
        (WANG, "/ticket BX-2026-0001"),
        (WANG, "/checkin"),
        (WANG, "/errand"),
        (WANG, "/repair"),
        (LIU, "/errands"),
        (ZHANG, "/tickets"),
        (ZHANG, "/ticket BX-2026-0001"),
        (ZHANG, "/tickets export"),
        (ZHANG, "/elders"),
        (ZHANG, "/checkin"),
        (ZHANG, "/signups"),
        (ZHANG, "/notices"),
        (ZHANG, "/dashboard"),
        (ZHANG, "/faq gaps"),
    ):
        await linli.say(RESIDENTS_GROUP, user, text)
        asked += 1
    shown = [m for m in await linli.sandbox.transcript(RESIDENTS_GROUP) if m["from"]["is_bot"]]
    assert len(shown) >= asked - 2, "the bot did not answer in the group"


async def test_a_residents_own_tickets_asked_in_the_group_do_not_show_the_description(
    linli: Linli,
) -> None:
    """People write phones and flats into a repair's description; the group must not see it."""
    [category] = await linli.say(WANG, WANG, "/repair")
    await press(linli, WANG, WANG, category, "水电")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "上次的地址")
    await linli.say(WANG, WANG, "厨房漏水，到了楼下打13812345678，我家3-1-302")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "跳过")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "一般")
    await linli.say(WANG, WANG, "13812345678")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "明天上午")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "提交")
    await outbox_idle(linli)  # what the submit queued for WANG is out before he asks
    [listing] = await linli.say(RESIDENTS_GROUP, WANG, "/tickets")
    assert "BX-2026-0001" in listing["text"] and "漏水" not in listing["text"], listing["text"]
    [mine] = await linli.say(WANG, WANG, "/tickets")
    assert "厨房漏水，到了楼下打13812345678" in mine["text"], mine["text"]  # in private: all


async def test_an_errand_card_in_the_residents_group_shows_no_phone_typed_into_it(
    linli: Linli,
) -> None:
    """The card goes to the residents' group when staff turn that on; what and from are free text."""
    await linli.say(STAFF_GROUP, ZHANG, "/errands residents on")
    [kind] = await linli.say(WANG, WANG, "/errand")
    await press(linli, WANG, WANG, kind, "买药")
    await linli.say(WANG, WANG, "阿莫西林一盒，到了打13812345678")
    await linli.say(WANG, WANG, "社区卫生站（电话 0571-88886666）")
    [when] = await linli.say(WANG, WANG, "2号楼1单元101")
    await press(linli, WANG, WANG, when, "1 小时内")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "只记时间银行")
    await linli.say(WANG, WANG, "13812345678")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "给我自己")
    await press(linli, WANG, WANG, await last_bot_message(linli, WANG), "提交")
    await outbox_idle(linli)
    cards = await errand_cards(linli, RESIDENTS_GROUP)
    assert cards and "阿莫西林一盒，到了打138********" in cards[0]["text"], cards
    assert "社区卫生站（电话 057*-********）" in cards[0]["text"]
    volunteer = [
        m for m in await linli.sandbox.transcript(LIU) if "13812345678" in (m.get("text") or "")
    ]
    assert not volunteer  # nobody has taken it yet
    [card] = await errand_cards(linli, VOLUNTEERS_GROUP)
    await press(linli, VOLUNTEERS_GROUP, LIU, card, "接单")
    await outbox_idle(linli)
    details = await last_bot_message(linli, LIU)  # the one who takes it reads it all
    assert "阿莫西林一盒，到了打13812345678" in details["text"], details["text"]


async def errand_cards(linli: Linli, chat_id: int) -> list[dict[str, Any]]:
    return [
        m for m in await linli.sandbox.transcript(chat_id) if (m.get("text") or "").startswith("🛵")
    ]
