"""Hostile and random input: at least 10,000 generated updates through the real bot (issue 10).

Hypothesis draws the actions (tests/chaos/fuzz_updates.py: hostile text, commands with
hostile arguments, replies, edits, deletions, real and forged button presses, files where
text is expected, messages on behalf of channels and anonymous admins, every other update
type, earlier updates delivered again); the real bot, polling the sandbox, handles them.
Afterwards: not one error logged (an unhandled exception is logged by the error handler),
the bot still answers, and the database is consistent (tests/chaos/invariants.py).

The generation is derandomised, so a run is repeatable; `LINLI_FUZZ_UPDATES` sets how many
actions (default 10,000). A failure names the first actions around the first error.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.demo import RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP
from tests.chaos.fuzz_updates import FUZZ_GROUP, PEOPLE, STRANGER, Driver, action
from tests.chaos.invariants import problems
from tests.e2e.harness import PROBE_USER, Linli
from tests.e2e.test_repair import outbox_idle
from tests.proof import record

UPDATES = int(os.environ.get("LINLI_FUZZ_UPDATES", "10000"))
BATCH = 50


def generated(total: int, seed_size: int = BATCH) -> list[list[tuple[Any, ...]]]:
    """Batches of actions drawn by Hypothesis (repeatable: derandomised, no example database)."""
    batches: list[list[tuple[Any, ...]]] = []

    @settings(
        max_examples=max(1, total // seed_size),
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(action, min_size=seed_size, max_size=seed_size))
    def collect(batch: list[tuple[Any, ...]]) -> None:
        batches.append(batch)

    collect()
    return batches


class Errors(logging.Handler):
    """Keeps every record at ERROR or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _world(linli: Linli) -> dict[int, list[int]]:
    """The demo groups, plus a stranger and a throwaway group for updates that end a group."""
    await linli.sandbox.post(
        "/sandbox/api/users",
        {"id": STRANGER, "first_name": "<b>陌生人</b>", "language_code": "en", "started": True},
    )
    everyone = [p for p in PEOPLE]
    await linli.sandbox.post(
        "/sandbox/api/chats",
        {
            "id": FUZZ_GROUP,
            "type": "supergroup",
            "title": "<i>测试群</i> '; DROP TABLE chats; --",
            "members": everyone,
            "admins": [2001],
            "bot_member": True,
            "by": 2001,
        },
    )
    for person in PEOPLE:  # everyone has a private chat with the bot
        await linli.sandbox.send(person, person, "/start")
    return {
        RESIDENTS_GROUP: [1001, 1002, 1003, 1004, 2001, 3001],
        STAFF_GROUP: [2001],
        VOLUNTEERS_GROUP: [2001, 3001],
        FUZZ_GROUP: everyone,
    }


def _unlimited(linli: Linli) -> None:
    """Telegram's caps are the fault suite's subject, not this one's: with the sandbox's rate
    limits off, let the dispatcher send as fast as it can, so the backlog the storm makes
    (hundreds of staff notifications to one chat) drains in seconds, not minutes."""
    from bot.ratelimit import RateLimiter, RateLimits

    assert linli.runtime.outbox is not None
    linli.runtime.outbox.limiter = RateLimiter(RateLimits(10_000, 10_000, 10_000))


async def _outbox_state(linli: Linli) -> list[tuple[Any, ...]]:
    from sqlalchemy import func, select

    from storage.models import OutboxMessage

    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        rows = await uow.session.execute(
            select(
                OutboxMessage.status,
                OutboxMessage.chat_telegram_id,
                func.count(),
                func.max(OutboxMessage.last_error),
            ).group_by(OutboxMessage.status, OutboxMessage.chat_telegram_id)
        )
        return [tuple(r) for r in rows.all()]


