"""What must hold in the database after any storm: the checks the proving suite runs.

`problems(db)` returns a list of broken rules (empty when all hold): the storage engine's own
integrity check, then Linli's rules — places taken equal places held, one active dialog per
person, a ticket's status matches its history, no message left "sending" by a dispatcher that
is idle, one notice posting per occurrence and chat, one check-in per elder and day.
"""

from __future__ import annotations

from sqlalchemy import func, select, text

from storage.db import Database
from storage.models import (
    Activity,
    CheckIn,
    Dialog,
    DialogStatus,
    NoticePost,
    OutboxMessage,
    OutboxStatus,
    Signup,
    Ticket,
    TicketEvent,
)


async def problems(db: Database, *, outbox_idle: bool = True) -> list[str]:
    """Every rule broken, as a sentence; [] when the database is consistent."""
    found: list[str] = []
    async with db.uow() as uow:
        session = uow.session
        if session.bind.dialect.name == "sqlite":
            [[verdict]] = (await session.execute(text("PRAGMA integrity_check"))).all()
            if verdict != "ok":
                found.append(f"SQLite integrity check: {verdict}")
            for row in (await session.execute(text("PRAGMA foreign_key_check"))).all():
                found.append(f"dangling foreign key: {tuple(row)}")

        held = (
            select(Signup.activity_id, func.sum(Signup.places).label("held"))
            .where(Signup.status == "joined")
            .group_by(Signup.activity_id)
            .subquery()
        )
        for activity_id, taken, capacity, places in (
            await session.execute(
                select(
                    Activity.id,
                    Activity.seats_taken,
                    Activity.capacity,
                    func.coalesce(held.c.held, 0),
                ).outerjoin(held, held.c.activity_id == Activity.id)
            )
        ).all():
            if taken != places:
                found.append(f"activity {activity_id}: {taken} places taken, {places} held")
            if capacity is not None and taken > capacity:
                found.append(f"activity {activity_id}: {taken} places of {capacity}")

        for user_id, count in (
            await session.execute(
                select(Dialog.user_id, func.count())
                .where(Dialog.status == DialogStatus.ACTIVE)
                .group_by(Dialog.user_id)
                .having(func.count() > 1)
            )
        ).all():
            found.append(f"user {user_id}: {count} active dialogs")

        last_event = (
            select(TicketEvent.ticket_id, func.max(TicketEvent.id).label("last"))
            .where(TicketEvent.to_status.is_not(None))
            .group_by(TicketEvent.ticket_id)
            .subquery()
        )
        for number, status, last_status in (
            await session.execute(
                select(Ticket.number, Ticket.status, TicketEvent.to_status)
                .outerjoin(last_event, last_event.c.ticket_id == Ticket.id)
                .outerjoin(TicketEvent, TicketEvent.id == last_event.c.last)
            )
        ).all():
            if last_status is None:
                found.append(f"ticket {number}: no history")
            elif last_status != status:
                found.append(f"ticket {number}: status {status}, history says {last_status}")

        for occurrence, chat, count in (
            await session.execute(
                select(NoticePost.occurrence_id, NoticePost.chat_id, func.count())
                .group_by(NoticePost.occurrence_id, NoticePost.chat_id)
                .having(func.count() > 1)
            )
        ).all():
            found.append(f"notice occurrence {occurrence}: posted {count} times in chat {chat}")

        for elder, day, count in (
            await session.execute(
                select(CheckIn.elder_id, CheckIn.day, func.count())
                .group_by(CheckIn.elder_id, CheckIn.day)
                .having(func.count() > 1)
            )
        ).all():
            found.append(f"elder {elder}: {count} check-ins on {day}")

        if outbox_idle:
            stuck = await session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.SENDING)
            )
            if stuck:
                found.append(f"{stuck} outbox message(s) left in sending")
    return found
