"""Answering residents from the knowledge base: in groups, when addressed, and with /ask.

A group message is matched quietly (passive): Linli replies only when it is confident the
message asks what an entry answers. A private message, an @mention, a reply to Linli or
/ask is addressed: Linli always responds — the answer, two or three close questions as
buttons, or an honest "I don't know yet" with the question passed to the staff group, where
one tap and a reply turn it into a new entry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import Translate
from bot.services.faq import FaqReply, Gap, GapOutcome, Mode, answers_passively
from handlers import repair
from handlers.common import command, escape, person, reply
from knowledge import Decision, Entry

log = logging.getLogger(__name__)

PREFIX = "faq"
VOTE, SUGGESTION, NONE_OF_THESE, ADD_GAP = "v", "s", "n", "g"
GAP_MARK = re.compile(r"#Q(\d{1,12})\b")
SHORT_REMARK = 6  # an addressed remark this short that asks nothing is chit-chat, not a gap


def _addressed_text(message: Message, bot_id: int, bot_username: str) -> tuple[bool, str]:
    """Whether a group message is addressed to Linli, and its text without the @mention."""
    text = message.text or ""
    replied = message.reply_to_message
    addressed = (
        replied is not None and replied.from_user is not None and replied.from_user.id == bot_id
    )
    mention = f"@{bot_username}".lower()
    for entity, value in message.parse_entities([MessageEntity.MENTION]).items():
        if value.lower() == mention:
            addressed = True
            text = text.replace(value, " ", 1) if entity else text
    return addressed, text.strip()


def _meaningful(text: str) -> bool:
    """True when the text has at least one letter, digit or CJK character."""
    return any(ch.isalnum() for ch in text)


def _question_for(entry: Entry, language: str) -> str:
    """The entry's first phrasing in the reader's script (English for English readers)."""
    english = language.lower().startswith("en")
    for question in entry.questions:
        if question.isascii() == english:
            return question
    return entry.questions[0]


def answer_text(entry: Entry, language: str) -> str:
    """An entry's answer in the reader's language, with its links, as HTML."""
    parts = [escape(entry.answer_for(language))]
    links = [
        f'🔗 <a href="{escape(link.url)}">{escape(link.title or link.url)}</a>'
        for link in entry.links
    ]
    if links:
        parts.append("\n".join(links))
    return "\n\n".join(parts)


def vote_keyboard(
    tr: Translate,
    query_id: int,
    totals: tuple[int, int] | None = None,
    more: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    """👍/👎 under an answer, with the entry's totals once someone has voted; `more` rows below."""
    if totals is None:
        up, down = "👍 " + tr("Helpful"), "👎 " + tr("Not helpful")
    else:
        up, down = f"👍 {totals[0]}", f"👎 {totals[1]}"
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    up, callback_data=Callback(PREFIX, (VOTE, str(query_id), "1")).pack()
                ),
                InlineKeyboardButton(
                    down, callback_data=Callback(PREFIX, (VOTE, str(query_id), "0")).pack()
                ),
            ],
            *more,
        ]
    )


def _more_buttons(
    context: LinliContext, entry: Entry, private: bool
) -> list[list[InlineKeyboardButton]]:
    """The 🔧 repair button under an answer about repairs (handlers/repair.REPAIR_TAGS)."""
    button = repair.repair_button(context, private) if repair.about_repairs(entry.tags) else None
    return [[button]] if button is not None else []


async def on_text(update: Update, context: LinliContext) -> None:
    """A text message that is not a command: maybe a question for the knowledge base."""
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot or not message.text:
        return
    if message.chat.type == "private":
        await _respond(message, context, message.text, Mode.ADDRESSED)
        return
    if await _gap_answer(message, context):
        return
    addressed, text = _addressed_text(message, context.bot.id, context.bot.username or "")
    await _respond(message, context, text, Mode.ADDRESSED if addressed else Mode.PASSIVE)


