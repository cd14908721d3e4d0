"""Telegram's failures (issue 10): the sandbox's fault switches against the real bot.

429 storms with retry_after during a fan-out to many groups; 403 for a blocked user, a group
that kicked the bot, a private chat never started; 400; 5xx; timeouts before and after the
request left; connections dropped during a fan-out and an elder's escalation ladder. What must
hold: every due message arrives once when the fault clears, or ends failed and is reported
where the feature promises it; nothing arrives twice unless its outcome was unknowable, and such
sends are counted and reported; a handler whose reply fails does not stop the bot.

The outbox runs on the real clock (retry_after and back-off are real seconds: faults here ask
for 1 s), the features on a fake one. The bot gives up reading an answer after 1 s here
(15 s in production), so the sandbox's timeouts (`hold` 3 s) end as the client's timeouts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

import bot.app
from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP
from bot.settings import Settings
from storage.models import OutboxStatus
from tests.chaos.faults_kit import (
    add_residents_groups,
    bot_texts,
    calls,
    eventually,
    faults_left,
    inject,
    outbox_rows,
    quick_bot,
    settled,
)
from tests.e2e import test_care
from tests.e2e.harness import Linli, running
from tests.e2e.test_care import GRANNY, at, enrol, local
from tests.e2e.test_repair import LI, LIU, WANG, ZHANG, outbox_idle, press, staff_card, submit
from tests.proof import record

clock = test_care.clock
HOLD = 3.0  # seconds the sandbox holds a timed-out request (the bot gives up after 1)


@pytest.fixture
async def linli(
    make_settings: Callable[..., Settings], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Linli]:
    """Linli on a fake clock, whose HTTP client gives up reading an answer after 1 s."""
    monkeypatch.setattr(bot.app, "make_bot", quick_bot)
    async with running(make_settings(), clock=clock, tick_seconds=None) as linli:
        yield linli


def stats(linli: Linli) -> dict[str, int]:
    assert linli.runtime.outbox is not None
    return linli.runtime.outbox.stats


async def broadcast(linli: Linli, text: str) -> None:
    [card] = await linli.say(STAFF_GROUP, ZHANG, f"/broadcast {text}")
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")


async def report_after_fan_out(linli: Linli, posts: int) -> str:
    """Wait for every post to end, tick, and return the staff's delivery report ('' if none)."""
    assert await settled(linli, "notice:post:", posts, seconds=15)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    reports = [t for t in await bot_texts(linli, STAFF_GROUP, "📢 通知 #") if "已发到" in t]
    assert len(reports) <= 1, reports
    return reports[0] if reports else ""


# --- 429 storms during a fan-out ----------------------------------------------------------------


async def test_a_storm_of_429_during_a_fan_out_delivers_every_group_once(linli: Linli) -> None:
    groups = await add_residents_groups(linli, 12)
    stormy, kicked = groups[:8], groups[-1]
    for chat in stormy:
        await inject(linli, 429, chat_id=chat, retry_after=1, times=2)
    await inject(
        linli,
        403,
        chat_id=kicked,
        description="Forbidden: bot was kicked from the supergroup chat",
    )
    before = stats(linli)["retried"]
    await broadcast(linli, "今晚8点至10点停水，请提前储水")
    report = await report_after_fan_out(linli, 13)

    for chat in [RESIDENTS_GROUP, *groups[:-1]]:
        assert len(await bot_texts(linli, chat, "今晚8点至10点停水")) == 1, chat
    assert not await bot_texts(linli, kicked, "停水")
    for chat in stormy:  # refused twice, each time waited out, then sent once
        log = [c for c in await calls(linli, chat_id=chat) if "停水" in c["params"].get("text", "")]
        assert [c["status"] for c in log] == [429, 429, 200], log
        gaps = [b["time"] - a["time"] for a, b in zip(log, log[1:], strict=False)]
        assert all(gap >= 0.95 for gap in gaps), gaps  # retry_after honoured
    assert stats(linli)["retried"] - before == 16
    assert "已发到 12 / 13" in report and "12号楼 业主群" in report, report
    assert "1号楼" not in report
    assert not await faults_left(linli)


# --- 403: blocked, kicked, never started ------------------------------------------------------


