"""What Linli keeps about a person (/mydata) and forgetting it (/forgetme)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update

from bot.settings import Settings
from storage.db import Database
from storage.models import CareContact, Elder, ElderStatus, Errand, Role, Ticket
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MyData:
    """Everything stored about one user, ready to show them."""

    user_id: int
    name: str
    username: str | None
    language: str | None
    address: str | None
    phone: str | None
    roles: list[tuple[str, Role]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    # Daily check-in: (name, address, phone, HH:MM, consent given at) if enrolled; contacts of.
    checkin: tuple[str, str | None, str | None, str, str] | None = None
    contact_of: list[str] = field(default_factory=list)


class PrivacyService:
    """Shows and deletes a person's data."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def my_data(self, user_id: int) -> MyData | None:
        """What is stored about the user, or None if nothing is."""
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                return None
            roles = []
            for membership in await uow.memberships.of_user(user_id):
                community = await uow.communities.get(membership.community_id)
                roles.append((community.name if community else "?", membership.role))
            groups = [c.title or str(c.telegram_id) for c in await uow.roster.chats_of(user_id)]
            address = " ".join(p for p in (user.building, user.unit, user.room) if p) or None
            elder = await uow.session.scalar(
                select(Elder).where(Elder.user_id == user_id, Elder.status != ElderStatus.LEFT)
            )
            checkin = None
            if elder is not None:
                consent = (
                    elder.consent_at.strftime("%Y-%m-%d %H:%M UTC") if elder.consent_at else "-"
                )
                checkin = (
                    elder.name,
                    elder.address,
                    elder.phone,
                    f"{elder.checkin_hour:02d}:{elder.checkin_minute:02d}",
                    consent,
                )
            looked_after = (
                await uow.session.scalars(
                    select(Elder.name)
                    .join(CareContact, CareContact.elder_id == Elder.id)
                    .where(CareContact.user_id == user_id, Elder.status != ElderStatus.LEFT)
                )
            ).all()
            return MyData(
                checkin=checkin,
                contact_of=list(looked_after),
                user_id=user.id,
                name=user.display_name,
                username=user.username,
                language=user.language,
                address=address,
                phone=user.phone,
                roles=roles,
                groups=groups,
            )

    async def forget(self, user_id: int) -> bool:
        """Delete everything stored about the user; False if nothing was stored."""
        async with self.db.uow() as uow:
            if await uow.users.get(user_id) is None:
                return False
            # Repair records stay for the building's history, without the phone and flat.
            await uow.session.execute(
                update(Ticket)
                .where(Ticket.resident_id == user_id)
                .values(phone=None, unit=None, room=None)
            )
            # Errands likewise, without the phone and the place they were delivered to.
            await uow.session.execute(
                update(Errand)
                .where(Errand.requester_id == user_id)
                .values(phone=None, to_place=None)
            )
            # A daily check-in ends: consent withdrawn, the private details blanked.
            await uow.session.execute(
                update(Elder)
                .where(Elder.user_id == user_id)
                .values(
                    status=ElderStatus.LEFT,
                    withdrawn_at=utcnow(),
                    name="—",
                    address=None,
                    phone=None,
                    user_id=None,
                )
            )
            await uow.users.delete(user_id)
            await uow.commit()
        log.info("forgot user %s at their request", user_id)
        return True
