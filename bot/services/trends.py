"""Trends for the dashboard: tickets opened and closed per week (with the median time to
close), FAQ answers and unanswered questions per week. Weeks start on Monday, local time."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from bot.clock import Clock
from storage.db import Database
from storage.models import Community, FaqQuery, Ticket, TicketStatus

CLOSED = (TicketStatus.DONE, TicketStatus.CLOSED, TicketStatus.DUPLICATE, TicketStatus.CANCELLED)


@dataclass(frozen=True)
class TicketWeek:
    """One week of repair tickets."""

    week: date  # its Monday
    opened: int
    closed: int
    median_hours: float | None  # submitted → finished, of the tickets closed that week


@dataclass(frozen=True)
class FaqWeek:
    """One week of questions: answered, answered with close questions to choose, unanswered."""

    week: date
    answers: int
    suggested: int
    gaps: int


def monday(moment: datetime, zone: ZoneInfo) -> date:
    """The Monday of the local week `moment` falls in."""
    day = moment.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


class TrendService:
    """Weekly counts for the charts."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def _zone(self, community_id: int) -> ZoneInfo:
        async with self.db.uow() as uow:
            community = await uow.session.get(Community, community_id)
        return ZoneInfo(community.timezone if community else "Asia/Shanghai")

    def _weeks(self, zone: ZoneInfo, weeks: int) -> list[date]:
        this = monday(self.clock.now(), zone)
        return [this - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]

    async def tickets(self, community_id: int, weeks: int = 12) -> list[TicketWeek]:
        """Tickets opened and closed per week, and the median hours to close."""
        zone = await self._zone(community_id)
        span = self._weeks(zone, weeks)
        since = datetime.combine(span[0], datetime.min.time(), tzinfo=zone)
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(Ticket.created_at, Ticket.finished_at, Ticket.status).where(
                        Ticket.community_id == community_id,
                        or_(Ticket.created_at >= since, Ticket.finished_at >= since),
                    )
                )
            ).all()
        opened = dict.fromkeys(span, 0)
        closed = dict.fromkeys(span, 0)
        hours: dict[date, list[float]] = {w: [] for w in span}
        for created, finished, status in rows:
            week = monday(created, zone)
            if week in opened:
                opened[week] += 1
            if finished is not None and status in CLOSED:
                done_week = monday(finished, zone)
                if done_week in closed:
                    closed[done_week] += 1
                    hours[done_week].append((finished - created).total_seconds() / 3600)
        return [
            TicketWeek(w, opened[w], closed[w], statistics.median(hours[w]) if hours[w] else None)
            for w in span
        ]

    async def faq(self, community_id: int, weeks: int = 12) -> list[FaqWeek]:
        """Questions answered and left unanswered per week."""
        zone = await self._zone(community_id)
        span = self._weeks(zone, weeks)
        since = datetime.combine(span[0], datetime.min.time(), tzinfo=zone)
        async with self.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(FaqQuery.created_at, FaqQuery.decision).where(
                        FaqQuery.community_id == community_id, FaqQuery.created_at >= since
                    )
                )
            ).all()
        answers = dict.fromkeys(span, 0)
        suggested = dict.fromkeys(span, 0)
        gaps = dict.fromkeys(span, 0)
        for created, decision in rows:
            week = monday(created, zone)
            if week not in answers:
                continue
            if decision == "answer":
                answers[week] += 1
            elif decision == "suggest":
                suggested[week] += 1
            elif decision == "silent":
                gaps[week] += 1
        return [FaqWeek(w, answers[w], suggested[w], gaps[w]) for w in span]
