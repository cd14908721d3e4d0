"""Runs before every feature (group -10): skip repeats, record who wrote where, set identity."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import LinliContext
from bot.metrics import DUPLICATE_UPDATES, UPDATES
from handlers.common import chat_ref, is_impersonal, person, reply

KEEP_UPDATE_IDS = timedelta(days=3)
TRACKING_GROUP = -10  # before everything else, including the dialog router (-5)
log = logging.getLogger(__name__)


async def track(update: Update, context: LinliContext) -> None:
    """Claim the update id, record the sender and chat, and load the sender's identity."""
    user = update.effective_user
    chat = update.effective_chat
    impersonal = is_impersonal(update)
    who = None if impersonal or user is None else person(user)
    fresh, identity = await context.services.people.arrive(
        update.update_id, who, chat_ref(chat) if chat else None
    )
    UPDATES.labels(_kind(update)).inc()
    if not fresh:
        DUPLICATE_UPDATES.inc()
        log.info("update %s was handled before; skipped", update.update_id)
        raise ApplicationHandlerStop
    if identity is not None:
        context.identity = identity
    if impersonal:
        await _answer_impersonal(update, context)


_KINDS = ("message", "edited_message", "callback_query", "my_chat_member", "chat_member")


def _kind(update: Update) -> str:
    """The update's kind for the metrics: message, callback_query, … or other."""
    return next((kind for kind in _KINDS if getattr(update, kind, None) is not None), "other")


async def _answer_impersonal(update: Update, context: LinliContext) -> None:
    """Commands sent as a channel or an anonymous admin cannot be tied to a person."""
    message = update.message
    if message is not None and message.text and message.text.startswith("/"):
        await reply(
            message,
            context.tr(
                "I can't tell who you are when you write as the group or a channel. "
                "Please turn off 'Remain anonymous' or write from your own account."
            ),
        )
    raise ApplicationHandlerStop


def prune_job(db: Any) -> Any:
    """The periodic job forgetting handled update ids after 3 days.

    Telegram redelivers an update for at most a day, and after a quiet week it may start
    numbering afresh, so old ids must not make new updates look handled.
    """

    async def job(now: datetime) -> None:
        async with db.uow() as uow:
            await uow.updates.prune(now - KEEP_UPDATE_IDS)
            await uow.commit()

    return job


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install the tracker ahead of every other handler."""
    application.add_handler(TypeHandler(Update, track), group=TRACKING_GROUP)
    linli = application.bot_data["linli"]
    if linli.ticker is not None:
        linli.ticker.add("processed-updates", prune_job(linli.db))
