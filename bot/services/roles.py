"""Roles per community: who may do what, and granting or revoking them."""

from __future__ import annotations

import enum
import logging

from bot.services.types import Identity, Person
from bot.settings import Settings
from storage.db import Database
from storage.models import Role, User
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# Which role may grant or revoke which: admins manage staff, staff manage volunteers.
GRANTOR = {Role.STAFF: Role.ADMIN, Role.VOLUNTEER: Role.STAFF, Role.ADMIN: Role.ADMIN}


class RoleChange(enum.StrEnum):
    """The outcome of a grant or revoke."""

    GRANTED = "granted"
    ALREADY = "already"
    REVOKED = "revoked"
    NOT_HELD = "not_held"
    FORBIDDEN = "forbidden"
    NO_COMMUNITY = "no_community"
    UNKNOWN_USER = "unknown_user"
    AMBIGUOUS = "ambiguous"


class RoleService:
    """Checks and changes roles; every check reads the database."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def is_global_admin(self, user_id: int) -> bool:
        """True for the first admins named in the settings."""
        return user_id in self.settings.admin_ids

    async def has_role(self, user_id: int, community_id: int, role: Role) -> bool:
        """True when the user holds `role`, or a role above it, in the community."""
        if self.is_global_admin(user_id):
            return True
        async with self.db.uow() as uow:
            return await self._has_role(uow, user_id, community_id, role)

    async def _has_role(self, uow: UnitOfWork, user_id: int, community_id: int, role: Role) -> bool:
        if self.is_global_admin(user_id):
            return True
        held = await uow.memberships.roles(user_id, community_id)
        order = [Role.RESIDENT, Role.VOLUNTEER, Role.STAFF, Role.ADMIN]
        return any(order.index(r) >= order.index(role) for r in held)

    async def change(
        self,
        actor: Identity,
        role: Role,
        *,
        grant: bool,
        target: Person | None = None,
        target_ref: str | None = None,
    ) -> tuple[RoleChange, User | None]:
        """Grant or revoke `role` for a user named by id, @username or roster name."""
        if actor.community_id is None:
            return RoleChange.NO_COMMUNITY, None
        async with self.db.uow() as uow:
            if not await self._has_role(uow, actor.user_id, actor.community_id, GRANTOR[role]):
                return RoleChange.FORBIDDEN, None
            if target is not None:
                user: User | None = await uow.users.upsert(
                    target.id,
                    first_name=target.first_name,
                    last_name=target.last_name,
                    username=target.username,
                    telegram_language=target.language_code,
                )
                problem = RoleChange.UNKNOWN_USER
            else:
                user, problem = await self._find(uow, actor.community_id, target_ref)
            if user is None:
                return problem, None
            if grant:
                done = await uow.memberships.grant(user.id, actor.community_id, role, actor.user_id)
                outcome = RoleChange.GRANTED if done else RoleChange.ALREADY
            else:
                if user.id == actor.user_id and role is Role.ADMIN:
                    return RoleChange.FORBIDDEN, user
                done = await uow.memberships.revoke(user.id, actor.community_id, role)
                outcome = RoleChange.REVOKED if done else RoleChange.NOT_HELD
            await uow.commit()
            log.info(
                "role %s %s for user %s in community %s by %s",
                role,
                outcome,
                user.id,
                actor.community_id,
                actor.user_id,
            )
            return outcome, user

    async def _find(
        self, uow: UnitOfWork, community_id: int, ref: str | None
    ) -> tuple[User | None, RoleChange]:
        ref = (ref or "").strip()
        if not ref:
            return None, RoleChange.UNKNOWN_USER
        if ref.startswith("@"):
            return await uow.users.find_by_username(ref), RoleChange.UNKNOWN_USER
        if ref.isdigit():
            found = await uow.users.get(int(ref)) if len(ref) <= 15 else None
            return found, RoleChange.UNKNOWN_USER
        candidates = await uow.users.find_by_name(ref)
        in_community = []
        for user in candidates:
            chats = await uow.roster.chats_of(user.id)
            if any(c.community_id == community_id for c in chats):
                in_community.append(user)
        pool = in_community or list(candidates)
        if len(pool) > 1:
            return None, RoleChange.AMBIGUOUS
        return (pool[0] if pool else None), RoleChange.UNKNOWN_USER

    async def members(self, community_id: int) -> list[tuple[User, frozenset[Role], list[str]]]:
        """The community's people the bot knows (present in its groups' rosters, or holding a
        role there): each with their roles and the titles of the groups they are in, by name."""
        from sqlalchemy import select

        from storage.models import Chat, ChatMember, Membership

        async with self.db.uow() as uow:
            roster = (
                await uow.session.execute(
                    select(ChatMember.user_id, Chat.title, Chat.telegram_id)
                    .join(Chat, Chat.id == ChatMember.chat_id)
                    .where(
                        Chat.community_id == community_id,
                        Chat.active.is_(True),
                        ChatMember.present.is_(True),
                    )
                    .order_by(Chat.id)
                )
            ).all()
            held = (
                await uow.session.execute(
                    select(Membership.user_id, Membership.role).where(
                        Membership.community_id == community_id
                    )
                )
            ).all()
            groups: dict[int, list[str]] = {}
            for user_id, title, telegram_id in roster:
                groups.setdefault(user_id, []).append(title or str(telegram_id))
            roles: dict[int, set[Role]] = {}
            for user_id, role in held:
                roles.setdefault(user_id, set()).add(role)
            ids = set(groups) | set(roles)
            users = (await uow.session.scalars(select(User).where(User.id.in_(ids)))).all()
        people = [(u, frozenset(roles.get(u.id, ())), groups.get(u.id, [])) for u in users]
        return sorted(people, key=lambda p: (p[0].display_name, p[0].id))
