"""The language to write in when the reader is not the one writing (services' outbox messages)."""

from __future__ import annotations

from bot.i18n import choose_language
from storage.uow import UnitOfWork


async def community_language(uow: UnitOfWork, community_id: int, default: str) -> str:
    """The community's language, else `default`."""
    community = await uow.communities.get(community_id)
    return community.language if community else default


async def person_language(uow: UnitOfWork, user_id: int, default: str) -> str:
    """The person's chosen or Telegram language, else `default`."""
    user = await uow.users.get(user_id)
    if user is None:
        return default
    return choose_language(user.language, user.telegram_language, default)
