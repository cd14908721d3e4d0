"""Daily check-ins for elders in the chat: enrolment by invitation, the greeting, help, alerts.

- Staff (`/elders` → ➕) or a family member (`/checkin` → ➕) answer four questions (name,
  address, phone, time) and get a single-use link to send to the elder. The elder opens it,
  reads what will happen and accepts (consent is recorded) — Telegram does not let a bot
  write first, so this is the only way in. Contacts (family, volunteer, grid worker, staff)
  are invited with links from the elder's card and count once they accept.
- Every day at their time the elder gets a greeting with two big buttons, "我很好 👍" and
  "需要帮助 🆘". Any message from them counts as "I'm fine"; the help button or words like
  救命/不舒服/摔倒 alert every contact and the staff group at once.
- Alerts carry "我去看看 I'm on it" and "已联系上，平安 They are fine"; the first "on it" is
  the responder (the others are told), who closes it with what happened; the all-clear goes
  to everyone alerted.
- The elder's `/checkin` card: streak, time, contacts; change the time, away mode, pause,
  invite a contact, leave. Staff: `/elders` (who is enrolled, today's state, the ladder:
  `/elders ladder 30 60 120 240`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
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
from bot.services.care import (
    EARLIEST,
    LATEST,
    Answer,
    ElderView,
    Ladder,
    Outcome,
)
from bot.when import format_local
from handlers.common import command, escape, html_payload, person, reply
from handlers.dialogs import Flow, Input, Turn, start_dialog
from handlers.start import continue_in_private, link_community, on_deep_link
from storage.models import CareAlert, Elder, ElderStatus, Role

log = logging.getLogger(__name__)

PREFIX = "care"
CARE_GROUP = -7  # after tracking (-10), before the dialog router (-5)
FINE_LABELS = ("我很好 👍", "I'm fine 👍")
HELP_LABELS = ("需要帮助 🆘", "I need help 🆘")
KIND_NAMES = {
    "family": N_("family"),
    "volunteer": N_("volunteer"),
    "grid": N_("grid worker (网格员)"),
    "staff": N_("staff"),
}
STEP_NAMES = {
    "prompt": N_("greeted"),
    "remind": N_("reminded"),
    "family": N_("family alerted"),
    "volunteer": N_("volunteers alerted"),
    "staff": N_("staff alerted"),
}
OUTCOMES = {
    "fine": N_("they are fine"),
    "hospital": N_("taken to hospital"),
    "other": N_("handled, see the responder"),
    "answered": N_("they answered"),
}
CLOCK = re.compile(r"^(\d{1,2})[:：点](\d{2})?$")
AWAY_DAYS = (3, 7, 14, 30)


def _button(label: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=Callback(PREFIX, args).pack())


def parse_clock(text: str) -> time | None:
    """'8:30', '８：３０', '9点', '09:00' as a time; None when it is not one."""
    import unicodedata

    found = CLOCK.match(unicodedata.normalize("NFKC", text).strip().replace("點", "点"))
    if not found:
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def hhmm(elder: Elder) -> str:
    """The elder's check-in time as HH:MM."""
    return f"{elder.checkin_hour:02d}:{elder.checkin_minute:02d}"


# --- the renderer ----------------------------------------------------------------------------


