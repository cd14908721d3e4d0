"""Sign-ups (接龙) in the group: /signup creates a live list that anyone joins with one tap.

`/signup 周六上午9点 社区义诊 限30人 截止周五18点 每户3人` — the time first (read as notices
read it), then the title with options anywhere after it: 限30人 / 30人 / 名额30 (capacity),
截止<time> (deadline; default: the start), 每户N人 / +N (a household may bring up to N),
不候补 (no waitlist), 志愿 (attendance earns time-bank credit), 登记房号 / 登记电话 (asked in
private when someone joins; the list shows the building only). The list message carries
"报名 +1", "+2 …" and "取消" buttons and updates itself in place as a numbered list; replying
"+1", "+2" or "接龙" to it works too. A list message deleted by an admin is posted again from
the database at the next change.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.callbacks import Callback, CallbackDataError, unpack
from bot.context import LinliContext
from bot.i18n import N_, Translate
from bot.services.activities import ActivityDraft, DraftError, Outcome, Result
from bot.ticket_export import to_csv, to_xlsx
from bot.when import WhenError, format_local, parse_when, split_when
from handlers import signup_private
from handlers.common import command, escape, person, reply
from handlers.notice import WHEN_ERRORS, WHEN_EXAMPLES
from handlers.repair import parse_address
from handlers.signup_private import ask_details, link_markup, start_thanks, thanks_link
from storage.models import Activity, ActivityStatus, Chat, Role

log = logging.getLogger(__name__)

PREFIX = "su"
CAPACITY = re.compile(
    r"(?:限|名额|限额)\s*(\d+)\s*(?:人|名|位)?|(?<![\d:+])(\d+)\s*(?:人|名额)(?!\w*[时点])"
)
PARTY = re.compile(r"每户\s*(?:最多)?\s*(\d+)\s*(?:人|位)?|\+\s*(\d+)")
PLACE = re.compile(
    r"(?:集合)?(?:地点|地址|集合)\s*[:：]\s*(\S+)|📍\s*(\S+)|place\s*:\s*(\S+)", re.I
)
DEADLINE = re.compile(r"截止\s*(?:时间)?[:：]?\s*(\S+)")
NO_WAITLIST = re.compile(r"不候补|无候补|不设候补")
ASK_ROOM = re.compile(r"(?:登记|需要?|要|留|问)(?:楼号|门牌号?|房号|房间号|住址)|ask room", re.I)
ASK_PHONE = re.compile(r"(?:登记|需要?|要|留|问)(?:电话|手机号?|联系方式)|ask phone", re.I)
VOLUNTEERING = re.compile(r"志愿(?:服务)?\s*(\d+(?:\.\d+)?)\s*(?:小时|h)|志愿")
DRAFT_ERRORS = {
    "title": N_("Please give the activity a title after the time."),
    "capacity": N_("The number of places must be between 1 and 5000."),
    "party": N_("A household may bring between 1 and 10 people."),
    "past": N_("That time has already passed."),
    "deadline_past": N_("The deadline has already passed."),
    "deadline_after_start": N_("The deadline must be before the activity starts."),
    "too_far": N_("That is more than a year ahead."),
    "hours": N_("Volunteer hours must be between 0.5 and 24."),
}
# A reply to the list: "+1", "+2", "接龙", "报名", or "取消"; a name after it signs up (or off)
# someone else, e.g. an elder by a family member: "接龙 王奶奶", "+1 李爷爷", "取消 王奶奶".
REPLY_JOIN = re.compile(
    r"^\s*(?:\+\s*(\d{1,2})|(接龙|报名)|(取消))(?:(?:\s+|\s*[:：,，]\s*)([^\s+][^\n]{0,29}))?\s*$"
)


def parse_options(text: str) -> tuple[str, dict[str, Any], str | None]:
    """The title and the options written after it; the deadline text, if any."""
    options: dict[str, Any] = {}
    deadline_text = None
    found = DEADLINE.search(text)
    if found:
        deadline_text = found.group(1)
        text = text[: found.start()] + text[found.end() :]
    found = PLACE.search(text)
    if found:
        options["place"] = next(g for g in found.groups() if g)[:200]
        text = text[: found.start()] + text[found.end() :]
    found = PARTY.search(text)  # before the capacity: 每户2人 is not 2 places in all
    if found:
        options["max_party"] = int(found.group(1) or found.group(2))
        text = text[: found.start()] + text[found.end() :]
    found = CAPACITY.search(text)
    if found:
        options["capacity"] = int(found.group(1) or found.group(2))
        text = text[: found.start()] + text[found.end() :]
    if NO_WAITLIST.search(text):
        options["waitlist"] = False
        text = NO_WAITLIST.sub("", text)
    for name, asked in (("ask_room", ASK_ROOM), ("ask_phone", ASK_PHONE)):
        if asked.search(text):
            options[name] = True
            text = asked.sub(" ", text)
    found = VOLUNTEERING.search(text)
    if found:
        options["volunteering"] = True
        if found.group(1):
            options["volunteer_hours"] = float(found.group(1))
            text = text[: found.start()] + "志愿" + text[found.end() :]
    title = " ".join(text.replace("，", " ").replace(",", " ").split())
    return title, options, deadline_text


# --- the list message ------------------------------------------------------------------------


def _button(label: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=Callback(PREFIX, args).pack())


async def list_text(linli: Any, activity: Activity, tr: Translate, language: str) -> str:
    """The list as everyone sees it: the activity, the numbered names, the waitlist."""
    joined, waiting = await linli.services.activities.listing(activity.id)
    zone = ZoneInfo((await _community(linli, activity.community_id)).timezone)
    places = (
        f"{activity.seats_taken} / {activity.capacity}"
        if activity.capacity
        else str(activity.seats_taken)
    )
    lines = [
        "<b>" + tr("📋 Sign-up: {title}", title=escape(activity.title)) + "</b>",
        tr(
            "🕘 {when} · deadline {deadline}",
            when=format_local(activity.starts_at, zone, language),
            deadline=format_local(activity.deadline, zone, language),
        ),
    ]
    if activity.place:
        lines.append("📍 " + escape(activity.place))
    if activity.max_party > 1:
        lines.append(tr("A household may bring up to {n} people.", n=activity.max_party))
    if activity.ask_room or activity.ask_phone:
        lines.append(tr("📝 Building, room or phone are asked in private, never shown here."))
    lines.append(tr("Names ({places}):", places=places))
    lines += [f"{n}. {_line(s, tr)}" for n, s in enumerate(joined, 1)]
    if not joined:
        lines.append(tr("(nobody yet — be the first!)"))
    if waiting:
        lines.append(tr("Waitlist:"))
        lines += [f"{n}. {_line(s, tr)}" for n, s in enumerate(waiting, 1)]
    if activity.status is not ActivityStatus.OPEN:
        lines.append(tr("🔒 The list is closed."))
    return "\n".join(lines)


def _line(signup: Any, tr: Translate) -> str:
    """王阿姨 +1 3号楼: the name, the family brought, the building (never the room)."""
    line = escape(signup.name)
    if signup.places > 1:
        line += f" +{signup.places - 1}"
    flat = parse_address(signup.room) if signup.room else None
    if flat is not None:
        line += " " + tr("Building {building}", building=escape(flat[0]))
    return line


def list_markup(activity: Activity, tr: Translate) -> InlineKeyboardMarkup | None:
    """报名 +1, +2 … (up to the household limit), 取消 — while the list is open."""
    if activity.status is not ActivityStatus.OPEN:
        return None
    aid = str(activity.id)
    rows = [[_button(tr("报名 +1 Join"), "j", aid, "1"), _button(tr("取消 Cancel"), "c", aid)]]
    if activity.max_party > 1:
        rows.insert(
            1,
            [
                _button(tr("+{n} family", n=n), "j", aid, str(n + 1))
                for n in range(1, min(activity.max_party, 6))
            ],
        )
    return InlineKeyboardMarkup(rows)


async def _community(linli: Any, community_id: int) -> Any:
    async with linli.db.uow() as uow:
        return await uow.communities.get(community_id)


async def show_list(linli: Any, bot: Any, activity_id: int) -> None:
    """Edit the list message in place; post it again if it was deleted (and remember it)."""
    activity = await linli.services.activities.get(activity_id)
    if activity is None or activity.chat_id is None:
        return
    community = await _community(linli, activity.community_id)
    language = community.language if community else linli.settings.default_language
    tr = linli.catalogs.translator(language)
    text = await list_text(linli, activity, tr, language)
    markup = list_markup(activity, tr)
    async with linli.db.uow() as uow:
        chat = await uow.session.get(Chat, activity.chat_id)
    if chat is None:
        return
    if activity.telegram_message_id is not None:
        try:
            await bot.edit_message_text(
                text,
                chat_id=chat.telegram_id,
                message_id=activity.telegram_message_id,
                parse_mode="HTML",
                reply_markup=markup,
            )
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            if "not found" not in str(exc).lower():
                log.warning("activity %s: could not update the list: %s", activity.id, exc)
                return
        except TelegramError as exc:
            log.warning("activity %s: could not update the list: %s", activity.id, exc)
            return
    try:
        sent = await bot.send_message(
            chat.telegram_id, text, parse_mode="HTML", reply_markup=markup
        )
    except TelegramError as exc:
        log.warning("activity %s: could not post the list: %s", activity.id, exc)
        return
    await linli.services.activities.set_message(activity.id, sent.message_id)


# --- commands and buttons --------------------------------------------------------------------


async def signup_command(update: Update, context: LinliContext) -> None:
    """/signup <time> <title and options>: a new list in this group."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    identity = context.identity
    if message.chat.type == "private" or identity is None or identity.community_id is None:
        await reply(message, tr("Send /signup in your community's group: the list lives there."))
        return
    community_id = identity.community_id
    args = (message.text or "").split(maxsplit=1)
    if len(args) < 2 and await _point_to_open_lists(context, message):
        return  # "/signup" alone: where are the lists? (posted again if an admin deleted one)
    roles = context.services.roles
    is_staff = await roles.has_role(message.from_user.id, community_id, Role.STAFF)
    if not is_staff and not (await _community(context.linli, community_id)).residents_signups:
        await reply(message, tr("Only committee staff can start a sign-up list."))
        return
    if not is_staff and not await roles.has_role(message.from_user.id, community_id, Role.RESIDENT):
        # someone in the group who holds no role in its community (staff of another one)
        await reply(message, tr("Only residents of this community can start a sign-up list."))
        return
    if len(args) < 2:
        await reply(
            message,
            escape(tr("Write it in one line: /signup 周六上午9点 社区义诊 限30人 截止周五18点")),
        )
        return
    community = await _community(context.linli, community_id)
    zone = ZoneInfo(community.timezone)
    now = context.services.clock.now()
    try:
        when, rest = split_when(args[1], now, zone)
        title, options, deadline_text = parse_options(rest)
        deadline = parse_when(deadline_text, now, zone).first if deadline_text else None
    except WhenError as exc:
        await reply(
            message,
            tr(WHEN_ERRORS.get(exc.reason, WHEN_ERRORS["unparseable"])) + "\n" + tr(WHEN_EXAMPLES),
        )
        return
    if when.recurrence is not None:
        await reply(message, tr("A sign-up list is for one date; write a day, like 周六上午9点."))
        return
    draft = ActivityDraft(title=title, starts_at=when.first, deadline=deadline, **options)
    chat_row = await context.services.groups.chat(message.chat.id)
    try:
        activity = await context.services.activities.create(
            community_id, message.from_user.id, chat_row.id if chat_row else None, draft
        )
    except DraftError as exc:
        await reply(message, tr(DRAFT_ERRORS.get(exc.reason, DRAFT_ERRORS["title"])))
        return
    await show_list(context.linli, context.bot, activity.id)


