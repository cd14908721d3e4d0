"""Repair requests (报修): the guided dialog, the staff card, and the resident's follow-up.

`/repair` in a group answers in one line with a button into the private chat (addresses
and phone numbers are private); in private it starts the dialog: category → where →
what is wrong → up to 3 photos → urgency → phone → preferred time → summary with
Confirm / Edit / Cancel, with "me too" on an open ticket of the same building and kind.
The staff group gets a card whose buttons only staff may use; the resident hears of every
change in private and can add information, urge (催单), cancel, and rate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import Callback, CallbackDataError, pattern, small_id, unpack
from bot.context import LinliContext
from bot.deeplinks import DeepLink, link
from bot.i18n import N_, Catalogs, Translate
from bot.phones import normalise_phone
from bot.services.tickets import CATEGORIES, OPEN, Action, Draft, Outcome, Result
from handlers.common import command, escape, reply
from handlers.common import html_payload as _payload
from handlers.dialogs import Flow, Input, Turn, start_dialog
from handlers.start import continue_in_private, link_community, member_of, on_deep_link
from storage.models import Ticket, TicketEvent, TicketStatus

log = logging.getLogger(__name__)

PREFIX = "tk"
MAX_PHOTOS = 3
ADDRESS = re.compile(r"^\D*(\d{1,3})\D+(\d{1,2})\D+(\d{1,5})\D*$")
STAFF_MARK = re.compile(r"#T(\d{1,10})·(\w+)")
NOTE_LIMIT = 1000  # a note quoted in a message (Telegram's limit is 4096 in all)

CATEGORY_NAMES = {
    "water_power": N_("💧 Water & electricity"),
    "doors_windows": N_("🚪 Doors & windows"),
    "lift": N_("🛗 Lift"),
    "public": N_("🏘 Public area"),
    "gas": N_("🔥 Gas"),
    "other": N_("🔧 Other"),
}
STATUS_NAMES = {
    TicketStatus.SUBMITTED: N_("submitted"),
    TicketStatus.ACCEPTED: N_("accepted"),
    TicketStatus.ASSIGNED: N_("assigned"),
    TicketStatus.IN_PROGRESS: N_("in progress"),
    TicketStatus.DONE: N_("done"),
    TicketStatus.CLOSED: N_("closed without a fix"),
    TicketStatus.DUPLICATE: N_("duplicate"),
    TicketStatus.CANCELLED: N_("cancelled"),
}
# What happened to a ticket, as its history shows it (the event's action code).
EVENT_NAMES = {
    "submit": N_("submitted"),
    "accept": N_("accepted"),
    "assign": N_("assigned"),
    "start": N_("work started"),
    "done": N_("done"),
    "reject": N_("rejected"),
    "duplicate": N_("marked a duplicate"),
    "cancel": N_("cancelled"),
    "reopen": N_("reopened"),
    "comment": N_("comment"),
    "info": N_("information added"),
    "urge": N_("urged"),
    "rate": N_("rated"),
    "remind": N_("reminder to staff"),
    "escalate": N_("escalated to admins"),
    "me_too": N_("a neighbour has the same problem"),
}
TIME_CHOICES = {
    "asap": N_("As soon as possible"),
    "morning": N_("Tomorrow morning"),
    "afternoon": N_("Tomorrow afternoon"),
    "evening": N_("An evening after 18:00"),
}
STAFF_BUTTONS: dict[TicketStatus, tuple[Action, ...]] = {
    TicketStatus.SUBMITTED: (
        Action.ACCEPT,
        Action.ASSIGN,
        Action.START,
        Action.REJECT,
        Action.DUPLICATE,
    ),
    TicketStatus.ACCEPTED: (
        Action.ASSIGN,
        Action.START,
        Action.DONE,
        Action.REJECT,
        Action.DUPLICATE,
    ),
    TicketStatus.ASSIGNED: (
        Action.START,
        Action.DONE,
        Action.ASSIGN,
        Action.REJECT,
        Action.DUPLICATE,
    ),
    TicketStatus.IN_PROGRESS: (Action.DONE, Action.REJECT),
}
ACTION_LABELS = {
    Action.ACCEPT: N_("✅ Accept"),
    Action.ASSIGN: N_("👷 Assign"),
    Action.START: N_("🛠 Start"),
    Action.DONE: N_("🏁 Done"),
    Action.REJECT: N_("⛔ Reject"),
    Action.DUPLICATE: N_("🔁 Duplicate of"),
}
# An FAQ answer gets the 🔧 button when one of its entry's tags is one of these (any case).
# Deliberately not "utilities" (bills and planned outages) nor "safety" (fire, fraud): an
# entry about a broken lift or a leak is a repair, one about paying the gas bill is not.
REPAIR_TAGS = frozenset(
    {"repairs", "repair", "lifts", "lift", "water", "power", "gas", "leaks", "leak", "plumbing"}
)
START_PREFIX = "rp"  # the 🔧 button in a private chat: start the repair dialog
STATUS_CODES = {s: str(i) for i, s in enumerate(TicketStatus)}
# Staff actions that need more from the staff member first: a reply to a prompt.
ASKS_FIRST = {
    Action.DONE: N_(
        "Reply to this message with a note or a photo of the finished work (or - for none)."
    ),
    Action.REJECT: N_("Reply to this message with the reason for closing it without a fix."),
    Action.DUPLICATE: N_(
        "Reply to this message with the number of the original ticket (e.g. BX-2026-0001)."
    ),
    Action.ASSIGN: N_("Reply to this message with the name of the handyman."),
}


# --- texts -----------------------------------------------------------------------------------


def cut(text: str, limit: int) -> str:
    """The text, shortened to `limit` characters with … when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def location_text(tr: Translate, ticket: Ticket | Draft, private: bool = True) -> str:
    """Where: building-unit-room (private) or the building only, or the public spot."""
    if ticket.public_spot:
        return escape(ticket.public_spot)
    if not ticket.building:
        return tr("(not given)")
    if not private:
        return tr("Building {building}", building=escape(ticket.building))
    return tr(
        "Building {building}, unit {unit}, room {room}",
        building=escape(ticket.building),
        unit=escape(ticket.unit or "-"),
        room=escape(ticket.room or "-"),
    )