class Renderer:
    """Check-in messages in each reader's language (the service's CareRenderer)."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    def _tr(self, language: str) -> Translate:
        return self.catalogs.translator(language)

    def _keyboard(self, tr: Translate) -> dict[str, Any]:
        rows = [[KeyboardButton(tr("我很好 👍"))], [KeyboardButton(tr("需要帮助 🆘"))]]
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True).to_dict()

    def prompt(self, elder: Elder, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        text = tr(
            "☀️ {name}, good day! How are you today? Tap a button below (or just send me any "
            "message) to let me know.",
            name=escape(elder.name),
        )
        return {"text": text, "parse_mode": "HTML", "reply_markup": self._keyboard(tr)}

    def reminder(self, elder: Elder, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        text = tr(
            "🔔 {name}, I have not heard from you yet today. Are you all right? Tap «I'm fine 👍».",
            name=escape(elder.name),
        )
        return {"text": text, "parse_mode": "HTML", "reply_markup": self._keyboard(tr)}

    def alert(
        self,
        elder: Elder,
        alert: CareAlert,
        step: str,
        due: datetime | None,
        last_ok: datetime | None,
        zone: ZoneInfo,
        note: str,
        language: str,
    ) -> dict[str, Any]:
        tr = self._tr(language)
        name = escape(elder.name)
        if alert.kind == "help":
            head = tr("🆘 {name} asks for help!", name=name)
        elif step == "staff":
            head = tr(
                "🚨 URGENT: {name} has not answered the daily check-in of {when}.",
                name=name,
                when=format_local(due, zone, language) if due else "?",
            )
        else:
            head = tr(
                "⚠️ {name} has not answered the daily check-in of {when}.",
                name=name,
                when=format_local(due, zone, language) if due else "?",
            )
        lines = [
            f"<b>{head}</b>",
            tr("Address: {value}", value=escape(elder.address or "–")),
            tr("Phone: {value}", value=escape(elder.phone or "–")),
            tr(
                "Last check-in: {value}",
                value=format_local(last_ok, zone, language) if last_ok else tr("none yet"),
            ),
        ]
        if note:
            lines.append(
                tr(
                    "(No accepted {kind} contact, so the staff group is told now.)",
                    kind=tr(KIND_NAMES.get(note, note)),
                )
            )
        lines.append(tr("Please call or visit. Tap a button so the others know."))
        markup = InlineKeyboardMarkup(
            [
                [_button(tr("🏃 I'm on it"), "on", str(alert.id))],
                [_button(tr("✅ I reached them, they are fine"), "fine", str(alert.id))],
            ]
        )
        return html_payload("\n".join(lines), markup)

    def undeliverable(self, elder: Elder, error: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        text = tr(
            "📵 Today's check-in could not be delivered to {name} ({error}). This is not a "
            "missed check-in, but please contact them soon and fix the enrolment (they may "
            "have blocked the bot or deleted the account).",
            name=escape(elder.name),
            error=escape(error[:100]),
        )
        return html_payload(text, None)

    def responding(self, elder: Elder, alert: CareAlert, who: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        return html_payload(
            tr("🏃 {who} is going to see {name}.", who=escape(who), name=escape(elder.name)), None
        )

    def all_clear(self, elder: Elder, alert: CareAlert, who: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        outcome = alert.outcome or ""
        if outcome == "answered":
            text = tr("✅ All clear: {name} has answered and is fine.", name=escape(elder.name))
        else:
            text = tr(
                "✅ All clear: {who} reached {name}: {outcome}.",
                who=escape(who),
                name=escape(elder.name),
                outcome=escape(tr(OUTCOMES[outcome]) if outcome in OUTCOMES else outcome),
            )
        return html_payload(text, None)

    def summary(self, views: Sequence[ElderView], language: str) -> dict[str, Any]:
        tr = self._tr(language)
        groups: dict[str, list[str]] = {
            "ok": [],
            "waiting": [],
            "escalated": [],
            "away": [],
            "paused": [],
            "other": [],
        }
        for view in views:
            elder, checkin = view.elder, view.today
            name = escape(elder.name)
            if elder.status is ElderStatus.PAUSED:
                groups["paused"].append(name)
            elif elder.away_until:
                groups["away"].append(name)
            elif checkin is None:
                groups["other"].append(f"{name} ({hhmm(elder)})")
            elif checkin.status in ("ok", "resolved"):
                groups["ok"].append(name)
            elif any(s in ("family", "volunteer", "staff") for s in view.steps):
                last = [s for s in view.steps if s in STEP_NAMES][-1]
                groups["escalated"].append(f"{name} ({tr(STEP_NAMES[last])})")
            elif checkin.status == "undeliverable":
                undeliverable = tr("undeliverable")
                groups["escalated"].append(f"{name} ({undeliverable})")
            else:
                groups["waiting"].append(name)
        lines = [
            "<b>"
            + tr(
                "📋 Daily check-ins: {ok} fine · {waiting} waiting · {escalated} escalated · "
                "{away} away · {paused} paused",
                ok=len(groups["ok"]),
                waiting=len(groups["waiting"]),
                escalated=len(groups["escalated"]),
                away=len(groups["away"]),
                paused=len(groups["paused"]),
            )
            + "</b>"
        ]
        for key, label in (
            ("escalated", N_("Escalated:")),
            ("waiting", N_("Waiting:")),
            ("away", N_("Away:")),
            ("other", N_("Later today:")),
        ):
            if groups[key]:
                lines.append(tr(label) + " " + ", ".join(groups[key][:50]))
        return html_payload("\n".join(lines), None)

    def away_reminder(self, elder: Elder, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        text = tr(
            "🧳 {name}, welcome back tomorrow! The daily check-in starts again tomorrow at {time}. "
            "If your plans change, send /checkin.",
            name=escape(elder.name),
            time=hhmm(elder),
        )
        return html_payload(text, None)

    def enrolment_news(self, elder: Elder, event: str, who: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        name = escape(elder.name)
        if event == "accepted:elder":
            text = tr(
                "✅ {name} joined the daily check-in (every day at {time}).",
                name=name,
                time=hhmm(elder),
            )
        elif event.startswith("accepted:"):
            kind = event.split(":", 1)[1]
            text = tr(
                "👪 {who} is now a contact ({kind}) for {name}.",
                who=escape(who),
                kind=tr(KIND_NAMES.get(kind, kind)),
                name=name,
            )
        elif event == ElderStatus.PAUSED:
            text = tr("⏸ {name}'s daily check-in is paused (by {who}).", name=name, who=escape(who))
        elif event == ElderStatus.ACTIVE:
            text = tr(
                "▶️ {name}'s daily check-in is on again (by {who}).", name=name, who=escape(who)
            )
        else:
            text = tr(
                "🚪 {name} left the daily check-in (by {who}); consent withdrawn.",
                name=name,
                who=escape(who),
            )
        return html_payload(text, None)


# --- the elder's messages --------------------------------------------------------------------


def _kind_of(message: Message) -> str:
    if message.text is not None:
        return "text"
    for kind in (
        "voice",
        "sticker",
        "photo",
        "video",
        "video_note",
        "audio",
        "document",
        "location",
    ):
        if getattr(message, kind, None):
            return kind
    return "other"


async def elder_message(update: Update, context: LinliContext) -> None:
    """A private message: help, or today's check-in answered; anything else passes on."""
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return
    text = (message.text or message.caption or "").strip()
    if text.startswith("/"):
        return
    care = context.services.care
    pressed_help = text in HELP_LABELS
    pressed_fine = text in FINE_LABELS
    result: Answer = await care.answer(
        message.from_user.id, _kind_of(message), text, help_pressed=pressed_help
    )
    tr = context.tr
    if result.kind == "help":
        context.linli.wake_outbox()
        await reply(
            message,
            tr(
                "🆘 I have alerted your contacts and the community staff; someone will call or come "
                "soon. If it is an emergency, call 120 now."
            ),
            reply_markup=ReplyKeyboardRemove(),
        )
        raise ApplicationHandlerStop
    if result.kind in ("ok", "late"):
        context.linli.wake_outbox()
        text_ok = tr("Thank you, glad you are well! Have a good day. 🌞")
        if result.streak > 1:
            text_ok += "\n" + tr("{days} days of check-ins in a row.", days=result.streak)
        await reply(message, text_ok, reply_markup=ReplyKeyboardRemove())
        if pressed_fine or message.text is None or not _asks(text):
            raise ApplicationHandlerStop
        return  # a question in the answer (物业电话多少?) still gets answered by the FAQ
    if pressed_fine or pressed_help:
        # The button from an old keyboard, with nothing pending (or no enrolment).
        await reply(
            message,
            tr("Thank you! There is no check-in waiting right now."),
            reply_markup=ReplyKeyboardRemove(),
        )
        raise ApplicationHandlerStop


