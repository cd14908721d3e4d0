"""Daily check-ins for elders who live alone (每日问安) and the escalation ladder behind them.

The most reliable part of Linli, so everything is a row and every message is an outbox
message queued in the same transaction as the row that causes it:

- each day's check-in is one `checkins` row, unique per (elder, local date): the prompt is
  queued when the row is created, so a restart cannot prompt twice or forget to prompt;
- each step of the ladder (remind +30 min, family +60, volunteer and grid worker +2 h, staff
  group +4 h; per community in `communities.checkin_ladder`) is one `checkin_steps` row,
  unique per (check-in, step), written with its messages; steps are due by the clock, not by
  a timer, so after downtime every step that fell due is done once, at the first tick;
- alerts (`care_alerts`) carry "I'm on it" and "they are fine" buttons; closing one sends an
  all-clear to every chat that got the alert (found by the outbox keys `care:alert:<id>:…`);
- alerts (and staff's messages about elders) have outbox priority 1, so they go ahead of
  everything else; the daily prompts and reminders to the elders themselves queue at 0, in
  order with notices: 10,000 prompts take Telegram's 30 messages/s over five minutes, and an
  alert that falls due meanwhile must not wait behind them (bench/checkin_prompts.py).

A prompt Telegram refuses (the elder blocked the bot, the account is gone) is not a missed
check-in: the ladder does not run for it, and staff are told at once to fix the enrolment.
Nothing about an elder goes to a residents' group: alerts go to the accepted contacts in
private and to the staff group.
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from telegram import Message

from bot.clock import Clock
from bot.i18n import choose_language
from bot.services.roles import RoleService
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    CareAlert,
    CareContact,
    CareInvite,
    ChatKind,
    CheckIn,
    CheckInStep,
    Community,
    Elder,
    ElderStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    User,
)
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

STEPS = ("remind", "family", "volunteer", "staff")
DEFAULT_LADDER = {"remind": 30, "family": 60, "volunteer": 120, "staff": 240}
CONTACT_KINDS = ("family", "volunteer", "grid", "staff")
STEP_KINDS = {"family": ("family",), "volunteer": ("volunteer", "grid"), "staff": ("staff",)}
EARLIEST, LATEST = time(5, 30), time(21, 30)
INVITE_DAYS = 7
HISTORY_DAYS = 90
SUMMARY_AT = time(10, 30)  # the morning summary to the staff group, local time
PRIORITY = 1  # outbox priority of alerts: ahead of prompts and notices
PROMPT_KEY = "care:prompt:"
PROMPT_BATCH = 100  # check-ins created (each with its prompt) per transaction
PROMPT_PRIORITY = 0  # prompts and reminders to the elder: behind alerts, with notices

# Words that mean "I need help" in an elder's message, in any check-in or none.
HELP_WORDS = (
    "救命",
    "不舒服",
    "摔倒",
    "摔了",
    "跌倒",
    "跌了",
    "难受",
    "头晕",
    "胸口疼",
    "胸口痛",
    "胸闷",
    "喘不上气",
    "喘不过气",
    "呼吸困难",
    "需要帮助",
    "帮帮我",
    "快来",
    "出事了",
    "起不来",
    "心脏",
    "晕倒",
    "流血",
    "疼死",
    "痛死",
    "不行了",
    "求救",
)
HELP_ENGLISH = re.compile(
    r"\b(help|sos|emergency|i fell|fell down|not feeling well|feel sick|chest pain|"
    r"can'?t breathe|cannot breathe|dizzy|bleeding|ambulance)\b",
    re.IGNORECASE,
)
# Words that sound alarming but say the opposite: 不需要帮助, "no help needed".
NOT_HELP = re.compile(
    r"不需要帮助|不用帮|没有不舒服|没不舒服|no help|don'?t need help|no need", re.IGNORECASE
)


def asks_for_help(text: str) -> bool:
    """Whether an elder's message calls for help (救命, 不舒服, 摔倒, "help", …)."""
    if not text or NOT_HELP.search(text):
        return False
    return any(w in text for w in HELP_WORDS) or bool(HELP_ENGLISH.search(text))


class Outcome(enum.StrEnum):
    """What became of an attempt to change an enrolment or an alert."""

    OK = "ok"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    STALE = "stale"  # used, expired, closed, or someone else got there first
    INVALID = "invalid"


@dataclass(frozen=True)
class Answer:
    """What an elder's message did: nothing, a check-in answered (with the streak), or help."""

    kind: str  # "none" | "ok" | "late" | "help" | "already"
    streak: int = 0
    alert_id: int | None = None


@dataclass(frozen=True)
class Ladder:
    """Minutes after the check-in time for each step."""

    remind: int = 30
    family: int = 60
    volunteer: int = 120
    staff: int = 240

    @classmethod
    def of(cls, community: Community | None) -> Ladder:
        """The community's ladder, or the defaults."""
        values = dict(DEFAULT_LADDER)
        if community is not None and isinstance(community.checkin_ladder, dict):
            for key in STEPS:
                value = community.checkin_ladder.get(key)
                if isinstance(value, int) and 0 < value <= 24 * 60:
                    values[key] = value
        return cls(**values)

    def minutes(self, step: str) -> int:
        """The delay of one step."""
        return int(getattr(self, step))

    def valid(self) -> bool:
        """Steps strictly increasing, all within a day."""
        values = [self.minutes(s) for s in STEPS]
        return (
            all(0 < a < b for a, b in zip(values, values[1:], strict=False)) and values[-1] <= 1440
        )


@dataclass(frozen=True)
class ElderView:
    """An elder with today's state, for /elders and the summary."""

    elder: Elder
    today: CheckIn | None
    contacts: int
    steps: tuple[str, ...] = ()


