"""The work behind `linli import-residents`, `linli outbox` and `linli schedule` (bot/ops.py).

`outbox` and `schedule` only read; the rules they report (ladder steps, ticket reminders,
notice recurrences) are the services' own constants and helpers, so the report and the bot
cannot disagree. An import checks the whole file first and saves all of it or nothing.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from bot.faq_files import FaqFileError, sheet_rows
from bot.phones import normalise_phone
from bot.services.care import STEPS, CareService, Ladder
from bot.services.notices import LIVE
from bot.services.tickets import ACCEPT_WITHIN, ACCEPT_WITHIN_URGENT, ESCALATE_AFTER, OPEN
from bot.when import Recurrence
from storage.db import Database
from storage.models import (
    Activity,
    ActivityStatus,
    CareAlert,
    Chat,
    CheckIn,
    CheckInStep,
    Community,
    Elder,
    ElderStatus,
    Membership,
    Notice,
    NoticeStatus,
    OutboxMessage,
    OutboxStatus,
    Poll,
    Role,
    Ticket,
    TicketStatus,
    User,
)
from storage.uow import UnitOfWork

# --- import-residents --------------------------------------------------------------------------

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
MAX_PROBLEMS = 50
MAX_ID = 2**53  # Telegram's ids fit in 52 bits
HEADERS: dict[str, tuple[str, ...]] = {
    "telegram_id": (
        "telegram_id",
        "telegram",
        "tg_id",
        "tg",
        "id",
        "user_id",
        "用户id",
        "电报id",
        "telegram号",
        "tg号",
    ),
    "name": ("name", "姓名", "名字", "称呼", "名称"),
    "building": ("building", "楼栋", "楼号", "楼栋号", "楼", "栋", "幢"),
    "unit": ("unit", "单元", "单元号"),
    "room": ("room", "房号", "房间", "房间号", "室", "门牌号", "户号"),
    "phone": ("phone", "mobile", "电话", "手机", "手机号", "手机号码", "联系电话", "电话号码"),
    "roles": ("roles", "role", "角色", "身份"),
}
LIMITS = {"name": 128, "building": 32, "unit": 32, "room": 32}
ROLE_WORDS = {
    "resident": Role.RESIDENT,
    "居民": Role.RESIDENT,
    "业主": Role.RESIDENT,
    "住户": Role.RESIDENT,
    "volunteer": Role.VOLUNTEER,
    "志愿者": Role.VOLUNTEER,
    "staff": Role.STAFF,
    "工作人员": Role.STAFF,
    "员工": Role.STAFF,
    "物业": Role.STAFF,
    "居委会": Role.STAFF,
    "网格员": Role.STAFF,
}
_HEADER_NOISE = re.compile(r"[\s*_\-:：]|[（(].*?[)）]")
_ROLE_SPLIT = re.compile(r"[,，、;；/\s]+")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$")


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", text.strip().lower())


_ALIASES = {_header_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}


@dataclass
class Resident:
    """One checked row of the file; None: the file does not set it."""

    row: int
    telegram_id: int
    name: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    phone: str | None = None
    roles: tuple[Role, ...] = (Role.RESIDENT,)


@dataclass
class ImportReport:
    """What an import found and did."""

    file: str
    dry_run: bool
    community: str | None = None
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    roles_granted: int = 0
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    read_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No problem was found."""
        return not self.problems

    def problem(self, text: str) -> None:
        """Note one problem (the first MAX_PROBLEMS are listed)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more_problems += 1

    def text(self) -> str:
        """The report for the terminal."""
        lines = []
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        if self.problems:
            total = len(self.problems) + self.more_problems
            lines.append(f"{self.file}: {total} problem(s); nothing was imported.")
            lines += [f"  {p}" for p in self.problems]
            if self.more_problems:
                lines.append(f"  … and {self.more_problems} more")
            return "\n".join(lines)
        verb = "would be" if self.dry_run else "were"
        lines.append(
            f"{self.file}: {self.rows:,} rows for {self.community}: {self.new:,} new, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged residents; "
            f"{self.roles_granted:,} roles granted ({verb} saved{' — dry run' if self.dry_run else ''})."
        )
        lines.append(f"read in {self.read_seconds:.2f} s, done in {self.seconds:.2f} s")
        return "\n".join(lines)


class SheetError(ValueError):
    """A file that is not a spreadsheet Linli can read."""


def read_sheet(path: Path) -> list[list[str]]:
    """Every row of a CSV or XLSX file (the first sheet) as text cells, header first."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError(f"cannot read the file: {exc.strerror or exc}") from None
    if size > MAX_IMPORT_BYTES:
        raise SheetError(
            f"the file is {size / 2**20:.1f} MB; at most {MAX_IMPORT_BYTES // 2**20} MB "
            "(split it into several files)"
        )
    data = path.read_bytes()
    if not data.strip():
        raise SheetError("the file is empty")
    try:
        rows = sheet_rows(data, path.name, limit=MAX_IMPORT_ROWS)
    except FaqFileError as exc:
        raise SheetError(str(exc)) from None
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise SheetError(f"more than {MAX_IMPORT_ROWS:,} rows (split it into several files)")
    return [[cell.strip() for cell in row] for row in rows]


