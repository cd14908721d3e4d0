"""The crash suite's machinery: a sandbox in the test process, the bot as a real process.

The sandbox (the local Telegram) lives in the test process, so it survives every SIGKILL and
keeps the record of what was delivered. The bot runs as `python -m bot run` with a token, so it
talks to the sandbox as it would to Telegram, on SQLite in a file or on a fresh PostgreSQL
database. `Crashes.crash_loop()` starts it and ends it with SIGKILL at seeded random moments:
after a random delay, or inside the sandbox's handling of a Bot API request (the request was
carried out but the bot never hears the outcome).

`tally()` compares the outbox with the sandbox's call log: every row sent exactly once, unknown
outcomes counted, duplicates counted.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.demo import SANDBOX_TOKEN, demo_world, seed_demo
from bot.outbox import AGAIN
from bot.sandbox import SandboxServer, World
from bot.settings import Settings
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import CONCURRENT_ENV, PG_URL_ENV
from tests.e2e.harness import SandboxClient

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0  # seconds for a start on a busy CI machine
TEXT_CUT = 200  # the sandbox's call log cuts longer text here (bot/sandbox/params.py)


@asynccontextmanager
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for the bot process: a SQLite file or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
        return
    import asyncpg

    base = os.environ[PG_URL_ENV]
    name = f"crash_{uuid.uuid4().hex[:12]}"
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def backends(preferred: str) -> list[str]:
    """The backend a scenario runs on: PostgreSQL is preferred only when LINLI_TEST_DATABASE_URL
    says where it is; LINLI_CRASH_BACKENDS=all runs every scenario on both (twice the time)."""
    available = ["sqlite", "postgresql"] if os.environ.get(PG_URL_ENV) else ["sqlite"]
    if os.environ.get("LINLI_CRASH_BACKENDS") == "all":
        return available
    return [preferred if preferred in available else "sqlite"]


class BotProcess:
    """One `python -m bot run` against the sandbox; its log goes to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, patience: float = READY_TIMEOUT) -> float:
        """Start and wait for the ready line (a standby's comes when it takes over); the seconds."""
        began = time.monotonic()
        with self.log.open("ab") as log:
            log.write(f"\n===== start at {time.time():.3f} =====\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=self.env,
                cwd=self.cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(patience):
                while True:
                    line = await self.proc.stdout.readline()
                    if not line:
                        raise AssertionError(
                            f"the bot exited before it was ready (code {await self.proc.wait()}); "
                            f"see {self.log}:\n{self.tail()}"
                        )
                    if b"ready" in line:
                        break
        except TimeoutError as exc:
            self.kill_now()
            raise AssertionError(f"the bot was not ready in {patience} s:\n{self.tail()}") from exc
        return time.monotonic() - began

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def kill_now(self) -> bool:
        """SIGKILL, at once (safe to call from inside a sandbox handler); False if not running."""
        pid = self.pid
        if pid is None:
            return False
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return True

    async def wait(self) -> int:
        """Wait for the process to end; its exit code."""
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self) -> int:
        """A clean stop (SIGTERM), as an operator would; the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            return await self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        """The end of the log, for a failure message."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Crashes:
    """The sandbox, the database and the bot process of one crash scenario."""

    sandbox: SandboxServer
    client: SandboxClient
    db: Database
    settings: Settings
    env: dict[str, str]
    tmp_path: Path
    kills: int = 0
    starts: list[float] = field(default_factory=list)
    bot: BotProcess | None = None
    progress: Callable[[dict[str, Any]], bool] = lambda event: False
    seen: int = 0  # sandbox events that were progress, so far
    kill_at: int | None = None  # SIGKILL inside the sandbox when `seen` reaches this
    moments: Counter[str] = field(default_factory=Counter)
    up: asyncio.Event = field(default_factory=asyncio.Event)  # set while a bot is ready
    kill_when: Callable[[dict[str, Any]], bool] | None = None  # SIGKILL on the first such event

    async def life(self) -> BotProcess:
        """Start the bot (the previous process must be gone)."""
        assert self.bot is None or self.bot.pid is None, "the previous bot still runs"
        self.bot = BotProcess(self.env, self.tmp_path, self.tmp_path / "bot.log")
        self.starts.append(await self.bot.start())
        self.up.set()
        return self.bot

    async def kill(self) -> None:
        """SIGKILL the bot (unless a trigger did) and wait for it to be gone."""
        assert self.bot is not None
        self.kill_at = None
        self.up.clear()
        if self.bot.kill_now():
            self.kills += 1
        code = await self.bot.wait()
        assert code in (-signal.SIGKILL, 0), f"the bot ended with {code}:\n{self.bot.tail()}"

    def _on_event(self) -> None:
        if not self.sandbox.hub.events:
            return
        event = self.sandbox.hub.events[-1]
        if self.kill_when is not None and self.kill_when(event):
            self.kill_when = None
            self._kill_inside()
        if not self.progress(event):
            return
        self.seen += 1
        if self.kill_at is not None and self.seen >= self.kill_at:
            self.kill_at = None
            self._kill_inside()

    def _kill_inside(self) -> None:
        """SIGKILL in the middle of a request: the bot never hears its outcome."""
        self.up.clear()
        if self.bot is not None and self.bot.kill_now():
            self.kills += 1
            self.moments["inside"] += 1

    async def targeted(self, when: Callable[[dict[str, Any]], bool], seconds: float = 30) -> None:
        """One life that ends by SIGKILL the moment the sandbox sees an event `when` matches."""
        self.kill_when = when
        await self.life()
        deadline = time.monotonic() + seconds
        while self.bot is not None and self.bot.pid is not None and self.kill_when is not None:
            assert time.monotonic() < deadline, "the targeted moment never came"
            await asyncio.sleep(0.05)
        self.moments["targeted"] += 1
        self.moments["inside"] -= 1
        await self.kill()

    async def crash_loop(
        self,
        rng: random.Random,
        kills: int,
        busy: Callable[[], Awaitable[bool]],
        *,
        early: tuple[float, float] = (0.0, 2.5),
        burst: int = 40,
    ) -> None:
        """Start the bot and SIGKILL it at a random moment; again, while `busy()` and kills remain.

        Each life ends in one of three ways, chosen at random: `early` (a random delay after
        the ready line: during start-up work, the first tick, or the first sends), `between`
        (a random delay after the first progress of this life: between requests, in the
        database), or `inside` (inside the sandbox, on the n-th progress event of this life:
        the request was carried out and the bot never hears its outcome).
        """
        target = self.kills + kills
        while self.kills < target and await busy():
            await self.life()
            moment = rng.choice(("early", "between", "inside"))
            if moment != "inside":  # an inside kill counts itself when it happens
                self.moments[moment] += 1
            base = self.seen
            progressed = lambda base=base: self.seen > base  # noqa: E731
            if moment == "early":
                await asyncio.sleep(rng.uniform(*early))
            elif moment == "between":
                await self._until(progressed, busy)
                await asyncio.sleep(rng.uniform(0.0, 0.6))
            else:
                self.kill_at = base + rng.randint(1, burst)
                await self._until(lambda: self.bot is None or self.bot.pid is None, busy)
            await self.kill()

    async def _until(self, done: Callable[[], bool], busy: Callable[[], Awaitable[bool]]) -> None:
        """Wait for `done()`, at most 8 s, and not past the end of the work."""
        deadline, polls = time.monotonic() + 8, 0
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            polls += 1
            if polls % 10 == 0 and not done() and not await busy():
                return

    async def stop(self) -> None:
        """Stop the bot cleanly; it must exit with 0."""
        assert self.bot is not None
        self.up.clear()
        code = await self.bot.stop()
        assert code == 0, f"the bot ended with {code}:\n{self.bot.tail()}"

    async def calls(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """The Bot API calls of one method, through GET /sandbox/api/calls."""
        status, body = await self.client.call(
            "GET", "/sandbox/api/calls", params={"method": method}
        )
        assert status == 200, body
        return body["calls"]  # type: ignore[no-any-return]

    async def outbox(self) -> list[OutboxMessage]:
        """Every outbox row."""
        async with self.db.uow() as uow:
            return list((await uow.session.scalars(select(OutboxMessage))).all())


@asynccontextmanager
async def crashes(
    tmp_path: Path, backend: str, world: dict[str, Any] | None = None
) -> AsyncIterator[Crashes]:
    """A sandbox with `world` (default: the demo's), a migrated database seeded with the demo
    community, and the environment that points the bot process at both."""
    world = world or demo_world()
    sandbox = SandboxServer(
        world=World.from_dict(world),
        token=SANDBOX_TOKEN,
        host="127.0.0.1",
        port=0,
        data_dir=tmp_path / "sandbox-files",
        state_path=None,
    )
    await sandbox.start()
    client = SandboxClient(sandbox.base_url)
    async with database_url(backend, tmp_path) as url:
        data = tmp_path / "data"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, LINLI_DATA_DIR=data, LINLI_DATABASE_URL=url, LINLI_QUIET_HOURS="off"
        )
        db = Database(url)
        await db.upgrade()
        await seed_demo(db, settings.timezone, settings.default_language)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=SANDBOX_TOKEN,
            LINLI_TELEGRAM_API_URL=sandbox.bot_api_url,
            LINLI_DATABASE_URL=url,
            LINLI_DATA_DIR=str(data),
            LINLI_WEB_PORT="0",
            LINLI_QUIET_HOURS="off",  # the suite may run at any hour
            LINLI_LOG_LEVEL="INFO",
            PYTHONPATH=str(REPO),
        )
        if os.environ.get(CONCURRENT_ENV):  # how many updates the bot handles at once
            env["LINLI_CONCURRENT_UPDATES"] = os.environ[CONCURRENT_ENV]
        run = Crashes(sandbox, client, db, settings, env, tmp_path)
        sandbox.hub.on_change = run._on_event  # noqa: SLF001 - no state file: the hook is free
        try:
            yield run
        finally:
            if run.bot is not None and run.bot.pid is not None:
                run.bot.kill_now()
                await run.bot.wait()
            await db.dispose()
            await client.close()
            await sandbox.stop()


