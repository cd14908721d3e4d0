"""The group-message load used by bench/throughput.py and bench/memory_startup.py.

A sandbox in this process with the demo world, the bot under test as a process of its own
(bench/_harness.BotProcess), residents posting a mix of eval/faq_a.txt in the residents'
group at a fixed offered load, and the bot's replies timed from the sandbox's change hook.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from _harness import ROOT, BotProcess, bot_env, database, percentile

from bot.demo import DEMO_BOT, RESIDENTS_GROUP, SANDBOX_TOKEN, demo_world, seed_demo
from bot.sandbox import SandboxServer, World, actions
from bot.settings import Settings
from knowledge.evaluation import load_cases
from storage.db import Database

RESIDENTS = (1001, 1002, 1003, 1004, 3001)
ANSWERABLE_SHARE = 0.40
SENTINEL = "@linli_demo_bot 物业费在哪交"
RATE_GOAL = 300.0
P99_GOAL_MS = 100.0
LATENCY_LOAD = 50.0
BOT_ID = int(DEMO_BOT["id"])  # type: ignore[call-overload]


@dataclass
class Load:
    """What one offered load measured."""

    system: str
    offered: float
    sent: int = 0
    seconds: float = 0.0  # first accepted → the sentinel's answer
    offer_seconds: float = 0.0  # first → last message accepted
    answerable: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, answered messages
    cpu: float = 0.0  # the bot process's CPU seconds over the load
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return (self.sent + 1) / self.seconds if self.seconds else 0.0

    @property
    def achieved_offer(self) -> float:
        return self.sent / self.offer_seconds if self.offer_seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / (self.sent + 1) * 1000


class Replies:
    """The hub's change hook: when the bot's first message quoting each message arrived."""

    def __init__(self, server: SandboxServer) -> None:
        self.hub = server.hub
        self.at: dict[tuple[int, int], float] = {}
        self.waiting: dict[tuple[int, int], asyncio.Future[float]] = {}
        server.hub.on_change = self

    def __call__(self) -> None:
        event = self.hub.events[-1]
        if event["type"] != "new":
            return
        message = event["message"]
        if message.get("from", {}).get("id") != BOT_ID:
            return
        quoted = message.get("reply_to_message")
        if not quoted:
            return
        key = (event["chat_id"], quoted["message_id"])
        if key in self.at:
            return
        now = time.perf_counter()
        self.at[key] = now
        waiter = self.waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    async def wait(self, key: tuple[int, int], seconds: float) -> float | None:
        if key in self.at:
            return self.at[key]
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[key] = waiter
        try:
            return await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            return None


class Mix:
    """Messages drawn from eval/faq_a.txt: 40 % answerable questions, 60 % no-reply ones."""

    def __init__(self, seed: int = 7) -> None:
        cases = load_cases(ROOT / "eval" / "faq_a.txt")
        self.answerable = [c.text for c in cases if c.expected is not None]
        self.silent = [c.text for c in cases if c.expected is None]
        self.rng = random.Random(seed)

    def next(self) -> tuple[str, bool]:
        if self.rng.random() < ANSWERABLE_SHARE:
            return self.rng.choice(self.answerable), True
        return self.rng.choice(self.silent), False


@dataclass
class Target:
    """A bot under test, its sandbox and what watches the replies."""

    name: str
    server: SandboxServer
    replies: Replies
    bot: BotProcess
    mix: Mix = field(default_factory=Mix)
    n: int = 0

    def post(self, text: str) -> tuple[tuple[int, int], float]:
        """A resident posts in the residents' group; (chat, message id) and when it was queued."""
        user = RESIDENTS[self.n % len(RESIDENTS)]
        self.n += 1
        message = actions.send(self.server.hub, RESIDENTS_GROUP, user, text)
        return (RESIDENTS_GROUP, int(message["message_id"])), time.perf_counter()

    async def drain(self, limit: float) -> float | None:
        """Post the addressed sentinel question and wait for its answer; when it came."""
        key, _ = self.post(SENTINEL)
        return await self.replies.wait(key, limit)

    async def load(self, rate: float, seconds: float) -> Load:
        """Offer `rate` messages a second for `seconds`, then wait until all are handled."""
        result = Load(self.name, rate)
        n = max(1, round(rate * seconds))
        posted: list[tuple[tuple[int, int], float, bool]] = []
        cpu0 = self.bot.cpu()
        t0 = time.perf_counter()
        i = 0
        while i < n:
            now = time.perf_counter()
            due = t0 + i / rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            while i < n and t0 + i / rate <= now:
                text, answerable = self.mix.next()
                key, at = self.post(text)
                posted.append((key, at, answerable))
                i += 1
        first = posted[0][1]
        result.sent = n
        result.offer_seconds = posted[-1][1] - first if n > 1 else 1 / rate
        done = await self.drain(limit=120 + n / 20)
        if done is None:
            result.timed_out = True
            done = time.perf_counter()
        result.seconds = done - first
        result.cpu = self.bot.cpu() - cpu0
        for key, at, answerable in posted:
            result.answerable += answerable
            got = self.replies.at.get(key)
            if got is not None:
                result.latencies.append(got - at)
        return result


@asynccontextmanager
async def sandbox(folder: Path, latency: float = 0.0) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(
        latency=latency,
        world=World.from_dict(demo_world()),
        token=SANDBOX_TOKEN,
        host="127.0.0.1",
        port=0,
        data_dir=folder / "sandbox-files",
        state_path=None,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def prepared_demo(url: str, data: Path) -> None:
    """Migrate and seed the demo community, as `linli run` would on first start."""
    settings = Settings(_env_file=None, LINLI_DATA_DIR=data)  # type: ignore[call-arg]
    db = Database(url)
    try:
        await db.upgrade()
        await seed_demo(db, settings.timezone, settings.default_language)
    finally:
        await db.dispose()


@asynccontextmanager
async def target(
    name: str,
    folder: Path,
    pg: str | None = None,
    knowledge: Path | None = None,
    *,
    prepare: Callable[[str], Awaitable[None]] | None = None,
    env_extra: dict[str, str] | None = None,
    warm: bool = True,
    latency: float = 0.0,
) -> AsyncIterator[Target]:
    """Linli (or, for name 'echo', the echo bot) running against a fresh sandbox, warmed up."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before anything runs
    async with sandbox(folder, latency) as server, database(pg, folder) as url:
        data = folder / "data"
        if name == "echo":
            env = bot_env(
                server.bot_api_url, SANDBOX_TOKEN, url, data, ECHO_API_URL=server.bot_api_url
            )
            bot = BotProcess(env, folder / "bot.log", args=[str(ROOT / "bench" / "_echo_bot.py")])
        else:
            await prepared_demo(url, data)
            if prepare is not None:
                await prepare(url)
            extra = {"LINLI_FAQ_COOLDOWN_MINUTES": "0", **(env_extra or {})}
            if knowledge is not None:
                extra["LINLI_KNOWLEDGE_PATHS"] = str(knowledge)
            env = bot_env(server.bot_api_url, SANDBOX_TOKEN, url, data, **extra)
            bot = BotProcess(env, folder / "bot.log")
        await bot.start()
        t = Target(name, server, Replies(server), bot)
        try:
            if warm:  # the matcher is built after the ready line; 40 messages, then the sentinel
                await t.load(20, 2)
            yield t
        finally:
            code = await bot.stop()
            if code not in (0, -15):
                print(f"  {name}: the bot ended with {code}:\n{bot.tail()}", file=sys.stderr)
