"""Telegram's sending limits, enforced locally before a request leaves.

Each limit is a sliding window ("at most N sends in any P seconds"), the bucket that
empties as messages go and refills as old sends age out of the window. Unlike a
classic token bucket refilled at N/P per second, a window never lets through more than
N in any P seconds: a 20-token bucket refilled at 20 a minute would admit up to 40
messages to one group within a minute, and Telegram answers that with 429.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.types import utcnow


@dataclass(frozen=True)
class RateLimits:
    """How many messages may go out: overall, per group, per private chat."""

    overall_per_second: int = 30
    group_per_minute: int = 20
    private_per_second: int = 1


class SlidingWindow:
    """At most `limit` events in any `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs a positive limit and period")
        self.limit = limit
        self.period = timedelta(seconds=period)
        self._events: deque[datetime] = deque()

    def _forget_old(self, now: datetime) -> None:
        while self._events and self._events[0] + self.period <= now:
            self._events.popleft()

    def ready_at(self, now: datetime) -> datetime:
        """When the next event may happen: `now` if there is room already."""
        self._forget_old(now)
        if len(self._events) < self.limit:
            return now
        return self._events[-self.limit] + self.period

    def record(self, now: datetime) -> None:
        """Count one event at `now`."""
        self._events.append(now)

    def forget_last(self) -> datetime | None:
        """Take back the latest event counted; when it was (None if there is none)."""
        return self._events.pop() if self._events else None

    def forget(self, at: datetime) -> None:
        """Take back one event counted at `at`, if it is still in the window."""
        for i in range(len(self._events) - 1, -1, -1):
            if self._events[i] == at:
                del self._events[i]
                return

    def idle(self, now: datetime) -> bool:
        """True when nothing in the window is remembered any more."""
        self._forget_old(now)
        return not self._events


class RateLimiter:
    """The overall window plus one per chat; groups (chat id < 0) and private chats differ."""

    _SWEEP_EVERY = timedelta(minutes=5)

    def __init__(
        self, limits: RateLimits | None = None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._overall = SlidingWindow(self.limits.overall_per_second, 1.0)
        self._chats: dict[int, SlidingWindow] = {}
        self._paused_until: dict[int, datetime] = {}
        self._all_paused_until: datetime | None = None
        self._last_sweep = clock()

    def _window(self, chat_id: int) -> SlidingWindow:
        window = self._chats.get(chat_id)
        if window is None:
            if chat_id < 0:
                window = SlidingWindow(self.limits.group_per_minute, 60.0)
            else:
                window = SlidingWindow(self.limits.private_per_second, 1.0)
            self._chats[chat_id] = window
        return window

    def overall_ready_at(self) -> datetime:
        """When any message at all may go out next."""
        now = self._clock()
        ready = self._overall.ready_at(now)
        if self._all_paused_until is not None and self._all_paused_until > ready:
            ready = self._all_paused_until
        return ready

    def ready_at(self, chat_id: int) -> datetime:
        """When the next message to this chat may go out (now or earlier means: go)."""
        now = self._clock()
        ready = max(self.overall_ready_at(), self._window(chat_id).ready_at(now))
        paused = self._paused_until.get(chat_id)
        return max(ready, paused) if paused is not None else ready

    def allows(self, chat_id: int) -> bool:
        """True when a message to this chat may go out now."""
        return self.ready_at(chat_id) <= self._clock()

    def record(self, chat_id: int) -> None:
        """Count one message sent to this chat now."""
        now = self._clock()
        self._overall.record(now)
        self._window(chat_id).record(now)
        if now - self._last_sweep >= self._SWEEP_EVERY:
            self._sweep(now)

    def refund(self, chat_id: int) -> None:
        """Take back the send last recorded for this chat: Telegram refused it with 429.

        A refused request delivers nothing and does not use up Telegram's quota, so
        counting it would slow every other chat down for the rest of the window.
        """
        window = self._chats.get(chat_id)
        at = window.forget_last() if window is not None else None
        if at is not None:
            self._overall.forget(at)

    def pause(self, chat_id: int | None, seconds: float) -> None:
        """Hold this chat (or, with None, everything) for `seconds`, as a 429 asks."""
        until = self._clock() + timedelta(seconds=seconds)
        if chat_id is None:
            if self._all_paused_until is None or until > self._all_paused_until:
                self._all_paused_until = until
            return
        current = self._paused_until.get(chat_id)
        if current is None or until > current:
            self._paused_until[chat_id] = until

    def _sweep(self, now: datetime) -> None:
        """Forget chats with nothing in their window, so the dict does not grow forever."""
        self._last_sweep = now
        for chat_id in [c for c, w in self._chats.items() if w.idle(now)]:
            del self._chats[chat_id]
        for chat_id in [c for c, t in self._paused_until.items() if t <= now]:
            del self._paused_until[chat_id]
