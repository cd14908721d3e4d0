"""Errands between neighbours (跑腿): request, take, pick up, deliver, confirm, thank.

Like the repair tickets, every change is one transaction: the errand row changes only if it
is still in the status the actor saw (a conditional UPDATE, so of many volunteers pressing
Take at once exactly one wins), an event records who, when and what, and the messages it
causes go into the outbox in the same transaction with keys `errand:<id>:<event id>:<chat>`.
What the messages say is the renderer's business (`ErrandRenderer`, set by the handlers).

Time-bank credit: on confirmation the taker earns `points_per_hour` × hours, where the
hours are the time from taking to delivering rounded up to half hours, at least half an hour.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.services.languages import community_language, person_language
from bot.services.roles import RoleService
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    ChatKind,
    Errand,
    ErrandEvent,
    ErrandStatus,
    Membership,
    Role,
    TimeBankEntry,
    User,
    VolunteerPreference,
)
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

KINDS = ("groceries", "medicine", "parcel", "clinic_company", "other")
PAYMENTS = ("repay", "timebank")
MAX_TIP = 200  # yuan
HELD = (ErrandStatus.TAKEN, ErrandStatus.PICKED_UP)  # what counts against the max-open limit
LIVE = (ErrandStatus.OPEN, ErrandStatus.TAKEN, ErrandStatus.PICKED_UP, ErrandStatus.DELIVERED)
CANCELLABLE = (ErrandStatus.OPEN, ErrandStatus.TAKEN, ErrandStatus.PICKED_UP)
REPOSTS = (timedelta(minutes=15), timedelta(minutes=60))
FLAG_AFTER = timedelta(hours=2)
AUTO_CONFIRM_AFTER = timedelta(hours=24)
BOARD_DAY, BOARD_HOUR = 1, 10  # the thank-you board: the 1st of the month, 10:00 local


class Outcome(enum.StrEnum):
    """What became of an attempt to change an errand."""

    OK = "ok"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"  # not a volunteer, not the taker, not the requester …
    STALE = "stale"  # taken by someone else, cancelled, expired, or changed meanwhile
    LIMIT = "limit"  # the volunteer holds the most errands allowed
    OWN = "own"  # a volunteer pressing Take on their own errand
    INVALID = "invalid"


@dataclass(frozen=True)
class Result:
    """The outcome, the errand as it is now, and for STALE who holds it."""

    outcome: Outcome
    errand: Errand | None = None
    by: str | None = None


@dataclass
class ErrandDraft:
    """What the errand dialog collected."""

    kind: str
    details: str
    from_place: str
    to_place: str
    deadline: datetime
    payment: str = "repay"
    tip_yuan: int = 0
    phone: str | None = None
    on_behalf_of: str | None = None
    for_elder: bool = False


@dataclass(frozen=True)
class BoardLine:
    """One volunteer on the monthly thank-you board."""

    name: str
    errands: int
    points: float


class ErrandRenderer(Protocol):
    """Turns errand events into messages (implemented by handlers/errand.py)."""

    def card(self, errand: Errand, language: str) -> dict[str, Any]:
        """The public card (no address, no phone) with the Take button while it is open."""
        ...

    def requester_update(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        """The requester hears of a change, in private."""
        ...

    def taker_update(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        """The taker hears of a change; on taking, the private details and their buttons."""
        ...

    def staff_notice(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        """A line for the staff group: expired, flagged, cancelled after pick-up."""
        ...

    def board(self, lines: Sequence[BoardLine], month: str, language: str) -> dict[str, Any]:
        """The monthly thank-you board for the volunteers' group."""
        ...


def credit_hours(taken_at: datetime | None, delivered_at: datetime | None) -> float:
    """Taken → delivered, rounded up to half hours, at least half an hour."""
    if taken_at is None or delivered_at is None:
        return 0.5
    halves = math.ceil(max(0.0, (delivered_at - taken_at).total_seconds()) / 1800)
    return max(1, halves) / 2


