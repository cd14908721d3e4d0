"""Resident memory and start-up time of `python -m bot run` with a big community.

    .venv/bin/python bench/memory_startup.py [--scales 1,2,4,8] [--pg postgresql+asyncpg://...]

At scale 1, prepared in the database before the start (bulk inserts through SQLAlchemy Core,
storage/models.py) on top of the demo community (bot.demo.seed_demo):

- 10,000 residents: users with building, unit, room and phone, a resident membership each,
  and a roster row in the demo's residents' group;
- 1,000 enrolled elders: active, each a user of their own with address and phone, one
  accepted family contact (a resident), and today's check-in already answered (so nothing
  falls due at start);

and 5,000 generated knowledge-base questions in a YAML file of a temporary folder
(LINLI_KNOWLEDGE_PATHS), on top of the default knowledge base. Scales 2, 4, 8 multiply all
three.

The bot runs as a process of its own against a sandbox in this process (bench/_load.py).
Printed per scale: the seconds from spawn to the ready line; VmRSS at ready; the seconds
from ready until the first question is answered (the FAQ matcher is built after the ready
line) and VmRSS then ("warm"); VmRSS after 5 s of 50 group messages a second (40 % answerable
questions) and the peak (VmHWM). Goal: under 200 MB resident.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import machine_line, write_knowledge  # noqa: E402
from _load import target  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bot.demo import RESIDENTS_GROUP  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    CareContact,
    Chat,
    ChatMember,
    CheckIn,
    CheckInStep,
    Community,
    Elder,
    ElderStatus,
    Membership,
    Role,
    User,
)
from storage.types import utcnow  # noqa: E402

RESIDENTS, QUESTIONS, ELDERS = 10_000, 5_000, 1_000
FIRST_RESIDENT = 600_000_000
FIRST_ELDER = 650_000_000
CHUNK = 2_000
GOAL_MIB = 200 * 1_000_000 / 2**20  # 200 MB


@dataclass
class Figures:
    scale: int
    prepare: float = 0.0
    ready: float = 0.0
    rss_ready: float = 0.0
    warm: float = 0.0
    rss_warm: float = 0.0
    rss_load: float = 0.0
    peak: float = 0.0
    handled: float = 0.0


async def chunked(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), rows[start : start + CHUNK])


async def populate(url: str, scale: int) -> None:
    """Residents, elders, contacts and today's check-ins, in bulk."""
    residents, elders = RESIDENTS * scale, ELDERS * scale
    db = Database(url)
    try:
        async with db.uow() as uow:
            s = uow.session
            community = await s.scalar(select(Community).order_by(Community.id))
            chat_id = await s.scalar(select(Chat.id).where(Chat.telegram_id == RESIDENTS_GROUP))
            assert community is not None and chat_id is not None
            now = utcnow()
            local = now.astimezone(ZoneInfo(community.timezone))
            due = local - timedelta(hours=1)
            resident_ids = [FIRST_RESIDENT + n for n in range(residents)]
            elder_ids = [FIRST_ELDER + n for n in range(elders)]

            def person(uid: int, n: int) -> dict[str, Any]:
                return {
                    "id": uid,
                    "first_name": f"住户{n}",
                    "last_name": "张",
                    "telegram_language": "zh-hans",
                    "language": "zh-CN",
                    "building": str(n % 40 + 1),
                    "unit": str(n % 4 + 1),
                    "room": f"{n % 30 + 1}0{n % 4 + 1}",
                    "phone": f"138{n:08d}",
                    "private_chat_open": True,
                    "created_at": now,
                }

            await chunked(s, User, [person(uid, n) for n, uid in enumerate(resident_ids)])
            await chunked(s, User, [person(uid, n) for n, uid in enumerate(elder_ids)])
            await chunked(
                s,
                Membership,
                [
                    {"community_id": community.id, "user_id": uid, "role": Role.RESIDENT}
                    for uid in resident_ids
                ],
            )
            await chunked(
                s, ChatMember, [{"chat_id": chat_id, "user_id": uid} for uid in resident_ids]
            )
            await chunked(
                s,
                Elder,
                [
                    {
                        "community_id": community.id,
                        "user_id": uid,
                        "name": f"老人{n}",
                        "address": f"{n % 40 + 1}号楼{n % 4 + 1}单元{n % 30 + 1}01",
                        "phone": f"139{n:08d}",
                        "checkin_hour": due.hour,
                        "checkin_minute": due.minute,
                        "language": "zh-CN",
                        "status": ElderStatus.ACTIVE,
                        "consent_at": now - timedelta(days=7),
                        "invited_by": resident_ids[n % residents],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, uid in enumerate(elder_ids)
                ],
            )
            await s.flush()
            ids = dict((await s.execute(select(Elder.user_id, Elder.id))).all())
            due_at = due.astimezone(now.tzinfo)
            await chunked(
                s,
                CareContact,
                [
                    {
                        "elder_id": ids[uid],
                        "user_id": resident_ids[n % residents],
                        "kind": "family",
                        "accepted_at": now,
                    }
                    for n, uid in enumerate(elder_ids)
                ],
            )
            day = due.date().isoformat()
            await chunked(
                s,
                CheckIn,
                [
                    {
                        "elder_id": ids[uid],
                        "day": day,
                        "due_at": due_at,
                        "status": "ok",
                        "answered_at": due_at + timedelta(minutes=5),
                        "answer": "button",
                    }
                    for uid in elder_ids
                ],
            )
            await s.flush()
            checkins = (await s.scalars(select(CheckIn.id))).all()
            await chunked(
                s,
                CheckInStep,
                [{"checkin_id": c, "step": "prompt", "at": due_at} for c in checkins],
            )
            await uow.commit()
            users = await s.scalar(select(func.count()).select_from(User))
            assert users is not None and users >= residents + elders, users
    finally:
        await db.dispose()


async def one_scale(scale: int, folder: Path, pg: str | None) -> Figures:
    out = Figures(scale)
    kb = write_knowledge(folder / "kb", QUESTIONS * scale)
    prepared = 0.0

    async def prepare(url: str) -> None:
        nonlocal prepared
        began = time.perf_counter()
        await populate(url, scale)
        prepared = time.perf_counter() - began

    async with target("linli", folder / "run", pg, kb, prepare=prepare, warm=False) as t:
        out.prepare = prepared
        out.ready = t.bot.ready_seconds
        out.rss_ready, _ = t.bot.memory_mib()
        began = time.perf_counter()
        answered = await t.drain(600)
        if answered is None:
            raise RuntimeError("the first question was not answered in 600 s")
        out.warm = answered - began
        out.rss_warm, _ = t.bot.memory_mib()
        load = await t.load(50, 5)
        out.handled = load.rate
        out.rss_load, out.peak = t.bot.memory_mib()
    return out


def report(rows: list[Figures], database: str) -> None:
    print()
    print(f"Memory and start-up with a big community ({database}); MiB = 2^20 bytes")
    head = (
        f"{'scale':>5} {'residents':>9} {'KB questions':>12} {'elders':>6} {'prepare s':>9} "
        f"{'to ready s':>10} {'RSS ready':>9} {'warm s':>7} {'RSS warm':>8} "
        f"{'RSS load':>8} {'peak':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = "" if r.peak < GOAL_MIB else "  over 200 MB"
        print(
            f"{r.scale:>4}× {RESIDENTS * r.scale:>9} {QUESTIONS * r.scale:>12} "
            f"{ELDERS * r.scale:>6} {r.prepare:>9.1f} {r.ready:>10.2f} {r.rss_ready:>9.1f} "
            f"{r.warm:>7.2f} {r.rss_warm:>8.1f} {r.rss_load:>8.1f} {r.peak:>7.1f}{flag}"
        )
    print(f"goal: under 200 MB ({GOAL_MIB:.1f} MiB) resident")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,2,4,8")
    parser.add_argument("--pg", help="a PostgreSQL URL; a fresh database beside it is used")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(machine_line())
    rows = []
    for scale in [int(x) for x in args.scales.split(",") if x]:
        with tempfile.TemporaryDirectory(prefix="linli-memory-") as tmp:
            rows.append(await one_scale(scale, Path(tmp), args.pg))
        r = rows[-1]
        print(
            f"  {scale}×: ready {r.ready:.2f} s, RSS {r.rss_ready:.1f} → warm {r.rss_warm:.1f} → "
            f"after load {r.rss_load:.1f} MiB (peak {r.peak:.1f})",
            flush=True,
        )
    report(rows, "PostgreSQL" if args.pg else "SQLite")
    print(machine_line().replace("at start", "at the end"))
    return 0 if all(r.peak < GOAL_MIB for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
