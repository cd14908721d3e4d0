"""Small helpers every handler module shares: converting Telegram objects, replying."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram import User as TgUser
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import CommandHandler, filters

from bot.services.types import ChatRef, Person

log = logging.getLogger(__name__)

ANONYMOUS_ADMIN_ID = 1087968824  # GroupAnonymousBot
TELEGRAM_SERVICE_ID = 777000  # channel posts forwarded into a discussion group


def person(user: TgUser) -> Person:
    """A service-layer Person from a Telegram User."""
    return Person(
        id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def chat_ref(chat: Chat) -> ChatRef:
    """A service-layer ChatRef from a Telegram Chat."""
    return ChatRef(id=chat.id, type=chat.type, title=chat.title)


def is_impersonal(update: Update) -> bool:
    """True for channel posts and messages sent as a chat (anonymous admins, channels)."""
    message = update.effective_message
    if update.channel_post or update.edited_channel_post:
        return True
    if message is not None and message.sender_chat is not None:
        return True
    user = update.effective_user
    return user is not None and user.id in (ANONYMOUS_ADMIN_ID, TELEGRAM_SERVICE_ID)


def escape(text: str | None) -> str:
    """Escape user text for an HTML message."""
    return html.escape(text or "", quote=False)


async def reply(message: Message, text: str, **kwargs: object) -> Message | None:
    """Reply in HTML; a chat that refuses the message is logged, not raised."""
    try:
        # In a group the answer quotes the message, and still arrives if it was deleted meanwhile.
        kwargs.setdefault("allow_sending_without_reply", True)
        return await message.reply_html(text, do_quote=message.chat.type != "private", **kwargs)
    except Forbidden as exc:
        log.warning("cannot write to chat %s: %s", message.chat_id, exc.message)
    except BadRequest as exc:
        log.error("Telegram refused a reply in chat %s: %s", message.chat_id, exc.message)
    return None


PARSE_MODE = ParseMode.HTML


# A Chinese mobile (138 1234 5678 too) or a landline (0571-88886666).
PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d(?:[ -]?\d{4}){2}|0\d{2,3}-?\d{7,8})(?!\d)")


def hide_phones(text: str) -> str:
    """Phone numbers in free text masked but for their first three digits (138********), for
    what a group reads: people write their number wherever they type."""
    return PHONE.sub(lambda m: m.group(0)[:3] + re.sub(r"\d", "*", m.group(0)[3:]), text)


def command(
    names: str | list[str], callback: object, extra: filters.BaseFilter | None = None
) -> CommandHandler:  # type: ignore[type-arg]
    """A CommandHandler for new messages only: an edited command does not run again."""
    flt = filters.UpdateType.MESSAGE if extra is None else filters.UpdateType.MESSAGE & extra
    return CommandHandler(names, callback, filters=flt)  # type: ignore[arg-type]


def html_payload(text: str, markup: InlineKeyboardMarkup | None) -> dict[str, Any]:
    """An HTML sendMessage payload for the outbox."""
    payload: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
    if markup is not None:
        payload["reply_markup"] = markup.to_dict()
    return payload
