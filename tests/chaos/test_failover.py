"""Failover (issue 11): two real `linli run` processes on one PostgreSQL database.

The first becomes active; the second waits as a standby. The active one is killed (SIGKILL)
in the middle of a notice fan-out to many groups while elders' check-in ladders fall due; the
standby must take over within 15 seconds and carry on from the database. A new standby is then
started and the active one killed again, in the middle of the ladders. Afterwards every notice
was posted once per group, every ladder step taken once and every alert delivered, and nothing
was sent twice except sends whose outcome could not be known (counted).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chaos.crash_harness import BotProcess, Crashes, crashes
from tests.chaos.test_crashes import (
    Ladders,
    arrange_fanout,
    arrange_ladders,
    check_fanout,
    fanout_world,
    ladder_chats,
    ladder_world,
    posted,
    report,
    until,
)
from tests.conftest import PG_URL_ENV
from tests.proof import record

GROUPS = 250  # 502 posts: at Telegram's 30 a second, long enough to kill in the middle
TAKEOVER_LIMIT = 15.0  # seconds, the promise


def world() -> dict:  # type: ignore[type-arg]
    """The fan-out's groups and the ladders' people in one sandbox."""
    combined = fanout_world(GROUPS)
    combined["users"] += [u for u in ladder_world()["users"] if u not in combined["users"]]
    return combined


async def standby(run: Crashes, name: str) -> tuple[BotProcess, asyncio.Task[float]]:
    """Start another process; it waits as a standby (no "ready" line until it takes over)."""
    process = BotProcess(run.env, run.tmp_path, run.tmp_path / f"{name}.log")
    ready = asyncio.create_task(process.start(patience=300))  # ready only once it takes over
    deadline = time.monotonic() + 30
    while "standby" not in (
        process.log.read_text(errors="replace") if process.log.exists() else ""
    ):
        assert not ready.done(), f"{name} became ready while another was active:\n{process.tail()}"
        assert time.monotonic() < deadline, f"{name} never waited as a standby:\n{process.tail()}"
        await asyncio.sleep(0.1)
    return process, ready


async def take_over(run: Crashes, ready: asyncio.Task[float], process: BotProcess) -> float:
    """Kill the active process; the seconds until the standby is ready in its place."""
    assert run.bot is not None
    killed = time.monotonic()
    await run.kill()
    await asyncio.wait_for(asyncio.shield(ready), TAKEOVER_LIMIT + 30)
    seconds = time.monotonic() - killed
    run.bot = process
    run.up.set()
    return seconds


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason=f"needs PostgreSQL ({PG_URL_ENV})")
async def test_a_standby_takes_over_a_fanout_and_the_ladders_when_the_active_one_dies(
    tmp_path: Path,
) -> None:
    async with crashes(tmp_path, "postgresql", world()) as run:
        notices, groups = await arrange_fanout(run, GROUPS)
        ladders = await arrange_ladders(run, spread=10.0)  # steps fall due over 40 s
        chats = ladder_chats()
        sent_posts = 0

        def progress(event: dict) -> bool:  # type: ignore[type-arg]
            nonlocal sent_posts
            if event["type"] == "new" and event["chat_id"] < -1002000000000 + 1:
                sent_posts += 1
            return event["type"] == "new" and event["chat_id"] in chats

        run.progress = progress
        spare: list[BotProcess] = []
        try:
            await _failovers(run, notices, groups, ladders, spare, lambda: sent_posts)
        finally:
            for process in spare:  # a standby that never took over must not outlive the test
                if process.kill_now():
                    await process.wait()


async def _failovers(
    run: Crashes,
    notices: list[int],
    groups: int,
    ladders: Ladders,
    spare: list[BotProcess],
    sent_posts: Callable[[], int],
) -> None:
    """Two takeovers: in the middle of the fan-out, then in the middle of the ladders."""
    await run.life()  # the first process: active
    second, second_ready = await standby(run, "second")
    spare.append(second)
    # (1) In the middle of the fan-out: some groups have the notice, most not yet.
    await until(lambda: _at_least(sent_posts, 20), 60, "the fan-out starting", run)
    assert sent_posts() < len(notices) * groups
    first_takeover = await take_over(run, second_ready, second)
    # (2) In the middle of the ladders: a new standby, and the active one killed again.
    third, third_ready = await standby(run, "third")
    spare.append(third)
    taken = len(sum((await ladders.steps_taken()).values(), []))
    await until(
        lambda: _more_steps(ladders, taken), 60, "a ladder step after the first takeover", run
    )
    assert not await ladders.complete()
    second_takeover = await take_over(run, third_ready, third)

    await until(lambda: posted(run, notices, groups), 120, "the whole fan-out", run)
    await until(ladders.complete, 120, "every ladder step", run)
    await run.stop()
    report(
        "failover",
        f"takeovers after {first_takeover:.1f} s and {second_takeover:.1f} s",
    )
    assert first_takeover < TAKEOVER_LIMIT and second_takeover < TAKEOVER_LIMIT
    await check_fanout(run, notices, groups, "failover fan-out")
    await ladders.check("failover ladders")
    record("failovers (active killed, standby took over)", 2)
    record("kills", run.kills)


async def _at_least(count: Callable[[], int], n: int) -> bool:
    return count() >= n


async def _more_steps(ladders: Ladders, before: int) -> bool:
    taken = await ladders.steps_taken()
    return len(sum(taken.values(), [])) > before
