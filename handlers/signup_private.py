"""Sign-ups in private: the room and phone an activity asks for, and the organiser's thanks.

An activity created with 登记房号 / 登记电话 asks each person who joins for their building and
room and their phone — in a private chat, never in the group (the list shows the building
only). Someone who has not opened a private chat with Linli gets a link that opens it. The
remembered address and phone (from a repair request, say) are offered as one-tap buttons.

Afterwards the organiser (or staff) presses "🙏 Thanks" under /signups and writes a few words,
with a photo if they like; Linli posts it in the activity's group, once, as a reply to the
list, through the outbox.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.callbacks import small_id
from bot.context import LinliContext
from bot.deeplinks import DeepLink, link
from bot.i18n import N_
from handlers.common import escape, reply
from handlers.dialogs import Flow, Input, Turn, start_dialog
from handlers.repair import ask_phone, parse_address, phone_answer
from handlers.start import on_deep_link
from storage.models import Activity, Signup

DETAILS_LINK, THANKS_LINK = "sud", "sut"
MAX_THANKS = 900  # a photo's caption holds 1,024 characters, the heading included
THANKS_REFUSALS = {
    "not_found": N_("This activity no longer exists."),
    "forbidden": N_("Only the organiser or committee staff can do that."),
    "too_early": N_("Thanks can be posted once the activity has started."),
    "no_group": N_("The activity's group is gone, so there is nowhere to post the thanks."),
    "already": N_("The thanks for this activity have been posted already."),
}


# --- the room and phone -----------------------------------------------------------------------


class DetailsFlow(Flow):
    """Building and room, then phone, for one sign-up (each only if the activity asks for it)."""

    kind = "signup_details"

    async def prompt(self, turn: Turn) -> None:
        tr, data = turn.tr, turn.data
        title, name = escape(data["title"]), escape(data.get("name") or "")
        if turn.step == "room":
            question = (
                tr(
                    "«{title}» asks for {name}'s building and room. Write it like 3-1-302.",
                    title=title,
                    name=name,
                )
                if data.get("name")
                else tr(
                    "«{title}» asks for your building and room. Write it like 3-1-302.",
                    title=title,
                )
            )
            options = []
            if data.get("known_room") and not data.get("name"):
                options.append([(tr("🏠 {room} (as last time)", room=data["known_room"]), "known")])
            await turn.ask(question, options, back=False)
        else:
            await ask_phone(
                turn,
                tr("«{title}»: which phone number can the organiser call?", title=title),
            )

    async def handle(self, turn: Turn, given: Input) -> None:
        data = turn.data
        if turn.step == "room":
            if given.kind == "button" and given.value == "known" and data.get("known_room"):
                data["room"] = data["known_room"]
            elif given.kind == "text" and parse_address(given.text):
                data["room"] = "-".join(parse_address(given.text) or ())
            else:
                await turn.say(
                    turn.tr(
                        "I could not read that. Please write it like 3-1-302 (building-unit-room)."
                    )
                )
                await self.prompt(turn)
                return
            if data.get("ask_phone"):
                turn.goto("phone")
                await self.prompt(turn)
                return
        elif not await phone_answer(turn, given):
            return
        await self._save(turn)

    async def _save(self, turn: Turn) -> None:
        data = turn.data
        if not await turn.finish():
            return
        room = data.get("room")
        flat = parse_address(room) if room else None
        saved = await turn.context.services.activities.set_details(
            data["signup_id"], turn.dialog.user_id, flat=flat, phone=data.get("phone")
        )
        if saved is None:
            await turn.say(turn.tr("That sign-up no longer exists."))
            return
        await turn.say(turn.tr("Thank you, noted for «{title}».", title=escape(data["title"])))
        if flat is not None:  # the list shows the building
            from handlers.signup import show_list

            await show_list(turn.context.linli, turn.context.bot, saved.activity_id)

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(
            turn.tr("OK. You stay on the list; the organiser may ask you for the details later.")
        )


DETAILS = DetailsFlow()


async def ask_details(
    context: LinliContext, activity: Activity, signup: Signup, user_id: int
) -> tuple[str, str | None] | None:
    """Ask in private for what the activity wants to know; None if nothing is needed.

    Returns a line for the person in the group and, when they have no private chat with
    Linli yet (a bot cannot write first), the t.me link that opens one and asks there.
    """
    if not context.services.activities.wants_details(activity, signup):
        return None
    if not await _has_private_chat(context, user_id):
        url = link(context.bot.username or "", DeepLink(DETAILS_LINK, str(signup.id)))
        return context.tr("Please open the private chat to give your building, room or phone."), url
    await _start_details(context, user_id, user_id, activity, signup)
    return context.tr("I have written to you in private for your building, room or phone."), None


def link_markup(label: str, url: str) -> InlineKeyboardMarkup:
    """One button that opens a t.me link."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=url)]])


async def _has_private_chat(context: LinliContext, user_id: int) -> bool:
    async with context.linli.db.uow() as uow:
        user = await uow.users.get(user_id)
    return bool(user and user.private_chat_open and not user.blocked_bot)


