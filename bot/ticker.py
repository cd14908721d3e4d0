"""Periodic work: APScheduler wakes the code, the database says what is due.

Every job is `async def job(now) -> None` and must be idempotent: it reads what is due
from the database, does it once (outbox keys make messages unique), and records it. So a
tick that runs twice, late, or after a restart does no harm, and what fell due while the
bot was down is caught up at the first tick. Tests call `tick()` with a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock

log = logging.getLogger(__name__)

Job = Callable[[datetime], Awaitable[object]]
TICK_SECONDS = 30


class Ticker:
    """Runs every registered job on each tick."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._jobs: list[tuple[str, Job]] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._after_tick: list[Callable[[], None]] = []

    def add(self, name: str, job: Job) -> None:
        """Run `job(now)` on every tick."""
        self._jobs.append((name, job))

    def after_tick(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after each tick (e.g. wake the outbox)."""
        self._after_tick.append(callback)

    async def tick(self, now: datetime | None = None) -> None:
        """Run each job once; one failing job does not stop the others."""
        when = now or self.clock.now()
        for name, job in self._jobs:
            try:
                await job(when)
            except Exception:
                log.exception("periodic job %s failed; it runs again at the next tick", name)
        for callback in self._after_tick:
            callback()

    def start(self, seconds: float = TICK_SECONDS) -> None:
        """Tick now and then every `seconds` on the running event loop."""
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=seconds,
            next_run_time=self.clock.now(),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="linli-tick",
        )
        self._scheduler.start()

    def stop(self) -> None:
        """Stop waking (a tick in progress finishes on its own)."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
