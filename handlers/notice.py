"""Committee notices in the chat: /notice, /broadcast, /notices, the preview card, 收到 ✓.

Staff write `/notice 明天8点 停水通知：…` (one line: a time, then the text) in the staff group
or in private, or `/notice` alone in private for a short dialog (text → time). Either way
they get a preview card showing the parsed absolute time in the community's time zone, the
target groups and the options (pin, acknowledgement with a reminder delay, urgent) as
buttons; "Confirm" schedules it. `/broadcast <text>` is the same with "now". `/notices`
lists upcoming, recurring and recent notices with pause, resume, cancel, edit, and who has
acknowledged (with CSV and XLSX export).

The notice text is sent literally with the formatting staff gave it in Telegram (bold,
italic, links …) as message entities, so `<b>` typed by hand shows as `<b>`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import N_, Catalogs, Translate
from bot.services.notices import (
    MAX_TEXT,
    REMIND_CHOICES,
    NoticeDraft,
    Outcome,
    PostView,
    quiet_until,
)
from bot.ticket_export import to_csv, to_xlsx
from bot.when import Recurrence, When, WhenError, format_local, parse_when, split_when
from handlers.common import command, escape, html_payload, person, reply
from handlers.dialogs import Flow, Input, Turn, start_dialog
from handlers.repair import cut
from storage.models import Notice, NoticeOccurrence, NoticePost, NoticeStatus

log = logging.getLogger(__name__)

PREFIX = "nt"
FORMATTING = frozenset(
    "bold italic underline strikethrough spoiler code pre text_link blockquote "
    "expandable_blockquote".split()
)
WHEN_EXAMPLES = N_(
    "Examples: 明天8点, 今晚7点半, 下周一上午9点, 每周一9:00, 每月1号10点, 工作日每天8:00, "
    "tomorrow 9am, every monday 9:00, in 2 hours."
)
WHEN_ERRORS = {
    "empty": N_("Please write the text of the notice after the time."),
    "unparseable": N_("I could not read a time at the start."),
    "ambiguous": N_(
        "That time is ambiguous: say morning or afternoon (上午/下午), or use 24-hour time like 15:00, and give a time of day."
    ),
    "past": N_("That time has already passed."),
    "too_far": N_("That is more than a year ahead."),
    "invalid_date": N_("That date does not exist."),
}
STATUS_NAMES = {
    NoticeStatus.DRAFT: N_("draft"),
    NoticeStatus.SCHEDULED: N_("scheduled"),
    NoticeStatus.PAUSED: N_("paused"),
    NoticeStatus.DONE: N_("posted"),
    NoticeStatus.CANCELLED: N_("cancelled"),
}
TARGET_NAMES = {
    "residents": N_("all residents' groups"),
    "staff": N_("the staff group"),
    "chosen": N_("chosen groups"),
}


def utf16_len(text: str) -> int:
    """A string's length in UTF-16 code units, as Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def shift_entities(
    entities: Sequence[dict[str, Any]], start: int, end: int | None = None, by: int = 0
) -> list[dict[str, Any]]:
    """The formatting entities inside [start, end) of a text, moved to start at `by`."""
    out = []
    for entity in entities:
        if entity.get("type") not in FORMATTING:
            continue
        offset, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        lo, hi = max(offset, start), offset + length if end is None else min(offset + length, end)
        if hi <= lo:
            continue
        moved = dict(entity, offset=lo - start + by, length=hi - lo)
        out.append(moved)
    return out


# --- the renderer ----------------------------------------------------------------------------


