"""Open311 GeoReport v2, read-only, on the bot's web server (docs/repairs.md, "Open311").

`GET /open311/v2/services.json`, `GET /open311/v2/requests.json` and
`GET /open311/v2/requests/{service_request_id}.json`, JSON only. Every call needs an
`api_key` from LINLI_OPEN311_API_KEYS; a key written `key:community_id` sees only that
community. With no keys configured the endpoints answer 404, as if they did not exist.

What leaves: the ticket number, category, status, the last staff note, the resident's
description with phone numbers and flat numbers masked, the community's name, the
building (never unit or room) or the public spot, and times in the community's zone.
Never a phone, a unit or room, a name or a Telegram id.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import ColumnElement, select

from bot.clock import Clock
from bot.services.tickets import CATEGORIES, OPEN
from bot.settings import Settings
from storage.db import Database
from storage.models import Community, Ticket, TicketEvent, TicketStatus
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

BASE = "/open311/v2"
WINDOW = timedelta(days=90)
MAX_RESULTS = 1000

# service_code -> (service_name, description, keywords, group)
SERVICES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "water_power": (
        "水电维修",
        "Water and electricity in a flat: no water, leaks, blocked drains, power cuts, "
        "sockets, lights.",
        ("停水", "漏水", "堵塞", "停电", "跳闸", "water", "leak", "power"),
        "室内 Indoor",
    ),
    "doors_windows": (
        "门窗维修",
        "Doors and windows: locks, door closers, hinges, broken glass, window frames.",
        ("门锁", "门", "窗户", "玻璃", "door", "lock", "window"),
        "室内 Indoor",
    ),
    "lift": (
        "电梯故障",
        "Lifts: stuck, buttons, doors, noises, lights.",
        ("电梯", "困人", "按钮", "lift", "elevator"),
        "公共设施 Shared facilities",
    ),
    "public": (
        "公共区域",
        "Public areas: corridors, stairwell lights, gates, paths, green spaces, parking.",
        ("楼道", "路灯", "大门", "绿化", "corridor", "stairwell", "gate"),
        "公共设施 Shared facilities",
    ),
    "gas": (
        "燃气",
        "Gas: no gas, meters, pipes. A smell of gas is an emergency: call 119 first.",
        ("燃气", "煤气", "gas"),
        "安全 Safety",
    ),
    "other": (
        "其他维修",
        "Anything else that needs repairing.",
        ("其他", "other"),
        "其他 Other",
    ),
}
assert tuple(SERVICES) == CATEGORIES, "one Open311 service per repair category"

STATUS_TEXT = {
    TicketStatus.SUBMITTED: "已提交 submitted",
    TicketStatus.ACCEPTED: "已受理 accepted",
    TicketStatus.ASSIGNED: "已派单 assigned",
    TicketStatus.IN_PROGRESS: "处理中 in progress",
    TicketStatus.DONE: "已完成 done",
    TicketStatus.CLOSED: "已关闭（未维修）closed without a fix",
    TicketStatus.DUPLICATE: "重复报修 duplicate",
    TicketStatus.CANCELLED: "已取消 cancelled",
}
# Events whose note a staff member wrote: what status_notes may carry.
STAFF_NOTES = ("accept", "assign", "start", "done", "reject", "duplicate")

PHONE = re.compile(
    r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)|(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)"
)
FLAT = re.compile(r"\d+\s*(?:单元|室|房间|号房|户)|\b(?:unit|room|flat|apt\.?)\s*\d+", re.I)
MASK = "***"


class Problem(Exception):
    """An answer in the spec's error shape: `[{"code": status, "description": ...}]`."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class ApiKey:
    """A configured key and the community it is limited to (None: every community)."""

    key: str
    community_id: int | None


def parse_keys(entries: Sequence[str]) -> list[ApiKey]:
    """`key` or `key:community_id`, as LINLI_OPEN311_API_KEYS writes them."""
    keys = []
    for entry in entries:
        key, _, community = entry.partition(":")
        keys.append(ApiKey(key, int(community) if community else None))
    return keys


