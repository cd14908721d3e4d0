"""Reading updates one by one, so one that cannot be read does not stop all the others.

python-telegram-bot reads a whole getUpdates batch at once: if one update in it has a shape
this version cannot read (a field Telegram added or dropped after the library was released),
the whole batch fails, the offset never moves, and polling is stuck on it for good. Linli's
bot reads such a batch again update by update: an unreadable one is logged, counted and
replaced by an empty update with the same `update_id`, so the offset moves past it and every
other update is handled. The webhook does the same with `read_update`.

It also fetches the next batch only once the last one has been handled (`wait_until_handled`,
the application's update queue): PTB would otherwise ask again as soon as a batch is queued,
so a bot that is busy asks Telegram for every one or two updates that arrived meanwhile
(about two thirds of the bot's CPU at 150 messages/s went into those requests), and each
request confirms to Telegram every update fetched before it, handled or not — a SIGKILL
then lost all that were still queued. Now a request confirms only handled updates.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update
from telegram.ext import ExtBot

from bot.metrics import UNREADABLE_UPDATES
from bot.transport import AiohttpRequest

log = logging.getLogger(__name__)

UNREADABLE = (TypeError, ValueError, KeyError, AttributeError, IndexError)
skipped = 0  # updates that could not be read since start (for the metrics)


def read_update(data: dict[str, Any], bot: Bot) -> Update:
    """The update, or an empty one with its `update_id` when this library cannot read it."""
    global skipped
    try:
        return Update.de_json(copy.deepcopy(data), bot)
    except UNREADABLE as exc:
        skipped += 1
        UNREADABLE_UPDATES.inc()
        log.error(
            "update %s could not be read and is skipped (%s: %s); keys: %s",
            data.get("update_id"),
            type(exc).__name__,
            str(exc)[:200],
            sorted(data)[:10],
        )
        return Update(update_id=int(data.get("update_id") or 0))


class LinliBot(ExtBot):  # type: ignore[type-arg]
    """PTB's bot, except that a batch of updates it cannot read is read one update at a time,
    and that it long-polls for more only when what it fetched before has been handled."""

    wait_until_handled: Callable[[], Awaitable[None]] | None = None

    def fetch_after(self, handled: Callable[[], Awaitable[None]]) -> None:
        """Long-poll only once `handled()` returns (the application's `update_queue.join`)."""
        with self._unfrozen():
            self.wait_until_handled = handled

    async def get_updates(  # type: ignore[override]
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,  # noqa: ASYNC109 - PTB's own signature
        allowed_updates: Any = None,
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        if timeout and self.wait_until_handled is not None:
            # A long poll (not the last, confirming call at shutdown, whose timeout is 0).
            await self.wait_until_handled()
        try:
            return await super().get_updates(
                offset=offset,
                limit=limit,
                timeout=timeout,
                allowed_updates=allowed_updates,
                **kwargs,
            )
        except UNREADABLE:
            # The batch is still there (the offset did not move): fetch it again, read each.
            raw = await self._post(
                "getUpdates",
                {
                    "offset": offset,
                    "limit": limit,
                    "timeout": 0,
                    "allowed_updates": allowed_updates,
                },
            )
            return tuple(read_update(data, self) for data in raw or [])


def make_bot(token: str, base_url: str, base_file_url: str) -> LinliBot:
    """The bot with the timeouts Linli uses (as ApplicationBuilder would make it)."""
    return LinliBot(
        token=token,
        base_url=base_url,
        base_file_url=base_file_url,
        request=AiohttpRequest(256, connect_timeout=10, read_timeout=15, write_timeout=20),
        get_updates_request=AiohttpRequest(1, read_timeout=35),
    )