class CareRenderer(Protocol):
    """Turns check-in events into messages (implemented by handlers/care.py)."""

    def prompt(self, elder: Elder, language: str) -> dict[str, Any]:
        """The daily greeting with the two big reply-keyboard buttons."""
        ...

    def reminder(self, elder: Elder, language: str) -> dict[str, Any]:
        """The +30 min reminder to the elder."""
        ...

    def alert(
        self,
        elder: Elder,
        alert: CareAlert,
        step: str,
        due: datetime | None,
        last_ok: datetime | None,
        zone: ZoneInfo,
        note: str,
        language: str,
    ) -> dict[str, Any]:
        """An alert to a contact or the staff group, with "I'm on it" and "they are fine"."""
        ...

    def undeliverable(self, elder: Elder, error: str, language: str) -> dict[str, Any]:
        """Staff: the prompt could not be delivered; fix the enrolment."""
        ...

    def responding(self, elder: Elder, alert: CareAlert, who: str, language: str) -> dict[str, Any]:
        """The others alerted are told who is going."""
        ...

    def all_clear(self, elder: Elder, alert: CareAlert, who: str, language: str) -> dict[str, Any]:
        """Everyone alerted hears it is over, and how."""
        ...

    def summary(self, views: Sequence[ElderView], language: str) -> dict[str, Any]:
        """The morning summary for the staff group."""
        ...

    def away_reminder(self, elder: Elder, language: str) -> dict[str, Any]:
        """The day before the elder is back: check-ins start again tomorrow."""
        ...

    def enrolment_news(self, elder: Elder, event: str, who: str, language: str) -> dict[str, Any]:
        """Staff (and the inviter) hear that an elder or a contact accepted, paused or left."""
        ...


