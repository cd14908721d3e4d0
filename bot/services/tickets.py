"""Repair tickets (报修): numbers, the status model, history, staff actions, follow-up.

Every change is one transaction: the ticket row changes only if it is still in the status
the actor saw (so two staff pressing Accept at once get one result), an event records who,
when and why, and the messages it causes (the resident's update, staff notices) go into
the outbox in the same transaction, with keys `ticket:<id>:<event id>:<chat>`. What the
messages say is the renderer's business (`TicketRenderer`, set by the handlers), so this
module knows nothing of Telegram.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, overload
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.services.languages import community_language, person_language
from bot.services.roles import RoleService
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    ChatKind,
    Community,
    Counter,
    Dialog,
    DialogStatus,
    Membership,
    Role,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketStatus,
    User,
)
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

CATEGORIES = ("water_power", "doors_windows", "lift", "public", "gas", "other")
OPEN = (
    TicketStatus.SUBMITTED,
    TicketStatus.ACCEPTED,
    TicketStatus.ASSIGNED,
    TicketStatus.IN_PROGRESS,
)
CANCELLABLE = (TicketStatus.SUBMITTED, TicketStatus.ACCEPTED, TicketStatus.ASSIGNED)
URGE_EVERY = timedelta(minutes=30)
ACCEPT_WITHIN = timedelta(minutes=30)
ACCEPT_WITHIN_URGENT = timedelta(minutes=10)
ESCALATE_AFTER = timedelta(hours=48)
DIGEST_HOUR = 8
NUMBER = re.compile(r"^(?:BX-)?(\d{4})-(\d{1,6})$", re.IGNORECASE)


class Action(enum.StrEnum):
    """What someone does to a ticket."""

    ACCEPT = "accept"
    ASSIGN = "assign"
    START = "start"
    DONE = "done"
    REJECT = "reject"
    DUPLICATE = "duplicate"
    CANCEL = "cancel"
    REOPEN = "reopen"


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[tuple[TicketStatus, ...], TicketStatus]] = {
    Action.ACCEPT: ((TicketStatus.SUBMITTED,), TicketStatus.ACCEPTED),
    Action.ASSIGN: (
        (TicketStatus.SUBMITTED, TicketStatus.ACCEPTED, TicketStatus.ASSIGNED),
        TicketStatus.ASSIGNED,
    ),
    Action.START: (
        (TicketStatus.SUBMITTED, TicketStatus.ACCEPTED, TicketStatus.ASSIGNED),
        TicketStatus.IN_PROGRESS,
    ),
    Action.DONE: (
        (TicketStatus.IN_PROGRESS, TicketStatus.ASSIGNED, TicketStatus.ACCEPTED),
        TicketStatus.DONE,
    ),
    Action.REJECT: (OPEN, TicketStatus.CLOSED),
    Action.DUPLICATE: (OPEN, TicketStatus.DUPLICATE),
    Action.CANCEL: (CANCELLABLE, TicketStatus.CANCELLED),
    Action.REOPEN: ((TicketStatus.DONE,), TicketStatus.ACCEPTED),
}
STAFF_ACTIONS = (
    Action.ACCEPT,
    Action.ASSIGN,
    Action.START,
    Action.DONE,
    Action.REJECT,
    Action.DUPLICATE,
)
NEEDS_NOTE = (Action.REJECT,)


class Outcome(enum.StrEnum):
    """What became of an attempt to change a ticket."""

    OK = "ok"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    STALE = "stale"  # someone else changed it first, or the action does not apply now
    INVALID = "invalid"
    TOO_SOON = "too_soon"


@dataclass(frozen=True)
class Result:
    """The outcome, the ticket as it is now, and for STALE who changed it last."""

    outcome: Outcome
    ticket: Ticket | None = None
    by: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Notice:
    """A message to queue: where and what (the renderer's payload)."""

    chat_id: int
    payload: dict[str, Any]


class TicketRenderer(Protocol):
    """Turns ticket events into messages (implemented by handlers/repair.py)."""

    def staff_card(self, ticket: Ticket, language: str) -> dict[str, Any]:
        """The card the staff group gets for a new ticket, with its action buttons."""
        ...

    def resident_update(self, ticket: Ticket, event: TicketEvent, language: str) -> dict[str, Any]:
        """The private message a resident (or follower) gets about a change."""
        ...

    def staff_notice(self, ticket: Ticket, event: TicketEvent, language: str) -> dict[str, Any]:
        """A line to the staff group: urged, new information, reopened, reminder, escalation."""
        ...

    def digest(self, tickets: Sequence[Ticket], language: str, now: datetime) -> dict[str, Any]:
        """The morning list of open tickets."""
        ...

    def media(self, ticket: Ticket, event: TicketEvent) -> list[tuple[str, dict[str, Any]]]:
        """(Bot API method, payload) of the photos and voice that follow an event's message."""
        ...


@dataclass
class Draft:
    """What the repair dialog collected."""

    category: str
    description: str
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    public_spot: str | None = None
    photos: list[str] = field(default_factory=list)
    voice_file_id: str | None = None
    urgent: bool = False
    phone: str | None = None
    preferred_time: str | None = None


class TicketService:
    """Creates tickets and moves them through their life."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock
        self.renderer: TicketRenderer | None = None

    # --- creating -------------------------------------------------------------------------

    async def similar_open(
        self, community_id: int, building: str | None, category: str
    ) -> list[Ticket]:
        """Open tickets of the same building (or public spot) and category, newest first."""
        async with self.db.uow() as uow:
            stmt = (
                select(Ticket)
                .where(
                    Ticket.community_id == community_id,
                    Ticket.category == category,
                    Ticket.status.in_(OPEN),
                    Ticket.building == building if building else Ticket.building.is_(None),
                )
                .order_by(Ticket.id.desc())
                .limit(3)
            )
            return list((await uow.session.scalars(stmt)).all())

    @overload
    async def submit(self, community_id: int, resident_id: int, draft: Draft) -> Ticket: ...

    @overload
    async def submit(
        self, community_id: int, resident_id: int, draft: Draft, *, dialog_id: int
    ) -> Ticket | None: ...

    async def submit(
        self, community_id: int, resident_id: int, draft: Draft, *, dialog_id: int | None = None
    ) -> Ticket | None:
        """Create a ticket, remember the address and phone, and queue the staff card.

        With `dialog_id`, the dialog that collected the draft ends in the same transaction
        (None if it had ended already: a double press), so a crash cannot end the dialog
        without the ticket, or make the ticket and leave the dialog open to submit it again.
        """
        now = self.clock.now()
        async with self.db.uow() as uow:
            if dialog_id is not None:
                ended = await uow.session.execute(
                    update(Dialog)
                    .where(Dialog.id == dialog_id, Dialog.status == DialogStatus.ACTIVE)
                    .values(status=DialogStatus.DONE, updated_at=now)
                )
                if ended.rowcount != 1:
                    return None
            community = await uow.communities.get(community_id)
            assert community is not None
            ticket = Ticket(
                community_id=community_id,
                number=await self._next_number(uow, community, now),
                resident_id=resident_id,
                category=draft.category,
                building=draft.building,
                unit=draft.unit,
                room=draft.room,
                public_spot=draft.public_spot,
                description=draft.description,
                photos={"file_ids": list(draft.photos)[:3]},
                voice_file_id=draft.voice_file_id,
                urgent=draft.urgent,
                phone=draft.phone,
                preferred_time=draft.preferred_time,
                status=TicketStatus.SUBMITTED,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(ticket)
            await uow.session.flush()
            event = TicketEvent(
                ticket_id=ticket.id,
                actor_id=resident_id,
                action="submit",
                to_status="submitted",
                at=now,
            )
            uow.session.add(event)
            user = await uow.users.get(resident_id)
            if user is not None:
                if draft.building and draft.room:
                    user.building, user.unit, user.room = draft.building, draft.unit, draft.room
                if draft.phone:
                    user.phone = draft.phone
            await uow.session.flush()
            await self._queue_staff(uow, ticket, event, card=True)
            await self._queue_people(uow, ticket, event)
            await uow.commit()
            return ticket

    async def _next_number(self, uow: UnitOfWork, community: Community, now: datetime) -> str:
        year = now.astimezone(ZoneInfo(community.timezone)).year
        name = f"repair-{year}"
        result = await uow.session.execute(
            update(Counter)
            .where(Counter.community_id == community.id, Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
        value = result.scalar_one_or_none()
        if value is None:
            try:
                async with uow.session.begin_nested():
                    uow.session.add(Counter(community_id=community.id, name=name, value=1))
                value = 1
            except IntegrityError:  # another process created this year's counter first
                return await self._next_number(uow, community, now)
        return f"BX-{year}-{value:04d}"

    async def me_too(self, ticket_id: int, user_id: int) -> Result:
        """A neighbour has the same problem: follow the ticket instead of a duplicate."""
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            if ticket is None or ticket.status not in OPEN:
                return Result(Outcome.STALE, ticket)
            exists = await uow.session.scalar(
                select(TicketFollower).where(
                    TicketFollower.ticket_id == ticket_id, TicketFollower.user_id == user_id
                )
            )
            if exists is None and ticket.resident_id != user_id:
                uow.session.add(TicketFollower(ticket_id=ticket_id, user_id=user_id))
                event = TicketEvent(
                    ticket_id=ticket_id, actor_id=user_id, action="me_too", at=self.clock.now()
                )
                uow.session.add(event)
                await uow.session.flush()
                await self._queue_staff(uow, ticket, event)
            await uow.commit()
            return Result(Outcome.OK, ticket)

    # --- reading ----------------------------------------------------------------------------

    async def get(self, ticket_id: int) -> Ticket | None:
        """One ticket by its database id."""
        async with self.db.uow() as uow:
            return await uow.session.get(Ticket, ticket_id)

    async def by_number(self, community_id: int, text: str) -> Ticket | None:
        """A ticket by what a person types: BX-2026-0001, 2026-1, or its database id."""
        cleaned = text.strip().upper()
        async with self.db.uow() as uow:
            found = NUMBER.match(cleaned)
            if found:
                number = f"BX-{found.group(1)}-{int(found.group(2)):04d}"
                return await uow.session.scalar(
                    select(Ticket).where(
                        Ticket.community_id == community_id, Ticket.number == number
                    )
                )
            if cleaned.isdigit() and len(cleaned) <= 9:  # longer: no such ticket (and no overflow)
                ticket = await uow.session.get(Ticket, int(cleaned))
                return ticket if ticket and ticket.community_id == community_id else None
        return None

    async def cards(self, ticket_id: int) -> tuple[str, list[tuple[int, int]]]:
        """The staff cards sent for a ticket: their language and (chat, message id) each."""
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            submitted = await uow.session.scalar(
                select(TicketEvent.id).where(
                    TicketEvent.ticket_id == ticket_id, TicketEvent.action == "submit"
                )
            )
            if ticket is None or submitted is None:
                return self.settings.default_language, []
            found = []
            for chat in await uow.chats.of_community(ticket.community_id, ChatKind.STAFF):
                row = await uow.outbox.by_key(f"ticket:{ticket_id}:{submitted}:{chat.telegram_id}")
                if row is not None and row.telegram_message_id is not None:
                    found.append((row.chat_telegram_id, row.telegram_message_id))
            return await self._community_language(uow, ticket.community_id), found

    async def history(self, ticket_id: int) -> list[TicketEvent]:
        """Every change of a ticket, oldest first."""
        async with self.db.uow() as uow:
            stmt = (
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
            return list((await uow.session.scalars(stmt)).all())

    async def of_resident(self, user_id: int, open_only: bool = False) -> list[Ticket]:
        """A resident's tickets, newest first."""
        async with self.db.uow() as uow:
            stmt = select(Ticket).where(Ticket.resident_id == user_id).order_by(Ticket.id.desc())
            if open_only:
                stmt = stmt.where(Ticket.status.in_(OPEN))
            return list((await uow.session.scalars(stmt.limit(20))).all())

    async def listing(
        self,
        community_id: int,
        *,
        which: str = "open",
        user_id: int | None = None,
        building: str | None = None,
        category: str | None = None,
        limit: int = 30,
    ) -> list[Ticket]:
        """Tickets for /tickets: open, mine (assigned to me), overdue, all; by building/category."""
        now = self.clock.now()
        stmt = select(Ticket).where(Ticket.community_id == community_id)
        if which in ("open", "mine", "overdue"):
            stmt = stmt.where(Ticket.status.in_(OPEN))
        if which == "mine":
            stmt = stmt.where(Ticket.assignee_id == user_id)
        if which == "overdue":
            stmt = stmt.where(Ticket.created_at <= now - ESCALATE_AFTER)
        if building:
            stmt = stmt.where(Ticket.building == building)
        if category:
            stmt = stmt.where(Ticket.category == category)
        async with self.db.uow() as uow:
            return list(
                (await uow.session.scalars(stmt.order_by(Ticket.id.desc()).limit(limit))).all()
            )

    async def staff_of(self, community_id: int) -> list[User]:
        """Staff members of the community (for Assign)."""
        async with self.db.uow() as uow:
            stmt = (
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.community_id == community_id,
                    Membership.role.in_((Role.STAFF, Role.ADMIN)),
                )
                .order_by(User.id)
                .distinct()
            )
            return list((await uow.session.scalars(stmt)).all())

    async def is_staff(self, user_id: int, community_id: int) -> bool:
        """True for staff and admins of the community (and global admins)."""
        return await self.roles.has_role(user_id, community_id, Role.STAFF)

    # --- changing ---------------------------------------------------------------------------

    async def act(
        self,
        ticket_id: int,
        actor_id: int,
        action: Action,
        *,
        expected: TicketStatus | None = None,
        note: str | None = None,
        photo: str | None = None,
        assignee_id: int | None = None,
        assignee_name: str | None = None,
        duplicate_of: int | None = None,
    ) -> Result:
        """Apply an action if the actor may and the ticket is where they saw it."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            if ticket is None:
                return Result(Outcome.NOT_FOUND)
            if (
                action in STAFF_ACTIONS
                or action is Action.REOPEN
                and actor_id != ticket.resident_id
            ):
                if not await self.is_staff(actor_id, ticket.community_id):
                    return Result(Outcome.FORBIDDEN, ticket)
            elif action is Action.CANCEL and actor_id != ticket.resident_id:
                return Result(Outcome.FORBIDDEN, ticket)
            sources, target = TRANSITIONS[action]
            current = ticket.status
            if current not in sources or (expected is not None and current is not expected):
                return Result(Outcome.STALE, ticket, await self._last_actor(uow, ticket.id))
            if action in NEEDS_NOTE and not (note or "").strip():
                return Result(Outcome.INVALID, ticket, detail="note")
            values: dict[str, Any] = {"status": target, "updated_at": now}
            if action is Action.ACCEPT:
                values["accepted_at"] = now
            if action is Action.ASSIGN:
                values["assignee_id"], values["assignee_name"] = assignee_id, assignee_name
                values["accepted_at"] = ticket.accepted_at or now
            if action is Action.DUPLICATE:
                original = await uow.session.get(Ticket, duplicate_of) if duplicate_of else None
                if (
                    original is None
                    or original.id == ticket.id
                    or original.community_id != ticket.community_id
                ):
                    return Result(Outcome.INVALID, ticket, detail="duplicate_of")
                values["duplicate_of_id"] = original.id
            if target in (
                TicketStatus.DONE,
                TicketStatus.CLOSED,
                TicketStatus.DUPLICATE,
                TicketStatus.CANCELLED,
            ):
                values["finished_at"] = now
            if action is Action.REOPEN:
                values.update(finished_at=None, rating=None)
            changed = await uow.session.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id, Ticket.status == current)
                .values(**values)
            )
            if not changed.rowcount:  # someone else changed it between our read and write
                return await self._stale(ticket_id)
            event = TicketEvent(
                ticket_id=ticket.id,
                actor_id=actor_id,
                action=action.value,
                from_status=current.value,
                to_status=target.value,
                note=(note or "").strip() or None,
                photo_file_id=photo,
                at=now,
            )
            uow.session.add(event)
            await uow.session.flush()
            await uow.session.refresh(ticket)
            await self._queue_people(uow, ticket, event, skip=actor_id)
            if action in (Action.CANCEL, Action.REOPEN):
                await self._queue_staff(uow, ticket, event)
            await uow.commit()
            return Result(Outcome.OK, ticket)

    async def _stale(self, ticket_id: int) -> Result:
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            return Result(Outcome.STALE, ticket, await self._last_actor(uow, ticket_id))

    async def _last_actor(self, uow: UnitOfWork, ticket_id: int) -> str | None:
        event = await uow.session.scalar(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id.desc())
        )
        if event is None or event.actor_id is None:
            return None
        user = await uow.users.get(event.actor_id)
        return user.display_name if user else None

    @staticmethod
    async def _own_open(
        uow: UnitOfWork, ticket_id: int, user_id: int
    ) -> tuple[Ticket | None, Result | None]:
        """The resident's own open ticket, or the Result refusing the action."""
        ticket = await uow.session.get(Ticket, ticket_id)
        if ticket is None:
            return None, Result(Outcome.NOT_FOUND)
        if ticket.resident_id != user_id:
            return None, Result(Outcome.FORBIDDEN, ticket)
        if ticket.status not in OPEN:
            return None, Result(Outcome.STALE, ticket)
        return ticket, None

    async def add_info(
        self, ticket_id: int, user_id: int, text: str | None, photo: str | None
    ) -> Result:
        """The resident adds information; the staff group hears of it."""
        async with self.db.uow() as uow:
            ticket, refused = await self._own_open(uow, ticket_id, user_id)
            if refused is not None:
                return refused
            assert ticket is not None
            event = TicketEvent(
                ticket_id=ticket.id,
                actor_id=user_id,
                action="info",
                note=(text or "").strip()[:2000] or None,
                photo_file_id=photo,
                at=self.clock.now(),
            )
            uow.session.add(event)
            await uow.session.flush()
            await self._queue_staff(uow, ticket, event)
            await uow.commit()
            return Result(Outcome.OK, ticket)

    async def urge(self, ticket_id: int, user_id: int) -> Result:
        """催单: at most once per 30 minutes; the staff group is told."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            ticket, refused = await self._own_open(uow, ticket_id, user_id)
            if refused is not None:
                return refused
            assert ticket is not None
            if ticket.urged_at is not None and now - ticket.urged_at < URGE_EVERY:
                wait = URGE_EVERY - (now - ticket.urged_at)
                return Result(
                    Outcome.TOO_SOON,
                    ticket,
                    detail=str(max(1, int(wait.total_seconds() // 60) + 1)),
                )
            ticket.urged_at = now
            event = TicketEvent(ticket_id=ticket.id, actor_id=user_id, action="urge", at=now)
            uow.session.add(event)
            await uow.session.flush()
            await self._queue_staff(uow, ticket, event)
            await uow.commit()
            return Result(Outcome.OK, ticket)

    async def rate(
        self, ticket_id: int, user_id: int, stars: int, comment: str | None = None
    ) -> Result:
        """The resident rates a done ticket 1–5; 1 or 2 reopens it."""
        if not 1 <= stars <= 5:
            return Result(Outcome.INVALID, detail="stars")
        now = self.clock.now()
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            if ticket is None:
                return Result(Outcome.NOT_FOUND)
            if ticket.resident_id != user_id:
                return Result(Outcome.FORBIDDEN, ticket)
            if ticket.status is not TicketStatus.DONE or ticket.rating is not None:
                return Result(Outcome.STALE, ticket)
            ticket.rating, ticket.rating_comment = stars, (comment or "").strip()[:1000] or None
            event = TicketEvent(
                ticket_id=ticket.id,
                actor_id=user_id,
                action="rate",
                note=f"{stars}★ {comment or ''}".strip(),
                at=now,
            )
            uow.session.add(event)
            await uow.session.flush()
            await self._queue_staff(uow, ticket, event)
            await uow.commit()
        if stars <= 2:
            return await self._reopen(ticket_id, user_id, stars)
        return Result(Outcome.OK, ticket)

    async def comment(self, ticket_id: int, user_id: int, text: str) -> Result:
        """A comment after a rating."""
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            if ticket is None or ticket.resident_id != user_id:
                return Result(Outcome.NOT_FOUND)
            ticket.rating_comment = text.strip()[:1000] or None
            uow.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor_id=user_id,
                    action="comment",
                    note=ticket.rating_comment,
                    at=self.clock.now(),
                )
            )
            await uow.commit()
            return Result(Outcome.OK, ticket)

    async def _reopen(self, ticket_id: int, user_id: int, stars: int) -> Result:
        now = self.clock.now()
        async with self.db.uow() as uow:
            ticket = await uow.session.get(Ticket, ticket_id)
            assert ticket is not None
            changed = await uow.session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == TicketStatus.DONE)
                .values(status=TicketStatus.ACCEPTED, finished_at=None, updated_at=now)
            )
            if not changed.rowcount:
                return Result(Outcome.STALE, ticket)
            event = TicketEvent(
                ticket_id=ticket_id,
                actor_id=user_id,
                action="reopen",
                from_status="done",
                to_status="accepted",
                note=f"{stars}★",
                at=now,
            )
            uow.session.add(event)
            await uow.session.flush()
            await uow.session.refresh(ticket)
            await self._queue_staff(uow, ticket, event)
            await uow.commit()
            return Result(Outcome.OK, ticket)

    # --- messages -----------------------------------------------------------------------------

    async def _language(self, uow: UnitOfWork, user_id: int, default: str) -> str:
        return await person_language(uow, user_id, default)

    async def _community_language(self, uow: UnitOfWork, community_id: int) -> str:
        return await community_language(uow, community_id, self.settings.default_language)

    async def _queue_people(
        self, uow: UnitOfWork, ticket: Ticket, event: TicketEvent, skip: int | None = None
    ) -> None:
        """The resident and the neighbours who said "me too" hear of the change in private."""
        if self.renderer is None:
            return
        people = [ticket.resident_id] if ticket.resident_id else []
        people += list(
            await uow.session.scalars(
                select(TicketFollower.user_id).where(TicketFollower.ticket_id == ticket.id)
            )
        )
        default = await self._community_language(uow, ticket.community_id)
        for user_id in dict.fromkeys(people):
            if user_id is None or user_id == skip:
                continue
            language = await self._language(uow, user_id, default)
            payload = self.renderer.resident_update(ticket, event, language)
            key = f"ticket:{ticket.id}:{event.id}:{user_id}"
            await uow.outbox.enqueue(key, user_id, payload)
            if event.action != "submit":  # not their own photos back
                await self._queue_media(uow, key, user_id, ticket, event)

    async def _queue_staff(
        self, uow: UnitOfWork, ticket: Ticket, event: TicketEvent, *, card: bool = False
    ) -> None:
        """The community's staff group(s): the card for a new ticket, else a notice."""
        if self.renderer is None:
            return
        language = await self._community_language(uow, ticket.community_id)
        chats = await uow.chats.of_community(ticket.community_id, ChatKind.STAFF)
        for chat in chats:
            if not chat.active:
                continue
            payload = (
                self.renderer.staff_card(ticket, language)
                if card
                else self.renderer.staff_notice(ticket, event, language)
            )
            key = f"ticket:{ticket.id}:{event.id}:{chat.telegram_id}"
            await uow.outbox.enqueue(key, chat.telegram_id, payload)
            await self._queue_media(uow, key, chat.telegram_id, ticket, event)

    async def _queue_media(
        self, uow: UnitOfWork, key: str, chat_id: int, ticket: Ticket, event: TicketEvent
    ) -> None:
        """The photos and voice message after the text (the outbox keeps a chat's order)."""
        assert self.renderer is not None
        for i, (method, payload) in enumerate(self.renderer.media(ticket, event)):
            await uow.outbox.enqueue(f"{key}:m{i}", chat_id, payload, method=method)

    # --- periodic -------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """Reminders for tickets nobody accepted, escalations of old ones, the morning digest."""
        await self._remind_unaccepted(now)
        await self._escalate(now)
        await self._digest(now)

    async def _remind_unaccepted(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Ticket).where(
                Ticket.status == TicketStatus.SUBMITTED,
                Ticket.reminded_at.is_(None),
                Ticket.created_at <= now - ACCEPT_WITHIN_URGENT,
            )
            for ticket in (await uow.session.scalars(stmt)).all():
                limit = ACCEPT_WITHIN_URGENT if ticket.urgent else ACCEPT_WITHIN
                if ticket.created_at > now - limit:
                    continue
                ticket.reminded_at = now
                event = TicketEvent(ticket_id=ticket.id, action="remind", at=now)
                uow.session.add(event)
                await uow.session.flush()
                await self._queue_staff(uow, ticket, event)
            await uow.commit()

    async def _escalate(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Ticket).where(
                Ticket.status.in_(OPEN),
                Ticket.escalated_at.is_(None),
                Ticket.created_at <= now - ESCALATE_AFTER,
            )
            for ticket in (await uow.session.scalars(stmt)).all():
                ticket.escalated_at = now
                event = TicketEvent(ticket_id=ticket.id, action="escalate", at=now)
                uow.session.add(event)
                await uow.session.flush()
                await self._queue_staff(uow, ticket, event)
                if self.renderer is None:
                    continue
                admins = await uow.session.scalars(
                    select(Membership.user_id).where(
                        Membership.community_id == ticket.community_id,
                        Membership.role == Role.ADMIN,
                    )
                )
                default = await self._community_language(uow, ticket.community_id)
                for admin_id in set(admins) | set(self.settings.admin_ids):
                    language = await self._language(uow, admin_id, default)
                    payload = self.renderer.staff_notice(ticket, event, language)
                    await uow.outbox.enqueue(
                        f"ticket:{ticket.id}:{event.id}:{admin_id}", admin_id, payload
                    )
            await uow.commit()

    async def _digest(self, now: datetime) -> None:
        if self.renderer is None:
            return
        async with self.db.uow() as uow:
            for community in await uow.communities.all():
                local = now.astimezone(ZoneInfo(community.timezone))
                if local.hour < DIGEST_HOUR:
                    continue
                stmt = (
                    select(Ticket)
                    .where(Ticket.community_id == community.id, Ticket.status.in_(OPEN))
                    .order_by(Ticket.urgent.desc(), Ticket.created_at)
                )
                tickets = list((await uow.session.scalars(stmt)).all())
                if not tickets:
                    continue
                payload = self.renderer.digest(tickets, community.language, now)
                for chat in await uow.chats.of_community(community.id, ChatKind.STAFF):
                    if chat.active:
                        key = f"digest:{community.id}:{local.date().isoformat()}:{chat.telegram_id}"
                        await uow.outbox.enqueue(key, chat.telegram_id, payload)
            await uow.commit()

    async def counts(self, community_id: int) -> dict[str, int]:
        """How many tickets per status."""
        async with self.db.uow() as uow:
            rows = await uow.session.execute(
                select(Ticket.status, func.count())
                .where(Ticket.community_id == community_id)
                .group_by(Ticket.status)
            )
            return {status.value: int(n) for status, n in rows.all()}

    # --- reading, for the dashboard ---------------------------------------------------------------

    async def assignable(self, community_id: int) -> list[User]:
        """Who a ticket may be assigned to: the community's staff, admins and volunteers."""
        async with self.db.uow() as uow:
            stmt = (
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.community_id == community_id,
                    Membership.role.in_((Role.VOLUNTEER, Role.STAFF, Role.ADMIN)),
                )
                .order_by(User.id)
                .distinct()
            )
            return list((await uow.session.scalars(stmt)).all())

    async def buildings(self, community_id: int) -> list[str]:
        """The buildings the community's tickets name (for a filter)."""
        async with self.db.uow() as uow:
            found = await uow.session.scalars(
                select(Ticket.building)
                .where(Ticket.community_id == community_id, Ticket.building.is_not(None))
                .distinct()
            )
            return sorted(
                (b for b in found.all() if b), key=lambda b: (not b.isdigit(), b.zfill(6))
            )

    def is_overdue(self, ticket: Ticket, now: datetime | None = None) -> bool:
        """The bot's overdue rule (/tickets overdue, escalation): open for 48 hours or more."""
        now = now or self.clock.now()
        return ticket.status in OPEN and ticket.created_at <= now - ESCALATE_AFTER
