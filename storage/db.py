"""The engine, the session factory and schema migrations for one database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.uow import UnitOfWork

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class Database:
    """Owns the async engine and hands out units of work."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        connect_args: dict[str, Any] | None = None,
        sqlite_synchronous: str = "full",
    ) -> None:
        self.url = url
        # A server's connection can go stale (restart, failover, idle timeout): ping it before
        # use. A SQLite file cannot; the ping there cost a thread round trip per unit of work.
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": not url.startswith("sqlite")}
        if url.startswith("sqlite"):
            self._ensure_sqlite_folder(url)
            kwargs["connect_args"] = {"timeout": 30}
        if connect_args:
            kwargs["connect_args"] = {**kwargs.get("connect_args", {}), **connect_args}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            if sqlite_synchronous not in ("full", "normal"):
                raise ValueError(
                    f"sqlite_synchronous must be full or normal, not {sqlite_synchronous!r}"
                )
            pragmas = [*_SQLITE_PRAGMAS, f"PRAGMA synchronous={sqlite_synchronous.upper()}"]
            event.listen(
                self.engine.sync_engine,
                "connect",
                lambda dbapi_connection, _record: _run_pragmas(dbapi_connection, pragmas),
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """The backend's name: sqlite or postgresql."""
        return self.engine.dialect.name

    def uow(self) -> UnitOfWork:
        """A new unit of work: one session, one transaction."""
        return UnitOfWork(self.sessions)

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to `revision` on this database."""
        cfg = alembic_config(self.url)
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, cfg, revision)

    async def current_revision(self) -> str | None:
        """The revision the database is at, or None when it is empty."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    @staticmethod
    def head_revision() -> str | None:
        """The newest revision shipped with this code."""
        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    @staticmethod
    def _ensure_sqlite_folder(url: str) -> None:
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _run_upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


_SQLITE_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=30000")


def _run_pragmas(dbapi_connection: Any, pragmas: list[str]) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(pragma)
    cursor.close()
