"""10,000 daily check-in prompts through the sandbox, with Telegram's rate limits on.

    .venv/bin/python bench/checkin_prompts.py [--elders 10000] [--late 20] [--database sqlite|postgresql]

Starts Linli with its embedded sandbox (real clock, no built-in ticker) in a fresh data
folder, writes `--elders` active elders (each a distinct user who started the bot) whose
check-in time is the current minute in the community's time zone, so every prompt falls due
at once; and `--late` other elders whose check-in was about an hour ago, already prompted
and reminded, unanswered, each with one accepted family contact: their family alert (+60
min) falls due about a minute into the prompt fan-out. Elders, users and contacts are
inserted in bulk (the enrolment path is not what is measured).

Then it runs the ticker's care job itself, like the real ticker: every 30 s of real time,
`prompt_due` then `escalate_due` (a round still running when the next is due is skipped,
as APScheduler's max_instances=1 does), waking the outbox after each; and waits until the
outbox is idle.

It prints: how long `prompt_due` took to create the check-ins (and whether it overran the
30 s tick), the prompt send rate (first to last successful sendMessage to the elders)
against the 30 messages/s cap, lost and duplicated prompts (each elder exactly one), the
429s, and for the family alerts the delay from their due time and from when they were
queued to when the sandbox received them (goal: within 60 s, while the prompts are still
going out). It exits non-zero when a prompt is lost or duplicated, or an alert is late.
PostgreSQL (`--database postgresql`) uses LINLI_TEST_DATABASE_URL and a fresh database
made for the run and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import PG_URL_ENV, Sandbox, fresh_postgres  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bot.demo import demo_world  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.models import (  # noqa: E402
    CareContact,
    CheckIn,
    CheckInStep,
    Community,
    Elder,
    ElderStatus,
    OutboxMessage,
    User,
)
from storage.types import utcnow  # noqa: E402

CAP = 30.0  # Telegram: about 30 messages a second in all
GOAL = 0.90
ALERT_GOAL = 60.0  # seconds
TICK = 30.0
FIRST_ELDER = 700_000_000
FIRST_LATE = 710_000_000
FIRST_FAMILY = 720_000_000


@dataclass
class Result:
    elders: int
    late: int
    prompt_due: list[tuple[float, int]] = field(default_factory=list)  # (seconds, created)
    escalate_due: list[tuple[float, int]] = field(default_factory=list)
    ticks_skipped: int = 0
    prompts_ok: int = 0
    prompt_calls: int = 0
    prompt_seconds: float = 0.0
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    too_many: int = 0
    alert_from_due: list[float] = field(default_factory=list)
    alert_from_queued: list[float] = field(default_factory=list)
    alerts_missing: int = 0
    alerts_before_last_prompt: int = 0
    family_due_into_run: float = 0.0
    outbox: dict[str, int] = field(default_factory=dict)
    dispatcher: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return (self.prompts_ok - 1) / self.prompt_seconds if self.prompt_seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not self.duplicated
            and not self.alerts_missing
            and all(d <= ALERT_GOAL for d in self.alert_from_due)
        )


def world_with_users(ids: list[int]) -> dict[str, Any]:
    """The demo world plus people who started the bot (so it may write to them)."""
    world = demo_world()
    for uid in ids:
        world["users"].append(
            {"id": uid, "first_name": f"Bench {uid}", "language_code": "zh-hans", "started": True}
        )
    return world


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def enrol(
    runtime: Runtime, elders: list[int], late: list[int], family: list[int]
) -> tuple[int, datetime, datetime]:
    """Bulk-insert the elders; (community id, the prompts' due time, the family step's due)."""
    assert runtime.db is not None
    now = utcnow()
    async with runtime.db.uow() as uow:
        community = await uow.session.scalar(select(Community).order_by(Community.id))
        assert community is not None
        zone = ZoneInfo(community.timezone)
        local_now = now.astimezone(zone)
        due_local = minute_floor(local_now)  # the prompts: due this minute
        # The late ones: checked in ~1 h ago; their +60 min family step is due 2 minutes
        # after the prompts' minute, i.e. one to two minutes into the fan-out.
        late_local = due_local + timedelta(minutes=2) - timedelta(minutes=60)
        if late_local.date() != due_local.date() or due_local.hour >= 23:
            raise SystemExit("run this benchmark between 01:00 and 23:00 community time")
        consent = now - timedelta(hours=3)  # after yesterday's check-in: no catch-up for it
        people = [*elders, *late, *family]
        for start in range(0, len(people), 2000):
            await uow.session.execute(
                insert(User),
                [
                    {
                        "id": uid,
                        "first_name": f"Bench {uid}",
                        "telegram_language": "zh-hans",
                        "language": "zh-CN",
                        "private_chat_open": True,
                        "created_at": consent,
                    }
                    for uid in people[start : start + 2000]
                ],
            )

        def elder_row(uid: int, at: datetime, n: int) -> dict[str, Any]:
            return {
                "community_id": community.id,
                "user_id": uid,
                "name": f"Elder {n}",
                "address": f"Building {n % 40 + 1}",
                "checkin_hour": at.hour,
                "checkin_minute": at.minute,
                "days": list(range(7)),
                "language": "zh-CN",
                "status": ElderStatus.ACTIVE,
                "consent_at": consent,
                "invited_by": uid,
                "created_at": consent,
                "updated_at": consent,
            }

        rows = [elder_row(uid, due_local, n) for n, uid in enumerate(elders)]
        for start in range(0, len(rows), 2000):
            await uow.session.execute(insert(Elder), rows[start : start + 2000])
        if late:
            await uow.session.execute(
                insert(Elder), [elder_row(uid, late_local, n) for n, uid in enumerate(late)]
            )
        await uow.session.flush()
        late_ids = dict(
            (
                await uow.session.execute(
                    select(Elder.user_id, Elder.id).where(Elder.user_id.in_(late))
                )
            ).all()
        )
        late_due = late_local.astimezone(UTC)
        day = late_local.date().isoformat()
        for uid, fam in zip(late, family, strict=True):
            elder_id = late_ids[uid]
            uow.session.add(
                CareContact(elder_id=elder_id, user_id=fam, kind="family", accepted_at=consent)
            )
            checkin = CheckIn(
                elder_id=elder_id, day=day, due_at=late_due, status="pending", created_at=late_due
            )
            uow.session.add(checkin)
            await uow.session.flush()
            uow.session.add(CheckInStep(checkin_id=checkin.id, step="prompt", at=late_due))
            uow.session.add(
                CheckInStep(
                    checkin_id=checkin.id, step="remind", at=late_due + timedelta(minutes=30)
                )
            )
        await uow.commit()
        count = await uow.session.scalar(
            select(func.count()).select_from(Elder).where(Elder.status == ElderStatus.ACTIVE)
        )
    assert count == len(elders) + len(late), count
    return community.id, due_local.astimezone(UTC), late_due + timedelta(minutes=60)


async def outbox_counts(runtime: Runtime) -> dict[str, int]:
    assert runtime.db is not None
    async with runtime.db.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.idempotency_key.startswith("care:"))
            .group_by(OutboxMessage.status)
        )
        return {str(status.value): n for status, n in rows.all()}


async def one_run(elders_n: int, late_n: int, database_url: str | None) -> Result:
    data_dir = Path(tempfile.mkdtemp(prefix="linli-checkins-"))
    elders = [FIRST_ELDER + n for n in range(elders_n)]
    late = [FIRST_LATE + n for n in range(late_n)]
    family = [FIRST_FAMILY + n for n in range(late_n)]
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
    runtime = Runtime(
        settings, world=world_with_users([*elders, *late, *family]), tick_seconds=None
    )
    result = Result(elders_n, late_n)
    await runtime.start()
    sandbox = Sandbox(runtime.sandbox.base_url)
    stop = asyncio.Event()
    try:
        _, prompts_due, family_due = await enrol(runtime, elders, late, family)
        await sandbox.request("POST", "config", json={"rate_limits": True})
        mark = await sandbox.last_seq()
        linli = runtime.application.bot_data["linli"]  # type: ignore[union-attr]
        care = linli.services.care
        assert runtime.outbox is not None
        outbox = runtime.outbox
        started = time.monotonic()
        started_at = utcnow()
        result.family_due_into_run = (family_due - started_at).total_seconds()
        print(
            f"  {elders_n} prompts due {prompts_due:%H:%M:%S} UTC; the {late_n} family alerts "
            f"fall due {result.family_due_into_run:.0f} s into the run",
            flush=True,
        )

        running: asyncio.Task[None] | None = None

        async def care_job() -> None:
            t = time.monotonic()
            created = await care.prompt_due(utcnow())
            result.prompt_due.append((time.monotonic() - t, created))
            outbox.wake()
            t = time.monotonic()
            steps = await care.escalate_due(utcnow())
            result.escalate_due.append((time.monotonic() - t, steps))
            outbox.wake()

        async def ticker() -> None:
            nonlocal running
            while not stop.is_set():
                if running is not None and not running.done():
                    result.ticks_skipped += 1  # max_instances=1: this tick is skipped
                else:
                    running = asyncio.create_task(care_job())
                try:
                    await asyncio.wait_for(stop.wait(), TICK)
                except TimeoutError:
                    pass
            if running is not None:
                await running

        # The sandbox keeps only its last 5,000 calls: collect them as they come.
        collected: list[dict[str, Any]] = []
        seen = mark

        async def collect() -> None:
            nonlocal seen
            body = await sandbox.request("GET", "calls", params={"after": str(seen)})
            fresh = sorted(body["calls"], key=lambda c: c["seq"])
            if fresh and fresh[0]["seq"] != seen + 1:
                raise RuntimeError(f"sandbox call log overflowed after seq {seen}")
            collected.extend(fresh)
            if fresh:
                seen = fresh[-1]["seq"]

        async def collector() -> None:
            while not stop.is_set():
                await collect()
                try:
                    await asyncio.wait_for(stop.wait(), 2.0)
                except TimeoutError:
                    pass

        ticking = asyncio.create_task(ticker())
        collecting = asyncio.create_task(collector())
        # Wait until the family alerts were queued and every care row has left the queue.
        limit = 120 + elders_n / 20
        while True:
            await asyncio.sleep(1.0)
            counts = await outbox_counts(runtime)
            busy = counts.get("pending", 0) + counts.get("sending", 0)
            done = len(result.escalate_due) and any(n for _, n in result.escalate_due)
            if done and not busy and sum(counts.values()) >= elders_n + late_n:
                break
            if time.monotonic() - started > limit:
                print(f"  timed out after {limit:.0f} s with {counts}", file=sys.stderr)
                break
        result.wall = time.monotonic() - started
        stop.set()
        await ticking
        await collecting
        await collect()
        result.outbox = await outbox_counts(runtime)
        result.dispatcher = dict(outbox.stats)

        calls = [c for c in collected if c["method"].lower() == "sendmessage"]
        wanted = set(elders)
        prompt_calls = [c for c in calls if int(c["params"].get("chat_id", 0)) in wanted]
        good = [c for c in prompt_calls if c["outcome"] == "ok"]
        per_elder = Counter(int(c["params"]["chat_id"]) for c in good)
        result.prompt_calls = len(prompt_calls)
        result.prompts_ok = len(good)
        result.too_many = sum(1 for c in calls if c["status"] == 429)
        result.lost = [e for e in elders if per_elder[e] == 0]
        result.duplicated = [e for e, n in per_elder.items() if n > 1]
        last_prompt = max((c["time"] for c in good), default=0.0)
        if good:
            result.prompt_seconds = last_prompt - min(c["time"] for c in prompt_calls)

        assert runtime.db is not None
        async with runtime.db.uow() as uow:
            queued = {
                int(chat): created
                for chat, created in (
                    await uow.session.execute(
                        select(OutboxMessage.chat_telegram_id, OutboxMessage.created_at).where(
                            OutboxMessage.idempotency_key.like("care:alert:%:step-family:%")
                        )
                    )
                ).all()
            }
        received = {}
        for c in calls:
            chat = int(c["params"].get("chat_id", 0))
            if chat in family and c["outcome"] == "ok" and chat not in received:
                received[chat] = c["time"]
        for fam in family:
            if fam not in received:
                result.alerts_missing += 1
                continue
            got = received[fam]
            result.alert_from_due.append(got - family_due.timestamp())
            if fam in queued:
                stamp = queued[fam]
                stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
                result.alert_from_queued.append(got - stamp.timestamp())
            if got < last_prompt:
                result.alerts_before_last_prompt += 1
    finally:
        stop.set()
        await sandbox.close()
        await runtime.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def report(r: Result, database: str) -> None:
    print()
    print(f"Daily check-in prompts through the sandbox, rate limits on ({database})")
    first = r.prompt_due[0] if r.prompt_due else (0.0, 0)
    overran = "overran the 30 s tick" if first[0] > TICK else "within one 30 s tick"
    print(
        f"  prompt_due: {first[1]} check-ins created in {first[0]:.2f} s "
        f"({first[1] / first[0] if first[0] else 0:.0f}/s; {overran}); "
        f"later rounds: {', '.join(f'{s:.2f} s/{n}' for s, n in r.prompt_due[1:]) or '-'}"
    )
    print(
        f"  escalate_due rounds: {', '.join(f'{s:.2f} s/{n} steps' for s, n in r.escalate_due)}; "
        f"ticks skipped (a round still running): {r.ticks_skipped}"
    )
    share = r.rate / CAP
    flag = "" if share >= GOAL else " (< 90 %)"
    print(
        f"  prompts: {r.prompts_ok} delivered of {r.elders} in {r.prompt_seconds:.1f} s = "
        f"{r.rate:.1f} msg/s, {share:.0%} of 30/s{flag}; lost {len(r.lost)}, duplicated "
        f"{len(r.duplicated)}; sendMessage calls {r.prompt_calls}; 429s {r.too_many}"
    )
    if r.alert_from_due:
        print(
            f"  family alerts: {len(r.alert_from_due)}/{r.late} delivered (missing "
            f"{r.alerts_missing}), due {r.family_due_into_run:.0f} s into the run; "
            f"due → received max {max(r.alert_from_due):.1f} s, median "
            f"{sorted(r.alert_from_due)[len(r.alert_from_due) // 2]:.1f} s; queued → received "
            f"max {max(r.alert_from_queued, default=0):.1f} s; "
            f"{r.alerts_before_last_prompt} arrived while prompts were still going out"
        )
    else:
        print(f"  family alerts: NONE delivered of {r.late}")
    d = r.dispatcher
    outbox = ", ".join(f"{k} {v}" for k, v in sorted(r.outbox.items()))
    print(
        f"  run {r.wall:.1f} s until the outbox was idle; care outbox rows: {outbox}; dispatcher "
        f"sent {d.get('sent')}, retried {d.get('retried')}, held by the local limiter "
        f"{d.get('rate_limited')} times"
    )
    if r.lost:
        print(f"  LOST: {r.lost[:10]}")
    if r.duplicated:
        print(f"  DUPLICATED: {r.duplicated[:10]}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=10_000)
    parser.add_argument("--late", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    url, drop = None, None
    if args.database == "postgresql":
        made = await fresh_postgres()
        if made is None:
            print(f"PostgreSQL skipped: set {PG_URL_ENV} (e.g. postgresql+asyncpg://...)")
            return 0
        url, drop = made
    try:
        result = await one_run(args.elders, args.late, url)
    finally:
        if drop is not None:
            await drop()
    report(result, args.database)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
