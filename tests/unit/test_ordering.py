"""Updates of different people run at the same time; one person's run in the order they came."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, Update, User

from bot.ordering import PerPersonProcessor, is_barrier, key_of

GROUP = Chat(id=-100123, type=Chat.SUPERGROUP)


def message(update_id: int, user_id: int, chat: Chat = GROUP) -> Update:
    user = User(id=user_id, first_name=f"u{user_id}", is_bot=False)
    sent = Message(message_id=update_id, date=datetime(2026, 11, 29, tzinfo=UTC), chat=chat, from_user=user, text="x")
    return Update(update_id=update_id, message=sent)


async def feed(processor: PerPersonProcessor, updates: list[Update], handler) -> list[asyncio.Task[None]]:
    """As python-telegram-bot does: one task an update, started in the order they came."""
    tasks = [asyncio.create_task(processor.process_update(u, handler(u))) for u in updates]
    await asyncio.sleep(0)
    return tasks


async def test_one_person_s_updates_wait_for_each_other_and_others_go_ahead() -> None:
    processor = PerPersonProcessor(4)
    gates = {n: asyncio.Event() for n in (1, 2, 3)}
    log: list[str] = []

    async def handle(update: Update) -> None:
        log.append(f"start {update.update_id}")
        await gates[update.update_id].wait()
        log.append(f"end {update.update_id}")

    tasks = await feed(processor, [message(1, 10), message(2, 10), message(3, 20)], handle)
    for _ in range(5):
        await asyncio.sleep(0)
    # The same resident's second message waits; another resident's is handled meanwhile.
    assert log == ["start 1", "start 3"]
    gates[3].set()
    await tasks[2]
    assert "start 2" not in log
    gates[1].set()
    gates[2].set()
    await asyncio.gather(*tasks)
    assert log == ["start 1", "start 3", "end 3", "end 1", "start 2", "end 2"]


async def test_a_burst_from_one_person_keeps_its_order() -> None:
    processor = PerPersonProcessor(8)
    done: list[int] = []

    async def handle(update: Update) -> None:
        # Later updates would finish first if they ran at the same time.
        for _ in range(30 - update.update_id):
            await asyncio.sleep(0)
        done.append(update.update_id)

    tasks = await feed(processor, [message(n, 10) for n in range(1, 21)], handle)
    await asyncio.gather(*tasks)
    assert done == list(range(1, 21))


async def test_no_more_than_the_limit_run_at_once() -> None:
    processor = PerPersonProcessor(3)
    running = peak = 0
    release = asyncio.Event()

    async def handle(update: Update) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    tasks = await feed(processor, [message(n, 100 + n) for n in range(10)], handle)
    for _ in range(5):
        await asyncio.sleep(0)
    assert running == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3 and running == 0


async def test_a_failing_update_does_not_hold_up_the_next_of_the_same_person() -> None:
    processor = PerPersonProcessor(4)
    handled: list[int] = []

    async def handle(update: Update) -> None:
        if update.update_id == 1:
            raise RuntimeError("a handler failed")
        handled.append(update.update_id)

    tasks = await feed(processor, [message(1, 10), message(2, 10)], handle)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert handled == [2]


async def test_an_update_cancelled_while_waiting_is_closed_without_a_warning() -> None:
    processor = PerPersonProcessor(4)
    gate = asyncio.Event()

    async def handle(update: Update) -> None:
        await gate.wait()

    tasks = await feed(processor, [message(1, 10), message(2, 10)], handle)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be an error
        tasks[1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await tasks[1]
    gate.set()
    await tasks[0]
    assert processor.current_concurrent_updates == 0


async def test_a_group_moving_to_a_supergroup_waits_for_all_before_and_holds_all_after() -> None:
    processor = PerPersonProcessor(8)
    gate = asyncio.Event()
    log: list[int] = []
    moved = message(2, 30)
    moved.message._unfreeze()
    moved.message.migrate_to_chat_id = -100999
    moved.message._freeze()
    assert is_barrier(moved) and not is_barrier(message(1, 10))

    async def handle(update: Update) -> None:
        if update.update_id == 1:
            await gate.wait()
        log.append(update.update_id)

    # 1 is slow; 2 (the move) must wait for it although it is someone else's; 3 and 4 (in the
    # new supergroup, other people) must wait for 2.
    new_group = Chat(id=-100999, type=Chat.SUPERGROUP)
    tasks = await feed(processor, [message(1, 10), moved, message(3, 40, new_group), message(4, 50)], handle)
    for _ in range(10):
        await asyncio.sleep(0)
    assert log == []
    gate.set()
    await asyncio.gather(*tasks)
    assert log[:2] == [1, 2] and sorted(log[2:]) == [3, 4]


def test_the_key_is_the_person_in_any_chat() -> None:
    private = Chat(id=10, type=Chat.PRIVATE)
    # A group message and the private dialog it starts are one person's story, in order.
    assert key_of(message(1, 10)) == key_of(message(2, 10, private)) == ("person", 10)
    assert key_of(message(1, 10)) != key_of(message(1, 11))
    assert key_of(Update(update_id=5)) == ("chat", None)
    assert key_of("not an update") == ("none", None)


async def test_a_person_s_group_message_and_private_command_keep_their_order() -> None:
    processor = PerPersonProcessor(8)
    log: list[int] = []

    async def handle(update: Update) -> None:
        if update.update_id == 1:  # the group message is slow to handle
            for _ in range(10):
                await asyncio.sleep(0)
        log.append(update.update_id)

    private = Chat(id=10, type=Chat.PRIVATE)
    tasks = await feed(processor, [message(1, 10), message(2, 10, private)], handle)
    await asyncio.gather(*tasks)
    assert log == [1, 2]
