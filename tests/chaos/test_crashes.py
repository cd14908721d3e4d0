"""Crashes (issue 10): the bot process is SIGKILLed at random moments and started again.

Three scenarios, each against a sandbox that lives in the test process (so it survives the
kills and keeps the record of what was delivered) and the bot as `python -m bot run`:

- a notice fan-out to many groups, killed again and again while it is being sent;
- residents in the middle of the repair dialog, killed while they answer;
- elders' check-in ladders falling due, killed while the steps are taken and their alerts sent.

Afterwards: every outbox message was delivered exactly once, except those whose outcome could
not be known (the kill came after the request was claimed and before its outcome was written:
the outbox marks them unknown at the next start and sends them again only if urgent, as alerts
about elders are) — those are counted and reported, and duplicates must not exceed them;
nothing is stuck in `sending`; every notice was posted once per group; every ladder step was
taken once and every alert arrived; every dialog was resumed and gave exactly the ticket its
resident asked for. docs/reliability.md ("Crashes") has the numbers of a run.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from bot.demo import COMMUNITY, STAFF_GROUP, demo_world
from bot.outbox import AGAIN
from bot.services import Services
from bot.services.notices import NoticeDraft
from storage.models import (
    CareAlert,
    Chat,
    ChatKind,
    CheckIn,
    CheckInStep,
    Community,
    Elder,
    Notice,
    NoticeOccurrence,
    NoticePost,
    OutboxMessage,
    OutboxStatus,
)
from storage.types import utcnow
from tests.chaos.crash_harness import Crashes, backends, crashes, tally
from tests.proof import record

SEED = 20261129
FANOUT_GROUPS = 150
FANOUT_KILLS = 7


def report(name: str, line: str) -> None:
    """What a scenario measured, shown with -s and in the failure output."""
    print(f"\n[crashes] {name}: {line}")


async def community_id(run: Crashes) -> int:
    async with run.db.uow() as uow:
        return int(
            await uow.session.scalar(
                select(Community.id).where(Community.code == COMMUNITY["code"])
            )
        )


async def outbox_settled(run: Crashes) -> bool:
    """Nothing left to send: no outbox row pending or in sending."""
    rows = await run.outbox()
    return bool(rows) and not [
        r for r in rows if r.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
    ]


async def until(condition: Any, seconds: float, what: str, run: Crashes) -> None:
    """Poll `condition()` until it holds."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert run.bot is not None
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {seconds} s:\n{run.bot.tail()}")
        await asyncio.sleep(0.2)


async def final_run(run: Crashes, done: Any, what: str) -> None:
    """A last start that runs to completion, then a clean stop."""
    await run.life()
    await until(done, 90, what, run)
    await run.stop()


# --- (a) a notice fan-out --------------------------------------------------------------------


def fanout_world(groups: int) -> dict[str, Any]:
    world = demo_world()
    for i in range(groups):
        world["chats"].append(
            {
                "id": -1002000000000 - i,
                "type": "supergroup",
                "title": f"阳光花园 {i + 1}号楼",
                "members": [1001],
                "bot_member": True,
            }
        )
    return world


async def arrange_fanout(run: Crashes, groups: int = FANOUT_GROUPS) -> tuple[list[int], int]:
    """The groups registered as residents' groups, and two notices due already (they fell due
    while the bot was down); the notices' ids and the number of groups they go to."""
    cid = await community_id(run)
    async with run.db.uow() as uow:
        for i in range(groups):
            chat = await uow.chats.upsert(-1002000000000 - i, "supergroup", f"{i + 1}号楼")
            chat.community_id, chat.kind = cid, ChatKind.RESIDENTS
        await uow.commit()
    services = Services.build(run.db, run.settings)
    due = utcnow() - timedelta(minutes=3)
    notices = []
    for n, text in enumerate(
        ("停水通知：3号楼明天9:00-12:00停水", "电梯年检，今天14:00-16:00停运")
    ):
        notice = await services.notices.draft(
            cid, 2001, NoticeDraft(text=f"{text} #{n}", first_at=due, urgent=n == 1)
        )
        await services.notices.confirm(notice.id, 2001)
        notices.append(notice.id)
    return notices, groups + 1  # and the demo residents' group