async def _point_to_open_lists(context: LinliContext, message: Any) -> bool:
    """Answer "/signup" alone with a pointer to each open list of this group; a list an admin
    deleted is posted again first. False when the group has no open list."""
    chat_row = await context.services.groups.chat(message.chat.id)
    activities = context.services.activities
    shown = await activities.open_in_chat(chat_row.id) if chat_row else []
    for activity in shown:
        await show_list(context.linli, context.bot, activity.id)
        current = await activities.get(activity.id)
        if current is None or current.telegram_message_id is None:
            continue
        try:
            await context.bot.send_message(
                message.chat.id,
                context.tr("👆 The list for «{title}» is here.", title=escape(activity.title)),
                parse_mode="HTML",
                reply_to_message_id=current.telegram_message_id,
                allow_sending_without_reply=True,
            )
        except TelegramError as exc:
            log.warning("activity %s: could not point to the list: %s", activity.id, exc)
    return bool(shown)


async def _join_or_cancel(
    context: LinliContext, activity_id: int, user: Any, action: str, places: int
) -> Result:
    who = person(user)
    if action == "c":
        return await context.services.activities.cancel(activity_id, who.id)
    return await context.services.activities.join(activity_id, who.id, who.display_name, places)


ANSWERS = {
    Outcome.JOINED: N_("You are on the list. See you there!"),
    Outcome.WAITLISTED: N_(
        "The list is full: you are on the waitlist, and I will tell you if a place frees up."
    ),
    Outcome.FULL: N_("Sorry, the list is full."),
    Outcome.ALREADY: N_("You are already on the list."),
    Outcome.CHANGED: N_("Changed: your number of places is updated."),
    Outcome.CANCELLED: N_("You are off the list."),
    Outcome.NOT_SIGNED_UP: N_("You are not on the list."),
    Outcome.CLOSED: N_("Sign-up has closed for this activity."),
    Outcome.INVALID: N_("That is more people than one household may bring."),
    Outcome.NOT_FOUND: N_("This list no longer exists."),
}