class CareService:
    """Enrolment, the daily check-in, the ladder, alerts and the summary."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock
        self.renderer: CareRenderer | None = None

    # --- enrolment --------------------------------------------------------------------------

    async def invite_elder(
        self,
        community_id: int,
        inviter_id: int,
        *,
        name: str,
        address: str | None,
        phone: str | None,
        at: time = time(9, 0),
        as_family: bool,
    ) -> tuple[Elder, str]:
        """Create an invited elder and the single-use link token for them to accept.

        A family member who invites becomes the elder's first family contact (accepted: they
        asked for it); staff who invite are not a contact (the staff group is alerted anyway).
        """
        if not EARLIEST <= at <= LATEST:
            raise ValueError("check-in time out of range")
        now = self.clock.now()
        async with self.db.uow() as uow:
            elder = Elder(
                community_id=community_id,
                name=name.strip()[:100],
                address=(address or "").strip()[:200] or None,
                phone=(phone or "").strip()[:32] or None,
                checkin_hour=at.hour,
                checkin_minute=at.minute,
                days=list(range(7)),
                status=ElderStatus.INVITED,
                invited_by=inviter_id,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(elder)
            await uow.session.flush()
            if as_family:
                uow.session.add(
                    CareContact(
                        elder_id=elder.id, user_id=inviter_id, kind="family", accepted_at=now
                    )
                )
            token = await self._new_invite(uow, elder.id, "elder", inviter_id, now)
            await uow.commit()
            return elder, token

    async def invite_contact(
        self, elder_id: int, by_user: int, kind: str
    ) -> tuple[Outcome, str | None]:
        """A link for a contact to accept; by the elder, staff, or an accepted family contact."""
        if kind not in CONTACT_KINDS:
            return Outcome.INVALID, None
        now = self.clock.now()
        async with self.db.uow() as uow:
            elder = await uow.session.get(Elder, elder_id)
            if elder is None or elder.status is ElderStatus.LEFT:
                return Outcome.NOT_FOUND, None
            if not await self._may_manage(uow, elder, by_user):
                return Outcome.FORBIDDEN, None
            token = await self._new_invite(uow, elder.id, kind, by_user, now)
            await uow.commit()
            return Outcome.OK, token

    async def _new_invite(
        self, uow: UnitOfWork, elder_id: int, purpose: str, by: int, now: datetime
    ) -> str:
        token = secrets.token_urlsafe(12).replace("-", "x")
        uow.session.add(
            CareInvite(
                token=token,
                elder_id=elder_id,
                purpose=purpose,
                created_by=by,
                created_at=now,
                expires_at=now + timedelta(days=INVITE_DAYS),
            )
        )
        await uow.session.flush()
        return token

    async def invitation(self, token: str) -> tuple[CareInvite, Elder] | None:
        """A usable invitation and its elder (None: unknown, used or expired)."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            invite = await uow.session.scalar(select(CareInvite).where(CareInvite.token == token))
            if invite is None or invite.used_at is not None or invite.expires_at <= now:
                return None
            elder = await uow.session.get(Elder, invite.elder_id)
            if elder is None or elder.status is ElderStatus.LEFT:
                return None
            return invite, elder

    async def accept(
        self, token: str, user_id: int, language: str
    ) -> tuple[Outcome, Elder | None, str]:
        """Accept an invitation (the elder's consent, or a contact's); returns its purpose."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            invite = await uow.session.scalar(select(CareInvite).where(CareInvite.token == token))
            if invite is None:
                return Outcome.NOT_FOUND, None, ""
            purpose, elder_id = invite.purpose, invite.elder_id
            elder = await uow.session.get(Elder, elder_id)
            if elder is None or elder.status is ElderStatus.LEFT:
                return Outcome.NOT_FOUND, None, purpose
            claimed = await uow.session.execute(
                update(CareInvite)
                .where(
                    CareInvite.id == invite.id,
                    CareInvite.used_at.is_(None),
                    CareInvite.expires_at > now,
                )
                .values(used_at=now, used_by=user_id)
            )
            if claimed.rowcount != 1:
                await uow.rollback()
                return Outcome.STALE, await uow.session.get(Elder, elder_id), purpose
            if invite.purpose == "elder":
                other = await uow.session.scalar(
                    select(Elder).where(Elder.user_id == user_id, Elder.status != ElderStatus.LEFT)
                )
                if other is not None and other.id != elder.id:
                    await uow.rollback()
                    return Outcome.INVALID, await uow.session.get(Elder, other.id), purpose
                elder.user_id = user_id
                elder.status = ElderStatus.ACTIVE
                elder.consent_at = now
                elder.withdrawn_at = None
                elder.language = language
                elder.updated_at = now
                contact = await uow.session.scalar(
                    select(CareContact).where(
                        CareContact.elder_id == elder.id, CareContact.user_id == user_id
                    )
                )
                if contact is not None:  # the elder cannot be their own contact
                    await uow.session.delete(contact)
            else:
                if elder.user_id == user_id:
                    await uow.rollback()
                    return Outcome.INVALID, await uow.session.get(Elder, elder_id), purpose
                contact = await uow.session.scalar(
                    select(CareContact).where(
                        CareContact.elder_id == elder.id, CareContact.user_id == user_id
                    )
                )
                if contact is None:
                    uow.session.add(
                        CareContact(
                            elder_id=elder.id, user_id=user_id, kind=invite.purpose, accepted_at=now
                        )
                    )
                else:
                    contact.kind, contact.accepted_at, contact.removed_at = (
                        invite.purpose,
                        now,
                        None,
                    )
            who = await uow.users.get(user_id)
            await self._news(
                uow, elder, f"accepted:{invite.purpose}", who.display_name if who else str(user_id)
            )
            await uow.commit()
            return Outcome.OK, elder, invite.purpose

    async def elder_of(self, user_id: int) -> Elder | None:
        """The person's own enrolment (active or paused), if any."""
        async with self.db.uow() as uow:
            return await uow.session.scalar(
                select(Elder).where(
                    Elder.user_id == user_id,
                    Elder.status.in_([ElderStatus.ACTIVE, ElderStatus.PAUSED]),
                )
            )

    async def get(self, elder_id: int) -> Elder | None:
        """One elder."""
        async with self.db.uow() as uow:
            return await uow.session.get(Elder, elder_id)

    async def contacts(self, elder_id: int) -> list[tuple[CareContact, User]]:
        """Accepted contacts in ladder order."""
        order = {k: i for i, k in enumerate(CONTACT_KINDS)}
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(CareContact, User)
                    .join(User, User.id == CareContact.user_id)
                    .where(
                        CareContact.elder_id == elder_id,
                        CareContact.accepted_at.is_not(None),
                        CareContact.removed_at.is_(None),
                    )
                )
            ).all()
        return sorted(
            ((c, u) for c, u in rows), key=lambda cu: (order.get(cu[0].kind, 9), cu[0].id)
        )

    async def set_time(self, elder_id: int, by_user: int, at: time) -> Outcome:
        """Change the check-in time (05:30–21:30); takes effect from the next check-in."""
        if not EARLIEST <= at <= LATEST:
            return Outcome.INVALID
        return await self._change(elder_id, by_user, checkin_hour=at.hour, checkin_minute=at.minute)

    async def set_days(self, elder_id: int, by_user: int, days: Sequence[int]) -> Outcome:
        """Check-in days (0 = Monday); at least one."""
        clean = sorted({int(d) for d in days if 0 <= int(d) <= 6})
        if not clean:
            return Outcome.INVALID
        return await self._change(elder_id, by_user, days=clean)

    async def set_away(self, elder_id: int, by_user: int, until: date | None) -> Outcome:
        """Away until a date (no check-ins before it), or back (None)."""
        today = await self.local_today(elder_id)
        if until is not None and (until <= today or until > today + timedelta(days=180)):
            return Outcome.INVALID
        return await self._change(
            elder_id, by_user, away_until=until.isoformat() if until else None, away_reminded=None
        )

    async def pause(self, elder_id: int, by_user: int) -> Outcome:
        """No check-ins until resumed (the elder's choice)."""
        return await self._change(
            elder_id, by_user, _from=(ElderStatus.ACTIVE,), status=ElderStatus.PAUSED
        )

    async def resume(self, elder_id: int, by_user: int) -> Outcome:
        """Check-ins again from the next one."""
        return await self._change(
            elder_id, by_user, _from=(ElderStatus.PAUSED,), status=ElderStatus.ACTIVE
        )

    async def leave(self, elder_id: int, by_user: int) -> Outcome:
        """The elder withdraws consent: no more check-ins; staff are told."""
        now = self.clock.now()
        return await self._change(
            elder_id,
            by_user,
            _from=(ElderStatus.ACTIVE, ElderStatus.PAUSED, ElderStatus.INVITED),
            family_ok=False,
            status=ElderStatus.LEFT,
            withdrawn_at=now,
        )

    async def _change(
        self,
        elder_id: int,
        by_user: int,
        _from: Sequence[ElderStatus] | None = None,
        *,
        family_ok: bool = True,
        **values: Any,
    ) -> Outcome:
        """Change an enrolment: the elder, staff, or (unless leaving) an accepted family contact."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            elder = await uow.session.get(Elder, elder_id)
            if elder is None:
                return Outcome.NOT_FOUND
            if family_ok:
                allowed = await self._may_manage(uow, elder, by_user)
            else:
                allowed = elder.user_id == by_user or await self.roles.has_role(
                    by_user, elder.community_id, Role.STAFF
                )
            if not allowed:
                return Outcome.FORBIDDEN
            if _from is not None and elder.status not in _from:
                return Outcome.STALE
            for key, value in values.items():
                setattr(elder, key, value)
            elder.updated_at = now
            if "status" in values and values["status"] in (
                ElderStatus.PAUSED,
                ElderStatus.LEFT,
                ElderStatus.ACTIVE,
            ):
                who = await uow.users.get(by_user)
                await self._news(uow, elder, str(values["status"]), who.display_name if who else "")
            await uow.commit()
            return Outcome.OK

    async def _may_manage(self, uow: UnitOfWork, elder: Elder, user_id: int) -> bool:
        if elder.user_id == user_id or await self.roles.has_role(
            user_id, elder.community_id, Role.STAFF
        ):
            return True
        contact = await uow.session.scalar(
            select(CareContact).where(
                CareContact.elder_id == elder.id,
                CareContact.user_id == user_id,
                CareContact.kind == "family",
                CareContact.accepted_at.is_not(None),
                CareContact.removed_at.is_(None),
            )
        )
        return contact is not None

    async def may_manage(self, elder_id: int, user_id: int) -> bool:
        """The elder, staff of the community, or an accepted family contact."""
        async with self.db.uow() as uow:
            elder = await uow.session.get(Elder, elder_id)
            return elder is not None and await self._may_manage(uow, elder, user_id)

    async def family_of(self, user_id: int) -> list[Elder]:
        """Elders for whom the person is an accepted family contact."""
        async with self.db.uow() as uow:
            rows = await uow.session.scalars(
                select(Elder)
                .join(CareContact, CareContact.elder_id == Elder.id)
                .where(
                    CareContact.user_id == user_id,
                    CareContact.kind == "family",
                    CareContact.accepted_at.is_not(None),
                    CareContact.removed_at.is_(None),
                    Elder.status != ElderStatus.LEFT,
                )
                .order_by(Elder.id)
            )
            return list(rows.all())

    # --- answers and help -------------------------------------------------------------------

    async def answer(
        self, user_id: int, kind: str, text: str, *, help_pressed: bool = False
    ) -> Answer:
        """An enrolled elder wrote: help, or today's check-in answered (late ones clear alerts)."""
        now = self.clock.now()
        if help_pressed or (kind == "text" and asks_for_help(text)):
            elder = await self.elder_of(user_id)
            if elder is None:
                return Answer("none")
            alert_id = await self.help(elder.id, user_id)
            return Answer("help", alert_id=alert_id)
        async with self.db.uow() as uow:
            elder = await uow.session.scalar(
                select(Elder).where(Elder.user_id == user_id, Elder.status == ElderStatus.ACTIVE)
            )
            if elder is None:
                return Answer("none")
            pending = await uow.session.scalar(
                select(CheckIn)
                .where(
                    CheckIn.elder_id == elder.id, CheckIn.status.in_(["pending", "undeliverable"])
                )
                .order_by(CheckIn.day.desc())
                .limit(1)
            )
            if pending is None:
                return Answer("none")
            done = await uow.session.execute(
                update(CheckIn)
                .where(CheckIn.id == pending.id, CheckIn.status.in_(["pending", "undeliverable"]))
                .values(status="ok", answered_at=now, answer=kind[:16])
            )
            if done.rowcount != 1:
                return Answer("already")
            escalated = await self._escalated(uow, pending.id)
            alert = await uow.session.scalar(
                select(CareAlert).where(
                    CareAlert.checkin_id == pending.id, CareAlert.closed_at.is_(None)
                )
            )
            if alert is not None:
                await self._close(uow, alert, elder, user_id, "answered", now)
            await uow.commit()
            streak = await self._streak(uow, elder.id)
        return Answer("late" if escalated else "ok", streak=streak)

    async def _escalated(self, uow: UnitOfWork, checkin_id: int) -> bool:
        steps = await uow.session.scalars(
            select(CheckInStep.step).where(CheckInStep.checkin_id == checkin_id)
        )
        return any(s in ("family", "volunteer", "staff") for s in steps)

    async def help(self, elder_id: int, by_user: int) -> int | None:
        """A call for help: every accepted contact and the staff group, at once."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            elder = await uow.session.get(Elder, elder_id)
            if elder is None:
                return None
            open_help = await uow.session.scalar(
                select(CareAlert).where(
                    CareAlert.elder_id == elder_id,
                    CareAlert.kind == "help",
                    CareAlert.closed_at.is_(None),
                )
            )
            if open_help is not None and now - open_help.opened_at < timedelta(minutes=10):
                return open_help.id  # pressed again: the same alert, not another wave
            alert = CareAlert(elder_id=elder_id, kind="help", opened_at=now)
            uow.session.add(alert)
            await uow.session.flush()
            await self._alert(uow, elder, alert, "help", list(CONTACT_KINDS), staff_group=True)
            await uow.commit()
            return alert.id

    async def respond(
        self, alert_id: int, user_id: int
    ) -> tuple[Outcome, CareAlert | None, str | None]:
        """'I'm on it': the first one is the responder; the others alerted are told who goes."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            alert = await uow.session.get(CareAlert, alert_id)
            if alert is None:
                return Outcome.NOT_FOUND, None, None
            elder = await uow.session.get(Elder, alert.elder_id)
            if elder is None or not await self._alerted(uow, alert, user_id):
                return Outcome.FORBIDDEN, alert, None
            if alert.closed_at is not None:
                return Outcome.STALE, alert, None
            claimed = await uow.session.execute(
                update(CareAlert)
                .where(
                    CareAlert.id == alert_id,
                    CareAlert.responder_id.is_(None),
                    CareAlert.closed_at.is_(None),
                )
                .values(responder_id=user_id, responding_at=now)
            )
            if claimed.rowcount != 1:
                await uow.rollback()
                async with self.db.uow() as again:
                    current = await again.session.get(CareAlert, alert_id)
                    who = (
                        await again.users.get(current.responder_id)
                        if current and current.responder_id
                        else None
                    )
                return Outcome.STALE, current, who.display_name if who else None
            who = await uow.users.get(user_id)
            name = who.display_name if who else str(user_id)
            for chat, language in await self._recipients(uow, alert):
                if chat == user_id:
                    continue
                await self._queue(
                    uow,
                    f"care:alert:{alert.id}:onit:{chat}",
                    chat,
                    self._renderer().responding(elder, alert, name, language),
                )
            await uow.commit()
            return Outcome.OK, alert, name

    async def resolve(
        self, alert_id: int, user_id: int, outcome: str
    ) -> tuple[Outcome, CareAlert | None]:
        """Close an alert with what happened; everyone alerted gets the all-clear."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            alert = await uow.session.get(CareAlert, alert_id)
            if alert is None:
                return Outcome.NOT_FOUND, None
            elder = await uow.session.get(Elder, alert.elder_id)
            if elder is None or not await self._alerted(uow, alert, user_id):
                return Outcome.FORBIDDEN, alert
            if not await self._close(uow, alert, elder, user_id, outcome, now):
                await uow.rollback()
                return Outcome.STALE, alert
            if alert.checkin_id is not None:
                await uow.session.execute(
                    update(CheckIn)
                    .where(CheckIn.id == alert.checkin_id, CheckIn.status == "pending")
                    .values(status="resolved", answered_at=now, answer="contact")
                )
            await uow.commit()
            return Outcome.OK, alert

    async def _close(
        self,
        uow: UnitOfWork,
        alert: CareAlert,
        elder: Elder,
        user_id: int,
        outcome: str,
        now: datetime,
    ) -> bool:
        closed = await uow.session.execute(
            update(CareAlert)
            .where(CareAlert.id == alert.id, CareAlert.closed_at.is_(None))
            .values(closed_at=now, closed_by=user_id, outcome=outcome[:300])
        )
        if closed.rowcount != 1:
            return False
        alert.closed_at, alert.closed_by, alert.outcome = now, user_id, outcome[:300]
        who = await uow.users.get(user_id)
        name = who.display_name if who else ""
        for chat, language in await self._recipients(uow, alert):
            await self._queue(
                uow,
                f"care:alert:{alert.id}:clear:{chat}",
                chat,
                self._renderer().all_clear(elder, alert, name, language),
            )
        return True

    async def _alerted(self, uow: UnitOfWork, alert: CareAlert, user_id: int) -> bool:
        """Contacts and staff may act on an alert (whoever got it, and staff of the community)."""
        elder = await uow.session.get(Elder, alert.elder_id)
        if elder is None:
            return False
        if await self.roles.has_role(user_id, elder.community_id, Role.STAFF):
            return True
        contact = await uow.session.scalar(
            select(CareContact).where(
                CareContact.elder_id == elder.id,
                CareContact.user_id == user_id,
                CareContact.accepted_at.is_not(None),
                CareContact.removed_at.is_(None),
            )
        )
        return contact is not None

    async def _recipients(self, uow: UnitOfWork, alert: CareAlert) -> list[tuple[int, str]]:
        """Every chat that got this alert, with the language to write to it in."""
        chats = (
            await uow.session.scalars(
                select(OutboxMessage.chat_telegram_id)
                .where(OutboxMessage.idempotency_key.like(f"care:alert:{alert.id}:step-%"))
                .distinct()
            )
        ).all()
        elder = await uow.session.get(Elder, alert.elder_id)
        group_language = await self._community_language(uow, elder.community_id) if elder else None
        out = []
        for chat in sorted(int(c) for c in chats):
            if chat > 0:
                user = await uow.users.get(chat)
                language = choose_language(
                    user.language if user else None,
                    user.telegram_language if user else None,
                    self.settings.default_language,
                )
            else:
                language = group_language or self.settings.default_language
            out.append((chat, language))
        return out

    # --- the ladder -------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """The periodic job: prompts due, ladder steps due, away reminders, the summary, pruning."""
        await self.prompt_due(now)
        await self.escalate_due(now)
        await self.away_reminders(now)
        await self.summaries(now)
        await self.prune(now)

    async def prompt_due(self, now: datetime) -> int:
        """Create today's (and a missed yesterday's) check-in of every active elder whose time came."""
        created = 0
        due_now: list[tuple[Elder, date, datetime]] = []
        async with self.db.uow() as uow:
            elders = (
                await uow.session.scalars(
                    select(Elder).where(
                        Elder.status == ElderStatus.ACTIVE, Elder.user_id.is_not(None)
                    )
                )
            ).all()
            zones = {c.id: ZoneInfo(c.timezone) for c in await uow.communities.all()}
            if not elders:
                return 0
            since = (now - timedelta(days=2)).date().isoformat()
            existing = {
                (e, d)
                for e, d in (
                    await uow.session.execute(
                        select(CheckIn.elder_id, CheckIn.day).where(CheckIn.day >= since)
                    )
                ).all()
            }
        for elder in elders:
            zone = zones.get(elder.community_id, ZoneInfo(self.settings.timezone))
            today = now.astimezone(zone).date()
            for day in (today - timedelta(days=1), today):
                if (elder.id, day.isoformat()) in existing or day.weekday() not in (
                    elder.days or []
                ):
                    continue
                if elder.away_until and day.isoformat() < elder.away_until:
                    continue
                due = self.due_at(elder, day, zone)
                if due > now or elder.consent_at is None or elder.consent_at > due:
                    continue
                if now - due > timedelta(hours=20):
                    continue  # a day long gone: no prompt for it now (the ladder would be moot)
                due_now.append((elder, day, due))
        for start in range(0, len(due_now), PROMPT_BATCH):
            created += await self._create_checkins(due_now[start : start + PROMPT_BATCH], now)
        return created

    @staticmethod
    def due_at(elder: Elder, day: date, zone: ZoneInfo) -> datetime:
        """The elder's check-in time on a local date, as aware UTC (wall-clock in the zone)."""
        from datetime import UTC

        local = datetime.combine(day, time(elder.checkin_hour, elder.checkin_minute), tzinfo=zone)
        return local.astimezone(UTC)

    async def _create_checkins(
        self, batch: Sequence[tuple[Elder, date, datetime]], now: datetime
    ) -> int:
        """Create several check-ins, each with its prompt, in one transaction; how many.

        The rows and their prompts commit together, as one by one. If any of them was made
        elsewhere meanwhile (a second ticker: the unique (elder, day) says so), the whole batch
        is undone and done again one by one, so the others are not lost.
        """
        if len(batch) == 1:
            elder, day, due = batch[0]
            return int(await self._create_checkin(elder, day, due, now))
        async with self.db.uow() as uow:
            try:
                checkins = [
                    CheckIn(
                        elder_id=elder.id,
                        day=day.isoformat(),
                        due_at=due,
                        status="pending",
                        created_at=now,
                    )
                    for elder, day, due in batch
                ]
                uow.session.add_all(checkins)
                await uow.session.flush()
                uow.session.add_all(
                    [
                        CheckInStep(checkin_id=c.id, step="prompt", at=now, recipients=1)
                        for c in checkins
                    ]
                )
                messages = []
                for checkin, (elder, _day, _due) in zip(checkins, batch, strict=True):
                    assert elder.user_id is not None
                    messages.append(
                        (
                            f"{PROMPT_KEY}{checkin.id}",
                            elder.user_id,
                            self._renderer().prompt(elder, self._language(elder)),
                        )
                    )
                await uow.outbox.enqueue_new(messages, priority=PROMPT_PRIORITY)
                await uow.commit()
                return len(batch)
            except IntegrityError:
                await uow.rollback()
                log.info("check-ins: a batch of %d met one made elsewhere; one by one", len(batch))
        created = 0
        for elder, day, due in batch:
            if await self._create_checkin(elder, day, due, now):
                created += 1
        return created

    async def _create_checkin(self, elder: Elder, day: date, due: datetime, now: datetime) -> bool:
        async with self.db.uow() as uow:
            try:
                checkin = CheckIn(
                    elder_id=elder.id,
                    day=day.isoformat(),
                    due_at=due,
                    status="pending",
                    created_at=now,
                )
                uow.session.add(checkin)
                await uow.session.flush()
                uow.session.add(
                    CheckInStep(checkin_id=checkin.id, step="prompt", at=now, recipients=1)
                )
                assert elder.user_id is not None
                await self._queue(
                    uow,
                    f"{PROMPT_KEY}{checkin.id}",
                    elder.user_id,
                    self._renderer().prompt(elder, self._language(elder)),
                    priority=PROMPT_PRIORITY,
                )
                await uow.commit()
            except IntegrityError:
                await uow.rollback()
                return False
        return True

    async def escalate_due(self, now: datetime) -> int:
        """Every ladder step of a pending check-in that has fell due, once."""
        done = 0
        async with self.db.uow() as uow:
            pending = (
                await uow.session.scalars(
                    select(CheckIn).where(CheckIn.status == "pending", CheckIn.due_at <= now)
                )
            ).all()
            if not pending:
                return 0
            steps: dict[int, set[str]] = {}
            for checkin_id, step in (
                await uow.session.execute(
                    select(CheckInStep.checkin_id, CheckInStep.step).where(
                        CheckInStep.checkin_id.in_([c.id for c in pending])
                    )
                )
            ).all():
                steps.setdefault(checkin_id, set()).add(step)
            ladders = {c.id: Ladder.of(c) for c in await uow.communities.all()}
            elders = {
                e.id: e
                for e in (
                    await uow.session.scalars(
                        select(Elder).where(Elder.id.in_({c.elder_id for c in pending}))
                    )
                ).all()
            }
        for checkin in pending:
            elder = elders.get(checkin.elder_id)
            if elder is None or elder.status is not ElderStatus.ACTIVE:
                continue
            ladder = ladders.get(elder.community_id, Ladder())
            due_steps = [
                s
                for s in STEPS
                if s not in steps.get(checkin.id, set())
                and checkin.due_at + timedelta(minutes=ladder.minutes(s)) <= now
            ]
            if due_steps and await self._do_steps(checkin.id, elder.id, due_steps, now):
                done += len(due_steps)
        return done

    async def _do_steps(
        self, checkin_id: int, elder_id: int, due_steps: list[str], now: datetime
    ) -> bool:
        """Do the steps in one transaction (all or none), after checking the check-in is pending."""
        async with self.db.uow() as uow:
            checkin = await uow.session.get(CheckIn, checkin_id)
            elder = await uow.session.get(Elder, elder_id)
            if checkin is None or elder is None or checkin.status != "pending":
                return False
            try:
                alert: CareAlert | None = None
                for step in due_steps:
                    row = CheckInStep(checkin_id=checkin_id, step=step, at=now)
                    uow.session.add(row)
                    await uow.session.flush()
                    if step == "remind":
                        assert elder.user_id is not None
                        await self._queue(
                            uow,
                            f"{PROMPT_KEY}{checkin_id}:remind",
                            elder.user_id,
                            self._renderer().reminder(elder, self._language(elder)),
                            priority=PROMPT_PRIORITY,
                        )
                        row.recipients = 1
                        continue
                    if alert is None:
                        alert = await uow.session.scalar(
                            select(CareAlert).where(CareAlert.checkin_id == checkin_id)
                        )
                    if alert is None:
                        alert = CareAlert(
                            elder_id=elder_id, checkin_id=checkin_id, kind="missed", opened_at=now
                        )
                        uow.session.add(alert)
                        await uow.session.flush()
                    if alert.closed_at is not None:
                        continue
                    row.recipients = await self._alert(
                        uow, elder, alert, step, list(STEP_KINDS[step]), staff_group=step == "staff"
                    )
                await uow.commit()
            except IntegrityError:
                await uow.rollback()
                log.info("check-in %s: steps %s were done elsewhere", checkin_id, due_steps)
                return False
        log.info("check-in %s of elder %s: %s", checkin_id, elder_id, ", ".join(due_steps))
        return True

    async def _alert(
        self,
        uow: UnitOfWork,
        elder: Elder,
        alert: CareAlert,
        step: str,
        kinds: list[str],
        *,
        staff_group: bool,
    ) -> int:
        """Queue the alert to the contacts of these kinds (and the staff group); how many chats.

        A step with nobody to alert (no accepted family, say) goes to the staff group instead,
        so the ladder never drops.
        """
        zone = await self._zone(uow, elder.community_id)
        checkin = await uow.session.get(CheckIn, alert.checkin_id) if alert.checkin_id else None
        due = checkin.due_at if checkin is not None else None
        last_ok = await uow.session.scalar(
            select(CheckIn.answered_at)
            .where(CheckIn.elder_id == elder.id, CheckIn.status == "ok")
            .order_by(CheckIn.day.desc())
            .limit(1)
        )
        contacts = (
            await uow.session.execute(
                select(CareContact, User)
                .join(User, User.id == CareContact.user_id)
                .where(
                    CareContact.elder_id == elder.id,
                    CareContact.kind.in_(kinds),
                    CareContact.accepted_at.is_not(None),
                    CareContact.removed_at.is_(None),
                )
            )
        ).all()
        note = ""
        to_staff = staff_group
        if not contacts and not staff_group:
            note = step  # nobody of this kind: the staff group hears instead
            to_staff = True
        count = 0
        for _contact, user in contacts:
            language = choose_language(
                user.language, user.telegram_language, self.settings.default_language
            )
            payload = self._renderer().alert(elder, alert, step, due, last_ok, zone, "", language)
            await self._queue(uow, f"care:alert:{alert.id}:step-{step}:{user.id}", user.id, payload)
            count += 1
        if to_staff:
            language = await self._community_language(uow, elder.community_id)
            payload = self._renderer().alert(elder, alert, step, due, last_ok, zone, note, language)
            for chat in await uow.chats.of_community(elder.community_id, ChatKind.STAFF):
                await self._queue(
                    uow,
                    f"care:alert:{alert.id}:step-{step}:{chat.telegram_id}",
                    chat.telegram_id,
                    payload,
                )
                count += 1
        return count

    # --- delivery failures ------------------------------------------------------------------

    async def prompt_settled(self, row: OutboxMessage, message: Message | None) -> None:
        """Outbox listener: a prompt or reminder Telegram refused makes the check-in undeliverable."""
        if row.status is not OutboxStatus.FAILED:
            return
        try:
            checkin_id = int(row.idempotency_key.removeprefix(PROMPT_KEY).split(":")[0])
        except ValueError:
            return
        now = self.clock.now()
        async with self.db.uow() as uow:
            checkin = await uow.session.get(CheckIn, checkin_id)
            if checkin is None:
                return
            marked = await uow.session.execute(
                update(CheckIn)
                .where(CheckIn.id == checkin_id, CheckIn.status == "pending")
                .values(status="undeliverable")
            )
            if marked.rowcount != 1:
                return
            elder = await uow.session.get(Elder, checkin.elder_id)
            if elder is None:
                return
            alert = CareAlert(
                elder_id=elder.id, checkin_id=checkin_id, kind="undeliverable", opened_at=now
            )
            uow.session.add(alert)
            await uow.session.flush()
            language = await self._community_language(uow, elder.community_id)
            for chat in await uow.chats.of_community(elder.community_id, ChatKind.STAFF):
                await self._queue(
                    uow,
                    f"care:undeliverable:{checkin_id}:{chat.telegram_id}",
                    chat.telegram_id,
                    self._renderer().undeliverable(elder, row.last_error or "", language),
                )
            await uow.commit()
        log.warning(
            "check-in %s: the prompt could not be delivered: %s", checkin_id, row.last_error
        )

    # --- the rest of the day ----------------------------------------------------------------

    async def away_reminders(self, now: datetime) -> int:
        """The day before an elder is back, at their check-in time: check-ins resume tomorrow."""
        sent = 0
        async with self.db.uow() as uow:
            elders = (
                await uow.session.scalars(
                    select(Elder).where(
                        Elder.status == ElderStatus.ACTIVE, Elder.away_until.is_not(None)
                    )
                )
            ).all()
            for elder in elders:
                zone = await self._zone(uow, elder.community_id)
                today = now.astimezone(zone).date()
                back = date.fromisoformat(elder.away_until or "")
                if back - today != timedelta(days=1) or elder.away_reminded == elder.away_until:
                    continue
                if self.due_at(elder, today, zone) > now or elder.user_id is None:
                    continue
                elder.away_reminded = elder.away_until
                await self._queue(
                    uow,
                    f"care:back:{elder.id}:{elder.away_until}",
                    elder.user_id,
                    self._renderer().away_reminder(elder, self._language(elder)),
                )
                sent += 1
            await uow.commit()
        return sent

    async def summaries(self, now: datetime) -> int:
        """The morning summary to each community's staff group, once a day at 10:30 local."""
        sent = 0
        async with self.db.uow() as uow:
            communities = await uow.communities.all()
        for community in communities:
            zone = ZoneInfo(community.timezone)
            local = now.astimezone(zone)
            if local.time() < SUMMARY_AT or local.hour >= 20:
                continue
            day = local.date().isoformat()
            async with self.db.uow() as uow:
                staff = await uow.chats.of_community(community.id, ChatKind.STAFF)
                waiting = [
                    c
                    for c in staff
                    if await uow.outbox.by_key(f"care:summary:{community.id}:{day}:{c.telegram_id}")
                    is None
                ]
            if not waiting:
                continue  # sent today already: do not gather the overview again
            views = await self.overview(community.id)
            if not views:
                continue
            async with self.db.uow() as uow:
                payload = self._renderer().summary(views, community.language)
                for chat in await uow.chats.of_community(community.id, ChatKind.STAFF):
                    if await self._queue(
                        uow,
                        f"care:summary:{community.id}:{day}:{chat.telegram_id}",
                        chat.telegram_id,
                        payload,
                    ):
                        sent += 1
                await uow.commit()
        return sent

    async def overview(self, community_id: int) -> list[ElderView]:
        """Every enrolled elder of a community with today's check-in and its steps."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            zone = await self._zone(uow, community_id)
            today = now.astimezone(zone).date().isoformat()
            elders = (
                await uow.session.scalars(
                    select(Elder)
                    .where(Elder.community_id == community_id, Elder.status != ElderStatus.LEFT)
                    .order_by(Elder.id)
                )
            ).all()
            views = []
            for elder in elders:
                checkin = await uow.session.scalar(
                    select(CheckIn).where(CheckIn.elder_id == elder.id, CheckIn.day == today)
                )
                steps: tuple[str, ...] = ()
                if checkin is not None:
                    steps = tuple(
                        (
                            await uow.session.scalars(
                                select(CheckInStep.step)
                                .where(CheckInStep.checkin_id == checkin.id)
                                .order_by(CheckInStep.id)
                            )
                        ).all()
                    )
                contacts = len(
                    (
                        await uow.session.scalars(
                            select(CareContact.id).where(
                                CareContact.elder_id == elder.id,
                                CareContact.accepted_at.is_not(None),
                                CareContact.removed_at.is_(None),
                            )
                        )
                    ).all()
                )
                views.append(ElderView(elder, checkin, contacts, steps))
            return views

    async def prune(self, now: datetime) -> int:
        """Forget check-ins older than 90 days (their steps go with them)."""
        cutoff = (now - timedelta(days=HISTORY_DAYS)).date().isoformat()
        async with self.db.uow() as uow:
            result = await uow.session.execute(delete(CheckIn).where(CheckIn.day < cutoff))
            await uow.commit()
            return result.rowcount or 0

    async def streak(self, elder_id: int) -> int:
        """Consecutive check-ins answered 'fine', up to the latest one."""
        async with self.db.uow() as uow:
            return await self._streak(uow, elder_id)

    async def _streak(self, uow: UnitOfWork, elder_id: int) -> int:
        statuses = (
            await uow.session.scalars(
                select(CheckIn.status)
                .where(CheckIn.elder_id == elder_id)
                .order_by(CheckIn.day.desc())
                .limit(HISTORY_DAYS)
            )
        ).all()
        count = 0
        for status in statuses:
            if status == "pending" and count == 0:
                continue  # today's, not answered yet, does not break it
            if status != "ok":
                break
            count += 1
        return count

    async def local_today(self, elder_id: int) -> date:
        """Today in the elder's community."""
        async with self.db.uow() as uow:
            elder = await uow.session.get(Elder, elder_id)
            zone = (
                await self._zone(uow, elder.community_id)
                if elder
                else ZoneInfo(self.settings.timezone)
            )
        return self.clock.now().astimezone(zone).date()

    async def set_ladder(self, community_id: int, by_user: int, ladder: Ladder) -> Outcome:
        """Staff change the community's ladder."""
        if not ladder.valid():
            return Outcome.INVALID
        if not await self.roles.has_role(by_user, community_id, Role.STAFF):
            return Outcome.FORBIDDEN
        async with self.db.uow() as uow:
            community = await uow.communities.get(community_id)
            if community is None:
                return Outcome.NOT_FOUND
            community.checkin_ladder = {s: ladder.minutes(s) for s in STEPS}
            await uow.commit()
        return Outcome.OK

    async def ladder_of(self, community_id: int) -> Ladder:
        """The community's ladder."""
        async with self.db.uow() as uow:
            return Ladder.of(await uow.communities.get(community_id))

    async def steps_of(self, checkin_ids: Sequence[int]) -> dict[int, list[tuple[str, datetime]]]:
        """The ladder steps done for these check-ins, in order, with their times."""
        if not checkin_ids:
            return {}
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(CheckInStep.checkin_id, CheckInStep.step, CheckInStep.at)
                    .where(CheckInStep.checkin_id.in_(list(checkin_ids)))
                    .order_by(CheckInStep.id)
                )
            ).all()
        out: dict[int, list[tuple[str, datetime]]] = {}
        for checkin_id, step, at in rows:
            out.setdefault(checkin_id, []).append((step, at))
        return out

    async def open_alerts(self, community_id: int) -> list[tuple[CareAlert, Elder, str | None]]:
        """Alerts not closed yet in a community, newest first, with the responder's name."""
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(CareAlert, Elder)
                    .join(Elder, Elder.id == CareAlert.elder_id)
                    .where(Elder.community_id == community_id, CareAlert.closed_at.is_(None))
                    .order_by(CareAlert.opened_at.desc())
                    .limit(100)
                )
            ).all()
            out = []
            for alert, elder in rows:
                who = await uow.users.get(alert.responder_id) if alert.responder_id else None
                out.append((alert, elder, who.display_name if who else None))
            return out

    async def daily_counts(self, community_id: int, days: int = 30) -> list[tuple[str, int, int]]:
        """Per local day of the last `days`: check-ins held and answered by the elder."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            zone = await self._zone(uow, community_id)
            since = (now.astimezone(zone).date() - timedelta(days=days - 1)).isoformat()
            rows = (
                await uow.session.execute(
                    select(CheckIn.day, CheckIn.status)
                    .join(Elder, Elder.id == CheckIn.elder_id)
                    .where(Elder.community_id == community_id, CheckIn.day >= since)
                )
            ).all()
        held: dict[str, list[int]] = {}
        for day, status in rows:
            counts = held.setdefault(day, [0, 0])
            counts[0] += 1
            counts[1] += status == "ok"
        start = date.fromisoformat(since)
        return [
            ((start + timedelta(days=i)).isoformat(),)
            + tuple(held.get((start + timedelta(days=i)).isoformat(), [0, 0]))  # type: ignore[misc]
            for i in range(days)
        ]

    # --- helpers ----------------------------------------------------------------------------

    async def _news(self, uow: UnitOfWork, elder: Elder, event: str, who: str) -> None:
        """Enrolment changes go to the staff group (consent given or withdrawn is recorded)."""
        if self.renderer is None:
            return
        language = await self._community_language(uow, elder.community_id)
        stamp = int(self.clock.now().timestamp())
        for chat in await uow.chats.of_community(elder.community_id, ChatKind.STAFF):
            await self._queue(
                uow,
                f"care:news:{elder.id}:{event}:{stamp}:{chat.telegram_id}",
                chat.telegram_id,
                self._renderer().enrolment_news(elder, event, who, language),
                priority=0,
            )

    async def _queue(
        self,
        uow: UnitOfWork,
        key: str,
        chat: int,
        payload: dict[str, Any],
        *,
        priority: int = PRIORITY,
    ) -> bool:
        row = await uow.outbox.enqueue(key, chat, payload, priority=priority)
        return row is not None

    def _language(self, elder: Elder) -> str:
        return elder.language or self.settings.default_language

    async def _zone(self, uow: UnitOfWork, community_id: int) -> ZoneInfo:
        community = await uow.session.get(Community, community_id)
        return ZoneInfo(community.timezone if community else self.settings.timezone)

    async def _community_language(self, uow: UnitOfWork, community_id: int) -> str:
        community = await uow.session.get(Community, community_id)
        return community.language if community else self.settings.default_language

    def _renderer(self) -> CareRenderer:
        if self.renderer is None:
            raise RuntimeError("no care renderer installed (handlers/care.py sets it)")
        return self.renderer