class Renderer:
    """Notice messages in the community's or reader's language (the service's NoticeRenderer)."""

    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    def _tr(self, language: str) -> Translate:
        return self.catalogs.translator(language)

    def post(
        self, notice: Notice, post: NoticePost, count: int, total: int, language: str
    ) -> dict[str, Any]:
        tr = self._tr(language)
        heading = tr("🚨 Urgent notice") if notice.urgent else tr("📢 Notice")
        text = f"{heading}\n{notice.text}"
        entities = [{"type": "bold", "offset": 0, "length": utf16_len(heading)}]
        entities += shift_entities(notice.entities or [], 0, None, utf16_len(heading) + 1)
        payload: dict[str, Any] = {"text": text, "entities": entities}
        if notice.ack:
            payload["text"] += "\n\n" + tr(
                "Acknowledged {count} / {total} · please tap the button", count=count, total=total
            )
            button = InlineKeyboardButton(
                tr("收到 ✓ Got it"), callback_data=Callback(PREFIX, ("a", str(post.id))).pack()
            )
            payload["reply_markup"] = InlineKeyboardMarkup([[button]]).to_dict()
        return payload

    def reminder(
        self, notice: Notice, post: NoticePost, title: str, language: str
    ) -> dict[str, Any]:
        tr = self._tr(language)
        excerpt = notice.text if len(notice.text) <= 300 else notice.text[:300] + "…"
        intro = tr(
            "🔔 A reminder: you have not yet confirmed this notice in «{group}»:", group=title
        )
        button = InlineKeyboardButton(
            tr("收到 ✓ Got it"), callback_data=Callback(PREFIX, ("a", str(post.id))).pack()
        )
        return {
            "text": f"{intro}\n\n{excerpt}",
            "reply_markup": InlineKeyboardMarkup([[button]]).to_dict(),
        }

    def report(
        self,
        notice: Notice,
        occurrence: NoticeOccurrence,
        sent: Sequence[str],
        failed: Sequence[tuple[str, str]],
        skipped: Sequence[str],
        language: str,
        unknown: Sequence[str] = (),
    ) -> dict[str, Any]:
        tr = self._tr(language)
        lines = [
            tr(
                "📢 Notice #{id} was posted to {sent} of {total} groups.",
                id=notice.id,
                sent=len(sent),
                total=len(sent) + len(failed) + len(unknown) + len(skipped),
            )
        ]
        if failed:
            lines.append(tr("Could not post to:"))
            lines += [f"• {escape(title)} — {escape(error[:120])}" for title, error in failed[:30]]
        if unknown:
            lines.append(
                tr(
                    "May not have arrived (the connection broke after sending, so it was not "
                    "sent again, to avoid posting it twice; please look in these groups and "
                    "/broadcast it again where it is missing):"
                )
            )
            lines += [f"• {escape(title)}" for title in unknown[:30]]
        if skipped:
            lines.append(tr("Skipped, the bot is no longer in:"))
            lines += [f"• {escape(title)}" for title in skipped[:30]]
        if not sent and not failed and not skipped:
            lines.append(tr("There was no group to post it to."))
        return html_payload("\n".join(lines), None)

    def missed(
        self, notice: Notice, due: datetime, count: int, zone: ZoneInfo, language: str
    ) -> dict[str, Any]:
        tr = self._tr(language)
        excerpt = cut(notice.text, 80)
        text = tr(
            "⚠️ Notice #{id} «{text}» was not posted: it fell due at {when} while Linli was "
            "down, and is now too late ({count} time(s) missed). Post it again with /broadcast "
            "if it still matters.",
            id=notice.id,
            text=escape(excerpt),
            when=format_local(due, zone, language),
            count=count,
        )
        return html_payload(text, None)

    def pin_failed(self, notice: Notice, title: str, error: str, language: str) -> dict[str, Any]:
        tr = self._tr(language)
        text = tr(
            "📌 Notice #{id} was posted in «{group}» but could not be pinned ({error}). Make "
            "Linli an admin there with the right to pin messages.",
            id=notice.id,
            group=escape(title),
            error=escape(error[:100]),
        )
        return html_payload(text, None)


# --- describing a notice ---------------------------------------------------------------------


def when_line(notice: Notice, zone: ZoneInfo, tr: Translate, language: str) -> str:
    """When it posts: the absolute time in the zone, or the rule and its next time."""
    zone_name = str(zone)
    if notice.recurrence:
        rule = Recurrence.from_json(notice.recurrence).describe(language)
        if notice.next_at is None:
            return escape(rule)
        return tr(
            "{rule} (next: {when}, {zone})",
            rule=escape(rule),
            when=format_local(notice.next_at, zone, language),
            zone=zone_name,
        )
    if notice.next_at is None:
        return "–"
    return f"{format_local(notice.next_at, zone, language)} ({zone_name})"


