"""A running Linli against the sandbox, on free ports, with the demo community."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.demo import demo_world
from bot.runtime import Runtime
from bot.settings import Settings
from tests.e2e.harness import Linli, SandboxClient, with_probe


@pytest.fixture
async def linli(make_settings: Callable[..., Settings]) -> AsyncIterator[Linli]:
    """Linli polling the sandbox, seeded with the demo community."""
    runtime = Runtime(make_settings(), world=with_probe(demo_world()))
    await runtime.start()
    client = SandboxClient(runtime.sandbox.base_url)
    try:
        yield Linli(runtime, client)
    finally:
        await client.close()
        await runtime.stop()