QUESTION = re.compile(
    r"[?？]|怎么|怎样|如何|哪里|哪儿|什么|啥|多少|几点|请问|能不能|可以吗|"
    r"\b(how|what|where|when|which|who|why|can i|could you)\b",
    re.IGNORECASE,
)


def _asks(text: str) -> bool:
    """Whether an elder's answer also asks something the other features should answer.

    Plainer than the FAQ's test on purpose: 好着呢 or 挺好的呀 are answers, not questions.
    """
    return bool(QUESTION.search(text))


# --- alerts ----------------------------------------------------------------------------------


async def pressed(update: Update, context: LinliContext) -> None:
    """Every check-in button."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        action = data.args[0]
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    handler = _ACTIONS.get(action)
    if handler is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    await handler(update, context, list(data.args[1:]))


async def _on_it(update: Update, context: LinliContext, args: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    tr = context.tr
    alert_id = (small_id(args[0]) if args else None) or 0
    outcome, alert, who = await context.services.care.respond(alert_id, query.from_user.id)
    if outcome is Outcome.FORBIDDEN:
        await query.answer(tr("Only the elder's contacts and staff can do that."), show_alert=True)
        return
    if outcome is Outcome.NOT_FOUND or alert is None:
        await query.answer(tr("This button is no longer valid."))
        return
    if outcome is Outcome.STALE:
        if alert.closed_at is not None:
            await query.answer(tr("This has been dealt with already. Thank you!"), show_alert=True)
        else:
            await query.answer(tr("{who} is already on it.", who=who or "?"), show_alert=True)
        return
    context.linli.wake_outbox()
    await query.answer(tr("Thank you! The others know you are going."))
    buttons = InlineKeyboardMarkup(
        [
            [_button(tr("✅ They are fine"), "close", str(alert_id), "fine")],
            [_button(tr("🏥 Taken to hospital"), "close", str(alert_id), "hospital")],
            [_button(tr("📝 Something else (handled)"), "close", str(alert_id), "other")],
        ]
    )
    try:
        await context.bot.send_message(
            query.from_user.id,
            tr("When you have seen them, tell me how it went:"),
            reply_markup=buttons,
        )
    except TelegramError:
        if query.message is not None:
            await context.bot.send_message(
                query.message.chat.id,
                tr("When you have seen them, tell me how it went:"),
                reply_markup=buttons,
            )


async def _fine(update: Update, context: LinliContext, args: list[str]) -> None:
    await _resolve(update, context, args[:1] + ["fine"])


async def _close(update: Update, context: LinliContext, args: list[str]) -> None:
    await _resolve(update, context, args)


async def _resolve(update: Update, context: LinliContext, args: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    tr = context.tr
    alert_id = (small_id(args[0]) if args else None) or 0
    code = args[1] if len(args) > 1 and args[1] in OUTCOMES else "fine"
    outcome, alert = await context.services.care.resolve(alert_id, query.from_user.id, code)
    if outcome is Outcome.FORBIDDEN:
        await query.answer(tr("Only the elder's contacts and staff can do that."), show_alert=True)
    elif outcome is Outcome.STALE:
        await query.answer(tr("This has been dealt with already. Thank you!"), show_alert=True)
    elif outcome is Outcome.OK:
        context.linli.wake_outbox()
        await query.answer(tr("Thank you! Everyone alerted gets the all-clear."))
        if isinstance(query.message, Message):
            try:
                await query.message.edit_reply_markup(None)
            except TelegramError:
                pass
    else:
        await query.answer(tr("This button is no longer valid."))


# --- invitations -----------------------------------------------------------------------------


async def _care_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    """/start care-<token>: the elder's consent, or a contact's acceptance."""
    message = update.effective_message
    if message is None:
        return
    tr = context.tr
    found = await context.services.care.invitation(deep_link.arg)
    if found is None:
        await reply(
            message, tr("This invitation has expired or was used already. Ask for a new link.")
        )
        return
    invite, elder = found
    inviter = (
        await context.services.people.name_of(invite.created_by) if invite.created_by else None
    ) or tr("Someone")
    if invite.purpose == "elder":
        text = tr(
            "👋 {inviter} invites you, {name}, to Linli's daily check-in:\n"
            "• every day at {time} I will greet you; tap «I'm fine 👍» or send me anything;\n"
            "• if you do not answer, I remind you, then tell your family, then volunteers, "
            "then the community staff;\n"
            "• your name, address and phone go only to your contacts and the staff;\n"
            "• you can pause or leave at any time with /checkin.\n"
            "Do you agree?",
            inviter=escape(inviter),
            name=escape(elder.name),
            time=hhmm(elder),
        )
    else:
        text = tr(
            "👋 {inviter} asks you to be a contact ({kind}) for {name} in Linli's daily check-in: "
            "if {name} does not answer or asks for help, I will tell you, with the address and "
            "phone. Do you agree?",
            inviter=escape(inviter),
            kind=tr(KIND_NAMES.get(invite.purpose, invite.purpose)),
            name=escape(elder.name),
        )
    markup = InlineKeyboardMarkup(
        [
            [
                _button(tr("✅ I agree"), "acc", deep_link.arg),
                _button(tr("No, thanks"), "dec", deep_link.arg),
            ]
        ]
    )
    await reply(message, text, reply_markup=markup)


async def _accept(update: Update, context: LinliContext, args: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    tr = context.tr
    token = args[0] if args else ""
    outcome, elder, purpose = await context.services.care.accept(
        token, query.from_user.id, context.language
    )
    if outcome is Outcome.STALE:
        await query.answer(
            tr("This invitation has expired or was used already. Ask for a new link."),
            show_alert=True,
        )
        return
    if outcome is Outcome.INVALID:
        await query.answer(
            tr("You cannot accept this one: you are already enrolled, or it is your own."),
            show_alert=True,
        )
        return
    if outcome is not Outcome.OK or elder is None:
        await query.answer(tr("This button is no longer valid."))
        return
    await query.answer()
    context.linli.wake_outbox()
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(None)
        except TelegramError:
            pass
    if purpose == "elder":
        text = tr(
            "🌞 Welcome! From now on I will greet you every day at {time}. Send /checkin to change "
            "the time, go away for a while, invite family, or leave.",
            time=hhmm(elder),
        )
    else:
        text = tr(
            "Thank you! You are now a contact for {name}. I will tell you if they need someone.",
            name=escape(elder.name),
        )
    await context.bot.send_message(query.from_user.id, text, parse_mode="HTML")


async def _decline(update: Update, context: LinliContext, args: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(context.tr("All right, nothing was set up."))
        except TelegramError:
            pass


# --- the invitation dialog -------------------------------------------------------------------


class InviteFlow(Flow):
    """Name, address, phone, time → a link to send to the elder."""

    kind = "care_invite"

    async def prompt(self, turn: Turn) -> None:
        tr, step = turn.tr, turn.step
        if step == "name":
            await turn.ask(tr("👵 The elder's name, as the contacts will see it (e.g. 王奶奶):"))
        elif step == "address":
            await turn.ask(
                tr("🏠 Their address (building, unit, room), for whoever goes to check:")
            )
        elif step == "phone":
            await turn.ask(tr("📞 Their phone number (or skip):"), [[(tr("Skip"), "skip")]])
        else:
            times = [(f"{h:02d}:00", f"{h:02d}00") for h in (8, 9, 10)]
            await turn.ask(
                tr(
                    "🕘 When should I greet them every day? Choose, or write a time like 8:30 (05:30–21:30)."
                ),
                [times],
            )

    async def handle(self, turn: Turn, given: Input) -> None:
        tr, step, data = turn.tr, turn.step, turn.data
        if step in ("name", "address"):
            limit = 50 if step == "name" else 200
            if given.kind != "text" or not given.text.strip():
                await self.nudge(turn, text_expected=True)
                return
            if len(given.text.strip()) > limit:
                await turn.say(tr("Please keep it under {limit} characters.", limit=limit))
                return
            data[step] = given.text.strip()
            turn.goto("address" if step == "name" else "phone")
            await self.prompt(turn)
            return
        if step == "phone":
            if given.kind == "button" and given.value == "skip":
                data["phone"] = None
            elif given.kind == "text" and re.fullmatch(r"[0-9+\- ()]{5,20}", given.text.strip()):
                data["phone"] = given.text.strip()
            else:
                await turn.say(
                    tr("That does not look like a phone number; digits please, or Skip.")
                )
                return
            turn.goto("time")
            await self.prompt(turn)
            return
        if given.kind == "button" and given.value.isdigit() and len(given.value) == 4:
            at: time | None = time(int(given.value[:2]), int(given.value[2:]))
        elif given.kind == "text":
            at = parse_clock(given.text)
        else:
            at = None
        if at is None or not EARLIEST <= at <= LATEST:
            await turn.say(tr("Please choose a time between 05:30 and 21:30, like 8:30."))
            return
        elder, token = await turn.context.services.care.invite_elder(
            int(data["community_id"]),
            turn.dialog.user_id,
            name=data["name"],
            address=data.get("address"),
            phone=data.get("phone"),
            at=at,
            as_family=bool(data.get("as_family")),
        )
        await turn.finish()
        url = link(turn.context.bot.username or "", DeepLink("care", token))
        await turn.say(
            tr(
                "✅ Ready. Send this link to {name} (it opens a chat with me in Telegram). They "
                "read what will happen and accept; it works once, for 7 days:\n{url}",
                name=escape(elder.name),
                url=escape(url),
            )
        )


INVITE_FLOW = InviteFlow()


async def _start_invite(
    update: Update, context: LinliContext, community_id: int, as_family: bool
) -> None:
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    await start_dialog(
        context,
        user.id,
        chat.id,
        INVITE_FLOW,
        "name",
        {"community_id": community_id, "as_family": as_family},
        community_id,
    )


async def _new(update: Update, context: LinliContext, args: list[str]) -> None:
    """➕ on the /elders or /checkin card: start the invitation dialog."""
    query = update.callback_query
    assert query is not None
    community_id = small_id(args[0]) if args else None
    as_family = len(args) > 1 and args[1] == "f"
    if community_id is None or query.message is None or query.message.chat.type != "private":
        await query.answer(context.tr("This button is no longer valid."))
        return
    # The community comes from the button's data: check it again, as for any privileged action.
    user_id = query.from_user.id
    if as_family:
        allowed = await context.services.groups.is_member(user_id, community_id)
    else:
        allowed = await context.services.roles.has_role(user_id, community_id, Role.STAFF)
    if not allowed:
        refusal = (
            N_(
                "I don't know your community yet. Send /checkin in your community's group and I "
                "will continue here."
            )
            if as_family
            else N_("Only committee staff can do that.")
        )
        await query.answer(context.tr(refusal), show_alert=True)
        return
    await query.answer()
    await _start_invite(update, context, community_id, as_family)


# --- /checkin and /elders --------------------------------------------------------------------


async def checkin_command(update: Update, context: LinliContext) -> None:
    """/checkin: the elder's own card; for others, the elders they look after and ➕."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    if message.chat.type != "private":
        await continue_in_private(
            message,
            context,
            "checkin",
            tr("Daily check-ins are set up in a private chat with me."),
            tr("Set up in private"),
        )
        return
    args = [a.lower() for a in context.args or []]
    care = context.services.care
    elder = await care.elder_of(message.from_user.id)
    if elder is not None:
        if args[:1] == ["time"] and len(args) > 1:
            at = parse_clock(args[1])
            outcome = (
                await care.set_time(elder.id, message.from_user.id, at) if at else Outcome.INVALID
            )
            if outcome is not Outcome.OK:
                await reply(message, tr("Please choose a time between 05:30 and 21:30, like 8:30."))
                return
            elder = await care.get(elder.id)
            assert elder is not None
        await _show_elder_card(context, elder, message.chat.id)
        return
    looked_after = await care.family_of(message.from_user.id)
    for one in looked_after:
        await _show_elder_card(context, one, message.chat.id)
    community_id = await _community_for(update, context)
    if community_id is None:
        if not looked_after:
            await reply(
                message,
                tr(
                    "To set up the daily check-in for a family member, send /checkin in your "
                    "community's group, and I will continue here."
                ),
            )
        return
    await _offer_setup(message, context, community_id)


