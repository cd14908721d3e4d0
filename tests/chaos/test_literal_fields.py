"""Every field a person fills in is shown back literally, wherever Linli shows it (issue 10).

Each field is typed with markup in it (`MARKUP`: HTML tags, a javascript: link, Markdown stars
and underscores, an entity, quotes and a right-to-left override), behind a tag naming the field
(`repair.description: <b>x</b> …`). After the flows, every place that shows it — the chats in
the sandbox (the text Telegram would display, with its entities), dashboard pages, CSV and
XLSX exports — is read. The field must appear as typed: no formatting entity made out of it,
no link, no HTML interpreted; in HTML pages it must be escaped. The tables list one case per
field and place; besides them every tag found anywhere in a scenario's places is checked. All
mismatches are collected and shown together.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from openpyxl import load_workbook

from bot.clock import FakeClock
from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP
from tests.e2e import test_repair
from tests.e2e.harness import Linli, buttons_of, tiny_png
from tests.e2e.test_dashboard import base, get, login_link
from tests.e2e.test_repair import (
    LIU,
    WANG,
    ZHANG,
    last_bot_message,
    outbox_idle,
    press,
    staff_card,
    submit,
)
from tests.e2e.test_signup import the_list, the_poll
from tests.e2e.test_ticket_export import export
from tests.proof import record

clock, linli = test_repair.clock, test_repair.linli  # Linli on the fake clock

MARKUP = '<b>x</b> <a href="javascript:alert(1)">y</a> *z* _w_ &amp; \' " \u202e.'

KEPT_WHEN_CUT = len('<b>x</b> <a href="javascript:alert(1)"')


# For fields read up to the first space (地点：…): the same probes without spaces.
COMPACT = '<b>x</b><a_href="javascript:alert(1)">y</a>*z*_w_&amp;\'"\u202e.'
# For short fields (a name after 接龙: 30 characters): tags and Markdown only.
SHORT = "<b>x</b>*z*_w_&amp;'\""
_MARKUPS: dict[str, str] = {}


def typed(name: str, markup: str = MARKUP) -> str:
    """What a person types into the field `name`."""
    _MARKUPS[name] = markup
    return f"{name}: {markup}" if markup == MARKUP else f"{name}:{markup}"


@dataclass
class Shown:
    """One thing a person sees: a message (with its entities), a button, a page, a cell."""

    where: str
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


Places = dict[str, list[Shown]]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Telegram marks commands, links, mentions and hashtags in any plain text (`</b>` holds a
# "/b" command); those are not made by a parse mode, so only formatting and links count.
MADE_BY_MARKUP = {
    "bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link",
    "text_mention", "blockquote", "expandable_blockquote", "custom_emoji",
}  # fmt: skip


def _entity_problems(item: Shown, start: int, end: int) -> Iterable[str]:
    """Entities made from inside the field (one covering all of it is the bot's own)."""
    lo, hi = _utf16(item.text[:start]), _utf16(item.text[:end])
    for e in item.entities:
        if e["type"] not in MADE_BY_MARKUP:
            continue
        e_lo, e_hi = e["offset"], e["offset"] + e["length"]
        if e_hi <= lo or e_lo >= hi or (e_lo <= lo and e_hi >= hi):
            continue
        yield f"{item.where}: a {e['type']} entity made from the text ({item.text[start:end]!r})"


def field_problems(name: str, shown: list[Shown], *, must_show: bool) -> list[str]:
    """How the field `name` is not shown literally in these places."""
    markup = _MARKUPS.get(name, MARKUP)
    tag, problems, seen = f"{name}: " if markup == MARKUP else f"{name}:", [], False
    for item in shown:
        at = item.text.find(tag)
        while at >= 0:
            seen = True
            rest = item.text[at + len(tag) :]
            if rest.startswith(markup):
                problems += _entity_problems(item, at, at + len(tag) + len(markup))
            else:
                k = len(os.path.commonprefix([rest, markup]))
                # A shortened field ends with … or the text; a field cut to its length limit
                # when it was typed (a name: 50 characters) keeps at least the tags and the link.
                cut = rest[k:] == "" or rest[k:].startswith(("…", "...")) or k >= KEPT_WHEN_CUT
                if not (cut and k >= 1):
                    problems.append(f"{item.where}: shown as {rest[: len(markup) + 10]!r}")
            at = item.text.find(tag, at + 1)
    if must_show and not seen:
        problems.append(f"not shown ({len(shown)} items read)")
    return [f"{name} @ {p}" for p in problems]


def check(cases: list[tuple[str, str]], places: Places) -> list[str]:
    """The table's cases, then every field of the table in every place read."""
    problems: list[str] = []
    for name, place in cases:
        problems += [
            f"{p} [{place}]" for p in field_problems(name, places.get(place, []), must_show=True)
        ]
    names = {name for name, _ in cases}
    for place, shown in places.items():
        for name in names:
            if (name, place) not in cases:
                problems += [f"{p} [{place}]" for p in field_problems(name, shown, must_show=False)]
    for place, shown in places.items():
        for item in shown:
            if item.where.endswith("raw HTML"):
                problems.append(f"[{place}] {item.where}: {item.text}")
            for e in item.entities:
                if str(e.get("url", "")).lower().startswith("javascript"):
                    problems.append(f"[{place}] {item.where}: a javascript: link")
    record("literal fields", len(cases))
    return problems


def assert_literal(problems: list[str]) -> None:
    """Fail with every mismatch, one a line."""
    assert not problems, f"{len(problems)} field(s) not shown literally:\n  " + "\n  ".join(
        dict.fromkeys(problems)
    )


# --- reading the places -----------------------------------------------------------------------


async def chat(linli: Linli, chat_id: int, label: str = "") -> list[Shown]:
    """The bot's messages in a chat (text or caption, with entities) and their buttons."""
    await linli.settle()
    shown = []
    for m in await linli.sandbox.transcript(chat_id):
        if m["from"]["id"] != DEMO_BOT["id"]:
            continue
        where = f"{label or chat_id} #{m['message_id']}"
        if m.get("text") is not None:
            shown.append(Shown(where, m["text"], m.get("entities", [])))
        elif m.get("caption") is not None:
            shown.append(Shown(where, m["caption"], m.get("caption_entities", [])))
        shown += [Shown(f"{where} button", text) for text, _data in buttons_of(m)]
    return shown


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.attributes: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [v for k, v in attrs if v and k in ("value", "title", "placeholder")]


def page(label: str, html: str) -> list[Shown]:
    """A dashboard page as a person reads it; raw markup from a field is a problem itself."""
    parser = _Text()
    parser.feed(html)
    shown = [Shown(label, "".join(parser.parts))]
    shown += [Shown(f"{label} (form value)", v) for v in parser.attributes]
    for raw in ("<b>x</b>", 'href="javascript:'):
        if raw in html:
            shown.append(Shown(f"{label} raw HTML", f"unescaped: {raw}"))
    return shown


def csv_file(label: str, data: bytes) -> list[Shown]:
    """Each cell of a CSV export."""
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    return [Shown(f"{label} r{i}", cell) for i, row in enumerate(rows) for cell in row]


def xlsx_file(label: str, data: bytes) -> list[Shown]:
    """Each cell of an XLSX export."""
    shown = []
    for sheet in load_workbook(io.BytesIO(data)).worksheets:
        for row in sheet.iter_rows():
            shown += [Shown(f"{label} {c.coordinate}", str(c.value)) for c in row if c.value]
    return shown


# --- people and flows -------------------------------------------------------------------------

MARKED = 5101  # a resident whose Telegram names carry markup, writing in English


async def marked_resident(linli: Linli, user_id: int = MARKED, language: str = "en") -> None:
    """A new neighbour named with markup joins the residents' group and says hello."""
    await linli.sandbox.post(
        "/sandbox/api/users",
        {
            "id": user_id,
            "first_name": typed("fn"),  # 64 characters, as long as Telegram allows
            "last_name": typed("ln"),
            "language_code": language,
            "started": True,
        },
    )
    await linli.sandbox.post(
        "/sandbox/api/members",
        {"chat_id": RESIDENTS_GROUP, "user_id": user_id, "action": "add", "by": ZHANG},
    )
    await linli.sandbox.send(RESIDENTS_GROUP, user_id, "大家好")


async def last(linli: Linli, chat_id: int) -> dict[str, Any]:
    return await last_bot_message(linli, chat_id)


async def answer(linli: Linli, user: int, text: str) -> dict[str, Any]:
    """Type an answer in the private chat; returns the bot's next message."""
    await linli.sandbox.send(user, user, text)
    return await last(linli, user)


async def staff_reply_to_prompt(linli: Linli, text: str) -> None:
    """Reply to the bot's latest ForceReply prompt (#T…) in the staff group."""
    await linli.settle()
    prompts = [
        m
        for m in await linli.sandbox.transcript(STAFF_GROUP)
        if m["from"]["id"] == DEMO_BOT["id"] and "#T" in (m.get("text") or "")
    ]
    await linli.say(STAFF_GROUP, ZHANG, text, reply_to_message_id=prompts[-1]["message_id"])
    await outbox_idle(linli)


async def dashboard(linli: Linli, *paths: str) -> dict[str, str]:
    """Dashboard pages (signed in as the demo staff member), by path."""
    pages = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        status, _html = await get(session, await login_link(linli))
        assert status == 200
        for path in paths:
            status, pages[path] = await get(session, base(linli) + path)
            assert status == 200, (path, status)
    return pages


async def repair_with_markup(linli: Linli) -> None:
    """The marked resident reports a public-area repair, typing markup into every text step."""
    await marked_resident(linli)
    user = MARKED
    [category] = await linli.say(user, user, "/repair")
    await press(linli, user, user, category, "Public area")
    await answer(linli, user, typed("repair.public_spot"))
    photos = await answer(linli, user, typed("repair.description"))
    await press(linli, user, user, photos, "Skip")
    await press(linli, user, user, await last(linli, user), "Normal")
    await answer(linli, user, "13912345678")
    summary = await answer(linli, user, typed("repair.time"))
    await press(linli, user, user, summary, "Submit")
    await outbox_idle(linli)


async def test_repair_fields_are_shown_literally(linli: Linli) -> None:
    await repair_with_markup(linli)
    user = MARKED
    card = await staff_card(linli)
    await press(linli, STAFF_GROUP, ZHANG, card, "受理")
    await outbox_idle(linli)
    update = await last(linli, user)
    await press(linli, user, user, update, "Add information")
    await answer(linli, user, typed("repair.info"))
    await outbox_idle(linli)
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "派单")
    await press(linli, STAFF_GROUP, ZHANG, await last(linli, STAFF_GROUP), "其他人")
    await staff_reply_to_prompt(linli, typed("repair.assignee"))
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "开始")
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "完成")
    await staff_reply_to_prompt(linli, typed("repair.done_note"))
    done = await last(linli, user)
    await press(linli, user, user, done, "⭐⭐⭐⭐⭐")
    await answer(linli, user, typed("repair.comment"))
    await submit(linli, WANG)  # a second ticket, rejected with a reason
    await press(linli, STAFF_GROUP, ZHANG, await staff_card(linli), "不予维修")
    await staff_reply_to_prompt(linli, typed("repair.reject_reason"))
    await linli.say(STAFF_GROUP, ZHANG, "/ticket BX-2026-0001")
    await linli.say(STAFF_GROUP, ZHANG, "/ticket BX-2026-0002")
    files = await export(linli, STAFF_GROUP, "/tickets export")
    pages = await dashboard(
        linli, "/tickets?status=all", "/tickets/BX-2026-0001", "/tickets/BX-2026-0002"
    )

    places: Places = {
        "resident": await chat(linli, user, "resident's private chat"),
        "wang": await chat(linli, WANG, "Wang's private chat"),
        "staff": await chat(linli, STAFF_GROUP, "staff group"),
        "list page": page("/tickets", pages["/tickets?status=all"]),
        "ticket page": page("/tickets/BX-2026-0001", pages["/tickets/BX-2026-0001"]),
        "rejected page": page("/tickets/BX-2026-0002", pages["/tickets/BX-2026-0002"]),
        "csv": csv_file("tickets.csv", files[".csv"]),
        "xlsx": xlsx_file("tickets.xlsx", files[".xlsx"]),
    }
    cases = [
        *(
            (name, place)
            for name in ("repair.public_spot", "repair.description", "repair.time")
            for place in ("resident", "staff", "ticket page", "csv", "xlsx")
        ),
        ("repair.description", "list page"),
        *(("repair.assignee", place) for place in ("resident", "staff", "ticket page", "csv")),
        ("repair.info", "staff"),
        ("repair.info", "ticket page"),
        ("repair.done_note", "resident"),
        ("repair.done_note", "staff"),
        ("repair.done_note", "ticket page"),
        ("repair.comment", "staff"),
        ("repair.comment", "ticket page"),
        ("repair.comment", "csv"),
        ("repair.comment", "xlsx"),
        ("repair.reject_reason", "wang"),
        ("repair.reject_reason", "staff"),
        ("repair.reject_reason", "rejected page"),
        ("fn", "ticket page"),
        ("ln", "ticket page"),
    ]
    assert_literal(check(cases, places))


