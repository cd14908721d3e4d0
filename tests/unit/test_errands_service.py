"""Errands on both databases: one winner among many takers, the limit, the life, the time bank."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.demo import seed_demo
from bot.services import Services
from bot.services.errands import ErrandDraft, Outcome, credit_hours
from bot.settings import Settings
from storage.db import Database
from storage.models import ErrandStatus, Role

WANG, LI, GRANNY, ZHANG, LIU = 1001, 1002, 1004, 2001, 3001
VOLUNTEERS = list(range(5001, 5011))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(
    database: Database, make_settings: Callable[..., Settings], clock: FakeClock
) -> Services:
    settings = make_settings(LINLI_ERRAND_MAX_OPEN=2, LINLI_TIMEBANK_POINTS_PER_HOUR=2)
    await seed_demo(database, settings.timezone, settings.default_language)
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        for uid in VOLUNTEERS:
            await uow.users.upsert(
                uid,
                first_name=f"志愿者{uid}",
                last_name=None,
                username=None,
                telegram_language=None,
            )
            await uow.memberships.grant(uid, community.id, Role.VOLUNTEER, ZHANG)
        await uow.commit()
    return Services.build(database, settings, clock)


async def _community(database: Database) -> int:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        return community.id


def _draft(clock: FakeClock, details: str = "阿莫西林一盒", **extra: object) -> ErrandDraft:
    values: dict[str, object] = {
        "kind": "medicine",
        "details": details,
        "from_place": "社区卫生服务站",
        "to_place": "2号楼1单元101",
        "deadline": clock.now() + timedelta(hours=3),
        "phone": "13812345678",
    }
    values.update(extra)
    return ErrandDraft(**values)  # type: ignore[arg-type]


async def test_of_many_volunteers_pressing_take_at_once_exactly_one_wins(
    services: Services, database: Database, clock: FakeClock
) -> None:
    errand = await services.errands.create(await _community(database), GRANNY, _draft(clock))
    results = await asyncio.gather(*(services.errands.take(errand.id, uid) for uid in VOLUNTEERS))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.OK) == 1
    assert all(o is Outcome.STALE for o in outcomes if o is not Outcome.OK)
    winner = VOLUNTEERS[outcomes.index(Outcome.OK)]
    taken = await services.errands.get(errand.id)
    assert taken is not None and taken.taker_id == winner and taken.status is ErrandStatus.TAKEN
    history = await services.errands.history(errand.id)
    assert [e.action for e in history] == ["post", "take"]
    loser = next(r for r in results if r.outcome is Outcome.STALE)
    assert loser.by == f"志愿者{winner}"


async def test_a_volunteer_holds_at_most_the_limit_even_pressing_at_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    errands = [
        await services.errands.create(community, WANG, _draft(clock, f"第{i}件")) for i in range(4)
    ]
    results = await asyncio.gather(*(services.errands.take(e.id, LIU) for e in errands))
    assert sorted(r.outcome.value for r in results) == ["limit", "limit", "ok", "ok"]
    held = [e for e in await services.errands.of_person(LIU) if e.taker_id == LIU]
    assert len(held) == 2
    # Delivering one frees a place.
    await services.errands.picked_up(held[0].id, LIU)
    await services.errands.delivered(held[0].id, LIU)
    free = next(e for e in errands if e.id not in {h.id for h in held})
    assert (await services.errands.take(free.id, LIU)).outcome is Outcome.OK


async def test_only_volunteers_take_and_dead_errands_cannot_be_taken(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    errand = await services.errands.create(community, GRANNY, _draft(clock))
    assert (await services.errands.take(errand.id, LI)).outcome is Outcome.FORBIDDEN
    assert (await services.errands.take(987654, LIU)).outcome is Outcome.NOT_FOUND
    own = await services.errands.create(community, LIU, _draft(clock))
    assert (await services.errands.take(own.id, LIU)).outcome is Outcome.OWN
    assert (await services.errands.cancel(errand.id, LI)).outcome is Outcome.FORBIDDEN
    assert (await services.errands.cancel(errand.id, GRANNY)).outcome is Outcome.OK
    late = await services.errands.take(errand.id, LIU)
    assert late.outcome is Outcome.STALE and late.errand is not None
    assert late.errand.status is ErrandStatus.CANCELLED
    expiring = await services.errands.create(community, GRANNY, _draft(clock))
    clock.advance(hours=3)
    await services.errands.tick(clock.now())
    gone = await services.errands.take(expiring.id, LIU)
    assert gone.outcome is Outcome.STALE and gone.errand is not None
    assert gone.errand.status is ErrandStatus.EXPIRED


async def test_the_whole_life_earns_time_bank_points_once(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    errand = await services.errands.create(community, GRANNY, _draft(clock))
    assert (await services.errands.picked_up(errand.id, LIU)).outcome is Outcome.FORBIDDEN
    assert (await services.errands.take(errand.id, LIU)).outcome is Outcome.OK
    assert (await services.errands.delivered(errand.id, 5001)).outcome is Outcome.FORBIDDEN
    clock.advance(minutes=20)
    assert (await services.errands.picked_up(errand.id, LIU)).outcome is Outcome.OK
    clock.advance(minutes=20)  # 40 minutes in all: one hour of credit
    assert (await services.errands.delivered(errand.id, LIU)).outcome is Outcome.OK
    assert (await services.errands.confirm(errand.id, LIU)).outcome is Outcome.FORBIDDEN
    assert (await services.errands.rate(errand.id, GRANNY, 6)).outcome is Outcome.INVALID
    rated = await services.errands.rate(errand.id, GRANNY, 5)
    assert rated.outcome is Outcome.OK and rated.errand is not None
    assert rated.errand.status is ErrandStatus.CONFIRMED and rated.errand.rating == 5
    assert (await services.errands.rate(errand.id, GRANNY, 4)).outcome is Outcome.STALE
    assert (await services.errands.confirm(errand.id, GRANNY)).outcome is Outcome.STALE
    assert (await services.errands.thank(errand.id, GRANNY, "谢谢小刘！")).outcome is Outcome.OK
    balance, entries = await services.errands.points(LIU, community)
    assert balance == 2.0 and [e.points for e in entries] == [2.0]  # 1 h × 2 points per hour
    actions = [e.action for e in await services.errands.history(errand.id)]
    assert actions == ["post", "take", "pick_up", "deliver", "confirm", "rate", "thanks"]


async def test_periodic_work_reposts_flags_and_auto_confirms(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    errand = await services.errands.create(community, GRANNY, _draft(clock))
    clock.advance(minutes=14)
    await services.errands.tick(clock.now())
    assert (await services.errands.get(errand.id)).reposts == 0  # type: ignore[union-attr]
    clock.advance(minutes=2)
    await services.errands.tick(clock.now())
    await services.errands.tick(clock.now())
    assert (await services.errands.get(errand.id)).reposts == 1  # type: ignore[union-attr]
    clock.advance(minutes=45)
    await services.errands.tick(clock.now())
    assert (await services.errands.get(errand.id)).reposts == 2  # type: ignore[union-attr]
    await services.errands.take(errand.id, LIU)
    clock.advance(hours=2, minutes=1)
    await services.errands.tick(clock.now())
    flagged = await services.errands.get(errand.id)
    assert flagged is not None and flagged.flagged_at is not None
    await services.errands.delivered(errand.id, LIU)
    clock.advance(hours=24, minutes=1)
    await services.errands.tick(clock.now())
    done = await services.errands.get(errand.id)
    assert done is not None and done.status is ErrandStatus.CONFIRMED
    balance, _ = await services.errands.points(LIU, community)
    assert balance == 2 * 2.5  # 2 h 1 min rounds up to 2.5 h
    actions = [e.action for e in await services.errands.history(errand.id)]
    assert actions == ["post", "repost", "repost", "take", "flag", "deliver", "auto_confirm"]


async def test_give_back_reopens_and_cancel_after_pick_up_is_recorded(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    errand = await services.errands.create(community, GRANNY, _draft(clock))
    await services.errands.take(errand.id, LIU)
    back = await services.errands.give_back(errand.id, LIU)
    assert back.outcome is Outcome.OK and back.errand is not None
    assert back.errand.status is ErrandStatus.OPEN and back.errand.taker_id is None
    assigned = await services.errands.assign(errand.id, LI, 5001)
    assert assigned.outcome is Outcome.FORBIDDEN
    assigned = await services.errands.assign(errand.id, ZHANG, 5001)
    assert assigned.outcome is Outcome.OK and assigned.errand is not None
    assert assigned.errand.taker_id == 5001
    await services.errands.picked_up(errand.id, 5001)
    assert (await services.errands.give_back(errand.id, 5001)).outcome is Outcome.STALE
    cancelled = await services.errands.cancel(errand.id, GRANNY)
    assert cancelled.outcome is Outcome.OK
    actions = [e.action for e in await services.errands.history(errand.id)]
    assert actions == ["post", "take", "give_back", "assign", "pick_up", "cancel"]


async def test_the_board_names_only_those_who_agreed(
    services: Services, database: Database, clock: FakeClock
) -> None:
    community = await _community(database)
    for volunteer in (LIU, 5001):
        errand = await services.errands.create(community, GRANNY, _draft(clock))
        await services.errands.take(errand.id, volunteer)
        await services.errands.delivered(errand.id, volunteer)
        await services.errands.confirm(errand.id, GRANNY)
    await services.errands.set_named(LIU, community, True)
    await services.errands.set_named(5001, community, True)
    await services.errands.set_named(5001, community, False)
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(days=1)
    lines = await services.errands.board(community, start, end)
    assert [(line.name, line.errands) for line in lines] == [("小刘", 1)]


def test_credit_is_rounded_up_to_half_hours() -> None:
    from datetime import UTC, datetime

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert credit_hours(t0, t0) == 0.5
    assert credit_hours(t0, t0 + timedelta(minutes=31)) == 1.0
    assert credit_hours(t0, t0 + timedelta(minutes=90)) == 1.5
    assert credit_hours(t0, t0 + timedelta(minutes=91)) == 2.0
