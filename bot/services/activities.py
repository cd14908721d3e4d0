"""Community activities and their sign-up lists (接龙): one tap instead of copying a list.

Joining is one transaction: the sign-up row (unique per activity and person, so pressing
twice finds the same row) and, when it takes places, a conditional UPDATE of the activity's
`seats_taken` (`seats_taken + n <= capacity`) — of two people pressing for the last place at
once exactly one gets it; the other goes on the waitlist (if the activity has one) or is told
it is full. Cancelling gives the places back and, in the same transaction, promotes the first
on the waitlist whose party fits. Nothing is counted twice, nothing is lost.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.i18n import choose_language
from bot.services.roles import RoleService
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    Activity,
    ActivityStatus,
    Chat,
    Poll,
    PollVote,
    Role,
    Signup,
    TimeBankEntry,
    User,
)
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_CAPACITY = 5000
MAX_PARTY = 10
MAX_TITLE = 200
JOINED, WAITLIST, CANCELLED = "joined", "waitlist", "cancelled"


class Outcome(enum.StrEnum):
    """What became of a sign-up, a cancellation or a change."""

    JOINED = "joined"
    WAITLISTED = "waitlisted"
    FULL = "full"  # no place and no waitlist
    ALREADY = "already"  # signed up before (same places)
    CHANGED = "changed"  # signed up before, now with another number of places
    CANCELLED = "cancelled"
    NOT_SIGNED_UP = "not_signed_up"
    CLOSED = "closed"  # past the deadline, closed or cancelled
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"


@dataclass(frozen=True)
class Result:
    """An outcome, the sign-up it concerns, and anyone promoted from the waitlist."""

    outcome: Outcome
    signup: Signup | None = None
    promoted: list[Signup] = field(default_factory=list)


@dataclass
class ActivityDraft:
    """What the organiser asked for."""

    title: str
    starts_at: datetime
    deadline: datetime | None = None  # None: when it starts
    place: str | None = None
    capacity: int | None = None
    max_party: int = 1
    waitlist: bool = True
    ask_room: bool = False
    ask_phone: bool = False
    volunteering: bool = False
    volunteer_hours: float = 1.0


class DraftError(ValueError):
    """A draft that cannot be an activity; `reason` says why (the UI translates it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ActivityRenderer(Protocol):
    """Turns activity events into messages (implemented by handlers/signup.py)."""

    def reminder(
        self, activity: Activity, signup: Signup, which: str, language: str
    ) -> dict[str, Any]:
        """A private reminder, the day ("day") or the hour ("hour") before."""
        ...

    def promoted(self, activity: Activity, signup: Signup, language: str) -> dict[str, Any]:
        """A place freed up: the one moved up from the waitlist hears it in private."""
        ...

    def thanks(
        self, activity: Activity, text: str, photo: str | None, taking_part: int, language: str
    ) -> dict[str, Any]:
        """The organiser's thanks (and photo) for the group, afterwards."""
        ...


class ActivityService:
    """Creates activities, takes sign-ups, keeps the waitlist."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock
        self.renderer: ActivityRenderer | None = None

    # --- creating -------------------------------------------------------------------------

    def check(self, draft: ActivityDraft) -> None:
        """Refuse a draft with a reason: capacity 0 or absurd, deadlines after the start or past."""
        now = self.clock.now()
        if not draft.title.strip() or len(draft.title) > MAX_TITLE:
            raise DraftError("title")
        if draft.capacity is not None and not 1 <= draft.capacity <= MAX_CAPACITY:
            raise DraftError("capacity")
        if not 1 <= draft.max_party <= MAX_PARTY:
            raise DraftError("party")
        if draft.starts_at <= now:
            raise DraftError("past")
        deadline = draft.deadline or draft.starts_at
        if deadline <= now:
            raise DraftError("deadline_past")
        if deadline > draft.starts_at:
            raise DraftError("deadline_after_start")
        if draft.starts_at - now > timedelta(days=366):
            raise DraftError("too_far")
        if not 0.5 <= draft.volunteer_hours <= 24:
            raise DraftError("hours")

    async def create(
        self, community_id: int, creator_id: int, chat_id: int | None, draft: ActivityDraft
    ) -> Activity:
        """A new open activity (the caller checks who may create one)."""
        self.check(draft)
        now = self.clock.now()
        async with self.db.uow() as uow:
            activity = Activity(
                community_id=community_id,
                chat_id=chat_id,
                creator_id=creator_id,
                title=draft.title.strip(),
                place=(draft.place or "").strip() or None,
                starts_at=draft.starts_at,
                deadline=draft.deadline or draft.starts_at,
                capacity=draft.capacity,
                seats_taken=0,
                max_party=draft.max_party,
                waitlist=draft.waitlist,
                ask_room=draft.ask_room,
                ask_phone=draft.ask_phone,
                volunteering=draft.volunteering,
                volunteer_hours=draft.volunteer_hours,
                status=ActivityStatus.OPEN,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(activity)
            await uow.commit()
            return activity

    async def get(self, activity_id: int) -> Activity | None:
        """One activity."""
        async with self.db.uow() as uow:
            return await uow.session.get(Activity, activity_id)

    async def listing(self, activity_id: int) -> tuple[list[Signup], list[Signup]]:
        """The joined, then the waitlist, each in the order they signed up."""
        async with self.db.uow() as uow:
            rows = (
                await uow.session.scalars(
                    select(Signup)
                    .where(Signup.activity_id == activity_id, Signup.status != CANCELLED)
                    .order_by(Signup.queued_at, Signup.id)
                )
            ).all()
        return [s for s in rows if s.status == JOINED], [s for s in rows if s.status == WAITLIST]

    async def set_message(self, activity_id: int, message_id: int) -> None:
        """Remember the list message (posted again after an admin deleted it)."""
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(Activity)
                .where(Activity.id == activity_id)
                .values(telegram_message_id=message_id)
            )
            await uow.commit()

    async def by_message(self, chat_telegram_id: int, message_id: int) -> int | None:
        """The activity whose list message this is, in this chat."""
        async with self.db.uow() as uow:
            return await uow.session.scalar(
                select(Activity.id)
                .join(Chat, Chat.id == Activity.chat_id)
                .where(
                    Chat.telegram_id == chat_telegram_id, Activity.telegram_message_id == message_id
                )
            )

    async def open_in_chat(self, chat_id: int) -> list[Activity]:
        """The lists still open in a group, soonest first (at most 5)."""
        async with self.db.uow() as uow:
            rows = await uow.session.scalars(
                select(Activity)
                .where(Activity.chat_id == chat_id, Activity.status == ActivityStatus.OPEN)
                .order_by(Activity.starts_at, Activity.id)
                .limit(5)
            )
            return list(rows.all())

    async def may_manage(self, activity_id: int, user_id: int) -> bool:
        """The organiser, or staff of the community."""
        activity = await self.get(activity_id)
        if activity is None:
            return False
        return activity.creator_id == user_id or await self.roles.has_role(
            user_id, activity.community_id, Role.STAFF
        )

    # --- joining --------------------------------------------------------------------------

    async def join(
        self,
        activity_id: int,
        user_id: int,
        name: str,
        places: int = 1,
        *,
        on_behalf_of: str | None = None,
        room: str | None = None,
        phone: str | None = None,
    ) -> Result:
        """Sign up (or change the number of places); the waitlist when full."""
        now = self.clock.now()
        behalf = " ".join((on_behalf_of or "").split())[:50]
        key = f"n:{user_id}:{behalf}" if behalf else f"u:{user_id}"
        async with self.db.uow() as uow:
            activity = await uow.session.get(Activity, activity_id)
            if activity is None:
                return Result(Outcome.NOT_FOUND)
            if activity.status is not ActivityStatus.OPEN or activity.deadline <= now:
                return Result(Outcome.CLOSED)
            if not 1 <= places <= activity.max_party:
                return Result(Outcome.INVALID)
            signup = await uow.session.scalar(
                select(Signup).where(Signup.activity_id == activity_id, Signup.key == key)
            )
            if signup is not None and signup.status != CANCELLED:
                if signup.places == places:
                    return Result(Outcome.ALREADY, signup)
                return await self._change_places(uow, activity, signup, places, now)
            # Places first: the conditional UPDATE is the transaction's first write, so on
            # SQLite it takes the write lock before the row goes in (a savepoint opened before
            # any write would commit on its own there); a second press of the same person then
            # meets the first one's row and is undone whole.
            took = await self._take(uow, activity, places)
            if took:
                status, outcome = JOINED, Outcome.JOINED
            elif activity.waitlist:
                status, outcome = WAITLIST, Outcome.WAITLISTED
            else:
                await uow.rollback()
                return Result(Outcome.FULL)
            if signup is None:
                signup = Signup(
                    activity_id=activity_id,
                    key=key,
                    user_id=None if behalf else user_id,
                    by_user_id=user_id,
                    name=behalf or (name if len(name) <= 100 else name[:99] + "…"),
                    created_at=now,
                )
                uow.session.add(signup)
            signup.places = places
            signup.room, signup.phone = room or signup.room, phone or signup.phone
            signup.queued_at = signup.updated_at = now
            signup.status = status
            try:
                await uow.commit()
            except IntegrityError:  # the same person pressing twice at once: theirs is there
                await uow.rollback()
                async with self.db.uow() as again:
                    same = await again.session.scalar(
                        select(Signup).where(Signup.activity_id == activity_id, Signup.key == key)
                    )
                return Result(Outcome.ALREADY, same)
            return Result(outcome, signup)

    async def _take(self, uow: UnitOfWork, activity: Activity, places: int) -> bool:
        """Take places if they are free (a conditional UPDATE: one winner for the last place)."""
        stmt = update(Activity).where(Activity.id == activity.id)
        if activity.capacity is not None:
            stmt = stmt.where(Activity.seats_taken + places <= Activity.capacity)
        result = await uow.session.execute(stmt.values(seats_taken=Activity.seats_taken + places))
        return result.rowcount == 1

    async def _give_back(self, uow: UnitOfWork, activity: Activity, places: int) -> None:
        await uow.session.execute(
            update(Activity)
            .where(Activity.id == activity.id)
            .values(seats_taken=Activity.seats_taken - places)
        )

    async def _change_places(
        self, uow: UnitOfWork, activity: Activity, signup: Signup, places: int, now: datetime
    ) -> Result:
        """+N changed: a joined party grows only if the places are free; shrinking frees them."""
        if signup.status == JOINED:
            more = places - signup.places
            if more > 0 and not await self._take(uow, activity, more):
                await uow.rollback()
                return Result(Outcome.FULL, signup)
            if more < 0:
                await self._give_back(uow, activity, -more)
            signup.places, signup.updated_at = places, now
            promoted = await self._promote(uow, activity, now) if more < 0 else []
            await uow.commit()
            return Result(Outcome.CHANGED, signup, promoted)
        signup.places, signup.updated_at = places, now  # on the waitlist: just the number
        await uow.commit()
        return Result(Outcome.CHANGED, signup)

    async def cancel(
        self, activity_id: int, user_id: int, *, on_behalf_of: str | None = None
    ) -> Result:
        """Take one's name off; the first on the waitlist whose party fits moves up."""
        now = self.clock.now()
        behalf = " ".join((on_behalf_of or "").split())[:50]
        key = f"n:{user_id}:{behalf}" if behalf else f"u:{user_id}"
        async with self.db.uow() as uow:
            activity = await uow.session.get(Activity, activity_id)
            if activity is None:
                return Result(Outcome.NOT_FOUND)
            if activity.status is ActivityStatus.CANCELLED:
                return Result(Outcome.CLOSED)
            signup = await uow.session.scalar(
                select(Signup).where(Signup.activity_id == activity_id, Signup.key == key)
            )
            if signup is None or signup.status == CANCELLED:
                return Result(Outcome.NOT_SIGNED_UP)
            was = signup.status
            moved = await uow.session.execute(
                update(Signup)
                .where(Signup.id == signup.id, Signup.status == was)
                .values(status=CANCELLED, updated_at=now)
            )
            if moved.rowcount != 1:
                await uow.rollback()
                return Result(Outcome.NOT_SIGNED_UP)
            promoted: list[Signup] = []
            if was == JOINED:
                await self._give_back(uow, activity, signup.places)
                promoted = await self._promote(uow, activity, now)
            await uow.commit()
            signup.status = CANCELLED
            return Result(Outcome.CANCELLED, signup, promoted)

    async def _promote(self, uow: UnitOfWork, activity: Activity, now: datetime) -> list[Signup]:
        """Move waitlisted sign-ups up, in order, while their parties fit."""
        promoted = []
        waiting = (
            await uow.session.scalars(
                select(Signup)
                .where(Signup.activity_id == activity.id, Signup.status == WAITLIST)
                .order_by(Signup.queued_at, Signup.id)
            )
        ).all()
        for signup in waiting:
            if not await self._take(uow, activity, signup.places):
                continue  # a smaller party further down may still fit
            signup.status, signup.updated_at = JOINED, now
            promoted.append(signup)
            await self._tell_promoted(uow, activity, signup, now)
        return promoted

    async def _tell_promoted(
        self, uow: UnitOfWork, activity: Activity, signup: Signup, now: datetime
    ) -> None:
        """Queue the news in the promotion's own transaction (to whoever signed them up)."""
        target = signup.user_id or signup.by_user_id
        user = await uow.users.get(target) if target is not None else None
        if user is None or self.renderer is None:
            return
        language = choose_language(
            user.language, user.telegram_language, self.settings.default_language
        )
        await uow.outbox.enqueue(
            f"activity:{activity.id}:promoted:{signup.id}:{int(now.timestamp())}",
            user.id,
            self.renderer.promoted(activity, signup, language),
        )

    async def of_community(self, community_id: int, days: int = 30) -> list[Activity]:
        """Activities not cancelled, starting from `days` ago on, soonest first."""
        since = self.clock.now() - timedelta(days=days)
        async with self.db.uow() as uow:
            rows = await uow.session.scalars(
                select(Activity)
                .where(
                    Activity.community_id == community_id,
                    Activity.status != ActivityStatus.CANCELLED,
                    Activity.starts_at >= since,
                )
                .order_by(Activity.starts_at, Activity.id)
                .limit(30)
            )
            return list(rows.all())

    async def mark_attendance(self, signup_id: int, by_user: int) -> tuple[Outcome, Signup | None]:
        """Staff (or the organiser) flip a joined sign-up's attendance."""
        async with self.db.uow() as uow:
            signup = await uow.session.get(Signup, signup_id)
            if signup is None or signup.status != JOINED:
                return Outcome.NOT_FOUND, None
            activity = await uow.session.get(Activity, signup.activity_id)
            if activity is None:
                return Outcome.NOT_FOUND, None
            if activity.creator_id != by_user and not await self.roles.has_role(
                by_user, activity.community_id, Role.STAFF
            ):
                return Outcome.FORBIDDEN, signup
            signup.attended = not bool(signup.attended)
            signup.updated_at = self.clock.now()
            if activity.volunteering and signup.user_id is not None:
                await self._credit(uow, activity, signup.user_id, bool(signup.attended))
            await uow.commit()
            return Outcome.CHANGED, signup

    async def _credit(
        self, uow: UnitOfWork, activity: Activity, user_id: int, attended: bool
    ) -> None:
        """Time-bank credit for attending a volunteering activity: given once, taken back if unmarked."""
        reason = f"activity:{activity.id}"
        entry = await uow.session.scalar(
            select(TimeBankEntry).where(
                TimeBankEntry.volunteer_id == user_id, TimeBankEntry.reason == reason
            )
        )
        if attended and entry is None:
            uow.session.add(
                TimeBankEntry(
                    community_id=activity.community_id,
                    volunteer_id=user_id,
                    points=round(
                        activity.volunteer_hours * self.settings.timebank_points_per_hour, 2
                    ),
                    reason=reason,
                    at=self.clock.now(),
                )
            )
        elif not attended and entry is not None:
            await uow.session.delete(entry)

    async def remind_due(self, now: datetime) -> int:
        """Remind, in private, everyone on the list the day before and an hour before; once each.

        Only people who have a private chat with Linli can be reminded (Telegram does not let a
        bot write first); someone signed up on another's behalf is reminded through the one who
        signed them up.
        """
        if self.renderer is None:
            return 0
        queued = 0
        async with self.db.uow() as uow:
            soon = (
                await uow.session.scalars(
                    select(Activity).where(
                        Activity.status != ActivityStatus.CANCELLED,
                        Activity.starts_at > now,
                        Activity.starts_at <= now + timedelta(days=1),
                        (Activity.reminded_day_before.is_(False))
                        | (Activity.reminded_hour_before.is_(False)),
                    )
                )
            ).all()
            for activity in soon:
                which = None
                if not activity.reminded_hour_before and activity.starts_at - now <= timedelta(
                    hours=1
                ):
                    which = "hour"
                    activity.reminded_hour_before = True
                    activity.reminded_day_before = True  # an hour before covers the day before
                elif not activity.reminded_day_before:
                    which = "day"
                    activity.reminded_day_before = True
                if which is None:
                    continue
                people = (
                    await uow.session.execute(
                        select(Signup, User)
                        .join(User, User.id == func.coalesce(Signup.user_id, Signup.by_user_id))
                        .where(
                            Signup.activity_id == activity.id,
                            Signup.status == JOINED,
                            User.private_chat_open.is_(True),
                            User.blocked_bot.is_(False),
                        )
                    )
                ).all()
                for signup, user in people:
                    language = choose_language(
                        user.language, user.telegram_language, self.settings.default_language
                    )
                    if await uow.outbox.enqueue(
                        f"activity:{activity.id}:remind-{which}:{signup.id}",
                        user.id,
                        self.renderer.reminder(activity, signup, which, language),
                    ):
                        queued += 1
            await uow.commit()
        return queued

    # --- details asked in private, thanks afterwards ------------------------------------------

    @staticmethod
    def wants_details(activity: Activity, signup: Signup) -> bool:
        """The activity asks for a room or phone that this sign-up has not given yet."""
        return (activity.ask_room and not signup.room) or (activity.ask_phone and not signup.phone)

    async def signup(self, signup_id: int) -> tuple[Activity, Signup] | None:
        """A sign-up and its activity."""
        async with self.db.uow() as uow:
            signup = await uow.session.get(Signup, signup_id)
            activity = await uow.session.get(Activity, signup.activity_id) if signup else None
        return (activity, signup) if activity is not None and signup is not None else None

    async def set_details(
        self,
        signup_id: int,
        user_id: int,
        *,
        room: str | None = None,
        flat: tuple[str, str, str] | None = None,
        phone: str | None = None,
    ) -> Signup | None:
        """Keep the room and phone given in private (only by the one who made the sign-up).

        For one's own sign-up they are also remembered for next time, as a repair request
        remembers them; a sign-up made for someone else does not touch the signer's profile.
        """
        async with self.db.uow() as uow:
            signup = await uow.session.get(Signup, signup_id)
            if signup is None or user_id not in (signup.user_id, signup.by_user_id):
                return None
            if flat is not None:
                room = "-".join(flat)
            if room:
                signup.room = room[:50]
            if phone:
                signup.phone = phone[:32]
            signup.updated_at = self.clock.now()
            if signup.user_id == user_id:
                user = await uow.users.get(user_id)
                if user is not None and flat is not None:
                    user.building, user.unit, user.room = flat
                if user is not None and phone:
                    user.phone = phone
            await uow.commit()
            return signup

    async def thank(
        self, activity_id: int, user_id: int, text: str, photo: str | None = None
    ) -> str:
        """Post the organiser's thanks (and photo) in the activity's group, once.

        Returns "posted", or why not: "not_found", "forbidden" (not the organiser or staff),
        "too_early" (before it starts), "no_group" (its group is gone), "already" (posted).
        """
        now = self.clock.now()
        async with self.db.uow() as uow:
            activity = await uow.session.get(Activity, activity_id)
            if activity is None or activity.status is ActivityStatus.CANCELLED:
                return "not_found"
            if activity.creator_id != user_id and not await self.roles.has_role(
                user_id, activity.community_id, Role.STAFF
            ):
                return "forbidden"
            if activity.starts_at > now:
                return "too_early"
            chat = await uow.session.get(Chat, activity.chat_id) if activity.chat_id else None
            if chat is None or not chat.active or self.renderer is None:
                return "no_group"
            joined = (
                await uow.session.execute(
                    select(
                        func.coalesce(func.sum(Signup.places), 0),
                        func.count().filter(Signup.attended.is_(True)),
                    ).where(Signup.activity_id == activity_id, Signup.status == JOINED)
                )
            ).one()
            community = await uow.communities.get(activity.community_id)
            language = community.language if community else self.settings.default_language
            payload = self.renderer.thanks(
                activity, text, photo, int(joined[1] or joined[0]), language
            )
            queued = await uow.outbox.enqueue(
                f"activity:{activity.id}:thanks",
                chat.telegram_id,
                payload,
                method="sendPhoto" if photo else "sendMessage",
            )
            if queued is None:
                return "already"
            await uow.commit()
            return "posted"

    async def tick(self, now: datetime) -> None:
        """The periodic job: close lists past their deadline, remind before activities."""
        await self.close_due(now)
        await self.remind_due(now)

    async def close_due(self, now: datetime) -> list[Activity]:
        """Close the lists whose deadline has passed; the ones closed now."""
        async with self.db.uow() as uow:
            due = (
                await uow.session.scalars(
                    select(Activity).where(
                        Activity.status == ActivityStatus.OPEN, Activity.deadline <= now
                    )
                )
            ).all()
            closed = []
            for activity in due:
                result = await uow.session.execute(
                    update(Activity)
                    .where(Activity.id == activity.id, Activity.status == ActivityStatus.OPEN)
                    .values(status=ActivityStatus.CLOSED, updated_at=now)
                )
                if result.rowcount == 1:
                    closed.append(activity)
            await uow.commit()
            return closed


class PollService:
    """Polls: one vote per person or per household (a household = the same building, unit and
    room), changeable until the deadline; counted once however often it is pressed."""

    def __init__(self, db: Database, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.roles = roles
        self.clock = clock

    async def create(
        self,
        community_id: int,
        creator_id: int,
        chat_id: int | None,
        question: str,
        options: list[str],
        deadline: datetime,
        per_household: bool,
    ) -> Poll:
        """A new poll; DraftError for 2–10 distinct options, a question, a future deadline."""
        options = [" ".join(o.split())[:60] for o in options if o.strip()]
        if not question.strip() or len(question) > 300:
            raise DraftError("title")
        if not 2 <= len(options) <= 10 or len(set(options)) != len(options):
            raise DraftError("options")
        now = self.clock.now()
        if deadline <= now:
            raise DraftError("deadline_past")
        async with self.db.uow() as uow:
            poll = Poll(
                community_id=community_id,
                chat_id=chat_id,
                creator_id=creator_id,
                question=question.strip(),
                options=options,
                per_household=per_household,
                deadline=deadline,
                created_at=now,
            )
            uow.session.add(poll)
            await uow.commit()
            return poll

    async def get(self, poll_id: int) -> Poll | None:
        """One poll."""
        async with self.db.uow() as uow:
            return await uow.session.get(Poll, poll_id)

    async def vote(self, poll_id: int, user_id: int, option: int) -> tuple[Outcome, str | None]:
        """Vote, or change one's (or one's household's) vote; the household's key when shared."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            poll = await uow.session.get(Poll, poll_id)
            if poll is None:
                return Outcome.NOT_FOUND, None
            if poll.closed or poll.deadline <= now:
                return Outcome.CLOSED, None
            if not 0 <= option < len(poll.options):
                return Outcome.INVALID, None
            key = f"u:{user_id}"
            if poll.per_household:
                user = await uow.users.get(user_id)
                if user is None or not (user.building and user.room):
                    return Outcome.FORBIDDEN, None  # the household is not known
                key = f"h:{user.building}-{user.unit or ''}-{user.room}"
            existing = await uow.session.scalar(
                select(PollVote).where(PollVote.poll_id == poll_id, PollVote.voter_key == key)
            )
            if existing is not None:
                if existing.option == option:
                    return Outcome.ALREADY, key
                existing.option, existing.user_id, existing.at = option, user_id, now
                await uow.commit()
                return Outcome.CHANGED, key
            try:
                async with uow.session.begin_nested():
                    uow.session.add(
                        PollVote(
                            poll_id=poll_id, voter_key=key, user_id=user_id, option=option, at=now
                        )
                    )
                    await uow.session.flush()
            except IntegrityError:
                return Outcome.ALREADY, key
            await uow.commit()
            return Outcome.JOINED, key

    async def results(self, poll_id: int) -> list[int]:
        """Votes per option."""
        async with self.db.uow() as uow:
            poll = await uow.session.get(Poll, poll_id)
            if poll is None:
                return []
            rows = (
                await uow.session.execute(
                    select(PollVote.option, func.count())
                    .where(PollVote.poll_id == poll_id)
                    .group_by(PollVote.option)
                )
            ).all()
        counts = [0] * len(poll.options)
        for option, count in rows:
            if 0 <= option < len(counts):
                counts[option] = int(count)
        return counts

    async def set_message(self, poll_id: int, message_id: int) -> None:
        """Remember the poll's message."""
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(Poll).where(Poll.id == poll_id).values(telegram_message_id=message_id)
            )
            await uow.commit()

    async def close_due(self, now: datetime) -> list[int]:
        """Close the polls whose deadline passed; their ids (to show the final results)."""
        async with self.db.uow() as uow:
            due = (
                await uow.session.scalars(
                    select(Poll.id).where(Poll.closed.is_(False), Poll.deadline <= now)
                )
            ).all()
            closed = []
            for poll_id in due:
                result = await uow.session.execute(
                    update(Poll)
                    .where(Poll.id == poll_id, Poll.closed.is_(False))
                    .values(closed=True)
                )
                if result.rowcount == 1:
                    closed.append(poll_id)
            await uow.commit()
            return closed