async def test_errand_fields_are_shown_literally(linli: Linli, clock: FakeClock) -> None:
    await marked_resident(linli)
    user = MARKED
    await linli.say(STAFF_GROUP, ZHANG, "/errands residents on")
    [kind] = await linli.say(user, user, "/errand")
    await press(linli, user, user, kind, "Medicine")
    await answer(linli, user, typed("errand.details"))
    await answer(linli, user, typed("errand.from"))
    when = await answer(linli, user, typed("errand.to"))
    await press(linli, user, user, when, "Within 1 hour")
    await press(linli, user, user, await last(linli, user), "add a tip")
    await answer(linli, user, "10")
    whom = await answer(linli, user, "13912345678")
    await press(linli, user, user, whom, "For an elder")
    summary = await answer(linli, user, typed("errand.who"))
    await press(linli, user, user, summary, "Submit")
    await outbox_idle(linli)
    [card] = [
        m
        for m in await linli.sandbox.transcript(VOLUNTEERS_GROUP)
        if (m.get("text") or "").startswith("🛵")
    ]
    await press(linli, VOLUNTEERS_GROUP, LIU, card, "接单")
    await outbox_idle(linli)
    pages = await dashboard(linli, "/errands")  # running errands only
    details = await last(linli, LIU)
    await press(linli, LIU, LIU, details, "已取货")
    await outbox_idle(linli)
    [details] = [
        m for m in await linli.sandbox.transcript(LIU) if m["message_id"] == details["message_id"]
    ]
    await press(linli, LIU, LIU, details, "已送达")
    await outbox_idle(linli)
    await press(linli, user, user, await last(linli, user), "⭐⭐⭐⭐⭐")
    await answer(linli, user, typed("errand.thanks"))
    await outbox_idle(linli)

    places: Places = {
        "requester": await chat(linli, user, "requester's private chat"),
        "volunteer": await chat(linli, LIU, "volunteer's private chat"),
        "volunteers": await chat(linli, VOLUNTEERS_GROUP, "volunteers' group"),
        "residents": await chat(linli, RESIDENTS_GROUP, "residents' group"),
        "errands page": page("/errands", pages["/errands"]),
    }
    cases = [
        *(
            (name, place)
            for name in ("errand.details", "errand.from")
            for place in ("requester", "volunteer", "volunteers", "residents", "errands page")
        ),
        ("errand.to", "requester"),
        ("errand.to", "volunteer"),
        ("errand.who", "requester"),
        ("errand.who", "volunteer"),
        ("errand.thanks", "volunteer"),
        ("fn", "errands page"),
        ("ln", "errands page"),
    ]
    assert_literal(check(cases, places))


