"""The staff dashboard: server-rendered pages (Jinja2 on the bot's aiohttp server).

Light on purpose, for an old office PC: plain HTML and one stylesheet, charts drawn as SVG on
the server (pygal), no JavaScript needed. Every page is a function `(request, page) -> dict`
registered with `@registry.get(path, template)`; `Dashboard` checks the session and the viewer's rights on
every request, picks the community (`?c=<id>`, only one the viewer is staff of), renders the
template in the viewer's language, and answers CSV or XLSX when `?format=csv|xlsx` is asked
of a list. POST actions check the session's CSRF token.

Pages live in `bot/dashboard/pages/` (one module each); templates in `templates/`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import N_, Translate
from bot.services.dashboard import Viewer
from bot.ticket_export import to_csv, to_xlsx

log = logging.getLogger(__name__)

BASE = "/dashboard"
COOKIE = "linli_session"
HERE = Path(__file__).resolve().parent


@dataclass
class Page:
    """What a page handler gets: the viewer, the community shown, the translator, the request."""

    request: web.Request
    viewer: Viewer
    community_id: int
    tr: Translate
    linli: Any
    form: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Any:
        """The domain services."""
        return self.linli.services

    @property
    def community(self) -> Any:
        """The community shown."""
        return self.viewer.communities[self.community_id]

    def export_url(self, fmt: str, table: str) -> str:
        """This page's address with its filters, answering a table as CSV or XLSX."""
        query = {k: v for k, v in self.request.query.items() if k not in ("format", "table")}
        query.update(c=str(self.community_id), format=fmt, table=table)
        return f"{self.request.path}?{urlencode(query)}"

    def url(self, path: str, **params: Any) -> str:
        """A dashboard address in the current community."""
        query = {"c": self.community_id, **{k: v for k, v in params.items() if v not in (None, "")}}
        return f"{BASE}{path}?{urlencode(query)}"


@dataclass(frozen=True)
class Table:
    """A list a page shows and exports: a title, the header and the rows (all text)."""

    name: str
    header: list[str]
    rows: list[list[str]]


Handler = Callable[[Page], Awaitable[dict[str, Any]]]
Action = Callable[[Page], Awaitable[str]]  # returns the address to go to next


class Registry:
    """The pages and actions of the dashboard, filled by the page modules."""

    def __init__(self) -> None:
        self.gets: list[tuple[str, str, Handler]] = []
        self.posts: list[tuple[str, Action]] = []

    def get(self, path: str, template: str) -> Callable[[Handler], Handler]:
        """Register a page: GET `path`, rendered with `template`."""

        def wrap(handler: Handler) -> Handler:
            self.gets.append((path, template, handler))
            return handler

        return wrap

    def post(self, path: str) -> Callable[[Action], Action]:
        """Register an action: POST `path` (CSRF-checked), then a redirect."""

        def wrap(action: Action) -> Action:
            self.posts.append((path, action))
            return action

        return wrap


registry = Registry()


class Forbidden(Exception):
    """The viewer may not see or do this (answered 403)."""


class NotFound(Exception):
    """Nothing there (answered 404)."""


