"""Errands between neighbours (跑腿): the request dialog, the public card, taker and requester.

`/errand` in a group answers in one line with a button into the private chat (the address
and phone are private); in private it starts the dialog: what → details → from where → to
where → by when → payment (tip) → phone → for whom → summary with Submit / Edit / Cancel.
The volunteers' group (and the residents' group if the community wants) gets a card with no
address or phone and a "Take it" button: the first volunteer to press it wins, the others are
told it is taken. The taker gets the private details in private, with Picked up, Delivered
and Give back; the requester hears of every step and confirms, rates and thanks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler

from bot.callbacks import Callback, CallbackDataError, pattern, small_id, unpack
from bot.context import LinliContext
from bot.deeplinks import DeepLink
from bot.i18n import N_, Catalogs, Translate
from bot.services.errands import (
    KINDS,
    LIVE,
    MAX_TIP,
    BoardLine,
    ErrandDraft,
    Outcome,
    Result,
)
from handlers.common import command, escape, hide_phones, html_payload, reply
from handlers.dialogs import Flow, Input, Turn, start_dialog
from handlers.repair import ask_phone, cut, phone_answer
from handlers.start import continue_in_private, link_community, member_of, on_deep_link
from storage.models import Errand, ErrandEvent, ErrandStatus

log = logging.getLogger(__name__)

PREFIX = "er"
KIND_NAMES = {
    "groceries": N_("🛒 Groceries"),
    "medicine": N_("💊 Medicine"),
    "parcel": N_("📦 Parcel"),
    "clinic_company": N_("🏥 Company to the clinic"),
    "other": N_("🙋 Other"),
}
STATUS_NAMES = {
    ErrandStatus.OPEN: N_("waiting for a volunteer"),
    ErrandStatus.TAKEN: N_("taken"),
    ErrandStatus.PICKED_UP: N_("picked up"),
    ErrandStatus.DELIVERED: N_("delivered"),
    ErrandStatus.CONFIRMED: N_("confirmed"),
    ErrandStatus.CANCELLED: N_("cancelled"),
    ErrandStatus.EXPIRED: N_("expired"),
}
PAYMENT_CHOICES = {
    "repay": N_("💰 I repay the cost on delivery"),
    "tip": N_("🎁 I repay the cost and add a tip"),
    "timebank": N_("⏳ Time-bank credit only"),
}
WHEN_CHOICES = {
    "hour": N_("Within 1 hour"),
    "today": N_("Today, by 20:00"),
    "morning": N_("Tomorrow morning"),
}
FOR_CHOICES = {
    "me": N_("For myself"),
    "elder": N_("👵 For an elder"),
    "other": N_("For someone else"),
}
WHEN_EXAMPLES = N_("Write a time like 18:00, 明天下午3点 or tomorrow 9am, or choose a button.")
TIME = re.compile(
    r"^(今天|明天|后天|today|tomorrow)?\s*(早上|上午|中午|下午|傍晚|晚上)?\s*"
    r"(\d{1,2})(?:\s*(?:[:：]\s*(\d{2})|(点|时)\s*(半|\d{1,2})?\s*分?)|\s*(am|pm))\s*(am|pm)?$",
    re.IGNORECASE,
)
AMOUNT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(?:元|块钱?|yuan|rmb|¥)?$", re.IGNORECASE)
LIMITS = {"details": 500, "from": 100, "to": 100, "who": 50}


# --- parsing ---------------------------------------------------------------------------------


def parse_deadline(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A time people write (18:00, 明天下午3点, 3点半, tomorrow 9am) as aware UTC; None if unclear.

    A time of day without a day means today; the caller refuses one in the past.
    """
    found = TIME.match(text.strip().lower().replace("：", ":"))
    if not found:
        return None
    day, period, hour_s, minute_s, _dot, dot_minute, ampm, ampm2 = found.groups()
    hour, ampm = int(hour_s), ampm or ampm2
    minute = int(minute_s) if minute_s else (30 if dot_minute == "半" else int(dot_minute or 0))
    if ampm and not 1 <= hour <= 12:
        return None
    if (period in ("下午", "傍晚", "晚上") or ampm == "pm") and hour < 12:
        hour += 12
    elif period == "中午" and hour < 3:
        hour += 12
    elif (period in ("早上", "上午") or ampm == "am") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    offset = {"明天": 1, "tomorrow": 1, "后天": 2}.get(day or "", 0)
    local = now.astimezone(zone) + timedelta(days=offset)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0).astimezone(now.tzinfo)


