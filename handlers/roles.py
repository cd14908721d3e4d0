"""/staff and /volunteer: grant or revoke a role, replying to a member or naming them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application

from bot.context import LinliContext
from bot.i18n import N_
from bot.services.roles import RoleChange
from handlers.common import command, escape, person, reply
from handlers.start import ROLE_NAMES
from storage.models import Role

REMOVE_WORDS = {"remove", "revoke", "del", "delete", "-", "取消", "删除", "撤销", "移除"}

MESSAGES = {
    RoleChange.GRANTED: N_("{name} is now {role}."),
    RoleChange.ALREADY: N_("{name} is already {role}."),
    RoleChange.REVOKED: N_("{name} is no longer {role}."),
    RoleChange.NOT_HELD: N_("{name} was not {role}."),
    RoleChange.FORBIDDEN: N_(
        "Only admins can change staff; staff and admins can change volunteers."
    ),
    RoleChange.NO_COMMUNITY: N_(
        "Use this in a registered group of your community, where I know which community you mean."
    ),
    RoleChange.UNKNOWN_USER: N_(
        "I don't know that person yet. Reply to one of their messages, or ask them to write in the group first."
    ),
    RoleChange.AMBIGUOUS: N_(
        "Several people have that name. Reply to one of their messages or use their @username."
    ),
}


def _role_command(role: Role):  # type: ignore[no-untyped-def]
    async def handle(update: Update, context: LinliContext) -> None:
        message = update.message
        if message is None or context.identity is None:
            return
        args = list(context.args or [])
        grant = True
        if args and args[0].lower() in REMOVE_WORDS:
            grant, args = False, args[1:]
        target = message.reply_to_message.from_user if message.reply_to_message else None
        if target is not None and (target.is_bot or target.id == context.bot.id):
            target = None
        if target is None and not args:
            await reply(
                message,
                context.tr(
                    "Reply to a member's message with /{command}, or write /{command} @username "
                    "(add 'remove' to take the role away).",
                    command=role.value,
                ),
            )
            return
        outcome, user = await context.services.roles.change(
            context.identity,
            role,
            grant=grant,
            target=person(target) if target else None,
            target_ref=None if target else " ".join(args),
        )
        name = escape(user.display_name if user else (target.full_name if target else ""))
        await reply(
            message,
            context.tr(MESSAGES[outcome], name=name, role=context.tr(ROLE_NAMES[role.value])),
        )

    return handle


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /staff and /volunteer."""
    application.add_handler(command("staff", _role_command(Role.STAFF)))
    application.add_handler(command("volunteer", _role_command(Role.VOLUNTEER)))
