"""SandboxServer: the Bot API, the scripting API and the web chat page on one local port."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.botapi import BotApi
from bot.sandbox.files import FileStore
from bot.sandbox.hub import Hub
from bot.sandbox.persistence import StateFile
from bot.sandbox.scripting import Scripting
from bot.sandbox.webchat import WebChat
from bot.sandbox.world import Clock, World

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 60 * 1024 * 1024


class SandboxServer:
    """A local server that speaks the Telegram Bot API, for the demo and for tests."""

    def __init__(
        self,
        world: World,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | None = None,
        state_path: Path | None = None,
        clock: Clock | None = None,
        latency: float = 0.0,
    ) -> None:
        # `latency`: seconds every Bot API answer is held back, as the network between a bot
        # and api.telegram.org would (benchmarks; 0 for the demo and the tests).
        self.latency = latency
        if clock is not None:
            world.clock = clock
        self._initial = copy.deepcopy(world.to_dict())
        self._clock = world.clock
        self.token = token
        self.host = host
        self.port = port
        self.files = FileStore(data_dir)
        self.hub = Hub(world, self.files)
        self._state = StateFile(state_path, self._snapshot) if state_path else None
        self._runner: web.AppRunner | None = None

    @property
    def world(self) -> World:
        """The current world (replaced by a reset)."""
        return self.hub.world

    @property
    def base_url(self) -> str:
        """http://host:port (valid after start())."""
        return f"http://{self.host}:{self.port}"

    @property
    def bot_api_url(self) -> str:
        """PTB's base_url: the token and /method are appended to it."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's base_file_url."""
        return f"{self.base_url}/file/bot"

    def _snapshot(self) -> dict[str, Any]:
        return {"version": 1, "saved_at": time.time(), "world": self.hub.world.to_dict()}

    def reset(self) -> None:
        """Back to the world the server was made with; queued updates and faults are dropped."""
        self.hub.replace_world(World.from_dict(copy.deepcopy(self._initial), clock=self._clock))
        self.hub.feed.clear()
        self.hub.faults.clear()
        self.hub.limits.reset()
        self.hub.calls.clear()

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        api = BotApi(self.hub, self.token, self.latency)
        app.router.add_route("*", "/bot{token}/{method}", api.handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_routes(Scripting(self.hub, self.reset).routes())
        app.router.add_routes(WebChat(self.hub).routes())
        return app

    async def _download(self, request: web.Request) -> web.StreamResponse:
        not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
        if request.match_info["token"] != self.token:
            return web.json_response(
                {**not_found, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = self.files.by_path(request.match_info["path"])
        if path is None:
            return web.json_response(not_found, status=404)
        return web.FileResponse(path)

    async def start(self) -> None:
        """Load saved state if any, then listen; port 0 picks a free port."""
        if self._state is not None:
            saved = self._state.load()
            if saved is not None:
                try:
                    self.hub.replace_world(World.from_dict(saved["world"], clock=self._clock))
                    log.info("sandbox state restored from %s", self._state.path)
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("ignoring the broken sandbox state %s: %s", self._state.path, exc)
            self.hub.on_change = self._state.schedule
        self._runner = web.AppRunner(
            self.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        await self.hub.feed.start()
        log.info("sandbox Telegram listening on %s", self.base_url)

    async def stop(self) -> None:
        """Release every waiter, stop listening, save the state."""
        self.hub.changes.close()
        await self.hub.feed.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._state is not None:
            await self._state.flush()
            self._state.save()
        self.files.close()