async def _offer_setup(message: Message, context: LinliContext, community_id: int) -> None:
    """What the daily check-in is, and the button to set it up for a family member."""
    tr = context.tr
    await reply(
        message,
        tr(
            "🌞 Daily check-in (每日问安): every day I greet an elder who lives alone; if they do "
            "not answer, I tell their family, then volunteers, then the community staff."
        ),
        reply_markup=InlineKeyboardMarkup(
            [[_button(tr("➕ Set it up for a family member"), "new", str(community_id), "f")]]
        ),
    )


async def _community_for(update: Update, context: LinliContext) -> int | None:
    identity = context.identity
    if identity is not None and identity.community_id is not None:
        return identity.community_id
    user = update.effective_user
    if user is None:
        return None
    async with context.linli.db.uow() as uow:
        communities = sorted({m.community_id for m in await uow.memberships.of_user(user.id)})
        if not communities:
            chats = await uow.roster.chats_of(user.id)
            communities = sorted({c.community_id for c in chats if c.community_id is not None})
    return communities[0] if len(communities) == 1 else None


async def _checkin_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    """/start checkin-<community>: from the group's button, offer to set it up."""
    message = update.effective_message
    community_id = link_community(deep_link)
    if message is None or community_id is None:
        return
    await _offer_setup(message, context, community_id)