async def _start_details(
    context: LinliContext, user_id: int, chat_id: int, activity: Activity, signup: Signup
) -> None:
    data: dict[str, Any] = {
        "signup_id": signup.id,
        "title": activity.title,
        "ask_phone": activity.ask_phone and not signup.phone,
    }
    if signup.user_id is None:
        data["name"] = signup.name  # signed up on someone's behalf: their details
    known = await context.services.people.contact(user_id)
    if known.building and known.unit and known.room:
        data["known_room"] = f"{known.building}-{known.unit}-{known.room}"
    if known.phone and signup.user_id is not None:
        data["known_phone"] = known.phone
    step = "room" if activity.ask_room and not signup.room else "phone"
    await start_dialog(context, user_id, chat_id, DETAILS, step, data, activity.community_id)


async def _details_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    signup_id = small_id(deep_link.arg)
    found = await context.services.activities.signup(signup_id) if signup_id else None
    if found is None or user.id not in (found[1].user_id, found[1].by_user_id):
        await reply(message, context.tr("That sign-up no longer exists."))
        return
    activity, signup = found
    if not context.services.activities.wants_details(activity, signup):
        await reply(
            message, context.tr("Thank you, noted for «{title}».", title=escape(activity.title))
        )
        return
    await _start_details(context, user.id, message.chat.id, activity, signup)


# --- the organiser's thanks ------------------------------------------------------------------


class ThanksFlow(Flow):
    """A few words of thanks, with a photo if one likes; a preview; Post."""

    kind = "signup_thanks"

    async def prompt(self, turn: Turn) -> None:
        tr, data = turn.tr, turn.data
        if turn.step == "text":
            await turn.ask(
                tr(
                    "Write the thanks for «{title}» to post in the group. You may send a photo with the words as its caption.",
                    title=escape(data["title"]),
                ),
                back=False,
            )
            return
        preview = tr("This goes to the group:") + "\n\n" + escape(data["text"])
        if data.get("photo"):
            preview += "\n" + tr("(with your photo)")
        await turn.ask(preview, [[(turn.tr("📣 Post"), "post")]])

    async def handle(self, turn: Turn, given: Input) -> None:
        data = turn.data
        if turn.step == "text":
            if given.kind not in ("text", "photo") or (
                given.kind == "text" and not given.text.strip()
            ):
                await turn.say(turn.tr("Please write a few words, or send a photo."))
                return
            if len(given.text) > MAX_THANKS:
                await turn.say(
                    turn.tr("That is too long: please keep it under {n} characters.", n=MAX_THANKS)
                )
                return
            data["text"], data["photo"] = given.text.strip(), given.file_id
            turn.goto("confirm")
            await self.prompt(turn)
            return
        if given.kind != "button" or given.value != "post":
            await self.nudge(turn)
            return
        if not await turn.finish():
            return
        outcome = await turn.context.services.activities.thank(
            data["activity_id"], turn.dialog.user_id, data["text"], data.get("photo")
        )
        if outcome == "posted":
            turn.context.linli.wake_outbox()
            await turn.say(turn.tr("Posted in the group. Thank you for organising!"))
        else:
            await turn.say(turn.tr(THANKS_REFUSALS[outcome]))

    async def cancelled(self, turn: Turn) -> None:
        await turn.say(turn.tr("OK, nothing was posted."))


THANKS = ThanksFlow()


async def start_thanks(
    context: LinliContext, user_id: int, chat_id: int, activity_id: int
) -> str | None:
    """Start the thanks dialog in private; or the reason it cannot start (translated)."""
    activities = context.services.activities
    activity = await activities.get(activity_id)
    if activity is None:
        return context.tr(THANKS_REFUSALS["not_found"])
    if not await activities.may_manage(activity_id, user_id):
        return context.tr(THANKS_REFUSALS["forbidden"])
    if activity.starts_at > context.services.clock.now():
        return context.tr(THANKS_REFUSALS["too_early"])
    if chat_id == user_id and not await _has_private_chat(context, user_id):
        return context.tr("Please open a private chat with me first, then press again.")
    data = {"activity_id": activity_id, "title": activity.title}
    await start_dialog(context, user_id, chat_id, THANKS, "text", data, activity.community_id)
    return None


def thanks_link(context: LinliContext, activity_id: int) -> str:
    """The t.me link that opens the thanks dialog in private."""
    return link(context.bot.username or "", DeepLink(THANKS_LINK, str(activity_id)))


async def _thanks_link(update: Update, context: LinliContext, deep_link: DeepLink) -> None:
    message, user = update.effective_message, update.effective_user
    activity_id = small_id(deep_link.arg)
    if message is None or user is None or activity_id is None:
        return
    refusal = await start_thanks(context, user.id, message.chat.id, activity_id)
    if refusal is not None and isinstance(message, Message):
        await reply(message, refusal)


def register() -> None:
    """Make the flows and their deep links reachable."""
    Flow.register(DETAILS)
    Flow.register(THANKS)
    on_deep_link(DETAILS_LINK, _details_link)
    on_deep_link(THANKS_LINK, _thanks_link)