def w3c(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """A W3C date-time with the zone's offset, e.g. 2026-11-30T09:00:00+08:00."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def masked(text: str, ticket: Ticket) -> str:
    """Free text without phone numbers, unit or room numbers (the ticket's own, and any)."""
    text = FLAT.sub(MASK, PHONE.sub(MASK, text))
    for private in (ticket.phone, ticket.room):
        if private and len(private) >= 3:
            text = text.replace(private, MASK)
    return text


def address(ticket: Ticket) -> str | None:
    """The building only ("3号楼"), or the public spot; never the unit or room."""
    if ticket.public_spot:
        return masked(ticket.public_spot, ticket)
    if not ticket.building:
        return None
    building = ticket.building.strip()
    return f"{building}号楼" if building.isdigit() else building


def service_request(
    ticket: Ticket, community: Community, note: str | None, zone: ZoneInfo
) -> dict[str, Any]:
    """One ticket as a GeoReport v2 service request."""
    service_name = SERVICES.get(ticket.category, SERVICES["other"])[0]
    return {
        "service_request_id": ticket.number,
        "status": "open" if ticket.status in OPEN else "closed",
        "status_notes": masked(note, ticket) if note else STATUS_TEXT[ticket.status],
        "service_name": service_name,
        "service_code": ticket.category if ticket.category in SERVICES else "other",
        "description": masked(ticket.description or "", ticket),
        "agency_responsible": community.name,
        "service_notice": "紧急 urgent" if ticket.urgent else None,
        "requested_datetime": w3c(ticket.created_at, zone),
        "updated_datetime": w3c(ticket.updated_at, zone),
        "expected_datetime": None,
        "address": address(ticket),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def services_list() -> list[dict[str, Any]]:
    """services.json: one service per repair category."""
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": description,
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(keywords),
            "group": group,
        }
        for code, (name, description, keywords, group) in SERVICES.items()
    ]


def _answer(body: Any, status: int = 200) -> web.Response:
    return web.json_response(
        body, status=status, dumps=functools.partial(json.dumps, ensure_ascii=False)
    )


def _error(status: int, description: str) -> web.Response:
    return _answer([{"code": status, "description": description}], status)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _spec_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Problem as problem:
            return _error(problem.status, problem.description)

    return guarded


def _parse_when(text: str, name: str, zone: ZoneInfo, end: bool) -> datetime:
    """A W3C date or date-time; a bare date ends at its midnight when it is the end."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Problem(
            400, f"{name} must be a W3C date-time, e.g. 2026-11-30T09:00:00+08:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if end and len(text.strip()) == 10:  # a date only: the whole day
        value += timedelta(days=1)
    return value.astimezone(UTC)


def _listed(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


class Open311:
    """The read-only GeoReport v2 endpoints over the tickets."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.keys = parse_keys(settings.open311_api_keys)
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        """The routes to add to the web server."""
        return [
            web.get(f"{BASE}/services.json", _spec_errors(self.services)),
            web.get(f"{BASE}/requests.json", _spec_errors(self.requests)),
            web.get(f"{BASE}/requests/{{request_id}}.json", _spec_errors(self.request)),
            web.get(BASE + "/{rest:.*}", _spec_errors(self.elsewhere)),
        ]

    # --- access -------------------------------------------------------------------------------

    def _key(self, request: web.Request) -> ApiKey:
        if not self.keys:
            raise Problem(404, "Open311 is not enabled on this server")
        given = request.query.get("api_key", "")
        for key in self.keys:
            if given and hmac.compare_digest(given.encode(), key.key.encode()):
                return key
        log.info("open311: refused a request without a valid api_key from %s", request.remote)
        raise Problem(403, "a valid api_key is required")

    @staticmethod
    async def _community(uow: UnitOfWork, key: ApiKey, request: web.Request) -> Community:
        """The jurisdiction asked for (by code or id), among those the key may see."""
        allowed = [
            c
            for c in await uow.communities.all()
            if key.community_id is None or c.id == key.community_id
        ]
        wanted = request.query.get("jurisdiction_id", "").strip()
        if wanted:
            for community in allowed:
                if wanted.upper() == community.code.upper() or wanted == str(community.id):
                    return community
            raise Problem(400, "unknown jurisdiction_id")
        if len(allowed) == 1:
            return allowed[0]
        if not allowed:
            raise Problem(403, "this api_key's community does not exist")
        codes = ", ".join(c.code for c in allowed)
        raise Problem(400, f"jurisdiction_id is required: one of {codes}")

    # --- routes -------------------------------------------------------------------------------

    async def services(self, request: web.Request) -> web.Response:
        """GET services.json."""
        self._key(request)
        return _answer(services_list())

    async def requests(self, request: web.Request) -> web.Response:
        """GET requests.json with the spec's filters."""
        key = self._key(request)
        async with self.db.uow() as uow:
            community = await self._community(uow, key, request)
            zone = ZoneInfo(community.timezone)
            conditions = [Ticket.community_id == community.id, *self._filters(request, zone)]
            body = await self._found(uow, community, conditions)
        return _answer(body)

    async def request(self, request: web.Request) -> web.Response:
        """GET requests/{service_request_id}.json: a list of one, as the spec has it."""
        key = self._key(request)
        number = request.match_info["request_id"].strip().upper()
        async with self.db.uow() as uow:
            community = await self._community(uow, key, request)
            conditions = [Ticket.community_id == community.id, Ticket.number == number]
            body = await self._found(uow, community, conditions)
        if not body:
            raise Problem(404, f"no service request {number[:40]}")
        return _answer(body)

    async def elsewhere(self, request: web.Request) -> web.Response:
        """Any other path below /open311/v2: only the three JSON resources exist."""
        self._key(request)
        raise Problem(
            404, "not found: this server offers services.json, requests.json and requests/{id}.json"
        )

    # --- reading ------------------------------------------------------------------------------

    def _filters(self, request: web.Request, zone: ZoneInfo) -> list[ColumnElement[bool]]:
        query = request.query
        ids = _listed(query.get("service_request_id"))
        if ids:  # the spec: it overrides all other arguments
            return [Ticket.number.in_([i.upper() for i in ids[:MAX_RESULTS]])]
        conditions: list[ColumnElement[bool]] = []
        codes = _listed(query.get("service_code"))
        unknown = [c for c in codes if c not in SERVICES]
        if unknown:
            raise Problem(400, f"unknown service_code {unknown[0][:40]}")
        if codes:
            conditions.append(Ticket.category.in_(codes))
        statuses = _listed(query.get("status"))
        if any(s not in ("open", "closed") for s in statuses):
            raise Problem(400, "status must be open or closed (or both, comma-separated)")
        if set(statuses) == {"open"}:
            conditions.append(Ticket.status.in_(OPEN))
        elif set(statuses) == {"closed"}:
            conditions.append(Ticket.status.not_in(OPEN))
        start_text, end_text = query.get("start_date"), query.get("end_date")
        start = _parse_when(start_text, "start_date", zone, end=False) if start_text else None
        end = _parse_when(end_text, "end_date", zone, end=True) if end_text else None
        if start is None and end is None:
            end = self.clock.now()
        if start is None:
            assert end is not None
            start = end - WINDOW
        if end is None:
            end = start + WINDOW
        if end < start:
            raise Problem(400, "end_date is before start_date")
        if end - start > WINDOW + timedelta(days=1):
            raise Problem(400, "start_date and end_date may not span more than 90 days")
        conditions += [Ticket.created_at >= start, Ticket.created_at <= end]
        return conditions

    @staticmethod
    async def _found(
        uow: UnitOfWork, community: Community, conditions: list[ColumnElement[bool]]
    ) -> list[dict[str, Any]]:
        """The matching tickets, newest first, with each one's last staff note."""
        tickets = (
            await uow.session.scalars(
                select(Ticket)
                .where(*conditions)
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(MAX_RESULTS)
            )
        ).all()
        notes: dict[int, str] = {}
        rows = await uow.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.note)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(
                *conditions,
                TicketEvent.action.in_(STAFF_NOTES),
                TicketEvent.note.is_not(None),
            )
            .order_by(TicketEvent.id)
        )
        for ticket_id, note in rows.all():
            notes[ticket_id] = note  # the last one wins
        zone = ZoneInfo(community.timezone)
        return [service_request(t, community, notes.get(t.id), zone) for t in tickets]
