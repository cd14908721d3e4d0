"""One notice to many groups through the sandbox, with Telegram's rate limits on.

    .venv/bin/python bench/notice_fanout.py [--groups 500] [--database sqlite|postgresql]

Starts Linli with its embedded sandbox (real clock, no ticker) in a fresh data folder,
registers `--groups` residents' groups of the demo community (the demo's own residents'
group plus new supergroups the bot is a member of), turns the sandbox's flood limits on,
then confirms one notice and posts it (`post_due`). Two runs, each on a fresh database:

1. rate limits on, no faults;
2. rate limits on, and 10 % of the groups (random, fixed seed) answer their first
   sendMessage with 429 (retry_after 1 s).

For each run it prints the time from the fan-out's first send to its last successful send,
the rate achieved against Telegram's 30 messages/s cap, lost groups (no successful send)
and duplicated groups (more than one), the 429s seen and the outbox rows by status. It
exits non-zero when anything is lost or duplicated. PostgreSQL (`--database postgresql`)
uses LINLI_TEST_DATABASE_URL and a fresh database made for the run and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import PG_URL_ENV, Sandbox, fresh_postgres  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.demo import RESIDENTS_GROUP, demo_world  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.services.notices import POST_KEY, NoticeDraft  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.models import Chat, ChatKind, Community, OutboxMessage  # noqa: E402
from storage.types import utcnow  # noqa: E402

CAP = 30.0  # Telegram: about 30 messages a second in all
GOAL = 0.90
STAFF = 2001
FIRST_GROUP = -1009100000000


@dataclass
class Result:
    """What one run measured."""

    name: str
    groups: int
    seconds: float = 0.0
    delivered: int = 0
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    too_many: int = 0  # 429 answers to the fan-out's sends
    injected: int = 0
    sends: int = 0  # sendMessage calls of the fan-out, whatever their outcome
    outbox: dict[str, int] = field(default_factory=dict)
    dispatcher: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0  # post_due until the outbox is idle
    posting: float = 0.0  # post_due itself: the posts and their outbox rows written

    @property
    def rate(self) -> float:
        """Messages per second between the first send and the last successful one."""
        return (self.delivered - 1) / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated


def world_with_groups(extra: list[int]) -> dict[str, Any]:
    """The demo world plus supergroups with the bot (and the demo director) in them."""
    world = demo_world()
    for n, chat_id in enumerate(extra, start=1):
        world["chats"].append(
            {
                "id": chat_id,
                "type": "supergroup",
                "title": f"Bench building {n}",
                "members": [STAFF],
                "bot_member": True,
            }
        )
    return world


async def register(runtime: Runtime, extra: list[int]) -> int:
    """Make the new groups residents' groups of the demo community; its id."""
    assert runtime.db is not None
    async with runtime.db.uow() as uow:
        community_id = await uow.session.scalar(select(Community.id).order_by(Community.id))
        assert community_id is not None
        for n, chat_id in enumerate(extra, start=1):
            uow.session.add(
                Chat(
                    telegram_id=chat_id,
                    type="supergroup",
                    title=f"Bench building {n}",
                    kind=ChatKind.RESIDENTS,
                    community_id=community_id,
                    active=True,
                )
            )
        await uow.commit()
        count = await uow.session.scalar(
            select(func.count()).where(
                Chat.community_id == community_id,
                Chat.kind == ChatKind.RESIDENTS,
                Chat.active.is_(True),
            )
        )
    assert count == len(extra) + 1, f"{count} residents' groups registered"
    return community_id


async def outbox_of_notice(runtime: Runtime) -> dict[str, int]:
    assert runtime.db is not None
    async with runtime.db.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.idempotency_key.startswith(POST_KEY))
            .group_by(OutboxMessage.status)
        )
        return {str(status.value): n for status, n in rows.all()}


async def wait_idle(runtime: Runtime, expected: int, limit: float) -> dict[str, int]:
    """Poll until every post row has left pending and sending; the counts by status."""
    deadline = time.monotonic() + limit
    while True:
        counts = await outbox_of_notice(runtime)
        busy = counts.get("pending", 0) + counts.get("sending", 0)
        if sum(counts.values()) >= expected and not busy:
            return counts
        if time.monotonic() > deadline:
            print(f"  timed out after {limit:.0f} s with {counts}", file=sys.stderr)
            return counts
        await asyncio.sleep(0.2)


