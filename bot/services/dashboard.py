"""Signing in to the staff dashboard: single-use links from /dashboard, sessions, rights.

No passwords: a staff member sends /dashboard to Linli in private and gets a link that works
once, within 10 minutes. Opening it starts a session (a random token in an HttpOnly cookie;
the database keeps only its SHA-256). A session lasts at most 12 hours and ends after 2 hours
without use, or when its owner signs out. Rights are not stored in the session: every request
reads the person's current roles, so someone whose staff role is revoked loses the dashboard
at their next click.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from bot.clock import Clock
from bot.i18n import choose_language
from bot.redact import protect
from bot.services.roles import RoleService
from bot.settings import Settings
from storage.db import Database
from storage.models import Community, DashboardLogin, DashboardSession, Role, User

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)
IDLE_LIMIT = timedelta(hours=2)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and what they may see: communities where they are staff or admin."""

    user_id: int
    name: str
    language: str
    session_id: int
    csrf: str
    communities: dict[int, Community] = field(default_factory=dict)
    admin_of: frozenset[int] = frozenset()

    def may_see(self, community_id: int) -> bool:
        """True for a community the viewer is staff (or admin) of."""
        return community_id in self.communities


class DashboardService:
    """Login links, sessions and the viewer's rights."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles
        self.clock = clock

    async def staff_communities(self, user_id: int) -> list[Community]:
        """Communities where the person is staff or admin (every one for a global admin)."""
        async with self.db.uow() as uow:
            if self.roles.is_global_admin(user_id):
                return list(await uow.communities.all())
            ids = {
                m.community_id
                for m in await uow.memberships.of_user(user_id)
                if m.role in (Role.STAFF, Role.ADMIN)
            }
            return [c for c in await uow.communities.all() if c.id in ids]

    async def issue_link(self, user_id: int) -> str | None:
        """A new single-use login token for staff; None for anyone else."""
        if not await self.staff_communities(user_id):
            return None
        token = secrets.token_urlsafe(32)
        protect(token)  # it travels in a message: PTB logs the call's parameters at DEBUG
        now = self.clock.now()
        async with self.db.uow() as uow:
            uow.session.add(
                DashboardLogin(
                    token_hash=digest(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + LINK_LIFETIME,
                )
            )
            await uow.commit()
        return token

    async def redeem(self, token: str) -> str | None:
        """Use a login token once: a new session token, or None (unknown, used, expired, no rights)."""
        if not token or len(token) > 200:
            return None
        now = self.clock.now()
        async with self.db.uow() as uow:
            login = await uow.session.scalar(
                select(DashboardLogin).where(DashboardLogin.token_hash == digest(token))
            )
            if login is None:
                return None
            used = await uow.session.execute(
                update(DashboardLogin)
                .where(
                    DashboardLogin.id == login.id,
                    DashboardLogin.used_at.is_(None),
                    DashboardLogin.expires_at > now,
                )
                .values(used_at=now)
            )
            if used.rowcount != 1:
                await uow.commit()
                return None
            user_id = login.user_id
            await uow.commit()
        if not await self.staff_communities(user_id):
            return None
        session_token = secrets.token_urlsafe(32)
        protect(session_token)
        async with self.db.uow() as uow:
            uow.session.add(
                DashboardSession(
                    token_hash=digest(session_token),
                    csrf=secrets.token_urlsafe(24),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                    last_seen_at=now,
                )
            )
            await uow.commit()
        return session_token

    async def viewer(self, session_token: str | None) -> Viewer | None:
        """The viewer of a live session with their current rights, or None."""
        if not session_token or len(session_token) > 200:
            return None
        now = self.clock.now()
        async with self.db.uow() as uow:
            session = await uow.session.scalar(
                select(DashboardSession).where(DashboardSession.token_hash == digest(session_token))
            )
            if (
                session is None
                or session.ended_at is not None
                or session.expires_at <= now
                or session.last_seen_at + IDLE_LIMIT <= now
            ):
                return None
            session.last_seen_at = now
            user = await uow.session.get(User, session.user_id)
            session_id, csrf, user_id = session.id, session.csrf, session.user_id
            await uow.commit()
        communities = await self.staff_communities(user_id)
        if not communities or user is None:
            return None
        admin_of = frozenset(
            [
                c.id
                for c in communities
                if self.roles.is_global_admin(user_id)
                or await self.roles.has_role(user_id, c.id, Role.ADMIN)
            ]
        )
        language = choose_language(
            user.language, user.telegram_language, self.settings.default_language
        )
        return Viewer(
            user_id=user_id,
            name=user.display_name,
            language=language,
            session_id=session_id,
            csrf=csrf,
            communities={c.id: c for c in communities},
            admin_of=admin_of,
        )

    async def end(self, session_token: str) -> None:
        """Sign out: the session ends now."""
        now = self.clock.now()
        async with self.db.uow() as uow:
            await uow.session.execute(
                update(DashboardSession)
                .where(DashboardSession.token_hash == digest(session_token))
                .values(ended_at=now)
            )
            await uow.commit()
