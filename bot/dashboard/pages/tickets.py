"""Tickets: the repair queue with filters, one ticket with its history and photos, and the
staff actions of the bot's staff card (accept, assign, start, done, reject, duplicate).

The actions call the same service method as the card's buttons (`TicketService.act`), so the
resident and the followers get the same messages through the outbox; the staff cards in the
staff group are brought up to date as after a button press (`handlers.repair.refresh_cards`).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dashboard import _SECURITY, NotFound, Page, Table, registry
from bot.i18n import N_
from bot.services.tickets import CATEGORIES, Action, Outcome
from handlers.repair import (
    ACTION_LABELS,
    CATEGORY_NAMES,
    STAFF_BUTTONS,
    STATUS_NAMES,
    TIME_CHOICES,
    cut,
    refresh_cards,
)
from storage.models import Ticket, TicketStatus

log = logging.getLogger(__name__)

WHICH = {
    "open": N_("Open"),
    "overdue": N_("Overdue (48 h or more)"),
    "mine": N_("Assigned to me"),
    "all": N_("All"),
}
EVENT_NAMES = {
    "submit": N_("submitted"),
    "accept": N_("accepted"),
    "assign": N_("assigned"),
    "start": N_("started"),
    "done": N_("done"),
    "reject": N_("closed without a fix"),
    "duplicate": N_("marked as a duplicate"),
    "cancel": N_("cancelled by the resident"),
    "reopen": N_("reopened"),
    "me_too": N_("a neighbour has the same problem"),
    "info": N_("more information"),
    "urge": N_("urged"),
    "rate": N_("rated"),
    "comment": N_("commented"),
    "remind": N_("reminder: nobody accepted it"),
    "escalate": N_("escalated: open for 48 hours"),
}
DONE_TEXTS = {
    "accept": N_("Accepted. The resident has been told."),
    "assign": N_("Assigned. The resident has been told."),
    "start": N_("Work started. The resident has been told."),
    "done": N_("Marked as done. The resident has been told and asked for a rating."),
    "reject": N_("Closed without a fix. The resident has been told."),
    "duplicate": N_("Marked as a duplicate. The resident has been told."),
}
ERROR_TEXTS = {
    "stale": N_("Someone else changed this ticket first; nothing was done. It is now: {status}."),
    "forbidden": N_("Only staff can do this."),
    "note": N_("Please write the reason."),
    "assignee": N_("Please choose someone or write a name."),
    "duplicate": N_("There is no such ticket to be a duplicate of."),
    "invalid": N_("That did not work; please try again."),
}
DESCRIPTION_LIMIT = 60
LIST_LIMIT = 500


def _zone(page: Page) -> ZoneInfo:
    return ZoneInfo(page.community.timezone)


def place(page: Page, ticket: Ticket) -> str:
    """Where, in full (staff see the flat): the building, unit and room, or the public spot."""
    if ticket.public_spot:
        return ticket.public_spot
    if not ticket.building:
        return page.tr("(not given)")
    return page.tr(
        "Building {building}, unit {unit}, room {room}",
        building=ticket.building,
        unit=ticket.unit or "-",
        room=ticket.room or "-",
    )


def category_name(page: Page, category: str) -> str:
    """The category in the viewer's language."""
    return page.tr(CATEGORY_NAMES.get(category, CATEGORY_NAMES["other"]))


def when(page: Page, moment: Any) -> str:
    """A moment in the community's time, or nothing."""
    return moment.astimezone(_zone(page)).strftime("%Y-%m-%d %H:%M") if moment else ""


async def _ticket(page: Page) -> Ticket:
    """The ticket named in the address, only of the community shown (else 404)."""
    number = page.request.match_info.get("number", "")
    ticket = await page.services.tickets.by_number(page.community_id, number)
    if ticket is None or ticket.community_id != page.community_id:
        raise NotFound
    return ticket


# --- the queue ------------------------------------------------------------------------------------