def text_key(chat_id: Any, text: str) -> tuple[int, str]:
    """How a sendMessage shows in the call log: the chat, and the text cut as the log cuts it."""
    return int(chat_id), text[:TEXT_CUT] + "…" if len(text) > TEXT_CUT else text


@dataclass
class Tally:
    """The outbox against what the sandbox received.

    A message is one idempotency key, with its `<key>:again` row if an urgent send of unknown
    outcome was sent once more; rows are matched to received calls by chat and text.
    """

    messages: int = 0
    rows: int = 0
    sent: int = 0
    unknown: int = 0  # rows whose outcome could not be known
    again: int = 0  # urgent rows of unknown outcome sent once more
    failed: int = 0
    stuck: int = 0  # rows pending or sending after the final run
    missing: int = 0  # messages recorded as sent and never received
    lost: int = 0  # messages never received whose every row was unknown (the kill came first)
    duplicates: int = 0  # deliveries beyond one per message
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the report."""
        return (
            f"{self.messages} messages ({self.rows} outbox rows): {self.sent} rows sent, "
            f"{self.unknown} unknown, {self.again} sent again as urgent, {self.failed} failed; "
            f"{self.stuck} stuck, {self.missing} missing, {self.lost} never arrived (unknown), "
            f"{self.duplicates} duplicates"
        )


def tally(
    rows: list[OutboxMessage], calls: list[dict[str, Any]], prefix: str | tuple[str, ...] = ""
) -> Tally:
    """Each sendMessage row (whose key starts with `prefix`) against the successful calls."""
    out = Tally()
    received = Counter(
        text_key(c["params"]["chat_id"], c["params"].get("text", ""))
        for c in calls
        if c["outcome"] == "ok"
    )
    by_key: dict[tuple[int, str], list[OutboxMessage]] = {}
    for row in rows:
        if row.method != "sendMessage" or not row.idempotency_key.startswith(prefix):
            continue
        out.rows += 1
        key = text_key(row.chat_telegram_id, str(row.payload.get("text", "")))
        by_key.setdefault(key, []).append(row)
        if row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            out.stuck += 1
            out.problems.append(f"{row.idempotency_key} is still {row.status.value}")
        out.sent += row.status is OutboxStatus.SENT
        out.unknown += row.status is OutboxStatus.UNKNOWN
        out.failed += row.status is OutboxStatus.FAILED
        out.again += row.idempotency_key.endswith(AGAIN)
    for key, group in by_key.items():
        messages = {r.idempotency_key.removesuffix(AGAIN) for r in group}
        sure = {
            r.idempotency_key.removesuffix(AGAIN) for r in group if r.status is OutboxStatus.SENT
        }
        unsure = {
            r.idempotency_key.removesuffix(AGAIN) for r in group if r.status is OutboxStatus.UNKNOWN
        } - sure
        got = received[key]
        out.messages += len(messages)
        if got < len(sure):
            out.missing += len(sure) - got
            out.problems.append(f"{key}: {len(sure)} sent, received {got}")
        out.lost += max(0, len(sure) + len(unsure) - got)
        if got > len(messages):
            out.duplicates += got - len(messages)
            out.problems.append(f"{key}: {len(messages)} message(s), received {got} times")
    return out