async def card_text(
    context: LinliContext, notice: Notice, *, title: str, quiet: tuple[Any, Any] | None
) -> str:
    """The preview / management card: the text, when, where, options."""
    tr, language = context.tr, context.language
    zone = await context.services.notices.zone_of(notice.community_id)
    live, gone = await context.services.notices.target_chats(notice)
    target = tr(TARGET_NAMES.get(notice.target, notice.target))
    names = ", ".join(escape(c.title or str(c.telegram_id)) for c in live[:8])
    more = "…" if len(live) > 8 else ""
    yes, no = tr("yes"), tr("no")
    remind = (
        tr("after {hours} h", hours=f"{notice.remind_minutes / 60:g}")
        if notice.ack and notice.remind_minutes
        else tr("no reminder")
    )
    lines = [
        f"<b>{escape(title)}</b> #{notice.id} · {tr(STATUS_NAMES[notice.status])}",
        "",
        escape(notice.text),
        "",
        tr("🕘 When: {when}", when=when_line(notice, zone, tr, language)),
        tr(
            "🎯 To: {target} ({count}): {names}", target=target, count=len(live), names=names + more
        ),
        tr(
            "📌 Pin: {pin} · ✔️ Ask for 收到: {ack} ({remind}) · 🚨 Urgent: {urgent}",
            pin=yes if notice.pin else no,
            ack=yes if notice.ack else no,
            remind=remind,
            urgent=yes if notice.urgent else no,
        ),
    ]
    if gone:
        lines.append(
            tr(
                "⚠️ Not reachable (the bot was removed): {names}",
                names=", ".join(escape(c.title or "?") for c in gone[:8]),
            )
        )
    if not live:
        lines.append(tr("⚠️ There is no group to post it to yet."))
    if (
        notice.next_at is not None
        and not notice.urgent
        and notice.status in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED)
    ):
        later = quiet_until(notice.next_at, zone, quiet)
        if later is not None:
            lines.append(
                tr(
                    "🌙 That is in quiet hours: it will be posted at {when} (mark it urgent to post at once).",
                    when=format_local(later, zone, language),
                )
            )
    return "\n".join(lines)


def _button(label: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=Callback(PREFIX, args).pack())


def card_markup(notice: Notice, tr: Translate) -> InlineKeyboardMarkup | None:
    """Buttons of the card: options, then confirm/cancel (draft) or pause/resume/edit/cancel."""
    nid = str(notice.id)
    if notice.status not in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED, NoticeStatus.PAUSED):
        return None
    mark = lambda on: "☑️" if on else "⬜"  # noqa: E731
    rows = [
        [
            _button(f"{mark(notice.pin)} " + tr("Pin"), "o", nid, "pin"),
            _button(f"{mark(notice.ack)} " + tr("收到"), "o", nid, "ack"),
            _button(f"{mark(notice.urgent)} " + tr("Urgent"), "o", nid, "urgent"),
        ],
        [_button(tr("🎯 Groups…"), "t", nid), _button(tr("⏰ Reminder"), "o", nid, "remind")],
        [_button(tr("✏️ Text"), "e", nid, "text"), _button(tr("🕘 Time"), "e", nid, "when")],
    ]
    if notice.status is NoticeStatus.DRAFT:
        rows.append([_button(tr("✅ Confirm"), "c", nid), _button(tr("✖️ Cancel"), "x", nid)])
    elif notice.status is NoticeStatus.SCHEDULED:
        rows.append([_button(tr("⏸ Pause"), "p", nid), _button(tr("🗑 Cancel notice"), "x", nid)])
    else:
        rows.append([_button(tr("▶️ Resume"), "r", nid), _button(tr("🗑 Cancel notice"), "x", nid)])
    return InlineKeyboardMarkup(rows)


async def show_card(
    context: LinliContext, notice: Notice, *, chat_id: int, message: Message | None = None
) -> None:
    """Send (or edit in place) a notice's card."""
    title = (
        context.tr("📝 Notice preview")
        if notice.status is NoticeStatus.DRAFT
        else context.tr("📢 Notice")
    )
    text = await card_text(context, notice, title=title, quiet=context.linli.settings.quiet_window)
    markup = card_markup(notice, context.tr)
    try:
        if message is not None:
            await message.edit_text(text, parse_mode="HTML", reply_markup=markup)
        else:
            await context.bot.send_message(chat_id, text, parse_mode="HTML", reply_markup=markup)
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            log.warning("notice %s: could not show the card: %s", notice.id, exc)


