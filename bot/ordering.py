"""Handling the updates of different people at the same time, and each person's in order.

python-telegram-bot handles updates one at a time by default: while one waits for the
database or for Telegram to take a reply, nothing else moves. Its `concurrent_updates` handles
them all at once in any order, which would let a resident's second dialog answer overtake the
first. `PerPersonProcessor` is in between: the updates of one person — in any chat: a group
message and the private dialog it starts are one story — are handled strictly in the order
they came, each after the previous one has finished; the updates of different people run
concurrently, at most `limit` at a time. An update that changes what the chats are (members
joining or leaving, the bot added or removed, a group moved to a supergroup) is a barrier: it
waits for everything before it, and everything after it waits for it.

`LINLI_CONCURRENT_UPDATES` (default 8; 1 = PTB's one at a time) sets the limit. Against the
real Telegram every reply waits for a network round trip, and overlapping those waits is what
lets one bot keep up with a busy district (docs/performance.md). On SQLite the transactions
still take turns (one writer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Key = tuple[str, int | None]


def key_of(update: object) -> Key:
    """The person an update comes from, in any chat (a group message and the private dialog it
    starts are one person's, in order); the chat for an update from no one."""
    if not isinstance(update, Update):
        return ("none", None)
    user, chat = update.effective_user, update.effective_chat
    if user is not None:
        return ("person", user.id)
    return ("chat", chat.id if chat else None)


def is_barrier(update: object) -> bool:
    """An update that changes what the chats are — the bot or someone added or removed, a
    group moved to a supergroup — is handled alone: after every update before it, before
    every update after it (a message in the new supergroup must find it registered)."""
    if not isinstance(update, Update):
        return False
    if update.my_chat_member or update.chat_member:
        return True
    message = update.message
    return message is not None and bool(
        message.migrate_to_chat_id
        or message.migrate_from_chat_id
        or message.new_chat_members
        or message.left_chat_member
    )


class PerPersonProcessor(BaseUpdateProcessor):
    """Concurrent across people, in order for each person."""

    def __init__(self, limit: int) -> None:
        super().__init__(max_concurrent_updates=limit)
        self._last: dict[Key, asyncio.Future[None]] = {}
        self._pending: set[asyncio.Future[None]] = set()  # registered, not yet finished
        self._barrier: asyncio.Future[None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Registered before the first await here: updates reach this point in the order they
        # came (PTB starts their tasks in that order and its semaphore wakes waiters first in,
        # first out), so each one finds what it must wait for.
        key, barrier = key_of(update), is_barrier(update)
        if barrier:
            before = set(self._pending)
        else:
            before = {f for f in (self._last.get(key), self._barrier) if f is not None}
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = mine
        self._pending.add(mine)
        if barrier:
            self._barrier = mine
        try:
            if before:
                await asyncio.wait(before)  # (never raises: only waits for them to be done)
            await coroutine
        except BaseException:
            if asyncio.iscoroutine(coroutine) and coroutine.cr_frame is not None:
                coroutine.close()  # cancelled before it ran: no "never awaited" warning
            raise
        finally:
            mine.set_result(None)
            self._pending.discard(mine)
            if self._last.get(key) is mine:
                del self._last[key]
            if self._barrier is mine:
                self._barrier = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
