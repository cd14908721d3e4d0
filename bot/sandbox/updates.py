"""The bot's update queue: getUpdates long polling, allowed_updates, webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.sandbox.errors import ApiError
from bot.sandbox.signals import Signal

log = logging.getLogger(__name__)

DEFAULT_EXCLUDED = {"chat_member", "message_reaction", "message_reaction_count"}
HISTORY_SIZE = 1000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class _Pending:
    update: dict[str, Any]
    returned: bool = False


@dataclass
class Webhook:
    """The webhook the bot set, and how delivery is going."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None
    allowed_updates: list[str] | None = field(default=None)


class UpdateFeed:
    """Updates waiting for the bot, handed out by getUpdates or POSTed to a webhook."""

    def __init__(self, take_id: Callable[[], int], now: Callable[[], int]) -> None:
        self._take_id = take_id
        self._now = now
        self._pending: list[_Pending] = []
        self._history: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.allowed_updates: list[str] | None = None
        self.last_queued: int | None = None  # the update_id most recently queued
        self.webhook: Webhook | None = None
        self.signal = Signal()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def wants(self, kind: str) -> bool:
        """True when the bot asked for this kind of update (Telegram's default otherwise)."""
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in DEFAULT_EXCLUDED

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue a new update if the bot wants this kind; returns it."""
        if not self.wants(kind):
            log.debug("update %s not in allowed_updates, dropped", kind)
            return None
        return self.inject({"update_id": self._take_id(), kind: payload})

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update as is (an update_id is given when missing)."""
        if not isinstance(update.get("update_id"), int):
            update = {"update_id": self._take_id(), **update}
        self._pending.append(_Pending(update))
        self._history[update["update_id"]] = update
        self.last_queued = update["update_id"]
        while len(self._history) > HISTORY_SIZE:
            self._history.popitem(last=False)
        self.signal.notify()
        return update

    def repeat(self, update_id: int) -> dict[str, Any] | None:
        """Deliver an earlier update again, same update_id (a duplicate)."""
        update = self._history.get(update_id)
        if update is not None:
            self._pending.append(_Pending(update))
            self.signal.notify()
        return update

    @property
    def pending_count(self) -> int:
        """Updates not yet confirmed."""
        return len(self._pending)

    def clear(self) -> None:
        """Forget every pending update."""
        self._pending.clear()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = self._pending[offset:]
            self._pending = keep
            return
        self._pending = [
            p for p in self._pending if not (p.returned and p.update["update_id"] < offset)
        ]

    async def get_updates(
        self, offset: int | None, limit: int, poll_seconds: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates: confirm up to offset, then return pending updates, waiting up to timeout."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if allowed is not None:
            self.allowed_updates = list(allowed)
        if offset is not None:
            self._confirm(offset)
        await self.signal.wait_for(lambda: bool(self._pending), poll_seconds)
        batch = self._pending[: max(1, min(limit, 100))]
        for item in batch:
            item.returned = True
        return [item.update for item in batch]

    def set_webhook(self, hook: Webhook | None, drop_pending: bool) -> None:
        """Set (or remove, with None) the webhook."""
        if drop_pending:
            self._pending.clear()
        if hook is not None and hook.allowed_updates is not None:
            self.allowed_updates = hook.allowed_updates
        self.webhook = hook
        self.signal.notify()

    def webhook_info(self) -> dict[str, Any]:
        """getWebhookInfo's result."""
        hook = self.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if hook.last_error_date:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self.allowed_updates:
            info["allowed_updates"] = self.allowed_updates
        return info

    async def start(self) -> None:
        """Start the webhook deliverer."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        self._task = asyncio.create_task(self._deliver_forever(), name="sandbox-webhook")

    async def stop(self) -> None:
        """Stop delivering and release every waiter."""
        self.signal.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.close()

    async def _deliver_forever(self) -> None:
        failures = 0
        while not self.signal.closed:
            hook = self.webhook
            if hook is None or not self._pending:
                await self.signal.wait(3600)
                continue
            item = self._pending[0]
            error = await self._post(hook, item.update)
            if error is None:
                failures = 0
                if self._pending and self._pending[0] is item:
                    self._pending.pop(0)
                continue
            failures += 1
            hook.last_error_date, hook.last_error_message = self._now(), error
            log.info("webhook delivery failed (%s), retry %d", error, failures)
            await self.signal.wait(min(0.1 * 2 ** (failures - 1), 5.0))

    async def _post(self, hook: Webhook, update: dict[str, Any]) -> str | None:
        assert self._http is not None
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        try:
            async with self._http.post(hook.url, json=update, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return f"Connection failed: {exc.__class__.__name__}"