def check_residents(rows: list[list[str]], report: ImportReport) -> list[Resident]:
    """Checked residents from the sheet's rows; every problem goes to the report."""
    if not rows or not any(c for c in rows[0]):
        report.problem("the file has no header row")
        return []
    columns: dict[str, int] = {}
    for index, title in enumerate(rows[0]):
        name = _ALIASES.get(_header_key(title))
        if name is None:
            if title:
                report.ignored_columns.append(title)
            continue
        if name in columns:
            report.problem(f"row 1: two columns mean {name}: {rows[0][columns[name]]!r}, {title!r}")
        columns[name] = index
    if "telegram_id" not in columns:
        report.problem(
            "row 1: missing the required column telegram_id "
            f"(headers accepted: {', '.join(HEADERS['telegram_id'])})"
        )
    if report.problems:
        return []
    residents: list[Resident] = []
    first_row: dict[int, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cells):
            continue
        get = {name: (cells[i] if i < len(cells) else "") for name, i in columns.items()}
        resident = _check_row(number, get, report)
        if resident is None:
            continue
        if resident.telegram_id in first_row:
            report.problem(
                f"row {number}: telegram_id {resident.telegram_id} again "
                f"(first on row {first_row[resident.telegram_id]})"
            )
            continue
        first_row[resident.telegram_id] = number
        residents.append(resident)
    if not residents and not report.problems:
        report.problem("the file has a header but no residents")
    return residents


def _check_row(number: int, get: dict[str, str], report: ImportReport) -> Resident | None:
    before = len(report.problems) + report.more_problems
    raw = get["telegram_id"]
    telegram_id = 0
    if not raw:
        report.problem(f"row {number}: no telegram_id")
    elif not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < MAX_ID:
        hint = ""
        if _SCIENTIFIC.match(raw):
            hint = " (Excel wrote it in scientific notation: format the column as text)"
        report.problem(f"row {number}: telegram_id {raw!r} is not a Telegram id (digits){hint}")
    else:
        telegram_id = int(raw)
    resident = Resident(number, telegram_id)
    for name, limit in LIMITS.items():
        value = get.get(name, "")
        if len(value) > limit:
            report.problem(f"row {number}: {name} is longer than {limit} characters")
        setattr(resident, name, value or None)
    if phone := get.get("phone", ""):
        resident.phone = normalise_phone(phone)
        if resident.phone is None:
            report.problem(
                f"row {number}: phone {phone!r} is not a Chinese mobile or landline number"
            )
    if words := [w for w in _ROLE_SPLIT.split(get.get("roles", "")) if w]:
        roles = []
        for word in words:
            role = ROLE_WORDS.get(word.lower())
            if role is None:
                report.problem(
                    f"row {number}: unknown role {word!r} (resident, volunteer or staff)"
                )
            elif role not in roles:
                roles.append(role)
        resident.roles = tuple(roles)
    if len(report.problems) + report.more_problems > before:
        return None
    return resident


async def find_community(uow: UnitOfWork, which: str | None) -> Community | str:
    """The community named by id, code or name, or when there is only one; else why not."""
    communities = list(await uow.communities.all())
    if not communities:
        return "there is no community yet: register one with /setup in a group first"
    if which is None:
        if len(communities) == 1:
            return communities[0]
        names = ", ".join(f"{c.id} ({c.code}, {c.name})" for c in communities)
        return f"there are several communities; choose one with --community: {names}"
    for community in communities:
        if which == str(community.id) or which.lower() == community.code.lower():
            return community
        if which == community.name:
            return community
    names = ", ".join(f"{c.id} ({c.code}, {c.name})" for c in communities)
    return f"no community {which!r}; there are: {names}"