async def check_fanout(run: Crashes, notices: list[int], groups: int, name: str) -> None:
    """Every notice posted once to every group; every message sent once (unknowns aside)."""
    rows = await run.outbox()
    sent = tally(rows, await run.calls())
    report(name, f"{run.kills} kills {dict(run.moments)}; {sent.line()}")
    assert sent.stuck == 0 and sent.missing == 0, sent.problems
    assert sent.duplicates <= sent.unknown, sent.problems
    post_rows = [r for r in rows if r.idempotency_key.startswith("notice:post:")]
    assert len(post_rows) == len(notices) * groups
    async with run.db.uow() as uow:
        occurrences = (await uow.session.scalars(select(NoticeOccurrence))).all()
        posts = (await uow.session.scalars(select(NoticePost))).all()
        statuses = dict((await uow.session.execute(select(Notice.id, Notice.status))).all())
    assert sorted(o.notice_id for o in occurrences) == notices  # one occurrence each
    assert all(o.status == "posted" for o in occurrences)
    per_chat = Counter((p.occurrence_id, p.chat_id) for p in posts)
    assert len(per_chat) == len(notices) * groups and set(per_chat.values()) == {1}
    by_post = {f"notice:post:{p.id}": p for p in posts}
    for row in post_rows:  # each post says what became of its message
        assert by_post[row.idempotency_key].status == row.status.value, row.idempotency_key
    assert all(s.value == "done" for s in statuses.values())
    record("unknown outcomes", sent.unknown)


@pytest.mark.parametrize("backend", backends("postgresql"))
async def test_a_notice_fanout_survives_kills(tmp_path: Path, backend: str) -> None:
    rng = random.Random(SEED)
    async with crashes(tmp_path, backend, fanout_world(FANOUT_GROUPS)) as run:
        notices, groups = await arrange_fanout(run)

        async def busy() -> bool:
            return not await posted(run, notices, groups)

        run.progress = lambda event: event["type"] == "new" and event["chat_id"] < 0
        await run.crash_loop(rng, FANOUT_KILLS, busy, burst=80)
        await final_run(run, lambda: posted(run, notices, groups), "the fan-out")
        await check_fanout(run, notices, groups, f"fan-out [{backend}]")
        record("kills", run.kills)


async def posted(run: Crashes, notices: list[int], groups: int) -> bool:
    """Both notices posted to every group, every post's outcome recorded, nothing left to send."""
    async with run.db.uow() as uow:
        open_posts = await uow.session.scalar(
            select(func.count()).select_from(NoticePost).where(NoticePost.status == "queued")
        )
        posts = await uow.session.scalar(select(func.count()).select_from(NoticePost))
        chats = await uow.session.scalar(
            select(func.count()).select_from(Chat).where(Chat.kind == ChatKind.RESIDENTS)
        )
    assert chats == groups
    return posts == len(notices) * groups and open_posts == 0 and await outbox_settled(run)


# --- (c) check-in ladders --------------------------------------------------------------------

ELDERS = 16
LADDER = {"remind": 30, "family": 60, "volunteer": 120, "staff": 240}  # the default ladder
SPREAD = 5.0  # seconds between the moments steps fall due during the kills
LADDER_KILLS = 6


def elder_ids(i: int) -> tuple[int, int, int]:
    """The elder, their family contact and their volunteer."""
    return 5000 + i, 6000 + i, 6500 + i


def ladder_world() -> dict[str, Any]:
    world = demo_world()
    for i in range(ELDERS):
        for uid, name in zip(elder_ids(i), ("老人", "家属", "志愿者"), strict=True):
            world["users"].append(
                {"id": uid, "first_name": f"{name}{i}", "language_code": "zh-hans", "started": True}
            )
    return world