async def ask(update: Update, context: LinliContext) -> None:
    """/ask <question>: always answered, like a private message."""
    message = update.message
    if message is None or message.from_user is None or not message.text:
        return
    question = message.text.partition(" ")[2].strip()
    if not question and message.reply_to_message is not None:
        question = (message.reply_to_message.text or message.reply_to_message.caption or "").strip()
    if not _meaningful(question):
        await reply(
            message, context.tr("Write your question after /ask, for example: /ask 物业费在哪交")
        )
        return
    await _respond(message, context, question, Mode.ADDRESSED)


async def _respond(message: Message, context: LinliContext, text: str, mode: Mode) -> None:
    assert message.from_user is not None
    faq = context.services.faq
    if mode is Mode.ADDRESSED and not _meaningful(text):
        await reply(
            message, context.tr("Please write your question in words, for example: 物业费在哪交？")
        )
        return
    answer = await faq.consider(
        message.chat.id,
        message.from_user.id,
        text,
        mode,
        message_id=message.message_id,
        place=_place(context),
    )
    if answer.decision is Decision.ANSWER and answer.entry is not None:
        await _send_answer(message, context, answer)
    elif answer.decision is Decision.SUGGEST and answer.suggestions:
        await _send_suggestions(message, context, answer)
    elif mode is Mode.ADDRESSED and answer.query_id is not None:
        if not answer.asks and len(text.strip()) <= SHORT_REMARK:
            await reply(
                message,
                context.tr(
                    "I answer questions about our community. Just ask me, for example: 物业费在哪交？"
                ),
            )
            return
        await _report_unanswered(message, context, answer.query_id, text)


def _place(context: LinliContext) -> tuple[int | None, bool] | None:
    """The group's community and whether it answers passively, from the identity the
    tracker resolved for this update; None when that did not come from a registered group."""
    identity = context.identity
    if identity is None or identity.chat_active is None:
        return None
    return identity.community_id, answers_passively(identity.chat_kind, identity.chat_active)


def photo_of(entry: Entry) -> str | Path | None:
    """The entry's photo: a local file (relative to its YAML file), else a URL or file_id."""
    if not entry.photo:
        return None
    is_url = entry.photo.startswith(("http://", "https://"))
    looks_like_file_id = "/" not in entry.photo and "." not in entry.photo
    if is_url or looks_like_file_id:
        return entry.photo
    path = Path(entry.photo)
    if not path.is_absolute() and entry.source:
        path = Path(entry.source).parent / path
    return path if path.is_file() else None


async def _send_photo(message: Message, entry: Entry) -> None:
    """The entry's photo before its answer; a photo Telegram refuses is logged, not fatal."""
    photo = photo_of(entry)
    if photo is None:
        if entry.photo:
            log.warning("entry %s: photo %r not found", entry.id, entry.photo)
        return
    try:
        if isinstance(photo, Path):
            with photo.open("rb") as fh:
                await message.reply_photo(fh, do_quote=message.chat.type != "private")
        else:
            await message.reply_photo(photo, do_quote=message.chat.type != "private")
    except (TelegramError, OSError) as exc:
        log.warning("entry %s: could not send its photo: %s", entry.id, exc)


async def _send_answer(message: Message, context: LinliContext, answer: FaqReply) -> None:
    assert answer.entry is not None and answer.query_id is not None
    await _send_photo(message, answer.entry)
    await reply(
        message,
        answer_text(answer.entry, context.language),
        reply_markup=vote_keyboard(
            context.tr,
            answer.query_id,
            more=_more_buttons(context, answer.entry, message.chat.type == "private"),
        ),
        link_preview_options=None,
    )


