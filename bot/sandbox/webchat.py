"""The web chat page (static files) and its live feed of chat events (Server-Sent Events)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aiohttp import web

from bot.sandbox.hub import Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
KEEPALIVE_SECONDS = 15.0
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


class WebChat:
    """GET / (the page), /sandbox/static/<file>, and GET /sandbox/api/events (SSE)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def routes(self) -> list[web.RouteDef]:
        """The page's routes."""
        return [
            web.get("/", self.page),
            web.get("/sandbox/static/{name}", self.static),
            web.get("/sandbox/api/events", self.events),
            web.get("/sandbox/api/file/{file_id}", self.file),
        ]

    async def page(self, request: web.Request) -> web.Response:
        """The chat page."""
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.Response:
        """app.js and app.css (only files that exist in static/, no paths)."""
        name = request.match_info["name"]
        if "/" in name or name.startswith(".") or not (STATIC / name).is_file():
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        path = STATIC / name
        ctype = _TYPES.get(path.suffix, "application/octet-stream")
        return web.Response(
            body=path.read_bytes(),
            content_type=ctype,
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        """A photo or document by file_id, for the page (no token needed)."""
        stored = self.hub.files.get(request.match_info["file_id"])
        path = self.hub.files.by_path(stored.file_path) if stored else None
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """New, edited and deleted messages, toasts and member changes, as they happen."""
        raw_chat = request.query.get("chat_id", "")
        chat_id = int(raw_chat) if raw_chat.lstrip("-").isdigit() else None
        raw_after = request.query.get("after") or request.headers.get("Last-Event-ID", "")
        last = int(raw_after) if raw_after.isdigit() else self.hub.event_seq
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        try:
            await response.write(
                f"retry: 1000\nevent: hello\ndata: {self.hub.event_seq}\n\n".encode()
            )
            while not self.hub.changes.closed:
                fresh = [
                    e
                    for e in list(self.hub.events)
                    if e["seq"] > last and (chat_id is None or e.get("chat_id") in (None, chat_id))
                ]
                if not fresh:
                    seq = self.hub.event_seq
                    await self.hub.changes.wait(KEEPALIVE_SECONDS)
                    if self.hub.event_seq == seq:
                        await response.write(b": keepalive\n\n")
                    continue
                for event in fresh:
                    data = json.dumps(event, ensure_ascii=False)
                    await response.write(f"id: {event['seq']}\ndata: {data}\n\n".encode())
                    last = event["seq"]
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("event stream closed: %s", exc)
        return response