async def test_notice_fields_are_shown_literally(linli: Linli, clock: FakeClock) -> None:
    await marked_resident(linli)
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast " + typed("notice.broadcast"))
    await press(linli, STAFF_GROUP, ZHANG, card, "确认发布")
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    [posted] = [
        m
        for m in await linli.sandbox.transcript(RESIDENTS_GROUP)
        if "notice.broadcast" in (m.get("text") or "")
    ]
    await press(linli, RESIDENTS_GROUP, MARKED, posted, "收到")
    [listing] = await linli.say(ZHANG, ZHANG, "/notices")
    await press(linli, ZHANG, ZHANG, listing, "谁已确认")
    [card] = await linli.say(ZHANG, ZHANG, "/notice 明天10点 " + typed("notice.text"))
    await press(linli, ZHANG, ZHANG, card, "确认发布")
    [listing] = await linli.say(ZHANG, ZHANG, "/notices")
    await press(linli, ZHANG, ZHANG, listing, "✏️")
    await press(linli, ZHANG, ZHANG, await last(linli, ZHANG), "改内容")
    await linli.say(ZHANG, ZHANG, typed("notice.edited"))
    clock.advance(hours=25)
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    await linli.say(ZHANG, ZHANG, "/notices")
    pages = await dashboard(linli, "/notices")
    occurrence = re.search(r'href="[^"]*/notices/(\d+)', pages["/notices"])
    assert occurrence, "no notice on the dashboard"
    detail = await dashboard(linli, f"/notices/{occurrence.group(1)}")

    places: Places = {
        "staff group": await chat(linli, STAFF_GROUP, "staff group"),
        "staff private": await chat(linli, ZHANG, "staff member's private chat"),
        "residents": await chat(linli, RESIDENTS_GROUP, "residents' group"),
        "notices page": page("/notices", pages["/notices"]),
        "notice page": page("/notices/…", "".join(detail.values())),
    }
    cases = [
        ("notice.broadcast", "staff group"),
        ("notice.broadcast", "residents"),
        ("notice.broadcast", "notices page"),
        ("notice.text", "staff private"),
        ("notice.edited", "staff private"),
        ("notice.edited", "residents"),
        ("notice.edited", "notices page"),
        ("fn", "staff private"),
        ("fn", "notice page"),
    ]
    assert_literal(check(cases, places))