class ErrandService:
    """Creates errands and moves them through their life."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock
        self.renderer: ErrandRenderer | None = None

    # --- creating -------------------------------------------------------------------------

    async def create(self, community_id: int, requester_id: int, draft: ErrandDraft) -> Errand:
        """Create an open errand, remember the phone, post the cards, tell the requester."""
        now = self.clock.now()
        if draft.kind not in KINDS or draft.payment not in PAYMENTS:
            raise ValueError("unknown kind or payment")
        if not 0 <= draft.tip_yuan <= MAX_TIP:
            raise ValueError("tip out of range")
        async with self.db.uow() as uow:
            errand = Errand(
                community_id=community_id,
                requester_id=requester_id,
                on_behalf_of=draft.on_behalf_of,
                for_elder=draft.for_elder,
                kind=draft.kind,
                details=draft.details,
                from_place=draft.from_place,
                to_place=draft.to_place,
                deadline=draft.deadline,
                payment=draft.payment,
                tip_yuan=draft.tip_yuan,
                phone=draft.phone,
                status=ErrandStatus.OPEN,
                created_at=now,
                updated_at=now,
                opened_at=now,
            )
            uow.session.add(errand)
            await uow.session.flush()
            event = await self._event(uow, errand, requester_id, "post", None, ErrandStatus.OPEN)
            user = await uow.users.get(requester_id)
            if user is not None and draft.phone:
                user.phone = draft.phone
            await self._post_cards(uow, errand, event)
            await self._tell_requester(uow, errand, event)
            await uow.commit()
            return errand

    # --- reading ----------------------------------------------------------------------------

    async def get(self, errand_id: int) -> Errand | None:
        """One errand by id."""
        async with self.db.uow() as uow:
            return await uow.session.get(Errand, errand_id)

    async def history(self, errand_id: int) -> list[ErrandEvent]:
        """Every change of an errand, oldest first."""
        async with self.db.uow() as uow:
            stmt = select(ErrandEvent).where(ErrandEvent.errand_id == errand_id)
            return list((await uow.session.scalars(stmt.order_by(ErrandEvent.id))).all())

    async def listing(
        self, community_id: int, statuses: Sequence[ErrandStatus] = (ErrandStatus.OPEN,)
    ) -> list[Errand]:
        """Errands in these states: elders' first, then by deadline."""
        stmt = (
            select(Errand)
            .where(Errand.community_id == community_id, Errand.status.in_(statuses))
            .order_by(Errand.for_elder.desc(), Errand.deadline, Errand.id)
            .limit(50)
        )
        async with self.db.uow() as uow:
            return list((await uow.session.scalars(stmt)).all())

    async def of_person(self, user_id: int) -> list[Errand]:
        """Errands a person asked for or holds that are still running, newest first."""
        stmt = (
            select(Errand)
            .where(
                or_(Errand.requester_id == user_id, Errand.taker_id == user_id),
                Errand.status.in_(LIVE),
            )
            .order_by(Errand.id.desc())
            .limit(20)
        )
        async with self.db.uow() as uow:
            return list((await uow.session.scalars(stmt)).all())

    async def can_take(self, user_id: int, community_id: int) -> bool:
        """Registered volunteers and staff (and admins)."""
        return await self.roles.has_role(user_id, community_id, Role.VOLUNTEER)

    async def is_staff(self, user_id: int, community_id: int) -> bool:
        """Staff (or admin) of the community."""
        return await self.roles.has_role(user_id, community_id, Role.STAFF)

    async def volunteers_of(self, community_id: int) -> list[User]:
        """Volunteers of the community (for staff assigning directly)."""
        async with self.db.uow() as uow:
            stmt = (
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.community_id == community_id, Membership.role == Role.VOLUNTEER)
                .order_by(User.id)
            )
            return list((await uow.session.scalars(stmt)).unique().all())

    async def cards(self, errand_id: int) -> tuple[str, list[tuple[int, int]]]:
        """The public cards sent for an errand: their language and (chat, message id) each."""
        async with self.db.uow() as uow:
            errand = await uow.session.get(Errand, errand_id)
            if errand is None:
                return self.settings.default_language, []
            posts = await uow.session.scalars(
                select(ErrandEvent.id).where(
                    ErrandEvent.errand_id == errand_id,
                    ErrandEvent.action.in_(("post", "repost", "give_back")),
                )
            )
            found = []
            for event_id in posts:
                for chat in await self._board_chats(uow, errand.community_id):
                    row = await uow.outbox.by_key(f"errand:{errand_id}:{event_id}:{chat}")
                    if row is not None and row.telegram_message_id is not None:
                        found.append((row.chat_telegram_id, row.telegram_message_id))
            return await self._community_language(uow, errand.community_id), found

    # --- the volunteer --------------------------------------------------------------------------

    async def take(self, errand_id: int, user_id: int, *, assigned_by: int | None = None) -> Result:
        """The first press wins: open → taken, only if still open and under the limit."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            errand = await uow.session.get(Errand, errand_id)
            if errand is None:
                return Result(Outcome.NOT_FOUND)
            community_id = errand.community_id
            if assigned_by is not None and not await self.roles._has_role(
                uow, assigned_by, community_id, Role.STAFF
            ):
                return Result(Outcome.FORBIDDEN, errand)
            if not await self.roles._has_role(uow, user_id, community_id, Role.VOLUNTEER):
                return Result(Outcome.FORBIDDEN, errand)
            if errand.requester_id == user_id:
                return Result(Outcome.OWN, errand)
            if errand.status is not ErrandStatus.OPEN:
                return await self._stale(errand_id)
            if uow.session.bind.dialect.name == "postgresql":
                # One volunteer's takes one at a time, so the limit holds across errands.
                await uow.session.execute(
                    select(User.id).where(User.id == user_id).with_for_update()
                )
            held = (
                select(func.count(Errand.id))
                .where(Errand.taker_id == user_id, Errand.status.in_(HELD))
                .scalar_subquery()
            )
            changed = await uow.session.execute(
                update(Errand)
                .where(
                    Errand.id == errand_id,
                    Errand.status == ErrandStatus.OPEN,
                    Errand.taker_id.is_(None),
                    held < self.settings.errand_max_open,
                )
                .values(
                    status=ErrandStatus.TAKEN,
                    taker_id=user_id,
                    taken_at=now,
                    updated_at=now,
                    flagged_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            if not changed.rowcount:
                await uow.rollback()
                fresh = await self.get(errand_id)
                if fresh is not None and fresh.status is ErrandStatus.OPEN:
                    return Result(Outcome.LIMIT, fresh)
                return await self._stale(errand_id)
            await uow.session.refresh(errand)
            action = "assign" if assigned_by is not None else "take"
            event = await self._event(
                uow,
                errand,
                assigned_by or user_id,
                action,
                ErrandStatus.OPEN,
                ErrandStatus.TAKEN,
                note=await self._name(uow, user_id),
            )
            await self._tell_requester(uow, errand, event)
            await self._tell_taker(uow, errand, event)
            await uow.commit()
            return Result(Outcome.OK, errand)

    async def assign(self, errand_id: int, staff_id: int, volunteer_id: int) -> Result:
        """Staff give an open errand to a volunteer directly."""
        return await self.take(errand_id, volunteer_id, assigned_by=staff_id)

    async def give_back(self, errand_id: int, user_id: int) -> Result:
        """The taker cannot do it after all: it reopens and is posted again."""
        return await self._move(
            errand_id,
            user_id,
            "give_back",
            (ErrandStatus.TAKEN,),
            ErrandStatus.OPEN,
            who="taker",
            values={"taker_id": None, "taken_at": None, "reposts": 0, "flagged_at": None},
            reopen=True,
        )

    async def picked_up(self, errand_id: int, user_id: int) -> Result:
        """The taker has the things (or has met the elder)."""
        return await self._move(
            errand_id,
            user_id,
            "pick_up",
            (ErrandStatus.TAKEN,),
            ErrandStatus.PICKED_UP,
            who="taker",
            stamp="picked_up_at",
        )

    async def delivered(self, errand_id: int, user_id: int) -> Result:
        """The taker has delivered; the requester is asked to confirm."""
        return await self._move(
            errand_id,
            user_id,
            "deliver",
            HELD,
            ErrandStatus.DELIVERED,
            who="taker",
            stamp="delivered_at",
        )

    async def confirm(self, errand_id: int, user_id: int | None) -> Result:
        """The requester confirms (None: automatically, 24 h after delivery); credit the taker."""
        return await self._move(
            errand_id,
            user_id,
            "confirm" if user_id is not None else "auto_confirm",
            (ErrandStatus.DELIVERED,),
            ErrandStatus.CONFIRMED,
            who="requester" if user_id is not None else "system",
            stamp="closed_at",
        )

    async def cancel(self, errand_id: int, user_id: int) -> Result:
        """The requester (or staff) cancels; a taker is told, and staff too after pick-up."""
        return await self._move(
            errand_id,
            user_id,
            "cancel",
            CANCELLABLE,
            ErrandStatus.CANCELLED,
            who="requester_or_staff",
            stamp="closed_at",
        )

    async def _move(
        self,
        errand_id: int,
        user_id: int | None,
        action: str,
        sources: Sequence[ErrandStatus],
        target: ErrandStatus,
        *,
        who: str,
        stamp: str | None = None,
        values: dict[str, Any] | None = None,
        reopen: bool = False,
    ) -> Result:
        now = self.clock.now()
        async with self.db.uow() as uow:
            errand = await uow.session.get(Errand, errand_id)
            if errand is None:
                return Result(Outcome.NOT_FOUND)
            if not await self._may(uow, errand, user_id, who):
                return Result(Outcome.FORBIDDEN, errand)
            current = errand.status
            if current not in sources:
                return await self._stale(errand_id)
            changes: dict[str, Any] = {"status": target, "updated_at": now, **(values or {})}
            if stamp:
                changes[stamp] = now
            if action in ("pick_up", "deliver"):
                changes["flagged_at"] = None
            if reopen:
                changes["opened_at"] = now
            taker_before = errand.taker_id
            changed = await uow.session.execute(
                update(Errand)
                .where(Errand.id == errand_id, Errand.status == current)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
            if not changed.rowcount:  # someone else changed it between our read and write
                await uow.rollback()
                return await self._stale(errand_id)
            await uow.session.refresh(errand)
            note = await self._name(uow, taker_before) if action == "cancel" else None
            event = await self._event(uow, errand, user_id, action, current, target, note=note)
            await self._announce(uow, errand, event, current, taker_before)
            await uow.commit()
            return Result(Outcome.OK, errand)

    async def _may(self, uow: UnitOfWork, errand: Errand, user_id: int | None, who: str) -> bool:
        if who == "system":
            return True
        if user_id is None:
            return False
        if who == "taker":
            return errand.taker_id == user_id
        if who == "requester":
            return errand.requester_id == user_id
        return errand.requester_id == user_id or await self.roles._has_role(
            uow, user_id, errand.community_id, Role.STAFF
        )

    async def _announce(
        self,
        uow: UnitOfWork,
        errand: Errand,
        event: ErrandEvent,
        before: ErrandStatus,
        taker_before: int | None,
    ) -> None:
        """Who hears of a change, besides the one who made it."""
        action = event.action
        if action in ("confirm", "auto_confirm"):
            await self._credit(uow, errand, event)
        if action == "give_back":
            await self._post_cards(uow, errand, event)
            await self._tell_requester(uow, errand, event)
            return
        if action in ("pick_up", "deliver", "auto_confirm") or (
            action == "cancel" and event.actor_id != errand.requester_id
        ):
            await self._tell_requester(uow, errand, event)
        if taker_before is not None and action in ("cancel", "confirm", "auto_confirm"):
            await self._tell_taker(uow, errand, event, taker_before)
        if action == "cancel" and before is ErrandStatus.PICKED_UP:
            await self._tell_staff(uow, errand, event)

    async def rate(self, errand_id: int, user_id: int, stars: int) -> Result:
        """The requester rates a delivered (confirming it) or confirmed errand 1–5 and thanks."""
        if not 1 <= stars <= 5:
            return Result(Outcome.INVALID)
        errand = await self.get(errand_id)
        if errand is None:
            return Result(Outcome.NOT_FOUND)
        if errand.requester_id != user_id:
            return Result(Outcome.FORBIDDEN, errand)
        if errand.status is ErrandStatus.DELIVERED:
            confirmed = await self.confirm(errand_id, user_id)
            if confirmed.outcome is not Outcome.OK:
                return confirmed
        async with self.db.uow() as uow:
            changed = await uow.session.execute(
                update(Errand)
                .where(
                    Errand.id == errand_id,
                    Errand.status == ErrandStatus.CONFIRMED,
                    Errand.rating.is_(None),
                )
                .values(rating=stars, updated_at=self.clock.now())
                .execution_options(synchronize_session=False)
            )
            errand = await uow.session.get(Errand, errand_id)
            assert errand is not None
            if not changed.rowcount:
                return Result(Outcome.STALE, errand)
            await uow.session.refresh(errand)
            event = await self._event(uow, errand, user_id, "rate", None, None, note="★" * stars)
            await self._tell_taker(uow, errand, event)
            await uow.commit()
            return Result(Outcome.OK, errand)

    async def thank(self, errand_id: int, user_id: int, text: str) -> Result:
        """A few words of thanks from the requester, passed on to the taker."""
        words = text.strip()[:500]
        async with self.db.uow() as uow:
            errand = await uow.session.get(Errand, errand_id)
            if errand is None or errand.requester_id != user_id:
                return Result(Outcome.NOT_FOUND)
            if errand.status is not ErrandStatus.CONFIRMED or not words:
                return Result(Outcome.STALE, errand)
            errand.thanks = words
            event = await self._event(uow, errand, user_id, "thanks", None, None, note=words)
            await self._tell_taker(uow, errand, event)
            await uow.commit()
            return Result(Outcome.OK, errand)

    # --- time bank ----------------------------------------------------------------------------

    async def _credit(self, uow: UnitOfWork, errand: Errand, event: ErrandEvent) -> None:
        if errand.taker_id is None:
            return
        hours = credit_hours(errand.taken_at, errand.delivered_at)
        points = round(hours * self.settings.timebank_points_per_hour, 2)
        try:
            async with uow.session.begin_nested():
                uow.session.add(
                    TimeBankEntry(
                        community_id=errand.community_id,
                        volunteer_id=errand.taker_id,
                        errand_id=errand.id,
                        points=points,
                        reason="errand",
                        at=event.at,
                    )
                )
        except IntegrityError:  # credited already
            log.info("errand %s was credited before", errand.id)

    async def points(self, user_id: int, community_id: int) -> tuple[float, list[TimeBankEntry]]:
        """A volunteer's balance and their latest entries, newest first."""
        async with self.db.uow() as uow:
            where = (
                TimeBankEntry.volunteer_id == user_id,
                TimeBankEntry.community_id == community_id,
            )
            total = await uow.session.scalar(select(func.sum(TimeBankEntry.points)).where(*where))
            entries = await uow.session.scalars(
                select(TimeBankEntry).where(*where).order_by(TimeBankEntry.id.desc()).limit(20)
            )
            return float(total or 0), list(entries.all())

    async def post_to_residents(self, community_id: int, on: bool | None = None) -> bool:
        """Whether errand cards also go to the residents' group; set it when `on` is given."""
        async with self.db.uow() as uow:
            community = await uow.communities.get(community_id)
            if community is None:
                return False
            if on is not None:
                community.errands_to_residents = on
                await uow.commit()
            return bool(community.errands_to_residents)

    async def set_named(self, user_id: int, community_id: int, named: bool) -> None:
        """Whether the volunteer agrees to be named on the thank-you board."""
        async with self.db.uow() as uow:
            pref = await uow.session.scalar(
                select(VolunteerPreference).where(
                    VolunteerPreference.community_id == community_id,
                    VolunteerPreference.user_id == user_id,
                )
            )
            if pref is None:
                pref = VolunteerPreference(community_id=community_id, user_id=user_id)
                uow.session.add(pref)
            pref.named_on_board, pref.updated_at = named, self.clock.now()
            await uow.commit()

    async def is_named(self, user_id: int, community_id: int) -> bool:
        """True when the volunteer agreed to be named on the board."""
        async with self.db.uow() as uow:
            return bool(
                await uow.session.scalar(
                    select(VolunteerPreference.named_on_board).where(
                        VolunteerPreference.community_id == community_id,
                        VolunteerPreference.user_id == user_id,
                    )
                )
            )

    async def board(self, community_id: int, start: datetime, end: datetime) -> list[BoardLine]:
        """Volunteers who agreed to be named, with their errands and points in [start, end)."""
        async with self.db.uow() as uow:
            rows = await uow.session.execute(
                select(User, func.count(TimeBankEntry.id), func.sum(TimeBankEntry.points))
                .join(TimeBankEntry, TimeBankEntry.volunteer_id == User.id)
                .join(
                    VolunteerPreference,
                    and_(
                        VolunteerPreference.user_id == User.id,
                        VolunteerPreference.community_id == community_id,
                    ),
                )
                .where(
                    TimeBankEntry.community_id == community_id,
                    TimeBankEntry.at >= start,
                    TimeBankEntry.at < end,
                    VolunteerPreference.named_on_board.is_(True),
                )
                .group_by(User.id)
                .order_by(func.sum(TimeBankEntry.points).desc(), User.id)
            )
            return [BoardLine(u.display_name, int(n), float(p or 0)) for u, n, p in rows.all()]

    # --- periodic -------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """Expire, repost, flag, auto-confirm, and post the monthly board when due."""
        await self._expire(now)
        await self._repost(now)
        await self._flag(now)
        await self._auto_confirm(now)
        await self._board(now)

    async def _expire(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Errand).where(Errand.status == ErrandStatus.OPEN, Errand.deadline <= now)
            for errand in (await uow.session.scalars(stmt)).all():
                changed = await uow.session.execute(
                    update(Errand)
                    .where(Errand.id == errand.id, Errand.status == ErrandStatus.OPEN)
                    .values(status=ErrandStatus.EXPIRED, closed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if not changed.rowcount:
                    continue
                await uow.session.refresh(errand)
                event = await self._event(
                    uow, errand, None, "expire", ErrandStatus.OPEN, ErrandStatus.EXPIRED
                )
                await self._tell_requester(uow, errand, event)
                await self._tell_staff(uow, errand, event)
            await uow.commit()

    async def _repost(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Errand).where(
                Errand.status == ErrandStatus.OPEN,
                Errand.reposts < len(REPOSTS),
                Errand.opened_at <= now - REPOSTS[0],
            )
            for errand in (await uow.session.scalars(stmt)).all():
                due = sum(1 for after in REPOSTS if errand.opened_at <= now - after)
                if due <= errand.reposts:
                    continue
                changed = await uow.session.execute(
                    update(Errand)
                    .where(
                        Errand.id == errand.id,
                        Errand.status == ErrandStatus.OPEN,
                        Errand.reposts == errand.reposts,
                    )
                    .values(reposts=due)
                    .execution_options(synchronize_session=False)
                )
                if not changed.rowcount:
                    continue
                await uow.session.refresh(errand)
                event = await self._event(uow, errand, None, "repost", None, None, note=str(due))
                await self._post_cards(uow, errand, event)
            await uow.commit()

    async def _flag(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Errand).where(
                Errand.status.in_(HELD),
                Errand.flagged_at.is_(None),
                Errand.taken_at <= now - FLAG_AFTER,
            )
            for errand in (await uow.session.scalars(stmt)).all():
                last = errand.picked_up_at or errand.taken_at
                if last is None or last > now - FLAG_AFTER:
                    continue
                errand.flagged_at = now
                note = await self._name(uow, errand.taker_id)
                event = await self._event(uow, errand, None, "flag", None, None, note=note)
                await self._tell_staff(uow, errand, event)
            await uow.commit()

    async def _auto_confirm(self, now: datetime) -> None:
        async with self.db.uow() as uow:
            stmt = select(Errand.id).where(
                Errand.status == ErrandStatus.DELIVERED,
                Errand.delivered_at <= now - AUTO_CONFIRM_AFTER,
            )
            due = list((await uow.session.scalars(stmt)).all())
        for errand_id in due:
            await self.confirm(errand_id, None)

    async def _board(self, now: datetime) -> None:
        if self.renderer is None:
            return
        async with self.db.uow() as uow:
            communities = list(await uow.communities.all())
        for community in communities:
            zone = ZoneInfo(community.timezone)
            local = now.astimezone(zone)
            if local.day != BOARD_DAY or local.hour < BOARD_HOUR:
                continue
            end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            start = (end - timedelta(days=1)).replace(day=1)
            lines = await self.board(community.id, start, end)
            month = start.strftime("%Y-%m")
            if not lines:
                continue
            payload = self.renderer.board(lines, month, community.language)
            async with self.db.uow() as uow:
                for chat in await uow.chats.of_community(community.id, ChatKind.VOLUNTEERS):
                    key = f"errand-board:{community.id}:{month}:{chat.telegram_id}"
                    await uow.outbox.enqueue(key, chat.telegram_id, payload)
                await uow.commit()

    # --- helpers ------------------------------------------------------------------------------

    async def _event(
        self,
        uow: UnitOfWork,
        errand: Errand,
        actor_id: int | None,
        action: str,
        before: ErrandStatus | None,
        after: ErrandStatus | None,
        note: str | None = None,
    ) -> ErrandEvent:
        event = ErrandEvent(
            errand_id=errand.id,
            actor_id=actor_id,
            action=action,
            from_status=before.value if before else None,
            to_status=after.value if after else None,
            note=note,
            at=self.clock.now(),
        )
        uow.session.add(event)
        await uow.session.flush()
        return event

    async def _stale(self, errand_id: int) -> Result:
        async with self.db.uow() as uow:
            errand = await uow.session.get(Errand, errand_id)
            by = await self._name(uow, errand.taker_id) if errand is not None else None
            return Result(Outcome.STALE, errand, by)

    @staticmethod
    async def _name(uow: UnitOfWork, user_id: int | None) -> str | None:
        """A person's display name (the taker's, in events and answers)."""
        user = await uow.users.get(user_id) if user_id is not None else None
        return user.display_name if user else None

    async def _community_language(self, uow: UnitOfWork, community_id: int) -> str:
        return await community_language(uow, community_id, self.settings.default_language)

    async def _language(self, uow: UnitOfWork, user_id: int, default: str) -> str:
        return await person_language(uow, user_id, default)

    async def _board_chats(self, uow: UnitOfWork, community_id: int) -> list[int]:
        """Where the cards go: the volunteers' group, and the residents' if the community wants."""
        community = await uow.communities.get(community_id)
        kinds = [ChatKind.VOLUNTEERS]
        if community is not None and community.errands_to_residents:
            kinds.append(ChatKind.RESIDENTS)
        chats = []
        for kind in kinds:
            chats += [c.telegram_id for c in await uow.chats.of_community(community_id, kind)]
        return chats

    async def _post_cards(self, uow: UnitOfWork, errand: Errand, event: ErrandEvent) -> None:
        if self.renderer is None:
            return
        language = await self._community_language(uow, errand.community_id)
        payload = self.renderer.card(errand, language)
        for chat in await self._board_chats(uow, errand.community_id):
            await uow.outbox.enqueue(f"errand:{errand.id}:{event.id}:{chat}", chat, payload)

    async def _tell_requester(self, uow: UnitOfWork, errand: Errand, event: ErrandEvent) -> None:
        if self.renderer is None or errand.requester_id is None:
            return
        default = await self._community_language(uow, errand.community_id)
        language = await self._language(uow, errand.requester_id, default)
        payload = self.renderer.requester_update(errand, event, language)
        chat = errand.requester_id
        await uow.outbox.enqueue(f"errand:{errand.id}:{event.id}:{chat}", chat, payload)

    async def _tell_taker(
        self, uow: UnitOfWork, errand: Errand, event: ErrandEvent, taker: int | None = None
    ) -> None:
        chat = taker or errand.taker_id
        if self.renderer is None or chat is None:
            return
        default = await self._community_language(uow, errand.community_id)
        language = await self._language(uow, chat, default)
        payload = self.renderer.taker_update(errand, event, language)
        await uow.outbox.enqueue(f"errand:{errand.id}:{event.id}:{chat}", chat, payload)

    async def _tell_staff(self, uow: UnitOfWork, errand: Errand, event: ErrandEvent) -> None:
        if self.renderer is None:
            return
        language = await self._community_language(uow, errand.community_id)
        payload = self.renderer.staff_notice(errand, event, language)
        for chat in await uow.chats.of_community(errand.community_id, ChatKind.STAFF):
            key = f"errand:{errand.id}:{event.id}:{chat.telegram_id}"
            await uow.outbox.enqueue(key, chat.telegram_id, payload)
