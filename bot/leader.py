"""Active and standby: exactly one Linli process polls, schedules and sends.

Any number of `linli run` processes may share one database. On PostgreSQL the active one
holds a session-level advisory lock on a connection of its own; the others wait as standbys,
trying for the lock every `retry` seconds. The lock goes with the connection: when the active
process dies (killed, crashed, its machine gone — TCP keepalives on the lock's connection
tell PostgreSQL within about ten seconds) PostgreSQL releases it and a standby takes over,
rebuilding everything pending from the database. The active process checks its connection
every `check` seconds; if it cannot, it can no longer be sure it holds the lock, and steps
down (the process exits, to come back as a standby) rather than risk two active ones.

On SQLite, where a database is one file on one machine, an exclusive lock on a file beside
it (`<database>.lock`) plays the same part: a second process on the same database waits.

Schema migrations run under a second advisory lock, so processes starting together do not
migrate at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0  # a standby tries for the lock this often
CHECK_SECONDS = 2.0  # the active one checks its lock's connection this often
CHECK_TIMEOUT = 5.0  # … and gives up on an answer after this long
# PostgreSQL closes a dead peer's connection (and frees its lock) after about idle + n × interval.
KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}


class Leadership(Protocol):
    """Who is active: acquire waits to become it; lost() returns when it no longer is."""

    async def acquire(self) -> None:
        """Wait until this process is the active one."""
        ...

    async def lost(self) -> None:
        """Return when this process can no longer be sure it is the active one."""
        ...

    async def release(self) -> None:
        """Let a standby take over (at shutdown)."""
        ...


def lock_key(url: str, salt: str = "active") -> int:
    """A stable 63-bit advisory-lock key for one database (its URL without the password)."""
    parsed = make_url(url)
    safe = f"{parsed.get_backend_name()}://{parsed.username or ''}@{parsed.host or ''}:{parsed.port or ''}/{parsed.database or ''}"
    return zlib.crc32(f"linli:{salt}:{safe}".encode()) | (1 << 40)


def asyncpg_dsn(url: str) -> str:
    """postgresql+asyncpg://… as asyncpg wants it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresLeadership:
    """The active process holds pg_try_advisory_lock(key) on a connection of its own."""

    def __init__(
        self,
        url: str,
        *,
        key: int | None = None,
        retry: float = RETRY_SECONDS,
        check: float = CHECK_SECONDS,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        self.dsn = asyncpg_dsn(url)
        self.key = key if key is not None else lock_key(url)
        self.retry = retry
        self.check = check
        self.server_settings = {**KEEPALIVES, **(server_settings or {})}
        self._conn: Any = None
        self._waiting_logged = False

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(
            self.dsn,
            server_settings={**self.server_settings, "application_name": "linli-leader"},
        )

    async def acquire(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                    log.info("active: holding the lock %s", self.key)
                    return
                if not self._waiting_logged:
                    log.info("standby: another Linli process is active; waiting to take over")
                    self._waiting_logged = True
            except (TimeoutError, OSError) as exc:
                log.warning("standby: cannot reach PostgreSQL for the lock: %s", exc)
                await self._close()
            except Exception as exc:  # noqa: BLE001 - asyncpg's errors; try again later
                log.warning("standby: lock attempt failed: %r", exc)
                await self._close()
            await asyncio.sleep(self.retry)

    async def lost(self) -> None:
        while True:
            await asyncio.sleep(self.check)
            try:
                await asyncio.wait_for(self._conn.fetchval("SELECT 1"), CHECK_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - any failure means the lock may be gone
                log.error(
                    "active: lost the connection that holds the lock (%r); stepping down", exc
                )
                await self._close()
                return

    async def release(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.execute("SELECT pg_advisory_unlock($1)", self.key)
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)


class FileLeadership:
    """An exclusive lock on a file beside the SQLite database."""

    def __init__(self, path: Path, *, retry: float = RETRY_SECONDS) -> None:
        self.path = path
        self.retry = retry
        self._fd: int | None = None
        self._waiting_logged = False

    async def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                if not self._waiting_logged:
                    log.info("standby: another Linli process uses %s; waiting", self.path)
                    self._waiting_logged = True
                await asyncio.sleep(self.retry)
                continue
            self._fd = fd
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return

    async def lost(self) -> None:
        await asyncio.Event().wait()  # a file lock is held until the process ends

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None


def leadership_for(url: str, key: int | None = None) -> Leadership:
    """The lock that suits the database: an advisory lock on PostgreSQL, a file on SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLeadership(url, key=key)
    database = parsed.database or "linli.db"
    return FileLeadership(Path(f"{database}.lock"))


@contextlib.asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Hold PostgreSQL's migration lock while migrating (processes starting at once wait)."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    key = lock_key(url, "migrate")
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
        await conn.close()
