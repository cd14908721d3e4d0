"""Small repositories: every query Linli runs lives here, none commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Chat,
    ChatKind,
    ChatMember,
    Community,
    FaqEntry,
    FaqFeedback,
    FaqQuery,
    Membership,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
    Role,
    User,
)
from storage.types import utcnow

# "Last seen" is kept to the minute: writing it on every message was an UPDATE of the user and
# one of the roster row per group message, for a time nothing reads more precisely.
SEEN_STEP = timedelta(minutes=1)


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _core(self, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        """Run a Core statement on the session's connection, in its transaction: the hot
        path's statements skip the ORM's per-statement work (compile state, autoflush,
        loading), which cost more than the statement itself."""
        connection = await self.session.connection()
        return await connection.execute(stmt, params)


class UserRepository(_Repository):
    """Telegram users Linli has seen."""

    async def get(self, user_id: int) -> User | None:
        """The user with this Telegram id, if known."""
        return await self.session.get(User, user_id)

    async def upsert(
        self,
        user_id: int,
        *,
        first_name: str,
        last_name: str | None,
        username: str | None,
        telegram_language: str | None,
        seen_at: datetime | None = None,
    ) -> User:
        """Create the user or refresh the names Telegram reports."""
        user = await self.session.get(User, user_id)
        if user is None:
            user = User(id=user_id)
            self.session.add(user)
        user.first_name = first_name[:128]
        user.last_name = last_name[:128] if last_name else None
        user.username = username
        user.telegram_language = telegram_language
        now = seen_at or utcnow()
        if seen_at is not None or user.last_seen_at is None or now - user.last_seen_at >= SEEN_STEP:
            user.last_seen_at = now
        return user

    async def refresh(self, user_id: int, values: dict[str, Any]) -> None:
        """Set some columns of a stored user (one UPDATE, no load)."""
        await self._core(update(User).where(User.id == user_id).values(**values))

    async def find_by_username(self, username: str) -> User | None:
        """The user with this @username (case-insensitive)."""
        stmt = select(User).where(func.lower(User.username) == username.lstrip("@").lower())
        return (await self.session.scalars(stmt)).first()

    async def find_by_name(self, name: str) -> Sequence[User]:
        """Users whose first name, or first and last name, is exactly `name`."""
        stmt = select(User).where(
            (User.first_name == name)
            | ((User.first_name + func.coalesce(User.last_name, "")) == name)
        )
        return (await self.session.scalars(stmt)).all()

    async def delete(self, user_id: int) -> None:
        """Remove the user and, through cascades, everything tied to them."""
        await self.session.execute(delete(User).where(User.id == user_id))


class CommunityRepository(_Repository):
    """Communities (小区/社区)."""

    async def get(self, community_id: int) -> Community | None:
        """The community with this id."""
        return await self.session.get(Community, community_id)

    async def by_name(self, name: str) -> Community | None:
        """The community with exactly this name."""
        return (await self.session.scalars(select(Community).where(Community.name == name))).first()

    async def all(self) -> Sequence[Community]:
        """Every community, by id."""
        return (await self.session.scalars(select(Community).order_by(Community.id))).all()

    async def add(self, name: str, code: str, timezone: str, language: str) -> Community:
        """Create a community."""
        community = Community(name=name, code=code, timezone=timezone, language=language)
        self.session.add(community)
        await self.session.flush()
        return community


class ChatRepository(_Repository):
    """Chats the bot is in."""

    async def by_telegram_id(self, telegram_id: int) -> Chat | None:
        """The chat with this Telegram id."""
        stmt = select(Chat).where(Chat.telegram_id == telegram_id)
        return (await self.session.scalars(stmt)).first()

    async def upsert(self, telegram_id: int, type_: str, title: str | None) -> Chat:
        """Create the chat or refresh its type and title."""
        chat = await self.by_telegram_id(telegram_id)
        if chat is None:
            kind = ChatKind.PRIVATE if type_ == "private" else ChatKind.UNREGISTERED
            chat = Chat(telegram_id=telegram_id, type=type_, title=title, kind=kind)
            self.session.add(chat)
            await self.session.flush()
        else:
            chat.type = type_
            chat.title = title
        return chat

    async def retitle(self, chat_id: int, type_: str, title: str | None) -> None:
        """Set a stored chat's type and title (one UPDATE, no load)."""
        await self._core(update(Chat).where(Chat.id == chat_id).values(type=type_, title=title))

    async def of_community(
        self, community_id: int, kind: ChatKind | None = None, *, active: bool = True
    ) -> Sequence[Chat]:
        """The community's chats, optionally of one kind."""
        stmt = select(Chat).where(Chat.community_id == community_id, Chat.active == active)
        if kind is not None:
            stmt = stmt.where(Chat.kind == kind)
        return (await self.session.scalars(stmt.order_by(Chat.id))).all()


