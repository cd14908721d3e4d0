"""/mydata and /forgetme: a person sees and deletes what Linli keeps about them."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.deeplinks import DeepLink, link
from bot.i18n import LANGUAGE_NAMES
from handlers.common import command, escape, reply
from handlers.start import ROLE_NAMES, on_deep_link

PREFIX = "forget"


async def _private_only(update: Update, context: LinliContext, action: str) -> bool:
    """In a group, point the person to a private chat instead of showing private data."""
    message = update.message
    if message is None or message.chat.type == "private":
        return False
    url = link(context.bot.username, DeepLink(action))
    button = InlineKeyboardMarkup(
        [[InlineKeyboardButton(context.tr("Open a private chat with me"), url=url)]]
    )
    await reply(
        message,
        context.tr("Your data is private, so I answer this in a private chat."),
        reply_markup=button,
    )
    return True


async def mydata(update: Update, context: LinliContext) -> None:
    """Show the person everything Linli keeps about them."""
    if await _private_only(update, context, "mydata") or update.message is None:
        return
    data = await context.services.privacy.my_data(update.message.from_user.id)  # type: ignore[union-attr]
    tr = context.tr
    if data is None:
        await reply(update.message, tr("I keep nothing about you."))
        return
    none = tr("(none)")
    username = escape("@" + data.username) if data.username else none
    language = LANGUAGE_NAMES.get(data.language or "", tr("automatic"))
    roles = "; ".join(f"{escape(c)} — {tr(ROLE_NAMES[r.value])}" for c, r in data.roles)
    groups = ", ".join(escape(g) for g in data.groups)
    title = tr("What Linli keeps about you")
    lines = [
        f"<b>{title}</b>",
        tr("Telegram id: {value}", value=data.user_id),
        tr("Name: {value}", value=escape(data.name)),
        tr("Username: {value}", value=username),
        tr("Language: {value}", value=language),
        tr("Address: {value}", value=escape(data.address) if data.address else none),
        tr("Phone: {value}", value=escape(data.phone) if data.phone else none),
        tr("Roles: {value}", value=roles or none),
        tr("Groups where I have seen you: {value}", value=groups or none),
    ]
    if data.checkin is not None:
        name, address, phone, at, consent = data.checkin
        lines.append(
            tr(
                "Daily check-in: {name}, every day at {time}; address {address}, phone {phone}; "
                "consent given {consent}",
                name=escape(name),
                time=at,
                address=escape(address or "–"),
                phone=escape(phone or "–"),
                consent=consent,
            )
        )
    if data.contact_of:
        lines.append(
            tr(
                "Daily check-in contact for: {names}",
                names=", ".join(escape(n) for n in data.contact_of),
            )
        )
    lines += [
        tr("Send /forgetme to delete all of this."),
    ]
    await reply(update.message, "\n".join(lines))


async def forgetme(update: Update, context: LinliContext) -> None:
    """Ask the person to confirm deleting their data."""
    if await _private_only(update, context, "forgetme") or update.message is None:
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    context.tr("Yes, delete my data"),
                    callback_data=Callback(PREFIX, ("yes",)).pack(),
                ),
                InlineKeyboardButton(
                    context.tr("Cancel"), callback_data=Callback(PREFIX, ("no",)).pack()
                ),
            ]
        ]
    )
    await reply(
        update.message,
        context.tr(
            "This deletes your name, address, phone, roles and group memberships from Linli. "
            "It cannot be undone. Are you sure?"
        ),
        reply_markup=buttons,
    )


async def confirm(update: Update, context: LinliContext) -> None:
    """Delete, or not, for the person who pressed the button, in their own private chat."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        answer = unpack(query.data).args[0]
    except (CallbackDataError, IndexError):
        answer = ""
    if query.message.chat.id != query.from_user.id or answer not in ("yes", "no"):
        await query.answer(context.tr("This button is no longer valid."))
        return
    if answer == "no":
        await query.answer()
        await query.edit_message_text(context.tr("Nothing was deleted."))
        return
    await context.services.privacy.forget(query.from_user.id)
    await query.answer()
    await query.edit_message_text(
        context.tr(
            "Done: everything Linli kept about you has been deleted. If you write to me again, "
            "I keep only what I need to answer you."
        )
    )


async def _mydata_link(update: Update, context: LinliContext, _link: DeepLink) -> None:
    await mydata(update, context)


async def _forgetme_link(update: Update, context: LinliContext, _link: DeepLink) -> None:
    await forgetme(update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install /mydata, /forgetme and the confirmation buttons."""
    on_deep_link("mydata", _mydata_link)
    on_deep_link("forgetme", _forgetme_link)
    application.add_handler(command("mydata", mydata))
    application.add_handler(command("forgetme", forgetme))
    application.add_handler(CallbackQueryHandler(confirm, pattern=pattern(PREFIX)))
