"""Do not repeat the same answer in the same chat within a cooldown (a pure helper, clock injected)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class AnswerCooldown:
    """Remembers when each entry was last answered in each chat."""

    def __init__(
        self,
        seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        self.seconds = seconds
        self._clock = clock
        self._max_keys = max_keys
        self._last: OrderedDict[tuple[Hashable, str], float] = OrderedDict()

    def remaining(self, chat_id: Hashable, entry_id: str) -> float:
        """Seconds until this entry may be answered again in this chat (0 when it may)."""
        last = self._last.get((chat_id, entry_id))
        if last is None:
            return 0.0
        return max(0.0, last + self.seconds - self._clock())

    def ready(self, chat_id: Hashable, entry_id: str) -> bool:
        """Whether this entry may be answered in this chat now (records nothing)."""
        return self.remaining(chat_id, entry_id) <= 0.0

    def record(self, chat_id: Hashable, entry_id: str) -> None:
        """Note that this entry was just answered in this chat."""
        key = (chat_id, entry_id)
        self._last[key] = self._clock()
        self._last.move_to_end(key)
        self._prune()

    def allow(self, chat_id: Hashable, entry_id: str) -> bool:
        """If the entry may be answered now, record it and return True; else return False."""
        if not self.ready(chat_id, entry_id):
            return False
        self.record(chat_id, entry_id)
        return True

    def _prune(self) -> None:
        now = self._clock()
        while self._last:
            key, when = next(iter(self._last.items()))
            if len(self._last) <= self._max_keys and when + self.seconds > now:
                break
            del self._last[key]