class MembershipRepository(_Repository):
    """Roles per community."""

    async def roles(self, user_id: int, community_id: int) -> set[Role]:
        """The roles the user holds in the community."""
        stmt = select(Membership.role).where(
            Membership.user_id == user_id, Membership.community_id == community_id
        )
        return set((await self.session.scalars(stmt)).all())

    async def of_user(self, user_id: int) -> Sequence[Membership]:
        """Every role the user holds, in every community."""
        stmt = select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
        return (await self.session.scalars(stmt)).all()

    async def grant(
        self, user_id: int, community_id: int, role: Role, granted_by: int | None
    ) -> bool:
        """Give the role; False when the user already had it."""
        if role in await self.roles(user_id, community_id):
            return False
        self.session.add(
            Membership(user_id=user_id, community_id=community_id, role=role, granted_by=granted_by)
        )
        await self.session.flush()
        return True

    async def revoke(self, user_id: int, community_id: int, role: Role) -> bool:
        """Take the role away; False when the user did not have it."""
        result = await self.session.execute(
            delete(Membership).where(
                Membership.user_id == user_id,
                Membership.community_id == community_id,
                Membership.role == role,
            )
        )
        return bool(result.rowcount)

    async def holders(self, community_id: int, role: Role) -> Sequence[int]:
        """Ids of the users holding the role in the community."""
        stmt = select(Membership.user_id).where(
            Membership.community_id == community_id, Membership.role == role
        )
        return (await self.session.scalars(stmt)).all()


@dataclass(frozen=True)
class Sighting:
    """A person writing in a known group, as stored: their row, the group's, their roster
    row there (None if not on it), the group's community and the roles they hold in it."""

    first_name: str
    last_name: str | None
    username: str | None
    telegram_language: str | None
    language: str | None
    user_seen_at: datetime | None
    chat_id: int
    chat_type: str
    chat_title: str | None
    kind: ChatKind
    community_id: int | None
    active: bool
    present: bool | None
    member_seen_at: datetime | None
    community_name: str | None
    community_language: str | None
    roles: frozenset[Role]


# Built once: the statement of every group message (its cache key is computed once too).
_SIGHTING = (
    select(
        User.first_name,
        User.last_name,
        User.username,
        User.telegram_language,
        User.language,
        User.last_seen_at,
        Chat.id,
        Chat.type,
        Chat.title,
        Chat.kind,
        Chat.community_id,
        Chat.active,
        ChatMember.present,
        ChatMember.last_seen_at,
        Community.name,
        Community.language,
        Membership.role,
    )
    .select_from(Chat)
    .join(User, User.id == bindparam("user_id"))
    .outerjoin(ChatMember, and_(ChatMember.chat_id == Chat.id, ChatMember.user_id == User.id))
    .outerjoin(Community, Community.id == Chat.community_id)
    .outerjoin(
        Membership,
        and_(Membership.community_id == Chat.community_id, Membership.user_id == User.id),
    )
    .where(Chat.telegram_id == bindparam("telegram_id"))
)
_SEE_MEMBER = (
    update(ChatMember)
    .where(ChatMember.chat_id == bindparam("member_chat"), ChatMember.user_id == bindparam("uid"))
    .values(present=bindparam("present"), last_seen_at=bindparam("seen_at"))
)