# --- commands --------------------------------------------------------------------------------


async def _staff_community(
    update: Update, context: LinliContext
) -> tuple[Message | None, int | None]:
    """The command and the community its sender posts notices for here (else says so)."""
    message = update.message
    if message is None or message.from_user is None:
        return None, None
    community_id = await context.services.faq.staff_community(
        person(message.from_user), message.chat.id
    )
    if community_id is None:
        await reply(
            message,
            context.tr(
                "Only committee staff can post notices, in their staff group or in a private "
                "chat with me."
            ),
        )
    return message, community_id


def _arguments(message: Message) -> tuple[str, int]:
    """The text after the command, and where it starts (UTF-16 units) in the message."""
    text = message.text or ""
    command_entity = next(
        (e for e in message.entities or () if e.type == "bot_command" and e.offset == 0), None
    )
    end = command_entity.length if command_entity else len(text.split(maxsplit=1)[0]) if text else 0
    # entity lengths are UTF-16 units; the command itself is ASCII, so units = characters
    rest = text[end:]
    stripped = rest.lstrip()
    start_units = utf16_len(text[: end + len(rest) - len(stripped)])
    return stripped, start_units


def _when_error(context: LinliContext, exc: WhenError) -> str:
    reason = WHEN_ERRORS.get(getattr(exc, "reason", "unparseable"), WHEN_ERRORS["unparseable"])
    return context.tr(reason) + "\n" + context.tr(WHEN_EXAMPLES)


async def notice_command(update: Update, context: LinliContext) -> None:
    """/notice [time text]: the one-line form, or the dialog in private."""
    message, community_id = await _staff_community(update, context)
    if message is None or community_id is None:
        return
    args, start = _arguments(message)
    if not args:
        if message.chat.type != "private":
            await reply(
                message,
                context.tr(
                    "Write it in one line: /notice 明天8点 停水通知：… — or send /notice to me in "
                    "private and I will guide you."
                ),
            )
            return
        await start_dialog(
            context,
            message.from_user.id,
            message.chat.id,
            NOTICE_FLOW,
            "text",
            {"community_id": community_id},
            community_id,
        )
        return
    zone = await context.services.notices.zone_of(community_id)
    now = context.services.clock.now()
    try:
        when, body = split_when(args, now, zone)
    except WhenError as exc:
        await reply(
            message,
            _when_error(context, exc)
            + "\n"
            + escape(context.tr("The one-line form is: /notice <time> <text>")),
        )
        return
    body_start = start + utf16_len(args[: len(args) - len(body)]) if body else start
    await _make_draft(update, context, community_id, when, body, body_start)


async def broadcast_command(update: Update, context: LinliContext) -> None:
    """/broadcast <text>: a notice for now (after the preview)."""
    message, community_id = await _staff_community(update, context)
    if message is None or community_id is None:
        return
    body, start = _arguments(message)
    if not body:
        await reply(
            message,
            context.tr("Write the text after the command: /broadcast 今天下午停电，请做好准备"),
        )
        return
    now = context.services.clock.now()
    await _make_draft(
        update, context, community_id, When(first=now, recurrence=None, immediate=True), body, start
    )


async def _make_draft(
    update: Update, context: LinliContext, community_id: int, when: When, body: str, body_start: int
) -> None:
    message = update.message
    assert message is not None and message.from_user is not None
    if len(body) > MAX_TEXT:
        await reply(
            message,
            context.tr(
                "The notice is too long: {length} characters, at most {limit}. Shorten it or "
                "split it into two notices.",
                length=len(body),
                limit=MAX_TEXT,
            ),
        )
        return
    entities = shift_entities([e.to_dict() for e in message.entities or ()], body_start)
    draft = NoticeDraft(
        text=body,
        entities=entities,
        first_at=when.first,
        recurrence=when.recurrence,
    )
    notice = await context.services.notices.draft(community_id, message.from_user.id, draft)
    await show_card(context, notice, chat_id=message.chat.id)


