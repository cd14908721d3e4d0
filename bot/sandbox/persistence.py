"""Saving the world and its history to a JSON file (debounced) and loading it back on start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.5


class StateFile:
    """A JSON state file: load() once on start, schedule() on every change, flush() on stop."""

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._snapshot = snapshot
        self._task: asyncio.Task[None] | None = None

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none or it is unreadable."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable sandbox state %s: %s", self.path, exc)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("world"), dict):
            log.warning("ignoring the sandbox state %s: not a saved world", self.path)
            return None
        return data

    def schedule(self) -> None:
        """Save soon (many changes in a burst give one write)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._save_later())

    async def _save_later(self) -> None:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        self.save()

    def save(self) -> None:
        """Write the state now, atomically."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(self._snapshot(), ensure_ascii=False), "utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("could not save the sandbox state to %s: %s", self.path, exc)

    async def flush(self) -> None:
        """Write any pending change now (on stop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.save()
