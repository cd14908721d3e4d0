"""The staff dashboard over HTTP: single-use links, sessions, rights, pages, exports."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from bot.clock import FakeClock
from tests.e2e import test_repair
from tests.e2e.harness import Linli
from tests.e2e.test_care import enrol
from tests.e2e.test_repair import EMMA, ZHANG

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock


async def login_link(linli: Linli, user: int = ZHANG) -> str:
    [answer] = await linli.say(user, user, "/dashboard")
    found = re.search(r"(http://\S+/dashboard/login\?token=\S+)", answer["text"])
    assert found, answer["text"]
    return found.group(1)


async def get(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, str]:
    async with session.get(url, **kwargs) as response:
        return response.status, await response.text()


def base(linli: Linli) -> str:
    return f"http://127.0.0.1:{linli.runtime.web_port}/dashboard"


async def test_a_staff_link_opens_a_session_once_and_shows_today(linli: Linli, clock: FakeClock) -> None:
    await enrol(linli, clock)
    link = await login_link(linli)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        status, html = await get(browser, link)
        assert status == 200 and "今天的问安" in html and "李奶奶" in html
        status, again = await get(browser, link)  # the same link again: refused, session intact
        assert status == 403 and "已过期或已被使用" in again
        status, html = await get(browser, base(linli) + "/")
        assert status == 200 and "李奶奶" in html
        async with browser.get(base(linli) + "/?format=csv&table=checkins") as response:
            assert response.status == 200 and "text/csv" in response.headers["Content-Type"]
            assert "李奶奶" in (await response.read()).decode("utf-8-sig")
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        assert csrf
        async with browser.post(base(linli) + "/logout", data={"csrf": "forged"}) as response:
            assert response.status == 403
        status, html = await get(browser, base(linli) + "/")
        assert status == 200  # a forged sign-out did nothing
        async with browser.post(base(linli) + "/logout", data={"csrf": csrf.group(1)}) as response:
            assert response.status == 200
        status, html = await get(browser, base(linli) + "/")
        assert status == 401 and "/dashboard" in html


async def test_residents_expired_links_and_other_communities_get_nothing(
    linli: Linli, clock: FakeClock
) -> None:
    [answer] = await linli.say(EMMA, EMMA, "/dashboard")
    assert "Dashboard is for committee staff".lower() in answer["text"].lower() and "token=" not in answer["text"]
    link = await login_link(linli)
    clock.advance(minutes=11)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        status, html = await get(browser, link)
        assert status == 403
        status, _ = await get(browser, base(linli) + "/")
        assert status == 401
        status, _ = await get(browser, link.replace("token=", "token=x"))
        assert status == 403
    async with linli.runtime.db.uow() as uow:  # type: ignore[union-attr]
        other = await uow.communities.add("翠湖苑", "CH", "Asia/Shanghai", "zh-CN")
        await uow.commit()
        other_id = other.id
    link = await login_link(linli)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        status, _ = await get(browser, link)
        assert status == 200
        status, html = await get(browser, base(linli) + f"/?c={other_id}")
        assert status == 403 and "翠湖苑" not in html


async def test_trends_draw_charts_from_the_community_s_own_numbers(linli: Linli, clock: FakeClock) -> None:
    from tests.e2e.test_care import GRANNY, at, local
    from tests.e2e.test_repair import submit

    await enrol(linli, clock)
    await at(linli, clock, local(11, 30, 9, 0))
    await linli.say(GRANNY, GRANNY, "我很好 👍")
    await submit(linli)
    await linli.say(EMMA, EMMA, "/ask where can I park my boat")
    link = await login_link(linli)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        status, _ = await get(browser, link)
        assert status == 200
        status, html = await get(browser, base(linli) + "/trends")
        assert status == 200 and html.count("<svg") == 4 and "<script" not in html
        assert "30 天" in html or "30" in html
        async with browser.get(base(linli) + "/trends?format=csv&table=checkins-per-day") as response:
            rows = (await response.read()).decode("utf-8-sig").splitlines()
        assert rows[-1] == "2026-11-30,1,1"
        async with browser.get(base(linli) + "/trends?format=csv&table=tickets-per-week") as response:
            weekly = (await response.read()).decode("utf-8-sig").splitlines()
        assert weekly[-1].startswith("2026-11-30,1,0")
        async with browser.get(base(linli) + "/trends?format=csv&table=questions-per-week") as response:
            faq = (await response.read()).decode("utf-8-sig").splitlines()
        # (questions are logged at the real time, not the fake clock's: count the whole table)
        assert sum(int(row.split(",")[2]) for row in faq[1:]) == 1  # close questions offered
