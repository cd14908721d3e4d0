"""A running Linli against the sandbox, on free ports, with the demo community."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.settings import Settings
from tests.e2e.harness import Linli, running
from tests.e2e.privacy import group_privacy  # noqa: F401  (autouse: residents' groups stay private)


@pytest.fixture
async def linli(make_settings: Callable[..., Settings]) -> AsyncIterator[Linli]:
    """Linli polling the sandbox, seeded with the demo community."""
    async with running(make_settings()) as linli:
        yield linli
