"""Notices on both databases: once per occurrence, quiet hours, grace, wall-clock time, 收到 once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, seed_demo
from bot.services import Services
from bot.services.notices import NoticeDraft, Outcome, quiet_until
from bot.settings import Settings
from bot.when import Recurrence
from storage.db import Database
from storage.models import NoticeAck, NoticeOccurrence, NoticePost, OutboxMessage

WANG, LI, ZHANG = 1001, 1002, 2001
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Plain:
    """A renderer that says what happened in plain words (the real one is handlers/notice.py)."""

    def post(self, notice: Any, post: Any, count: int, total: int, language: str) -> dict[str, Any]:
        return {"text": f"{notice.text} [{count}/{total}]"}

    def reminder(self, notice: Any, post: Any, title: str, language: str) -> dict[str, Any]:
        return {"text": f"remind: {notice.text}"}

    def report(
        self,
        notice: Any,
        occurrence: Any,
        sent: Any,
        failed: Any,
        skipped: Any,
        language: str,
        unknown: Any = (),
    ) -> dict[str, Any]:
        return {"text": f"report: {len(sent)} sent, {len(failed)} failed, {len(skipped)} skipped"}

    def missed(
        self, notice: Any, due: datetime, count: int, zone: ZoneInfo, language: str
    ) -> dict[str, Any]:
        return {"text": f"missed {count}: {notice.text}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-11-30 01:00 UTC, 09:00 in Shanghai


@pytest.fixture
async def services(
    database: Database, make_settings: Callable[..., Settings], clock: FakeClock
) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    services = Services.build(database, settings, clock)
    services.notices.renderer = Plain()
    return services


async def _community(database: Database) -> int:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        return community.id


def local(month: int, day: int, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


async def _scheduled(services: Services, database: Database, **draft: Any) -> int:
    notice = await services.notices.draft(await _community(database), ZHANG, NoticeDraft(**draft))
    outcome, _ = await services.notices.confirm(notice.id, ZHANG)
    assert outcome is Outcome.OK
    return notice.id


async def _messages(database: Database, chat: int) -> list[str]:
    async with database.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_telegram_id == chat)
            .order_by(OutboxMessage.id)
        )
        return [r.payload.get("text", "") for r in rows]


async def _occurrences(database: Database) -> list[tuple[datetime, str]]:
    async with database.uow() as uow:
        rows = await uow.session.execute(
            select(NoticeOccurrence.due_at, NoticeOccurrence.status).order_by(
                NoticeOccurrence.due_at
            )
        )
        return [(d, s) for d, s in rows.all()]


async def test_five_ticks_at_once_post_an_occurrence_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    await _scheduled(services, database, text="停水通知", first_at=local(12, 1, 8))
    clock.set(local(12, 1, 8))
    handled = await asyncio.gather(*(services.notices.post_due(clock.now()) for _ in range(5)))
    assert sum(handled) == 1
    assert await _messages(database, RESIDENTS_GROUP) == ["停水通知 [0/6]"]
    assert len(await _occurrences(database)) == 1
    assert await services.notices.post_due(clock.now() + timedelta(minutes=1)) == 0


@pytest.mark.parametrize(
    ("moment", "until"),
    [
        (local(11, 30, 23, 0), local(12, 1, 7, 0)),
        (local(12, 1, 6, 59), local(12, 1, 7, 0)),
        (local(11, 30, 22, 0), local(12, 1, 7, 0)),
        (local(12, 1, 7, 0), None),
        (local(11, 30, 21, 59), None),
    ],
)
def test_quiet_hours_over_midnight_end_at_seven(moment: datetime, until: datetime | None) -> None:
    assert quiet_until(moment, SHANGHAI, (time(22), time(7))) == until


def test_quiet_hours_within_a_day_and_none() -> None:
    assert quiet_until(local(12, 1, 13), SHANGHAI, (time(12), time(14))) == local(12, 1, 14)
    assert quiet_until(local(12, 1, 15), SHANGHAI, (time(12), time(14))) is None
    assert quiet_until(local(12, 1, 23), SHANGHAI, None) is None


async def test_a_daily_notice_keeps_nine_o_clock_across_a_time_zone_change(
    services: Services, database: Database, clock: FakeClock
) -> None:
    new_york = ZoneInfo("America/New_York")
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        community.timezone = "America/New_York"
        await uow.commit()
    daily = Recurrence(kind="daily", days=(), hour=9, minute=0)
    clock.set(local(10, 30, 12, zone=new_york))
    await _scheduled(
        services,
        database,
        text="早安提示",
        first_at=local(10, 31, 9, zone=new_york),
        recurrence=daily,
    )
    for day in (31, 1, 2):  # 1 November 2026: New York falls back from UTC-4 to UTC-5
        month = 10 if day == 31 else 11
        clock.set(local(month, day, 9, zone=new_york))
        assert await services.notices.post_due(clock.now()) == 1
    posted = [d.astimezone(new_york) for d, _ in await _occurrences(database)]
    assert [(p.day, p.hour, p.minute) for p in posted] == [(31, 9, 0), (1, 9, 0), (2, 9, 0)]
    assert [p.utcoffset() for p in posted] == [
        timedelta(hours=-4),
        timedelta(hours=-5),
        timedelta(hours=-5),
    ]


async def test_after_three_days_down_a_daily_notice_posts_today_s_and_reports_the_rest(
    services: Services, database: Database, clock: FakeClock
) -> None:
    daily = Recurrence(kind="daily", days=(), hour=9, minute=0)
    await _scheduled(
        services, database, text="每日提醒", first_at=local(12, 1, 9), recurrence=daily
    )
    clock.set(local(12, 3, 10))  # down from 1 Dec 08:00 to 3 Dec 10:00
    assert await services.notices.post_due(clock.now()) == 1
    assert await services.notices.post_due(clock.now()) == 0
    assert [s for _, s in await _occurrences(database)] == ["missed", "missed", "posted"]
    assert await _messages(database, RESIDENTS_GROUP) == ["每日提醒 [0/6]"]
    assert await _messages(database, STAFF_GROUP) == ["missed 2: 每日提醒"]
    notice = (await services.notices.upcoming(await _community(database)))[0]
    assert notice.next_at == local(12, 4, 9)


async def test_a_one_off_beyond_the_grace_period_is_only_reported(
    services: Services, database: Database, clock: FakeClock
) -> None:
    await _scheduled(services, database, text="业主大会", first_at=local(11, 30, 10))
    clock.set(local(11, 30, 16, 1))  # 6 h 1 min late
    assert await services.notices.post_due(clock.now()) == 1
    assert await _messages(database, RESIDENTS_GROUP) == []
    assert await _messages(database, STAFF_GROUP) == ["missed 1: 业主大会"]
    assert await services.notices.upcoming(await _community(database)) == []


async def test_ten_presses_of_one_person_count_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    await _scheduled(services, database, text="收到请回复", first_at=clock.now())
    await services.notices.post_due(clock.now())
    async with database.uow() as uow:
        post_id = await uow.session.scalar(select(NoticePost.id))
    assert post_id is not None
    results = await asyncio.gather(
        *(services.notices.acknowledge(post_id, WANG) for _ in range(10))
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.OK) == 1 and outcomes.count(Outcome.STALE) == 9
    async with database.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(NoticeAck)) == 1
    assert (await services.notices.acknowledge(post_id, LI)).count == 2
    assert (await services.notices.acknowledge(999_999, LI)).outcome is Outcome.NOT_FOUND


async def test_a_reminder_due_in_quiet_hours_waits_for_the_morning(
    services: Services, database: Database, clock: FakeClock
) -> None:
    async with database.uow() as uow:
        user = await uow.users.get(WANG)
        assert user is not None
        user.private_chat_open = True
        await uow.commit()
    clock.set(local(11, 30, 21))
    await _scheduled(services, database, text="今晚检修", first_at=clock.now(), remind_minutes=120)
    await services.notices.post_due(clock.now())
    async with database.uow() as uow:  # the outbox sent it
        await uow.session.execute(update(NoticePost).values(status="sent", telegram_message_id=7))
        await uow.commit()
    assert await services.notices.remind(local(11, 30, 23, 0)) == 0  # two hours later: quiet
    assert await services.notices.remind(local(12, 1, 6, 59)) == 0
    assert await services.notices.remind(local(12, 1, 7, 0)) == 1
    assert await services.notices.remind(local(12, 1, 8, 0)) == 0
    assert await _messages(database, WANG) == ["remind: 今晚检修"]


async def test_a_cancelled_or_paused_notice_does_not_post(
    services: Services, database: Database, clock: FakeClock
) -> None:
    first = await _scheduled(services, database, text="取消的", first_at=local(12, 1, 8))
    second = await _scheduled(services, database, text="暂停的", first_at=local(12, 1, 8))
    assert (await services.notices.cancel(first, ZHANG))[0] is Outcome.OK
    assert (await services.notices.pause(second, ZHANG))[0] is Outcome.OK
    assert (await services.notices.cancel(first, ZHANG))[0] is Outcome.STALE
    assert (await services.notices.pause(second, WANG))[0] is Outcome.FORBIDDEN
    clock.set(local(12, 1, 9))
    assert await services.notices.post_due(clock.now()) == 0
    assert (await services.notices.resume(second, ZHANG))[0] is Outcome.OK
    assert await services.notices.post_due(clock.now()) == 1  # a one-off resumed late posts now
    assert await _messages(database, RESIDENTS_GROUP) == ["暂停的 [0/6]"]
