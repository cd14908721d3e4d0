"""The dashboard's Tickets pages over HTTP, through the real bot and sandbox on a fake clock:
the queue and its filters, one ticket with history and photos, staff actions that reach the
resident through the bot, exports, and other communities' tickets refused."""

from __future__ import annotations

import io
import re
from typing import Any

import aiohttp
from openpyxl import load_workbook

from bot.clock import FakeClock
from bot.context import APP_KEY
from bot.demo import STAFF_GROUP
from bot.services.tickets import Draft
from tests.e2e import test_repair
from tests.e2e.harness import Linli
from tests.e2e.test_dashboard import base, get, login_link
from tests.e2e.test_repair import EMMA, LI, LIU, WANG, outbox_idle, staff_card, submit

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock
FIRST, SECOND = "BX-2026-0001", "BX-2026-0002"


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def signed_in(session: aiohttp.ClientSession, linli: Linli) -> str:
    """Open a fresh link; returns the CSRF token of the session."""
    status, html = await get(session, await login_link(linli))
    assert status == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf
    return csrf.group(1)


async def post(
    session: aiohttp.ClientSession, url: str, data: dict[str, str]
) -> tuple[int, str, str]:
    """POST a form, follow the redirect; returns the status, the final address and the page."""
    async with session.post(url, data=data) as response:
        return response.status, str(response.url), await response.text()


