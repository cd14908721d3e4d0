"""Active and standby: one process holds the lock; a standby takes over when it goes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.leader import FileLeadership, PostgresLeadership, leadership_for, lock_key
from tests.conftest import PG_URL_ENV


async def test_a_second_process_on_the_same_sqlite_file_waits(tmp_path: Path) -> None:
    first = FileLeadership(tmp_path / "linli.db.lock", retry=0.01)
    second = FileLeadership(tmp_path / "linli.db.lock", retry=0.01)
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # standby
    await first.release()
    await asyncio.wait_for(waiting, 2)  # takes over once the active one lets go
    await second.release()


def test_the_lock_suits_the_database_and_its_key_ignores_the_password() -> None:
    assert isinstance(leadership_for("sqlite+aiosqlite:////tmp/x/linli.db"), FileLeadership)
    pg = leadership_for("postgresql+asyncpg://u:secret@db:5432/linli")
    assert isinstance(pg, PostgresLeadership)
    assert lock_key("postgresql+asyncpg://u:a@db/linli") == lock_key(
        "postgresql+asyncpg://u:b@db/linli"
    )
    assert lock_key("postgresql+asyncpg://u@db/linli") != lock_key(
        "postgresql+asyncpg://u@db/other"
    )
    assert 0 < lock_key("postgresql+asyncpg://u@db/linli") < 2**62


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV} (CI sets it; .ci/run shows how)")
    return url


async def test_a_standby_takes_over_when_the_active_connection_dies(pg_url: str) -> None:
    import asyncpg

    key = 7_000_000_000 + os.getpid()  # a key of this test alone
    active = PostgresLeadership(pg_url, key=key, retry=0.05, check=0.05)
    standby = PostgresLeadership(pg_url, key=key, retry=0.05, check=0.05)
    await active.acquire()
    taking_over = asyncio.create_task(standby.acquire())
    await asyncio.sleep(0.3)
    assert not taking_over.done()
    stepping_down = asyncio.create_task(active.lost())
    # The active process's connection dies (its machine is gone): PostgreSQL frees the lock.
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        pid = await active._conn.fetchval("SELECT pg_backend_pid()")  # noqa: SLF001
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.wait_for(taking_over, 5)  # the standby is active now
    await asyncio.wait_for(stepping_down, 5)  # and the old one knows it is not
    held = await standby._conn.fetchval(  # noqa: SLF001
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1",
        key & 0xFFFFFFFF,
    )
    assert held == 1
    await standby.release()
    await active.release()
