"""The outbox dispatcher: sends queued messages once, in order, within Telegram's limits.

A row goes pending → sending (a conditional UPDATE, committed before the request
leaves) → sent, failed or unknown, or back to pending to be tried again later. A send
whose outcome cannot be known (a timeout after the request left, a crash mid-send) ends
as unknown and is never repeated blindly: an ordinary message is not sent again (a
notice twice in a group of 500 is noise, and staff are told it may not have arrived), but
an urgent one (priority >= URGENT: alerts about elders) is sent once more, under the key
`<key>:again`, because an alert twice costs less than an alert missed. Both are counted
(`stats["unknown"]`, `stats["resent"]`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.metrics import MESSAGES, RATE_LIMITED, SEND_SECONDS
from bot.ratelimit import RateLimiter, RateLimits
from bot.transport import may_have_left
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus
from storage.types import utcnow

log = logging.getLogger(__name__)

Listener = Callable[[OutboxMessage, Message | None], Awaitable[None]]
Retarget = tuple[int, int] | None  # (old chat id, new chat id) after a group migrated

MAX_ATTEMPTS = 10  # network failures before a message is given up
MAX_BACKOFF = 300.0  # seconds
IDLE_WAIT = 1.0  # seconds between rounds when nothing else says when to look again
PRIORITIES = (1, 0)  # outbox priority levels, served in this order: alerts about elders first
URGENT = 1  # this priority and above: sent once more when the outcome of a send is unknown
AGAIN = ":again"  # key suffix of that second send

# Bot API method -> (python-telegram-bot method, parameters it requires by name).
# Everything else in the payload travels as api_kwargs, exactly as written.
_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sendMessage": ("send_message", ("text",)),
    "sendPhoto": ("send_photo", ("photo",)),
    "sendDocument": ("send_document", ("document",)),
    "sendVoice": ("send_voice", ("voice",)),
    "editMessageText": ("edit_message_text", ("text", "message_id")),
    "editMessageReplyMarkup": ("edit_message_reply_markup", ("message_id",)),
    "pinChatMessage": ("pin_chat_message", ("message_id",)),
    "deleteMessage": ("delete_message", ("message_id",)),
}



def _urgent(row: OutboxMessage) -> bool:
    """An urgent message not yet sent again: one more send is worth its risk of a duplicate."""
    return row.priority >= URGENT and not row.idempotency_key.endswith(AGAIN)


def _again_key(row: OutboxMessage) -> str:
    return f"{row.idempotency_key}{AGAIN}"[:200]


class MalformedMessage(ValueError):
    """An outbox row that cannot be turned into a Bot API call."""


def bot_api_call(bot: Bot, row: OutboxMessage) -> Awaitable[Any]:
    """The python-telegram-bot call that sends this row to its chat."""
    spec = _METHODS.get(row.method)
    if spec is None:
        raise MalformedMessage(f"unsupported method {row.method!r}")
    if not isinstance(row.payload, dict):
        raise MalformedMessage(f"payload is {type(row.payload).__name__}, not a JSON object")
    name, required = spec
    rest = {k: v for k, v in row.payload.items() if k != "chat_id"}
    missing = [p for p in required if p not in rest]
    if missing:
        raise MalformedMessage(f"{row.method} payload lacks {', '.join(missing)}")
    named = {p: rest.pop(p) for p in required}
    method: Callable[..., Awaitable[Any]] = getattr(bot, name)
    return method(chat_id=row.chat_telegram_id, **named, api_kwargs=rest or None)


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class OutboxDispatcher:
    """Sends due outbox rows through the bot and records every outcome."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        clock: Callable[[], datetime] = utcnow,
        limits: RateLimits | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self._clock = clock
        self.limiter = RateLimiter(limits, clock=clock)
        self.stats: dict[str, int] = dict.fromkeys(
            ("sent", "failed", "unknown", "resent", "retried", "rate_limited"), 0
        )
        self._listeners: list[tuple[str, Listener]] = []
        self._wake = asyncio.Event()
        self._unsettled: list[tuple[OutboxMessage, OutboxStatus, dict[str, Any], Retarget]] = []
        self._next_ready: datetime | None = None
        self._busy = False

    @property
    def unknown_count(self) -> int:
        """Messages whose outcome could not be known, since this dispatcher started."""
        return self.stats["unknown"]

    def add_listener(self, key_prefix: str, callback: Listener) -> None:
        """Call `callback` when a message whose key starts with `key_prefix` is sent or ends."""
        self._listeners.append((key_prefix, callback))

    def wake(self) -> None:
        """Something new was enqueued: look at the outbox now."""
        self._wake.set()

    async def recover(self) -> int:
        """At start-up: messages a crash left in sending become unknown; how many.

        Urgent ones are sent once more (`<key>:again`), as after a timeout: the crash may
        have come before the request left, and an alert twice costs less than none.
        """
        async with self.db.uow() as uow:
            left = await uow.outbox.abandon_sending(
                "outcome unknown: the dispatcher stopped while sending"
            )
            again = [
                await uow.outbox.enqueue(
                    _again_key(row),
                    row.chat_telegram_id,
                    row.payload,
                    method=row.method,
                    priority=row.priority,
                )
                for row in left
                if _urgent(row)
            ]
            await uow.commit()
        resent = len([row for row in again if row is not None])
        if left:
            self.stats["unknown"] += len(left)
            self.stats["resent"] += resent
            log.warning(
                "outbox: %d message(s) were being sent at a crash; marked unknown, "
                "%d urgent one(s) sent once more",
                len(left),
                resent,
            )
        return len(left)

    async def dispatch_due(self, max_messages: int = 100) -> int:
        """Send what is due now: higher priority first (alerts), then chat by chat in id order.

        Returns how many sends were attempted.
        """
        await self._settle_leftovers()
        now = self._clock()
        self._next_ready = None
        attempted = 0
        held: set[int] = set()  # chats that must wait for the next round
        out_of_budget = False  # the overall limit is reached: nothing more this round
        for level in PRIORITIES:
            after_id = 0
            while attempted < max_messages and not out_of_budget:
                async with self.db.uow() as uow:
                    rows = await uow.outbox.ready(
                        now, max_messages, after_id=after_id, skip_chats=held, priority=level
                    )
                if not rows:
                    break
                for row in rows:
                    after_id, chat = row.id, row.chat_telegram_id
                    if chat in held:
                        continue
                    if attempted >= max_messages:
                        break
                    if not self._reached(self.limiter.overall_ready_at()):
                        out_of_budget = True
                        break
                    if not self._reached(self.limiter.ready_at(chat)):
                        held.add(chat)
                        continue
                    if not await self._claim(row):
                        held.add(chat)
                        continue
                    attempted += 1
                    self.limiter.record(chat)
                    if not await self._send(row):
                        held.add(chat)
        self._busy = attempted >= max_messages
        return attempted

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set, waking on wake(), the next due time, or each second."""
        log.info("outbox dispatcher running")
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.dispatch_due()
                delay = await self._idle_delay()
            except Exception:
                log.exception("outbox: dispatch round failed; trying again shortly")
                delay = IDLE_WAIT
            await self._wait(stop, delay)
        log.info("outbox dispatcher stopped")

    def _reached(self, ready_at: datetime) -> bool:
        """True when a rate limit allows sending now; else count the hold and when it ends."""
        if ready_at <= self._clock():
            return True
        self.stats["rate_limited"] += 1
        if self._next_ready is None or ready_at < self._next_ready:
            self._next_ready = ready_at
        return False

    async def _claim(self, row: OutboxMessage) -> bool:
        async with self.db.uow() as uow:
            claimed = await uow.outbox.claim(row.id, self._clock())
            await uow.commit()
        if not claimed:
            log.debug("outbox %s: claimed elsewhere", row.id)
        return claimed

    async def _send(self, row: OutboxMessage) -> bool:
        """Send one claimed row and record the outcome; False holds the chat's later messages."""
        chat = row.chat_telegram_id
        try:
            call = bot_api_call(self.bot, row)
        except MalformedMessage as exc:
            log.error("outbox %s (%s): malformed, not sent: %s", row.id, row.idempotency_key, exc)
            await self._end(row, OutboxStatus.FAILED, last_error=f"malformed: {exc}")
            return True
        started = time.perf_counter()
        try:
            result = await call
        except RetryAfter as exc:
            RATE_LIMITED.inc()
            seconds = _retry_after_seconds(exc)
            log.warning("outbox %s: chat %s flood-limited, retry in %.0f s", row.id, chat, seconds)
            self.limiter.refund(chat)  # nothing was delivered: the send does not count
            self.limiter.pause(chat, seconds)
            self._reached(self.limiter.ready_at(chat))  # counts it, and when to look again
            await self._retry(row, str(exc), seconds)
            return False
        except ChatMigrated as exc:
            new_chat = exc.new_chat_id
            log.info("outbox %s: chat %s migrated to %s; retargeting", row.id, chat, new_chat)
            await self._retry(row, str(exc), 0.0, new_chat=new_chat)
            return False
        except (Forbidden, BadRequest) as exc:
            log.warning("outbox %s: chat %s refused: %s", row.id, chat, exc.message)
            await self._end(row, OutboxStatus.FAILED, last_error=exc.message)
            return True
        except NetworkError as exc:
            if may_have_left(exc):
                await self._end(row, OutboxStatus.UNKNOWN, last_error=f"outcome unknown: {exc}")
                await self._send_again_if_urgent(row, exc)
                return True
            return await self._back_off(row, exc)
        except TelegramError as exc:
            log.error("outbox %s: Telegram error, not retried: %s", row.id, exc)
            await self._end(row, OutboxStatus.FAILED, last_error=str(exc))
            return True
        except Exception as exc:  # a bug below us: the request may or may not have left
            log.exception("outbox %s: unexpected error while sending", row.id)
            await self._end(row, OutboxStatus.UNKNOWN, last_error=f"outcome unknown: {exc!r}")
            return True
        SEND_SECONDS.observe(time.perf_counter() - started)
        sent = result if isinstance(result, Message) else None
        log.info("outbox %s: %s to chat %s done", row.id, row.method, chat)
        await self._end(
            row,
            OutboxStatus.SENT,
            sent_at=self._clock(),
            telegram_message_id=sent.message_id if sent is not None else None,
            _message=sent,
        )
        return True

    async def _send_again_if_urgent(self, row: OutboxMessage, exc: Exception) -> None:
        """An urgent message whose fate is unknown goes once more; any other is left as it is."""
        if not _urgent(row):
            log.warning("outbox %s: outcome unknown, not repeated: %r", row.id, exc)
            return
        async with self.db.uow() as uow:
            again = await uow.outbox.enqueue(
                _again_key(row),
                row.chat_telegram_id,
                row.payload,
                method=row.method,
                priority=row.priority,
            )
            await uow.commit()
        if again is not None:
            self.stats["resent"] += 1
            log.warning(
                "outbox %s: outcome unknown; urgent, so sent once more as %s: %r",
                row.id,
                again.id,
                exc,
            )

    async def _back_off(self, row: OutboxMessage, exc: NetworkError) -> bool:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.error("outbox %s: giving up after %d attempts: %s", row.id, attempts, exc)
            await self._end(
                row,
                OutboxStatus.FAILED,
                attempts=attempts,
                last_error=f"gave up after {attempts} attempts: {exc}",
            )
            return True
        delay = min(2.0**attempts, MAX_BACKOFF)
        log.warning(
            "outbox %s: network error, retry %d in %.0f s: %s", row.id, attempts, delay, exc
        )
        await self._retry(row, str(exc), delay, attempts=attempts)
        return False

    async def _retry(
        self,
        row: OutboxMessage,
        error: str,
        delay: float,
        *,
        attempts: int | None = None,
        new_chat: int | None = None,
    ) -> None:
        """Put the row back to pending; a last_error on a pending row holds the chat's queue."""
        values: dict[str, Any] = {
            "not_before": self._clock() + timedelta(seconds=delay),
            "last_error": error,
        }
        retarget: Retarget = None
        if attempts is not None:
            values["attempts"] = attempts
        if new_chat is not None:
            values["chat_telegram_id"] = new_chat
            retarget = (row.chat_telegram_id, new_chat)
        self.stats["retried"] += 1
        MESSAGES.labels(row.method, "retried").inc()
        await self._record(row, OutboxStatus.PENDING, values, retarget=retarget)

    async def _end(self, row: OutboxMessage, status: OutboxStatus, **values: Any) -> None:
        """Record a final outcome, count it, and tell the listeners."""
        message: Message | None = values.pop("_message", None)
        self.stats[status.value] += 1  # sent, failed or unknown
        MESSAGES.labels(row.method, status.value).inc()
        await self._record(row, status, values)
        for prefix, callback in self._listeners:
            if row.idempotency_key.startswith(prefix):
                try:
                    await callback(row, message)
                except Exception:
                    log.exception("outbox %s: listener %r failed", row.id, callback)

    async def _record(
        self,
        row: OutboxMessage,
        status: OutboxStatus,
        values: dict[str, Any],
        *,
        retarget: Retarget = None,
    ) -> None:
        row.status = status
        for key, value in values.items():
            setattr(row, key, value)
        try:
            async with self.db.uow() as uow:
                if retarget is not None:
                    await uow.outbox.retarget(*retarget)
                if not await uow.outbox.settle(row.id, status, **values):
                    log.warning(
                        "outbox %s: row changed while sending; %s not recorded", row.id, status
                    )
                await uow.commit()
        except Exception:
            # The row stays in sending (which holds its chat) until this is written.
            log.exception("outbox %s: could not record %s; will try again", row.id, status)
            self._unsettled.append((row, status, values, retarget))

    async def _settle_leftovers(self) -> None:
        leftovers, self._unsettled = self._unsettled, []
        for row, status, values, retarget in leftovers:
            await self._record(row, status, values, retarget=retarget)

    async def _idle_delay(self) -> float:
        """Seconds until there may be something to send; 0 when the last round was full."""
        if self._busy:
            return 0.0
        now = self._clock()
        delays = [IDLE_WAIT]
        async with self.db.uow() as uow:
            next_due = await uow.outbox.next_not_before(now)
        for when in (next_due, self._next_ready):
            if when is not None:
                delays.append((when - now).total_seconds())
        return max(0.0, min(delays))

    async def _wait(self, stop: asyncio.Event, delay: float) -> None:
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