def summary_lines(tr: Translate, draft: Draft, time_label: str) -> list[str]:
    """The dialog's summary before confirming."""
    lines = [
        tr(
            "Category: {value}",
            value=tr(CATEGORY_NAMES.get(draft.category, CATEGORY_NAMES["other"])),
        ),
        tr("Where: {value}", value=location_text(tr, draft)),
        tr("Problem: {value}", value=escape(draft.description) or tr("(voice message)")),
        tr("Photos: {value}", value=len(draft.photos)),
        tr("Urgent: {value}", value=tr("yes") if draft.urgent else tr("no")),
        tr("Phone: {value}", value=escape(draft.phone or "")),
        tr("Preferred time: {value}", value=escape(time_label)),
    ]
    return lines


class Renderer:
    """Ticket messages in each reader's language (the service's TicketRenderer)."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    def _tr(self, language: str) -> Translate:
        return self.catalogs.translator(language)

    def card_text(self, ticket: Ticket, tr: Translate) -> str:
        """The staff card: everything staff need, including phone and flat."""
        head = f"🛠 <b>{escape(ticket.number)}</b>"
        if ticket.urgent:
            head += " " + tr("🚨 URGENT")
        lines = [
            head,
            tr(
                "Category: {value}",
                value=tr(CATEGORY_NAMES.get(ticket.category, CATEGORY_NAMES["other"])),
            ),
            tr("Where: {value}", value=location_text(tr, ticket)),
            tr("Problem: {value}", value=escape(ticket.description) or tr("(voice message)")),
            tr("Phone: {value}", value=escape(ticket.phone or "")),
            tr("Preferred time: {value}", value=escape(ticket.preferred_time or "")),
            tr("Photos: {value}", value=len((ticket.photos or {}).get("file_ids", []))),
            tr("Status: {value}", value=tr(STATUS_NAMES[ticket.status])),
        ]
        if ticket.assignee_name:
            lines.append(tr("Assigned to: {value}", value=escape(ticket.assignee_name)))
        return "\n".join(lines)

    def card_markup(self, ticket: Ticket, tr: Translate) -> InlineKeyboardMarkup | None:
        """The staff buttons that make sense in the ticket's status."""
        actions = STAFF_BUTTONS.get(ticket.status, ())
        code = STATUS_CODES[ticket.status]
        buttons = [
            InlineKeyboardButton(
                tr(ACTION_LABELS[a]),
                callback_data=Callback(PREFIX, (str(ticket.id), a.value, code)).pack(),
            )
            for a in actions
        ]
        if not buttons:
            return None
        return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])

    def staff_card(self, ticket: Ticket, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        return _payload(self.card_text(ticket, tr), self.card_markup(ticket, tr))

    def resident_update(self, ticket: Ticket, event: TicketEvent, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        number = escape(ticket.number)
        if event.action == "submit":
            text = tr(
                "Your repair request {number} is submitted. I will tell you here of every change.",
                number=number,
            )
        else:
            text = tr(
                "Your repair request {number} is now: {status}.",
                number=number,
                status=tr(STATUS_NAMES[ticket.status]),
            )
            if ticket.status is TicketStatus.ASSIGNED and ticket.assignee_name:
                text += "\n" + tr("Assigned to: {value}", value=escape(ticket.assignee_name))
            if event.note:
                text += "\n" + tr("Note: {value}", value=escape(cut(event.note, NOTE_LIMIT)))
        return _payload(text, resident_markup(ticket, tr))

    def staff_notice(self, ticket: Ticket, event: TicketEvent, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        number = escape(ticket.number)
        texts = {
            "urge": tr("⏰ The resident is asking about {number} (催单).", number=number),
            "info": tr(
                "➕ New information for {number}: {note}",
                number=number,
                note=escape(cut(event.note or tr("(photo)"), NOTE_LIMIT)),
            ),
            "reopen": tr(
                "↩️ {number} was reopened after a rating of {note}.",
                number=number,
                note=escape(event.note or ""),
            ),
            "remind": tr("⏳ {number} has not been accepted yet.", number=number),
            "escalate": tr("🚨 {number} has been open for more than 48 hours.", number=number),
            "cancel": tr("✖️ The resident cancelled {number}.", number=number),
            "me_too": tr("👥 A neighbour has the same problem as {number}.", number=number),
            "rate": tr(
                "⭐ {number} was rated {note}.", number=number, note=escape(event.note or "")
            ),
        }
        text = texts.get(event.action, tr("{number} changed.", number=number))
        text += "\n" + tr("Status: {value}", value=tr(STATUS_NAMES[ticket.status]))
        payload: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
        if event.action in ("remind", "reopen"):
            markup = self.card_markup(ticket, tr)
            if markup is not None:
                payload["reply_markup"] = markup.to_dict()
        return payload

    def digest(self, tickets: Sequence[Ticket], language: str, now: datetime) -> dict[str, Any]:
        tr = self._tr(language)
        lines = [tr("🗒 Open repair tickets this morning: {count}", count=len(tickets))]
        for t in tickets[:40]:
            age = int((now - t.created_at).total_seconds() // 3600)
            flag = "🚨 " if t.urgent else ""
            lines.append(
                f"{flag}{escape(t.number)} · {tr(CATEGORY_NAMES.get(t.category, CATEGORY_NAMES['other']))} · "
                f"{location_text(tr, t, private=False)} · {tr(STATUS_NAMES[t.status])} · {age} h"
            )
        if len(tickets) > 40:
            lines.append(tr("… and {count} more (/tickets)", count=len(tickets) - 40))
        return {"text": "\n".join(lines), "parse_mode": "HTML"}

    def media(self, ticket: Ticket, event: TicketEvent) -> list[tuple[str, dict[str, Any]]]:
        """A new ticket's photos and voice message, or the photo an event brought; captioned
        with the ticket number (the voice is sent again by its file_id)."""
        caption = ticket.number
        if event.action == "submit":
            photos = list((ticket.photos or {}).get("file_ids", []))
            voice = ticket.voice_file_id
        else:
            photos, voice = ([event.photo_file_id] if event.photo_file_id else []), None
        items = [("sendPhoto", {"photo": p, "caption": caption}) for p in photos]
        if voice:
            items.append(("sendVoice", {"voice": voice, "caption": caption}))
        return items


def resident_markup(ticket: Ticket, tr: Translate) -> InlineKeyboardMarkup | None:
    """What the resident can do now: urge, add information, cancel; or rate when done."""
    tid = str(ticket.id)
    if ticket.status is TicketStatus.DONE and ticket.rating is None:
        stars = [
            InlineKeyboardButton(
                "⭐" * n, callback_data=Callback(PREFIX, (tid, "rate", str(n))).pack()
            )
            for n in range(1, 6)
        ]
        return InlineKeyboardMarkup([stars[:3], stars[3:]])
    if ticket.status not in OPEN:
        return None
    row = [
        InlineKeyboardButton(tr("⏰ Urge"), callback_data=Callback(PREFIX, (tid, "urge")).pack()),
        InlineKeyboardButton(
            tr("➕ Add information"), callback_data=Callback(PREFIX, (tid, "info")).pack()
        ),
    ]
    if ticket.status is not TicketStatus.IN_PROGRESS:
        row.append(
            InlineKeyboardButton(
                tr("✖️ Cancel request"), callback_data=Callback(PREFIX, (tid, "cancel")).pack()
            )
        )
    return InlineKeyboardMarkup([row])


# --- the dialog ------------------------------------------------------------------------------


def _draft(data: dict[str, Any]) -> Draft:
    return Draft(
        category=data.get("category", "other"),
        description=data.get("description", ""),
        building=data.get("building"),
        unit=data.get("unit"),
        room=data.get("room"),
        public_spot=data.get("public_spot"),
        photos=list(data.get("photos", [])),
        voice_file_id=data.get("voice"),
        urgent=bool(data.get("urgent")),
        phone=data.get("phone"),
        preferred_time=data.get("time"),
    )


def parse_address(text: str) -> tuple[str, str, str] | None:
    """Building, unit and room from 3-1-302, 3号楼1单元302, 3栋1单元302室 …"""
    found = ADDRESS.match(text.strip())
    if not found:
        return None
    return found.group(1), found.group(2), found.group(3)


def masked(phone: str) -> str:
    """138****1234."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else phone


async def ask_phone(turn: Turn, question: str) -> None:
    """A phone step's question, with the number given last time as a button."""
    options = []
    if turn.data.get("known_phone"):
        label = turn.tr("📞 Use {phone}", phone=masked(turn.data["known_phone"]))
        options.append([(label, "known")])
    await turn.ask(question, options)


async def phone_answer(turn: Turn, given: Input) -> bool:
    """Keep the answer to a phone step (the remembered number or a valid one); False: asked again."""
    data = turn.data
    if given.kind == "button" and given.value == "known" and data.get("known_phone"):
        data["phone"] = data["known_phone"]
        return True
    phone = normalise_phone(given.text) if given.kind == "text" else None
    if phone is None:
        await turn.ask(
            turn.tr(
                "That does not look like a phone number. Please write 11 digits, e.g. 13812345678."
            )
        )
        return False
    data["phone"] = phone
    return True


class RepairFlow(Flow):
    """The repair dialog's steps."""

    kind = "repair"

    async def prompt(self, turn: Turn) -> None:
        tr, data, step = turn.tr, turn.data, turn.step
        if step == "category":
            names = [(tr(CATEGORY_NAMES[c]), c) for c in CATEGORIES]
            await turn.ask(tr("What needs repairing? Choose a category."), [names[:3], names[3:]])
        elif step == "where":
            options = []
            if data.get("known_address"):
                b, u, r = data["known_address"]
                options.append([(tr("🏠 {b}-{u}-{r} (as last time)", b=b, u=u, r=r), "known")])
            options.append([(tr("✍️ Another flat"), "flat"), (tr("🏘 A public spot"), "public")])
            await turn.ask(tr("Where is it?"), options)
        elif step == "flat":
            await turn.ask(tr("Write the building, unit and room, e.g. 3-1-302 or 3号楼1单元302."))
        elif step == "public_spot":
            await turn.ask(tr("Where exactly? e.g. 5号楼东侧路灯, 地下车库B区入口."))
        elif step == "description":
            await turn.ask(
                tr("What is wrong? Describe it in a few words (text or a voice message).")
            )
        elif step == "photos":
            count = len(data.get("photos", []))
            text = (
                tr("Send up to 3 photos, or skip.")
                if not count
                else tr("Got {count} of 3 photos. Send another, or tap Done.", count=count)
            )
            label = tr("✅ Done") if count else tr("⏭ Skip")
            await turn.ask(text, [[(label, "done")]])
        elif step == "urgency":
            await turn.ask(
                tr("Is it urgent (water leaking, no power, someone trapped)?"),
                [[(tr("🚨 Urgent"), "urgent"), (tr("🕒 Normal"), "normal")]],
            )
        elif step == "phone":
            await ask_phone(
                turn, tr("Which phone number can the repair person call? Write it here.")
            )
        elif step == "time":
            options = [[(tr(label), key)] for key, label in TIME_CHOICES.items()]
            await turn.ask(tr("When would suit you? Choose, or write a time."), options)
        elif step == "confirm":
            await self._confirm(turn)

    async def _confirm(self, turn: Turn) -> None:
        tr, data = turn.tr, turn.data
        draft = _draft(data)
        similar = await turn.context.services.tickets.similar_open(
            data["community_id"], draft.building if not draft.public_spot else None, draft.category
        )
        similar = [t for t in similar if t.resident_id != turn.dialog.user_id]
        lines = [
            tr("Please check your repair request:"),
            *summary_lines(tr, draft, data.get("time_label", "")),
        ]
        buttons: list[list[tuple[str, str]]] = []
        if similar and not data.get("me_too_declined"):
            first = similar[0]
            lines += [
                "",
                tr(
                    "A neighbour already reported this: {number} ({problem}). Is it the same problem?",
                    number=escape(first.number),
                    problem=escape(first.description[:60]),
                ),
            ]
            buttons.append(
                [
                    (tr("👥 Me too — follow that one"), f"metoo{first.id}"),
                    (tr("No, a new request"), "new"),
                ]
            )
        else:
            buttons.append([(tr("✅ Submit"), "submit"), (tr("✏️ Edit"), "edit")])
        await turn.ask("\n".join(lines), buttons, back=False)

    async def handle(self, turn: Turn, given: Input) -> None:
        tr, data, step = turn.tr, turn.data, turn.step
        editing = bool(data.get("editing"))

        async def next_step(name: str) -> None:
            if editing and name not in ("flat", "public_spot"):
                data.pop("editing", None)
                turn.goto("confirm")
            else:
                turn.goto(name)
            await self.prompt(turn)

        if step == "category":
            if given.kind != "button" or given.value not in CATEGORIES:
                await self.nudge(turn)
                return
            data["category"] = given.value
            if given.value == "gas":
                await turn.say(
                    tr(
                        "🔥 If you smell gas: do not switch lights or appliances on or off, no flames; open the "
                        "windows, close the gas valve, leave, and call the gas emergency line 96777 (or 119) from "
                        "outside. Then continue this request."
                    )
                )
            if given.value == "public":
                data["public"] = True
                await next_step("public_spot")
            else:
                await next_step("where")
        elif step == "where":
            if given.kind != "button":
                address = parse_address(given.text) if given.kind == "text" else None
                if address:
                    self._set_flat(data, address)
                    await next_step("description")
                else:
                    await self.nudge(turn)
                return
            if given.value == "known" and data.get("known_address"):
                self._set_flat(data, tuple(data["known_address"]))
                await next_step("description")
            elif given.value == "public":
                await next_step("public_spot")
            elif given.value == "flat":
                await next_step("flat")
            else:
                await self.nudge(turn)
        elif step == "flat":
            address = parse_address(given.text) if given.kind == "text" else None
            if address is None:
                await turn.ask(
                    tr("I could not read that. Please write it like 3-1-302 (building-unit-room).")
                )
                return
            self._set_flat(data, address)
            data.pop("editing", None) if editing else None
            turn.goto("confirm" if editing else "description")
            await self.prompt(turn)
        elif step == "public_spot":
            text = given.text.strip() if given.kind == "text" else ""
            if not text:
                await self.nudge(turn, text_expected=True)
                return
            data.update(public_spot=text[:200], building=None, unit=None, room=None)
            data.pop("editing", None) if editing else None
            turn.goto("confirm" if editing else "description")
            await self.prompt(turn)
        elif step == "description":
            if given.kind == "voice":
                data["voice"], data["description"] = given.file_id, given.text.strip()[:2000]
            elif given.kind == "text" and given.text.strip():
                data["description"] = given.text.strip()[:2000]
            elif given.kind == "photo":
                data["description"] = given.text.strip()[:2000]
                data.setdefault("photos", []).append(given.file_id)
            else:
                await self.nudge(turn, text_expected=True)
                return
            await next_step("photos")
        elif step == "photos":
            photos = list(data.get("photos", []))
            if given.kind == "photo" and given.file_id:
                photos.append(given.file_id)
                data["photos"] = photos[:MAX_PHOTOS]
                if len(photos) >= MAX_PHOTOS:
                    await next_step("urgency")
                else:
                    await self.prompt(turn)
            elif given.kind == "button" and given.value == "done":
                await next_step("urgency")
            else:
                await turn.ask(
                    tr("Please send a photo (not a file or sticker), or tap the button."),
                    [[(tr("✅ Done") if photos else tr("⏭ Skip"), "done")]],
                )
        elif step == "urgency":
            if given.kind != "button" or given.value not in ("urgent", "normal"):
                await self.nudge(turn)
                return
            data["urgent"] = given.value == "urgent"
            await next_step("phone")
        elif step == "phone":
            if await phone_answer(turn, given):
                await next_step("time")
        elif step == "time":
            if given.kind == "button" and given.value in TIME_CHOICES:
                data["time"] = given.value
                data["time_label"] = tr(TIME_CHOICES[given.value])
            elif given.kind == "text" and given.text.strip():
                data["time"] = data["time_label"] = given.text.strip()[:100]
            else:
                await self.nudge(turn)
                return
            data.pop("editing", None)
            turn.goto("confirm")
            await self.prompt(turn)
        elif step == "confirm":
            await self._on_confirm(turn, given)
        elif step == "edit":
            targets = {
                "where": "where",
                "description": "description",
                "photos": "photos",
                "urgency": "urgency",
                "phone": "phone",
                "time": "time",
            }
            if given.kind != "button" or given.value not in targets:
                await self.nudge(turn)
                return
            data["editing"] = True
            if given.value == "photos":
                data["photos"] = []
            turn.goto(targets[given.value])
            await self.prompt(turn)

    async def _on_confirm(self, turn: Turn, given: Input) -> None:
        tr, data = turn.tr, turn.data
        if given.kind != "button":
            await self.nudge(turn)
            return
        if given.value == "new":
            data["me_too_declined"] = True
            await self.prompt(turn)
        elif given.value.startswith("metoo") and small_id(given.value[5:]) is not None:
            result = await turn.context.services.tickets.me_too(
                int(given.value[5:]), turn.dialog.user_id
            )
            if result.outcome is Outcome.OK and result.ticket is not None and await turn.finish():
                await turn.say(
                    tr(
                        "Thank you. You will hear of every change to {number} too.",
                        number=escape(result.ticket.number),
                    )
                )
            else:
                data["me_too_declined"] = True
                await self.prompt(turn)
        elif given.value == "edit":
            turn.goto("edit")
            await turn.ask(
                tr("What do you want to change?"),
                [
                    [
                        (tr("Where"), "where"),
                        (tr("Problem"), "description"),
                        (tr("Photos"), "photos"),
                    ],
                    [(tr("Urgency"), "urgency"), (tr("Phone"), "phone"), (tr("Time"), "time")],
                ],
            )
        elif given.value == "submit":
            # The ticket and the dialog's end commit together (a crash leaves both or neither).
            ticket = await turn.context.services.tickets.submit(
                data["community_id"], turn.dialog.user_id, _draft(data), dialog_id=turn.dialog.id
            )
            turn.ended = True
            if ticket is None:
                return  # a double press: the first one submitted it
            # The resident's confirmation, with its buttons, comes through the outbox.
            log.info("dialog %s submitted %s", turn.dialog.id, ticket.number)
            turn.context.linli.wake_outbox()
        else:
            await self.nudge(turn)

    @staticmethod
    def _set_flat(data: dict[str, Any], address: Sequence[str]) -> None:
        data.update(building=address[0], unit=address[1], room=address[2], public_spot=None)

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("Repair request cancelled. Nothing was submitted."))


class InfoFlow(Flow):
    """The resident adds information (text or a photo) to an open ticket."""

    kind = "ticket_info"

    async def prompt(self, turn: Turn) -> None:
        await turn.ask(turn.tr("Write what you want to add, or send a photo."), back=False)

    async def handle(self, turn: Turn, given: Input) -> None:
        if given.kind not in ("text", "photo") or (given.kind == "text" and not given.text.strip()):
            await turn.say(turn.tr("Please write text or send a photo."))
            return
        result = await turn.context.services.tickets.add_info(
            turn.data["ticket_id"], turn.dialog.user_id, given.text, given.file_id
        )
        await turn.finish()
        turn.context.linli.wake_outbox()
        if result.outcome is Outcome.OK:
            await turn.say(turn.tr("Added. The staff have been told."))
        else:
            await turn.say(turn.tr("This request is closed; nothing was added."))


class CommentFlow(Flow):
    """An optional comment after a rating."""

    kind = "ticket_comment"

    async def prompt(self, turn: Turn) -> None:
        await turn.ask(
            turn.tr("Thank you! Anything to add? Write a comment, or tap Cancel."), back=False
        )

    async def handle(self, turn: Turn, given: Input) -> None:
        if given.kind != "text" or not given.text.strip():
            await turn.say(turn.tr("Please write text."))
            return
        await turn.context.services.tickets.comment(
            turn.data["ticket_id"], turn.dialog.user_id, given.text
        )
        await turn.finish()
        await turn.say(turn.tr("Thank you for your comment."))

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("OK."))


REPAIR, INFO, COMMENT = RepairFlow(), InfoFlow(), CommentFlow()


# --- commands ---------------------------------------------------------------------------------


async def repair(update: Update, context: LinliContext) -> None:
    """/repair: in a group, one line and a button into the private chat; in private, the dialog."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    community_id = context.identity.community_id
    if message.chat.type != "private":
        await continue_in_private(
            message,
            context,
            "repair",
            context.tr(
                "Repairs need your address and phone, so let us continue in a private chat."
            ),
            context.tr("🔧 Continue in private"),
        )
        return
    await _start_repair(update, context, community_id)


def about_repairs(tags: Sequence[str]) -> bool:
    """True for a knowledge-base entry about something to repair (see REPAIR_TAGS)."""
    return any(tag.lower() in REPAIR_TAGS for tag in tags)


def repair_button(context: LinliContext, private: bool) -> InlineKeyboardButton | None:
    """🔧 under an FAQ answer: starts the dialog in private, a deep link from a group."""
    community_id = context.identity.community_id if context.identity else None
    label = context.tr("🔧 Report a repair")
    if private:
        args = (str(community_id),) if community_id is not None else ()
        return InlineKeyboardButton(label, callback_data=Callback(START_PREFIX, args).pack())
    if community_id is None or not context.bot.username:
        return None
    return InlineKeyboardButton(
        label, url=link(context.bot.username, DeepLink("repair", str(community_id)))
    )


async def _start_pressed(update: Update, context: LinliContext) -> None:
    """The 🔧 button under an FAQ answer in a private chat."""
    query = update.callback_query
    if query is None:
        return
    if query.message is None or query.message.chat.type != "private":
        await query.answer(context.tr("This button is no longer valid."))
        return  # never ask for an address in a group
    try:
        community_id: int | None = unpack(query.data).int_arg(0)
    except CallbackDataError:
        community_id = None  # _start_repair asks for /repair in the group then
    await query.answer()
    await _start_repair(update, context, community_id)


async def _repair_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    await _start_repair(update, context, link_community(deep_link))


async def _start_repair(update: Update, context: LinliContext, community_id: int | None) -> None:
    message = update.effective_message
    user = update.effective_user
    refusal = context.tr(
        "I don't know your community yet. Send /repair in your community's group and I will continue here."
    )
    if not await member_of(update, context, community_id, refusal):
        return
    assert message is not None and user is not None and community_id is not None
    known = await context.services.people.contact(user.id)
    data: dict[str, Any] = {"community_id": community_id}
    if known.building and known.unit and known.room:
        data["known_address"] = [known.building, known.unit, known.room]
    if known.phone:
        data["known_phone"] = known.phone
    await start_dialog(context, user.id, message.chat.id, REPAIR, "category", data, community_id)


async def tickets_command(update: Update, context: LinliContext) -> None:
    """/tickets: staff see the queue (open, mine, overdue, a building or category); residents theirs."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    if context.args and context.args[0].lower() in ("export", "导出"):
        from handlers.ticket_export import export_tickets  # it imports this module

        await export_tickets(update, context)
        return
    tr = context.tr
    community_id = context.identity.community_id
    is_staff = community_id is not None and await context.services.tickets.is_staff(
        message.from_user.id, community_id
    )
    if not is_staff:
        mine = await context.services.tickets.of_resident(message.from_user.id)
        if not mine:
            await reply(
                message, tr("You have no repair requests. Send /repair to report something.")
            )
            return
        # People write phones and flats into descriptions: a group sees numbers and states only.
        in_private = message.chat.type == "private"
        lines = [tr("Your repair requests:")] + [
            f"{escape(t.number)} · {tr(STATUS_NAMES[t.status])}"
            + (f" · {escape(cut(t.description, 40))}" if in_private else "")
            for t in mine
        ]
        await reply(message, "\n".join(lines))
        return
    assert community_id is not None
    args = [a.lower() for a in context.args or []]
    which, building, category = "open", None, None
    for arg in args:
        if arg in ("open", "mine", "overdue", "all"):
            which = arg
        elif arg in CATEGORIES:
            category = arg
        elif arg.isdigit():
            building = arg
    found = await context.services.tickets.listing(
        community_id,
        which=which,
        user_id=message.from_user.id,
        building=building,
        category=category,
    )
    if not found:
        await reply(message, tr("No tickets match."))
        return
    lines = [tr("Tickets ({count}):", count=len(found))]
    for t in found:
        flag = "🚨 " if t.urgent else ""
        lines.append(
            f"{flag}<b>{escape(t.number)}</b> · {tr(CATEGORY_NAMES.get(t.category, CATEGORY_NAMES['other']))} · "
            f"{location_text(tr, t, private=False)} · {tr(STATUS_NAMES[t.status])}"
        )
    lines.append(tr("Details: /ticket BX-2026-0001"))
    await reply(message, "\n".join(lines))


async def ticket_command(update: Update, context: LinliContext) -> None:
    """/ticket N: one ticket with its history (staff; a resident their own)."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    tr = context.tr
    if not context.args:
        await reply(message, tr("Write the ticket number, e.g. /ticket BX-2026-0001"))
        return
    community_id = context.identity.community_id
    ticket = (
        await context.services.tickets.by_number(community_id, context.args[0])
        if community_id
        else None
    )
    if ticket is None:
        await reply(
            message, tr("There is no ticket {number}.", number=escape(context.args[0][:40]))
        )
        return
    is_staff = await context.services.tickets.is_staff(message.from_user.id, ticket.community_id)
    if not is_staff and ticket.resident_id != message.from_user.id:
        await reply(
            message, tr("There is no ticket {number}.", number=escape(context.args[0][:40]))
        )
        return
    private = (
        is_staff
        and message.chat.type != "private"
        and context.identity.chat_kind is not None
        and context.identity.chat_kind.value == "staff"
    )
    renderer = Renderer(context.linli.catalogs)
    text = (
        renderer.card_text(ticket, tr)
        if (private or message.chat.type == "private")
        else "\n".join(
            [
                f"<b>{escape(ticket.number)}</b>",
                tr("Status: {value}", value=tr(STATUS_NAMES[ticket.status])),
            ]
        )
    )
    history = await context.services.tickets.history(ticket.id)
    zone = ZoneInfo(context.linli.settings.timezone)
    lines = [text, "", tr("History:")]
    for event in history:
        when = event.at.astimezone(zone).strftime("%m-%d %H:%M")
        what = tr(EVENT_NAMES[event.action]) if event.action in EVENT_NAMES else event.action
        note = (
            f" · {escape(event.note)}"
            if event.note and (private or message.chat.type == "private")
            else ""
        )
        lines.append(f"{when} {escape(what)}{note}")
    markup = renderer.card_markup(ticket, tr) if is_staff else resident_markup(ticket, tr)
    await reply(message, "\n".join(lines)[:4000], reply_markup=markup)


# --- buttons -------------------------------------------------------------------------------------

RESULT_TEXTS = {
    Outcome.FORBIDDEN: N_("Only staff can do this."),
    Outcome.NOT_FOUND: N_("This ticket no longer exists."),
    Outcome.INVALID: N_("That did not work; please try again."),
}


async def pressed(update: Update, context: LinliContext) -> None:
    """A ticket button: staff actions on the card, or the resident's own."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        ticket_id, action = data.int_arg(0), data.args[1]
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    if action in {a.value for a in ACTION_LABELS}:
        await _staff_pressed(
            update, context, ticket_id, Action(action), data.args[2] if len(data.args) > 2 else ""
        )
    elif action == "as" and len(data.args) > 2:
        await _assign_to(update, context, ticket_id, data.args[2])
    elif action in ("urge", "info", "cancel", "rate"):
        await _resident_pressed(
            update, context, ticket_id, action, data.args[2] if len(data.args) > 2 else ""
        )
    else:
        await query.answer(context.tr("This button is no longer valid."))


async def _staff_pressed(
    update: Update, context: LinliContext, ticket_id: int, action: Action, code: str
) -> None:
    query = update.callback_query
    assert query is not None
    tickets = context.services.tickets
    ticket = await tickets.get(ticket_id)
    if ticket is None:
        await query.answer(context.tr(RESULT_TEXTS[Outcome.NOT_FOUND]), show_alert=True)
        return
    if not await tickets.is_staff(query.from_user.id, ticket.community_id):
        await query.answer(context.tr(RESULT_TEXTS[Outcome.FORBIDDEN]), show_alert=True)
        return
    expected = next((s for s, c in STATUS_CODES.items() if c == code), None)
    if expected is None or ticket.status is not expected:
        await _answer_stale(
            query, context, Result(Outcome.STALE, ticket, await _last_by(context, ticket))
        )
        return
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if action is Action.ASSIGN:
        staff = await tickets.staff_of(ticket.community_id)
        rows = [
            [
                InlineKeyboardButton(
                    u.display_name[:30],
                    callback_data=Callback(PREFIX, (str(ticket.id), "as", str(u.id))).pack(),
                )
            ]
            for u in staff[:8]
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    context.tr("✍️ Someone else"),
                    callback_data=Callback(PREFIX, (str(ticket.id), "as", "other")).pack(),
                )
            ]
        )
        await query.answer()
        await context.bot.send_message(
            chat_id,
            context.tr("Assign {number} to:", number=escape(ticket.number)),
            parse_mode="HTML",
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return
    if action in ASKS_FIRST:
        await query.answer()
        await _ask_staff(context, chat_id, ticket, action)
        return
    result = await tickets.act(ticket_id, query.from_user.id, action, expected=expected)
    await _after_staff(update, context, result)


async def _ask_staff(context: LinliContext, chat_id: int, ticket: Ticket, action: Action) -> None:
    await context.bot.send_message(
        chat_id,
        context.tr(ASKS_FIRST[action])
        + f"\n<b>{escape(ticket.number)}</b> #T{ticket.id}·{action.value}",
        parse_mode="HTML",
        reply_markup=ForceReply(selective=False, input_field_placeholder=ticket.number),
    )


async def _assign_to(update: Update, context: LinliContext, ticket_id: int, who: str) -> None:
    query = update.callback_query
    assert query is not None
    tickets = context.services.tickets
    ticket = await tickets.get(ticket_id)
    if ticket is None or not await tickets.is_staff(query.from_user.id, ticket.community_id):
        await query.answer(context.tr(RESULT_TEXTS[Outcome.FORBIDDEN]), show_alert=True)
        return
    if who == "other":
        await query.answer()
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await _ask_staff(context, chat_id, ticket, Action.ASSIGN)
        return
    staff = {str(u.id): u for u in await tickets.staff_of(ticket.community_id)}
    person_ = staff.get(who)
    if person_ is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    result = await tickets.act(
        ticket_id,
        query.from_user.id,
        Action.ASSIGN,
        assignee_id=person_.id,
        assignee_name=person_.display_name,
    )
    await _after_staff(update, context, result, edit_card=False)


async def _after_staff(
    update: Update, context: LinliContext, result: Result, edit_card: bool = True
) -> None:
    query = update.callback_query
    context.linli.wake_outbox()
    if result.outcome is Outcome.STALE:
        if query is not None:
            await _answer_stale(query, context, result)
        return
    if result.outcome is not Outcome.OK or result.ticket is None:
        if query is not None:
            await query.answer(
                context.tr(RESULT_TEXTS.get(result.outcome, RESULT_TEXTS[Outcome.INVALID])),
                show_alert=True,
            )
        return
    ticket = result.ticket
    tr = context.tr
    cards = await refresh_cards(context, ticket)
    if query is not None:
        await query.answer(
            tr(
                "{number} is now: {status}",
                number=ticket.number,
                status=tr(STATUS_NAMES[ticket.status]),
            )
        )
        pressed_on = query.message
        if edit_card and isinstance(pressed_on, Message):
            if (pressed_on.chat.id, pressed_on.message_id) in cards:
                return
            renderer = Renderer(context.linli.catalogs)
            try:
                await query.edit_message_text(
                    renderer.card_text(ticket, tr),
                    parse_mode="HTML",
                    reply_markup=renderer.card_markup(ticket, tr),
                )
            except TelegramError as exc:
                log.debug("card not edited: %s", exc)
        elif isinstance(pressed_on, Message):
            try:
                await query.edit_message_text(
                    tr(
                        "{number} is now: {status}",
                        number=escape(ticket.number),
                        status=tr(STATUS_NAMES[ticket.status]),
                    ),
                    parse_mode="HTML",
                )
            except TelegramError as exc:
                log.debug("assign menu not edited: %s", exc)


async def refresh_cards(context: LinliContext, ticket: Ticket) -> list[tuple[int, int]]:
    """Bring the staff cards of a ticket up to date (status, assignee, buttons)."""
    language, cards = await context.services.tickets.cards(ticket.id)
    renderer, tr = Renderer(context.linli.catalogs), context.translator(language)
    text, markup = renderer.card_text(ticket, tr), renderer.card_markup(ticket, tr)
    for chat_id, message_id in cards:
        try:
            await context.bot.edit_message_text(
                text, chat_id, message_id, parse_mode="HTML", reply_markup=markup
            )
        except TelegramError as exc:  # "not modified", or the card was deleted
            log.debug("card %s/%s not edited: %s", chat_id, message_id, exc)
    return cards


async def _answer_stale(query: Any, context: LinliContext, result: Result) -> None:
    ticket = result.ticket
    status = context.tr(STATUS_NAMES[ticket.status]) if ticket else "?"
    if result.by:
        text = context.tr("Already handled by {name}: {status}.", name=result.by, status=status)
    else:
        text = context.tr("Already changed: {status}.", status=status)
    await query.answer(text, show_alert=True)


async def _last_by(context: LinliContext, ticket: Ticket) -> str | None:
    history = await context.services.tickets.history(ticket.id)
    for event in reversed(history):
        if event.actor_id is not None:
            return await context.services.people.name_of(event.actor_id)
    return None


async def staff_reply(update: Update, context: LinliContext) -> None:
    """A staff member's reply to a Done / Reject / Duplicate / Assign prompt."""
    message = update.message
    if message is None or message.from_user is None:
        return
    replied = message.reply_to_message
    found = STAFF_MARK.search((replied.text or "") if replied else "")
    if (
        replied is None
        or found is None
        or replied.from_user is None
        or replied.from_user.id != context.bot.id
    ):
        return
    ticket_id, action_name = int(found.group(1)), found.group(2)
    try:
        action = Action(action_name)
    except ValueError:
        return
    text = (message.text or message.caption or "").strip()
    photo = message.photo[-1].file_id if message.photo else None
    tickets = context.services.tickets
    kwargs: dict[str, Any] = {}
    if action is Action.DONE:
        kwargs = {"note": None if text in ("", "-") else text, "photo": photo}
    elif action is Action.REJECT:
        kwargs = {"note": text}
    elif action is Action.ASSIGN:
        if not text:
            await reply(message, context.tr("Please write a name."))
            raise ApplicationHandlerStop  # the FAQ must not also answer a staff action
        kwargs = {"assignee_name": text[:100]}
    elif action is Action.DUPLICATE:
        ticket = await tickets.get(ticket_id)
        original = await tickets.by_number(ticket.community_id, text) if ticket else None
        if original is None:
            await reply(
                message, context.tr("There is no ticket {number}.", number=escape(text[:40]))
            )
            raise ApplicationHandlerStop  # the FAQ must not also answer a staff action
        kwargs = {"duplicate_of": original.id, "note": original.number}
    result = await tickets.act(ticket_id, message.from_user.id, action, **kwargs)
    context.linli.wake_outbox()
    tr = context.tr
    if result.outcome is Outcome.OK and result.ticket is not None:
        await refresh_cards(context, result.ticket)
        await reply(
            message,
            tr(
                "{number} is now: {status}",
                number=escape(result.ticket.number),
                status=tr(STATUS_NAMES[result.ticket.status]),
            ),
        )
    elif result.outcome is Outcome.STALE and result.ticket is not None:
        await reply(
            message, tr("Already changed: {status}.", status=tr(STATUS_NAMES[result.ticket.status]))
        )
    elif result.outcome is Outcome.INVALID and action is Action.REJECT:
        await reply(message, tr("Please write the reason."))
    else:
        await reply(message, tr(RESULT_TEXTS.get(result.outcome, RESULT_TEXTS[Outcome.INVALID])))
    raise ApplicationHandlerStop  # the FAQ must not also answer a staff action


async def _resident_pressed(
    update: Update, context: LinliContext, ticket_id: int, action: str, arg: str
) -> None:
    query = update.callback_query
    assert query is not None
    tickets = context.services.tickets
    user_id = query.from_user.id
    tr = context.tr
    ticket = await tickets.get(ticket_id)
    if ticket is None or ticket.resident_id != user_id:
        await query.answer(tr("This button is no longer valid."), show_alert=True)
        return
    chat_id = query.message.chat.id if query.message else user_id
    if action == "urge":
        result = await tickets.urge(ticket_id, user_id)
        context.linli.wake_outbox()
        if result.outcome is Outcome.OK:
            await query.answer(tr("The staff have been reminded."), show_alert=True)
        elif result.outcome is Outcome.TOO_SOON:
            await query.answer(
                tr(
                    "You reminded them recently; you can again in {minutes} minutes.",
                    minutes=result.detail,
                ),
                show_alert=True,
            )
        else:
            await query.answer(tr("This request is closed."), show_alert=True)
    elif action == "info":
        await query.answer()
        await start_dialog(
            context, user_id, chat_id, INFO, "info", {"ticket_id": ticket_id}, ticket.community_id
        )
    elif action == "cancel":
        result = await tickets.act(ticket_id, user_id, Action.CANCEL)
        context.linli.wake_outbox()
        if result.outcome is Outcome.OK:
            await query.answer()
            await context.bot.send_message(
                chat_id,
                tr("Your repair request {number} is cancelled.", number=escape(ticket.number)),
                parse_mode="HTML",
            )
        else:
            await query.answer(
                tr("It cannot be cancelled any more: work has started or it is closed."),
                show_alert=True,
            )
    elif action == "rate" and arg in ("1", "2", "3", "4", "5"):
        result = await tickets.rate(ticket_id, user_id, int(arg))
        context.linli.wake_outbox()
        if result.outcome is not Outcome.OK:
            rated = result.ticket is not None and result.ticket.rating is not None
            await query.answer(
                tr("You have already rated this request.")
                if rated
                else tr("This button is no longer valid."),
                show_alert=True,
            )
            return
        await query.answer()
        if isinstance(query.message, Message):
            try:
                await query.edit_message_reply_markup(None)
            except TelegramError:
                pass
        if int(arg) <= 2:
            await context.bot.send_message(
                chat_id,
                tr(
                    "Sorry it is not right yet. I have reopened {number} and told the staff.",
                    number=escape(ticket.number),
                ),
                parse_mode="HTML",
            )
        await start_dialog(
            context,
            user_id,
            chat_id,
            COMMENT,
            "comment",
            {"ticket_id": ticket_id},
            ticket.community_id,
        )
    else:
        await query.answer(tr("This button is no longer valid."))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /repair, /tickets, /ticket, the ticket buttons and the dialogs."""
    for flow in (REPAIR, INFO, COMMENT):
        Flow.register(flow)
    linli = application.bot_data["linli"]
    linli.services.tickets.renderer = Renderer(linli.catalogs)
    if linli.ticker is not None:
        linli.ticker.add("tickets", linli.services.tickets.tick)
    on_deep_link("repair", _repair_link)
    application.add_handler(command("repair", repair))
    application.add_handler(command("tickets", tickets_command))
    application.add_handler(command("ticket", ticket_command))
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
    application.add_handler(CallbackQueryHandler(_start_pressed, pattern=pattern(START_PREFIX)))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.REPLY
            & (filters.TEXT | filters.PHOTO)
            & ~filters.COMMAND,
            staff_reply,
        ),
        group=-4,
    )