def choice_deadline(choice: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The deadline of a button: in an hour, today 20:00, tomorrow 12:00 (None: too late today)."""
    local = now.astimezone(zone)
    if choice == "hour":
        return now + timedelta(hours=1)
    if choice == "today":
        at = local.replace(hour=20, minute=0, second=0, microsecond=0)
        return at.astimezone(now.tzinfo) if at > local + timedelta(minutes=30) else None
    if choice == "morning":
        at = (local + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
        return at.astimezone(now.tzinfo)
    return None


def parse_tip(text: str) -> int | None:
    """A tip in whole yuan, 0–200; None for anything else (negative, absurd, unclear)."""
    found = AMOUNT.match(text.strip().replace("￥", "¥").lstrip("¥").strip())
    if not found:
        return None
    value = float(found.group(1))
    if value < 0 or value > MAX_TIP or value != int(value):
        return None
    return int(value)


# --- texts -------------------------------------------------------------------------------------


class Renderer:
    """Errand messages in each reader's language (the service's ErrandRenderer)."""

    def __init__(self, catalogs: Catalogs, timezone: str) -> None:
        self.catalogs = catalogs
        self.zone = ZoneInfo(timezone)

    def _tr(self, language: str) -> Translate:
        return self.catalogs.translator(language)

    def when(self, at: datetime) -> str:
        """A deadline as people read it, in the community's time."""
        return at.astimezone(self.zone).strftime("%m-%d %H:%M")

    def title(self, errand: Errand, tr: Translate) -> str:
        """🛵 #12 👵 💊 Medicine."""
        elder = " 👵" if errand.for_elder else ""
        kind = tr(KIND_NAMES.get(errand.kind, KIND_NAMES["other"]))
        return f"🛵 <b>#{errand.id}</b>{elder} {kind}"

    def payment_text(self, errand: Errand, tr: Translate) -> str:
        """How it is paid."""
        if errand.payment == "timebank":
            return tr("time-bank credit only")
        if errand.tip_yuan:
            return tr("cost repaid on delivery, tip {amount} yuan", amount=errand.tip_yuan)
        return tr("cost repaid on delivery")

    def public_lines(self, errand: Errand, tr: Translate) -> list[str]:
        """What anyone may read: no address, no phone, no name."""
        lines = [
            self.title(errand, tr),
            tr("What: {value}", value=escape(cut(errand.details, 300))),
            tr("From: {value}", value=escape(errand.from_place)),
            tr("By: {value}", value=self.when(errand.deadline)),
            tr("Payment: {value}", value=self.payment_text(errand, tr)),
        ]
        if errand.for_elder:
            lines.append(tr("👵 For an elder"))
        return lines

    def private_lines(self, errand: Errand, tr: Translate) -> list[str]:
        """What the taker, the requester and staff read besides: where to, phone, for whom."""
        lines = [tr("To: {value}", value=escape(errand.to_place or tr("(not given)")))]
        lines.append(tr("Phone: {value}", value=escape(errand.phone or tr("(not given)"))))
        if errand.on_behalf_of:
            lines.append(tr("For: {value}", value=escape(errand.on_behalf_of)))
        return lines

    def card_text(self, errand: Errand, tr: Translate, taker: str | None = None) -> str:
        """The public card; once taken, who took it instead of the button. A phone typed into
        what or from is masked: the card may go to the residents' group."""
        lines = [hide_phones(line) for line in self.public_lines(errand, tr)]
        if errand.status is ErrandStatus.OPEN:
            lines.append(tr("Volunteers: tap the button to take it."))
        elif taker and errand.status in LIVE:
            lines.append(tr("✅ Taken by {name}", name=escape(taker)))
        else:
            lines.append(tr("Status: {value}", value=tr(STATUS_NAMES[errand.status])))
        return "\n".join(lines)

    def card_markup(self, errand: Errand, tr: Translate) -> InlineKeyboardMarkup | None:
        """Take it (anyone may press; the server decides), and Assign for staff."""
        if errand.status is not ErrandStatus.OPEN:
            return None
        eid = str(errand.id)
        return InlineKeyboardMarkup(
            [
                [_button(tr("🙋 Take it"), eid, "take")],
                [_button(tr("👤 Assign (staff)"), eid, "asg")],
            ]
        )

    def card(self, errand: Errand, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        return html_payload(self.card_text(errand, tr), self.card_markup(errand, tr))

    def requester_update(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        number = f"#{errand.id}"
        texts = {
            "post": tr(
                "Your errand {number} is posted for the volunteers. I will tell you here when someone takes it.",
                number=number,
            ),
            "take": tr("🙋 A volunteer took your errand {number}.", number=number),
            "assign": tr("🙋 The staff gave your errand {number} to a volunteer.", number=number),
            "pick_up": tr("📦 Your errand {number} is picked up and on its way.", number=number),
            "deliver": tr(
                "✅ Your errand {number} is delivered. Please confirm, and rate the volunteer.",
                number=number,
            ),
            "give_back": tr(
                "↩️ The volunteer could not do your errand {number} after all; it is posted again.",
                number=number,
            ),
            "expire": tr(
                "⌛ Nobody could take your errand {number} in time; it has expired. The staff know.",
                number=number,
            ),
            "cancel": tr("✖️ Your errand {number} was cancelled by the staff.", number=number),
            "auto_confirm": tr(
                "Your errand {number} was confirmed automatically a day after delivery.",
                number=number,
            ),
        }
        text = texts.get(event.action, tr("Your errand {number} changed.", number=number))
        if event.action in ("take", "assign"):
            text += "\n" + tr("Volunteer: {value}", value=escape(event.note or "?"))
        if event.action == "post":
            text += "\n\n" + "\n".join(
                self.public_lines(errand, tr) + self.private_lines(errand, tr)
            )
        return html_payload(text, requester_markup(errand, tr))

    def taker_update(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        number = f"#{errand.id}"
        if event.action in ("take", "assign"):
            head = (
                tr(
                    "🙋 You took errand {number}. Here are the details (keep them private):",
                    number=number,
                )
                if event.action == "take"
                else tr(
                    "🙋 The staff gave you errand {number}. The details (keep them private):",
                    number=number,
                )
            )
            text = "\n".join(
                [head, *self.public_lines(errand, tr), *self.private_lines(errand, tr)]
            )
            return html_payload(text, taker_markup(errand, tr))
        texts = {
            "cancel": tr("✖️ Errand {number} was cancelled; no need to go on.", number=number),
            "confirm": tr("🎉 Errand {number} is confirmed. Thank you!", number=number),
            "auto_confirm": tr("🎉 Errand {number} is confirmed. Thank you!", number=number),
            "rate": tr(
                "⭐ The neighbour rated errand {number}: {stars}",
                number=number,
                stars=escape(event.note or ""),
            ),
            "thanks": tr(
                "💌 Thanks for errand {number}: {words}",
                number=number,
                words=escape(cut(event.note or "", 500)),
            ),
        }
        text = texts.get(event.action, tr("Errand {number} changed.", number=number))
        if event.action == "cancel" and event.from_status == ErrandStatus.PICKED_UP.value:
            text += "\n" + tr("The staff have been told and will help settle what you bought.")
        return html_payload(text, None)

    def staff_notice(self, errand: Errand, event: ErrandEvent, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        number = f"#{errand.id}"
        texts = {
            "expire": tr(
                "⌛ Errand {number} expired: nobody took it by its deadline.", number=number
            ),
            "flag": tr(
                "⚠️ Errand {number} was taken by {name} 2 hours ago without progress.",
                number=number,
                name=escape(event.note or "?"),
            ),
            "cancel": tr(
                "✖️ Errand {number} was cancelled after {name} had picked it up; please help them settle it.",
                number=number,
                name=escape(event.note or "?"),
            ),
        }
        text = texts.get(event.action, tr("Errand {number} changed.", number=number))
        text += "\n" + "\n".join(self.public_lines(errand, tr)[1:])
        return html_payload(text, None)

    def board(self, lines: Sequence[BoardLine], month: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        rows = [tr("💐 Thank you, volunteers! Errands run in {month}:", month=month)]
        for line in lines:
            rows.append(
                tr(
                    "{name}: {count} errands, {points} points",
                    name=escape(line.name),
                    count=line.errands,
                    points=_points(line.points),
                )
            )
        return html_payload("\n".join(rows), None)


def _points(value: float) -> str:
    return f"{value:g}"


def _button(label: str, errand_id: str, action: str, arg: str = "") -> InlineKeyboardButton:
    args = (errand_id, action, arg) if arg else (errand_id, action)
    return InlineKeyboardButton(label, callback_data=Callback(PREFIX, args).pack())


def requester_markup(errand: Errand, tr: Translate) -> InlineKeyboardMarkup | None:
    """Cancel while it runs; Confirm and the stars once delivered."""
    eid = str(errand.id)
    if errand.status is ErrandStatus.DELIVERED:
        stars = [_button("⭐" * n, eid, "rt", str(n)) for n in range(1, 6)]
        return InlineKeyboardMarkup(
            [[_button(tr("👍 Confirm delivery"), eid, "cf")], stars[:3], stars[3:]]
        )
    if errand.status in (ErrandStatus.OPEN, ErrandStatus.TAKEN, ErrandStatus.PICKED_UP):
        return InlineKeyboardMarkup([[_button(tr("✖️ Cancel errand"), eid, "cx")]])
    return None


def taker_markup(errand: Errand, tr: Translate) -> InlineKeyboardMarkup | None:
    """Picked up, Delivered, Give back: what the taker can do now."""
    eid = str(errand.id)
    if errand.status is ErrandStatus.TAKEN:
        return InlineKeyboardMarkup(
            [
                [_button(tr("📦 Picked up"), eid, "pu"), _button(tr("✅ Delivered"), eid, "dl")],
                [_button(tr("↩️ Give back"), eid, "gb")],
            ]
        )
    if errand.status is ErrandStatus.PICKED_UP:
        return InlineKeyboardMarkup([[_button(tr("✅ Delivered"), eid, "dl")]])
    return None


# --- the dialog ------------------------------------------------------------------------------


def _draft(data: dict[str, Any]) -> ErrandDraft:
    return ErrandDraft(
        kind=data.get("kind", "other"),
        details=data.get("details", ""),
        from_place=data.get("from", ""),
        to_place=data.get("to", ""),
        deadline=datetime.fromisoformat(data["deadline"]),
        payment="timebank" if data.get("payment") == "timebank" else "repay",
        tip_yuan=int(data.get("tip", 0)),
        phone=data.get("phone"),
        on_behalf_of=data.get("who"),
        for_elder=bool(data.get("elder")),
    )


class ErrandFlow(Flow):
    """The errand dialog's steps."""

    kind = "errand"
    TEXT_STEPS = {
        "details": N_(
            "What exactly? e.g. 阿莫西林一盒, 两斤鸡蛋一把青菜. (No address or phone here.)"
        ),
        "from": N_("From where? e.g. 社区卫生站, 菜鸟驿站, 永辉超市."),
        "to": N_("To where? Building, unit and room (only the volunteer who takes it sees this)."),
        "tip": N_("How much tip, in yuan (0–200)? e.g. 10"),
        "who": N_("Who is it for? e.g. 李奶奶, 2号楼"),
    }

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        self.zone = ZoneInfo(timezone)

    async def prompt(self, turn: Turn) -> None:
        tr, data, step = turn.tr, turn.data, turn.step
        if step == "kind":
            names = [(tr(KIND_NAMES[k]), k) for k in KINDS]
            await turn.ask(tr("What do you need? Choose one."), [names[:3], names[3:]])
        elif step in self.TEXT_STEPS:
            await turn.ask(tr(self.TEXT_STEPS[step]))
        elif step == "when":
            now = turn.context.services.clock.now()
            options = [
                [(tr(label), key)]
                for key, label in WHEN_CHOICES.items()
                if choice_deadline(key, now, self.zone) is not None
            ]
            await turn.ask(tr("By when?") + "\n" + tr(WHEN_EXAMPLES), options)
        elif step == "payment":
            options = [[(tr(label), key)] for key, label in PAYMENT_CHOICES.items()]
            await turn.ask(tr("How will it be paid?"), options)
        elif step == "phone":
            await ask_phone(turn, tr("Which phone number can the volunteer call? Write it here."))
        elif step == "for":
            options = [[(tr(label), key)] for key, label in FOR_CHOICES.items()]
            await turn.ask(tr("Who is it for?"), options)
        elif step == "confirm":
            renderer = Renderer(turn.context.linli.catalogs, str(self.zone))
            draft = _draft(data)
            preview = Errand(id=0, status=ErrandStatus.OPEN, **draft.__dict__)
            lines = [
                tr("Please check your errand:"),
                *renderer.public_lines(preview, tr)[1:],
                *renderer.private_lines(preview, tr),
            ]
            await turn.ask(
                "\n".join(lines),
                [[(tr("✅ Submit"), "submit"), (tr("✏️ Edit"), "edit")]],
                back=False,
            )
        elif step == "edit":
            await turn.ask(
                tr("What do you want to change?"),
                [
                    [(tr("What"), "details"), (tr("From"), "from"), (tr("To"), "to")],
                    [(tr("Time"), "when"), (tr("Payment"), "payment"), (tr("Phone"), "phone")],
                ],
            )

    async def handle(self, turn: Turn, given: Input) -> None:
        tr, data, step = turn.tr, turn.data, turn.step

        async def next_step(name: str) -> None:
            if data.pop("editing", None) and name not in ("tip", "who"):
                turn.goto("confirm")
            else:
                turn.goto(name)
            await self.prompt(turn)

        if step == "kind":
            if given.kind != "button" or given.value not in KINDS:
                await self.nudge(turn)
                return
            data["kind"] = given.value
            await next_step("details")
        elif step in ("details", "from", "to", "who"):
            text = given.text.strip() if given.kind == "text" else ""
            if not text:
                await self.nudge(turn, text_expected=True)
                return
            data[step] = text[: LIMITS[step]]
            following = {"details": "from", "from": "to", "to": "when", "who": "confirm"}
            await next_step(following[step])
        elif step == "when":
            await self._on_when(turn, given, next_step)
        elif step == "payment":
            if given.kind != "button" or given.value not in PAYMENT_CHOICES:
                await self.nudge(turn)
                return
            data["payment"], data["tip"] = given.value, 0
            if given.value == "tip":
                data.pop("editing", None)
                turn.goto("tip")
                await self.prompt(turn)
            else:
                await next_step("phone")
        elif step == "tip":
            tip = parse_tip(given.text) if given.kind == "text" else None
            if tip is None:
                await turn.ask(
                    tr(
                        "Please write a whole number of yuan from 0 to {most}, e.g. 10.",
                        most=MAX_TIP,
                    )
                )
                return
            data["tip"] = tip
            await next_step("phone" if "phone" not in data else "confirm")
        elif step == "phone":
            if not await phone_answer(turn, given):
                return
            await next_step("for" if "elder" not in data else "confirm")
        elif step == "for":
            if given.kind != "button" or given.value not in FOR_CHOICES:
                await self.nudge(turn)
                return
            data["elder"] = given.value == "elder"
            if given.value == "me":
                data["who"] = None
                await next_step("confirm")
            else:
                await next_step("who")
        elif step == "confirm":
            await self._on_confirm(turn, given)
        elif step == "edit":
            targets = ("details", "from", "to", "when", "payment", "phone")
            if given.kind != "button" or given.value not in targets:
                await self.nudge(turn)
                return
            data["editing"] = True
            turn.goto(given.value)
            await self.prompt(turn)

    async def _on_when(self, turn: Turn, given: Input, next_step: Any) -> None:
        tr, data = turn.tr, turn.data
        now = turn.context.services.clock.now()
        if given.kind == "button":
            deadline = choice_deadline(given.value, now, self.zone)
        elif given.kind == "text":
            deadline = parse_deadline(given.text, now, self.zone)
        else:
            deadline = None
        if deadline is None:
            await turn.ask(tr("I could not read that time.") + "\n" + tr(WHEN_EXAMPLES))
            return
        if deadline <= now + timedelta(minutes=10):
            await turn.ask(
                tr("That time is already past (or too close).") + "\n" + tr(WHEN_EXAMPLES)
            )
            return
        if deadline > now + timedelta(days=7):
            await turn.ask(tr("That is more than a week away.") + "\n" + tr(WHEN_EXAMPLES))
            return
        data["deadline"] = deadline.isoformat()
        await next_step("payment")

    async def _on_confirm(self, turn: Turn, given: Input) -> None:
        if given.kind != "button" or given.value not in ("submit", "edit"):
            await self.nudge(turn)
            return
        if given.value == "edit":
            turn.goto("edit")
            await self.prompt(turn)
            return
        if not await turn.finish():
            return  # a double press: the first one submitted it
        data = turn.data
        deadline = datetime.fromisoformat(data["deadline"])
        if deadline <= turn.context.services.clock.now():
            await turn.say(
                turn.tr("The time you chose has passed; please start again with /errand.")
            )
            return
        errand = await turn.context.services.errands.create(
            data["community_id"], turn.dialog.user_id, _draft(data)
        )
        log.info("dialog %s posted errand %s", turn.dialog.id, errand.id)
        turn.context.linli.wake_outbox()  # the confirmation and the cards

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("Errand cancelled. Nothing was posted."))


class ThanksFlow(Flow):
    """A few words of thanks after a rating."""

    kind = "errand_thanks"

    async def prompt(self, turn: Turn) -> None:
        await turn.ask(
            turn.tr("Thank you! Write a few words of thanks for the volunteer, or tap Cancel."),
            back=False,
        )

    async def handle(self, turn: Turn, given: Input) -> None:
        if given.kind != "text" or not given.text.strip():
            await turn.say(turn.tr("Please write text."))
            return
        await turn.context.services.errands.thank(
            turn.data["errand_id"], turn.dialog.user_id, given.text
        )
        await turn.finish()
        turn.context.linli.wake_outbox()
        await turn.say(turn.tr("Passed on. Thank you!"))

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("OK."))


THANKS = ThanksFlow()


# --- commands ---------------------------------------------------------------------------------


async def errand(update: Update, context: LinliContext) -> None:
    """/errand: in a group, one line and a button into the private chat; in private, the dialog."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    if message.chat.type != "private":
        await continue_in_private(
            message,
            context,
            "errand",
            context.tr(
                "Errands need your address and phone, so let us continue in a private chat."
            ),
            context.tr("🛵 Continue in private"),
        )
        return
    await _start_errand(update, context, context.identity.community_id)


async def _errand_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    await _start_errand(update, context, link_community(deep_link))


async def _start_errand(update: Update, context: LinliContext, community_id: int | None) -> None:
    refusal = context.tr(
        "I don't know your community yet. Send /errand in your community's group and I will continue here."
    )
    if not await member_of(update, context, community_id, refusal):
        return
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    known = await context.services.people.contact(user.id)
    data: dict[str, Any] = {"community_id": community_id}
    if known.phone:
        data["known_phone"] = known.phone
    await start_dialog(
        context, user.id, message.chat.id, _flow(context), "kind", data, community_id
    )


def _flow(context: LinliContext) -> ErrandFlow:
    flow = Flow.registry["errand"]
    assert isinstance(flow, ErrandFlow)
    return flow


async def errands_command(update: Update, context: LinliContext) -> None:
    """/errands: staff see all running ones by state; volunteers the open ones; others theirs."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    tr, user_id = context.tr, message.from_user.id
    community_id = context.identity.community_id
    service = context.services.errands
    renderer = _renderer(context)
    if community_id is None or not await service.can_take(user_id, community_id):
        mine = await service.of_person(user_id)
        if not mine:
            await reply(message, tr("You have no running errands. Send /errand to ask for one."))
            return
        lines = [tr("Your errands:")] + [
            f"{renderer.title(e, tr)} · {tr(STATUS_NAMES[e.status])}" for e in mine
        ]
        await reply(message, "\n".join(lines))
        return
    staff = await service.is_staff(user_id, community_id)
    args = [a.lower() for a in context.args or []]
    if staff and args[:1] in (["residents"], ["居民群"]):
        on = (
            {"on": True, "off": False, "开": True, "关": False}.get(args[1])
            if len(args) > 1
            else None
        )
        now_on = await service.post_to_residents(community_id, on)
        state = (
            tr("Errand cards are also posted in the residents' group.")
            if now_on
            else tr("Errand cards go only to the volunteers' group.")
        )
        hint = tr("Change it with /errands residents on or /errands residents off.")
        await reply(message, f"{state}\n{hint}")
        return
    statuses: tuple[ErrandStatus, ...] = LIVE if staff else (ErrandStatus.OPEN,)
    found = await service.listing(community_id, statuses)
    if not found:
        await reply(message, tr("No errands are waiting."))
        return
    lines = [tr("Errands ({count}):", count=len(found))]
    for status in statuses:
        group = [e for e in found if e.status is status]
        if not group:
            continue
        if staff:
            lines.append(f"<b>{tr(STATUS_NAMES[status])}</b>")
        for e in group:
            by = tr("By: {value}", value=renderer.when(e.deadline))
            lines.append(f"{renderer.title(e, tr)} · {escape(cut(e.details, 40))} · {by}")
    await reply(message, "\n".join(lines))


async def points_command(update: Update, context: LinliContext) -> None:
    """/points: a volunteer's time-bank balance and history; /points name on|off."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    tr, user_id = context.tr, message.from_user.id
    community_id = context.identity.community_id
    service = context.services.errands
    if community_id is None or not await service.can_take(user_id, community_id):
        await reply(message, tr("The time bank is for registered volunteers."))
        return
    args = [a.lower() for a in context.args or []]
    if args[:1] == ["name"] and args[1:2] in (["on"], ["off"]):
        named = args[1] == "on"
        await service.set_named(user_id, community_id, named)
        await reply(
            message,
            tr("You will be named on the monthly thank-you board.")
            if named
            else tr("You will not be named on the thank-you board."),
        )
        return
    balance, entries = await service.points(user_id, community_id)
    renderer = _renderer(context)
    lines = [tr("Your time-bank balance: {points} points", points=_points(balance))]
    for entry in entries:
        lines.append(
            f"{renderer.when(entry.at)} · #{entry.errand_id or '-'} · +{_points(entry.points)}"
        )
    named = await service.is_named(user_id, community_id)
    lines.append(
        tr("Named on the thank-you board: {value}", value=tr("yes") if named else tr("no"))
        + " · /points name on|off"
    )
    await reply(message, "\n".join(lines))


def _renderer(context: LinliContext) -> Renderer:
    return Renderer(context.linli.catalogs, context.linli.settings.timezone)


# --- buttons ------------------------------------------------------------------------------------

ANSWERS = {
    Outcome.FORBIDDEN: N_(
        "Only registered volunteers can take errands; ask the staff to register you."
    ),
    Outcome.NOT_FOUND: N_("This errand no longer exists."),
    Outcome.LIMIT: N_("You already hold as many errands as allowed; finish one first."),
    Outcome.OWN: N_("This is your own errand."),
    Outcome.INVALID: N_("That did not work; please try again."),
}
DONE_TEXTS = {
    "pu": N_("Marked as picked up. The neighbour has been told."),
    "dl": N_("Marked as delivered. Thank you! The neighbour is asked to confirm."),
    "gb": N_("Given back; it is posted again."),
    "cf": N_("Confirmed. Thank you!"),
    "cx": N_("Your errand is cancelled."),
}


async def pressed(update: Update, context: LinliContext) -> None:
    """An errand button: Take and Assign on the card, the taker's and the requester's own."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        errand_id, action = data.int_arg(0), data.args[1]
        arg = data.args[2] if len(data.args) > 2 else ""
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    service, user_id = context.services.errands, query.from_user.id
    if action == "take":
        result = await service.take(errand_id, user_id)
    elif action in ("asg", "as"):
        await _assign(update, context, errand_id, arg)
        return
    elif action == "pu":
        result = await service.picked_up(errand_id, user_id)
    elif action == "dl":
        result = await service.delivered(errand_id, user_id)
    elif action == "gb":
        result = await service.give_back(errand_id, user_id)
    elif action == "cf":
        result = await service.confirm(errand_id, user_id)
    elif action == "cx":
        result = await service.cancel(errand_id, user_id)
    elif action == "rt" and arg in ("1", "2", "3", "4", "5"):
        result = await service.rate(errand_id, user_id, int(arg))
    else:
        await query.answer(context.tr("This button is no longer valid."))
        return
    await _after(update, context, action, result)


async def _after(update: Update, context: LinliContext, action: str, result: Result) -> None:
    query = update.callback_query
    assert query is not None
    tr = context.tr
    context.linli.wake_outbox()
    if result.outcome is Outcome.STALE:
        await query.answer(_stale_text(context, result), show_alert=True)
        return
    if result.outcome is not Outcome.OK or result.errand is None:
        await query.answer(
            tr(ANSWERS.get(result.outcome, ANSWERS[Outcome.INVALID])), show_alert=True
        )
        return
    errand = result.errand
    if action in ("take", "as", "gb"):
        await refresh_cards(context, errand)
    if action == "take":
        await query.answer(
            tr("It is yours! I sent you the details in a private chat."), show_alert=True
        )
        return
    await query.answer(tr(DONE_TEXTS[action]) if action in DONE_TEXTS else None)
    if isinstance(query.message, Message) and query.message.chat.type == "private":
        markup = (
            taker_markup(errand, tr)
            if action in ("pu", "dl", "gb")
            else requester_markup(errand, tr)
        )
        try:
            await query.edit_message_reply_markup(markup)
        except TelegramError:
            pass
    if action == "rt":
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await start_dialog(
            context,
            query.from_user.id,
            chat_id,
            THANKS,
            "thanks",
            {"errand_id": errand.id},
            errand.community_id,
        )


def _stale_text(context: LinliContext, result: Result) -> str:
    errand, tr = result.errand, context.tr
    if errand is None:
        return tr(ANSWERS[Outcome.NOT_FOUND])
    if errand.status in (ErrandStatus.TAKEN, ErrandStatus.PICKED_UP) and result.by:
        return tr("Sorry, {name} has already taken this errand.", name=result.by)
    return tr("This errand is {status} now.", status=tr(STATUS_NAMES[errand.status]))


async def _assign(update: Update, context: LinliContext, errand_id: int, who: str) -> None:
    """Staff: the list of volunteers, then the one chosen."""
    query = update.callback_query
    assert query is not None
    service = context.services.errands
    errand = await service.get(errand_id)
    if errand is None or not await service.is_staff(query.from_user.id, errand.community_id):
        await query.answer(context.tr("Only staff can do this."), show_alert=True)
        return
    if not who:
        volunteers = await service.volunteers_of(errand.community_id)
        rows = [
            [_button(v.display_name[:30], str(errand.id), "as", str(v.id))] for v in volunteers[:10]
        ]
        await query.answer()
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await context.bot.send_message(
            chat_id,
            context.tr("Give errand {number} to:", number=f"#{errand.id}"),
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )
        return
    taker = small_id(who)
    if taker is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    result = await service.assign(errand_id, query.from_user.id, taker)
    if result.outcome is Outcome.OK:
        context.linli.wake_outbox()
        await refresh_cards(context, result.errand)  # type: ignore[arg-type]
        await query.answer(context.tr("Assigned."))
        try:
            await query.edit_message_reply_markup(None)
        except TelegramError:
            pass
        return
    await _after(update, context, "as", result)


async def refresh_cards(context: LinliContext, errand: Errand) -> None:
    """Bring the public cards of an errand up to date: taken by whom, or open again."""
    language, cards = await context.services.errands.cards(errand.id)
    renderer, tr = _renderer(context), context.translator(language)
    taker = await context.services.people.name_of(errand.taker_id) if errand.taker_id else None
    text, markup = renderer.card_text(errand, tr, taker), renderer.card_markup(errand, tr)
    for chat_id, message_id in cards:
        try:
            await context.bot.edit_message_text(
                text, chat_id, message_id, parse_mode="HTML", reply_markup=markup
            )
        except TelegramError as exc:  # "not modified", or the card was deleted
            log.debug("errand card %s/%s not edited: %s", chat_id, message_id, exc)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /errand, /errands, /points, the errand buttons and the dialogs."""
    linli = application.bot_data["linli"]
    Flow.register(ErrandFlow(linli.settings.timezone))
    Flow.register(THANKS)
    linli.services.errands.renderer = Renderer(linli.catalogs, linli.settings.timezone)
    if linli.ticker is not None:
        linli.ticker.add("errands", linli.services.errands.tick)
    on_deep_link("errand", _errand_link)
    application.add_handler(command("errand", errand))
    application.add_handler(command("errands", errands_command))
    application.add_handler(command("points", points_command))
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
