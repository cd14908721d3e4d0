"""Open311 GeoReport v2 over HTTP from the running bot's web server: fields, filters, keys."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.services.tickets import CATEGORIES, Action, Draft, TicketService
from bot.settings import Settings
from storage.models import TicketStatus
from tests.e2e.harness import Linli, running
from tests.e2e.test_repair import (
    LI,
    STAFF_GROUP,
    ZHANG,
    last_bot_message,
    outbox_idle,
    press,
    staff_card,
    submit,
)

KEY = "open311-test-key-0123456789"
BOUND = "open311-bound-key-987654321"  # limited to community 2, made by the test
REQUEST_FIELDS: dict[str, tuple[type, ...]] = {
    "service_request_id": (str,),
    "status": (str,),
    "status_notes": (str,),
    "service_name": (str,),
    "service_code": (str,),
    "description": (str,),
    "agency_responsible": (str,),
    "service_notice": (str, type(None)),
    "requested_datetime": (str,),
    "updated_datetime": (str,),
    "expected_datetime": (type(None),),
    "address": (str, type(None)),
    "address_id": (type(None),),
    "zipcode": (type(None),),
    "lat": (type(None),),
    "long": (type(None),),
    "media_url": (type(None),),
}
# What must never leave: 王阿姨's phone, flat, name, username and Telegram id, and the
# phone and flat written into descriptions and notes below.
PRIVATE = (
    "13812345678",
    "13912345678",
    "13700001111",
    "302",
    "1单元",
    "502",
    "王",
    "阿姨",
    "wang_ayi",
    "1001",
    "1002",
    "phone",
    "room",
    "resident",
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def linli(make_settings: Callable[..., Settings], clock: FakeClock) -> AsyncIterator[Linli]:
    settings = make_settings(LINLI_OPEN311_API_KEYS=f"{KEY}, {BOUND}:2")
    async with running(settings, clock=clock, tick_seconds=None) as linli:
        yield linli


async def get(linli: Linli, path: str, **params: str) -> tuple[int, Any, str]:
    """GET a path of the web server: status, decoded JSON and the raw body."""
    url = f"http://127.0.0.1:{linli.runtime.web_port}/open311/v2/{path}"
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as response:
        raw = await response.text()
        assert response.headers["Content-Type"].startswith("application/json"), raw
        return response.status, await response.json(), raw


def tickets_of(linli: Linli) -> TicketService:
    assert linli.runtime.application is not None
    return linli.runtime.application.bot_data["linli"].services.tickets  # type: ignore[no-any-return]


async def one_of_each_status(linli: Linli, clock: FakeClock) -> dict[TicketStatus, str]:
    """One through the sandbox, moved to done by staff; seven more by the service."""
    [done_number] = re.findall(r"BX-\d{4}-\d{4}", await submit(linli))
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "开始")
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "完成")
    prompt = await last_bot_message(linli, STAFF_GROUP)
    await linli.say(
        STAFF_GROUP,
        ZHANG,
        "换了按钮面板，有问题打13912345678",
        reply_to_message_id=prompt["message_id"],
    )
    await outbox_idle(linli)
    numbers = {TicketStatus.DONE: done_number}
    service = tickets_of(linli)
    steps: dict[TicketStatus, list[tuple[Action, dict[str, Any]]]] = {
        TicketStatus.SUBMITTED: [],
        TicketStatus.ACCEPTED: [(Action.ACCEPT, {})],
        TicketStatus.ASSIGNED: [(Action.ASSIGN, {"assignee_name": "赵师傅"})],
        TicketStatus.IN_PROGRESS: [(Action.START, {"note": "师傅已出发"})],
        TicketStatus.CLOSED: [(Action.REJECT, {"note": "属于业主自行维修范围"})],
        TicketStatus.DUPLICATE: [(Action.DUPLICATE, {"duplicate_of": 2})],
        TicketStatus.CANCELLED: [(Action.CANCEL, {})],
    }
    for index, (status, actions) in enumerate(steps.items()):
        clock.advance(minutes=10)
        draft = Draft(
            category=CATEGORIES[index % len(CATEGORIES)],
            description=f"第{index}个问题：2单元502室水管漏水，电话13700001111",
            building="3",
            unit="2",
            room="502",
            phone="13700001111",
            urgent=index == 0,
        )
        if status is TicketStatus.CANCELLED:
            draft = Draft(category="public", description="楼道灯不亮", public_spot="5号楼东侧楼道")
        ticket = await service.submit(1, LI, draft)
        for action, options in actions:
            actor = LI if action is Action.CANCEL else ZHANG
            result = await service.act(ticket.id, actor, action, **options)
            assert result.ticket is not None and result.ticket.status is status, result
        numbers[status] = ticket.number
    return numbers


async def test_services_list_one_service_per_category(linli: Linli) -> None:
    status, services, _raw = await get(linli, "services.json", api_key=KEY)
    assert status == 200
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    for service in services:
        assert set(service) == {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        }
        assert service["metadata"] is False and service["type"] == "realtime"
        assert all(isinstance(service[k], str) and service[k] for k in ("keywords", "group"))
        assert any("\u4e00" <= ch <= "\u9fff" for ch in service["service_name"])
        assert service["description"].isascii()
    lift = next(s for s in services if s["service_code"] == "lift")
    assert lift["service_name"] == "电梯故障"


async def test_every_field_of_the_standard_and_the_open_closed_mapping(
    linli: Linli, clock: FakeClock
) -> None:
    numbers = await one_of_each_status(linli, clock)
    status, found, raw = await get(linli, "requests.json", api_key=KEY, jurisdiction_id="YG")
    assert status == 200 and len(found) == 8
    by_number = {r["service_request_id"]: r for r in found}
    for request in found:
        assert set(request) == set(REQUEST_FIELDS), request
        for field, types in REQUEST_FIELDS.items():
            assert isinstance(request[field], types), (field, request[field])
        for field in ("requested_datetime", "updated_datetime"):
            assert request[field].endswith("+08:00"), request[field]
            assert datetime.fromisoformat(request[field]).tzinfo is not None
        assert request["agency_responsible"] == "阳光花园"
    expected = {
        TicketStatus.SUBMITTED: "open",
        TicketStatus.ACCEPTED: "open",
        TicketStatus.ASSIGNED: "open",
        TicketStatus.IN_PROGRESS: "open",
        TicketStatus.DONE: "closed",
        TicketStatus.CLOSED: "closed",
        TicketStatus.DUPLICATE: "closed",
        TicketStatus.CANCELLED: "closed",
    }
    for ticket_status, number in numbers.items():
        assert by_number[number]["status"] == expected[ticket_status], ticket_status

    done = by_number["BX-2026-0001"]
    assert done["service_code"] == "lift" and done["address"] == "3号楼"
    assert done["description"] == "电梯按钮失灵，按了没反应"
    assert done["status_notes"] == "换了按钮面板，有问题打***"  # the staff note, phone masked
    assert done["requested_datetime"] == "2026-11-30T09:00:00+08:00"
    submitted = by_number[numbers[TicketStatus.SUBMITTED]]
    assert submitted["status_notes"] == "已提交 submitted"  # no note yet: the status's name
    assert submitted["service_notice"] == "紧急 urgent"
    assert "***" in submitted["description"] and "水管漏水" in submitted["description"]
    assert by_number[numbers[TicketStatus.IN_PROGRESS]]["status_notes"] == "师傅已出发"
    assert by_number[numbers[TicketStatus.CLOSED]]["status_notes"] == "属于业主自行维修范围"
    assert by_number[numbers[TicketStatus.CANCELLED]]["address"] == "5号楼东侧楼道"
    assert [r["service_request_id"] for r in found][0] == numbers[TicketStatus.CANCELLED]
    for private in PRIVATE:
        assert private not in raw, private


async def test_the_spec_filters(linli: Linli, clock: FakeClock) -> None:
    now = clock.now()
    clock.set(datetime(2026, 7, 1, 2, 0, tzinfo=UTC))  # an old one, 152 days before
    old = await tickets_of(linli).submit(1, LI, Draft(category="gas", description="燃气表不走"))
    clock.set(now)
    numbers = await one_of_each_status(linli, clock)

    async def ids(**params: str) -> list[str]:
        status, found, _raw = await get(linli, "requests.json", api_key=KEY, **params)
        assert status == 200, found
        return sorted(r["service_request_id"] for r in found)

    default = await ids()
    assert len(default) == 8 and old.number not in default  # the last 90 days
    done = numbers[TicketStatus.DONE]
    assert await ids(service_request_id=f"{old.number}, {done},BX-2026-0999") == sorted(
        [old.number, done]
    )  # the ids override every other argument, including the dates
    assert await ids(service_request_id=old.number, status="open") == [old.number]
    open_ones = await ids(status="open")
    assert open_ones == sorted(
        numbers[s]
        for s in (
            TicketStatus.SUBMITTED,
            TicketStatus.ACCEPTED,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
        )
    )
    assert len(await ids(status="closed")) == 4
    assert len(await ids(status="open,closed")) == 8
    assert await ids(service_code="lift") == sorted(
        [done, numbers[TicketStatus.ASSIGNED]]  # the third of the others is a lift
    )
    assert len(await ids(service_code="lift,gas")) == 3
    assert await ids(start_date="2026-06-30", end_date="2026-07-02") == [old.number]
    assert await ids(start_date="2026-06-30T00:00:00Z", end_date="2026-07-01T01:59:59Z") == []
    assert await ids(end_date="2026-07-01") == [old.number]  # a date: the whole day, 90 days back
    assert len(await ids(start_date="2026-11-30T09:15:00+08:00")) == 6  # the later ones
    assert await ids(jurisdiction_id="1", service_code="other", status="closed") == [
        numbers[TicketStatus.DUPLICATE]
    ]

    for params, needle in (
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"start_date": "2026-01-01", "end_date": "2026-11-30"}, "90 days"),
        ({"start_date": "2026-11-30", "end_date": "2026-11-01"}, "before"),
        ({"status": "pending"}, "status"),
        ({"service_code": "pothole"}, "service_code"),
        ({"jurisdiction_id": "XX"}, "jurisdiction_id"),
    ):
        status, body, _raw = await get(linli, "requests.json", api_key=KEY, **params)
        assert status == 400, params
        [error] = body
        assert set(error) == {"code", "description"} and error["code"] == 400
        assert needle in error["description"], (params, error)


async def test_one_request_and_unknown_ones(linli: Linli, clock: FakeClock) -> None:
    await submit(linli)
    status, body, raw = await get(linli, "requests/BX-2026-0001.json", api_key=KEY)
    assert status == 200 and len(body) == 1
    assert body[0]["service_request_id"] == "BX-2026-0001" and body[0]["status"] == "open"
    assert set(body[0]) == set(REQUEST_FIELDS)
    assert "13812345678" not in raw and "302" not in raw
    for path in ("requests/BX-2026-0002.json", "requests/nothing.json"):
        status, body, _raw = await get(linli, path, api_key=KEY)
        assert status == 404
        assert body == [{"code": 404, "description": body[0]["description"]}]
    status, body, _raw = await get(linli, "requests/BX-2026-0001.xml", api_key=KEY)
    assert status == 404 and "json" in body[0]["description"]


async def test_keys_and_jurisdictions(linli: Linli, clock: FakeClock) -> None:
    await submit(linli)
    for params in ({}, {"api_key": "wrong-key-wrong-key-wrong"}, {"api_key": KEY[:-1]}):
        for path in ("services.json", "requests.json", "requests/BX-2026-0001.json"):
            status, body, raw = await get(linli, path, **params)
            assert status == 403, (path, params)
            assert body[0]["code"] == 403 and "BX-" not in raw
    # the bound key's community does not exist yet
    status, body, _raw = await get(linli, "requests.json", api_key=BOUND)
    assert status == 403 and "community" in body[0]["description"]

    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        other = await uow.communities.add("翠湖苑", "CH", "Asia/Shanghai", "zh-CN")
        await uow.commit()
    assert other.id == 2
    theirs = await tickets_of(linli).submit(
        other.id, LI, Draft(category="lift", description="2号梯异响", building="A座")
    )
    assert theirs.number == "BX-2026-0001"  # numbers are per community

    status, body, _raw = await get(linli, "requests.json", api_key=KEY)
    assert status == 400 and "YG" in body[0]["description"] and "CH" in body[0]["description"]
    status, found, _raw = await get(linli, "requests.json", api_key=KEY, jurisdiction_id="ch")
    assert [(r["agency_responsible"], r["address"]) for r in found] == [("翠湖苑", "A座")]
    status, found, _raw = await get(linli, "requests.json", api_key=BOUND)
    assert [r["description"] for r in found] == ["2号梯异响"]
    status, found, _raw = await get(linli, "requests/BX-2026-0001.json", api_key=BOUND)
    assert found[0]["agency_responsible"] == "翠湖苑"
    status, body, _raw = await get(linli, "requests.json", api_key=BOUND, jurisdiction_id="YG")
    assert status == 400 and body[0]["code"] == 400
    status, found, _raw = await get(linli, "services.json", api_key=BOUND)
    assert status == 200 and len(found) == 6


async def test_without_keys_the_endpoints_do_not_exist(
    make_settings: Callable[..., Settings],
) -> None:
    async with running(make_settings(), tick_seconds=None) as linli:
        for path in ("services.json", "requests.json", "requests/BX-2026-0001.json"):
            status, body, _raw = await get(linli, path, api_key=KEY)
            assert status == 404 and body[0]["code"] == 404, path