async def _show_elder_card(
    context: LinliContext, elder: Elder, chat_id: int, message: Message | None = None
) -> None:
    tr = context.tr
    care = context.services.care
    contacts = await care.contacts(elder.id)
    streak = await care.streak(elder.id)
    status = {
        ElderStatus.ACTIVE: tr("on"),
        ElderStatus.PAUSED: tr("paused"),
        ElderStatus.INVITED: tr("waiting for them to accept"),
        ElderStatus.LEFT: tr("left"),
    }[elder.status]
    lines = [
        "<b>" + tr("🌞 Daily check-in for {name}", name=escape(elder.name)) + "</b>",
        tr("Every day at {time} · {status}", time=hhmm(elder), status=status),
    ]
    if elder.away_until:
        lines.append(tr("🧳 Away until {date}", date=elder.away_until))
    if streak:
        lines.append(tr("{days} days of check-ins in a row.", days=streak))
    if contacts:
        lines.append(
            tr(
                "Contacts: {names}",
                names=", ".join(
                    f"{escape(u.display_name)} ({tr(KIND_NAMES.get(c.kind, c.kind))})"
                    for c, u in contacts
                ),
            )
        )
    else:
        lines.append(tr("No contacts yet: invite family below."))
    eid = str(elder.id)
    rows = [
        [_button(f"🕘 {h:02d}:00", "t", eid, f"{h:02d}00") for h in (7, 8, 9, 10)],
        [_button(tr("🧳 Away…"), "away", eid), _button(tr("🏠 I'm back"), "back", eid)]
        if elder.away_until
        else [_button(tr("🧳 Away…"), "away", eid)],
        [
            _button(tr("👪 Invite family"), "inv", eid, "family"),
            _button(tr("🙋 Invite a volunteer"), "inv", eid, "volunteer"),
        ],
        [_button(tr("🧑‍💼 Invite a grid worker"), "inv", eid, "grid")],
    ]
    if elder.status is ElderStatus.ACTIVE:
        rows.append([_button(tr("⏸ Pause"), "pause", eid), _button(tr("🚪 Leave"), "leave", eid)])
    elif elder.status is ElderStatus.PAUSED:
        rows.append([_button(tr("▶️ Resume"), "resume", eid), _button(tr("🚪 Leave"), "leave", eid)])
    text = "\n".join(lines)
    markup = InlineKeyboardMarkup(rows) if elder.status is not ElderStatus.LEFT else None
    try:
        if message is not None:
            await message.edit_text(text, parse_mode="HTML", reply_markup=markup)
        else:
            await context.bot.send_message(chat_id, text, parse_mode="HTML", reply_markup=markup)
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            log.warning("elder %s: could not show the card: %s", elder.id, exc)