async def test_signup_and_poll_fields_are_shown_literally(linli: Linli, clock: FakeClock) -> None:
    await marked_resident(linli, language="zh-hans")
    await linli.say(ZHANG, ZHANG, "/start")
    title, place = typed("signup.title"), typed("signup.place", COMPACT)
    await linli.say(RESIDENTS_GROUP, ZHANG, f"/signup 明天上午9点 {title} 限5人 地点：{place}")
    listing = await the_list(linli)
    await press(linli, RESIDENTS_GROUP, MARKED, listing, "报名")
    await linli.say(
        RESIDENTS_GROUP,
        WANG,
        "接龙 " + typed("sgname", SHORT),
        reply_to_message_id=listing["message_id"],
    )
    question, one, two = typed("poll.question"), typed("poll.option1"), typed("poll.option2")
    await linli.say(RESIDENTS_GROUP, ZHANG, f"/poll {question} | {one} | {two}")
    await press(linli, RESIDENTS_GROUP, MARKED, await the_poll(linli), "poll.option1")
    [overview] = await linli.say(STAFF_GROUP, ZHANG, "/signups")
    await press(linli, STAFF_GROUP, ZHANG, overview, "CSV")
    csv_export = await last(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, overview, "XLSX")
    xlsx_export = await last(linli, STAFF_GROUP)
    await press(linli, STAFF_GROUP, ZHANG, overview, "签到")
    clock.advance(days=1, hours=3)  # the morning after: the organiser thanks
    [overview] = await linli.say(ZHANG, ZHANG, "/signups")
    await press(linli, ZHANG, ZHANG, overview, "感谢")
    await linli.sandbox.post(
        "/sandbox/api/send",
        {
            "chat_id": ZHANG,
            "user_id": ZHANG,
            "photo": tiny_png(),
            "caption": typed("signup.thanks"),
        },
    )
    await press(linli, ZHANG, ZHANG, await last(linli, ZHANG), "发布")
    await outbox_idle(linli)

    places: Places = {
        "residents": await chat(linli, RESIDENTS_GROUP, "residents' group"),
        "staff group": await chat(linli, STAFF_GROUP, "staff group"),
        "organiser": await chat(linli, ZHANG, "organiser's private chat"),
        "csv": csv_file("signups.csv", await file_of(linli, csv_export)),
        "xlsx": xlsx_file("signups.xlsx", await file_of(linli, xlsx_export)),
    }
    cases = [
        *((name, place) for name in ("signup.title", "signup.place") for place in ("residents",)),
        *(("signup.title", place) for place in ("staff group", "csv", "xlsx", "organiser")),
        ("sgname", "residents"),
        ("sgname", "csv"),
        ("sgname", "xlsx"),
        ("fn", "residents"),
        ("fn", "csv"),
        ("fn", "staff group"),
        ("ln", "residents"),
        ("poll.question", "residents"),
        ("poll.option1", "residents"),
        ("poll.option2", "residents"),
        ("signup.thanks", "organiser"),
        ("signup.thanks", "residents"),
    ]
    assert_literal(check(cases, places))