async def one_run(
    name: str, groups: int, database_url: str | None, fault_share: float, seed: int
) -> Result:
    data_dir = Path(tempfile.mkdtemp(prefix="linli-fanout-"))
    extra = [FIRST_GROUP - n for n in range(groups - 1)]
    targets = [RESIDENTS_GROUP, *extra]
    values: dict[str, Any] = {
        "LINLI_DATA_DIR": data_dir / "data",
        "LINLI_SANDBOX_PORT": 0,
        "LINLI_WEB_PORT": 0,
        "LINLI_LOG_LEVEL": "ERROR",
        "LINLI_QUIET_HOURS": "off",
    }
    if database_url:
        values["LINLI_DATABASE_URL"] = database_url
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]
    runtime = Runtime(settings, world=world_with_groups(extra), tick_seconds=None)
    result = Result(name, groups)
    await runtime.start()
    sandbox = Sandbox(runtime.sandbox.base_url)
    try:
        community_id = await register(runtime, extra)
        await sandbox.request("POST", "config", json={"rate_limits": True})
        faulty = sorted(random.Random(seed).sample(targets, round(groups * fault_share)))
        for chat_id in faulty:
            await sandbox.request(
                "POST",
                "faults",
                json={
                    "method": "sendMessage",
                    "chat_id": chat_id,
                    "error": 429,
                    "retry_after": 1,
                    "times": 1,
                },
            )
        result.injected = len(faulty)
        mark = await sandbox.last_seq()

        linli = runtime.application.bot_data["linli"]  # type: ignore[union-attr]
        notices = linli.services.notices
        text = "Water will be off on Thursday 09:00-12:00 for pipe repairs. 周四停水。"
        notice = await notices.draft(community_id, STAFF, NoticeDraft(text=text))
        outcome, _ = await notices.confirm(notice.id, STAFF)
        assert outcome.name == "OK", outcome
        started = time.monotonic()
        posted = await notices.post_due(utcnow())
        result.posting = time.monotonic() - started
        assert posted == 1, f"post_due handled {posted}"
        assert runtime.outbox is not None
        runtime.outbox.wake()
        result.outbox = await wait_idle(runtime, groups, limit=60 + groups / 5)
        result.wall = time.monotonic() - started
        result.dispatcher = dict(runtime.outbox.stats)

        wanted = set(targets)
        calls = [
            c
            for c in await sandbox.calls("sendMessage", mark)
            if int(c["params"].get("chat_id", 0)) in wanted
        ]
        good = [c for c in calls if c["outcome"] == "ok"]
        per_chat = Counter(int(c["params"]["chat_id"]) for c in good)
        result.sends = len(calls)
        result.delivered = len(good)
        result.too_many = sum(1 for c in calls if c["status"] == 429)
        result.lost = [c for c in targets if per_chat[c] == 0]
        result.duplicated = [c for c, n in per_chat.items() if n > 1]
        if good:
            result.seconds = max(c["time"] for c in good) - min(c["time"] for c in calls)
    finally:
        await sandbox.close()
        await runtime.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def report(results: list[Result], database: str) -> None:
    print()
    print(f"Notice fan-out through the sandbox, rate limits on ({database})")
    head = (
        f"{'run':<28} {'groups':>6} {'sent ok':>7} {'seconds':>8} {'msg/s':>6} {'of 30/s':>8} "
        f"{'lost':>4} {'dup':>4} {'429s':>5} {'calls':>5}  outbox"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        share = r.rate / CAP
        flag = "" if share >= GOAL else " (< 90 %)"
        outbox = ", ".join(f"{k} {v}" for k, v in sorted(r.outbox.items()))
        print(
            f"{r.name:<28} {r.groups:>6} {r.delivered:>7} {r.seconds:>8.2f} {r.rate:>6.1f} "
            f"{share:>7.0%}{flag} {len(r.lost):>4} {len(r.duplicated):>4} {r.too_many:>5} "
            f"{r.sends:>5}  {outbox}"
        )
    for r in results:
        d = r.dispatcher
        print(
            f"  {r.name}: post_due {r.posting:.2f} s, → outbox idle {r.wall:.2f} s; dispatcher sent {d.get('sent')}, "
            f"retried {d.get('retried')}, held by the local limiter {d.get('rate_limited')} times; "
            f"injected 429s {r.injected}"
        )
        if r.lost:
            print(f"  LOST in {len(r.lost)} groups: {r.lost[:10]}")
        if r.duplicated:
            print(f"  DUPLICATED in {len(r.duplicated)} groups: {r.duplicated[:10]}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    results: list[Result] = []
    for name, share in (("limits on", 0.0), ("limits on, 10% answer 429", 0.10)):
        url, drop = None, None
        if args.database == "postgresql":
            made = await fresh_postgres()
            if made is None:
                print(f"PostgreSQL skipped: set {PG_URL_ENV} (e.g. postgresql+asyncpg://...)")
                return 0
            url, drop = made
        try:
            results.append(await one_run(name, args.groups, url, share, args.seed))
        finally:
            if drop is not None:
                await drop()
    report(results, args.database)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