async def notices_command(update: Update, context: LinliContext) -> None:
    """/notices: upcoming and recurring notices, and those posted in the last week."""
    message, community_id = await _staff_community(update, context)
    if message is None or community_id is None:
        return
    tr, language = context.tr, context.language
    service = context.services.notices
    zone = await service.zone_of(community_id)
    upcoming = await service.upcoming(community_id)
    recent = await service.recent(community_id)
    heading = tr("📋 Notices")
    lines = [f"<b>{heading}</b>"]
    rows: list[list[InlineKeyboardButton]] = []
    if upcoming:
        lines.append(tr("Upcoming and recurring:"))
        for notice in upcoming:
            lines.append(
                f"#{notice.id} · {when_line(notice, zone, tr, language)} · "
                f"{tr(STATUS_NAMES[notice.status])} · {escape(cut(notice.text, 40))}"
            )
            rows.append([_button(f"#{notice.id} ✏️ " + cut(notice.text, 20), "v", str(notice.id))])
    else:
        lines.append(tr("Nothing is scheduled."))
    if recent:
        lines.append("")
        lines.append(tr("Posted in the last 7 days:"))
        for notice, occurrence in recent:
            posted = format_local(occurrence.posted_at or occurrence.due_at, zone, language)
            lines.append(f"#{notice.id} · {posted} · {escape(cut(notice.text, 40))}")
            if notice.ack:
                rows.append(
                    [_button(f"#{notice.id} 👥 " + tr("Who confirmed"), "w", str(occurrence.id))]
                )
    lines.append("")
    lines.append(tr("New: /notice 明天8点 … · at once: /broadcast …"))
    await reply(
        message, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows) if rows else None
    )


# --- who acknowledged ------------------------------------------------------------------------


def who_text(views: Sequence[PostView], notice: Notice, tr: Translate) -> str:
    """Per group: the count, who confirmed, who has not (names only)."""
    lines = [tr("👥 Who confirmed notice #{id}", id=notice.id), escape(cut(notice.text, 60))]
    for view in views:
        total = len(view.acked) + len(view.waiting)
        lines.append("")
        lines.append(f"<b>{escape(view.title)}</b> · {len(view.acked)} / {total}")
        if view.acked:
            lines.append(
                tr(
                    "✅ Confirmed: {names}",
                    names=", ".join(escape(u.display_name) for u, _ in view.acked[:40]),
                )
            )
        if view.waiting:
            more = f" … (+{len(view.waiting) - 40})" if len(view.waiting) > 40 else ""
            lines.append(
                tr(
                    "⏳ Not yet: {names}",
                    names=", ".join(escape(u.display_name) for u in view.waiting[:40]) + more,
                )
            )
    text = "\n".join(lines)
    return text if len(text) <= 4000 else text[:3990] + "…"


def who_rows(
    views: Sequence[PostView], tr: Translate, zone: ZoneInfo
) -> tuple[list[str], list[list[str]]]:
    """The who-confirmed list as a table for CSV and XLSX."""
    header = [tr("Group"), tr("Name"), tr("Username"), tr("Confirmed"), tr("Confirmed at")]
    rows = []
    for view in views:
        for user, at in view.acked:
            rows.append(
                [
                    view.title,
                    user.display_name,
                    user.username or "",
                    tr("yes"),
                    at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                ]
            )
        for user in view.waiting:
            rows.append([view.title, user.display_name, user.username or "", tr("no"), ""])
    return header, rows


# --- buttons ---------------------------------------------------------------------------------