class Dashboard:
    """The dashboard's routes on the bot's web server."""

    def __init__(self, linli: Any) -> None:
        self.linli = linli
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        from bot.dashboard import pages as _pages  # noqa: F401  (registers every page)

    def routes(self) -> list[web.RouteDef]:
        """Login, logout, the stylesheet, and every registered page and action."""
        out = [
            web.get(f"{BASE}/login", self.login),
            web.post(f"{BASE}/logout", self.logout),
            web.get(f"{BASE}/static/dashboard.css", self.stylesheet),
        ]
        for path, template, handler in registry.gets:
            out.append(web.get(BASE + path, self._page(template, handler)))
        for path, action in registry.posts:
            out.append(web.post(BASE + path, self._action(action)))
        return out

    # --- signing in and out -------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Open a single-use link: start a session and go to the first page."""
        token = request.query.get("token", "")
        session = await self.linli.services.dashboard.redeem(token)
        if session is None:
            return self._message(
                request,
                None,
                403,
                N_(
                    "This link has expired or was used already. Send /dashboard to Linli in a "
                    "private chat for a new one."
                ),
            )
        response = web.HTTPSeeOther(f"{BASE}/")
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="Lax",
            path=BASE,
            secure=request.secure,
            max_age=12 * 3600,
        )
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """End the session (CSRF-checked: a forged form ends nothing)."""
        viewer = await self._viewer(request)
        form = await request.post()
        if viewer is not None and form.get("csrf") != viewer.csrf:
            return self._message(request, viewer, 403, N_("This form has expired; reload the page."))
        if viewer is not None:
            await self.linli.services.dashboard.end(request.cookies.get(COOKIE, ""))
        response = self._message(request, None, 200, N_("You have signed out."))
        response.del_cookie(COOKIE, path=BASE)
        return response

    async def stylesheet(self, _request: web.Request) -> web.StreamResponse:
        """The one stylesheet."""
        return web.FileResponse(HERE / "static" / "dashboard.css", headers=_SECURITY)

    # --- pages ---------------------------------------------------------------------------------

    async def _viewer(self, request: web.Request) -> Viewer | None:
        return await self.linli.services.dashboard.viewer(request.cookies.get(COOKIE))

    def _community(self, request: web.Request, viewer: Viewer) -> int:
        wanted = request.query.get("c", "")
        if wanted.isdigit():
            if not viewer.may_see(int(wanted)):
                raise Forbidden
            return int(wanted)
        return min(viewer.communities)

    def _page(
        self, template: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            viewer = await self._viewer(request)
            if viewer is None:
                return self._message(
                    request,
                    None,
                    401,
                    N_(
                        "Please sign in: send /dashboard to Linli in a private chat and open the link."
                    ),
                )
            tr = self.linli.catalogs.translator(viewer.language)
            try:
                community_id = self._community(request, viewer)
                page = Page(request, viewer, community_id, tr, self.linli)
                context = await handler(page)
            except Forbidden:
                return self._message(request, viewer, 403, N_("You may not see this."))
            except NotFound:
                return self._message(request, viewer, 404, N_("Not found."))
            wanted = request.query.get("format", "")
            if wanted in ("csv", "xlsx"):
                return self._export(context, wanted, request.query.get("table", ""))
            return self._render(template, request, viewer, page, context)

        return serve

    def _action(self, action: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            viewer = await self._viewer(request)
            if viewer is None:
                return self._message(request, None, 401, N_("Please sign in again."))
            form = {k: str(v) for k, v in (await request.post()).items()}
            if form.get("csrf") != viewer.csrf:
                return self._message(
                    request, viewer, 403, N_("This form has expired; reload the page.")
                )
            tr = self.linli.catalogs.translator(viewer.language)
            try:
                community_id = self._community(request, viewer)
                page = Page(request, viewer, community_id, tr, self.linli, form)
                target = await action(page)
            except Forbidden:
                return self._message(request, viewer, 403, N_("You may not do this."))
            except NotFound:
                return self._message(request, viewer, 404, N_("Not found."))
            self.linli.wake_outbox()
            raise web.HTTPSeeOther(target)

        return serve

    def _render(
        self,
        template: str,
        request: web.Request,
        viewer: Viewer,
        page: Page,
        context: dict[str, Any],
    ) -> web.Response:
        html = self.env.get_template(template).render(
            tr=page.tr, viewer=viewer, page=page, base=BASE, lang=viewer.language, **context
        )
        return web.Response(text=html, content_type="text/html", headers=_SECURITY)

    def _message(
        self, request: web.Request, viewer: Viewer | None, status: int, msgid: str
    ) -> web.Response:
        language = (
            viewer.language
            if viewer
            else _accept_language(request, self.linli.settings.default_language)
        )
        tr = self.linli.catalogs.translator(language)
        html = self.env.get_template("message.html").render(
            tr=tr, viewer=viewer, page=None, base=BASE, lang=language, text=tr(msgid), status=status
        )
        return web.Response(text=html, content_type="text/html", status=status, headers=_SECURITY)

    @staticmethod
    def _export(context: dict[str, Any], fmt: str, name: str) -> web.Response:
        tables: list[Table] = [t for t in context.values() if isinstance(t, Table)]
        table = next((t for t in tables if t.name == name), tables[0] if tables else None)
        if table is None:
            raise web.HTTPNotFound
        filename = f"linli-{table.name}.{fmt}"
        if fmt == "csv":
            body, kind = to_csv(table.header, table.rows), "text/csv; charset=utf-8"
        else:
            body = to_xlsx(table.header, table.rows, table.name)
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return web.Response(
            body=body,
            headers={
                "Content-Type": kind,
                "Content-Disposition": f'attachment; filename="{filename}"',
                **_SECURITY,
            },
        )


_SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    "Cache-Control": "no-store",
}


def _accept_language(request: web.Request, default: str) -> str:
    header = request.headers.get("Accept-Language", "").lower()
    if header.startswith("en"):
        return "en"
    if header.startswith("zh"):
        return "zh-CN"
    return default
