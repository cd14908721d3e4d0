"""Committee notices (通知): schedule, fan out through the outbox, count who acknowledged (收到).

A notice lives in the database with the next time it falls due (`next_at`); the ticker only
wakes `post_due`, which finds what is due. Posting one occurrence is a single transaction:
`next_at` moves on with a conditional UPDATE (so two ticks, or two processes, cannot post the
same occurrence), an occurrence row is written (unique per notice and due time), and one post
row plus one outbox message per target chat are queued. The outbox sends them within
Telegram's limits; a listener (and, should the process die first, the next tick) records each
outcome on its post and pins the message when asked.

Quiet hours (default 22:00–07:00, local time) hold a non-urgent occurrence until they end.
After downtime an occurrence is posted if it is at most the grace period late (default 6 h),
else it is recorded as missed and staff are told; a recurring notice then carries on with its
next occurrence. Either way an occurrence is handled once.

Acknowledgements are one row per post and person. The posted message shows a count against
the roster of members the bot knows in that group; the count is edited at most every
`COUNT_EVERY` per message (bursts are coalesced and caught up by the tick). After the notice's
reminder delay, members of the group who have not acknowledged and who have a private chat
with the bot are reminded there once.

What the messages say is the renderer's business (`NoticeRenderer`, set by handlers/notice.py).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from telegram import Message

from bot.clock import Clock
from bot.i18n import choose_language
from bot.services.languages import community_language
from bot.services.roles import RoleService
from bot.settings import Settings
from bot.when import Recurrence
from storage.db import Database
from storage.models import (
    Chat,
    ChatKind,
    ChatMember,
    Community,
    Notice,
    NoticeAck,
    NoticeOccurrence,
    NoticePost,
    NoticeStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    User,
)
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_TEXT = 3500  # characters of a notice: Telegram's 4096 less the heading and the count line
TARGETS = ("residents", "staff", "chosen")
REMIND_CHOICES = (0, 60, 120, 360, 1440)  # minutes after posting; 0: no reminder
COUNT_EVERY = timedelta(seconds=3)  # at most one count edit per message in this time
LIVE = (NoticeStatus.SCHEDULED, NoticeStatus.PAUSED)
POST_KEY = "notice:post:"
PIN_KEY = "notice:pin:"


class Outcome(enum.StrEnum):
    """What became of an attempt to change a notice or acknowledge one."""

    OK = "ok"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    STALE = "stale"  # already done, cancelled, or acknowledged before
    INVALID = "invalid"


@dataclass
class NoticeDraft:
    """What staff wrote: the text with its formatting, when, where, and how."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    first_at: datetime | None = None  # None: now
    recurrence: Recurrence | None = None
    target: str = "residents"
    chat_ids: list[int] = field(default_factory=list)
    pin: bool = False
    ack: bool = True
    urgent: bool = False
    remind_minutes: int = 120


@dataclass(frozen=True)
class AckResult:
    """The outcome of a 收到 press and the post's count after it."""

    outcome: Outcome
    count: int = 0
    total: int = 0
    edit_now: bool = False  # the caller should edit the message's count now
    post: NoticePost | None = None
    notice: Notice | None = None


@dataclass(frozen=True)
class PostView:
    """One chat of an occurrence, for staff: who acknowledged and who has not."""

    post: NoticePost
    title: str
    acked: list[tuple[User, datetime]]
    waiting: list[User]


class NoticeRenderer(Protocol):
    """Turns notices into messages (implemented by handlers/notice.py)."""

    def post(
        self, notice: Notice, post: NoticePost, count: int, total: int, language: str
    ) -> dict[str, Any]:
        """The notice as posted in a chat (text + entities, the 收到 button when asked)."""
        ...

    def reminder(
        self, notice: Notice, post: NoticePost, title: str, language: str
    ) -> dict[str, Any]:
        """A private reminder to acknowledge, with the 收到 button."""
        ...

    def report(
        self,
        notice: Notice,
        occurrence: NoticeOccurrence,
        sent: Sequence[str],
        failed: Sequence[tuple[str, str]],
        skipped: Sequence[str],
        language: str,
        unknown: Sequence[str] = (),
    ) -> dict[str, Any]:
        """The delivery report for staff: where it could not be posted, and why; where it may
        not have arrived (`unknown`: the send's outcome could not be known, so it was not
        repeated)."""
        ...

    def missed(
        self, notice: Notice, due: datetime, count: int, zone: ZoneInfo, language: str
    ) -> dict[str, Any]:
        """Staff are told that an occurrence fell due while the bot was down too long."""
        ...

    def pin_failed(self, notice: Notice, title: str, error: str, language: str) -> dict[str, Any]:
        """Staff are told a notice could not be pinned in a group (the bot is no admin)."""
        ...


