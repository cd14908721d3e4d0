"""Failure injection (queued faults) and Telegram's flood limits for the Bot API."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.errors import ActionError, ApiError, too_many_requests

SENDING_METHODS = {
    "sendmessage", "sendphoto", "senddocument", "copymessage", "forwardmessage",
    "sendaudio", "sendvideo", "sendvoice", "sendsticker", "sendlocation", "sendcontact",
}  # fmt: skip
ERRORS = {400, 403, 429, 500, 502}
TIMEOUTS = {"timeout_before", "timeout_after", "drop"}
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected fault",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Fault:
    """One queued failure: applies to the next `times` calls of `method` (in `chat_id`)."""

    method: str
    error: int | str
    chat_id: str | None = None
    retry_after: int = 5
    description: str | None = None
    times: int = 1
    hold: float = 10.0

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        """Parse the scripting API's fault JSON."""
        if not isinstance(data, dict) or not isinstance(data.get("method"), str):
            raise ActionError("a fault needs a method name", "故障需要指定 method")
        error = data.get("error")
        if error not in ERRORS and error not in TIMEOUTS:
            raise ActionError(
                f"error must be one of {sorted(ERRORS)} or {sorted(TIMEOUTS)}",
                "error 只能是 400/403/429/500/502 或 timeout_before/timeout_after/drop",
            )
        try:
            return cls(
                method=data["method"].lower(),
                error=error,
                chat_id=None if data.get("chat_id") is None else str(data["chat_id"]),
                retry_after=int(data.get("retry_after", 5)),
                description=data.get("description"),
                times=max(1, int(data.get("times", 1))),
                hold=float(data.get("hold", 10.0)),
            )
        except (TypeError, ValueError):
            raise ActionError(
                "times, retry_after and hold must be numbers", "times、retry_after、hold 必须是数字"
            ) from None

    def api_error(self) -> ApiError:
        """The error answer for a numeric fault."""
        if self.error == 429:
            error = too_many_requests(self.retry_after)
            if self.description:
                error.description = self.description
            return error
        code = int(self.error)
        return ApiError(code, self.description or DEFAULT_DESCRIPTIONS[code])

    def to_dict(self) -> dict[str, Any]:
        """The fault as JSON."""
        return dict(self.__dict__)


class FaultBook:
    """Queued faults, consumed in order by matching calls."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        self.faults.append(fault)

    def clear(self) -> None:
        """Forget every queued fault."""
        self.faults.clear()

    def take(self, method: str, chat_id: Any) -> Fault | None:
        """The first fault matching this call, counting one use of it."""
        for fault in self.faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != str(chat_id):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        return None


class _Bucket:
    """A token bucket: `capacity` sends at once, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.at = capacity, rate, capacity, now

    def wait_needed(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class RateLimiter:
    """Telegram's limits: ~30 messages/s overall, 20/min per group, ~1/s per private chat."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.enabled = False
        self._monotonic = monotonic
        self._buckets: dict[Any, _Bucket] = {}

    def _bucket(self, key: Any, capacity: float, rate: float) -> _Bucket:
        if key not in self._buckets:
            self._buckets[key] = _Bucket(capacity, rate, self._monotonic())
        return self._buckets[key]

    def check(self, method: str, chat_id: int, is_group: bool) -> None:
        """Raise 429 with retry_after when this send would exceed a limit."""
        if not self.enabled or method.lower() not in SENDING_METHODS:
            return
        now = self._monotonic()
        buckets = [self._bucket("all", 30, 30.0)]
        if is_group:
            buckets.append(self._bucket(chat_id, 20, 20 / 60))
        else:
            buckets.append(self._bucket(chat_id, 3, 1.0))
        wait = max(b.wait_needed(now) for b in buckets)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.take()

    def reset(self) -> None:
        """Forget all past sends."""
        self._buckets.clear()
