"""/start (with deep-link payloads) and /help."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application

from bot.callbacks import small_id
from bot.commands import visible_commands
from bot.context import LinliContext
from bot.deeplinks import DeepLink, decode, link
from bot.i18n import N_
from handlers.common import command, escape, reply

log = logging.getLogger(__name__)

DeepLinkHandler = Callable[[Update, LinliContext, DeepLink], Awaitable[None]]
_deep_links: dict[str, DeepLinkHandler] = {}

ROLE_NAMES = {
    "resident": N_("resident"),
    "volunteer": N_("volunteer"),
    "staff": N_("staff"),
    "admin": N_("admin"),
}


def on_deep_link(action: str, handler: DeepLinkHandler) -> None:
    """Let a feature answer `/start <action>-<arg>` links."""
    _deep_links[action] = handler


async def continue_in_private(
    message: Message, context: LinliContext, action: str, text: str, label: str
) -> None:
    """A command in a group that needs private details: one line and a deep-link button."""
    community_id = context.identity.community_id if context.identity else None
    if community_id is None:
        await reply(message, context.tr("This group is not registered with a community yet."))
        return
    url = link(context.bot.username or "", DeepLink(action, str(community_id)))
    button = InlineKeyboardButton(label, url=url)
    await reply(message, text, reply_markup=InlineKeyboardMarkup([[button]]))


def link_community(deep_link: DeepLink) -> int | None:
    """The community id a feature's deep link carries."""
    return small_id(deep_link.arg)


async def member_of(
    update: Update, context: LinliContext, community_id: int | None, refusal: str
) -> bool:
    """True when the person belongs to the community; else say `refusal` (translated)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return False
    if community_id is None or not await context.services.groups.is_member(user.id, community_id):
        await reply(message, refusal)
        return False
    return True


async def start(update: Update, context: LinliContext) -> None:
    """Greet the person; in private, follow a deep-link payload if one came with it."""
    message = update.message
    if message is None:
        return
    if message.chat.type != "private":
        await reply(message, context.tr("Linli is here. Send /help to see what I can do."))
        return
    if context.args:
        deep_link = decode(context.args[0])
        handler = _deep_links.get(deep_link.action) if deep_link else None
        if deep_link is not None and handler is not None:
            await handler(update, context, deep_link)
            return
        log.info("unknown or malformed deep link %r", context.args[0][:80])
        await reply(message, context.tr("This link is not valid or has expired."))
    await reply(message, welcome_text(update, context))


def welcome_text(update: Update, context: LinliContext) -> str:
    """The private welcome: who Linli is and what this person can do."""
    user = update.effective_user
    name = escape(user.first_name if user else "")
    lines = [
        context.tr("Hello {name}! I am Linli (邻里), your community's assistant.", name=name),
        context.tr(
            "Ask me about fees, rubbish sorting, parking, parcels and more: write your question "
            "here. In the group, mention me or use /ask."
        ),
    ]
    identity = context.identity
    if identity is not None and identity.roles:
        roles = ", ".join(context.tr(ROLE_NAMES[r.value]) for r in sorted(identity.roles, key=str))
        lines.append(context.tr("Your roles: {roles}", roles=roles))
    lines.append(context.tr("Send /help to see every command you can use."))
    return "\n\n".join(lines)


async def help_command(update: Update, context: LinliContext) -> None:
    """List the commands this person may use here, in their language."""
    message = update.message
    if message is None:
        return
    specs = visible_commands(context.identity, message.chat.type)
    title = context.tr("What I can do")
    lines = [f"<b>{title}</b>"]
    lines += [f"/{spec.name} — {escape(context.tr(spec.description))}" for spec in specs]
    await reply(message, "\n".join(lines))


async def _help_link(update: Update, context: LinliContext, _link: DeepLink) -> None:
    await help_command(update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /start and /help."""
    on_deep_link("help", _help_link)
    application.add_handler(command("start", start))
    application.add_handler(command("help", help_command))