@registry.get("/tickets", "tickets.html")
async def queue(page: Page) -> dict[str, Any]:
    """The community's tickets: open, overdue, assigned to me or all; by building and category."""
    tr, service = page.tr, page.services.tickets
    query = page.request.query
    which = query.get("status", "open")
    which = which if which in WHICH else "open"
    buildings = await service.buildings(page.community_id)
    building = query.get("building", "")
    building = building if building in buildings else ""
    category = query.get("category", "")
    category = category if category in CATEGORIES else ""
    found = await service.listing(
        page.community_id,
        which=which,
        user_id=page.viewer.user_id,
        building=building or None,
        category=category or None,
        limit=LIST_LIMIT,
    )
    now = service.clock.now()
    items, rows = [], []
    for ticket in found:
        late = service.is_overdue(ticket, now)
        cells = [
            ticket.number,
            tr(STATUS_NAMES[ticket.status]),
            category_name(page, ticket.category),
            place(page, ticket),
            cut(ticket.description or "", DESCRIPTION_LIMIT),
            when(page, ticket.created_at),
            ticket.assignee_name or "",
        ]
        items.append(
            {
                "cells": cells,
                "late": late,
                "urgent": ticket.urgent,
                "href": page.url(f"/tickets/{ticket.number}"),
            }
        )
        rows.append(
            cells[:4] + [ticket.description or ""] + cells[5:] + [tr("yes") if late else ""]
        )
    header = [
        tr("Number"),
        tr("Status"),
        tr("Category"),
        tr("Place"),
        tr("Description"),
        tr("Submitted"),
        tr("Assignee"),
    ]
    return {
        "items": items,
        "header": header,
        "table": Table("tickets", header + [tr("Overdue")], rows),
        "which": which,
        "whiches": [(k, tr(v)) for k, v in WHICH.items()],
        "building": building,
        "buildings": buildings,
        "category": category,
        "categories": [(c, category_name(page, c)) for c in CATEGORIES],
        "counts": await service.counts(page.community_id),
    }


# --- one ticket -----------------------------------------------------------------------------------


async def _photos(page: Page, ticket: Ticket) -> list[str]:
    """The ticket's photos (the resident's) and those its events brought (info, done)."""
    photos = list((ticket.photos or {}).get("file_ids", []))
    for event in await page.services.tickets.history(ticket.id):
        if event.photo_file_id:
            photos.append(event.photo_file_id)
    return photos


@registry.get("/tickets/{number}", "tickets_detail.html")
async def detail(page: Page) -> dict[str, Any]:
    """Everything about one ticket, its history and photos, and what staff can do now."""
    tr, service = page.tr, page.services.tickets
    people = page.services.people
    ticket = await _ticket(page)
    history = await service.history(ticket.id)
    names: dict[int, str] = {}
    known = {e.actor_id for e in history if e.actor_id}
    if ticket.resident_id:
        known.add(ticket.resident_id)
    for person in known:
        names[person] = await people.name_of(person) or str(person)
    events = [
        {
            "at": when(page, e.at),
            "what": tr(EVENT_NAMES.get(e.action, e.action)),
            "change": (
                f"{tr(STATUS_NAMES[TicketStatus(e.from_status)]) if e.from_status else ''} → "
                f"{tr(STATUS_NAMES[TicketStatus(e.to_status)])}"
                if e.to_status and e.from_status
                else ""
            ),
            "who": names.get(e.actor_id or 0, "") if e.actor_id else tr("Linli"),
            "note": e.note or "",
            "photo": bool(e.photo_file_id),
        }
        for e in history
    ]
    photos = await _photos(page, ticket)
    facts = [
        (tr("Status"), tr(STATUS_NAMES[ticket.status])),
        (tr("Category"), category_name(page, ticket.category)),
        (tr("Place"), place(page, ticket)),
        (tr("Resident"), names.get(ticket.resident_id or 0, "")),
        (tr("Phone"), ticket.phone or ""),
        (tr("Urgency"), tr("urgent") if ticket.urgent else tr("normal")),
        (
            tr("Preferred time"),
            tr(TIME_CHOICES[ticket.preferred_time])
            if ticket.preferred_time in TIME_CHOICES
            else ticket.preferred_time or "",
        ),
        (tr("Assignee"), ticket.assignee_name or ""),
        (tr("Submitted"), when(page, ticket.created_at)),
        (tr("Accepted"), when(page, ticket.accepted_at)),
        (tr("Finished"), when(page, ticket.finished_at)),
        (
            tr("Rating"),
            ("★" * ticket.rating + (f" {ticket.rating_comment}" if ticket.rating_comment else ""))
            if ticket.rating
            else "",
        ),
    ]
    notice, error = "", ""
    done = page.request.query.get("done", "")
    if done in DONE_TEXTS:
        notice = tr(DONE_TEXTS[done])
    wrong = page.request.query.get("error", "")
    if wrong in ERROR_TEXTS:
        error = tr(ERROR_TEXTS[wrong], status=tr(STATUS_NAMES[ticket.status]))
        last = next((e for e in reversed(history) if e.actor_id), None)
        if wrong == "stale" and last is not None and last.actor_id in names:
            error += " " + tr(
                "Last change by {name}, {at}.", name=names[last.actor_id], at=when(page, last.at)
            )
    actions = [(a.value, tr(ACTION_LABELS[a])) for a in STAFF_BUTTONS.get(ticket.status, ())]
    assignable = await service.assignable(page.community_id) if actions else []
    return {
        "ticket": ticket,
        "late": service.is_overdue(ticket),
        "facts": facts,
        "events": events,
        "photos": [page.url(f"/tickets/{ticket.number}/photo/{i}") for i in range(len(photos))],
        "voice": bool(ticket.voice_file_id),
        "actions": dict(actions),
        "assignable": [(u.id, u.display_name) for u in assignable],
        "action_url": page.url(f"/tickets/{ticket.number}/act"),
        "back": page.url("/tickets"),
        "notice": notice,
        "error": error,
        "history_table": Table(
            "ticket-history",
            [tr("When"), tr("What"), tr("Change"), tr("Who"), tr("Note")],
            [[e["at"], e["what"], e["change"], e["who"], e["note"]] for e in events],
        ),
    }


