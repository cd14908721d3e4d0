"""Who is writing: recording users, chats and the roster, and resolving identity."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.i18n import choose_language, normalize_language
from bot.services.types import ChatRef, Identity, Person
from bot.settings import Settings
from storage.db import Database
from storage.models import Chat, ChatKind, Role, User
from storage.repositories import SEEN_STEP, Sighting
from storage.types import storable, utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    """A person's remembered address and phone."""

    building: str | None = None
    unit: str | None = None
    room: str | None = None
    phone: str | None = None


class PeopleService:
    """Keeps users, chats and rosters current and answers 'who is this'."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def record_update(
        self, update_id: int, person: Person | None, chat: ChatRef | None
    ) -> bool:
        """Claim the update and record who wrote where; False if it was handled before."""
        fresh, _ = await self._arrive(update_id, person, chat, identify=False)
        return fresh

    async def arrive(
        self, update_id: int, person: Person | None, chat: ChatRef | None
    ) -> tuple[bool, Identity | None]:
        """`record_update` and `identity` in one transaction (one of each per update was most
        of the database work of an update): (False, None) if the update was handled before,
        else (True, the person's identity, None when no person wrote)."""
        return await self._arrive(update_id, person, chat, identify=True)

    async def _arrive(
        self, update_id: int, person: Person | None, chat: ChatRef | None, *, identify: bool
    ) -> tuple[bool, Identity | None]:
        identity = None
        async with self.db.uow() as uow:
            if not await uow.updates.claim(update_id):
                return False, None
            sighting = None
            if person is not None and chat is not None and chat.is_group:
                # A known person in a known group (nearly every update): one read.
                sighting = await uow.roster.sighting(person.id, chat.id)
            if sighting is not None:
                assert person is not None and chat is not None
                known = await self._record_sighting(uow, person, chat, sighting)
                identity = known if identify else None
            elif person is not None:
                user, row = await self._record_person(uow, person, chat)
                if identify:
                    identity = await self._identify(uow, person, chat, row, user)
            elif chat is not None:
                await uow.chats.upsert(chat.id, chat.type, chat.title)
            await uow.commit()
        return True, identity

    async def _record_sighting(
        self, uow: UnitOfWork, person: Person, chat: ChatRef, seen: Sighting
    ) -> Identity:
        """Record a message of a known person in a known group from what `sighting` read,
        writing only what changed (most messages: nothing), and their identity there.

        The same outcome as `_record_person` + `_identify`, in one read instead of six.
        """
        now = utcnow()
        names = {
            "first_name": storable(person.first_name[:128], 128),
            "last_name": storable(person.last_name[:128], 128) if person.last_name else None,
            "username": storable(person.username, 64) if person.username else None,
            "telegram_language": person.language_code,
        }
        stored = (seen.first_name, seen.last_name, seen.username, seen.telegram_language)
        changed = {k: v for (k, v), old in zip(names.items(), stored, strict=True) if v != old}
        if seen.user_seen_at is None or now - seen.user_seen_at >= SEEN_STEP:
            changed["last_seen_at"] = now
        if changed:
            await uow.users.refresh(person.id, changed)
        title = storable(chat.title, 255) if chat.title is not None else None
        if (chat.type, title) != (seen.chat_type, seen.chat_title):
            await uow.chats.retitle(seen.chat_id, chat.type, chat.title)
        if seen.present is None:
            await uow.roster.seen(seen.chat_id, person.id)
        elif (
            not seen.present
            or seen.member_seen_at is None
            or (now - seen.member_seen_at >= SEEN_STEP)
        ):
            await uow.roster.see(seen.chat_id, person.id, True, now)
        roles = set(seen.roles)
        if (
            seen.kind is ChatKind.RESIDENTS
            and seen.community_id is not None
            and seen.active
            and Role.RESIDENT not in roles
        ):
            await uow.memberships.grant(person.id, seen.community_id, Role.RESIDENT, None)
            roles.add(Role.RESIDENT)
        if seen.community_id is not None:
            return self._in_group(
                person,
                seen.language,
                seen.community_id,
                seen.community_name,
                seen.community_language,
                seen.kind,
                seen.active,
                roles,
            )
        return await self._identify(uow, person, chat, None)

    def _in_group(
        self,
        person: Person,
        chosen: str | None,
        community_id: int,
        community_name: str | None,
        community_language: str | None,
        kind: ChatKind,
        active: bool,
        roles: set[Role],
    ) -> Identity:
        """The person's identity in a group registered to a community, from what was read."""
        global_admin = person.id in self.settings.admin_ids
        default = community_language or self.settings.default_language
        return Identity(
            user_id=person.id,
            language=choose_language(chosen, person.language_code, default),
            community_id=community_id,
            community_name=community_name,
            chat_kind=kind,
            roles=frozenset(roles | ({Role.ADMIN} if global_admin else set())),
            global_admin=global_admin,
            chat_active=active,
        )

    async def _record_person(
        self, uow: UnitOfWork, person: Person, chat: ChatRef | None
    ) -> tuple[User, Chat | None]:
        """Record the person (and the chat and its roster); their row, and the chat's if it
        is not private."""
        user = await uow.users.upsert(
            person.id,
            first_name=person.first_name,
            last_name=person.last_name,
            username=person.username,
            telegram_language=person.language_code,
        )
        if chat is None:
            return user, None
        if chat.type == "private":
            user.private_chat_open = True
            user.blocked_bot = False
            return user, None
        row = await uow.chats.upsert(chat.id, chat.type, chat.title)
        await uow.roster.seen(row.id, person.id)
        if row.kind is ChatKind.RESIDENTS and row.community_id is not None and row.active:
            await uow.memberships.grant(person.id, row.community_id, Role.RESIDENT, None)
        return user, row

    async def identity(self, person: Person, chat: ChatRef | None) -> Identity:
        """The person's language and roles in this chat (all communities in private)."""
        async with self.db.uow() as uow:
            return await self._identify(uow, person, chat, None)

    async def _identify(
        self,
        uow: UnitOfWork,
        person: Person,
        chat: ChatRef | None,
        row: Chat | None,
        user: User | None = None,
    ) -> Identity:
        """`identity` inside a unit of work; `row` and `user` are the group's chat row and the
        person's row if already loaded."""
        if user is None:
            user = await uow.users.get(person.id)
        chosen = user.language if user else None
        if not (chat and chat.is_group):
            row = None
        elif row is None:
            row = await uow.chats.by_telegram_id(chat.id)
        if row is not None and row.community_id is not None:
            community = await uow.communities.get(row.community_id)
            return self._in_group(
                person,
                chosen,
                row.community_id,
                community.name if community else None,
                community.language if community else None,
                row.kind,
                row.active,
                set(await uow.memberships.roles(person.id, row.community_id)),
            )
        global_admin = person.id in self.settings.admin_ids
        memberships = await uow.memberships.of_user(person.id)
        roles = {m.role for m in memberships} | ({Role.ADMIN} if global_admin else set())
        community_ids = {m.community_id for m in memberships}
        only = next(iter(community_ids)) if len(community_ids) == 1 else None
        return Identity(
            user_id=person.id,
            language=choose_language(chosen, person.language_code, self.settings.default_language),
            community_id=only,
            chat_kind=row.kind if row else (ChatKind.PRIVATE if chat else None),
            roles=frozenset(roles),
            global_admin=global_admin,
        )

    async def contact(self, user_id: int) -> Contact:
        """The address and phone the person gave last time (private; for their own dialogs)."""
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            return Contact()
        return Contact(user.building, user.unit, user.room, user.phone)

    async def name_of(self, user_id: int) -> str | None:
        """The person's display name, if known."""
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
        return user.display_name if user else None

    async def language_of(self, user_id: int) -> str:
        """The language to write to someone in when they are not the one writing."""
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            return self.settings.default_language
        return choose_language(
            user.language, user.telegram_language, self.settings.default_language
        )

    async def set_language(self, user_id: int, language: str) -> str | None:
        """Remember the user's language; None if it is not supported."""
        normalized = normalize_language(language)
        if normalized is None:
            return None
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                return None
            user.language = normalized
            await uow.commit()
        return normalized

    async def mark_private_chat(self, user_id: int, *, open_: bool, blocked: bool) -> None:
        """Record whether the user's private chat with the bot works."""
        async with self.db.uow() as uow:
            user = await uow.users.get(user_id)
            if user is not None:
                user.private_chat_open = open_
                user.blocked_bot = blocked
                await uow.commit()