async def file_of(linli: Linli, message: dict[str, Any]) -> bytes:
    assert message.get("document"), message.get("text")
    return await linli.sandbox.download(message["document"]["file_id"])


ENTRY_ID = re.compile(r"\b(c-[a-z0-9-]+)")


async def ask(linli: Linli, question: str, label: str) -> None:
    """The resident asks; when the bot offers the closest questions instead of an answer (the
    entries here share most of their text, the markup), they press the one they meant."""
    for message in await linli.say(MARKED, MARKED, question):
        meant = [data for text, data in buttons_of(message) if text.startswith(label)]
        if meant:
            await linli.sandbox.press(MARKED, MARKED, message["message_id"], meant[0])
            await linli.settle()


async def test_faq_fields_are_shown_literally(linli: Linli) -> None:
    await marked_resident(linli, language="zh-hans")
    gap = typed("faq.gap")
    await linli.say(MARKED, MARKED, gap)
    await outbox_idle(linli)
    [gaps] = await linli.say(STAFF_GROUP, ZHANG, "/faq gaps")
    [(_label, data)] = buttons_of(gaps)
    await linli.sandbox.press(STAFF_GROUP, ZHANG, gaps["message_id"], data)
    [prompt] = await linli.replies(STAFF_GROUP, gaps["message_id"])
    [added] = await linli.say(
        STAFF_GROUP, ZHANG, typed("faq.gap_answer"), reply_to_message_id=prompt["message_id"]
    )
    await outbox_idle(linli)
    [added_id] = ENTRY_ID.findall(added["text"]) or [""]
    question = typed("faq.question")
    [confirm] = await linli.say(
        STAFF_GROUP, ZHANG, f"/faq add {question} | 停车费\n{typed('faq.answer')}"
    )
    [entry_id] = ENTRY_ID.findall(confirm["text"]) or [""]
    await linli.say(STAFF_GROUP, ZHANG, f"/faq show {entry_id}")
    await linli.say(STAFF_GROUP, ZHANG, f"/faq show {added_id}")
    await linli.say(STAFF_GROUP, ZHANG, f"/faq edit {added_id}\n{typed('faq.edited')}")
    await linli.say(STAFF_GROUP, ZHANG, f"/faq show {added_id}")
    await ask(linli, question, "faq.question")  # the resident asks: the answer comes back
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await get(session, await login_link(linli))
        _status, form = await get(session, base(linli) + f"/knowledge/{entry_id}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, "no form"
        edit = {
            "csrf": csrf.group(1),
            "questions": typed("kb.question") + "\n" + question,
            "answer": typed("kb.answer"),
            "answer_en": typed("kb.answer_en"),
            "tags": "",
        }
        async with session.post(base(linli) + f"/knowledge/{entry_id}", data=edit) as response:
            saved = await response.text()
        _status, listing = await get(session, base(linli) + "/knowledge")
    await ask(linli, question, "kb.question")

    places: Places = {
        "resident": await chat(linli, MARKED, "resident's private chat"),
        "staff group": await chat(linli, STAFF_GROUP, "staff group"),
        "entry page": page("/knowledge/…", saved),
        "knowledge page": page("/knowledge", listing),
    }
    cases = [
        ("faq.gap", "staff group"),
        ("faq.gap_answer", "staff group"),
        ("faq.edited", "staff group"),
        ("faq.question", "staff group"),
        ("faq.answer", "staff group"),
        ("faq.answer", "resident"),
        ("kb.question", "entry page"),
        ("kb.answer", "entry page"),
        ("kb.answer_en", "entry page"),
        ("kb.answer", "resident"),
        ("kb.question", "knowledge page"),
        ("fn", "staff group"),
    ]
    assert_literal(check(cases, places))


# An elder's name is kept to 50 characters: the link and the tags fit.
NAME_MARKUP = '<a href="javascript:1">y</a><b>x</b>*z*&amp;'


async def test_check_in_fields_are_shown_literally(linli: Linli, clock: FakeClock) -> None:
    from tests.e2e.test_care import GRANNY, at, local, token_in

    clock.set(local(11, 30, 8, 0))
    [intro] = await linli.say(WANG, WANG, "/checkin")
    await press(linli, WANG, WANG, intro, "为家人开通")
    await linli.say(WANG, WANG, typed("el", NAME_MARKUP))
    await linli.say(WANG, WANG, typed("elder.address"))
    [ask_time] = await linli.say(WANG, WANG, "13900001111")
    await press(linli, WANG, WANG, ask_time, "09:00")
    done = await last(linli, WANG)
    [consent] = await linli.say(GRANNY, GRANNY, "/start care-" + token_in(done["text"]))
    await press(linli, GRANNY, GRANNY, consent, "同意")
    await marked_resident(linli, language="zh-hans")  # the volunteer contact, named with markup
    card = (await linli.say(WANG, WANG, "/checkin"))[0]
    await press(linli, WANG, WANG, card, "邀请志愿者")
    invite = await last(linli, WANG)
    [ask] = await linli.say(MARKED, MARKED, "/start care-" + token_in(invite["text"]))
    await press(linli, MARKED, MARKED, ask, "同意")
    for hour, minute in ((9, 0), (9, 30), (10, 0), (11, 0), (13, 0)):
        await at(linli, clock, local(11, 30, hour, minute))
    await linli.say(GRANNY, GRANNY, "救命 " + typed("elder.help"))
    await outbox_idle(linli)
    await linli.say(STAFF_GROUP, ZHANG, "/elders")
    await linli.say(WANG, WANG, "/checkin")

    places: Places = {
        "family": await chat(linli, WANG, "family member's private chat"),
        "elder": await chat(linli, GRANNY, "elder's private chat"),
        "contact": await chat(linli, MARKED, "volunteer contact's private chat"),
        "staff group": await chat(linli, STAFF_GROUP, "staff group"),
    }
    cases = [
        *(("el", place) for place in ("family", "elder", "contact", "staff group")),
        *(("elder.address", place) for place in ("family", "contact", "staff group")),
        ("fn", "family"),
    ]
    assert_literal(check(cases, places))


async def test_group_titles_are_shown_literally(linli: Linli, clock: FakeClock) -> None:
    group = -1002000000077
    await linli.sandbox.post(
        "/sandbox/api/chats",
        {
            "id": group,
            "type": "supergroup",
            "title": typed("gt"),  # Telegram allows 128 characters
            "members": [WANG, ZHANG],
            "admins": [ZHANG],
            "bot_member": True,
            "by": ZHANG,
        },
    )
    await linli.settle()
    [question] = await linli.say(group, ZHANG, "/setup")
    await press(linli, group, ZHANG, question, "居民群")
    [card] = await linli.say(STAFF_GROUP, ZHANG, "/broadcast 明天停水")
    await press(linli, STAFF_GROUP, ZHANG, card, "发到哪些群")
    await press(linli, STAFF_GROUP, ZHANG, await last(linli, STAFF_GROUP), "完成")
    await press(linli, STAFF_GROUP, ZHANG, await last(linli, STAFF_GROUP), "确认发布")
    await linli.runtime.ticker.tick()
    await outbox_idle(linli)
    await linli.say(group, WANG, "/ask " + typed("faq.asked_in_group"))
    await outbox_idle(linli)
    pages = await dashboard(linli, "/people")

    places: Places = {
        "group": await chat(linli, group, "the new group"),
        "staff group": await chat(linli, STAFF_GROUP, "staff group"),
        "people page": page("/people", pages["/people"]),
    }
    cases = [
        ("gt", "staff group"),
        ("faq.asked_in_group", "staff group"),
        ("gt", "people page"),
    ]
    assert_literal(check(cases, places))
