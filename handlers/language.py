"""/language: choose Chinese or English."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import LANGUAGE_NAMES, N_
from handlers.common import command, reply

PREFIX = "lang"
LANGUAGE_SET = N_("Language set to English.")


def keyboard() -> InlineKeyboardMarkup:
    """One button per supported language."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(name, callback_data=Callback(PREFIX, (code,)).pack())
                for code, name in LANGUAGE_NAMES.items()
            ]
        ]
    )


async def language(update: Update, context: LinliContext) -> None:
    """Set the language from the argument, or offer buttons."""
    message = update.message
    if message is None or update.effective_user is None:
        return
    if context.args:
        chosen = await context.services.people.set_language(
            update.effective_user.id, context.args[0]
        )
        if chosen is None:
            await reply(message, context.tr("Please choose a language:"), reply_markup=keyboard())
            return
        await reply(message, context.translator(chosen)(LANGUAGE_SET))
        return
    await reply(message, context.tr("Please choose a language:"), reply_markup=keyboard())


async def chosen(update: Update, context: LinliContext) -> None:
    """A language button was pressed: it changes the presser's own language only."""
    query = update.callback_query
    if query is None:
        return
    try:
        code = unpack(query.data).args[0]
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    result = await context.services.people.set_language(query.from_user.id, code)
    if result is None:
        await query.answer(context.tr("This button is no longer valid."))
        return
    await query.answer(context.translator(result)(LANGUAGE_SET))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /language and its buttons."""
    application.add_handler(command("language", language))
    application.add_handler(CallbackQueryHandler(chosen, pattern=pattern(PREFIX)))
