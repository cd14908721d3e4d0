"""Group life: the bot joining and leaving, /setup, migrations and the roster."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.roles import RoleService
from bot.services.types import ChatRef, Person
from bot.settings import Settings
from storage.db import Database
from storage.models import Chat, ChatKind, Community, Role
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
GROUP_KINDS = (ChatKind.RESIDENTS, ChatKind.STAFF, ChatKind.VOLUNTEERS)


class SetupOutcome(enum.StrEnum):
    """The result of registering a group."""

    REGISTERED = "registered"
    FORBIDDEN = "forbidden"
    NOT_A_GROUP = "not_a_group"
    UNKNOWN_COMMUNITY = "unknown_community"


@dataclass(frozen=True)
class SetupResult:
    """What /setup did."""

    outcome: SetupOutcome
    community: Community | None = None
    kind: ChatKind | None = None


class GroupService:
    """Keeps the record of groups and their members."""

    def __init__(self, db: Database, settings: Settings, roles: RoleService) -> None:
        self.db = db
        self.settings = settings
        self.roles = roles

    async def bot_joined(self, chat: ChatRef) -> Chat:
        """The bot was added to a group: remember it as active."""
        async with self.db.uow() as uow:
            row = await uow.chats.upsert(chat.id, chat.type, chat.title)
            row.active = True
            await uow.commit()
            log.info("added to chat %s (%s)", chat.id, chat.title)
            return row

    async def bot_left(self, chat_id: int) -> None:
        """The bot was removed: keep the group's data but mark it inactive."""
        async with self.db.uow() as uow:
            row = await uow.chats.by_telegram_id(chat_id)
            if row is not None:
                row.active = False
                await uow.commit()
        log.info("removed from chat %s; marked inactive", chat_id)

    async def members_joined(self, chat: ChatRef, people: Sequence[Person]) -> None:
        """New members appeared in a group: add them to the roster."""
        async with self.db.uow() as uow:
            row = await uow.chats.upsert(chat.id, chat.type, chat.title)
            for person in people:
                await uow.users.upsert(
                    person.id,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    username=person.username,
                    telegram_language=person.language_code,
                )
                await uow.roster.seen(row.id, person.id, present=True)
            await uow.commit()

    async def member_left(self, chat_id: int, user_id: int) -> None:
        """A member left a group: they are no longer on its roster."""
        async with self.db.uow() as uow:
            row = await uow.chats.by_telegram_id(chat_id)
            if row is not None and await uow.users.get(user_id) is not None:
                await uow.roster.seen(row.id, user_id, present=False)
                await uow.commit()

    async def migrate(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: move its record to the new id, keeping its data."""
        async with self.db.uow() as uow:
            old = await uow.chats.by_telegram_id(old_id)
            new = await uow.chats.by_telegram_id(new_id)
            if old is None:
                return
            if new is not None and new.id != old.id:
                if new.community_id is None:
                    new.community_id, new.kind = old.community_id, old.kind
                new.migrated_from = old_id
                old.active = False
            else:
                old.telegram_id, old.type, old.migrated_from = new_id, "supergroup", old_id
            await uow.outbox.retarget(old_id, new_id)
            await uow.commit()
        log.info("chat %s migrated to supergroup %s", old_id, new_id)

    async def setup_choices(self, person: Person, chat_id: int | None = None) -> list[Community]:
        """The communities this person may register a group into.

        A group already registered belongs to its community: only that community's staff
        (or a global admin) may register it again, and only into that community.
        """
        async with self.db.uow() as uow:
            communities = await uow.communities.all()
            if self.roles.is_global_admin(person.id):
                return list(communities)
            owner = await self._owner(uow, chat_id)
            allowed = []
            for community in communities:
                if owner is not None and community.id != owner:
                    continue
                if await self._manages(uow, person.id, community.id):
                    allowed.append(community)
            return allowed

    @staticmethod
    async def _owner(uow: UnitOfWork, chat_id: int | None) -> int | None:
        """The community a registered group belongs to (None: not registered)."""
        if chat_id is None:
            return None
        row = await uow.chats.by_telegram_id(chat_id)
        return row.community_id if row is not None else None

    @staticmethod
    async def _manages(uow: UnitOfWork, user_id: int, community_id: int) -> bool:
        return bool(
            {Role.STAFF, Role.ADMIN} & set(await uow.memberships.roles(user_id, community_id))
        )

    async def create_community(self, person: Person, name: str) -> Community | None:
        """A global admin creates a community; None when not allowed or the name is taken."""
        name = " ".join(name.split())[:100]
        if not name or not self.roles.is_global_admin(person.id):
            return None
        async with self.db.uow() as uow:
            if await uow.communities.by_name(name) is not None:
                return None
            count = len(await uow.communities.all())
            community = await uow.communities.add(
                name, f"C{count + 1:02d}", self.settings.timezone, self.settings.default_language
            )
            await uow.users.upsert(
                person.id,
                first_name=person.first_name,
                last_name=person.last_name,
                username=person.username,
                telegram_language=person.language_code,
            )
            await uow.memberships.grant(person.id, community.id, Role.ADMIN, person.id)
            await uow.commit()
            return community

    async def register(
        self, person: Person, chat: ChatRef, community_id: int, kind: ChatKind
    ) -> SetupResult:
        """Register the group into a community as residents', staff or volunteers' group."""
        if not chat.is_group or kind not in GROUP_KINDS:
            return SetupResult(SetupOutcome.NOT_A_GROUP)
        if not await self.roles.has_role(person.id, community_id, Role.STAFF):
            return SetupResult(SetupOutcome.FORBIDDEN)
        async with self.db.uow() as uow:
            owner = await self._owner(uow, chat.id)
            if (
                owner is not None
                and owner != community_id
                and not await self.roles._has_role(uow, person.id, owner, Role.STAFF)
            ):
                return SetupResult(SetupOutcome.FORBIDDEN)  # another community's group
            community = await uow.communities.get(community_id)
            if community is None:
                return SetupResult(SetupOutcome.UNKNOWN_COMMUNITY)
            row = await uow.chats.upsert(chat.id, chat.type, chat.title)
            row.community_id, row.kind, row.active = community.id, kind, True
            await uow.commit()
        log.info("chat %s registered as %s of community %s", chat.id, kind, community_id)
        return SetupResult(SetupOutcome.REGISTERED, community, kind)

    async def is_member(self, user_id: int, community_id: int) -> bool:
        """True when the person holds any role in the community (or is a global admin)."""
        if user_id in self.settings.admin_ids:
            return True
        async with self.db.uow() as uow:
            return bool(await uow.memberships.roles(user_id, community_id))

    async def chat(self, chat_id: int) -> Chat | None:
        """The stored record of a chat."""
        async with self.db.uow() as uow:
            return await uow.chats.by_telegram_id(chat_id)