async def _manage(update: Update, context: LinliContext, args: list[str], action: str) -> None:
    query = update.callback_query
    assert query is not None
    tr = context.tr
    care = context.services.care
    elder_id = (small_id(args[0]) if args else None) or 0
    user_id = query.from_user.id
    if not await care.may_manage(elder_id, user_id):
        await query.answer(
            tr("Only the elder, their family and staff can do that."), show_alert=True
        )
        return
    message = query.message if isinstance(query.message, Message) else None
    outcome = Outcome.OK
    if action == "t" and len(args) > 1 and args[1].isdigit():
        outcome = await care.set_time(elder_id, user_id, time(int(args[1][:2]), int(args[1][2:])))
    elif action == "pause":
        outcome = await care.pause(elder_id, user_id)
    elif action == "resume":
        outcome = await care.resume(elder_id, user_id)
    elif action == "leave":
        if args[1:2] != ["yes"]:
            await query.answer()
            if message is not None:
                await message.reply_text(
                    tr(
                        "Leave the daily check-in? Nobody will be told if you do not answer any more."
                    ),
                    reply_markup=InlineKeyboardMarkup(
                        [[_button(tr("🚪 Yes, leave"), "leave", str(elder_id), "yes")]]
                    ),
                )
            return
        outcome = await care.leave(elder_id, user_id)
    elif action == "back":
        outcome = await care.set_away(elder_id, user_id, None)
    elif action == "away":
        if len(args) > 1 and args[1].isdigit() and int(args[1]) <= 366:
            today = await care.local_today(elder_id)
            outcome = await care.set_away(elder_id, user_id, today + timedelta(days=int(args[1])))
        else:
            await query.answer()
            if message is not None:
                await message.reply_text(
                    tr(
                        "🧳 Away for how long? I will not greet you until then, and remind you the day before."
                    ),
                    reply_markup=InlineKeyboardMarkup(
                        [
                            [
                                _button(tr("{days} days", days=d), "away", str(elder_id), str(d))
                                for d in AWAY_DAYS
                            ]
                        ]
                    ),
                )
            return
    elif action == "inv":
        kind = args[1] if len(args) > 1 else "family"
        outcome, token = await care.invite_contact(elder_id, user_id, kind)
        if outcome is Outcome.OK and token:
            await query.answer()
            url = link(context.bot.username or "", DeepLink("care", token))
            elder = await care.get(elder_id)
            await context.bot.send_message(
                message.chat.id if message else user_id,
                tr(
                    "Send this link to the {kind} contact for {name}; they accept in Telegram. It "
                    "works once, for 7 days:\n{url}",
                    kind=tr(KIND_NAMES.get(kind, kind)),
                    name=escape(elder.name if elder else ""),
                    url=escape(url),
                ),
                parse_mode="HTML",
            )
            return
    if outcome is Outcome.INVALID:
        await query.answer(tr("That does not work here."), show_alert=True)
        return
    if outcome is Outcome.FORBIDDEN:
        await query.answer(tr("Only the elder or staff can do that."), show_alert=True)
        return
    if outcome is Outcome.STALE:
        await query.answer(tr("Already done."))
    elif outcome is not Outcome.OK:
        await query.answer(tr("This button is no longer valid."))
        return
    else:
        await query.answer(tr("Done."))
    context.linli.wake_outbox()
    elder = await care.get(elder_id)
    if elder is not None:
        await _show_elder_card(context, elder, message.chat.id if message else user_id)


