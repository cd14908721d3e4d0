"""Shared fixtures: settings in a temporary folder, and a migrated database on each backend."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from storage.db import Database
from tests.log_secrets import WATCH, register_settings

PG_URL_ENV = "LINLI_TEST_DATABASE_URL"
# Set, the bots of the tests handle this many updates at once (bot/ordering.py; 1 = one at a
# time); unset, the setting's default (8).
CONCURRENT_ENV = "LINLI_TEST_CONCURRENT_UPDATES"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's .env or exported variables leak into a test."""
    for key in list(os.environ):
        if key.startswith("LINLI_") and key not in (
            PG_URL_ENV,
            CONCURRENT_ENV,
            "LINLI_CHROMIUM",
            "LINLI_REQUIRE_BROWSER",
        ):
            monkeypatch.delenv(key)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: data in tmp_path, free ports, no token."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "LINLI_DATA_DIR": tmp_path / "data",
            "LINLI_SANDBOX_PORT": 0,
            "LINLI_WEB_PORT": 0,
            "LINLI_LOG_LEVEL": "DEBUG",
        }
        if os.environ.get(CONCURRENT_ENV):
            values["LINLI_CONCURRENT_UPDATES"] = os.environ[CONCURRENT_ENV]
        values.update(overrides)
        register_settings(values)  # tokens and secrets given must never show in a log
        return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]

    return make


async def _postgres_database() -> tuple[Database, Callable[[], object]]:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV} (CI sets it; .ci/run shows how)")
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    db = Database(url, connect_args={"server_settings": {"search_path": schema}})

    async def drop() -> None:
        await db.dispose()
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()

    return db, drop


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite in a file, and PostgreSQL in its own schema."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await db.upgrade()
        yield db
        await db.dispose()
        return
    db, drop = await _postgres_database()
    try:
        await db.upgrade()
        yield db
    finally:
        await drop()  # type: ignore[misc]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Watch every log record, DEBUG too, for secrets (tests/log_secrets.py)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(WATCH)
    # aiosqlite narrates every database call at DEBUG; nothing secret, and it would cost time.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # pytest keeps WARNING and above for reports and caplog, as before the root went to DEBUG
    # (keeping every DEBUG line of every passed test costs memory); caplog.set_level still works.
    capture = session.config.pluginmanager.get_plugin("logging-plugin")
    if capture is not None and not session.config.getoption("log_level", None):
        for handler in (capture.caplog_handler, capture.report_handler):
            handler.setLevel(logging.WARNING)


WATCHED_LOGGERS = ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Name the test a secret in the logs came from; a test that ran `configure_logging` (it
    quiets httpx and the like) does not hide the next tests' request lines from the watch."""
    WATCH.test = item.nodeid
    for name in WATCHED_LOGGERS:
        if logging.getLogger(name).level != logging.NOTSET:
            logging.getLogger(name).setLevel(logging.NOTSET)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A secret in any log record fails the run."""
    from tests.proof import record

    logging.getLogger().removeHandler(WATCH)
    record("log records scanned", WATCH.scanned)
    if WATCH.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """State what the proving suite ran: inputs, faults, kills, permission cases (issue 10)."""
    from tests.proof import summary

    if WATCH.findings:
        terminalreporter.section("secrets in the logs", red=True)
        for line in WATCH.report():
            terminalreporter.write_line(line)
    lines = summary()
    if lines:
        terminalreporter.section("what was proven")
        for line in lines:
            terminalreporter.write_line(line)