async def import_residents(
    db: Database, path: Path, *, community: str | None = None, dry_run: bool = False
) -> ImportReport:
    """Check the whole file, then add or update its residents in one transaction (or none)."""
    started = time.perf_counter()
    report = ImportReport(file=str(path), dry_run=dry_run)
    try:
        rows = read_sheet(path)
    except SheetError as exc:
        report.problem(str(exc))
        return report
    residents = check_residents(rows, report)
    report.rows = len(residents)
    report.read_seconds = time.perf_counter() - started
    async with db.uow() as uow:
        found = await find_community(uow, community)
        if isinstance(found, str):
            report.problem(found)
        if report.problems:
            return report
        assert isinstance(found, Community)
        report.community = f"{found.name} ({found.code})"
        await _upsert(uow, found.id, residents, report)
        if not dry_run:
            await uow.commit()
    report.seconds = time.perf_counter() - started
    return report


async def _upsert(
    uow: UnitOfWork, community_id: int, residents: list[Resident], report: ImportReport
) -> None:
    ids = [r.telegram_id for r in residents]
    users: dict[int, User] = {}
    held: set[tuple[int, Role]] = set()
    for chunk in _chunks(ids, 500):
        users.update(
            (u.id, u) for u in await uow.session.scalars(select(User).where(User.id.in_(chunk)))
        )
        held.update(
            (user_id, role)
            for user_id, role in await uow.session.execute(
                select(Membership.user_id, Membership.role).where(
                    Membership.community_id == community_id, Membership.user_id.in_(chunk)
                )
            )
        )
    new_users: list[User] = []
    grants: list[dict[str, Any]] = []
    for resident in residents:
        user = users.get(resident.telegram_id)
        fields = {
            "building": resident.building,
            "unit": resident.unit,
            "room": resident.room,
            "phone": resident.phone,
        }
        if user is None:
            new_users.append(
                User(id=resident.telegram_id, first_name=resident.name or "", **fields)
            )
            report.new += 1
        else:
            if resident.name is not None:
                fields.update(first_name=resident.name, last_name=None)
            changed = False
            for name, value in fields.items():
                if value is not None and getattr(user, name) != value:
                    setattr(user, name, value)
                    changed = True
            report.updated += changed
            report.unchanged += not changed
        for role in resident.roles:
            if (resident.telegram_id, role) not in held:
                grants.append(
                    {"user_id": resident.telegram_id, "community_id": community_id, "role": role}
                )
    uow.session.add_all(new_users)
    await uow.session.flush()
    if grants:
        # A bulk INSERT (executemany): the ORM's add_all asked SQLite for each new id, a
        # statement a row.
        await uow.session.execute(insert(Membership), grants)
    report.roles_granted = len(grants)


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- outbox ------------------------------------------------------------------------------------