async def test_a_blocked_elder_and_a_chat_never_started_are_reported_not_escalated(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    await inject(
        linli,
        403,
        chat_id=GRANNY,
        description="Forbidden: bot can't initiate conversation with a user",
    )
    await at(linli, clock, local(11, 30, 9, 0))
    staff = await eventually(lambda: bot_texts(linli, STAFF_GROUP, "📵 无法"))
    assert len(staff) == 1 and "李奶奶" in staff[0] and "不算未回应" in staff[0], staff
    await at(linli, clock, local(11, 30, 13, 0))
    for chat in (WANG, LIU, LI, STAFF_GROUP):
        assert not await bot_texts(linli, chat, "还没有回应"), chat

    # The next day she has blocked the bot: the reminder-free day is reported once again.
    await linli.sandbox.post("/sandbox/api/block", {"user_id": GRANNY, "blocked": True})
    await at(linli, clock, local(12, 1, 9, 0))
    staff = await eventually(lambda: _at_least(bot_texts(linli, STAFF_GROUP, "📵 无法"), 2))
    assert len(staff) == 2, staff
    rows = await outbox_rows(linli, "care:prompt:")
    assert sorted(r.status.value for r in rows) == ["failed", "failed"]


async def _at_least(texts: object, count: int) -> list[str] | None:
    found = await texts  # type: ignore[misc]
    return found if len(found) >= count else None


async def test_a_ticket_update_to_a_resident_who_blocked_the_bot_fails_alone(
    linli: Linli,
) -> None:
    await submit(linli)
    await linli.sandbox.post("/sandbox/api/block", {"user_id": WANG, "blocked": True})
    card = await staff_card(linli)
    accepted = await press(linli, STAFF_GROUP, ZHANG, card, "受理")
    assert "已受理" in accepted["answer"]["text"]
    await outbox_idle(linli)
    card = await staff_card(linli)
    assert "状态：已受理" in card["text"]  # staff's side goes on
    failed = [r for r in await outbox_rows(linli, "ticket:") if r.status is OutboxStatus.FAILED]
    assert [r.chat_telegram_id for r in failed] == [WANG]
    assert "blocked" in (failed[0].last_error or "")
    tries = [c for c in await calls(linli, chat_id=WANG) if c["status"] == 403]
    assert len(tries) == 1  # tried once, and not again: a 403 is final
    record("faults", 1)  # the block, through the sandbox's own switch


# --- 400 and 5xx ----------------------------------------------------------------------------------


async def test_a_bad_request_fails_one_message_and_5xx_is_retried_until_it_clears(
    linli: Linli,
) -> None:
    groups = await add_residents_groups(linli, 3)
    await inject(linli, 400, chat_id=groups[0], description="Bad Request: chat not found")
    await inject(linli, 500, chat_id=groups[1])
    await inject(linli, 502, chat_id=groups[2])
    await broadcast(linli, "明天上午消防检查")
    report = await report_after_fan_out(linli, 4)
    assert not await bot_texts(linli, groups[0], "消防检查")
    for chat in (RESIDENTS_GROUP, groups[1], groups[2]):
        assert len(await bot_texts(linli, chat, "消防检查")) == 1, chat
    for chat, statuses in ((groups[1], [500, 200]), (groups[2], [502, 200])):
        log = [c for c in await calls(linli, chat_id=chat) if "消防" in c["params"].get("text", "")]
        assert [c["status"] for c in log] == statuses
    assert "1号楼 业主群" in report and "chat not found" in report.lower(), report
    assert "2号楼" not in report and "3号楼" not in report


# --- timeouts ---------------------------------------------------------------------------------


async def test_a_timeout_after_the_request_left_is_not_repeated_but_counted_and_reported(
    linli: Linli,
) -> None:
    groups = await add_residents_groups(linli, 2)
    await inject(linli, "timeout_after", chat_id=groups[0], hold=HOLD)
    await inject(linli, "timeout_before", chat_id=groups[1], hold=HOLD)
    before = stats(linli)["unknown"]
    await broadcast(linli, "本周六上午社区义诊")
    report = await report_after_fan_out(linli, 3)
    # The bot cannot tell the two apart: a request that got no answer may have been done.
    assert len(await bot_texts(linli, groups[0], "社区义诊")) == 1  # done, and not repeated
    assert not await bot_texts(linli, groups[1], "社区义诊")  # not done, and not repeated
    for chat, outcomes in (
        (groups[0], ["ok", "fault timeout_after"]),
        (groups[1], ["fault timeout_before"]),
    ):
        log = [c for c in await calls(linli, chat_id=chat) if "义诊" in str(c)]
        assert [c["outcome"] for c in log] == outcomes  # one request each, never a second
    assert stats(linli)["unknown"] - before == 2
    assert "1号楼 业主群" in report and "2号楼 业主群" in report, report
    assert "已发到 1 / 3" in report and "可能未送达" in report and "未能发到" not in report, report


async def test_a_request_that_never_left_is_retried(
    linli: Linli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that cannot be made in time sent nothing: it is simply retried."""
    from bot.transport import AiohttpRequest, ConnectTimedOut

    original = AiohttpRequest.do_request
    refused: list[str] = []

    async def flaky(self: AiohttpRequest, url: str, *args: object, **kwargs: object) -> object:
        data = kwargs.get("request_data")
        chat = getattr(data, "parameters", {}).get("chat_id")
        if url.endswith("/sendMessage") and chat == RESIDENTS_GROUP and not refused:
            refused.append(url)
            # What the transport raises when connecting timed out (tests/unit/test_transport.py).
            raise ConnectTimedOut("could not connect in time")
        return await original(self, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AiohttpRequest, "do_request", flaky)
    record("faults", 1)
    await broadcast(linli, "电梯今天下午维保")
    await settled(linli, "notice:post:", 1, seconds=10)
    assert refused
    assert len(await bot_texts(linli, RESIDENTS_GROUP, "电梯今天下午维保")) == 1
    [row] = await outbox_rows(linli, "notice:post:")
    assert row.status is OutboxStatus.SENT and row.attempts == 1


# --- dropped connections -------------------------------------------------------------------------


async def test_dropped_connections_during_a_fan_out_are_retried_once_each(linli: Linli) -> None:
    groups = await add_residents_groups(linli, 6)
    for chat in groups[::2]:
        await inject(linli, "drop", chat_id=chat)
    await broadcast(linli, "垃圾分类新规下周一起执行")
    report = await report_after_fan_out(linli, 7)
    for chat in [RESIDENTS_GROUP, *groups]:
        assert len(await bot_texts(linli, chat, "垃圾分类新规")) == 1, chat
    assert report == ""  # everything arrived: nothing to report


async def test_the_escalation_ladder_survives_drops_5xx_and_timeouts(
    linli: Linli, clock: FakeClock
) -> None:
    await enrol(linli, clock)
    await at(linli, clock, local(11, 30, 9, 0))
    await at(linli, clock, local(11, 30, 9, 30))
    await inject(linli, "drop", chat_id=WANG)  # the family's alert at +60 min
    await at(linli, clock, local(11, 30, 10, 0))
    assert await settled(linli, "care:alert:", 1)
    await inject(linli, 502, chat_id=LIU)  # the volunteer's and the grid worker's at +120
    await inject(linli, "timeout_before", chat_id=LI, hold=HOLD)
    await at(linli, clock, local(11, 30, 11, 0))
    assert await settled(linli, "care:alert:", 3)
    await inject(linli, "drop", chat_id=STAFF_GROUP)  # the staff group's at +240
    await at(linli, clock, local(11, 30, 13, 0))
    assert await settled(linli, "care:alert:", 4)
    for chat in (WANG, LIU, STAFF_GROUP):
        assert len(await bot_texts(linli, chat, "还没有回应")) == 1, chat
    # Li's alert got no answer: it may not have arrived, so it is sent once more (an alert about
    # an elder twice is better than none), and that is counted.
    assert len(await bot_texts(linli, LI, "还没有回应")) == 1
    assert stats(linli)["unknown"] >= 1 and stats(linli)["resent"] == 1

    [thanks] = await linli.say(GRANNY, GRANNY, "我没事，刚睡着了")
    assert "谢谢" in thanks["text"]
    await outbox_idle(linli)
    for chat in (WANG, LIU, LI, STAFF_GROUP):
        assert len(await bot_texts(linli, chat, "解除")) == 1, chat


# --- direct replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "extra"),
    [
        (429, {"retry_after": 1}),
        (403, {"description": "Forbidden: bot was blocked by the user"}),
        (400, {"description": "Bad Request: message to be replied not found"}),
        (500, {}),
        (502, {}),
        ("timeout_before", {"hold": HOLD}),
        ("timeout_after", {"hold": HOLD}),
        ("drop", {}),
    ],
)
async def test_a_failed_reply_does_not_stop_the_bot(
    linli: Linli, fault: int | str, extra: dict[str, object]
) -> None:
    await inject(linli, fault, chat_id=WANG, **extra)
    first = await linli.sandbox.send(WANG, WANG, "/help")
    await eventually(lambda: _no_faults(linli))
    second = await linli.say(WANG, WANG, "/help")
    assert second and "/repair" in second[0]["text"]
    answered = [
        m for m in await linli.sandbox.transcript(WANG, after=first) if m["from"]["id"] != WANG
    ]
    assert len(answered) <= 2  # the failed reply (maybe done), then the answer to the second


async def _no_faults(linli: Linli) -> bool:
    return not await faults_left(linli)


async def test_a_failing_update_feed_and_button_answers_do_not_stop_the_bot(
    linli: Linli,
) -> None:
    await inject(linli, 502, method="getUpdates")  # PTB's updater backs off and polls again
    [menu] = await linli.say(WANG, WANG, "/repair")
    await inject(linli, 400, method="answerCallbackQuery")
    await inject(linli, "drop", method="editMessageText", chat_id=WANG)
    await linli.sandbox.press(WANG, WANG, menu["message_id"], _first_button(menu))
    await eventually(lambda: _no_faults(linli))
    [answer] = await linli.say(WANG, WANG, "/help")
    assert "/repair" in answer["text"]


def _first_button(message: dict[str, object]) -> str:
    markup = message["reply_markup"]
    return markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index, no-any-return]
