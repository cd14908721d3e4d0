"""Starting and stopping Linli: database, sandbox, web server and the bot, in order."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot import metrics
from bot.app import build_application
from bot.clock import Clock, SystemClock
from bot.commands import COMMANDS
from bot.context import Linli
from bot.dashboard import Dashboard
from bot.demo import SANDBOX_TOKEN, demo_world, seed_demo
from bot.i18n import Catalogs
from bot.leader import Leadership, leadership_for, migration_lock
from bot.metrics import DatabaseGauges
from bot.open311 import Open311
from bot.outbox import OutboxDispatcher
from bot.reading import read_update
from bot.redact import install as install_redaction
from bot.redact import protect
from bot.services import Services
from bot.settings import Settings, UpdateMode
from bot.startup import StartupError
from bot.ticker import TICK_SECONDS, Ticker
from bot.web import build_web_app
from knowledge import check_knowledge_base
from storage.db import Database

log = logging.getLogger(__name__)


class Runtime:
    """One running Linli: owns every resource and releases them in reverse order."""

    def __init__(
        self,
        settings: Settings,
        *,
        world: dict[str, Any] | None = None,
        seed: bool = True,
        clock: Clock | None = None,
        tick_seconds: float | None = TICK_SECONDS,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.ticker = Ticker(self.clock)
        self.tick_seconds = tick_seconds
        self.world = world
        self.seed = seed
        self.db: Database | None = None
        self.sandbox: Any = None
        self.application: Application | None = None  # type: ignore[type-arg]
        self.outbox: OutboxDispatcher | None = None
        self._outbox_stop = asyncio.Event()
        self._outbox_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._web_runner: web.AppRunner | None = None
        self._gauges: DatabaseGauges | None = None
        self.leadership: Leadership | None = None
        self.role = "starting"  # then standby, then active
        self.lost = asyncio.Event()  # set when an active process must step down
        self._lost_task: asyncio.Task[None] | None = None
        self.web_port: int | None = None
        self.started_at = time.monotonic()
        self.ready_seconds: float | None = None
        given = settings.webhook_secret
        self._secret = given.get_secret_value() if given else secrets.token_urlsafe(32)
        token = settings.telegram_bot_token
        protect(self._secret, token.get_secret_value() if token else SANDBOX_TOKEN)
        protect(*(entry.partition(":")[0] for entry in settings.open311_api_keys))
        install_redaction()  # request URLs carry the token: logs get it masked, here and in tests

    @property
    def webhook(self) -> bool:
        """True when updates arrive by webhook rather than long polling."""
        return self.settings.mode is UpdateMode.WEBHOOK

    async def start(self) -> None:
        """Migrate, start the sandbox if there is no token, then the web server and the bot."""
        self.started_at = time.monotonic()
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
        self.db = Database(url, sqlite_synchronous=settings.sqlite_synchronous)
        async with migration_lock(url):  # processes starting together migrate one at a time
            await self.db.upgrade()
        if settings.sandbox:
            await self._start_sandbox()
        token, base_url, file_url = self._endpoints()
        services = Services.build(self.db, settings, self.clock)
        self._check_knowledge(services.faq.base_paths)
        linli = Linli(settings, self.db, services, Catalogs(), ticker=self.ticker)
        self.application = build_application(
            linli,
            token=token,
            base_url=base_url,
            base_file_url=file_url,
            with_updater=not self.webhook,
            concurrent_updates=settings.concurrent_updates,
        )
        self.outbox = linli.outbox = OutboxDispatcher(self.db, self.application.bot)
        self.outbox.add_listener("notice:post:", services.notices.sent)
        self.outbox.add_listener("notice:pin:", services.notices.pin_settled)
        self.outbox.add_listener("care:prompt:", services.care.prompt_settled)
        await self._start_web(linli)
        await self.application.initialize()
        await self._check_bot()
        # Standby until this process holds the lock; then it alone polls, schedules and sends.
        self.leadership = leadership_for(url, settings.leader_key)
        self.role = "standby"
        metrics.ACTIVE.set(0)
        await self.leadership.acquire()
        self.role = "active"
        metrics.ACTIVE.set(1)
        self._lost_task = asyncio.create_task(self._watch_leadership(), name="linli-leadership")
        await self.application.start()
        await self.outbox.recover()
        self._outbox_stop.clear()
        self._outbox_task = asyncio.create_task(
            self.outbox.run(self._outbox_stop), name="linli-outbox"
        )
        if self.webhook:
            await self._set_webhook()
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, drop_pending_updates=False
            )
        self.ticker.after_tick(linli.wake_outbox)
        if self.tick_seconds:
            self.ticker.start(self.tick_seconds)
        self.ready_seconds = time.monotonic() - self.started_at
        log.info("Linli is ready in %.2f s", self.ready_seconds)
        # The matcher is built off the event loop; the first question waits for it if needed.
        self._warm_task = asyncio.create_task(services.faq.warm(), name="linli-faq-warm")

    @staticmethod
    def _check_knowledge(paths: list[Any]) -> None:
        kb, problems = check_knowledge_base(paths)
        if kb is None:
            shown = "\n  ".join(problems[:20])
            more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise StartupError(
                f"the knowledge base has {len(problems)} problem(s); fix them or LINLI_KNOWLEDGE_PATHS "
                f"(check with `linli faq check PATH`):\n  {shown}{more}"
            )

    async def _start_sandbox(self) -> None:
        from bot.sandbox import SandboxServer, World  # the sandbox is only needed without a token

        assert self.db is not None
        if self.seed:
            await seed_demo(self.db, self.settings.timezone, self.settings.default_language)
        world = World.from_dict(self.world or demo_world())
        self.sandbox = SandboxServer(
            world=world,
            token=SANDBOX_TOKEN,
            host=self.settings.sandbox_host,
            port=self.settings.sandbox_port,
            data_dir=self.settings.data_dir / "sandbox-files",
            state_path=self.settings.data_dir / "sandbox.json" if self.world is None else None,
        )
        await self.sandbox.start()

    def _endpoints(self) -> tuple[str, str, str]:
        if self.sandbox is not None:
            return SANDBOX_TOKEN, self.sandbox.bot_api_url, self.sandbox.file_url
        assert self.settings.telegram_bot_token is not None
        api = self.settings.telegram_api_url.rstrip("/")
        file_api = api.replace("/bot", "/file/bot") if api.endswith("/bot") else api + "/file/bot"
        return self.settings.telegram_bot_token.get_secret_value(), api, file_api

    @property
    def webhook_path(self) -> str:
        """The path the webhook is served on, taken from LINLI_WEBHOOK_URL."""
        return urlparse(self.settings.webhook_url or "").path or "/telegram/webhook"

    async def _start_web(self, linli: Linli) -> None:
        assert self.db is not None
        app = build_web_app(
            ready=self._ready,
            feed=self._feed if self.webhook else None,
            secret=self._secret,
            path=self.webhook_path,
            routes=[
                *Open311(self.db, self.settings, self.clock).routes(),
                *Dashboard(linli).routes(),
            ],
            metrics=self._metrics,
        )
        self._web_runner = web.AppRunner(app, access_log=None)
        await self._web_runner.setup()
        site = web.TCPSite(self._web_runner, self.settings.web_host, self.settings.web_port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        self.web_port = server.sockets[0].getsockname()[1] if server and server.sockets else None
        host = (
            "127.0.0.1"
            if self.settings.web_host in ("0.0.0.0", "::", "")
            else self.settings.web_host
        )
        linli.web_url = self.settings.dashboard_url or f"http://{host}:{self.web_port}"

    async def _feed(self, data: dict[str, Any]) -> None:
        assert self.application is not None
        update = read_update(data, self.application.bot)  # unreadable: skipped, logged
        await self.application.update_queue.put(update)

    async def _watch_leadership(self) -> None:
        """Step down when the lock can no longer be vouched for: `lost` is set, the CLI exits."""
        assert self.leadership is not None
        await self.leadership.lost()
        metrics.ACTIVE.set(0)
        self.lost.set()

    async def _metrics(self) -> bytes:
        if self._gauges is None:
            assert self.db is not None
            self._gauges = DatabaseGauges(self.db, self.clock.now)
        await self._gauges.refresh()
        metrics.ACTIVE.set(1 if self.role == "active" and not self.lost.is_set() else 0)
        return metrics.render()

    async def _ready(self) -> bool:
        return self.application is not None and self.application.running

    async def _check_bot(self) -> None:
        assert self.application is not None
        bot = self.application.bot
        me = await bot.get_me()
        log.info("connected as @%s (id %s)", me.username, me.id)
        if not me.can_read_all_group_messages:
            log.warning(
                "@%s cannot read all group messages (privacy mode is on), so it will only see "
                "commands and replies in groups. Fix: in @BotFather send /setprivacy, choose "
                "@%s, then Disable; then remove the bot from each group and add it again.",
                me.username,
                me.username,
            )
        await self._set_commands()

    async def _set_commands(self) -> None:
        assert self.application is not None
        catalogs = Catalogs()
        public = [c for c in COMMANDS if c.role is None]
        for language, tg_code in (("zh-CN", None), ("en", "en")):
            tr = catalogs.translator(language)
            commands = [BotCommand(c.name, tr(c.description)[:256]) for c in public]
            try:
                await self.application.bot.set_my_commands(
                    commands, scope=BotCommandScopeDefault(), language_code=tg_code
                )
                await self.application.bot.set_my_commands(
                    commands, scope=BotCommandScopeAllPrivateChats(), language_code=tg_code
                )
            except TelegramError as exc:
                log.warning("could not set the command menu: %s", exc)

    async def _set_webhook(self) -> None:
        assert self.application is not None
        if self.sandbox is not None:
            url = f"http://127.0.0.1:{self.web_port}{self.webhook_path}"
        else:
            url = self.settings.webhook_url or ""
        await self.application.bot.set_webhook(
            url,
            secret_token=self._secret,
            allowed_updates=Update.ALL_TYPES,
        )

    async def stop(self) -> None:
        """Stop the bot, the web server, the sandbox and the database, in that order."""
        app = self.application
        self.ticker.stop()
        if self._warm_task is not None and not self._warm_task.done():
            self._warm_task.cancel()
        if self._outbox_task is not None:
            self._outbox_stop.set()  # a send in flight finishes and is recorded first
            try:
                await asyncio.wait_for(self._outbox_task, timeout=10)
            except TimeoutError:
                log.warning("outbox: still sending after 10 s at shutdown; stopped")
            self._outbox_task = None
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        if self._lost_task is not None:
            self._lost_task.cancel()
            self._lost_task = None
        if self.leadership is not None:
            await self.leadership.release()  # a standby takes over at once
            self.leadership = None
        if self._web_runner is not None:
            await self._web_runner.cleanup()
        if self.sandbox is not None:
            await self.sandbox.stop()
        if self.db is not None:
            await self.db.dispose()
