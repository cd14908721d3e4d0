"""A broadcast wake-up: waiters sleep until something changes, then re-check their condition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class Signal:
    """Wakes every waiter on notify(); waiters loop until their own condition holds."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.closed = False

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        """Wake everyone for good (the server is stopping)."""
        self.closed = True
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Sleep until the next notify() or the timeout."""
        if self.closed or seconds <= 0:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)

    async def wait_for(self, condition: Callable[[], bool], seconds: float) -> bool:
        """Wait until condition() is true or the timeout passes; returns the last check."""
        deadline = time.monotonic() + seconds
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return condition()
            await self.wait(left)
        return True
