"""Check-ins on both databases: once per day and step under races, consent, rights, dates, help words."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, seed_demo
from bot.services import Services
from bot.services.care import Ladder, Outcome, asks_for_help
from bot.settings import Settings
from storage.db import Database
from storage.models import CheckIn, CheckInStep, OutboxMessage

WANG, LI, EMMA, GRANNY, ZHANG, LIU = 1001, 1002, 1003, 1004, 2001, 3001


class Plain:
    """A renderer that names each message (the real one is handlers/care.py)."""

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        return lambda *args, **kwargs: {"text": name}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(
    database: Database, make_settings: Callable[..., Settings], clock: FakeClock
) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    services = Services.build(database, settings, clock)
    services.care.renderer = Plain()  # type: ignore[assignment]
    return services


def local(
    month: int, day: int, hour: int, minute: int = 0, zone: str = "Asia/Shanghai"
) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def _community(database: Database) -> int:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        return community.id


async def enrolled(services: Services, database: Database, clock: FakeClock) -> int:
    """李奶奶 enrolled by Wang (family) at 08:00; Liu accepted as a volunteer."""
    clock.set(local(11, 30, 8))
    elder, token = await services.care.invite_elder(
        await _community(database),
        WANG,
        name="李奶奶",
        address="2号楼1单元101",
        phone="139",
        as_family=True,
    )
    assert (await services.care.accept(token, GRANNY, "zh-CN"))[0] is Outcome.OK
    outcome, contact_token = await services.care.invite_contact(elder.id, WANG, "volunteer")
    assert outcome is Outcome.OK and contact_token
    assert (await services.care.accept(contact_token, LIU, "zh-CN"))[0] is Outcome.OK
    return elder.id


async def _to(database: Database, chat: int) -> list[str]:
    async with database.uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_telegram_id == chat)
            .order_by(OutboxMessage.id)
        )
        return [r.payload["text"] for r in rows]


async def test_concurrent_ticks_prompt_once_and_do_each_step_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    await enrolled(services, database, clock)
    for moment in (
        local(11, 30, 9),
        local(11, 30, 9, 30),
        local(11, 30, 10),
        local(11, 30, 11),
        local(11, 30, 13),
    ):
        clock.set(moment)
        await asyncio.gather(*(services.care.tick(moment) for _ in range(4)))
    assert await _to(database, GRANNY) == ["prompt", "reminder"]
    assert await _to(database, WANG) == ["alert"]
    assert await _to(database, LIU) == ["alert"]
    assert (await _to(database, STAFF_GROUP)).count("alert") == 1
    assert not [t for t in await _to(database, RESIDENTS_GROUP) if t != "enrolment_news"]
    async with database.uow() as uow:
        steps = sorted((await uow.session.scalars(select(CheckInStep.step))).all())
        priorities = set(
            (
                await uow.session.scalars(
                    select(OutboxMessage.priority).where(
                        OutboxMessage.idempotency_key.like("care:alert:%")
                    )
                )
            ).all()
        )
    assert steps == ["family", "prompt", "remind", "staff", "volunteer"]
    assert priorities == {1}


async def test_an_invitation_works_once_and_not_after_a_week(
    services: Services, database: Database, clock: FakeClock
) -> None:
    elder_id = await enrolled(services, database, clock)
    _, token = await services.care.invite_contact(elder_id, GRANNY, "family")
    assert token is not None
    assert (await services.care.accept(token, LI, "zh-CN"))[0] is Outcome.OK
    assert (await services.care.accept(token, EMMA, "en"))[0] is Outcome.STALE
    _, late = await services.care.invite_contact(elder_id, ZHANG, "grid")
    assert late is not None
    clock.advance(days=8)
    assert await services.care.invitation(late) is None
    assert (await services.care.accept(late, EMMA, "en"))[0] is Outcome.STALE
    _, own = await services.care.invite_contact(elder_id, GRANNY, "family")
    assert own is not None
    assert (await services.care.accept(own, GRANNY, "zh-CN"))[
        0
    ] is Outcome.INVALID  # not her own contact


async def test_strangers_cannot_manage_or_act_on_alerts(
    services: Services, database: Database, clock: FakeClock
) -> None:
    elder_id = await enrolled(services, database, clock)
    assert (await services.care.invite_contact(elder_id, EMMA, "family"))[0] is Outcome.FORBIDDEN
    assert await services.care.pause(elder_id, EMMA) is Outcome.FORBIDDEN
    assert await services.care.set_time(elder_id, GRANNY, time(4, 0)) is Outcome.INVALID
    assert await services.care.set_time(elder_id, GRANNY, time(22, 0)) is Outcome.INVALID
    assert await services.care.set_time(elder_id, WANG, time(8, 30)) is Outcome.OK  # family may
    alert_id = await services.care.help(elder_id, GRANNY)
    assert alert_id is not None
    assert (await services.care.respond(alert_id, EMMA))[0] is Outcome.FORBIDDEN
    assert (await services.care.resolve(alert_id, EMMA, "fine"))[0] is Outcome.FORBIDDEN
    results = await asyncio.gather(
        services.care.respond(alert_id, WANG), services.care.respond(alert_id, LIU)
    )
    assert sorted(r[0] for r in results) == [Outcome.OK, Outcome.STALE]
    assert (await services.care.resolve(alert_id, ZHANG, "fine"))[0] is Outcome.OK  # staff may
    assert (await services.care.resolve(alert_id, LIU, "fine"))[0] is Outcome.STALE
    assert await services.care.help(elder_id, GRANNY) != alert_id  # a new call is a new alert


async def test_the_check_in_day_is_the_elder_s_local_date(
    services: Services, database: Database, clock: FakeClock
) -> None:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        community.timezone = "America/New_York"
        await uow.commit()
    clock.set(local(11, 29, 20, zone="America/New_York"))
    elder, token = await services.care.invite_elder(
        await _community(database),
        ZHANG,
        name="Mr. Lee",
        address=None,
        phone=None,
        at=time(21, 30),
        as_family=False,
    )
    await services.care.accept(token, GRANNY, "en")
    moment = local(11, 30, 21, 30, zone="America/New_York")  # 02:30 UTC on 1 December
    await services.care.tick(moment)
    async with database.uow() as uow:
        days = (await uow.session.scalars(select(CheckIn.day))).all()
    assert days == ["2026-11-30"]


async def test_the_streak_counts_answered_days_and_history_keeps_90(
    services: Services, database: Database, clock: FakeClock
) -> None:
    elder_id = await enrolled(services, database, clock)
    for day in range(1, 6):
        moment = local(12, day, 9)
        clock.set(moment)
        await services.care.tick(moment)
        if day != 2:
            answer = await services.care.answer(GRANNY, "text", "好")
            assert answer.kind == "ok"
    assert await services.care.streak(elder_id) == 3  # 3, 4, 5 December; 2 December unanswered
    await services.care.prune(local(12, 5, 9) + timedelta(days=87))
    async with database.uow() as uow:
        assert (
            await uow.session.scalar(select(func.count()).select_from(CheckIn)) == 4
        )  # 1 Dec gone


@pytest.mark.parametrize(
    ("text", "help_"),
    [
        ("救命", True),
        ("我摔倒了", True),
        ("今天有点不舒服", True),
        ("头晕得厉害", True),
        ("help me please", True),
        ("I fell in the bathroom", True),
        ("我很好", False),
        ("不需要帮助，谢谢", False),
        ("没有不舒服", False),
        ("今天天气真好", False),
        ("no help needed", False),
        ("", False),
    ],
)
def test_help_words(text: str, help_: bool) -> None:
    assert asks_for_help(text) is help_


def test_a_ladder_must_rise() -> None:
    assert Ladder(30, 60, 120, 240).valid()
    assert not Ladder(60, 30, 120, 240).valid()
    assert not Ladder(30, 60, 120, 2000).valid()
    assert Ladder.of(None) == Ladder()


async def test_mydata_shows_the_enrolment_and_forgetme_ends_it(
    services: Services, database: Database, clock: FakeClock
) -> None:
    elder_id = await enrolled(services, database, clock)
    mine = await services.privacy.my_data(GRANNY)
    assert mine is not None and mine.checkin is not None
    assert mine.checkin[:4] == ("李奶奶", "2号楼1单元101", "139", "09:00")
    family = await services.privacy.my_data(WANG)
    assert family is not None and family.contact_of == ["李奶奶"]
    assert await services.privacy.forget(GRANNY)
    elder = await services.care.get(elder_id)
    assert elder is not None and elder.status.value == "left" and elder.withdrawn_at is not None
    assert elder.address is None and elder.phone is None and elder.user_id is None
    clock.set(local(11, 30, 9))
    await services.care.tick(clock.now())
    assert await _to(database, GRANNY) == []
