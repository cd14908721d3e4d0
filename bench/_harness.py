"""Shared pieces of the benchmarks: the sandbox's scripting API, fresh databases, and the bot
(or any bot) as a separate process pointed at a sandbox that lives in the benchmark process.

The bot process gets a core of its own; the sandbox and the load generator share the
benchmark's. `BotProcess` is adapted from tests/chaos/crash_harness.py (start, wait for the
ready line, stop) with what a benchmark needs on top: the pid's memory from /proc and an
optional cProfile of the whole process (LINLI_BENCH_PROFILE=<file>).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

PG_URL_ENV = "LINLI_TEST_DATABASE_URL"
PROFILE_ENV = "LINLI_BENCH_PROFILE"  # a file: the bot process runs under cProfile, stats there
PYSPY_ENV = "LINLI_BENCH_PYSPY"  # a file: py-spy samples the bot process from ready to stop
PYSPY_BIN_ENV = "LINLI_BENCH_PYSPY_BIN"  # where py-spy is (default: py-spy on PATH)
READY_TIMEOUT = 300.0  # a big database or knowledge base on a busy machine


class Sandbox:
    """The sandbox's scripting API over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.http.close()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/sandbox/api/{path}"
        async with self.http.request(method, url, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"{method} {path} -> {response.status} {body}")
            return body

    async def calls(self, method: str, after: int = 0) -> list[dict[str, Any]]:
        body = await self.request("GET", "calls", params={"method": method, "after": str(after)})
        return body["calls"]  # type: ignore[no-any-return]

    async def last_seq(self) -> int:
        body = await self.request("GET", "calls", params={"after": "0"})
        return max((c["seq"] for c in body["calls"]), default=0)


async def fresh_postgres(
    url: str | None = None,
) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    """A new empty database next to `url`'s (default LINLI_TEST_DATABASE_URL), and how to drop it."""
    url = url or os.environ.get(PG_URL_ENV)
    if not url:
        return None
    import asyncpg

    base, _, _ = url.rpartition("/")
    name = f"linli_bench_{uuid.uuid4().hex[:10]}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return f"{base}/{name}", drop


@asynccontextmanager
async def database(pg_url: str | None, folder: Path) -> AsyncIterator[str]:
    """An empty database for one run: a SQLite file in `folder`, or a fresh PostgreSQL
    database beside `pg_url` (dropped after)."""
    if not pg_url:
        yield f"sqlite+aiosqlite:///{folder / 'linli.db'}"
        return
    made = await fresh_postgres(pg_url)
    assert made is not None
    url, drop = made
    try:
        yield url
    finally:
        await drop()


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (the peak) of a process, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+)", status)
    hwm = re.search(r"VmHWM:\s+(\d+)", status)
    assert rss is not None and hwm is not None
    return int(rss.group(1)), int(hwm.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bot_env(
    api_url: str, token: str, database_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of `python -m bot run` against a sandbox: no LINLI_/TELEGRAM_ variable
    of the caller leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=token,
        LINLI_TELEGRAM_API_URL=api_url,
        LINLI_DATABASE_URL=database_url,
        LINLI_DATA_DIR=str(data_dir),
        LINLI_WEB_PORT="0",
        LINLI_QUIET_HOURS="off",
        LINLI_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


LINLI = ["-m", "bot", "run"]


class BotProcess:
    """A bot as a process of its own (default `python -m bot run`); its stderr goes to `log`.

    With LINLI_BENCH_PROFILE=<file> in the caller's environment the process runs under
    cProfile and writes its stats there when it stops cleanly (coroutines and SQLAlchemy's
    greenlets blur its cumulative times). With LINLI_BENCH_PYSPY=<file>, py-spy samples it
    from the ready line to the stop and writes collapsed stacks there (`pip install py-spy`,
    LINLI_BENCH_PYSPY_BIN if it is not on PATH): the better picture of where time goes.
    """

    def __init__(
        self, env: dict[str, str], log: Path, args: list[str] | None = None, cwd: Path = ROOT
    ) -> None:
        self.env, self.log, self.cwd = env, log, cwd
        self.args = args or LINLI
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_seconds = 0.0
        self.spy: asyncio.subprocess.Process | None = None

    async def start(self, limit: float = READY_TIMEOUT) -> float:
        """Start and wait for the ready line; the seconds from spawn to ready."""
        profile = os.environ.get(PROFILE_ENV)
        prefix = ["-m", "cProfile", "-o", profile] if profile else []
        began = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *prefix,
                *self.args,
                env=self.env,
                cwd=self.cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(limit):
                while True:
                    line = await self.proc.stdout.readline()
                    if not line:
                        code = await self.proc.wait()
                        raise RuntimeError(
                            f"the bot exited ({code}) before it was ready:\n{self.tail()}"
                        )
                    if b"ready" in line:
                        break
        except TimeoutError as exc:
            self.kill()
            raise RuntimeError(f"the bot was not ready in {limit:.0f} s:\n{self.tail()}") from exc
        self.ready_seconds = time.perf_counter() - began
        spy = os.environ.get(PYSPY_ENV)
        if spy:
            self.spy = await asyncio.create_subprocess_exec(
                os.environ.get(PYSPY_BIN_ENV, "py-spy"),
                *("record", "--pid", str(self.proc.pid), "--rate", "200", "--format", "raw"),
                *("--output", spy, "--nonblocking"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        return self.ready_seconds

    @property
    def pid(self) -> int:
        assert self.proc is not None and self.proc.returncode is None, "not running"
        return self.proc.pid

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MiB."""
        rss, hwm = memory_kib(self.pid)
        return rss / 1024, hwm / 1024

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with suppress(ProcessLookupError):
                self.proc.kill()

    async def stop(self) -> int:
        """SIGTERM, as an operator would (a profile is written then); the exit code."""
        assert self.proc is not None
        if self.spy is not None and self.spy.returncode is None:
            self.spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled
            await self.spy.wait()
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(60):
                return await self.proc.wait()
        except TimeoutError:
            self.kill()
            return await self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def load_average() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine_line() -> str:
    """Python, cores and the load when the run began, for the printed report."""
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average at start {' '.join(load)}"
    )


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def generated_entries(questions: int, seed: int = 7) -> list[dict[str, object]]:
    """About `questions` generated questions ("12号楼的电梯怎么报修"), five to an entry, ids
    `gen-<n>`: bench/faq_bench.py's words, with up to 500 buildings so that 40,000 fit."""
    import random

    sys.path.insert(0, str(ROOT / "bench"))
    from faq_bench import VERBS, WORDS

    rng = random.Random(seed)
    places = [f"{n}号楼" for n in range(1, 501)] + ["东门", "西门", "南门", "北门", "中心花园"]
    pairs = [(p, w) for p in places for w in WORDS]
    rng.shuffle(pairs)
    entries: list[dict[str, object]] = []
    total = 0
    for i, (place, word) in enumerate(pairs):
        if total >= questions:
            break
        qs = [f"{place}的{word}{verb}" for verb in rng.sample(VERBS, min(5, questions - total))]
        entries.append(
            {"id": f"gen-{i}", "questions": qs, "answer": f"{place}{word}：请联系物业。"}
        )
        total += len(qs)
    return entries


def write_knowledge(folder: Path, questions: int) -> Path:
    """A YAML knowledge-base file of `questions` generated questions (for LINLI_KNOWLEDGE_PATHS)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"generated-{questions}.yaml"
    entries = generated_entries(questions)
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return path
