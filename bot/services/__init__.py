"""Domain services: plain async Python over the unit of work, testable without Telegram."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.services.activities import ActivityService, PollService
from bot.services.care import CareService
from bot.services.dashboard import DashboardService
from bot.services.dialogs import DialogService
from bot.services.errands import ErrandService
from bot.services.faq import FaqService
from bot.services.groups import GroupService
from bot.services.notices import NoticeService
from bot.services.people import PeopleService
from bot.services.privacy import PrivacyService
from bot.services.roles import RoleService
from bot.services.tickets import TicketService
from bot.services.trends import TrendService
from bot.settings import Settings
from storage.db import Database


@dataclass
class Services:
    """Every service, built once by the composition root."""

    people: PeopleService
    groups: GroupService
    roles: RoleService
    privacy: PrivacyService
    faq: FaqService
    dialogs: DialogService
    tickets: TicketService
    errands: ErrandService
    notices: NoticeService
    care: CareService
    dashboard: DashboardService
    trends: TrendService
    activities: ActivityService
    polls: PollService
    clock: Clock

    @classmethod
    def build(cls, db: Database, settings: Settings, clock: Clock | None = None) -> Services:
        """Wire the services to one database, the settings and a clock."""
        roles = RoleService(db, settings)
        clock = clock or SystemClock()
        return cls(
            people=PeopleService(db, settings),
            groups=GroupService(db, settings, roles),
            roles=roles,
            privacy=PrivacyService(db, settings),
            faq=FaqService(db, settings, roles),
            dialogs=DialogService(db, clock, settings.default_language),
            tickets=TicketService(db, settings, roles, clock),
            errands=ErrandService(db, settings, roles, clock),
            notices=NoticeService(db, settings, roles, clock),
            care=CareService(db, settings, roles, clock),
            dashboard=DashboardService(db, settings, roles, clock),
            trends=TrendService(db, clock),
            activities=ActivityService(db, settings, roles, clock),
            polls=PollService(db, roles, clock),
            clock=clock,
        )