class RosterRepository(_Repository):
    """Members the bot has seen in each group."""

    async def sighting(self, user_id: int, chat_telegram_id: int) -> Sighting | None:
        """Everything recording a group message reads, in one statement; None when the
        user or the chat is not stored yet."""
        rows = (
            await self._core(_SIGHTING, {"user_id": user_id, "telegram_id": chat_telegram_id})
        ).all()
        if not rows:
            return None
        first = rows[0]
        return Sighting(
            *first[:16], roles=frozenset(row[16] for row in rows if row[16] is not None)
        )

    async def see(self, chat_id: int, user_id: int, present: bool, now: datetime) -> None:
        """Refresh an existing roster row (one UPDATE, no load)."""
        await self._core(
            _SEE_MEMBER,
            {"member_chat": chat_id, "uid": user_id, "present": present, "seen_at": now},
        )

    async def seen(self, chat_id: int, user_id: int, present: bool = True) -> None:
        """Record that the user is (or is no longer) in the chat."""
        stmt = select(ChatMember).where(
            ChatMember.chat_id == chat_id, ChatMember.user_id == user_id
        )
        member = (await self.session.scalars(stmt)).first()
        if member is None:
            self.session.add(ChatMember(chat_id=chat_id, user_id=user_id, present=present))
        else:
            now = utcnow()
            if member.present != present or now - member.last_seen_at >= SEEN_STEP:
                member.present = present
                member.last_seen_at = now

    async def members(self, chat_id: int) -> Sequence[int]:
        """Ids of users present in the chat."""
        stmt = select(ChatMember.user_id).where(
            ChatMember.chat_id == chat_id, ChatMember.present.is_(True)
        )
        return (await self.session.scalars(stmt)).all()

    async def chats_of(self, user_id: int) -> Sequence[Chat]:
        """The group chats the user has been seen in."""
        stmt = (
            select(Chat)
            .join(ChatMember, ChatMember.chat_id == Chat.id)
            .where(ChatMember.user_id == user_id, ChatMember.present.is_(True))
        )
        return (await self.session.scalars(stmt)).all()


# Built once per dialect: the first statement of every update.
_CLAIMS = {
    name: module.insert(ProcessedUpdate).on_conflict_do_nothing(
        index_elements=[ProcessedUpdate.update_id]
    )
    for name, module in (("sqlite", sqlite), ("postgresql", postgresql))
}


class UpdateRepository(_Repository):
    """update_ids already handled."""

    async def claim(self, update_id: int) -> bool:
        """Mark the update as handled; False if it was handled before.

        One `INSERT … ON CONFLICT DO NOTHING` (SQLite, PostgreSQL): a savepoint, the insert and
        its release were three statements on every update. A claim racing another waits for
        it as before and comes back False once the other commits.
        """
        dialect = self.session.sync_session.get_bind().dialect.name
        stmt = _CLAIMS.get(dialect)
        if stmt is not None:
            params = {"update_id": update_id, "processed_at": utcnow()}
            return bool((await self._core(stmt, params)).rowcount)
        try:
            async with self.session.begin_nested():
                self.session.add(ProcessedUpdate(update_id=update_id))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def prune(self, before: datetime) -> int:
        """Forget update ids older than `before`."""
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
        )
        return result.rowcount or 0