@dataclass
class Ladders:
    """Elders whose check-in ladder steps fall due one after another, and what must happen."""

    run: Crashes
    expected: dict[int, list[str]]  # elder id -> the steps that must be taken, once each
    last_due: datetime

    async def steps_taken(self) -> dict[int, list[str]]:
        async with self.run.db.uow() as uow:
            rows = (
                await uow.session.execute(
                    select(CheckIn.elder_id, CheckInStep.step).join(
                        CheckInStep, CheckInStep.checkin_id == CheckIn.id
                    )
                )
            ).all()
        taken: dict[int, list[str]] = {}
        for elder_id, step in rows:
            taken.setdefault(elder_id, []).append(step)
        return taken

    async def complete(self) -> bool:
        taken = await self.steps_taken()
        return (
            utcnow() > self.last_due
            and all(sorted(taken.get(e, [])) == sorted(s) for e, s in self.expected.items())
            and await outbox_settled(self.run)
        )

    async def check(self, name: str) -> None:
        """Each step once, none lost, none extra; every alert arrived; sends once (unknowns aside)."""
        run = self.run
        taken = await self.steps_taken()
        for elder_id, steps in self.expected.items():
            assert Counter(taken[elder_id]) == Counter(steps), (elder_id, taken[elder_id])
        rows = await run.outbox()
        keys = Counter(  # the alerts' keys, without the recipient and a second send's suffix
            r.idempotency_key.rsplit(":", 1)[0]
            for r in rows
            if not r.idempotency_key.endswith(AGAIN)
        )
        async with run.db.uow() as uow:
            alerts = (await uow.session.scalars(select(CareAlert))).all()
        assert len({a.checkin_id for a in alerts}) == len(alerts)  # one alert per check-in
        for alert in alerts:  # each alert step reached its people once
            elder_steps = self.expected[alert.elder_id]
            for step in ("family", "volunteer", "staff"):
                assert keys[f"care:alert:{alert.id}:step-{step}"] == (step in elder_steps), (
                    alert.id,
                    step,
                )
        sent = tally(rows, await run.calls(), prefix=("care:prompt:", "care:alert:"))
        report(name, f"{run.kills} kills {dict(run.moments)}; {sent.line()}")
        assert sent.stuck == 0 and sent.missing == 0, sent.problems
        assert sent.duplicates <= sent.unknown, sent.problems
        wanted = sum(len(s) for s in self.expected.values())  # the prompt and every step
        assert sent.messages == wanted
        # An alert whose send a kill left unknown went once more: none is lost.
        lost = [r for r in rows if r.status is OutboxStatus.UNKNOWN and r.priority >= 1]
        assert {f"{r.idempotency_key}{AGAIN}" for r in lost} <= {r.idempotency_key for r in rows}
        alerts_sent = tally(rows, await run.calls(), prefix="care:alert:")
        assert alerts_sent.lost == 0, "an alert never arrived"
        record("unknown outcomes", sent.unknown)


