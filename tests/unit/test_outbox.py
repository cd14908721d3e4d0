"""The outbox dispatcher, against a fake Telegram at the HTTP edge, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram import Bot, Message
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.outbox import OutboxDispatcher
from bot.ratelimit import RateLimits
from bot.transport import ConnectTimedOut, NotSent
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
GROUPS = [-1001000000001, -1001000000002, -1001000000003]
STAFF_GROUP = -1001000000099
OLD_GROUP = -4001
NEW_SUPERGROUP = -1009876543210
ELDER = 7_000_000_001
RESIDENT = 8_123_456_789
NEIGHBOUR = 8_123_456_790
BOT_USER = {"id": 123, "is_bot": True, "first_name": "邻里", "username": "linli_bot"}

Answer = tuple[int, dict[str, Any]] | BaseException


def retry_after(seconds: int) -> Answer:
    return 429, {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }


def refused(description: str, code: int = 400) -> Answer:
    return code, {"ok": False, "error_code": code, "description": description}


BLOCKED = refused("Forbidden: bot was blocked by the user", 403)


def migrated_to(chat_id: int) -> Answer:
    return 400, {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": chat_id},
    }


def connection_refused() -> NetworkError:
    """What the bot's transport raises when no connection can be made (bot/transport.py)."""
    return NotSent("aiohttp.ClientConnectorError: Cannot connect to host: Connection refused")


