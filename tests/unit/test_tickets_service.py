"""Tickets on both databases: numbers, one result for concurrent presses, the status model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.clock import FakeClock
from bot.demo import seed_demo
from bot.services import Services
from bot.services.tickets import Action, Draft, Outcome
from bot.settings import Settings
from storage.db import Database
from storage.models import Role, TicketStatus

WANG, LI, ZHANG, LIU = 1001, 1002, 2001, 3001


@pytest.fixture
async def services(database: Database, make_settings: Callable[..., Settings]) -> Services:
    settings = make_settings()
    await seed_demo(database, settings.timezone, settings.default_language)
    services = Services.build(database, settings, FakeClock())
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        await uow.memberships.grant(LIU, community.id, Role.STAFF, ZHANG)
        await uow.commit()
    return services


async def _community(database: Database) -> int:
    async with database.uow() as uow:
        [community] = await uow.communities.all()
        return community.id


def _draft(text: str = "电梯按钮失灵") -> Draft:
    return Draft(
        category="lift", description=text, building="3", unit="1", room="302", phone="13812345678"
    )


async def test_numbers_are_unique_and_in_order_even_when_submitted_together(
    services: Services, database: Database
) -> None:
    community = await _community(database)
    tickets = await asyncio.gather(
        *(services.tickets.submit(community, WANG, _draft(f"问题{i}")) for i in range(6))
    )
    numbers = sorted(t.number for t in tickets)
    assert numbers == [f"BX-2026-{i:04d}" for i in range(1, 7)]


async def test_two_staff_accepting_at_once_get_one_result(
    services: Services, database: Database
) -> None:
    ticket = await services.tickets.submit(await _community(database), WANG, _draft())
    results = await asyncio.gather(
        services.tickets.act(ticket.id, ZHANG, Action.ACCEPT, expected=TicketStatus.SUBMITTED),
        services.tickets.act(ticket.id, LIU, Action.ACCEPT, expected=TicketStatus.SUBMITTED),
    )
    assert sorted(r.outcome.value for r in results) == ["ok", "stale"]
    history = await services.tickets.history(ticket.id)
    assert [e.action for e in history] == ["submit", "accept"]


async def test_the_status_model_refuses_what_does_not_apply(
    services: Services, database: Database
) -> None:
    ticket = await services.tickets.submit(await _community(database), WANG, _draft())
    assert (await services.tickets.act(ticket.id, WANG, Action.ACCEPT)).outcome is Outcome.FORBIDDEN
    assert (await services.tickets.act(ticket.id, LI, Action.CANCEL)).outcome is Outcome.FORBIDDEN
    assert (
        await services.tickets.act(ticket.id, ZHANG, Action.REJECT, note=" ")
    ).outcome is Outcome.INVALID
    assert (await services.tickets.act(ticket.id, ZHANG, Action.DONE)).outcome is Outcome.STALE
    assert (await services.tickets.act(ticket.id, ZHANG, Action.START)).outcome is Outcome.OK
    assert (await services.tickets.act(ticket.id, WANG, Action.CANCEL)).outcome is Outcome.STALE
    done = await services.tickets.act(ticket.id, ZHANG, Action.DONE, note="换了面板")
    assert (
        done.outcome is Outcome.OK
        and done.ticket is not None
        and done.ticket.finished_at is not None
    )
    assert (await services.tickets.rate(ticket.id, WANG, 6)).outcome is Outcome.INVALID
    reopened = await services.tickets.rate(ticket.id, WANG, 2)
    assert reopened.outcome is Outcome.OK and reopened.ticket is not None
    assert reopened.ticket.status is TicketStatus.ACCEPTED
    assert (await services.tickets.act(987654, ZHANG, Action.ACCEPT)).outcome is Outcome.NOT_FOUND


async def test_forgetting_the_resident_keeps_the_repair_without_phone_or_flat(
    services: Services, database: Database
) -> None:
    ticket = await services.tickets.submit(await _community(database), WANG, _draft())
    assert await services.privacy.forget(WANG)
    kept = await services.tickets.get(ticket.id)
    assert kept is not None and kept.building == "3"
    assert (
        kept.phone is None and kept.room is None and kept.unit is None and kept.resident_id is None
    )
