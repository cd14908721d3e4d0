"""The bot's own web server: health checks, the Telegram webhook and extra routes (Open311)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bot.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000

Feed = Callable[[dict[str, Any]], Awaitable[None]]
Check = Callable[[], Awaitable[bool]]
Metrics = Callable[[], Awaitable[bytes]]


def build_web_app(
    *,
    ready: Check,
    feed: Feed | None,
    secret: str | None,
    path: str,
    routes: Sequence[web.AbstractRouteDef] = (),
    metrics: Metrics | None = None,
) -> web.Application:
    """An aiohttp app with /healthz, /readyz, `routes` and, when `feed` is given, the webhook."""
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ok = await ready()
        return web.json_response({"ready": ok}, status=200 if ok else 503)

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook request without the right secret from %s", request.remote)
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "malformed JSON"}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        assert feed is not None
        await feed(data)
        return web.json_response({"ok": True})

    async def metrics_page(_request: web.Request) -> web.Response:
        assert metrics is not None
        body = await metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    if metrics is not None:
        app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/readyz", readyz)
    if feed is not None:
        app.router.add_post(path, webhook)
    app.router.add_routes(routes)
    return app