async def pressed(update: Update, context: LinliContext) -> None:
    """报名 / +N / 取消 on a list message."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        action, activity_id = data.args[0], data.int_arg(1)
        places = int(data.args[2]) if action == "j" and len(data.args) > 2 else 1
    except (CallbackDataError, IndexError, ValueError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    if action not in ("j", "c"):
        await query.answer(context.tr("This button is no longer valid."))
        return
    result = await _join_or_cancel(context, activity_id, query.from_user, action, places)
    outcome, answer, url = result.outcome, context.tr(ANSWERS[result.outcome]), None
    if outcome in (Outcome.JOINED, Outcome.WAITLISTED) and result.signup is not None:
        asked = await _ask_details(context, activity_id, result.signup, query.from_user.id)
        if asked is not None:
            answer = answer + " " + asked[0]
            url = asked[1]
    await query.answer(answer[:200], show_alert=outcome in (Outcome.FULL, Outcome.CLOSED), url=url)
    if outcome in (Outcome.JOINED, Outcome.WAITLISTED, Outcome.CHANGED, Outcome.CANCELLED):
        await show_list(context.linli, context.bot, activity_id)
        if result.promoted:
            context.linli.wake_outbox()


async def _ask_details(
    context: LinliContext, activity_id: int, signup: Any, user_id: int
) -> tuple[str, str | None] | None:
    """Ask for the room and phone in private if the activity wants them (see ask_details)."""
    activity = await context.services.activities.get(activity_id)
    if activity is None:
        return None
    return await ask_details(context, activity, signup, user_id)


async def replied(update: Update, context: LinliContext) -> None:
    """A reply to a list message: "+1", "+2", "接龙" join, "取消" leaves; with a name, for someone
    else ("接龙 王奶奶": a family member or staff signing up an elder)."""
    message = update.message
    if message is None or message.from_user is None or message.reply_to_message is None:
        return
    found = REPLY_JOIN.match(message.text or "")
    if not found:
        return
    activity_id = await context.services.activities.by_message(
        message.chat.id, message.reply_to_message.message_id
    )
    if activity_id is None:
        return
    plus, _join, cancel, name = found.groups()
    behalf = " ".join((name or "").split()) or None
    who = person(message.from_user)
    activities = context.services.activities
    if cancel:
        result = await activities.cancel(activity_id, who.id, on_behalf_of=behalf)
    else:
        places = max(1, int(plus)) if plus else 1  # "+1" is one place; "+2" two
        result = await activities.join(
            activity_id, who.id, who.display_name, places, on_behalf_of=behalf
        )
    answer, markup = context.tr(ANSWERS[result.outcome]), None
    if behalf and result.outcome in (Outcome.JOINED, Outcome.WAITLISTED, Outcome.CANCELLED):
        answer = context.tr("For {name}: ", name=escape(behalf)) + answer
    if result.outcome in (Outcome.JOINED, Outcome.WAITLISTED) and result.signup is not None:
        asked = await _ask_details(context, activity_id, result.signup, who.id)
        if asked is not None:
            answer += "\n" + asked[0]
            if asked[1] is not None:
                markup = link_markup(context.tr("📝 Give the details in private"), asked[1])
    await reply(message, answer, reply_markup=markup)
    if result.outcome in (Outcome.JOINED, Outcome.WAITLISTED, Outcome.CHANGED, Outcome.CANCELLED):
        await show_list(context.linli, context.bot, activity_id)
        if result.promoted:
            context.linli.wake_outbox()


class Renderer:
    """Sign-up messages sent through the outbox (the service's ActivityRenderer)."""

    def __init__(self, catalogs: Any, timezone: str) -> None:
        self.catalogs = catalogs
        self.zone = ZoneInfo(timezone)

    def reminder(
        self, activity: Activity, signup: Any, which: str, language: str
    ) -> dict[str, Any]:
        tr = self.catalogs.translator(language)
        when = format_local(activity.starts_at, self.zone, language)
        if which == "hour":
            text = tr(
                "⏰ In an hour: «{title}» at {when}.", title=escape(activity.title), when=when
            )
        else:
            text = tr("📅 Tomorrow: «{title}» at {when}.", title=escape(activity.title), when=when)
        if signup.user_id is None:
            text += "\n" + tr("(You signed up {name}.)", name=escape(signup.name))
        text += "\n" + tr(
            "If you cannot come, please press 取消 on the list so someone else can go."
        )
        return {"text": text, "parse_mode": "HTML"}

    def thanks(
        self, activity: Activity, text: str, photo: str | None, taking_part: int, language: str
    ) -> dict[str, Any]:
        tr = self.catalogs.translator(language)
        heading = tr("🙏 Thank you for «{title}»", title=activity.title)
        if taking_part:
            heading += " · " + tr("{n} neighbours took part", n=taking_part)
        body = heading + "\n\n" + text  # sent as typed: no parse mode, markup shows literally
        payload: dict[str, Any] = (
            {"photo": photo, "caption": body[:1024]} if photo else {"text": body[:4096]}
        )
        if activity.telegram_message_id is not None:
            payload["reply_parameters"] = {
                "message_id": activity.telegram_message_id,
                "allow_sending_without_reply": True,
            }
        return payload

    def promoted(self, activity: Activity, signup: Any, language: str) -> dict[str, Any]:
        tr = self.catalogs.translator(language)
        text = tr(
            "🎉 A place freed up: {name} is now on the list for «{title}».",
            name=escape(signup.name),
            title=escape(activity.title),
        )
        return {"text": text, "parse_mode": "HTML"}


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /signup, its buttons and the "+1" replies."""
    signup_private.register()
    linli = application.bot_data["linli"]
    linli.services.activities.renderer = Renderer(linli.catalogs, linli.settings.timezone)
    if linli.ticker is not None:
        linli.ticker.add("activities", closing_job(application))
    application.add_handler(command("signup", signup_command))
    application.add_handler(command("signups", signups_command))
    application.add_handler(command("poll", poll_command))
    application.add_handler(CallbackQueryHandler(poll_pressed, pattern=rf"^{POLL_PREFIX}:v:"))
    application.add_handler(CallbackQueryHandler(pressed, pattern=rf"^{PREFIX}:[jc]:"))
    application.add_handler(CallbackQueryHandler(staff_pressed, pattern=rf"^{PREFIX}:[xath]:"))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.ChatType.GROUPS
            & filters.REPLY
            & filters.Regex(REPLY_JOIN),
            replied,
        )
    )


# --- staff: lists, export, attendance --------------------------------------------------------

EXPORT_HEADER = (
    N_("Activity"),
    N_("No."),
    N_("Name"),
    N_("Places"),
    N_("Status"),
    N_("Signed up at"),
    N_("Attended"),
)


async def signups_command(update: Update, context: LinliContext) -> None:
    """/signups: staff see the lists of the last 30 days and upcoming, with export and attendance."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    community_id = await context.services.faq.staff_community(
        person(message.from_user), message.chat.id
    )
    if community_id is None:
        await reply(message, tr("Only committee staff can see the sign-up lists here."))
        return
    setting = [a.lower() for a in context.args or []]
    if setting[:1] == ["residents"] and setting[1:2] in (["on"], ["off"]):
        allowed = setting[1] == "on"
        async with context.linli.db.uow() as uow:
            community = await uow.communities.get(community_id)
            if community is not None:
                community.residents_signups = allowed
            await uow.commit()
        await reply(
            message,
            tr("Residents may now start sign-up lists.")
            if allowed
            else tr("Only staff may start sign-up lists now."),
        )
        return
    activities = await context.services.activities.of_community(community_id)
    if not activities:
        await reply(
            message,
            tr(
                "There are no sign-up lists yet. Start one in the group: /signup 周六上午9点 社区义诊"
            ),
        )
        return
    zone = ZoneInfo((await _community(context.linli, community_id)).timezone)
    heading = tr("📋 Sign-up lists")
    lines, rows = [f"<b>{escape(heading)}</b>"], []
    now = context.services.clock.now()
    for activity in activities:
        when = format_local(activity.starts_at, zone, context.language)
        places = (
            f"{activity.seats_taken}/{activity.capacity}"
            if activity.capacity
            else str(activity.seats_taken)
        )
        lines.append(f"#{activity.id} · {escape(activity.title)} · {when} · {places}")
        aid = str(activity.id)
        rows.append(
            [
                _button(f"#{aid} CSV", "x", aid, "csv"),
                _button(f"#{aid} XLSX", "x", aid, "xlsx"),
                _button(f"#{aid} " + tr("✅ Attendance"), "a", aid),
            ]
        )
        if activity.starts_at <= now:  # afterwards: the organiser's thanks and a photo
            rows[-1].append(_button(f"#{aid} " + tr("🙏 Thanks"), "h", aid))
    await reply(message, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def staff_pressed(update: Update, context: LinliContext) -> None:
    """Export (x), attendance card (a), attendance toggle (t) — staff or the organiser only."""
    query = update.callback_query
    if query is None:
        return
    tr = context.tr
    try:
        data = unpack(query.data)
        action, target = data.args[0], data.int_arg(1)
    except (CallbackDataError, IndexError):
        await query.answer(tr("This button is no longer valid."))
        return
    activities = context.services.activities
    if action == "t":
        outcome, signup = await activities.mark_attendance(target, query.from_user.id)
        if outcome is Outcome.FORBIDDEN:
            await query.answer(tr("Only committee staff can do that."), show_alert=True)
            return
        if signup is None:
            await query.answer(tr("This button is no longer valid."))
            return
        await query.answer()
        await _attendance_card(context, signup.activity_id, query.message)
        return
    if not await activities.may_manage(target, query.from_user.id):
        await query.answer(tr("Only committee staff can do that."), show_alert=True)
        return
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if action == "h":  # the thanks are written in private
        in_private = query.message is not None and query.message.chat.type == "private"
        refusal = await start_thanks(
            context, query.from_user.id, chat_id if in_private else query.from_user.id, target
        )
        if refusal is None:
            await query.answer(None if in_private else tr("I have written to you in private."))
        else:
            url = None if in_private else thanks_link(context, target)
            await query.answer(refusal, show_alert=url is None, url=url)
        return
    await query.answer()
    if action == "a":
        await _attendance_card(context, target, None, chat_id)
        return
    activity = await activities.get(target)
    if activity is None:
        return
    joined, waiting = await activities.listing(target)
    zone = ZoneInfo((await _community(context.linli, activity.community_id)).timezone)
    header = [tr(h) for h in EXPORT_HEADER]
    details = activity.ask_room or activity.ask_phone  # staff-only: the file is sent in private
    if details:
        header += [tr("Room"), tr("Phone")]
    table = []
    for status, group in ((tr("joined"), joined), (tr("waitlist"), waiting)):
        for number, signup in enumerate(group, 1):
            table.append(
                [
                    activity.title,
                    str(number),
                    signup.name,
                    str(signup.places),
                    status,
                    signup.queued_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    tr("yes") if signup.attended else "",
                ]
                + ([signup.room or "", signup.phone or ""] if details else [])
            )
    fmt = data.args[2] if len(data.args) > 2 and data.args[2] in ("csv", "xlsx") else "csv"
    content = (
        to_csv(header, table) if fmt == "csv" else to_xlsx(header, table, f"signup {activity.id}")
    )
    await context.bot.send_document(
        chat_id,
        InputFile(content, filename=f"signup-{activity.id}.{fmt}"),
        caption=tr("Sign-up list #{id}: {count} rows", id=activity.id, count=len(table)),
    )


async def _attendance_card(
    context: LinliContext, activity_id: int, message: Any, chat_id: int | None = None
) -> None:
    tr = context.tr
    activity = await context.services.activities.get(activity_id)
    if activity is None:
        return
    joined, _ = await context.services.activities.listing(activity_id)
    rows = [
        [
            _button(
                ("✅ " if s.attended else "⬜ ")
                + s.name
                + (f" +{s.places - 1}" if s.places > 1 else ""),
                "t",
                str(s.id),
            )
        ]
        for s in joined[:90]
    ]
    present = sum(1 for s in joined if s.attended)
    text = tr(
        "✅ Attendance at «{title}»: {present} of {count} marked. Tap a name to mark it.",
        title=escape(activity.title),
        present=present,
        count=len(joined),
    )
    markup = InlineKeyboardMarkup(rows) if rows else None
    try:
        if message is not None:
            await message.edit_text(text, parse_mode="HTML", reply_markup=markup)
        else:
            await context.bot.send_message(chat_id, text, parse_mode="HTML", reply_markup=markup)
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            log.warning("activity %s: attendance card: %s", activity_id, exc)


# --- polls -----------------------------------------------------------------------------------

POLL_PREFIX = "pl"
HOUSEHOLD = re.compile(r"每户一票|一户一票|按户投票|per household")
POLL_ERRORS = {
    "title": N_("Please write the question first."),
    "options": N_("Give 2 to 10 different choices, separated by |."),
    "deadline_past": N_("The deadline has already passed."),
}
POLL_ANSWERS = {
    Outcome.JOINED: N_("Your vote is counted."),
    Outcome.CHANGED: N_("Your vote is changed."),
    Outcome.ALREADY: N_("You have already voted for that."),
    Outcome.CLOSED: N_("This poll has closed."),
    Outcome.FORBIDDEN: N_(
        "One vote per household: I need your building and room first (send /repair or tell the staff)."
    ),
    Outcome.INVALID: N_("This button is no longer valid."),
    Outcome.NOT_FOUND: N_("This button is no longer valid."),
}


async def poll_text(linli: Any, poll: Any, counts: list[int], language: str) -> str:
    """The question, each choice with its votes and a bar, the deadline."""
    tr = linli.catalogs.translator(language)
    async with linli.db.uow() as uow:
        community = await uow.communities.get(poll.community_id)
    zone = ZoneInfo(community.timezone if community else linli.settings.timezone)
    total = sum(counts) or 1
    lines = ["<b>" + tr("📊 Poll: {question}", question=escape(poll.question)) + "</b>"]
    for number, (option, count) in enumerate(zip(poll.options, counts, strict=False), 1):
        bar = "█" * round(10 * count / total)
        votes = tr("{count} votes", count=count)
        lines.append(f"{number}. {escape(option)} — {votes} {bar}")
    rule = tr("one vote per household") if poll.per_household else tr("one vote per person")
    if poll.closed:
        lines.append(tr("🔒 Closed. Final results."))
    else:
        lines.append(
            tr(
                "Closes {when} · {rule} · you may change your vote",
                when=format_local(poll.deadline, zone, language),
                rule=rule,
            )
        )
    return "\n".join(lines)


def poll_markup(poll: Any) -> InlineKeyboardMarkup | None:
    """One button per choice while the poll is open."""
    if poll.closed:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"{i + 1}. {o}"[:60],
                    callback_data=Callback(POLL_PREFIX, ("v", str(poll.id), str(i))).pack(),
                )
            ]
            for i, o in enumerate(poll.options)
        ]
    )


