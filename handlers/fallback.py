"""What is left after every feature: unknown commands and the error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.commands import known_command
from bot.context import LinliContext
from handlers.common import reply

log = logging.getLogger(__name__)


async def unknown_command(update: Update, context: LinliContext) -> None:
    """Say so in private or when addressed to Linli; stay quiet about other bots' commands."""
    message = update.message
    if message is None or not message.text:
        return
    word = message.text.split()[0][1:]
    name, _, target = word.partition("@")
    if target and target.lower() != (context.bot.username or "").lower():
        return
    if message.chat.type != "private" and not target:
        return
    if known_command(name.lower()):
        return
    await reply(message, context.tr("I don't know that command. Send /help to see what I can do."))


async def on_error(update: object, context: LinliContext) -> None:
    """Log every unhandled error once, with its traceback; tell the person politely."""
    error = context.error
    if isinstance(error, (RetryAfter, TimedOut, NetworkError)) and not isinstance(error, Forbidden):
        log.warning("Telegram network trouble: %s", error)
        return
    if isinstance(error, Forbidden):
        log.info("a chat refused a message: %s", error.message)
        return
    log.error("unhandled error while processing an update", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        message = update.effective_message
        if message.chat.type == "private" or update.callback_query is None:
            try:
                await reply(
                    message,
                    context.tr("Sorry, something went wrong on my side. Please try again later."),
                )
            except Exception:  # noqa: BLE001 - never let the error handler fail
                log.exception("could not tell the user about an error")
    if isinstance(update, Update) and update.callback_query is not None:
        try:
            await update.callback_query.answer(
                context.tr("Sorry, something went wrong on my side. Please try again later.")
            )
        except Exception:  # noqa: BLE001
            log.debug("could not answer the callback query after an error")


async def stale_button(update: Update, context: LinliContext) -> None:
    """A button no feature recognises (old, forged or from a removed feature)."""
    if update.callback_query is not None:
        log.info("unrecognised callback data %r", (update.callback_query.data or "")[:64])
        await update.callback_query.answer(context.tr("This button is no longer valid."))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install the catch-alls; call last, so they only see what no feature took."""
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, unknown_command)
    )
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_error_handler(on_error)  # type: ignore[arg-type]