def quiet_until(
    moment: datetime, zone: ZoneInfo, window: tuple[Any, Any] | None
) -> datetime | None:
    """The end of the quiet hours `moment` falls in (aware UTC), or None outside them."""
    if window is None:
        return None
    start, end = window
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # over midnight, e.g. 22:00–07:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    naive = datetime.combine(end_day, end)
    return naive.replace(tzinfo=zone).astimezone(moment.tzinfo)


class NoticeService:
    """Creates notices, posts them when due, and tracks acknowledgements."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock
        self.renderer: NoticeRenderer | None = None

    # --- writing --------------------------------------------------------------------------

    async def zone_of(self, community_id: int) -> ZoneInfo:
        """The community's time zone."""
        async with self.db.uow() as uow:
            community = await uow.communities.get(community_id)
        return ZoneInfo(community.timezone if community else self.settings.timezone)

    async def draft(self, community_id: int, author_id: int, draft: NoticeDraft) -> Notice:
        """Save a draft (not scheduled until confirmed)."""
        if not draft.text.strip():
            raise ValueError("empty notice")
        if len(draft.text) > MAX_TEXT:
            raise ValueError("notice too long")
        if draft.target not in TARGETS:
            raise ValueError("unknown target")
        now = self.clock.now()
        async with self.db.uow() as uow:
            notice = Notice(
                community_id=community_id,
                author_id=author_id,
                text=draft.text,
                entities=draft.entities,
                target=draft.target,
                chat_ids=list(draft.chat_ids),
                pin=draft.pin,
                ack=draft.ack,
                urgent=draft.urgent,
                remind_minutes=draft.remind_minutes if draft.ack else 0,
                recurrence=draft.recurrence.to_json() if draft.recurrence else None,
                next_at=draft.first_at or now,
                status=NoticeStatus.DRAFT,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(notice)
            await uow.commit()
            return notice

    async def get(self, notice_id: int) -> Notice | None:
        """One notice by id."""
        async with self.db.uow() as uow:
            return await uow.session.get(Notice, notice_id)

    async def may_manage(self, user_id: int, notice: Notice) -> bool:
        """Staff (or admins) of the notice's community."""
        return await self.roles.has_role(user_id, notice.community_id, Role.STAFF)

    async def change(
        self, notice_id: int, user_id: int, **values: Any
    ) -> tuple[Outcome, Notice | None]:
        """Change options of a draft or a live notice (pin, ack, urgent, target, text, time …)."""
        allowed = {
            "pin",
            "ack",
            "urgent",
            "target",
            "chat_ids",
            "remind_minutes",
            "text",
            "entities",
            "next_at",
            "recurrence",
        }
        if not set(values) <= allowed:
            raise ValueError(f"cannot change {set(values) - allowed}")
        if "target" in values and values["target"] not in TARGETS:
            return Outcome.INVALID, None
        if "text" in values and not (values["text"].strip() and len(values["text"]) <= MAX_TEXT):
            return Outcome.INVALID, None
        async with self.db.uow() as uow:
            notice = await uow.session.get(Notice, notice_id)
            if notice is None:
                return Outcome.NOT_FOUND, None
            if not await self.roles.has_role(user_id, notice.community_id, Role.STAFF):
                return Outcome.FORBIDDEN, notice
            if notice.status not in (NoticeStatus.DRAFT, *LIVE):
                return Outcome.STALE, notice
            for key, value in values.items():
                setattr(notice, key, value)
            if not notice.ack:
                notice.remind_minutes = 0
            notice.updated_at = self.clock.now()
            await uow.commit()
            return Outcome.OK, notice

    async def confirm(self, notice_id: int, user_id: int) -> tuple[Outcome, Notice | None]:
        """Schedule a draft; one that is due now is posted at the next look (post_due)."""
        return await self._move(notice_id, user_id, (NoticeStatus.DRAFT,), NoticeStatus.SCHEDULED)

    async def pause(self, notice_id: int, user_id: int) -> tuple[Outcome, Notice | None]:
        """Hold a scheduled notice."""
        return await self._move(notice_id, user_id, (NoticeStatus.SCHEDULED,), NoticeStatus.PAUSED)

    async def resume(self, notice_id: int, user_id: int) -> tuple[Outcome, Notice | None]:
        """Resume a paused notice; a recurring one skips the occurrences it missed while paused."""
        return await self._move(notice_id, user_id, (NoticeStatus.PAUSED,), NoticeStatus.SCHEDULED)

    async def cancel(self, notice_id: int, user_id: int) -> tuple[Outcome, Notice | None]:
        """Cancel a draft, scheduled or paused notice (what was posted stays posted)."""
        return await self._move(
            notice_id, user_id, (NoticeStatus.DRAFT, *LIVE), NoticeStatus.CANCELLED
        )

    async def _move(
        self, notice_id: int, user_id: int, sources: Sequence[NoticeStatus], target: NoticeStatus
    ) -> tuple[Outcome, Notice | None]:
        now = self.clock.now()
        async with self.db.uow() as uow:
            notice = await uow.session.get(Notice, notice_id)
            if notice is None:
                return Outcome.NOT_FOUND, None
            if not await self.roles.has_role(user_id, notice.community_id, Role.STAFF):
                return Outcome.FORBIDDEN, notice
            values: dict[str, Any] = {"status": target, "updated_at": now}
            if target is NoticeStatus.SCHEDULED and notice.status is NoticeStatus.PAUSED:
                values["next_at"] = await self._next_from(uow, notice, now)
            late = notice.next_at is not None and notice.next_at < now
            if target is NoticeStatus.SCHEDULED and notice.status is NoticeStatus.DRAFT and late:
                # Confirmed after the time shown: a one-off posts now, a recurring one waits
                # for its next occurrence.
                values["next_at"] = await self._next_from(uow, notice, now)
            result = await uow.session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status.in_(list(sources)))
                .values(**values)
            )
            if result.rowcount != 1:
                await uow.rollback()
                async with self.db.uow() as again:
                    return Outcome.STALE, await again.session.get(Notice, notice_id)
            await uow.commit()
        async with self.db.uow() as uow:
            return Outcome.OK, await uow.session.get(Notice, notice_id)

    async def _next_from(self, uow: UnitOfWork, notice: Notice, now: datetime) -> datetime | None:
        if notice.recurrence is None:
            return notice.next_at if notice.next_at and notice.next_at > now else now
        zone = await self._zone(uow, notice.community_id)
        return Recurrence.from_json(notice.recurrence).next_after(now, zone)

    # --- reading --------------------------------------------------------------------------

    async def upcoming(self, community_id: int) -> list[Notice]:
        """Scheduled and paused notices, soonest first."""
        stmt = (
            select(Notice)
            .where(Notice.community_id == community_id, Notice.status.in_(list(LIVE)))
            .order_by(Notice.next_at, Notice.id)
            .limit(30)
        )
        async with self.db.uow() as uow:
            return list((await uow.session.scalars(stmt)).all())

    async def recent(
        self, community_id: int, days: int = 7
    ) -> list[tuple[Notice, NoticeOccurrence]]:
        """Occurrences posted in the last `days`, newest first, with their notice."""
        since = self.clock.now() - timedelta(days=days)
        stmt = (
            select(Notice, NoticeOccurrence)
            .join(NoticeOccurrence, NoticeOccurrence.notice_id == Notice.id)
            .where(
                Notice.community_id == community_id,
                NoticeOccurrence.status == "posted",
                NoticeOccurrence.posted_at >= since,
            )
            .order_by(NoticeOccurrence.posted_at.desc(), NoticeOccurrence.id.desc())
            .limit(20)
        )
        async with self.db.uow() as uow:
            return [(n, o) for n, o in (await uow.session.execute(stmt)).all()]

    async def target_chats(self, notice: Notice) -> tuple[list[Chat], list[Chat]]:
        """The chats a notice goes to now, and the ones it cannot reach (bot removed)."""
        async with self.db.uow() as uow:
            return await self._targets(uow, notice)

    async def _targets(self, uow: UnitOfWork, notice: Notice) -> tuple[list[Chat], list[Chat]]:
        if notice.target == "staff":
            kinds = [ChatKind.STAFF]
        elif notice.target == "residents":
            kinds = [ChatKind.RESIDENTS]
        else:
            wanted = {int(c) for c in notice.chat_ids}
            rows = (
                await uow.session.scalars(
                    select(Chat).where(
                        Chat.id.in_(wanted), Chat.community_id == notice.community_id
                    )
                )
            ).all()
            live = [c for c in rows if c.active]
            return sorted(live, key=lambda c: c.id), [c for c in rows if not c.active]
        live: list[Chat] = []
        gone: list[Chat] = []
        for kind in kinds:
            live += await uow.chats.of_community(notice.community_id, kind)
            gone += await uow.chats.of_community(notice.community_id, kind, active=False)
        return live, gone

    async def groups_of(self, community_id: int) -> list[Chat]:
        """The community's active residents' and staff groups (for choosing targets)."""
        async with self.db.uow() as uow:
            chats = list(await uow.chats.of_community(community_id, ChatKind.RESIDENTS))
            chats += await uow.chats.of_community(community_id, ChatKind.STAFF)
            return chats

    async def occurrence(self, occurrence_id: int) -> NoticeOccurrence | None:
        """One occurrence."""
        async with self.db.uow() as uow:
            return await uow.session.get(NoticeOccurrence, occurrence_id)

    async def latest_occurrence(self, notice_id: int) -> NoticeOccurrence | None:
        """The last posted occurrence of a notice."""
        stmt = (
            select(NoticeOccurrence)
            .where(NoticeOccurrence.notice_id == notice_id, NoticeOccurrence.status == "posted")
            .order_by(NoticeOccurrence.due_at.desc())
            .limit(1)
        )
        async with self.db.uow() as uow:
            return (await uow.session.scalars(stmt)).first()

    async def who(self, occurrence_id: int) -> list[PostView]:
        """Per chat of an occurrence: who acknowledged (and when) and who has not, by name."""
        async with self.db.uow() as uow:
            posts = (
                await uow.session.scalars(
                    select(NoticePost)
                    .where(NoticePost.occurrence_id == occurrence_id)
                    .order_by(NoticePost.id)
                )
            ).all()
            views = []
            for post in posts:
                chat = await uow.session.get(Chat, post.chat_id)
                acked = (
                    await uow.session.execute(
                        select(User, NoticeAck.at)
                        .join(NoticeAck, NoticeAck.user_id == User.id)
                        .where(NoticeAck.post_id == post.id)
                        .order_by(NoticeAck.at, NoticeAck.id)
                    )
                ).all()
                done = {u.id for u, _ in acked}
                waiting = (
                    await uow.session.scalars(
                        select(User)
                        .join(ChatMember, ChatMember.user_id == User.id)
                        .where(ChatMember.chat_id == post.chat_id, ChatMember.present.is_(True))
                        .order_by(User.id)
                    )
                ).all()
                views.append(
                    PostView(
                        post=post,
                        title=(chat.title if chat and chat.title else str(post.chat_telegram_id)),
                        acked=[(u, at) for u, at in acked],
                        waiting=[u for u in waiting if u.id not in done],
                    )
                )
            return views

    # --- posting --------------------------------------------------------------------------

    async def post_due(self, now: datetime) -> int:
        """Post (or record as missed) every occurrence that is due; how many were handled."""
        grace = timedelta(hours=self.settings.notice_grace_hours)
        async with self.db.uow() as uow:
            due = (
                await uow.session.execute(
                    select(Notice.id, Notice.next_at)
                    .where(Notice.status == NoticeStatus.SCHEDULED, Notice.next_at <= now)
                    .order_by(Notice.next_at, Notice.id)
                    .limit(50)
                )
            ).all()
        handled = 0
        for notice_id, due_at in due:
            try:
                if await self._post_one(notice_id, due_at, now, grace):
                    handled += 1
            except Exception:
                log.exception("notice %s: posting the occurrence at %s failed", notice_id, due_at)
        return handled

    async def _post_one(
        self, notice_id: int, due_at: datetime, now: datetime, grace: timedelta
    ) -> bool:
        async with self.db.uow() as uow:
            notice = await uow.session.get(Notice, notice_id)
            if (
                notice is None
                or notice.status is not NoticeStatus.SCHEDULED
                or notice.next_at != due_at
            ):
                return False
            zone = await self._zone(uow, notice.community_id)
            effective = due_at
            if not notice.urgent:
                effective = quiet_until(due_at, zone, self.settings.quiet_window) or due_at
            if effective > now:
                return False  # quiet hours: later
            # Every occurrence up to now: the last one within grace is posted, the rest missed.
            recurrence = Recurrence.from_json(notice.recurrence) if notice.recurrence else None
            missed: list[datetime] = []
            current, current_effective = due_at, effective
            following = recurrence.next_after(due_at, zone) if recurrence else None
            while following is not None and following <= now:
                missed.append(current)
                current = following
                current_effective = following
                if not notice.urgent:
                    current_effective = (
                        quiet_until(following, zone, self.settings.quiet_window) or following
                    )
                following = recurrence.next_after(following, zone) if recurrence else None
            if current_effective > now:
                # The newest occurrence waits for the end of quiet hours: post it then.
                following, post_this = current, False
            else:
                post_this = now - current_effective <= grace
                if not post_this:
                    missed.append(current)
            claimed = await uow.session.execute(
                update(Notice)
                .where(
                    Notice.id == notice_id,
                    Notice.next_at == due_at,
                    Notice.status == NoticeStatus.SCHEDULED,
                )
                .values(
                    next_at=following,
                    status=NoticeStatus.SCHEDULED if following is not None else NoticeStatus.DONE,
                    updated_at=now,
                )
            )
            if claimed.rowcount != 1:
                await uow.rollback()
                return False
            language = await community_language(
                uow, notice.community_id, self.settings.default_language
            )
            try:
                for when in missed:
                    uow.session.add(
                        NoticeOccurrence(notice_id=notice_id, due_at=when, status="missed")
                    )
                if missed:
                    await self._tell_staff(
                        uow,
                        notice.community_id,
                        f"notice:missed:{notice_id}:{int(missed[-1].timestamp())}",
                        self._renderer().missed(notice, missed[-1], len(missed), zone, language),
                    )
                if post_this:
                    await self._fan_out(uow, notice, current, now, zone, language)
                await uow.commit()
            except IntegrityError:
                await uow.rollback()
                log.warning("notice %s: occurrence at %s was handled before", notice_id, current)
                return False
        log.info(
            "notice %s: due %s handled (%s, %d missed)",
            notice_id,
            due_at.isoformat(),
            "posted" if post_this else "not posted",
            len(missed),
        )
        return True

    async def _fan_out(
        self,
        uow: UnitOfWork,
        notice: Notice,
        due: datetime,
        now: datetime,
        zone: ZoneInfo,
        language: str,
    ) -> None:
        occurrence = NoticeOccurrence(
            notice_id=notice.id, due_at=due, status="posted", posted_at=now
        )
        if notice.ack and notice.remind_minutes:
            remind = now + timedelta(minutes=notice.remind_minutes)
            occurrence.remind_at = quiet_until(remind, zone, self.settings.quiet_window) or remind
        uow.session.add(occurrence)
        await uow.session.flush()
        live, _gone = await self._targets(uow, notice)
        renderer = self._renderer()
        for chat in live:
            post = NoticePost(
                occurrence_id=occurrence.id, chat_id=chat.id, chat_telegram_id=chat.telegram_id
            )
            uow.session.add(post)
            await uow.session.flush()
            total = await self._roster_size(uow, chat.id)
            await uow.outbox.enqueue(
                f"{POST_KEY}{post.id}",
                chat.telegram_id,
                renderer.post(notice, post, 0, total, language),
            )
        if not live:
            occurrence.reported_at = None  # the report tells staff it reached no group

    # --- after sending --------------------------------------------------------------------

    async def sent(self, row: OutboxMessage, message: Message | None) -> None:
        """Outbox listener: record a post's outcome, pin it when asked."""
        async with self.db.uow() as uow:
            await self._settle_post(uow, row)
            await uow.commit()

    async def pin_settled(self, row: OutboxMessage, message: Message | None) -> None:
        """Outbox listener: a pin that failed is reported to staff once."""
        if row.status is OutboxStatus.SENT:
            return
        try:
            post_id = int(row.idempotency_key.removeprefix(PIN_KEY))
        except ValueError:
            return
        async with self.db.uow() as uow:
            post = await uow.session.get(NoticePost, post_id)
            notice = await self._notice_of(uow, post) if post is not None else None
            if post is None or notice is None:
                return
            chat = await uow.session.get(Chat, post.chat_id)
            title = chat.title if chat is not None and chat.title else str(post.chat_telegram_id)
            language = await community_language(
                uow, notice.community_id, self.settings.default_language
            )
            await self._tell_staff(
                uow,
                notice.community_id,
                f"notice:pin-failed:{post_id}",
                self._renderer().pin_failed(notice, title, row.last_error or "", language),
            )
            await uow.commit()

    async def _settle_post(self, uow: UnitOfWork, row: OutboxMessage) -> None:
        try:
            post_id = int(row.idempotency_key.removeprefix(POST_KEY))
        except ValueError:
            return
        post = await uow.session.get(NoticePost, post_id)
        if post is None or post.status != "queued":
            return
        post.chat_telegram_id = row.chat_telegram_id  # the group may have been upgraded
        if row.status is OutboxStatus.SENT:
            post.status = "sent"
            post.telegram_message_id = row.telegram_message_id
            post.sent_at = row.sent_at
            notice = await self._notice_of(uow, post)
            if notice is not None and notice.pin and row.telegram_message_id is not None:
                await uow.outbox.enqueue(
                    f"{PIN_KEY}{post.id}",
                    post.chat_telegram_id,
                    {"message_id": row.telegram_message_id, "disable_notification": True},
                    method="pinChatMessage",
                )
        elif row.status in (OutboxStatus.FAILED, OutboxStatus.UNKNOWN):
            post.status = "failed" if row.status is OutboxStatus.FAILED else "unknown"
            post.error = (row.last_error or "")[:300]

    async def settle_and_report(self, now: datetime) -> int:
        """Catch up posts whose outcome the listener missed; report finished fan-outs to staff."""
        async with self.db.uow() as uow:
            queued = (
                await uow.session.execute(
                    select(NoticePost, OutboxMessage)
                    .join(
                        OutboxMessage,
                        OutboxMessage.idempotency_key
                        == literal(POST_KEY, String) + cast(NoticePost.id, String),
                    )
                    .where(
                        NoticePost.status == "queued",
                        OutboxMessage.status.not_in([OutboxStatus.PENDING, OutboxStatus.SENDING]),
                    )
                    .limit(500)
                )
            ).all()
            for _post, row in queued:
                await self._settle_post(uow, row)
            await uow.commit()
        reported = 0
        async with self.db.uow() as uow:
            open_ = (
                await uow.session.scalars(
                    select(NoticeOccurrence)
                    .where(
                        NoticeOccurrence.status == "posted", NoticeOccurrence.reported_at.is_(None)
                    )
                    .order_by(NoticeOccurrence.id)
                    .limit(20)
                )
            ).all()
            for occurrence in open_:
                posts = (
                    await uow.session.scalars(
                        select(NoticePost).where(NoticePost.occurrence_id == occurrence.id)
                    )
                ).all()
                if any(p.status == "queued" for p in posts):
                    continue
                occurrence.reported_at = now
                notice = await uow.session.get(Notice, occurrence.notice_id)
                if notice is None:
                    continue
                titles = {
                    c.id: (c.title or str(c.telegram_id)) for c in await self._chats(uow, posts)
                }
                failed = [
                    (titles.get(p.chat_id, "?"), p.error or "")
                    for p in posts
                    if p.status == "failed"
                ]
                unknown = [titles.get(p.chat_id, "?") for p in posts if p.status == "unknown"]
                _live, gone = await self._targets(uow, notice)
                skipped = [c.title or str(c.telegram_id) for c in gone]
                if failed or unknown or skipped or not posts:
                    language = await community_language(
                        uow, notice.community_id, self.settings.default_language
                    )
                    sent = [titles.get(p.chat_id, "?") for p in posts if p.status == "sent"]
                    await self._tell_staff(
                        uow,
                        notice.community_id,
                        f"notice:report:{occurrence.id}",
                        self._renderer().report(
                            notice, occurrence, sent, failed, skipped, language, unknown
                        ),
                    )
                reported += 1
            await uow.commit()
        return reported

    async def _chats(self, uow: UnitOfWork, posts: Sequence[NoticePost]) -> Sequence[Chat]:
        ids = [p.chat_id for p in posts]
        if not ids:
            return []
        return (await uow.session.scalars(select(Chat).where(Chat.id.in_(ids)))).all()

    # --- acknowledging --------------------------------------------------------------------

    async def acknowledge(self, post_id: int, user_id: int) -> AckResult:
        """Record a 收到 once; tell the caller whether to edit the count now."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            post = await uow.session.get(NoticePost, post_id)
            if post is None:
                return AckResult(Outcome.NOT_FOUND)
            notice = await self._notice_of(uow, post)
            if notice is None or not notice.ack:
                return AckResult(Outcome.NOT_FOUND)
            try:
                async with uow.session.begin_nested():
                    uow.session.add(NoticeAck(post_id=post_id, user_id=user_id, at=now))
                    await uow.session.flush()
                outcome = Outcome.OK
            except IntegrityError:
                outcome = Outcome.STALE
            count = await self._ack_count(uow, post_id)
            total = max(count, await self._roster_size(uow, post.chat_id))
            edit_now = False
            if outcome is Outcome.OK:
                # Edit now unless the message was edited a moment ago; else the tick catches up.
                result = await uow.session.execute(
                    update(NoticePost)
                    .where(
                        NoticePost.id == post_id,
                        (NoticePost.counted_at.is_(None))
                        | (NoticePost.counted_at <= now - COUNT_EVERY),
                    )
                    .values(counted_at=now, shown_count=count, count_dirty=False)
                )
                edit_now = result.rowcount == 1
                if not edit_now:
                    post.count_dirty = True
            await uow.commit()
            return AckResult(outcome, count, total, edit_now, post, notice)

    async def _ack_count(self, uow: UnitOfWork, post_id: int) -> int:
        stmt = select(func.count()).select_from(NoticeAck).where(NoticeAck.post_id == post_id)
        return int((await uow.session.execute(stmt)).scalar_one())

    async def _roster_size(self, uow: UnitOfWork, chat_id: int) -> int:
        stmt = (
            select(func.count())
            .select_from(ChatMember)
            .where(ChatMember.chat_id == chat_id, ChatMember.present.is_(True))
        )
        return int((await uow.session.execute(stmt)).scalar_one())

    async def catch_up_counts(self, now: datetime) -> int:
        """Edit the count of messages whose last presses were not shown yet (via the outbox)."""
        edited = 0
        async with self.db.uow() as uow:
            posts = (
                await uow.session.scalars(
                    select(NoticePost)
                    .where(
                        NoticePost.count_dirty.is_(True),
                        NoticePost.telegram_message_id.is_not(None),
                    )
                    .limit(200)
                )
            ).all()
            for post in posts:
                notice = await self._notice_of(uow, post)
                if notice is None:
                    continue
                count = await self._ack_count(uow, post.id)
                total = max(count, await self._roster_size(uow, post.chat_id))
                language = await community_language(
                    uow, notice.community_id, self.settings.default_language
                )
                payload = self._renderer().post(notice, post, count, total, language)
                payload["message_id"] = post.telegram_message_id
                await uow.outbox.enqueue(
                    f"notice:count:{post.id}:{count}:{total}",
                    post.chat_telegram_id,
                    payload,
                    method="editMessageText",
                )
                post.count_dirty = False
                post.shown_count = count
                post.counted_at = now
                edited += 1
            await uow.commit()
        return edited

    async def remind(self, now: datetime) -> int:
        """Remind, in private, members who have not acknowledged an occurrence; how many."""
        sent = 0
        async with self.db.uow() as uow:
            due = (
                await uow.session.scalars(
                    select(NoticeOccurrence)
                    .where(
                        NoticeOccurrence.remind_at <= now,
                        NoticeOccurrence.reminded_at.is_(None),
                        NoticeOccurrence.status == "posted",
                    )
                    .order_by(NoticeOccurrence.remind_at)
                    .limit(20)
                )
            ).all()
            for occurrence in due:
                occurrence.reminded_at = now
                notice = await uow.session.get(Notice, occurrence.notice_id)
                if notice is None or not notice.ack or notice.status is NoticeStatus.CANCELLED:
                    continue
                zone = await self._zone(uow, notice.community_id)
                later = quiet_until(now, zone, self.settings.quiet_window)
                if later is not None and not notice.urgent:
                    occurrence.reminded_at = None
                    occurrence.remind_at = later
                    continue
                posts = (
                    await uow.session.scalars(
                        select(NoticePost)
                        .where(
                            NoticePost.occurrence_id == occurrence.id, NoticePost.status == "sent"
                        )
                        .order_by(NoticePost.id)
                    )
                ).all()
                reminded: set[int] = set()
                for post in posts:
                    chat = await uow.session.get(Chat, post.chat_id)
                    title = chat.title if chat and chat.title else ""
                    acked = select(NoticeAck.user_id).where(NoticeAck.post_id == post.id)
                    people = (
                        await uow.session.scalars(
                            select(User)
                            .join(ChatMember, ChatMember.user_id == User.id)
                            .where(
                                ChatMember.chat_id == post.chat_id,
                                ChatMember.present.is_(True),
                                User.private_chat_open.is_(True),
                                User.blocked_bot.is_(False),
                                User.id.not_in(acked),
                            )
                            .order_by(User.id)
                        )
                    ).all()
                    for person in people:
                        if person.id in reminded:
                            continue
                        reminded.add(person.id)
                        language = choose_language(
                            person.language,
                            person.telegram_language,
                            self.settings.default_language,
                        )
                        await uow.outbox.enqueue(
                            f"notice:remind:{occurrence.id}:{person.id}",
                            person.id,
                            self._renderer().reminder(notice, post, title, language),
                        )
                        sent += 1
            await uow.commit()
        return sent

    # --- helpers --------------------------------------------------------------------------

    async def _notice_of(self, uow: UnitOfWork, post: NoticePost) -> Notice | None:
        occurrence = await uow.session.get(NoticeOccurrence, post.occurrence_id)
        return await uow.session.get(Notice, occurrence.notice_id) if occurrence else None

    async def _zone(self, uow: UnitOfWork, community_id: int) -> ZoneInfo:
        community = await uow.session.get(Community, community_id)
        return ZoneInfo(community.timezone if community else self.settings.timezone)

    async def _tell_staff(
        self, uow: UnitOfWork, community_id: int, key: str, payload: dict[str, Any]
    ) -> None:
        for chat in await uow.chats.of_community(community_id, ChatKind.STAFF):
            await uow.outbox.enqueue(f"{key}:{chat.telegram_id}", chat.telegram_id, payload)

    def _renderer(self) -> NoticeRenderer:
        if self.renderer is None:
            raise RuntimeError("no notice renderer installed (handlers/notice.py sets it)")
        return self.renderer

    async def tick(self, now: datetime) -> None:
        """The periodic job: post what is due, settle and report, catch up counts, remind."""
        await self.post_due(now)
        await self.settle_and_report(now)
        await self.catch_up_counts(now)
        await self.remind(now)
