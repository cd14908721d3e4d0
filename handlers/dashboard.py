"""/dashboard: a single-use link to the staff dashboard, in a private chat, valid 10 minutes."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.ext import Application

from bot.context import LinliContext
from handlers.common import command, escape, reply


async def dashboard_command(update: Update, context: LinliContext) -> None:
    """Send staff a login link (private chats only: the link is as good as a password)."""
    message = update.message
    if message is None or message.from_user is None:
        return
    tr = context.tr
    if message.chat.type != "private":
        await reply(
            message, tr("Send /dashboard to me in a private chat: the link is only for you.")
        )
        return
    token = await context.services.dashboard.issue_link(message.from_user.id)
    if token is None:
        await reply(message, tr("The dashboard is for committee staff."))
        return
    url = f"{context.linli.web_url or ''}/dashboard/login?token={token}"
    text = tr(
        "🖥 Your dashboard link (works once, for 10 minutes; do not forward it):\n{url}",
        url=escape(url),
    )
    markup = None
    if url.startswith("https://"):  # Telegram accepts only public addresses on buttons
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(tr("Open the dashboard"), url=url)]])
    await reply(
        message,
        text,
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /dashboard."""
    application.add_handler(command("dashboard", dashboard_command))