async def _send_suggestions(message: Message, context: LinliContext, answer: FaqReply) -> None:
    assert answer.query_id is not None
    rows = [
        [
            InlineKeyboardButton(
                _question_for(entry, context.language)[:60],
                callback_data=Callback(PREFIX, (SUGGESTION, str(answer.query_id), str(i))).pack(),
            )
        ]
        for i, entry in enumerate(answer.suggestions)
    ]
    rows.append(
        [
            InlineKeyboardButton(
                context.tr("None of these"),
                callback_data=Callback(PREFIX, (NONE_OF_THESE, str(answer.query_id))).pack(),
            )
        ]
    )
    await reply(
        message,
        context.tr("I am not sure I understood. Did you mean one of these?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _report_unanswered(
    message: Message, context: LinliContext, query_id: int, text: str
) -> None:
    """Say honestly that Linli does not know, and pass the question to the staff."""
    assert message.from_user is not None
    gap = await context.services.faq.unanswered(query_id, message.from_user.id)
    forwarded = gap is not None and await _forward_gap(
        context, gap, message.from_user.full_name, message.chat.title
    )
    await reply(message, _unanswered_note(context.tr, forwarded))


def _unanswered_note(tr: Translate, forwarded: bool) -> str:
    if forwarded:
        return tr("I don't know the answer yet. I have passed your question to the staff.")
    return tr("I don't know the answer yet. I have noted your question for the staff.")


async def _forward_gap(context: LinliContext, gap: Gap, who: str, chat_title: str | None) -> bool:
    """Queue a card in each staff group of the community; False when there is none."""
    if not gap.staff_chats:
        return False
    tr = context.translator(gap.language)
    text = "\n".join(
        [
            tr("❓ A question I could not answer"),
            f"<b>{escape(gap.text)}</b>",
            tr(
                "Asked by {name} in {chat}",
                name=escape(who),
                chat=escape(chat_title or tr("a private chat")),
            ),
        ]
    )
    button = InlineKeyboardButton(
        tr("➕ Add as FAQ"), callback_data=Callback(PREFIX, (ADD_GAP, str(gap.query_id))).pack()
    )
    payload = {
        "text": text,
        "parse_mode": "HTML",
        "reply_markup": InlineKeyboardMarkup([[button]]).to_dict(),
    }
    await context.services.faq.forward_gap(gap, dict.fromkeys(gap.staff_chats, payload))
    context.linli.wake_outbox()
    return True


async def pressed(update: Update, context: LinliContext) -> None:
    """👍/👎, a suggestion, 'none of these', or 'add as FAQ'."""
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        action, query_id = data.args[0], data.int_arg(1)
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    if action == VOTE:
        await _vote(update, context, query_id, data.args[2:3] == ("1",))
    elif action == SUGGESTION:
        await _suggestion(update, context, query_id, data)
    elif action == NONE_OF_THESE:
        await _none_of_these(update, context, query_id)
    elif action == ADD_GAP:
        await _ask_for_answer(update, context, query_id)
    else:
        await query.answer(context.tr("This button is no longer valid."))


async def _vote(update: Update, context: LinliContext, query_id: int, up: bool) -> None:
    query = update.callback_query
    assert query is not None
    totals = await context.services.faq.vote(query_id, query.from_user.id, up)
    if totals is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    await query.answer(context.tr("Thank you for your feedback!"))
    try:
        rows = (
            query.message.reply_markup.inline_keyboard
            if isinstance(query.message, Message) and query.message.reply_markup
            else ()
        )
        await query.edit_message_reply_markup(
            vote_keyboard(context.tr, query_id, totals, more=rows[1:])
        )
    except Exception as exc:  # "message is not modified" when the totals did not change
        log.debug("vote buttons not updated: %s", exc)


async def _suggestion(update: Update, context: LinliContext, query_id: int, data: Callback) -> None:
    query = update.callback_query
    assert query is not None
    try:
        index = data.int_arg(2)
    except CallbackDataError:
        index = -1
    entry = await context.services.faq.suggestion(query_id, index, query.from_user.id)
    if entry is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    await query.answer()
    await query.edit_message_text(
        f"<b>{escape(_question_for(entry, context.language))}</b>\n\n"
        + answer_text(entry, context.language),
        parse_mode="HTML",
        reply_markup=vote_keyboard(
            context.tr,
            query_id,
            more=_more_buttons(
                context, entry, bool(query.message and query.message.chat.type == "private")
            ),
        ),
    )


async def _none_of_these(update: Update, context: LinliContext, query_id: int) -> None:
    query = update.callback_query
    assert query is not None
    gap = await context.services.faq.unanswered(query_id, query.from_user.id)
    if gap is None:
        await query.answer(context.tr("Only the person who asked can choose."), show_alert=True)
        return
    await query.answer()
    chat_title = query.message.chat.title if query.message else None
    forwarded = await _forward_gap(context, gap, query.from_user.full_name, chat_title)
    await query.edit_message_text(_unanswered_note(context.tr, forwarded))


async def _ask_for_answer(update: Update, context: LinliContext, query_id: int) -> None:
    """Staff tapped 'Add as FAQ': ask them to reply with the answer."""
    query = update.callback_query
    assert query is not None
    gap = await context.services.faq.gap(query_id)
    if gap is None or gap.community_id is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    who = person(query.from_user)
    chat_id = query.message.chat.id if query.message else who.id
    if await context.services.faq.staff_community(who, chat_id) != gap.community_id:
        await query.answer(context.tr("Only staff can add to the knowledge base."), show_alert=True)
        return
    await query.answer()
    await context.bot.send_message(
        chat_id,
        context.tr("Reply to this message with the answer to:")
        + f"\n<b>{escape(gap.text)}</b>\n#Q{gap.id}",
        parse_mode="HTML",
        reply_markup=ForceReply(selective=True, input_field_placeholder=context.tr("The answer")),
    )


async def _gap_answer(message: Message, context: LinliContext) -> bool:
    """A staff reply to 'Reply to this message with the answer': add the entry."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return False
    found = GAP_MARK.search(replied.text or "")
    if found is None or message.from_user is None:
        return False
    result = await context.services.faq.answer_gap(
        int(found.group(1)), person(message.from_user), message.text or ""
    )
    if result.outcome is GapOutcome.NOT_STAFF:
        await reply(message, context.tr("Only staff can add to the knowledge base."))
    elif result.outcome is GapOutcome.NOT_FOUND:
        await reply(message, context.tr("This question is no longer in the log."))
    elif result.outcome is GapOutcome.INVALID:
        await reply(
            message,
            context.tr("I could not save it:") + "\n" + escape("\n".join(result.problems[:5])),
        )
    elif result.entry is not None:
        await reply(
            message,
            context.tr(
                "Added to the knowledge base as {id}. I will answer it from now on.",
                id=result.entry.id,
            ),
        )
        await _tell_asker(context, result.entry, result.chat_id, result.message_id, result.asker_id)
    return True


async def _tell_asker(
    context: LinliContext,
    entry: Entry,
    chat_id: int | None,
    message_id: int | None,
    asker_id: int | None,
) -> None:
    """Send the new answer where the question was asked, replying to it."""
    if chat_id is None:
        return
    if asker_id is not None:
        language = await context.services.people.language_of(asker_id)
    else:
        language = context.linli.settings.default_language
    tr = context.translator(language)
    payload: dict[str, object] = {
        "text": tr("The staff have answered your question:")
        + "\n\n"
        + answer_text(entry, language),
        "parse_mode": "HTML",
    }
    if message_id is not None:
        payload["reply_parameters"] = {
            "message_id": message_id,
            "allow_sending_without_reply": True,
        }
    await context.services.faq.notify(
        f"faq-answered:{entry.id}:{chat_id}:{message_id}", chat_id, payload
    )
    context.linli.wake_outbox()


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /ask, the question matcher and the FAQ buttons."""
    application.add_handler(command("ask", ask))
    application.add_handler(CallbackQueryHandler(pressed, pattern=pattern(PREFIX)))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, on_text)
    )