class FakeTelegram(BaseRequest):
    """The Bot API as the bot's HTTP layer sees it: every call recorded, answers scripted per chat."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.script: dict[int, list[Answer]] = defaultdict(list)
        self.meanwhile: Callable[[], Awaitable[None]] | None = None
        self.called = asyncio.Event()
        self._message_id = 1000

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def answer(self, chat_id: int, *answers: Answer) -> None:
        """The next requests to this chat get these answers, in order; later ones succeed."""
        self.script[chat_id].extend(answers)

    @property
    def sent(self) -> list[tuple[str, int, str | None]]:
        """Every request that reached Telegram: method, chat and text (or caption)."""
        return [
            (method, params["chat_id"], params.get("text", params.get("caption")))
            for method, params in self.calls
        ]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if endpoint == "getMe":
            return self._reply(200, {"ok": True, "result": BOT_USER})
        self.calls.append((endpoint, params))
        self.called.set()
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        scripted = self.script.get(params["chat_id"])
        if scripted:
            answer = scripted.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return self._reply(*answer)
        return self._reply(200, {"ok": True, "result": self._result(endpoint, params)})

    def _result(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        if endpoint in ("pinChatMessage", "deleteMessage"):
            return True
        chat_id = params["chat_id"]
        if endpoint.startswith("send"):
            self._message_id += 1
            message_id = self._message_id
        else:
            message_id = params["message_id"]
        chat = {"id": chat_id, "type": "supergroup" if chat_id < 0 else "private"}
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(START.timestamp()),
            "chat": chat,
            "from": BOT_USER,
        }
        for field in ("text", "caption", "reply_markup"):
            if field in params:
                message[field] = params[field]
        return message

    @staticmethod
    def _reply(code: int, body: dict[str, Any]) -> tuple[int, bytes]:
        return code, json.dumps(body).encode()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(token="123:abc", request=telegram, get_updates_request=telegram)
    await bot.initialize()
    yield bot
    await bot.shutdown()


@pytest.fixture
def dispatcher(database: Database, bot: Bot, clock: Clock) -> OutboxDispatcher:
    return OutboxDispatcher(database, bot, clock=clock)


async def enqueue(
    db: Database,
    key: str,
    chat: int,
    text: str | None = None,
    *,
    method: str = "sendMessage",
    payload: Any = None,
) -> int:
    async with db.uow() as uow:
        row = await uow.outbox.enqueue(
            key, chat, payload if payload is not None else {"text": text}, method, START
        )
        assert row is not None
        await uow.commit()
        return row.id


async def row(db: Database, key: str) -> OutboxMessage:
    async with db.uow() as uow:
        found = await uow.outbox.by_key(key)
    assert found is not None, key
    return found


async def statuses(db: Database, *keys: str) -> list[OutboxStatus]:
    return [(await row(db, key)).status for key in keys]


# --- sending once ---------------------------------------------------------------------


async def test_a_notice_to_three_groups_is_sent_once_to_each_even_when_dispatch_runs_twice(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    dispatcher = OutboxDispatcher(database, bot, clock=clock)
    keys = [f"notice:7:occ:1:chat:{g}" for g in GROUPS]
    for key, group in zip(keys, GROUPS, strict=True):
        await enqueue(database, key, group, "周六 9:00-12:00 停水")

    assert await dispatcher.dispatch_due() == 3
    assert await dispatcher.dispatch_due() == 0
    clock.advance(120)
    assert await OutboxDispatcher(database, bot, clock=clock).dispatch_due() == 0  # a restart

    assert telegram.sent == [("sendMessage", g, "周六 9:00-12:00 停水") for g in GROUPS]
    sent = [await row(database, key) for key in keys]
    assert [r.status for r in sent] == [OutboxStatus.SENT] * 3
    assert [r.telegram_message_id for r in sent] == [1001, 1002, 1003]
    assert [r.sent_at for r in sent] == [START] * 3
    assert dispatcher.stats == {
        "sent": 3,
        "failed": 0,
        "unknown": 0,
        "resent": 0,
        "retried": 0,
        "rate_limited": 0,
    }


async def test_each_bot_api_method_goes_out_with_its_payload_as_written(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    buttons = {"inline_keyboard": [[{"text": "收到 ✅", "callback_data": "ack:7"}]]}
    await enqueue(
        database,
        "notice:7:chat:g",
        GROUPS[0],
        method="sendMessage",
        payload={"text": "<b>停水</b>", "parse_mode": "HTML", "reply_markup": buttons},
    )
    await enqueue(
        database,
        "notice:7:pin",
        GROUPS[0],
        method="pinChatMessage",
        payload={"message_id": 1001, "disable_notification": True},
    )
    await enqueue(
        database,
        "notice:7:count",
        GROUPS[0],
        method="editMessageReplyMarkup",
        payload={"message_id": 1001, "reply_markup": {"inline_keyboard": []}},
    )
    await enqueue(
        database,
        "ticket:3:status:done",
        RESIDENT,
        method="editMessageText",
        payload={"message_id": 55, "text": "已完成", "chat_id": 999},  # the row's chat wins
    )
    await enqueue(
        database,
        "ticket:3:photo",
        STAFF_GROUP,
        method="sendPhoto",
        payload={"photo": "AgACAgUAAx0", "caption": "漏水照片"},
    )
    await enqueue(
        database,
        "export:1",
        STAFF_GROUP,
        method="sendDocument",
        payload={"document": "BQACAgUAAx0", "caption": "月报"},
    )
    await enqueue(
        database, "notice:6:unpin", GROUPS[1], method="deleteMessage", payload={"message_id": 9}
    )

    assert await dispatcher.dispatch_due() == 7
    assert await dispatcher.dispatch_due() == 0
    assert telegram.calls == [
        (
            "sendMessage",
            {
                "chat_id": GROUPS[0],
                "text": "<b>停水</b>",
                "parse_mode": "HTML",
                "reply_markup": buttons,
            },
        ),
        (
            "pinChatMessage",
            {"chat_id": GROUPS[0], "message_id": 1001, "disable_notification": True},
        ),
        (
            "editMessageReplyMarkup",
            {"chat_id": GROUPS[0], "message_id": 1001, "reply_markup": {"inline_keyboard": []}},
        ),
        ("editMessageText", {"chat_id": RESIDENT, "message_id": 55, "text": "已完成"}),
        ("sendPhoto", {"chat_id": STAFF_GROUP, "photo": "AgACAgUAAx0", "caption": "漏水照片"}),
        ("sendDocument", {"chat_id": STAFF_GROUP, "document": "BQACAgUAAx0", "caption": "月报"}),
        ("deleteMessage", {"chat_id": GROUPS[1], "message_id": 9}),
    ]
    assert (
        await statuses(database, "notice:7:pin", "ticket:3:status:done", "notice:6:unpin")
        == [OutboxStatus.SENT] * 3
    )
    assert (await row(database, "ticket:3:status:done")).telegram_message_id == 55
    assert (await row(database, "notice:6:unpin")).telegram_message_id is None


# --- Telegram says wait, or no --------------------------------------------------------


async def test_a_429_with_retry_after_7_holds_the_message_for_7_seconds_then_sends_it(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(database, "notice:1:chat:a", GROUPS[0], "停电通知")
    await enqueue(database, "notice:1:chat:b", GROUPS[1], "停电通知")
    await enqueue(database, "notice:2:chat:a", GROUPS[0], "恢复供电")
    telegram.answer(GROUPS[0], retry_after(7))

    assert await dispatcher.dispatch_due() == 2  # the other group is not held up
    flooded = await row(database, "notice:1:chat:a")
    assert flooded.status == OutboxStatus.PENDING
    assert flooded.not_before == START + timedelta(seconds=7)
    assert flooded.last_error is not None and "Flood control" in flooded.last_error

    clock.advance(6)
    assert await dispatcher.dispatch_due() == 0
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 2

    assert telegram.sent == [
        ("sendMessage", GROUPS[0], "停电通知"),
        ("sendMessage", GROUPS[1], "停电通知"),
        ("sendMessage", GROUPS[0], "停电通知"),
        ("sendMessage", GROUPS[0], "恢复供电"),
    ]
    assert await statuses(database, "notice:1:chat:a", "notice:2:chat:a") == [OutboxStatus.SENT] * 2
    assert dispatcher.stats["retried"] == 1 and dispatcher.stats["sent"] == 3


async def test_a_blocked_users_message_fails_without_retry_and_the_listener_hears_of_it(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    heard: list[tuple[str, OutboxStatus, Message | None]] = []
    not_for_me: list[str] = []

    async def checkin_listener(message: OutboxMessage, sent: Message | None) -> None:
        heard.append((message.idempotency_key, message.status, sent))

    async def notice_listener(message: OutboxMessage, sent: Message | None) -> None:
        not_for_me.append(message.idempotency_key)

    dispatcher.add_listener("checkin:", checkin_listener)
    dispatcher.add_listener("notice:", notice_listener)
    await enqueue(database, "checkin:42:2030-01-07:prompt", ELDER, "王阿姨，今天好吗？")
    telegram.answer(ELDER, BLOCKED)

    assert await dispatcher.dispatch_due() == 1
    clock.advance(86400)
    assert await dispatcher.dispatch_due() == 0

    assert telegram.sent == [("sendMessage", ELDER, "王阿姨，今天好吗？")]
    failed = await row(database, "checkin:42:2030-01-07:prompt")
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error == "Forbidden: bot was blocked by the user"
    assert heard == [("checkin:42:2030-01-07:prompt", OutboxStatus.FAILED, None)]
    assert not_for_me == []
    assert dispatcher.stats["failed"] == 1


async def test_the_listener_learns_the_posted_message_id_so_acknowledgements_can_be_counted(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    posted: dict[str, int] = {}

    async def remember(message: OutboxMessage, sent: Message | None) -> None:
        assert sent is not None and message.status == OutboxStatus.SENT
        posted[message.idempotency_key] = sent.message_id

    async def broken(message: OutboxMessage, sent: Message | None) -> None:
        raise RuntimeError("a feature's bug")

    dispatcher.add_listener("notice:", broken)
    dispatcher.add_listener("notice:", remember)
    for i, group in enumerate(GROUPS[:2]):
        await enqueue(database, f"notice:9:chat:{i}", group, "消防演练")

    assert await dispatcher.dispatch_due() == 2
    assert posted == {"notice:9:chat:0": 1001, "notice:9:chat:1": 1002}
    assert await statuses(database, "notice:9:chat:0", "notice:9:chat:1") == [OutboxStatus.SENT] * 2


async def test_a_bad_request_fails_with_telegrams_words_and_is_not_retried(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(
        database,
        "notice:4:count",
        GROUPS[0],
        method="editMessageText",
        payload={"message_id": 77, "text": "已收到：12 户"},
    )
    telegram.answer(GROUPS[0], refused("Bad Request: message is not modified"))

    assert await dispatcher.dispatch_due() == 1
    clock.advance(600)
    assert await dispatcher.dispatch_due() == 0
    assert len(telegram.calls) == 1
    failed = await row(database, "notice:4:count")
    assert (failed.status, failed.last_error) == (
        OutboxStatus.FAILED,
        "Message is not modified",  # python-telegram-bot drops the "Bad Request: " prefix
    )


async def test_a_migrated_groups_message_goes_to_the_new_supergroup_id(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    await enqueue(database, "notice:3:chat:old", OLD_GROUP, "电梯检修")
    await enqueue(database, "notice:4:chat:old", OLD_GROUP, "停车场清洗")
    telegram.answer(OLD_GROUP, migrated_to(NEW_SUPERGROUP))

    assert await dispatcher.dispatch_due() == 1
    assert await dispatcher.dispatch_due() == 2

    assert telegram.sent == [
        ("sendMessage", OLD_GROUP, "电梯检修"),
        ("sendMessage", NEW_SUPERGROUP, "电梯检修"),
        ("sendMessage", NEW_SUPERGROUP, "停车场清洗"),
    ]
    for key in ("notice:3:chat:old", "notice:4:chat:old"):
        moved = await row(database, key)
        assert (moved.chat_telegram_id, moved.status) == (NEW_SUPERGROUP, OutboxStatus.SENT)


# --- when the outcome cannot be known -----------------------------------------------


async def test_a_timeout_after_the_request_left_marks_it_unknown_and_it_is_not_sent_again(
    database: Database,
    bot: Bot,
    dispatcher: OutboxDispatcher,
    telegram: FakeTelegram,
    clock: Clock,
) -> None:
    heard: list[OutboxStatus] = []

    async def listener(message: OutboxMessage, sent: Message | None) -> None:
        heard.append(message.status)

    dispatcher.add_listener("ticket:", listener)
    await enqueue(database, "ticket:8:status:assigned", RESIDENT, "师傅明天上午上门")
    telegram.answer(RESIDENT, TimedOut())  # no answer in time

    assert await dispatcher.dispatch_due() == 1
    clock.advance(3600)
    assert await dispatcher.dispatch_due() == 0
    restarted = OutboxDispatcher(database, bot, clock=clock)
    assert await restarted.recover() == 0
    assert await restarted.dispatch_due() == 0

    assert telegram.sent == [("sendMessage", RESIDENT, "师傅明天上午上门")]
    unknown = await row(database, "ticket:8:status:assigned")
    assert unknown.status == OutboxStatus.UNKNOWN
    assert unknown.last_error is not None and unknown.last_error.startswith("outcome unknown")
    assert dispatcher.unknown_count == 1
    assert heard == [OutboxStatus.UNKNOWN]


async def test_a_timeout_while_connecting_is_retried_because_the_request_never_left(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(database, "ticket:8:status:assigned", RESIDENT, "师傅明天上午上门")
    telegram.answer(RESIDENT, ConnectTimedOut("could not connect in time"))

    assert await dispatcher.dispatch_due() == 1
    assert (await row(database, "ticket:8:status:assigned")).status == OutboxStatus.PENDING
    clock.advance(2)
    assert await dispatcher.dispatch_due() == 1

    assert telegram.sent == [("sendMessage", RESIDENT, "师傅明天上午上门")] * 2
    assert await statuses(database, "ticket:8:status:assigned") == [OutboxStatus.SENT]
    assert dispatcher.unknown_count == 0


async def crash_while_sending(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    """A dispatcher claims the first row and dies while its request is out."""
    crashing = OutboxDispatcher(database, bot, clock=clock)
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    telegram.meanwhile = hang
    doomed = asyncio.create_task(crashing.dispatch_due())
    await telegram.called.wait()
    doomed.cancel()  # the process dies while the request is out: did it arrive?
    with contextlib.suppress(asyncio.CancelledError):
        await doomed


async def test_a_crash_between_claim_and_send_leaves_it_unknown_after_recover(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(database, "checkin:42:2030-01-07:escalate:daughter", RESIDENT, "王阿姨未回复")
    await enqueue(database, "checkin:43:2030-01-07:prompt", ELDER, "李伯伯，今天好吗？")
    await crash_while_sending(database, bot, telegram, clock)
    assert await statuses(database, "checkin:42:2030-01-07:escalate:daughter") == [
        OutboxStatus.SENDING
    ]

    restarted = OutboxDispatcher(database, bot, clock=clock)
    assert await restarted.recover() == 1
    assert await restarted.dispatch_due() == 1
    assert await restarted.dispatch_due() == 0

    assert telegram.sent == [
        ("sendMessage", RESIDENT, "王阿姨未回复"),
        ("sendMessage", ELDER, "李伯伯，今天好吗？"),
    ]
    assert await statuses(
        database, "checkin:42:2030-01-07:escalate:daughter", "checkin:43:2030-01-07:prompt"
    ) == [OutboxStatus.UNKNOWN, OutboxStatus.SENT]
    assert restarted.unknown_count == 1


async def test_an_urgent_message_a_crash_left_in_sending_is_sent_once_more_after_recover(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    async with database.uow() as uow:  # an alert about an elder: priority 1
        await uow.outbox.enqueue(
            "care:alert:7:step-family:5", RESIDENT, {"text": "李奶奶未回复"}, priority=1
        )
        await uow.commit()
    await crash_while_sending(database, bot, telegram, clock)

    restarted = OutboxDispatcher(database, bot, clock=clock)
    assert await restarted.recover() == 1
    assert await restarted.recover() == 0  # a second start does not send it a third time
    assert await restarted.dispatch_due() == 1
    assert await statuses(
        database, "care:alert:7:step-family:5", "care:alert:7:step-family:5:again"
    ) == [OutboxStatus.UNKNOWN, OutboxStatus.SENT]
    assert telegram.sent == [("sendMessage", RESIDENT, "李奶奶未回复")] * 2
    assert restarted.stats["resent"] == 1


async def test_a_refused_connection_is_retried_with_growing_pauses_then_given_up_after_10(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(database, "ticket:2:status:done", RESIDENT, "维修已完成")
    telegram.answer(RESIDENT, *[connection_refused() for _ in range(10)])

    pauses: list[float] = []
    assert await dispatcher.dispatch_due() == 1
    while (message := await row(database, "ticket:2:status:done")).status == OutboxStatus.PENDING:
        pause = (message.not_before - clock.now).total_seconds()
        pauses.append(pause)
        clock.advance(pause - 0.5)
        assert await dispatcher.dispatch_due() == 0
        clock.advance(0.5)
        assert await dispatcher.dispatch_due() == 1

    assert pauses == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert len(telegram.calls) == 10
    assert message.status == OutboxStatus.FAILED and message.attempts == 10
    assert message.last_error is not None and "gave up after 10 attempts" in message.last_error
    assert dispatcher.stats["retried"] == 9


async def test_a_malformed_row_fails_with_a_clear_error_and_the_rest_still_go(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    await enqueue(database, "bad:typo", GROUPS[0], payload={"txt": "拼错了"})
    await enqueue(database, "bad:method", GROUPS[1], method="sendSticker", payload={"sticker": "x"})
    await enqueue(database, "bad:list", GROUPS[2], payload=["不是对象"])
    await enqueue(database, "good", GROUPS[0], "正常通知")

    assert await dispatcher.dispatch_due() == 4
    assert telegram.sent == [("sendMessage", GROUPS[0], "正常通知")]
    errors = [(await row(database, k)).last_error for k in ("bad:typo", "bad:method", "bad:list")]
    assert errors == [
        "malformed: sendMessage payload lacks text",
        "malformed: unsupported method 'sendSticker'",
        "malformed: payload is list, not a JSON object",
    ]
    assert await statuses(database, "bad:typo", "good") == [OutboxStatus.FAILED, OutboxStatus.SENT]


# --- limits and order ---------------------------------------------------------------


async def test_a_group_over_20_messages_a_minute_gets_the_rest_the_next_minute_while_a_private_chat_is_not_held_up(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    for i in range(25):
        await enqueue(database, f"notice:{i}:chat:g", GROUPS[0], f"通知 {i}")
    await enqueue(database, "ticket:1:status:accepted", RESIDENT, "您的报修已受理")

    assert await dispatcher.dispatch_due() == 21
    assert telegram.sent == [("sendMessage", GROUPS[0], f"通知 {i}") for i in range(20)] + [
        ("sendMessage", RESIDENT, "您的报修已受理")
    ]
    clock.advance(59)
    assert await dispatcher.dispatch_due() == 0
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 5
    assert telegram.sent[21:] == [("sendMessage", GROUPS[0], f"通知 {i}") for i in range(20, 25)]
    assert dispatcher.stats["rate_limited"] == 2


async def test_no_more_than_30_messages_leave_in_one_second(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    for user in range(1, 36):
        await enqueue(database, f"checkin:{user}:prompt", 7_000_000_000 + user, "早上好")

    assert await dispatcher.dispatch_due() == 30
    assert await dispatcher.dispatch_due() == 0
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 5
    assert [chat for _, chat, _ in telegram.sent] == [7_000_000_000 + u for u in range(1, 36)]


async def test_one_chats_messages_keep_their_order_when_the_first_has_to_wait(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram, clock: Clock
) -> None:
    await enqueue(database, "ticket:5:status:accepted", RESIDENT, "已受理")
    await enqueue(database, "ticket:5:status:done", RESIDENT, "已完成")
    await enqueue(database, "errand:9:claimed", NEIGHBOUR, "有志愿者接单了")
    telegram.answer(RESIDENT, connection_refused())

    assert await dispatcher.dispatch_due() == 2
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 0  # "已完成" waits behind "已受理"
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 1  # one a second to a private chat
    clock.advance(1)
    assert await dispatcher.dispatch_due() == 1

    assert telegram.sent == [
        ("sendMessage", RESIDENT, "已受理"),
        ("sendMessage", NEIGHBOUR, "有志愿者接单了"),
        ("sendMessage", RESIDENT, "已受理"),
        ("sendMessage", RESIDENT, "已完成"),
    ]


async def test_a_scheduled_message_does_not_hold_up_a_later_one_that_is_due(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    async with database.uow() as uow:
        await uow.outbox.enqueue(
            "notice:5:occ:2",
            GROUPS[0],
            {"text": "明早停水"},
            not_before=START + timedelta(hours=20),
        )
        await uow.commit()
    await enqueue(database, "notice:6:occ:1", GROUPS[0], "今晚消防演练")

    assert await dispatcher.dispatch_due() == 1
    assert telegram.sent == [("sendMessage", GROUPS[0], "今晚消防演练")]


# --- several processes --------------------------------------------------------------


async def test_two_dispatchers_on_one_database_never_send_the_same_row_twice(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    first = OutboxDispatcher(database, bot, clock=clock)
    second = OutboxDispatcher(database, bot, clock=clock)
    for group in GROUPS:
        await enqueue(database, f"notice:8:chat:{group}", group, "垃圾分类新规")
    second_sent: list[int] = []

    async def second_runs_while_first_is_sending() -> None:
        second_sent.append(await second.dispatch_due())

    telegram.meanwhile = second_runs_while_first_is_sending
    # The first has read all three rows when the second claims the two it is not sending.
    assert await first.dispatch_due() == 1
    assert second_sent == [2]
    assert await first.dispatch_due() == 0

    assert sorted(chat for _, chat, _ in telegram.sent) == sorted(GROUPS)
    assert telegram.sent[0] == ("sendMessage", GROUPS[0], "垃圾分类新规")
    assert (
        await statuses(database, *[f"notice:8:chat:{g}" for g in GROUPS]) == [OutboxStatus.SENT] * 3
    )


async def test_two_dispatchers_racing_over_many_chats_send_each_message_once(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    chats = [7_000_000_000 + i for i in range(20)]
    for chat in chats:
        await enqueue(database, f"checkin:{chat}:prompt", chat, "早上好")
    first = OutboxDispatcher(database, bot, clock=clock)
    second = OutboxDispatcher(database, bot, clock=clock)

    counts = await asyncio.gather(first.dispatch_due(), second.dispatch_due())

    assert sum(counts) == 20
    assert sorted(chat for _, chat, _ in telegram.sent) == chats


# --- the loop -----------------------------------------------------------------------


async def test_the_loop_sends_what_is_enqueued_when_woken_and_stops_when_asked(
    database: Database, dispatcher: OutboxDispatcher, telegram: FakeTelegram
) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0.05)
    await enqueue(database, "ticket:11:status:accepted", RESIDENT, "已受理")
    dispatcher.wake()

    await asyncio.wait_for(telegram.called.wait(), timeout=0.5)  # well before the 1 s idle wait
    stop.set()
    await asyncio.wait_for(loop, timeout=0.5)
    assert telegram.sent == [("sendMessage", RESIDENT, "已受理")]


async def test_limits_can_be_set_per_dispatcher(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    strict = OutboxDispatcher(database, bot, clock=clock, limits=RateLimits(group_per_minute=2))
    for i in range(3):
        await enqueue(database, f"notice:{i}", GROUPS[0], f"通知 {i}")
    assert await strict.dispatch_due() == 2


async def test_an_alert_goes_ahead_of_a_fan_out_already_queued(
    database: Database, bot: Bot, telegram: FakeTelegram, clock: Clock
) -> None:
    dispatcher = OutboxDispatcher(database, bot, clock=clock)
    for group in GROUPS:
        await enqueue(database, f"notice:8:{group}", group, "本周垃圾分类宣传")
    async with database.uow() as uow:
        await uow.outbox.enqueue(
            "care:alert:1:step-family:55",
            55,
            {"text": "李奶奶没有回应"},
            not_before=START,
            priority=1,
        )
        await uow.commit()
    assert await dispatcher.dispatch_due(max_messages=1) == 1
    assert telegram.sent == [("sendMessage", 55, "李奶奶没有回应")]
    assert await dispatcher.dispatch_due() == len(GROUPS)
    assert [chat for _, chat, _ in telegram.sent[1:]] == list(GROUPS)


def test_a_refused_send_gives_its_place_in_the_window_back() -> None:
    from bot.ratelimit import RateLimiter, RateLimits

    now = START
    limiter = RateLimiter(RateLimits(overall_per_second=2), clock=lambda: now)
    limiter.record(-1001)
    limiter.record(-1002)
    assert limiter.overall_ready_at() > now  # full
    limiter.refund(-1002)  # that one was answered 429: it did not count at Telegram
    assert limiter.overall_ready_at() == now