async def test_ten_thousand_generated_updates_break_nothing(linli: Linli) -> None:
    _unlimited(linli)
    batches = generated(UPDATES)
    errors = Errors()
    logging.getLogger().addHandler(errors)
    driver = Driver(linli.sandbox, await _world(linli))
    done: list[tuple[Any, ...]] = []
    first_error_at: int | None = None
    try:
        for batch in batches:
            await driver.refresh()
            for act in batch:
                await driver.run(act)
                done.append(act)
            await linli.settle()  # the bot has handled the batch (updates go one at a time)
            if errors.records and first_error_at is None:
                first_error_at = len(done)
    finally:
        logging.getLogger().removeHandler(errors)
    try:
        await outbox_idle(linli)
    except AssertionError as exc:
        raise AssertionError(f"the outbox did not drain: {await _outbox_state(linli)}") from exc
    record("inputs", len(done))
    record("inputs repeated (duplicate updates)", driver.counts.get("repeat", 0))
    record("inputs forged (callback data)", driver.counts.get("forged", 0))

    assert len(done) >= UPDATES, f"only {len(done)} actions generated"
    if errors.records:
        first = errors.records[0]
        window = done[max(0, (first_error_at or 0) - BATCH) : first_error_at]
        raise AssertionError(
            f"{len(errors.records)} error(s) logged; the first: {first.name}: "
            f"{first.getMessage()[:500]}\n{first.exc_text or ''}\n"
            f"in the batch of actions: {window!r}"[:6000]
        )
    assert await problems(linli.runtime.db) == []
    [answer] = await linli.say(1001, 1001, "/help")  # still answering, in her language
    assert "Linli" in answer["text"] or "邻里" in answer["text"]
    print(f"\nfuzz: {len(done):,} actions, by kind: {dict(sorted(driver.counts.items()))}")


async def test_every_update_delivered_again_has_no_second_effect(linli: Linli) -> None:
    """Replay a whole generated session, update by update: nothing is sent or changed twice."""
    _unlimited(linli)
    # Hypothesis starts with its simplest examples (the same message fifty times): take later,
    # varied batches.
    batch = [act for chunk in generated(BATCH * 10)[3:7] for act in chunk]
    driver = Driver(linli.sandbox, await _world(linli))
    await driver.refresh()
    for act in batch:
        if act[0] != "repeat":
            await driver.run(act)
    await linli.settle()
    await outbox_idle(linli)
    _, mark = await _calls(linli)
    count = await _tables(linli)
    repeated = [u for u in driver.update_ids if u]
    for update_id in repeated:
        await linli.sandbox.post("/sandbox/api/inject", {"repeat_update_id": update_id})
    await linli.settle()
    await outbox_idle(linli)
    after, _ = await _calls(linli, mark)
    record("inputs repeated (duplicate updates)", len(repeated))
    assert len(repeated) >= BATCH
    # The only new calls are the probe's (settle's /start in the probe user's private chat).
    extra = [c for c in after if str(c.get("chat_id")) != str(PROBE_USER)]
    assert extra == [], f"a repeated update had an effect: {extra[:5]}"
    assert await _tables(linli) == count


SENDING = set(
    "sendMessage sendPhoto sendDocument sendVoice editMessageText editMessageReplyMarkup "
    "pinChatMessage deleteMessage answerCallbackQuery copyMessage forwardMessage".split()
)


async def _calls(linli: Linli, after: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The calls that change something in a chat, after sequence number `after`; the last seq."""
    status, body = await linli.sandbox.call("GET", "/sandbox/api/calls", params={"after": after})
    assert status == 200
    calls = body["calls"]
    last = calls[-1]["seq"] if calls else after
    changing = [
        {"method": c["method"], "chat_id": (c.get("params") or {}).get("chat_id")}
        for c in calls
        if c.get("method") in SENDING
    ]
    return changing, last


async def _tables(linli: Linli) -> dict[str, int]:
    """Rows in every table that a handled update may change."""
    from sqlalchemy import func, select

    from storage.models import Base

    counts = {}
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        for table in Base.metadata.sorted_tables:
            if table.name == "processed_updates":
                continue
            counts[table.name] = await uow.session.scalar(select(func.count()).select_from(table))
    return counts
