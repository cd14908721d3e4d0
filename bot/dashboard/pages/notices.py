"""Notices: upcoming and recurring notices, each posting of the last 30 days with its
acknowledgement rate per group, and one posting's list of who confirmed (收到) and who not."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.dashboard import Forbidden, NotFound, Page, Table, registry
from bot.when import Recurrence, format_local
from handlers.notice import STATUS_NAMES, TARGET_NAMES, who_rows
from storage.models import Notice

DAYS = 30


def short(text: str, size: int = 80) -> str:
    """The first line of a text, cut to `size` characters."""
    line = " ".join(text.split())
    return line if len(line) <= size else line[: size - 1] + "…"


def rate(acked: int, total: int) -> str:
    """'3 / 6 (50%)'."""
    percent = f" ({round(100 * acked / total)}%)" if total else ""
    return f"{acked} / {total}{percent}"


@registry.get("/notices", "notices.html")
async def notices(page: Page) -> dict[str, Any]:
    """Scheduled, recurring and recently posted notices of the community."""
    tr, language = page.tr, page.viewer.language
    service = page.services.notices
    zone = ZoneInfo(page.community.timezone)

    def when(moment: Any) -> str:
        return format_local(moment, zone, language) if moment else "–"

    def target(notice: Notice) -> str:
        return tr(TARGET_NAMES.get(notice.target, notice.target))

    once, recurring = [], []
    for notice in await service.upcoming(page.community_id):
        options = " ".join(
            mark
            for on, mark in ((notice.pin, "📌"), (notice.ack, "✔️"), (notice.urgent, "🚨"))
            if on
        )
        if notice.recurrence:
            rule = Recurrence.from_json(notice.recurrence).describe(language)
            recurring.append(
                [
                    str(notice.id),
                    short(notice.text),
                    rule,
                    when(notice.next_at),
                    target(notice),
                    tr(STATUS_NAMES[notice.status]),
                    options,
                ]
            )
        else:
            once.append(
                [
                    str(notice.id),
                    short(notice.text),
                    when(notice.next_at),
                    target(notice),
                    tr(STATUS_NAMES[notice.status]),
                    options,
                ]
            )
    posted, rows = [], []
    for notice, occurrence in await service.recent(page.community_id, days=DAYS):
        views = await service.who(occurrence.id)
        groups = []
        for view in views:
            total = len(view.acked) + len(view.waiting)
            groups.append({"title": view.title, "rate": rate(len(view.acked), total)})
            rows.append(
                [
                    str(notice.id),
                    str(occurrence.id),
                    when(occurrence.posted_at or occurrence.due_at),
                    short(notice.text),
                    view.title,
                    str(len(view.acked)) if notice.ack else "",
                    str(total),
                    (f"{round(100 * len(view.acked) / total)}%" if total else "")
                    if notice.ack
                    else "",
                ]
            )
        posted.append(
            {
                "notice": notice.id,
                "url": page.url(f"/notices/{occurrence.id}"),
                "at": when(occurrence.posted_at or occurrence.due_at),
                "text": short(notice.text),
                "ack": notice.ack,
                "groups": groups,
            }
        )
    return {
        "once": Table(
            "upcoming-notices",
            ["#", tr("Notice"), tr("When"), tr("To"), tr("Status"), tr("Options")],
            once,
        ),
        "recurring": Table(
            "recurring-notices",
            ["#", tr("Notice"), tr("Repeats"), tr("Next"), tr("To"), tr("Status"), tr("Options")],
            recurring,
        ),
        "posted_table": Table(
            "posted-notices",
            [
                "#",
                tr("Posting"),
                tr("Posted"),
                tr("Notice"),
                tr("Group"),
                tr("Confirmed"),
                tr("Members"),
                tr("Rate"),
            ],
            rows,
        ),
        "posted": posted,
        "days": DAYS,
    }


@registry.get("/notices/{occurrence_id}", "notice.html")
async def occurrence(page: Page) -> dict[str, Any]:
    """One posting of a notice: per group, who confirmed (with the time) and who has not."""
    tr, language = page.tr, page.viewer.language
    service = page.services.notices
    wanted = page.request.match_info.get("occurrence_id", "")
    if not wanted.isdigit():
        raise NotFound
    found = await service.occurrence(int(wanted))
    notice = await service.get(found.notice_id) if found is not None else None
    if found is None or notice is None:
        raise NotFound
    if notice.community_id != page.community_id:
        raise Forbidden
    zone = ZoneInfo(page.community.timezone)
    views = await service.who(found.id)
    groups = [
        {
            "title": view.title,
            "rate": rate(len(view.acked), len(view.acked) + len(view.waiting)),
            "acked": [
                (u.display_name, at.astimezone(zone).strftime("%m-%d %H:%M"))
                for u, at in view.acked
            ],
            "waiting": [u.display_name for u in view.waiting],
        }
        for view in views
    ]
    header, rows = who_rows(views, tr, zone)
    moment = found.posted_at or found.due_at
    return {
        "notice": notice,
        "posted_at": format_local(moment, zone, language),
        "target": tr(TARGET_NAMES.get(notice.target, notice.target)),
        "groups": groups,
        "who": Table("acknowledgements", header, rows),
        "back": page.url("/notices"),
    }
