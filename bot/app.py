"""The composition root: builds the python-telegram-bot Application and wires every feature."""

from __future__ import annotations

from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.context import APP_KEY, Linli, LinliContext
from bot.ordering import PerPersonProcessor
from bot.reading import LinliBot, make_bot
from handlers import (
    care,
    dashboard,
    dialogs,
    errand,
    fallback,
    faq,
    faq_admin,
    groups,
    language,
    notice,
    privacy,
    repair,
    roles,
    signup,
    start,
    tracking,
)

# Order matters within a handler group: features first, catch-alls (fallback) last.
FEATURES = (
    tracking,
    dialogs,
    start,
    language,
    privacy,
    groups,
    roles,
    repair,
    errand,
    notice,
    care,
    dashboard,
    signup,
    faq_admin,
    faq,
    fallback,
)


def build_application(
    linli: Linli,
    *,
    token: str,
    base_url: str,
    base_file_url: str,
    with_updater: bool = True,
    concurrent_updates: int = 1,
) -> Application:  # type: ignore[type-arg]
    """Build the Application for polling (with an updater) or a webhook (without)."""
    builder = (
        ApplicationBuilder()
        .bot(make_bot(token, base_url, base_file_url))  # reads updates one by one if need be
        .context_types(ContextTypes(context=LinliContext))
    )
    if not with_updater:
        builder = builder.updater(None)
    if concurrent_updates > 1:
        builder = builder.concurrent_updates(PerPersonProcessor(concurrent_updates))
    application = builder.build()
    if isinstance(application.bot, LinliBot):
        application.bot.fetch_after(application.update_queue.join)
    application.bot_data[APP_KEY] = linli
    for feature in FEATURES:
        feature.register(application)
    return application