def _manager(action: str) -> Any:
    async def run(update: Update, context: LinliContext, args: list[str]) -> None:
        await _manage(update, context, args, action)

    return run


async def elders_command(update: Update, context: LinliContext) -> None:
    """/elders: staff see who is enrolled and today's state; /elders ladder 30 60 120 240."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    community_id = await context.services.faq.staff_community(
        person(message.from_user), message.chat.id
    )
    if community_id is None:
        await reply(
            message, tr("Only committee staff can see this, in their staff group or in private.")
        )
        return
    chat_kind = context.identity.chat_kind if context.identity else None
    if message.chat.type != "private" and chat_kind is not None and str(chat_kind) != "staff":
        await reply(
            message,
            tr("Please use this in the staff group or in private: it lists private details."),
        )
        return
    care = context.services.care
    args = context.args or []
    if args[:1] == ["ladder"]:
        if len(args) == 5 and all(a.isdigit() for a in args[1:]):
            ladder = Ladder(*(int(a) for a in args[1:]))
            outcome = await care.set_ladder(community_id, message.from_user.id, ladder)
            if outcome is Outcome.OK:
                await reply(message, _ladder_text(tr, ladder))
                return
        await reply(
            message,
            escape(
                tr(
                    "Write four increasing numbers of minutes: /elders ladder 30 60 120 240 (remind, family, volunteers, staff)."
                )
            )
            + "\n"
            + _ladder_text(tr, await care.ladder_of(community_id)),
        )
        return
    views = await care.overview(community_id)
    lines = ["<b>" + tr("🌞 Daily check-ins: {count} enrolled", count=len(views)) + "</b>"]
    for view in views:
        lines.append(_view_line(tr, view))
    lines.append(_ladder_text(tr, await care.ladder_of(community_id)))
    markup = None
    if message.chat.type == "private":
        markup = InlineKeyboardMarkup(
            [[_button(tr("➕ Invite an elder"), "new", str(community_id))]]
        )
    else:
        lines.append(tr("Invite an elder: send /elders to me in private."))
    text = "\n".join(lines)
    await reply(message, text if len(text) < 4000 else text[:3990] + "…", reply_markup=markup)


def _view_line(tr: Translate, view: ElderView) -> str:
    elder, checkin = view.elder, view.today
    name = escape(elder.name)
    if elder.status is ElderStatus.INVITED:
        state = tr("waiting for them to accept")
    elif elder.status is ElderStatus.PAUSED:
        state = tr("paused")
    elif elder.away_until:
        state = tr("🧳 Away until {date}", date=elder.away_until)
    elif checkin is None:
        state = tr("not yet today")
    elif checkin.status == "ok":
        state = tr("✅ fine")
    elif checkin.status == "resolved":
        state = tr("✅ reached by a contact")
    elif checkin.status == "undeliverable":
        state = tr("📵 undeliverable")
    else:
        last = [s for s in view.steps if s in STEP_NAMES]
        state = "⏳ " + (tr(STEP_NAMES[last[-1]]) if last else tr("waiting"))
    contacts = tr("{count} contacts", count=view.contacts)
    return f"• {name} · {hhmm(elder)} · {state} · {contacts}"


def _ladder_text(tr: Translate, ladder: Ladder) -> str:
    return tr(
        "Ladder: reminder +{remind} min, family +{family} min, volunteers +{volunteer} min, "
        "staff group +{staff} min.",
        remind=ladder.remind,
        family=ladder.family,
        volunteer=ladder.volunteer,
        staff=ladder.staff,
    )


_ACTIONS = {
    "on": _on_it,
    "fine": _fine,
    "close": _close,
    "acc": _accept,
    "dec": _decline,
    "new": _new,
    "t": _manager("t"),
    "pause": _manager("pause"),
    "resume": _manager("resume"),
    "leave": _manager("leave"),
    "away": _manager("away"),
    "back": _manager("back"),
    "inv": _manager("inv"),
}


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install the elder's message hook, /checkin, /elders, the buttons, the links, the job."""
    linli = application.bot_data["linli"]
    Flow.register(INVITE_FLOW)
    linli.services.care.renderer = Renderer(linli.catalogs)
    if linli.ticker is not None:
        linli.ticker.add("care", linli.services.care.tick)
    on_deep_link("care", _care_link)
    on_deep_link("checkin", _checkin_link)
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE, elder_message),
        group=CARE_GROUP,
    )
    application.add_handler(command("checkin", checkin_command))
    application.add_handler(command("elders", elders_command))
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