async def outbox_report(db: Database, now: datetime) -> dict[str, Any]:
    """The outbox's state: counts, what is due and unsent, who waits most, recent failures."""
    async with db.uow() as uow:
        s = uow.session
        counts = [
            {"status": str(status), "priority": priority, "count": n}
            for status, priority, n in await s.execute(
                select(OutboxMessage.status, OutboxMessage.priority, func.count())
                .group_by(OutboxMessage.status, OutboxMessage.priority)
                .order_by(OutboxMessage.status, OutboxMessage.priority.desc())
            )
        ]
        due = (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.not_before <= now)
        due_count, oldest = (
            await s.execute(select(func.count(), func.min(OutboxMessage.not_before)).where(due))
        ).one()
        waiting = (
            await s.execute(
                select(
                    OutboxMessage.chat_telegram_id,
                    func.count(),
                    func.min(OutboxMessage.not_before),
                )
                .where(OutboxMessage.status == OutboxStatus.PENDING)
                .group_by(OutboxMessage.chat_telegram_id)
                .order_by(func.count().desc(), OutboxMessage.chat_telegram_id)
                .limit(10)
            )
        ).all()
        problems = (
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.UNKNOWN]))
                .order_by(OutboxMessage.id.desc())
                .limit(10)
            )
        ).all()
        names = await _chat_names(
            uow, {c for c, _n, _t in waiting} | {m.chat_telegram_id for m in problems}
        )
    return {
        "now": now,
        "counts": counts,
        "due": {
            "count": int(due_count or 0),
            "oldest_due_at": oldest,
            "oldest_due_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        },
        "waiting_chats": [
            {"chat": chat, "name": names.get(chat), "waiting": n, "first_due_at": first}
            for chat, n, first in waiting
        ],
        "problems": [
            {
                "key": m.idempotency_key,
                "status": str(m.status),
                "chat": m.chat_telegram_id,
                "name": names.get(m.chat_telegram_id),
                "error": m.last_error,
                "at": m.sent_at or m.not_before,
                "attempts": m.attempts,
            }
            for m in problems
        ],
    }


async def _chat_names(uow: UnitOfWork, chats: set[int]) -> dict[int, str]:
    """A title for group ids and a person's name for private chats (whose id is the user's)."""
    if not chats:
        return {}
    ids = list(chats)
    names = {
        c.telegram_id: c.title or ""
        for c in await uow.session.scalars(select(Chat).where(Chat.telegram_id.in_(ids)))
        if c.title
    }
    for user in await uow.session.scalars(select(User).where(User.id.in_(ids))):
        names.setdefault(user.id, user.display_name)
    return names


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def outbox_text(facts: dict[str, Any]) -> str:
    """The outbox report for the terminal."""
    lines = [f"Outbox at {_utc(facts['now'])}"]
    if not facts["counts"]:
        lines.append("  empty")
    totals = Counter[str]()
    for row in facts["counts"]:
        totals[row["status"]] += row["count"]
    for status in [s.value for s in OutboxStatus]:
        if status in totals:
            by_priority = ", ".join(
                f"priority {r['priority']}: {r['count']:,}"
                for r in facts["counts"]
                if r["status"] == status
            )
            lines.append(f"  {status:<8} {totals[status]:>8,}   ({by_priority})")
    due = facts["due"]
    lines.append(
        f"Due and unsent: {due['count']:,}"
        + (f"; the oldest has waited {_age(due['oldest_due_seconds'])}" if due["count"] else "")
    )
    if facts["waiting_chats"]:
        lines.append("Chats with the most waiting:")
        for row in facts["waiting_chats"]:
            lines.append(f"  {row['waiting']:>6,}  {row['chat']}  {row['name'] or ''}".rstrip())
    if facts["problems"]:
        lines.append("Last failed and unknown sends:")
        for row in facts["problems"]:
            error = (row["error"] or "").replace("\n", " ")[:100]
            lines.append(
                f"  {_utc(row['at'])}  {row['status']:<7}  {row['key']}  chat {row['chat']}"
                f"{' ' + row['name'] if row['name'] else ''}: {error}"
            )
    else:
        lines.append("No failed or unknown sends.")
    return "\n".join(lines)


# --- schedule ----------------------------------------------------------------------------------

HORIZON = timedelta(days=7)


async def schedule_report(db: Database, now: datetime) -> dict[str, Any]:
    """What the bot will do in the next 7 days, per community, read from the database."""
    end = now + HORIZON
    out: list[dict[str, Any]] = []
    async with db.uow() as uow:
        for community in await uow.communities.all():
            zone = ZoneInfo(community.timezone)
            out.append(
                {
                    "id": community.id,
                    "name": community.name,
                    "code": community.code,
                    "timezone": community.timezone,
                    "notices": await _notices(uow, community.id, zone, now, end),
                    "checkins": await _checkins(uow, community, zone, now),
                    "alerts": await _alerts(uow, community.id),
                    "signups": await _signups(uow, community.id, now, end),
                    "tickets": await _tickets(uow, community.id, end),
                }
            )
    return {"now": now, "until": end, "communities": out}


async def _notices(
    uow: UnitOfWork, community_id: int, zone: ZoneInfo, now: datetime, end: datetime
) -> list[dict[str, Any]]:
    notices = await uow.session.scalars(
        select(Notice)
        .where(
            Notice.community_id == community_id,
            Notice.status.in_(list(LIVE)),
            Notice.next_at.is_not(None),
            Notice.next_at <= end,
        )
        .order_by(Notice.next_at, Notice.id)
    )
    items = []
    for notice in notices:
        assert notice.next_at is not None
        times = [notice.next_at]
        if notice.recurrence and notice.status is NoticeStatus.SCHEDULED:
            rule = Recurrence.from_json(notice.recurrence)
            while (later := rule.next_after(times[-1], zone)) <= end and len(times) < 100:
                times.append(later)
        for at in times:
            items.append(
                {
                    "at": at,
                    "notice": notice.id,
                    "text": _first_line(notice.text),
                    "target": notice.target,
                    "status": str(notice.status),
                    "urgent": notice.urgent,
                    "recurring": notice.recurrence is not None,
                    "overdue": at <= now,
                }
            )
    return sorted(items, key=lambda i: (i["at"], i["notice"]))


def _first_line(text: str, limit: int = 40) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


async def _checkins(
    uow: UnitOfWork, community: Community, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """Today's check-ins still pending with their next ladder step, and prompts still to come."""
    today = now.astimezone(zone).date()
    ladder = Ladder.of(community)
    elders = (
        await uow.session.scalars(
            select(Elder)
            .where(
                Elder.community_id == community.id,
                Elder.status == ElderStatus.ACTIVE,
                Elder.user_id.is_not(None),
            )
            .order_by(Elder.id)
        )
    ).all()
    checkins = {
        c.elder_id: c
        for c in await uow.session.scalars(
            select(CheckIn)
            .join(Elder, Elder.id == CheckIn.elder_id)
            .where(Elder.community_id == community.id, CheckIn.day == today.isoformat())
        )
    }
    steps: dict[int, set[str]] = {}
    if checkins:
        for checkin_id, step in await uow.session.execute(
            select(CheckInStep.checkin_id, CheckInStep.step).where(
                CheckInStep.checkin_id.in_([c.id for c in checkins.values()])
            )
        ):
            steps.setdefault(checkin_id, set()).add(step)
    pending, coming, answered = [], [], 0
    for elder in elders:
        checkin = checkins.get(elder.id)
        if checkin is None:
            due = CareService.due_at(elder, today, zone)
            away = bool(elder.away_until and today.isoformat() < elder.away_until)
            if today.weekday() in (elder.days or []) and not away and due > now:
                coming.append({"elder": elder.id, "name": elder.name, "prompt_at": due})
            continue
        if checkin.status != "pending":
            answered += 1
            continue
        done = steps.get(checkin.id, set())
        step = next((s for s in STEPS if s not in done), None)
        pending.append(
            {
                "elder": elder.id,
                "name": elder.name,
                "due_at": checkin.due_at,
                "steps_done": [s for s in ("prompt", *STEPS) if s in done],
                "next_step": step,
                "next_step_at": (
                    checkin.due_at + timedelta(minutes=ladder.minutes(step)) if step else None
                ),
            }
        )
    return {
        "day": today.isoformat(),
        "enrolled": len(elders),
        "answered": answered,
        "pending": pending,
        "prompts_to_come": sorted(coming, key=lambda c: c["prompt_at"]),
    }


async def _alerts(uow: UnitOfWork, community_id: int) -> list[dict[str, Any]]:
    rows = (
        await uow.session.execute(
            select(CareAlert, Elder)
            .join(Elder, Elder.id == CareAlert.elder_id)
            .where(Elder.community_id == community_id, CareAlert.closed_at.is_(None))
            .order_by(CareAlert.opened_at)
        )
    ).all()
    return [
        {
            "alert": alert.id,
            "elder": elder.name,
            "kind": alert.kind,
            "opened_at": alert.opened_at,
            "responder": alert.responder_id,
            "responding_at": alert.responding_at,
        }
        for alert, elder in rows
    ]


async def _signups(
    uow: UnitOfWork, community_id: int, now: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Sign-up reminders (a day and an hour before), lists closing, polls closing."""
    items: list[dict[str, Any]] = []
    activities = await uow.session.scalars(
        select(Activity).where(
            Activity.community_id == community_id,
            Activity.status != ActivityStatus.CANCELLED,
            (Activity.starts_at > now) | (Activity.status == ActivityStatus.OPEN),
        )
    )
    for a in activities:
        if a.starts_at > now:  # ActivityService.remind_due's rule
            if not a.reminded_day_before and not a.reminded_hour_before:
                items.append(_event(a.starts_at - timedelta(days=1), "reminder, a day before", a))
            if not a.reminded_hour_before:
                items.append(
                    _event(a.starts_at - timedelta(hours=1), "reminder, an hour before", a)
                )
        if a.status is ActivityStatus.OPEN:
            items.append(_event(a.deadline, "sign-up closes", a))
    polls = await uow.session.scalars(
        select(Poll).where(
            Poll.community_id == community_id, Poll.closed.is_(False), Poll.deadline <= end
        )
    )
    for poll in polls:
        items.append(
            {"at": poll.deadline, "what": "poll closes", "id": poll.id, "title": poll.question}
        )
    return sorted((i for i in items if i["at"] <= end), key=lambda i: (i["at"], i["id"]))


def _event(at: datetime, what: str, activity: Activity) -> dict[str, Any]:
    return {"at": at, "what": what, "id": activity.id, "title": activity.title}


async def _tickets(uow: UnitOfWork, community_id: int, end: datetime) -> list[dict[str, Any]]:
    """Open tickets' reminder to staff (nobody accepted) and escalation to admins."""
    tickets = await uow.session.scalars(
        select(Ticket).where(
            Ticket.community_id == community_id,
            Ticket.status.in_(OPEN),
            Ticket.escalated_at.is_(None) | Ticket.reminded_at.is_(None),
        )
    )
    items = []
    for t in tickets:
        if t.status is TicketStatus.SUBMITTED and t.reminded_at is None:
            wait = ACCEPT_WITHIN_URGENT if t.urgent else ACCEPT_WITHIN
            items.append(_ticket(t, t.created_at + wait, "reminder: nobody accepted it"))
        if t.escalated_at is None:
            items.append(_ticket(t, t.created_at + ESCALATE_AFTER, "escalation to the admins"))
    return sorted((i for i in items if i["at"] <= end), key=lambda i: (i["at"], i["number"]))


def _ticket(ticket: Ticket, at: datetime, what: str) -> dict[str, Any]:
    return {
        "at": at,
        "what": what,
        "number": ticket.number,
        "status": str(ticket.status),
        "urgent": ticket.urgent,
    }


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %m-%d %H:%M")


def schedule_text(facts: dict[str, Any]) -> str:
    """The schedule report for the terminal, in each community's time zone."""
    now: datetime = facts["now"]
    lines = [f"Schedule from {_utc(now)} to {_utc(facts['until'])}"]
    if not facts["communities"]:
        lines.append("  no community yet")
    for c in facts["communities"]:
        zone = ZoneInfo(c["timezone"])

        def when(moment: datetime, zone: ZoneInfo = zone) -> str:
            text = _local(moment, zone)
            return f"{text} (due now)" if moment <= now else text

        lines.append(f"\n{c['name']} ({c['code']}, id {c['id']}), times in {c['timezone']}")
        lines.append("  Notices:")
        lines += [
            f"    {when(n['at'])}  #{n['notice']} to {n['target']}"
            f"{' urgent' if n['urgent'] else ''}{' (paused)' if n['status'] == 'paused' else ''}"
            f"{' recurring' if n['recurring'] else ''}: {n['text']}"
            for n in c["notices"]
        ] or ["    none"]
        ci = c["checkins"]
        lines.append(
            f"  Check-ins {ci['day']}: {ci['enrolled']} enrolled, {ci['answered']} answered, "
            f"{len(ci['pending'])} pending, {len(ci['prompts_to_come'])} prompts to come"
        )
        for p in ci["pending"]:
            step = (
                f"next: {p['next_step']} at {when(p['next_step_at'])}"
                if p["next_step"]
                else "ladder done"
            )
            lines.append(
                f"    {p['name']}: asked {_local(p['due_at'], zone)}, "
                f"done {', '.join(p['steps_done']) or '-'}; {step}"
            )
        for p in ci["prompts_to_come"]:
            lines.append(f"    {p['name']}: prompt at {when(p['prompt_at'])}")
        lines.append(f"  Open check-in alerts: {len(c['alerts']) or 'none'}")
        for a in c["alerts"]:
            who = f", responder {a['responder']}" if a["responder"] else ", nobody responding"
            lines.append(
                f"    #{a['alert']} {a['elder']}: {a['kind']} since {_local(a['opened_at'], zone)}{who}"
            )
        lines.append("  Sign-ups and polls:")
        lines += [
            f"    {when(s['at'])}  {s['what']}: {s['title']} (#{s['id']})" for s in c["signups"]
        ] or ["    none"]
        lines.append("  Tickets:")
        lines += [
            f"    {when(t['at'])}  {t['number']}{' urgent' if t['urgent'] else ''} "
            f"({t['status']}): {t['what']}"
            for t in c["tickets"]
        ] or ["    none"]
    return "\n".join(lines)
