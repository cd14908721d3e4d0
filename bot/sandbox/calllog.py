"""A record of every Bot API call, so tests can count what the bot sent."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

MAX_CALLS = 5000


class CallLog:
    """Bot API calls in order, each with its parameters and outcome."""

    def __init__(self) -> None:
        self._calls: deque[dict[str, Any]] = deque(maxlen=MAX_CALLS)
        self._seq = 0

    def add(self, method: str, params: dict[str, Any], outcome: str, status: int) -> None:
        """Record one call."""
        self._seq += 1
        self._calls.append(
            {
                "seq": self._seq,
                "time": time.time(),
                "method": method,
                "params": params,
                "outcome": outcome,
                "status": status,
            }
        )

    def list(self, method: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        """Calls after sequence number `after`, optionally of one method (any case)."""
        return [
            c
            for c in self._calls
            if c["seq"] > after and (not method or c["method"].lower() == method.lower())
        ]

    def clear(self) -> None:
        """Forget the calls (sequence numbers keep increasing)."""
        self._calls.clear()