async def pressed(update: Update, context: LinliContext) -> None:
    """Every notice button: 收到, options, targets, confirm, pause, resume, cancel, edit, who."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        action = data.args[0]
        target_id = data.int_arg(1)
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    if action == "a":
        await _acknowledge(update, context, target_id)
        return
    service = context.services.notices
    user_id = query.from_user.id
    message = query.message if isinstance(query.message, Message) else None
    tr = context.tr
    if action in ("w", "csv", "xlsx"):
        occurrence = await service.occurrence(target_id)
        notice = await service.get(occurrence.notice_id) if occurrence else None
        if notice is None or occurrence is None:
            await query.answer(tr("This button is no longer valid."))
            return
        if not await service.may_manage(user_id, notice):
            await query.answer(tr("Only committee staff can do that."), show_alert=True)
            return
        views = await service.who(occurrence.id)
        await query.answer()
        if action == "w":
            buttons = InlineKeyboardMarkup(
                [
                    [
                        _button("⬇️ CSV", "csv", str(occurrence.id)),
                        _button("⬇️ XLSX", "xlsx", str(occurrence.id)),
                    ]
                ]
            )
            await context.bot.send_message(
                query.message.chat.id if query.message else user_id,
                who_text(views, notice, tr),
                parse_mode="HTML",
                reply_markup=buttons,
            )
            return
        zone = await service.zone_of(notice.community_id)
        header, rows = who_rows(views, tr, zone)
        name = f"notice-{notice.id}-{occurrence.id}"
        content = (
            to_csv(header, rows)
            if action == "csv"
            else to_xlsx(header, rows, f"notice {notice.id}")
        )
        await context.bot.send_document(
            query.message.chat.id if query.message else user_id,
            InputFile(content, filename=f"{name}.{action}"),
            caption=tr("Who confirmed notice #{id}: {count} rows", id=notice.id, count=len(rows)),
        )
        return
    notice = await service.get(target_id)
    if notice is None:
        await query.answer(tr("This button is no longer valid."))
        return
    if not await service.may_manage(user_id, notice):
        await query.answer(tr("Only committee staff can do that."), show_alert=True)
        return
    outcome, changed = Outcome.OK, notice
    answered = False
    if action == "o":
        option = data.args[2] if len(data.args) > 2 else ""
        if option == "remind":
            choices = list(REMIND_CHOICES)
            index = choices.index(notice.remind_minutes) if notice.remind_minutes in choices else 0
            minutes = choices[(index + 1) % len(choices)]
            outcome, changed = await service.change(
                notice.id, user_id, remind_minutes=minutes, ack=notice.ack or minutes > 0
            )
        elif option in ("pin", "ack", "urgent"):
            outcome, changed = await service.change(
                notice.id, user_id, **{option: not getattr(notice, option)}
            )
            if (
                option == "ack"
                and changed is not None
                and changed.ack
                and not changed.remind_minutes
            ):
                outcome, changed = await service.change(notice.id, user_id, remind_minutes=120)
        else:
            await query.answer(tr("This button is no longer valid."))
            return
    elif action == "t":
        await query.answer()
        await _show_targets(context, notice, message)
        return
    elif action == "g":
        chat = (
            int(data.args[2]) if len(data.args) > 2 and data.args[2].lstrip("-").isdigit() else None
        )
        if data.args[2:3] in (["residents"], ["staff"]):
            outcome, changed = await service.change(
                notice.id, user_id, target=data.args[2], chat_ids=[]
            )
        elif chat is not None:
            chosen = set(notice.chat_ids if notice.target == "chosen" else [])
            chosen ^= {chat}
            outcome, changed = await service.change(
                notice.id,
                user_id,
                target="chosen" if chosen else "residents",
                chat_ids=sorted(chosen),
            )
        if changed is not None and outcome is Outcome.OK:
            await query.answer()
            await _show_targets(context, changed, message)
            return
    elif action == "c":
        outcome, changed = await service.confirm(notice.id, user_id)
        if outcome is Outcome.OK:
            await query.answer(tr("Scheduled."))
            answered = True
            await _post_now_if_due(context)
    elif action == "p":
        outcome, changed = await service.pause(notice.id, user_id)
    elif action == "r":
        outcome, changed = await service.resume(notice.id, user_id)
    elif action == "x":
        outcome, changed = await service.cancel(notice.id, user_id)
    elif action == "v":
        await query.answer()
        await show_card(context, notice, chat_id=message.chat.id if message else user_id)
        return
    elif action == "e":
        field = data.args[2] if len(data.args) > 2 else "text"
        await _start_edit(update, context, notice, field)
        return
    else:
        await query.answer(tr("This button is no longer valid."))
        return
    if outcome is Outcome.STALE:
        await query.answer(tr("This notice can no longer be changed."), show_alert=True)
    elif outcome is Outcome.INVALID:
        await query.answer(tr("That does not work here."), show_alert=True)
    elif not answered:
        await query.answer()
    if changed is not None:
        await show_card(
            context, changed, chat_id=message.chat.id if message else user_id, message=message
        )


async def _post_now_if_due(context: LinliContext) -> None:
    """After a confirmation: post what is due at once, instead of at the next tick."""
    now = context.services.clock.now()
    if await context.services.notices.post_due(now):
        context.linli.wake_outbox()


async def _show_targets(context: LinliContext, notice: Notice, message: Message | None) -> None:
    tr = context.tr
    groups = await context.services.notices.groups_of(notice.community_id)
    nid = str(notice.id)
    chosen = set(notice.chat_ids) if notice.target == "chosen" else set()
    mark = lambda on: "☑️" if on else "⬜"  # noqa: E731
    rows = [
        [
            _button(
                f"{mark(notice.target == 'residents')} " + tr("All residents' groups"),
                "g",
                nid,
                "residents",
            ),
            _button(f"{mark(notice.target == 'staff')} " + tr("Staff group"), "g", nid, "staff"),
        ]
    ]
    for chat in groups[:40]:
        rows.append(
            [
                _button(
                    f"{mark(chat.id in chosen)} {chat.title or chat.telegram_id}",
                    "g",
                    nid,
                    str(chat.id),
                )
            ]
        )
    rows.append([_button(tr("✔️ Done"), "v", nid)])
    text = tr("🎯 Where should notice #{id} go? Tap groups to choose them.", id=notice.id)
    if message is not None:
        try:
            await message.edit_text(text, reply_markup=InlineKeyboardMarkup(rows))
        except TelegramError as exc:
            if "not modified" not in str(exc).lower():
                log.warning("notice %s: could not show the groups: %s", notice.id, exc)


async def _acknowledge(update: Update, context: LinliContext, post_id: int) -> None:
    query = update.callback_query
    assert query is not None
    result = await context.services.notices.acknowledge(post_id, query.from_user.id)
    tr = context.tr
    if result.outcome is Outcome.NOT_FOUND:
        await query.answer(tr("This notice no longer asks for confirmation."))
        return
    if result.outcome is Outcome.STALE:
        await query.answer(tr("You have already confirmed. Thank you!"))
        return
    await query.answer(tr("Confirmed that you got it. Thank you!"))
    post, notice = result.post, result.notice
    assert post is not None and notice is not None
    message = query.message if isinstance(query.message, Message) else None
    in_private = message is not None and message.chat.type == "private"
    if in_private and message is not None:
        try:
            await message.edit_reply_markup(None)
        except TelegramError:
            pass
    if not result.edit_now:
        return
    message_id = post.telegram_message_id
    if message is not None and message.chat.id == post.chat_telegram_id:
        message_id = message.message_id
    if message_id is None:
        return
    renderer = context.services.notices.renderer
    assert renderer is not None
    language = await _community_language(context, notice.community_id)
    payload = renderer.post(notice, post, result.count, result.total, language)
    try:
        await context.bot.edit_message_text(
            chat_id=post.chat_telegram_id,
            message_id=message_id,
            text=payload["text"],
            reply_markup=InlineKeyboardMarkup.de_json(payload.get("reply_markup"), context.bot),
            api_kwargs={"entities": payload["entities"]},
        )
    except TelegramError as exc:
        if "not modified" not in str(exc).lower():
            log.warning("notice post %s: could not update the count: %s", post.id, exc)


async def _community_language(context: LinliContext, community_id: int) -> str:
    async with context.linli.db.uow() as uow:
        community = await uow.communities.get(community_id)
    return community.language if community else context.linli.settings.default_language


# --- the dialog ------------------------------------------------------------------------------


class NoticeFlow(Flow):
    """/notice in private: the text, then the time; or editing one of them of a notice."""

    kind = "notice"

    async def prompt(self, turn: Turn) -> None:
        tr = turn.tr
        if turn.step == "text":
            await turn.ask(
                tr(
                    "📢 Send me the text of the notice. Telegram's formatting (bold, links …) is "
                    "kept; at most {limit} characters.",
                    limit=MAX_TEXT,
                )
            )
        else:
            buttons = [] if turn.data.get("edit") else [[(tr("📢 Now"), "now")]]
            await turn.ask(tr("🕘 When should it be posted?") + "\n" + tr(WHEN_EXAMPLES), buttons)

    async def handle(self, turn: Turn, given: Input) -> None:
        tr = turn.tr
        services = turn.context.services
        community_id = int(turn.data["community_id"])
        if turn.step == "text":
            if given.kind != "text" or not given.text.strip():
                await self.nudge(turn, text_expected=True)
                return
            if len(given.text) > MAX_TEXT:
                await turn.say(
                    tr(
                        "The notice is too long: {length} characters, at most {limit}. Shorten it or "
                        "split it into two notices.",
                        length=len(given.text),
                        limit=MAX_TEXT,
                    )
                )
                return
            entities = shift_entities(list(given.entities), 0)
            if turn.data.get("edit"):
                outcome, notice = await services.notices.change(
                    int(turn.data["edit"]), turn.dialog.user_id, text=given.text, entities=entities
                )
                await self._after_edit(turn, outcome, notice)
                return
            turn.data["text"] = given.text
            turn.data["entities"] = entities
            turn.goto("when")
            await self.prompt(turn)
            return
        # the time
        now = services.clock.now()
        zone = await services.notices.zone_of(community_id)
        if given.kind == "button" and given.value == "now" and not turn.data.get("edit"):
            when = When(first=now, recurrence=None, immediate=True)
        elif given.kind == "text":
            try:
                when = parse_when(given.text, now, zone)
            except WhenError as exc:
                reason = WHEN_ERRORS.get(exc.reason, WHEN_ERRORS["unparseable"])
                await turn.say(tr(reason) + "\n" + tr(WHEN_EXAMPLES))
                return
        else:
            await self.nudge(turn, text_expected=True)
            return
        if turn.data.get("edit"):
            outcome, notice = await services.notices.change(
                int(turn.data["edit"]),
                turn.dialog.user_id,
                next_at=when.first,
                recurrence=when.recurrence.to_json() if when.recurrence else None,
            )
            await self._after_edit(turn, outcome, notice)
            return
        draft = NoticeDraft(
            text=turn.data["text"],
            entities=list(turn.data.get("entities", [])),
            first_at=when.first,
            recurrence=when.recurrence,
        )
        notice = await services.notices.draft(community_id, turn.dialog.user_id, draft)
        await turn.finish()
        await show_card(turn.context, notice, chat_id=turn.chat_id)

    async def _after_edit(self, turn: Turn, outcome: Outcome, notice: Notice | None) -> None:
        await turn.finish()
        if outcome is not Outcome.OK or notice is None:
            await turn.say(turn.tr("This notice can no longer be changed."))
            return
        await turn.say(turn.tr("Changed."))
        await show_card(turn.context, notice, chat_id=turn.chat_id)

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("Cancelled. Nothing was posted."))


NOTICE_FLOW = NoticeFlow()


async def _start_edit(update: Update, context: LinliContext, notice: Notice, field: str) -> None:
    query = update.callback_query
    assert query is not None
    user_id = query.from_user.id
    if field not in ("text", "when"):
        await query.answer(context.tr("This button is no longer valid."))
        return
    try:
        await context.bot.send_chat_action(user_id, "typing")  # 403 if we cannot write to them
    except TelegramError:
        await query.answer(
            context.tr("Please start a private chat with me first, then press this again."),
            show_alert=True,
        )
        return
    await query.answer(context.tr("I have written to you in private."))
    await start_dialog(
        context,
        user_id,
        user_id,
        NOTICE_FLOW,
        field,
        {"community_id": notice.community_id, "edit": notice.id},
        notice.community_id,
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /notice, /broadcast, /notices, the notice buttons, the dialog and the ticker job."""
    linli = application.bot_data["linli"]
    Flow.register(NOTICE_FLOW)
    linli.services.notices.renderer = Renderer(linli.catalogs)
    if linli.ticker is not None:
        linli.ticker.add("notices", linli.services.notices.tick)
    application.add_handler(command("notice", notice_command))
    application.add_handler(command("broadcast", broadcast_command))
    application.add_handler(command("notices", notices_command))
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
