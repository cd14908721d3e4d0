"""The dashboard's Errands, Notices, Knowledge base and People pages over HTTP, through the
real bot and sandbox on a fake clock: each shows its community's data (and nothing of another
community), exports work, a knowledge-base edit changes what the bot answers, a bad edit
changes nothing, and only admins change roles."""

from __future__ import annotations

import re

import aiohttp

from bot.clock import FakeClock
from bot.context import APP_KEY
from bot.demo import RESIDENTS_GROUP, VOLUNTEERS_GROUP
from storage.models import Notice, NoticeOccurrence, NoticeStatus, Role
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, text_of
from tests.e2e.test_dashboard import base, get, login_link
from tests.e2e.test_dashboard_tickets import browser, post, rows_of, signed_in
from tests.e2e.test_errand import cards, post_errand
from tests.e2e.test_notice import local, notices_in, schedule, tick
from tests.e2e.test_repair import EMMA, LI, LIU, WANG, outbox_idle, press

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock
UNCOVERED = "明年世界杯在哪个国家举办"


async def csv_of(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(url) as response:
        assert response.status == 200 and "text/csv" in response.headers["Content-Type"]
        return (await response.read()).decode("utf-8-sig").splitlines()


def section(html: str, table: str) -> str:
    """The HTML of one list on a page (from its data-table to the end of the table)."""
    start = html.index(f'data-table="{table}"')
    return html[start : html.index("</table>", start)]


async def other_community(linli: Linli) -> int:
    """Another community, with a volunteer of its own (user 5001), a notice posted and an entry."""
    from datetime import timedelta

    assert linli.runtime.db is not None
    now = linli.runtime.clock.now()
    async with linli.runtime.db.uow() as uow:
        other = await uow.communities.add("翠湖苑", "CH", "Asia/Shanghai", "zh-CN")
        await uow.session.flush()
        await uow.users.upsert(
            5001,
            first_name="外区",
            last_name="志愿者",
            username="elsewhere",
            telegram_language="zh-hans",
        )
        await uow.memberships.grant(5001, other.id, Role.VOLUNTEER, None)
        notice = Notice(
            community_id=other.id, text="翠湖苑停电通知", status=NoticeStatus.DONE, ack=True
        )
        uow.session.add(notice)
        await uow.session.flush()
        occurrence = NoticeOccurrence(
            notice_id=notice.id, due_at=now - timedelta(hours=1), status="posted", posted_at=now
        )
        uow.session.add(occurrence)
        await uow.commit()
        other_id, occurrence_id = other.id, occurrence.id
    services = linli.runtime.application.bot_data[APP_KEY].services  # type: ignore[union-attr]
    await services.faq.save_entry(
        other_id,
        {"id": "cuihu-only", "questions": ["翠湖苑的游泳池几点开"], "answer": "翠湖苑泳池九点开。"},
        None,
    )
    return occurrence_id


async def test_errands_show_open_taken_and_late_with_exports(
    linli: Linli, clock: FakeClock
) -> None:
    await post_errand(linli, WANG)  # due within the hour
    [card] = await cards(linli)
    await press(linli, VOLUNTEERS_GROUP, LIU, card, "接单")
    await outbox_idle(linli)
    clock.advance(hours=2)  # Liu has not delivered: late
    await post_errand(linli, LI)  # a new one, waiting for a volunteer
    await other_community(linli)
    async with browser() as session:
        await signed_in(session, linli)
        status, html = await get(session, base(linli) + "/errands")
        assert status == 200
        late = section(html, "late-errands")
        [late_row] = rows_of(late + "</table>")
        assert 'class="late"' in late_row and "小刘" in late_row and "王 阿姨" in late_row
        assert "阿莫西林一盒" in late_row and "社区卫生服务站" in late_row and "已接单" in html
        [open_row] = rows_of(section(html, "open-errands") + "</table>")
        assert "李 先生" in open_row and "等待志愿者" in open_row
        assert "现在没有进行中的跑腿" in html  # the taken one is late, so listed as late only
        assert "138" not in html and "翠湖苑" not in html  # no phone, nothing of another community
        rows = await csv_of(session, base(linli) + "/errands?format=csv&table=late-errands")
        assert len(rows) == 2 and "小刘" in rows[1] and "阿莫西林一盒" in rows[1]
        rows = await csv_of(session, base(linli) + "/errands?format=csv&table=open-errands")
        assert len(rows) == 2 and "李 先生" in rows[1]


async def test_notices_show_rates_and_who_confirmed(linli: Linli, clock: FakeClock) -> None:
    await schedule(linli, "/notice 明天8点 周末消杀，请关好门窗")
    await schedule(linli, "/notice 每周一 9:00 本周垃圾分类宣传：厨余垃圾请沥干")
    await tick(linli, clock, local(12, 1, 8, 0))
    [posted] = await notices_in(linli, RESIDENTS_GROUP)
    await press(linli, RESIDENTS_GROUP, WANG, posted, "收到")
    other_occurrence = await other_community(linli)
    async with browser() as session:
        await signed_in(session, linli)
        status, html = await get(session, base(linli) + "/notices")
        assert status == 200 and "周末消杀" in html and "翠湖苑" not in html
        recurring = section(html, "recurring-notices")
        assert "垃圾分类" in recurring and "每周一" in recurring and "12月7日" in recurring
        assert "1 / 6 (17%)" in html
        found = re.search(r'href="(/dashboard/notices/(\d+)\?c=\d+)"', html)
        assert found
        rows = await csv_of(session, base(linli) + "/notices?format=csv&table=posted-notices")
        assert len(rows) == 2 and "周末消杀" in rows[1] and rows[1].endswith(",1,6,17%")
        status, detail = await get(session, base(linli) + found.group(1).removeprefix("/dashboard"))
        assert status == 200 and "周末消杀" in detail
        acked = detail.split('class="acked"')[1].split("</ul>")[0]
        waiting = detail.split('class="waiting"')[1].split("</ul>")[0]
        assert "王 阿姨" in acked and "12-01 08:00" in acked
        assert "Emma Chen" in waiting and "王 阿姨" not in waiting
        who = await csv_of(
            session,
            base(linli) + f"/notices/{found.group(2)}?format=csv&table=acknowledgements",
        )
        assert any(
            r.startswith("阳光花园") and "王 阿姨,wang_ayi,是,2026-12-01 08:00" in r for r in who
        )
        assert any("Emma Chen,emma_chen,否," in r for r in who)
        status, html = await get(session, base(linli) + f"/notices/{other_occurrence}")
        assert status == 403 and "翠湖苑停电通知" not in html
        status, _ = await get(session, base(linli) + "/notices/999999")
        assert status == 404


async def test_knowledge_gaps_votes_and_an_edit_the_bot_answers_with(linli: Linli) -> None:
    await linli.say(RESIDENTS_GROUP, LI, "/ask " + UNCOVERED)
    await linli.say(WANG, WANG, UNCOVERED)
    [answer] = await linli.say(WANG, WANG, "物业费在哪交")
    up = dict(buttons_of(answer))["👍 有帮助"]
    await linli.sandbox.press(WANG, WANG, answer["message_id"], up)
    await other_community(linli)
    async with browser() as session:
        csrf = await signed_in(session, linli)
        status, html = await get(session, base(linli) + "/knowledge")
        assert status == 200 and "cuihu-only" not in html and "翠湖苑" not in html
        gaps = section(html, "unanswered")
        assert UNCOVERED in gaps and "<td>2</td>" in gaps
        votes = section(html, "votes")
        assert "property-fee-payment" in votes and "<td>1</td><td>0</td>" in votes
        assert 'href="/dashboard/knowledge/property-fee-payment?c=' in html
        rows = await csv_of(session, base(linli) + "/knowledge?format=csv&table=unanswered")
        assert rows[1] == f"{UNCOVERED},2"
        rows = await csv_of(session, base(linli) + "/knowledge?format=csv&table=votes")
        assert rows[1].startswith("property-fee-payment,") and rows[1].endswith(",1,0")

        status, form = await get(session, base(linli) + "/knowledge/property-fee-payment")
        assert status == 200 and "物业费" in form and 'name="answer_en"' in form
        questions = re.search(r'name="questions"[^>]*>([^<]*)</textarea>', form, re.S)
        assert questions
        lines = questions.group(1).strip().splitlines()
        edit = {
            "csrf": csrf,
            "questions": "\n".join([*lines, "交物业费的地方在哪里"]),
            "answer": "物业费请到新的缴费大厅（2号楼一层）缴纳。",
            "answer_en": "Pay the property fee at the new hall, building 2.",
            "tags": "fees, 物业",
        }
        status, url, page = await post(
            session, base(linli) + "/knowledge/property-fee-payment", edit
        )
        assert status == 200 and "saved=1" in url and "已保存" in page
        assert "2号楼一层" in page and "fees, 物业" in page
        assert "2号楼一层" in text_of(await linli.say(LI, LI, "/ask 物业费在哪交"))
        assert "new hall" in text_of(
            await linli.say(EMMA, EMMA, "/ask Where do I pay the property fee?")
        )

        # a bad edit: a question of another entry, or no answer — refused, nothing changes
        for bad, why in (
            (
                {
                    **edit,
                    "questions": edit["questions"] + "\n电费余额不足怎么办",
                    "answer": "不该保存",
                },
                "没有保存",  # "… duplicates a question of entry water-electricity-bills"
            ),
            ({**edit, "answer": "   ", "questions": "不该保存的问题"}, "请填写答案"),
        ):
            status, url, page = await post(
                session, base(linli) + "/knowledge/property-fee-payment", bad
            )
            assert status == 200 and "saved=1" not in url and 'role="alert"' in page
            alert = re.search(r'<div class="notice error".*?</div>', page, re.S)
            assert alert and why in alert.group(0), page
            assert "不该保存" not in page.replace(alert.group(0), "")
        assert "2号楼一层" in text_of(await linli.say(LI, LI, "/ask 物业费在哪交"))
        status, form = await get(session, base(linli) + "/knowledge/property-fee-payment")
        assert "不该保存" not in form
        async with session.post(
            base(linli) + "/knowledge/property-fee-payment", data={**edit, "csrf": "forged"}
        ) as response:
            assert response.status == 403
        status, _ = await get(session, base(linli) + "/knowledge/cuihu-only")
        assert status == 404


async def test_only_admins_change_roles_and_the_bot_follows(linli: Linli) -> None:
    await other_community(linli)
    before = text_of(await linli.say(RESIDENTS_GROUP, LIU, "/help"))
    assert "/volunteer" not in before
    async with browser() as session:
        csrf = await signed_in(session, linli)
        status, html = await get(session, base(linli) + "/people")
        assert status == 200 and "外区" not in html and "138" not in html
        liu = re.search(r'<tr data-user="3001">.*?</tr>', html, re.S)
        assert liu and "志愿者" in liu.group(0) and "设为工作人员" in liu.group(0)
        assert "阳光花园" in liu.group(0)
        rows = await csv_of(session, base(linli) + "/people?format=csv&table=people")
        assert any(r.startswith("3001,") and "志愿者" in r for r in rows)
        assert not any(r.startswith("5001,") for r in rows)
        status, url, page = await post(
            session,
            base(linli) + "/people/role",
            {"csrf": csrf, "user": "3001", "role": "staff", "grant": "1"},
        )
        assert status == 200 and "现在是工作人员" in page, page
        async with session.post(
            base(linli) + "/people/role",
            data={"csrf": csrf, "user": "5001", "role": "staff", "grant": "1"},
        ) as response:
            assert response.status == 404  # someone of another community
    after = text_of(await linli.say(RESIDENTS_GROUP, LIU, "/help"))
    assert "/volunteer" in after

    async with browser() as session:  # Liu is staff now, not admin: the list only
        status, html = await get(session, await login_link(linli, LIU))
        assert status == 200
        csrf_match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert csrf_match
        status, html = await get(session, base(linli) + "/people")
        assert status == 200 and "王 阿姨" in html and 'action="/dashboard/people/role' not in html
        async with session.post(
            base(linli) + "/people/role",
            data={
                "csrf": csrf_match.group(1),
                "user": str(WANG),
                "role": "volunteer",
                "grant": "1",
            },
        ) as response:
            assert response.status == 403
    assert linli.runtime.db is not None
    async with linli.runtime.db.uow() as uow:
        assert Role.VOLUNTEER not in await uow.memberships.roles(WANG, 1)
        assert Role.STAFF in await uow.memberships.roles(LIU, 1)
