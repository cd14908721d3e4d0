"""The unit of work: one session and one transaction, committed explicitly."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.repositories import (
    ChatRepository,
    CommunityRepository,
    FaqRepository,
    MembershipRepository,
    OutboxRepository,
    RosterRepository,
    UpdateRepository,
    UserRepository,
)


class UnitOfWork:
    """Groups the repositories over one session; nothing is saved without `commit()`."""

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.users = UserRepository(self.session)
        self.chats = ChatRepository(self.session)
        self.communities = CommunityRepository(self.session)
        self.memberships = MembershipRepository(self.session)
        self.roster = RosterRepository(self.session)
        self.updates = UpdateRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.faq = FaqRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted and detaches objects without expiring them,
        # so what a service returns stays readable after its unit of work.
        await self.session.close()

    async def commit(self) -> None:
        """Make everything done in this unit of work permanent."""
        await self.session.commit()

    async def rollback(self) -> None:
        """Undo everything not yet committed."""
        await self.session.rollback()