async def show_poll(linli: Any, bot: Any, poll_id: int) -> None:
    """Post or edit the poll message with the current results."""
    poll = await linli.services.polls.get(poll_id)
    if poll is None or poll.chat_id is None:
        return
    async with linli.db.uow() as uow:
        chat = await uow.session.get(Chat, poll.chat_id)
        community = await uow.communities.get(poll.community_id)
    if chat is None:
        return
    language = community.language if community else linli.settings.default_language
    text = await poll_text(linli, poll, await linli.services.polls.results(poll_id), language)
    try:
        if poll.telegram_message_id is not None:
            await bot.edit_message_text(
                text,
                chat_id=chat.telegram_id,
                message_id=poll.telegram_message_id,
                parse_mode="HTML",
                reply_markup=poll_markup(poll),
            )
        else:
            sent = await bot.send_message(
                chat.telegram_id, text, parse_mode="HTML", reply_markup=poll_markup(poll)
            )
            await linli.services.polls.set_message(poll_id, sent.message_id)
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            log.warning("poll %s: could not show it: %s", poll_id, exc)


async def poll_command(update: Update, context: LinliContext) -> None:
    """/poll 问题 | 选项1 | 选项2 [截止<time>] [每户一票]."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    identity = context.identity
    if message.chat.type == "private" or identity is None or identity.community_id is None:
        await reply(message, tr("Send /poll in your community's group."))
        return
    if not await context.services.roles.has_role(
        message.from_user.id, identity.community_id, Role.STAFF
    ):
        await reply(message, tr("Only committee staff can start a poll."))
        return
    text = (
        (message.text or "").split(maxsplit=1)[1]
        if len((message.text or "").split(maxsplit=1)) > 1
        else ""
    )
    usage = escape(
        tr("Write it in one line: /poll 哪天开业主大会？| 周六 | 周日 截止周五18点 每户一票")
    )
    if "|" not in text.replace("｜", "|"):
        await reply(message, usage)
        return
    per_household = bool(HOUSEHOLD.search(text))
    text = HOUSEHOLD.sub("", text)
    community = await _community(context.linli, identity.community_id)
    zone = ZoneInfo(community.timezone)
    now = context.services.clock.now()
    deadline = now + timedelta(days=1)
    found = DEADLINE.search(text)
    if found:
        try:
            deadline = parse_when(found.group(1), now, zone).first
        except WhenError as exc:
            await reply(
                message,
                tr(WHEN_ERRORS.get(exc.reason, WHEN_ERRORS["unparseable"]))
                + "\n"
                + tr(WHEN_EXAMPLES),
            )
            return
        text = text[: found.start()] + text[found.end() :]
    parts = [p.strip() for p in text.replace("｜", "|").split("|")]
    chat_row = await context.services.groups.chat(message.chat.id)
    try:
        poll = await context.services.polls.create(
            identity.community_id,
            message.from_user.id,
            chat_row.id if chat_row else None,
            parts[0],
            parts[1:],
            deadline,
            per_household,
        )
    except DraftError as exc:
        await reply(message, tr(POLL_ERRORS.get(exc.reason, POLL_ERRORS["options"])) + "\n" + usage)
        return
    await show_poll(context.linli, context.bot, poll.id)


async def poll_pressed(update: Update, context: LinliContext) -> None:
    """A vote."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        poll_id, option = data.int_arg(1), data.int_arg(2)
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    outcome, _key = await context.services.polls.vote(poll_id, query.from_user.id, option)
    await query.answer(
        context.tr(POLL_ANSWERS.get(outcome, POLL_ANSWERS[Outcome.INVALID])),
        show_alert=outcome is Outcome.FORBIDDEN,
    )
    if outcome in (Outcome.JOINED, Outcome.CHANGED):
        await show_poll(context.linli, context.bot, poll_id)


def closing_job(application: Application) -> Any:  # type: ignore[type-arg]
    """The ticker job: close lists and polls past their deadline and show them closed."""
    linli = application.bot_data["linli"]

    async def job(now: Any) -> None:
        await linli.services.activities.remind_due(now)
        for activity in await linli.services.activities.close_due(now):
            await show_list(linli, application.bot, activity.id)  # shows it closed
        for poll_id in await linli.services.polls.close_due(now):
            await show_poll(linli, application.bot, poll_id)

    return job
