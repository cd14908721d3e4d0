"""Sign-up lists on both databases: the last place, +N, the waitlist, deadlines, double presses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.demo import seed_demo
from bot.services import Services
from bot.services.activities import ActivityDraft, DraftError, Outcome
from bot.settings import Settings
from storage.db import Database

ZHANG = 2001
PEOPLE = list(range(6001, 6011))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(
    database: Database, make_settings: Callable[..., Settings], clock: FakeClock
) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    async with database.uow() as uow:
        for uid in PEOPLE:
            await uow.users.upsert(
                uid, first_name=f"居民{uid}", last_name=None, username=None, telegram_language=None
            )
        await uow.commit()
    return Services.build(database, settings, clock)


async def _activity(
    services: Services, database: Database, clock: FakeClock, **draft: object
) -> int:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
    values: dict[str, object] = {"title": "社区义诊", "starts_at": clock.now() + timedelta(days=2)}
    values.update(draft)
    activity = await services.activities.create(community.id, ZHANG, None, ActivityDraft(**values))  # type: ignore[arg-type]
    return activity.id


async def test_ten_people_pressing_for_the_last_place_at_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    activity_id = await _activity(services, database, clock, capacity=1)
    results = await asyncio.gather(
        *(services.activities.join(activity_id, u, f"居民{u}") for u in PEOPLE)
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.JOINED) == 1 and outcomes.count(Outcome.WAITLISTED) == 9
    joined, waiting = await services.activities.listing(activity_id)
    assert len(joined) == 1 and len(waiting) == 9
    activity = await services.activities.get(activity_id)
    assert activity is not None and activity.seats_taken == 1


async def test_without_a_waitlist_the_others_hear_it_is_full(
    services: Services, database: Database, clock: FakeClock
) -> None:
    activity_id = await _activity(services, database, clock, capacity=2, waitlist=False)
    results = await asyncio.gather(
        *(services.activities.join(activity_id, u, f"居民{u}") for u in PEOPLE)
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.JOINED) == 2 and outcomes.count(Outcome.FULL) == 8
    joined, waiting = await services.activities.listing(activity_id)
    assert len(joined) == 2 and waiting == []


async def test_a_cancellation_promotes_the_first_party_that_fits(
    services: Services, database: Database, clock: FakeClock
) -> None:
    a = services.activities
    activity_id = await _activity(services, database, clock, capacity=3, max_party=3)
    assert (await a.join(activity_id, PEOPLE[0], "甲", 2)).outcome is Outcome.JOINED
    assert (await a.join(activity_id, PEOPLE[1], "乙", 1)).outcome is Outcome.JOINED
    assert (await a.join(activity_id, PEOPLE[2], "丙", 3)).outcome is Outcome.WAITLISTED
    assert (await a.join(activity_id, PEOPLE[3], "丁", 1)).outcome is Outcome.WAITLISTED
    result = await a.cancel(activity_id, PEOPLE[1])
    assert result.outcome is Outcome.CANCELLED and [s.name for s in result.promoted] == ["丁"]
    result = await a.cancel(activity_id, PEOPLE[0])
    assert [s.name for s in result.promoted] == []  # 丙's 3 do not fit beside 丁's 1
    assert (await a.cancel(activity_id, PEOPLE[0])).outcome is Outcome.NOT_SIGNED_UP
    joined, waiting = await a.listing(activity_id)
    assert [s.name for s in joined] == ["丁"] and [s.name for s in waiting] == ["丙"]
    assert (await a.get(activity_id)).seats_taken == 1  # type: ignore[union-attr]


async def test_twice_plus_n_and_on_behalf(
    services: Services, database: Database, clock: FakeClock
) -> None:
    a = services.activities
    activity_id = await _activity(services, database, clock, capacity=4, max_party=3)
    first, second = await asyncio.gather(
        a.join(activity_id, PEOPLE[0], "甲"), a.join(activity_id, PEOPLE[0], "甲")
    )
    assert sorted([first.outcome, second.outcome]) == sorted([Outcome.JOINED, Outcome.ALREADY])
    assert (await a.join(activity_id, PEOPLE[0], "甲", 3)).outcome is Outcome.CHANGED
    assert (await a.join(activity_id, PEOPLE[0], "甲", 4)).outcome is Outcome.INVALID  # over +N
    assert (
        await a.join(activity_id, PEOPLE[1], "乙", on_behalf_of="王阿姨")
    ).outcome is Outcome.JOINED
    assert (await a.join(activity_id, PEOPLE[1], "乙")).outcome is Outcome.WAITLISTED
    joined, waiting = await a.listing(activity_id)
    assert [(s.name, s.places) for s in joined] == [("甲", 3), ("王阿姨", 1)]
    assert [s.name for s in waiting] == ["乙"]


async def test_the_deadline_closes_the_list(
    services: Services, database: Database, clock: FakeClock
) -> None:
    a = services.activities
    activity_id = await _activity(
        services, database, clock, deadline=clock.now() + timedelta(hours=1)
    )
    clock.advance(hours=2)
    assert (await a.join(activity_id, PEOPLE[0], "甲")).outcome is Outcome.CLOSED
    closed = await a.close_due(clock.now())
    assert [c.id for c in closed] == [activity_id]
    assert await a.close_due(clock.now()) == []


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 100000}, "capacity"),
        ({"starts_at_hours": -1}, "past"),
        ({"deadline_hours": 72}, "deadline_after_start"),
        ({"deadline_hours": -1}, "deadline_past"),
        ({"title": "  "}, "title"),
    ],
)
def test_bad_drafts_are_refused_with_a_reason(
    services: Services, clock: FakeClock, draft: dict[str, object], reason: str
) -> None:
    draft = dict(draft)  # the same parameters serve both databases
    values: dict[str, object] = {"title": "义诊", "starts_at": clock.now() + timedelta(days=2)}
    if "starts_at_hours" in draft:
        values["starts_at"] = clock.now() + timedelta(hours=float(draft.pop("starts_at_hours")))  # type: ignore[arg-type]
    if "deadline_hours" in draft:
        values["deadline"] = clock.now() + timedelta(hours=float(draft.pop("deadline_hours")))  # type: ignore[arg-type]
    values.update(draft)
    with pytest.raises(DraftError) as refused:
        services.activities.check(ActivityDraft(**values))  # type: ignore[arg-type]
    assert refused.value.reason == reason


async def test_details_are_kept_for_the_one_who_signed_up_and_thanks_are_queued_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    from bot.demo import RESIDENTS_GROUP
    from bot.i18n import Catalogs
    from handlers.signup import Renderer
    from storage.models import OutboxMessage, User

    a = services.activities
    a.renderer = Renderer(Catalogs(), "Asia/Shanghai")
    chat = await services.groups.chat(RESIDENTS_GROUP)
    assert chat is not None
    async with database.uow() as uow:
        [community] = await uow.communities.all()
    activity = await a.create(
        community.id,
        ZHANG,
        chat.id,
        ActivityDraft(
            title="<b>清洁</b>", starts_at=clock.now() + timedelta(hours=2), ask_room=True
        ),
    )
    own = (await a.join(activity.id, PEOPLE[0], "甲")).signup
    behalf = (await a.join(activity.id, PEOPLE[1], "乙", on_behalf_of="王奶奶")).signup
    assert own is not None and behalf is not None and a.wants_details(activity, own)
    assert await a.set_details(own.id, PEOPLE[1], flat=("3", "1", "302")) is None  # not theirs
    saved = await a.set_details(own.id, PEOPLE[0], flat=("3", "1", "302"), phone="13812345678")
    assert saved is not None and saved.room == "3-1-302" and not a.wants_details(activity, saved)
    await a.set_details(behalf.id, PEOPLE[1], flat=("9", "9", "909"))
    async with database.uow() as uow:
        mine = await uow.session.get(User, PEOPLE[0])
        signer = await uow.session.get(User, PEOPLE[1])
    assert mine is not None and (mine.building, mine.room, mine.phone) == (
        "3",
        "302",
        "13812345678",
    )
    assert signer is not None and signer.room is None  # the elder's flat is not the signer's

    assert await a.thank(activity.id, ZHANG, "谢谢大家") == "too_early"
    clock.advance(hours=3)
    assert await a.thank(activity.id, PEOPLE[0], "谢谢大家") == "forbidden"
    outcomes = await asyncio.gather(*(a.thank(activity.id, ZHANG, "谢谢大家") for _ in range(3)))
    assert sorted(outcomes) == ["already", "already", "posted"]
    async with database.uow() as uow:
        [queued] = (
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key.like("activity:%thanks"))
            )
        ).all()
    assert queued.chat_telegram_id == RESIDENTS_GROUP
    assert "<b>清洁</b>" in queued.payload["text"] and "2 位邻居参加" in queued.payload["text"]
