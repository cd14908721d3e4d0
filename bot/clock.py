"""Time as the code sees it: the real clock in production, a fake one in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, aware, in UTC."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to (tests, benchmarks)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

    def now(self) -> datetime:
        """The fake current time."""
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward, e.g. advance(minutes=31); returns the new time."""
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to a moment (aware)."""
        if when.tzinfo is None:
            raise ValueError("naive datetime given to the fake clock")
        self._now = when.astimezone(UTC)