@registry.get("/tickets/{number}/photo/{index}", "tickets_detail.html")
async def photo(page: Page) -> dict[str, Any]:
    """One photo of a ticket, fetched from Telegram by its file_id (answered as the image)."""
    ticket = await _ticket(page)
    photos = await _photos(page, ticket)
    index = page.request.match_info.get("index", "")
    if not index.isdigit() or int(index) >= len(photos):
        raise NotFound
    bot = page.linli.outbox.bot if page.linli.outbox is not None else None
    if bot is None:
        raise NotFound
    try:
        file = await bot.get_file(photos[int(index)])
        body = bytes(await file.download_as_bytearray())
    except Exception as exc:  # Telegram no longer has it, or is unreachable
        log.warning("photo %s of %s not fetched: %s", index, ticket.number, exc)
        raise NotFound from exc
    kind = "image/png" if body.startswith(b"\x89PNG") else "image/jpeg"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        kind = "image/webp"
    headers = {**_SECURITY, "Cache-Control": "private, max-age=3600"}
    # The registry renders templates; an aiohttp HTTP exception is itself a response, so
    # raising one answers the bytes as they are (with the session and rights already checked).
    answer = web.HTTPOk(headers=headers)
    answer.body = body
    answer.content_type, answer.charset = kind, None
    raise answer


# --- actions --------------------------------------------------------------------------------------


@registry.post("/tickets/{number}/act")
async def act(page: Page) -> str:
    """A staff action from the ticket page, as the staff card's buttons do it."""
    service = page.services.tickets
    ticket = await _ticket(page)
    form = page.form
    back = f"/tickets/{ticket.number}"
    try:
        action = Action(form.get("action", ""))
    except ValueError:
        return page.url(back, error="invalid")
    if action not in ACTION_LABELS:
        return page.url(back, error="invalid")
    expected = next((s for s in TicketStatus if s.value == form.get("expected")), None)
    if expected is None or ticket.status is not expected:
        return page.url(back, error="stale")
    kwargs: dict[str, Any] = {}
    note = (form.get("note") or "").strip()
    if action is Action.DONE:
        kwargs = {"note": note[:2000] or None}
    elif action is Action.REJECT:
        if not note:
            return page.url(back, error="note")
        kwargs = {"note": note[:2000]}
    elif action is Action.ASSIGN:
        chosen = form.get("assignee", "")
        name = (form.get("assignee_name") or "").strip()[:100]
        people = {str(u.id): u for u in await service.assignable(page.community_id)}
        if chosen in people:
            kwargs = {
                "assignee_id": people[chosen].id,
                "assignee_name": people[chosen].display_name,
            }
        elif name:
            kwargs = {"assignee_name": name}
        else:
            return page.url(back, error="assignee")
    elif action is Action.DUPLICATE:
        original = await service.by_number(page.community_id, form.get("original", ""))
        if original is None or original.id == ticket.id:
            return page.url(back, error="duplicate")
        kwargs = {"duplicate_of": original.id, "note": original.number}
    result = await service.act(ticket.id, page.viewer.user_id, action, expected=expected, **kwargs)
    if result.outcome is Outcome.OK and result.ticket is not None:
        await _refresh_cards(page, result.ticket)
        return page.url(back, done=action.value)
    if result.outcome is Outcome.STALE:
        return page.url(back, error="stale")
    if result.outcome is Outcome.FORBIDDEN:
        return page.url(back, error="forbidden")
    if result.outcome is Outcome.INVALID and result.detail == "note":
        return page.url(back, error="note")
    return page.url(back, error="invalid")


async def _refresh_cards(page: Page, ticket: Ticket) -> None:
    """The staff cards in the staff group(s) show the new status, as after a button press."""
    outbox = page.linli.outbox
    if outbox is None:
        return
    context = SimpleNamespace(
        services=page.services,
        linli=page.linli,
        translator=page.linli.catalogs.translator,
        bot=outbox.bot,
    )
    try:
        await refresh_cards(context, ticket)  # type: ignore[arg-type]
    except Exception as exc:  # the change is made; a card not edited is no reason to fail
        log.warning("staff cards of %s not refreshed: %s", ticket.number, exc)