class OutboxRepository(_Repository):
    """Messages waiting to be sent."""

    async def enqueue(
        self,
        key: str,
        chat_telegram_id: int,
        payload: dict,
        method: str = "sendMessage",
        not_before: datetime | None = None,
        priority: int = 0,
    ) -> OutboxMessage | None:
        """Queue a message once per idempotency key; None if the key was queued before.

        A higher `priority` goes out first (alerts about elders: 1; everything else: 0). Two
        transactions queueing the same key at once are safe: the loser's insert is undone in
        a savepoint and it gets None, without spoiling the rest of its transaction.
        """
        if await self.by_key(key) is not None:
            return None
        message = OutboxMessage(
            idempotency_key=key,
            chat_telegram_id=chat_telegram_id,
            payload=payload,
            method=method,
            not_before=not_before or utcnow(),
            priority=priority,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(message)
                await self.session.flush()
        except IntegrityError:
            return None
        return message

    async def enqueue_new(
        self,
        messages: Sequence[tuple[str, int, dict]],
        method: str = "sendMessage",
        priority: int = 0,
    ) -> None:
        """Queue many messages at once whose keys are new (made from rows of this transaction).

        No check per key and no savepoint: a key queued before makes the flush raise
        IntegrityError, which spoils the transaction; the caller rolls back and falls back
        to `enqueue` one by one.
        """
        if not messages:
            return
        now = utcnow()
        await self.session.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": key,
                    "chat_telegram_id": chat,
                    "payload": payload,
                    "method": method,
                    "not_before": now,
                    "created_at": now,
                    "priority": priority,
                }
                for key, chat, payload in messages
            ],
        )

    async def due(self, now: datetime, limit: int = 100) -> Sequence[OutboxMessage]:
        """Pending messages whose time has come, oldest first."""
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def ready(
        self,
        now: datetime,
        limit: int = 100,
        *,
        after_id: int = 0,
        skip_chats: Collection[int] = (),
        priority: int | None = None,
    ) -> Sequence[OutboxMessage]:
        """Due pending messages that may go now, by id, keeping each chat's order.

        A message waits while an earlier one to the same chat is being sent, or was put
        back by the dispatcher (a pending row with last_error) and is not due yet.
        `after_id` pages through the queue; `skip_chats` leaves out chats held this round;
        `priority` keeps one priority level (the dispatcher serves higher levels first).
        """
        # The first blocking row of each chat (few: rows being sent, rows put back); a row
        # is held when its chat has one before it. Grouped once, not probed row by row: a
        # correlated EXISTS took PostgreSQL about a second with 10,000 rows pending.
        blockers = (
            select(
                OutboxMessage.chat_telegram_id.label("chat"),
                func.min(OutboxMessage.id).label("first_id"),
            )
            .where(
                or_(
                    OutboxMessage.status == OutboxStatus.SENDING,
                    and_(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.last_error.is_not(None),
                        OutboxMessage.not_before > now,
                    ),
                )
            )
            .group_by(OutboxMessage.chat_telegram_id)
            .subquery()
        )
        stmt = (
            select(OutboxMessage)
            .outerjoin(blockers, blockers.c.chat == OutboxMessage.chat_telegram_id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.not_before <= now,
                OutboxMessage.id > after_id,
                or_(blockers.c.first_id.is_(None), OutboxMessage.id < blockers.c.first_id),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if skip_chats:
            stmt = stmt.where(OutboxMessage.chat_telegram_id.not_in(list(skip_chats)))
        if priority is not None:
            stmt = stmt.where(OutboxMessage.priority == priority)
        return (await self.session.scalars(stmt)).all()

    async def next_not_before(self, after: datetime) -> datetime | None:
        """When the next pending message falls due, counting only times after `after`."""
        stmt = select(func.min(OutboxMessage.not_before)).where(
            OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before > after
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim(self, message_id: int, now: datetime) -> bool:
        """Move a due message from pending to sending; False if someone else got there first."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.not_before <= now,
            )
            .values(status=OutboxStatus.SENDING)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def settle(self, message_id: int, status: OutboxStatus, **values: object) -> bool:
        """Record the outcome of a send this process claimed; False if the row moved on.

        A row recovered as unknown while its send was still running may still be settled:
        the send's own outcome is better knowledge than "unknown".
        """
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status.in_([OutboxStatus.SENDING, OutboxStatus.UNKNOWN]),
            )
            .values(status=status, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def abandon_sending(self, reason: str) -> list[OutboxMessage]:
        """Mark every message left in sending as unknown; those messages."""
        stmt = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING)
        rows = list((await self.session.scalars(stmt)).all())
        for row in rows:
            row.status, row.last_error = OutboxStatus.UNKNOWN, reason
        await self.session.flush()
        return rows

    async def get(self, message_id: int) -> OutboxMessage | None:
        """One outbox row."""
        return await self.session.get(OutboxMessage, message_id)

    async def by_key(self, key: str) -> OutboxMessage | None:
        """The row queued under this idempotency key."""
        stmt = select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        return (await self.session.scalars(stmt)).first()

    async def count_by_status(self) -> dict[str, int]:
        """How many messages are in each status."""
        stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return {str(s): n for s, n in (await self.session.execute(stmt)).all()}

    async def retarget(self, old_chat: int, new_chat: int) -> None:
        """Point pending messages at a group's new id after it became a supergroup."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_telegram_id == old_chat,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .values(chat_telegram_id=new_chat)
        )


_LOG_QUERY = insert(FaqQuery).values(
    user_id=select(User.id).where(User.id == bindparam("asker")).scalar_subquery()
)


class FaqRepository(_Repository):
    """A community's own knowledge-base entries, the questions asked, and feedback."""

    async def entries(self, community_id: int) -> Sequence[FaqEntry]:
        """The community's stored entries (including deletions of default ones)."""
        stmt = select(FaqEntry).where(FaqEntry.community_id == community_id).order_by(FaqEntry.id)
        return (await self.session.scalars(stmt)).all()

    async def put_entry(
        self,
        community_id: int,
        entry_id: str,
        data: dict,
        user_id: int | None,
        *,
        deleted: bool = False,
    ) -> FaqEntry:
        """Add or replace the community's entry `entry_id` (or mark it deleted)."""
        stmt = select(FaqEntry).where(
            FaqEntry.community_id == community_id, FaqEntry.entry_id == entry_id
        )
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            row = FaqEntry(community_id=community_id, entry_id=entry_id)
            self.session.add(row)
        row.data, row.deleted, row.updated_by, row.updated_at = data, deleted, user_id, utcnow()
        await self.session.flush()
        return row

    async def log(self, asker: int, values: dict[str, Any]) -> int:
        """Record a question Linli handled in one INSERT; its id. The asker is linked only
        if stored (a person who was forgotten, or never recorded, is not)."""
        result = await self._core(_LOG_QUERY, {**values, "asker": asker})
        return int(result.inserted_primary_key[0])

    async def query(self, query_id: int) -> FaqQuery | None:
        """One recorded question."""
        return await self.session.get(FaqQuery, query_id)

    async def vote(self, query_id: int, entry_id: str, user_id: int, vote: int) -> bool:
        """Record a 👍/👎; a person's second vote on the same answer replaces the first."""
        stmt = select(FaqFeedback).where(
            FaqFeedback.query_id == query_id, FaqFeedback.user_id == user_id
        )
        row = (await self.session.scalars(stmt)).first()
        if row is not None:
            changed = row.vote != vote
            row.vote = vote
            return changed
        self.session.add(
            FaqFeedback(query_id=query_id, entry_id=entry_id, user_id=user_id, vote=vote)
        )
        await self.session.flush()
        return True

    async def votes(self, entry_ids: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
        """(👍, 👎) counts per entry id."""
        up = func.sum(case((FaqFeedback.vote > 0, 1), else_=0))
        down = func.sum(case((FaqFeedback.vote < 0, 1), else_=0))
        stmt = select(FaqFeedback.entry_id, up, down).group_by(FaqFeedback.entry_id)
        if entry_ids is not None:
            stmt = stmt.where(FaqFeedback.entry_id.in_(entry_ids))
        return {
            e: (int(u or 0), int(d or 0)) for e, u, d in (await self.session.execute(stmt)).all()
        }

    async def gaps(self, community_id: int, limit: int = 10) -> list[tuple[str, int, int]]:
        """The most asked unanswered questions: (text, times asked, latest query id)."""
        stmt = (
            select(FaqQuery.text, func.count(), func.max(FaqQuery.id))
            .where(
                FaqQuery.community_id == community_id,
                FaqQuery.decision == "silent",
                FaqQuery.resolved_entry_id.is_(None),
            )
            .group_by(FaqQuery.text)
            .order_by(func.count().desc(), func.max(FaqQuery.id).desc())
            .limit(limit)
        )
        return [(t, int(n), int(i)) for t, n, i in (await self.session.execute(stmt)).all()]

    async def resolve_gap(self, community_id: int, text: str, entry_id: str) -> int:
        """Mark every unanswered query with this text as answered by `entry_id`."""
        result = await self.session.execute(
            update(FaqQuery)
            .where(
                FaqQuery.community_id == community_id,
                FaqQuery.text == text,
                FaqQuery.decision == "silent",
                FaqQuery.resolved_entry_id.is_(None),
            )
            .values(resolved_entry_id=entry_id)
        )
        return result.rowcount or 0
