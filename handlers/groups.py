"""Group life: the bot added or removed, members coming and going, upgrades, /setup."""

from __future__ import annotations

import logging

from telegram import ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import N_
from bot.services.groups import GROUP_KINDS, SetupOutcome
from handlers.common import chat_ref, command, escape, person, reply
from storage.models import ChatKind

log = logging.getLogger(__name__)
PREFIX = "setup"
KIND_CODES = {"r": ChatKind.RESIDENTS, "s": ChatKind.STAFF, "v": ChatKind.VOLUNTEERS}
KIND_NAMES = {
    ChatKind.RESIDENTS: N_("residents' group"),
    ChatKind.STAFF: N_("staff group"),
    ChatKind.VOLUNTEERS: N_("volunteers' group"),
}
PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


async def my_chat_member(update: Update, context: LinliContext) -> None:
    """The bot's own membership changed: greet a new group, or mark a removed one inactive."""
    change = update.my_chat_member
    if change is None or change.chat.type == "private":
        if change is not None:
            blocked = change.new_chat_member.status == ChatMember.BANNED
            await context.services.people.mark_private_chat(
                change.from_user.id, open_=not blocked, blocked=blocked
            )
        return
    was_in = change.old_chat_member.status in PRESENT
    is_in = change.new_chat_member.status in PRESENT
    if is_in and not was_in:
        await context.services.groups.bot_joined(chat_ref(change.chat))
        await context.bot.send_message(
            change.chat.id,
            context.tr(
                "Hello everyone, I am Linli (邻里), the community assistant. "
                "A staff member can send /setup to register this group."
            ),
        )
    elif was_in and not is_in:
        await context.services.groups.bot_left(change.chat.id)


async def members_joined(update: Update, context: LinliContext) -> None:
    """New members in a group go on its roster."""
    message = update.message
    if message is None or not message.new_chat_members:
        return
    people = [person(u) for u in message.new_chat_members if u.id != context.bot.id]
    if people:
        await context.services.groups.members_joined(chat_ref(message.chat), people)


async def member_left(update: Update, context: LinliContext) -> None:
    """A member who left is taken off the roster."""
    message = update.message
    if message is None or message.left_chat_member is None:
        return
    if message.left_chat_member.id == context.bot.id:
        await context.services.groups.bot_left(message.chat.id)
    else:
        await context.services.groups.member_left(message.chat.id, message.left_chat_member.id)


async def migrated(update: Update, context: LinliContext) -> None:
    """A group became a supergroup: keep its record under the new id."""
    message = update.message
    if message is None:
        return
    if message.migrate_to_chat_id:
        await context.services.groups.migrate(message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await context.services.groups.migrate(message.migrate_from_chat_id, message.chat.id)


async def setup(update: Update, context: LinliContext) -> None:
    """Register this group: choose the community (if several), then the kind of group."""
    message = update.message
    if message is None or message.from_user is None:
        return
    if message.chat.type == "private":
        await reply(message, context.tr("Send /setup inside the group you want to register."))
        return
    who = person(message.from_user)
    communities = await context.services.groups.setup_choices(who, message.chat.id)
    if not communities and context.args and context.services.roles.is_global_admin(who.id):
        created = await context.services.groups.create_community(who, " ".join(context.args))
        communities = [created] if created else []
    if not communities:
        if context.services.roles.is_global_admin(who.id):
            text = context.tr(
                "No community exists yet. Send /setup <community name> to create one."
            )
        else:
            text = context.tr("Only staff or admins of a community can register a group.")
        await reply(message, text)
        return
    if len(communities) == 1:
        await _ask_kind(update, context, communities[0].id, communities[0].name)
        return
    rows = [
        [InlineKeyboardButton(c.name, callback_data=Callback(PREFIX, ("c", str(c.id))).pack())]
        for c in communities
    ]
    await reply(
        message,
        context.tr("Which community is this group part of?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _ask_kind(update: Update, context: LinliContext, community_id: int, name: str) -> None:
    rows = [
        [
            InlineKeyboardButton(
                context.tr(KIND_NAMES[kind]),
                callback_data=Callback(PREFIX, ("k", str(community_id), code)).pack(),
            )
        ]
        for code, kind in KIND_CODES.items()
    ]
    text = context.tr("What is this group for in {community}?", community=escape(name))
    if update.callback_query is not None:
        await update.callback_query.edit_message_text(text, reply_markup=InlineKeyboardMarkup(rows))
    elif update.message is not None:
        await reply(update.message, text, reply_markup=InlineKeyboardMarkup(rows))


async def setup_pressed(update: Update, context: LinliContext) -> None:
    """A /setup button: the presser's rights are checked again from the database."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        data = unpack(query.data)
        step, community_id = data.args[0], data.int_arg(1)
        kind = KIND_CODES[data.args[2]] if step == "k" else None
    except (CallbackDataError, IndexError, KeyError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    who = person(query.from_user)
    allowed = {
        c.id: c for c in await context.services.groups.setup_choices(who, query.message.chat.id)
    }
    if community_id not in allowed:
        await query.answer(
            context.tr("Only staff or admins of a community can register a group."), show_alert=True
        )
        return
    if kind is None:
        await query.answer()
        await _ask_kind(update, context, community_id, allowed[community_id].name)
        return
    result = await context.services.groups.register(
        who, chat_ref(query.message.chat), community_id, kind
    )
    if result.outcome is not SetupOutcome.REGISTERED or result.community is None:
        await query.answer(context.tr("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        context.tr(
            "This group is now the {kind} of {community}.",
            kind=context.tr(KIND_NAMES[kind]),
            community=escape(result.community.name),
        )
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install the group-life handlers and /setup."""
    assert set(KIND_CODES.values()) == set(GROUP_KINDS)
    application.add_handler(ChatMemberHandler(my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, members_joined))
    application.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, member_left))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    application.add_handler(
        command("setup", setup, filters.ChatType.GROUPS | filters.ChatType.PRIVATE)
    )
    application.add_handler(CallbackQueryHandler(setup_pressed, pattern=pattern(PREFIX)))