def rows_of(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


async def resident_texts(linli: Linli, chat: int = WANG) -> list[str]:
    await outbox_idle(linli)
    return [m.get("text") or "" for m in await linli.sandbox.transcript(chat)]


async def two_tickets(linli: Linli, clock: FakeClock) -> None:
    """Wang's lift (building 3) is 49 hours old, overdue; Li's (building 5) is new."""
    await submit(linli, WANG)
    clock.advance(hours=49)
    await submit(linli, LI)


async def test_the_queue_filters_and_shows_the_overdue_in_red(
    linli: Linli, clock: FakeClock
) -> None:
    await two_tickets(linli, clock)
    async with browser() as session:
        await signed_in(session, linli)
        status, html = await get(session, base(linli) + "/tickets")
        assert status == 200 and "<script" not in html
        rows = rows_of(html)
        assert len(rows) == 2
        [late] = [r for r in rows if FIRST in r]
        [fresh] = [r for r in rows if SECOND in r]
        assert 'class="late"' in late and 'class="late"' not in fresh
        assert "电梯" in late and "3号楼1单元302室" in late and "已提交" in late
        assert "电梯按钮失灵" in late and f"/dashboard/tickets/{FIRST}?c=" in late

        status, html = await get(session, base(linli) + "/tickets?status=overdue")
        assert [FIRST in r for r in rows_of(html)] == [True]
        status, html = await get(session, base(linli) + "/tickets?building=5")
        assert [SECOND in r for r in rows_of(html)] == [True]
        assert '<option value="5" selected>' in html
        status, html = await get(session, base(linli) + "/tickets?category=lift&status=all")
        assert len(rows_of(html)) == 2
        status, html = await get(session, base(linli) + "/tickets?category=gas")
        assert rows_of(html) == [] and "没有符合条件的报修单" in html
        status, html = await get(session, base(linli) + "/tickets?status=mine")
        assert rows_of(html) == []  # nothing assigned to Zhang yet


async def test_a_ticket_shows_everything_its_history_and_photos(
    linli: Linli, clock: FakeClock
) -> None:
    await submit(linli, WANG)
    async with browser() as session:
        await signed_in(session, linli)
        status, html = await get(session, base(linli) + f"/tickets/{FIRST}")
        assert status == 200
        for expected in (
            FIRST,
            "电梯按钮失灵，按了没反应",
            "3号楼1单元302室",
            "13812345678",  # staff may see the phone
            "明天上午",
            "王 阿姨",
            "已提交",
        ):
            assert expected in html, expected
        assert 'name="csrf"' in html and 'value="accept"' in html
        photo = re.search(r'<img src="([^"]+/photo/0[^"]*)"', html)
        assert photo
        url = f"http://127.0.0.1:{linli.runtime.web_port}" + photo.group(1).replace("&amp;", "&")
        async with session.get(url) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/png"
            assert (await response.read()).startswith(b"\x89PNG")
        status, _ = await get(session, base(linli) + f"/tickets/{FIRST}/photo/7")
        assert status == 404
        status, _ = await get(session, base(linli) + "/tickets/BX-2026-0099")
        assert status == 404
        async with session.get(base(linli) + f"/tickets/{FIRST}?format=csv") as response:
            history = (await response.read()).decode("utf-8-sig")
        assert "王 阿姨" in history and "已提交" in history


async def test_staff_act_from_the_dashboard_and_the_resident_hears_it(
    linli: Linli, clock: FakeClock
) -> None:
    await submit(linli, WANG)
    page = base(linli) + f"/tickets/{FIRST}"
    act = page + "/act"
    async with browser() as session:
        csrf = await signed_in(session, linli)
        form = {"csrf": csrf, "action": "accept", "expected": "submitted"}
        async with session.post(act, data={**form, "csrf": "forged"}) as response:
            assert response.status == 403
        status, url, html = await post(session, act, form)
        assert status == 200 and "done=accept" in url and "已受理" in html
        assert any(FIRST in t and "已受理" in t for t in await resident_texts(linli))
        card = await staff_card(linli)
        assert "状态：已受理" in card["text"]  # the staff card is up to date too

        # The same press again (a page left open): nothing happens, the page says why.
        before = len(await resident_texts(linli))
        status, url, html = await post(session, act, form)
        assert "error=stale" in url and "张 主任" in html
        assert len(await resident_texts(linli)) == before

        # Reject needs a reason; assigning picks a volunteer of the community.
        reject = {"csrf": csrf, "action": "reject", "expected": "accepted", "note": " "}
        status, url, html = await post(session, act, reject)
        assert "error=note" in url
        assign = {"csrf": csrf, "action": "assign", "expected": "accepted", "assignee": str(LIU)}
        status, url, html = await post(session, act, assign)
        assert "done=assign" in url
        status, html = await get(session, page)
        assert "小刘" in html and "已派单" in html
        status, url, html = await post(
            session,
            act,
            {"csrf": csrf, "action": "done", "expected": "assigned", "note": "换了面板"},
        )
        assert "done=done" in url
        texts = await resident_texts(linli)
        assert any("已完成" in t and "换了面板" in t for t in texts)
        status, html = await get(session, page)
        assert 'value="accept"' not in html  # nothing more to do on a done ticket
        for step in ("受理", "派单", "完成", "张 主任"):
            assert step in html, step
    assert STAFF_GROUP  # the card lives in the staff group


async def test_the_queue_exports_as_csv_and_xlsx(linli: Linli, clock: FakeClock) -> None:
    await two_tickets(linli, clock)
    async with browser() as session:
        await signed_in(session, linli)
        async with session.get(base(linli) + "/tickets?format=csv&table=tickets") as response:
            assert response.status == 200 and "text/csv" in response.headers["Content-Type"]
            lines = (await response.read()).decode("utf-8-sig").splitlines()
        assert len(lines) == 3 and FIRST in lines[2] and "是" in lines[2]
        assert "电梯按钮失灵，按了没反应" in lines[1]
        url = base(linli) + "/tickets?format=xlsx&table=tickets&building=3"
        async with session.get(url) as response:
            assert response.status == 200 and "spreadsheetml" in response.headers["Content-Type"]
            book = load_workbook(io.BytesIO(await response.read()))
        values = [[c.value for c in row] for row in book.active.iter_rows()]
        assert len(values) == 2 and values[1][0] == FIRST


async def test_another_community_s_tickets_are_refused(linli: Linli, clock: FakeClock) -> None:
    await submit(linli, WANG)
    services: Any = linli.runtime.application.bot_data[APP_KEY].services  # type: ignore[union-attr]
    async with linli.runtime.db.uow() as uow:  # type: ignore[union-attr]
        other = await uow.communities.add("翠湖苑", "CH", "Asia/Shanghai", "zh-CN")
        await uow.commit()
        other_id = other.id
    secret = "翠湖苑的秘密漏水"
    for _ in range(2):
        theirs = await services.tickets.submit(
            other_id, EMMA, Draft(category="water_power", description=secret, phone="13900009999")
        )
    assert theirs.number == SECOND
    async with browser() as session:
        csrf = await signed_in(session, linli)
        for path in (
            f"/tickets/{SECOND}",
            f"/tickets/{theirs.id}",
            f"/tickets/{SECOND}/photo/0",
        ):
            status, html = await get(session, base(linli) + path)
            assert status == 404 and secret not in html and "13900009999" not in html, path
        status, html = await get(session, base(linli) + f"/tickets/{SECOND}?c={other_id}")
        assert status == 403 and secret not in html
        status, html = await get(session, base(linli) + "/tickets?status=all")
        assert secret not in html
        form = {"csrf": csrf, "action": "accept", "expected": "submitted"}
        async with session.post(base(linli) + f"/tickets/{theirs.id}/act", data=form) as response:
            assert response.status == 404
        async with session.post(
            base(linli) + f"/tickets/{SECOND}/act?c={other_id}", data=form
        ) as response:
            assert response.status == 403
    assert (await services.tickets.get(theirs.id)).status.value == "submitted"