async def arrange_ladders(run: Crashes, spread: float = SPREAD) -> Ladders:
    """ELDERS elders, each with family and a volunteer; one check-in each whose ladder step
    falls due `spread` seconds after another's (the earlier steps are due already)."""
    from bot.i18n import Catalogs
    from bot.services.care import STEPS
    from handlers.care import Renderer

    cid = await community_id(run)
    services = Services.build(run.db, run.settings)
    services.care.renderer = Renderer(Catalogs())
    async with run.db.uow() as uow:
        for i in range(ELDERS):
            for uid in elder_ids(i):
                await uow.users.upsert(
                    uid,
                    first_name=f"u{uid}",
                    last_name=None,
                    username=None,
                    telegram_language="zh-hans",
                )
        await uow.commit()
    elders = []
    for i in range(ELDERS):
        elder_user, family, volunteer = elder_ids(i)
        elder, token = await services.care.invite_elder(
            cid,
            family,
            name=f"老人{i}",
            address=f"{i + 1}号楼101",
            phone="13900000000",
            as_family=True,
        )
        await services.care.accept(token, elder_user, "zh-CN")
        _, token = await services.care.invite_contact(elder.id, family, "volunteer")
        assert token is not None
        await services.care.accept(token, volunteer, "zh-CN")
        elders.append(await services.care.get(elder.id))
    start = last_due = utcnow()
    expected: dict[int, list[str]] = {}
    for i, elder in enumerate(elders):
        assert elder is not None
        step = STEPS[i % len(STEPS)]
        falls = start + timedelta(seconds=spread * (1 + i // len(STEPS)))
        last_due = max(last_due, falls)
        due = falls - timedelta(minutes=LADDER[step])
        expected[elder.id] = ["prompt", *STEPS[: STEPS.index(step) + 1]]
        assert await services.care._create_checkin(  # noqa: SLF001 - today's, at `due`
            elder, due.date(), due, due
        )
    async with run.db.uow() as uow:
        # No other day's check-in during the test: only the one made here.
        await uow.session.execute(update(Elder).values(days=[]))
        await uow.session.execute(  # the enrolment news are not what is tested here
            delete(OutboxMessage).where(~OutboxMessage.idempotency_key.startswith("care:prompt:"))
        )
        await uow.commit()
    return Ladders(run, expected, last_due)


def ladder_chats() -> set[int]:
    """The chats a ladder's messages go to: the elders', their contacts', the staff group."""
    return {uid for i in range(ELDERS) for uid in elder_ids(i)} | {STAFF_GROUP}


@pytest.mark.parametrize("backend", backends("postgresql"))
async def test_c_checkin_ladders_survive_kills(tmp_path: Path, backend: str) -> None:
    rng = random.Random(SEED + 2)
    async with crashes(tmp_path, backend, ladder_world()) as run:
        ladders = await arrange_ladders(run)
        chats = ladder_chats()
        run.progress = lambda event: event["type"] == "new" and event["chat_id"] in chats

        async def busy() -> bool:
            return not await ladders.complete()

        await run.crash_loop(rng, LADDER_KILLS, busy, burst=12, early=(0.5, 3.0))
        # The last steps fall due only now: the final start's first tick takes them.
        await asyncio.sleep(max(0.0, (ladders.last_due - utcnow()).total_seconds()) + 0.1)
        await final_run(run, ladders.complete, "every ladder step")
        await ladders.check(f"ladders [{backend}]")
        record("kills", run.kills)


# --- (b) residents in the middle of the repair dialog ----------------------------------------

RESIDENTS = (1001, 1002, 1003, 3001)
DIALOGS = 2  # repair requests each
DIALOG_KILLS = 6
PATIENCE = 1.5  # seconds a resident waits for an answer before writing again
STEP_NAMES = (
    "category", "where", "flat", "public_spot", "description", "photos", "urgency", "phone",
    "time", "confirm", "edit",
)  # fmt: skip
BOT = 7000000001
SUBMITTED = re.compile(r"BX-\d{4}-\d{4}.*(已提交|is submitted)")


class Resident:
    """A person who reports repairs in private, and carries on as people do when the bot
    falls silent: they answer again, and if that does not help, send /repair to get back in."""

    def __init__(self, run: Crashes, uid: int, index: int) -> None:
        from handlers.dialogs import _stable_hash

        self.run, self.uid, self.index = run, uid, index
        self.public = index == len(RESIDENTS) - 1  # reports a public spot: two text steps in a row
        self.codes = {str(_stable_hash(step) % 1000): step for step in STEP_NAMES}
        self.answered = 0  # the last question (message id) answered
        self.plans: list[dict[str, str]] = []
        self.resent = self.rejoined = self.started_over = 0
        self.done = False
        self.notes: list[str] = []
        self.seen_at = 0  # messages before this index belong to requests already submitted

    def plan(self, n: int) -> dict[str, str]:
        """What this resident reports the n-th time."""
        if self.public:
            return {
                "public_spot": f"{self.index + 1}号楼东侧路灯旁（第{'一二三'[n]}处）",
                "description": f"路灯不亮，住户{'甲乙丙丁'[self.index]}第{'一二三'[n]}次报修",
                "phone": f"1380000{self.uid}",
            }
        return {
            "flat": f"{self.index + 1}-{n + 1}-{301 + n}",
            "description": f"厨房水管漏水，住户{'甲乙丙丁'[self.index]}第{'一二三'[n]}次报修",
            "phone": f"1380000{self.uid}",
        }

    async def transcript(self) -> list[dict[str, Any]]:
        return await self.run.client.transcript(self.uid)

    def question(self, messages: list[dict[str, Any]]) -> tuple[dict[str, Any], str, int] | None:
        """The latest question of a dialog: the message, its step, the dialog id."""
        for message in reversed(messages):
            if message["from"]["id"] != BOT:
                continue
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    parts = (button.get("callback_data") or "").split(":")
                    if parts[0] == "dlg" and len(parts) == 4 and parts[2] in self.codes:
                        return message, self.codes[parts[2]], int(parts[1])
        return None

    async def run_all(self) -> None:
        for n in range(DIALOGS):
            plan = self.plan(n)
            self.plans.append(plan)
            await self.dialog(plan)
        self.done = True

    async def act(self, action: Any) -> None:
        await self.run.up.wait()
        await action()

    async def dialog(self, plan: dict[str, str]) -> None:
        client, me = self.run.client, self.uid
        await self.act(lambda: client.send(me, me, "/repair"))
        dialog_id: int | None = None
        passed_category = False
        while True:
            messages = await self.reply_or_silence()
            if any(SUBMITTED.search(m.get("text") or "") for m in messages[self.seen_at :]):
                self.seen_at = len(messages)
                return
            found = self.question(messages)
            if found is None or found[0]["message_id"] <= self.answered:
                await self.again(found)
                continue
            message, step, number = found
            if (dialog_id is not None and number != dialog_id) or (
                step == "category" and passed_category
            ):
                self.started_over += 1  # a new dialog: the one in progress was lost
                self.notes.append(await self.story())
            dialog_id = number
            passed_category = passed_category or step != "category"
            self.answered = message["message_id"]
            self.last = (message, step, plan)
            await self.answer(message, step, plan)

    async def answer(self, message: dict[str, Any], step: str, plan: dict[str, str]) -> None:
        client, me = self.run.client, self.uid
        values = {
            b["callback_data"].split(":")[3]: b["callback_data"]
            for row in message["reply_markup"]["inline_keyboard"]
            for b in row
            if (b.get("callback_data") or "").startswith("dlg:")
        }
        choice = {
            "category": "water_power",
            "where": "public" if self.public else "flat",
            "photos": "done",
            "urgency": "normal",
            "time": "asap",
            "confirm": "submit" if "submit" in values else "new",
        }.get(step)
        if choice is not None:
            assert choice in values, (step, values)
            await self.act(lambda: self.press(message["message_id"], values[choice]))
        else:
            assert step in plan, f"resident {me} was asked {step!r}"
            await self.act(lambda: client.send(me, me, plan[step]))

    async def story(self, last: int = 12) -> str:
        """The end of the chat, for a failure message."""
        lines = [f"resident {self.uid} (answered again {self.resent}×, /repair {self.rejoined}×):"]
        for m in (await self.transcript())[-last:]:
            who = "bot" if m["from"]["id"] == BOT else "me"
            keys = [
                b.get("callback_data")
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
            ]
            lines.append(f"  {m['message_id']} {who}: {(m.get('text') or '')[:70]!r} {keys}")
        return "\n".join(lines)

    async def press(self, message_id: int, data: str) -> None:
        """Press a button; one the bot took off the message meanwhile cannot be pressed."""
        me = self.uid
        status, body = await self.run.client.call(
            "POST",
            "/sandbox/api/press",
            json={"chat_id": me, "user_id": me, "message_id": message_id, "data": data},
        )
        assert status == 200 or "no button" in str(body), body

    async def reply_or_silence(self) -> list[dict[str, Any]]:
        """The chat once the bot has answered, or after PATIENCE seconds of its being up."""
        seen = len(await self.transcript())
        waited = 0.0
        while waited < PATIENCE:
            await asyncio.sleep(0.1)
            if self.run.up.is_set():
                waited += 0.1
            messages = await self.transcript()
            if len(messages) > seen and messages[-1]["from"]["id"] == BOT:
                await asyncio.sleep(0.2)  # a question may follow a remark
                return await self.transcript()
        return await self.transcript()

    async def again(self, found: Any) -> None:
        """No new question came: answer the last one again, then send /repair."""
        client, me = self.run.client, self.uid
        if getattr(self, "last", None) is not None and self.resent == self.rejoined:
            self.resent += 1
            message, step, plan = self.last
            await self.answer(message, step, plan)
        else:
            self.rejoined += 1
            self.resent = self.rejoined
            await self.act(lambda: client.send(me, me, "/repair"))


def asks(event: dict[str, Any], resident: Resident, step: str) -> bool:
    """Whether the event is the bot asking the resident the question of `step`."""
    if event["type"] != "new" or event["chat_id"] != resident.uid:
        return False
    found = resident.question([event["message"]])
    return found is not None and found[1] == step


@pytest.mark.parametrize("backend", backends("sqlite"))
async def test_b_dialogs_resume_after_kills(tmp_path: Path, backend: str) -> None:
    from storage.models import Dialog, DialogStatus, Ticket

    rng = random.Random(SEED + 1)
    async with crashes(tmp_path, backend) as run:
        residents = [Resident(run, uid, i) for i, uid in enumerate(RESIDENTS)]
        run.progress = lambda event: event["type"] == "new" and event["chat_id"] in RESIDENTS
        people = [asyncio.create_task(r.run_all()) for r in residents]

        async def busy() -> bool:
            for task in people:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return not all(r.done for r in residents)

        try:
            # First a kill at the worst moment of a dialog: the next question has reached the
            # resident (the public spot was answered; now "what is wrong?") and the bot has
            # not yet written that the dialog moved on. Then kills at random moments.
            await run.targeted(lambda event: asks(event, residents[-1], "description"))
            await run.crash_loop(rng, DIALOG_KILLS, busy, burst=6, early=(0.3, 2.0))
            await run.life()
            try:
                async with asyncio.timeout(60):
                    await asyncio.gather(*people)
            except TimeoutError:
                stuck = [await r.story() for r in residents if not r.done]
                raise AssertionError("a dialog did not finish:\n" + "\n".join(stuck)) from None
            await until(lambda: outbox_settled(run), 60, "the confirmations", run)
            await run.stop()
        finally:
            for task in people:
                task.cancel()

        async with run.db.uow() as uow:
            tickets = (await uow.session.scalars(select(Ticket).order_by(Ticket.id))).all()
            dialogs = (await uow.session.scalars(select(Dialog))).all()
        wanted = sorted(
            (
                r.uid,
                p["description"],
                p.get("public_spot") or tuple(p["flat"].split("-")),
                p["phone"],
            )
            for r in residents
            for p in r.plans
        )
        got = sorted(
            (
                t.resident_id,
                t.description,
                t.public_spot or (t.building, t.unit, t.room),
                t.phone,
            )
            for t in tickets
        )
        rows = await run.outbox()
        calls = await run.calls()
        sent = tally(rows, calls)
        # A resident whose confirmation was lost to an unknown outcome (never delivered) was
        # never told their request went in; asking again is then what a person does.
        told = tally([r for r in rows if r.chat_telegram_id in RESIDENTS], calls, prefix="ticket:")
        untold = told.lost
        missing, extra = Counter(wanted) - Counter(got), Counter(got) - Counter(wanted)
        if missing or sum(extra.values()) > untold:  # each request once, exactly as answered
            stories = "\n".join([await r.story(40) for r in residents])
            raise AssertionError(f"tickets {got}\n!= requests {wanted}\n{stories}")
        assert all(t.category == "water_power" and not t.urgent for t in tickets)
        assert not [d for d in dialogs if d.status is DialogStatus.ACTIVE]
        started_over = sum(r.started_over for r in residents)
        report(
            f"dialogs [{backend}]",
            f"{run.kills} kills {dict(run.moments)}; {len(tickets)} tickets for {len(wanted)} "
            f"requests; answered again {sum(r.resent for r in residents)}×, /repair to resume "
            f"{sum(r.rejoined for r in residents)}×, started over {started_over}× "
            f"({untold} confirmations lost to unknown outcomes); {sent.line()}",
        )
        assert started_over <= untold, "a dialog was lost and started again:\n" + "\n".join(
            n for r in residents for n in r.notes
        )
        assert sent.stuck == 0 and sent.missing == 0, sent.problems
        assert sent.duplicates <= sent.unknown, sent.problems
        record("kills", run.kills)
        record("unknown outcomes", sent.unknown)
