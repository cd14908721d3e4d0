"""Guided dialogs in a private chat: the router, the turn, and the base of every flow.

A flow (repair, errand …) is a set of named steps. Its state — the step and the answers
so far — lives in the database (`dialogs`), so a restart in the middle resumes it: the
person's next message or button press continues where they were. Each question is saved
before it is sent and marked seen once sent; a message that arrives while the current
question is not known to have reached the person gets that question again instead of being
taken as its answer (a crash in between must not file an answer under the wrong step). The router runs before
the other handlers (group -5) and handles a private message only when its sender has an
active dialog; everything else passes on. `/cancel` ends the dialog; every prompt has
Back and Cancel buttons; text where a button is expected gets the prompt again, gently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import Callback, CallbackDataError, pattern, unpack
from bot.context import LinliContext
from bot.i18n import Translate
from storage.models import Dialog, DialogStatus

log = logging.getLogger(__name__)

PREFIX = "dlg"
BACK, CANCEL = "_back", "_cancel"
UNSEEN = "_unseen"  # in a dialog's data: its current question may not have reached the person
ROUTER_GROUP = -5
Buttons = Sequence[Sequence[tuple[str, str]]]  # rows of (label, value)


@dataclass(frozen=True)
class Input:
    """What the person sent: text, a photo, a voice message, a button, or something else."""

    kind: str  # "text", "photo", "voice", "button", "other"
    text: str = ""
    file_id: str | None = None
    value: str = ""
    entities: tuple[dict[str, Any], ...] = ()  # the text's formatting, as Bot API dicts


class Turn:
    """One step of one dialog: read and change its state, ask the next question."""

    def __init__(self, context: LinliContext, dialog: Dialog, chat_id: int) -> None:
        self.context = context
        self.dialog = dialog
        self.chat_id = chat_id
        self.tr: Translate = context.tr
        self.ended = False

    @property
    def data(self) -> dict[str, Any]:
        """The answers so far (saved after the turn)."""
        return self.dialog.data

    @property
    def step(self) -> str:
        """The current step."""
        return self.dialog.step

    def goto(self, step: str, *, remember: bool = True) -> None:
        """Move to another step; Back returns to this one when `remember`."""
        if remember:
            trail = list(self.data.get("_trail", []))
            trail.append(self.dialog.step)
            self.data["_trail"] = trail[-20:]
        self.dialog.step = step

    def back(self) -> bool:
        """Return to the previous step; False at the first one."""
        trail = list(self.data.get("_trail", []))
        if not trail:
            return False
        self.dialog.step = trail.pop()
        self.data["_trail"] = trail
        return True

    async def ask(
        self,
        text: str,
        buttons: Buttons = (),
        *,
        back: bool = True,
        cancel: bool = True,
    ) -> Message | None:
        """Send a question with its buttons (plus Back and Cancel)."""
        rows = [
            [InlineKeyboardButton(label, callback_data=self._data(value)) for label, value in row]
            for row in buttons
        ]
        extra = []
        if back and self.data.get("_trail"):
            extra.append(InlineKeyboardButton(self.tr("⬅️ Back"), callback_data=self._data(BACK)))
        if cancel:
            extra.append(
                InlineKeyboardButton(self.tr("✖️ Cancel"), callback_data=self._data(CANCEL))
            )
        if extra:
            rows.append(extra)
        # The step and the answers so far are saved before the question leaves, and marked
        # UNSEEN until it has: a crash in between cannot make the person's next message an
        # answer to a question they never saw (nor to the one before).
        self.data[UNSEEN] = True
        await self.context.services.dialogs.save(self.dialog)
        message = await self.say(text, InlineKeyboardMarkup(rows) if rows else None)
        if message is not None:
            self.data.pop(UNSEEN, None)
            await self.context.services.dialogs.save(self.dialog)
        return message

    async def say(self, text: str, markup: Any = None) -> Message | None:
        """Send a message in the private chat (HTML)."""
        try:
            return await self.context.bot.send_message(
                self.chat_id, text, parse_mode="HTML", reply_markup=markup
            )
        except TelegramError as exc:
            log.warning("dialog %s: could not write to %s: %s", self.dialog.id, self.chat_id, exc)
            return None

    def _data(self, value: str) -> str:
        return Callback(PREFIX, (str(self.dialog.id), self.step_code(), value)).pack()

    def step_code(self) -> str:
        """A short code of the current step, carried by its buttons (stable across restarts)."""
        return str(_stable_hash(self.dialog.step) % 1000)

    async def finish(self, status: DialogStatus = DialogStatus.DONE) -> bool:
        """End the dialog; False if it had ended already (e.g. a double press)."""
        self.ended = True
        return await self.context.services.dialogs.end(self.dialog.id, status)


def _stable_hash(text: str) -> int:
    """A hash of a step name that is the same in every process (unlike hash())."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % 1_000_003
    return value


class Flow:
    """A kind of dialog. Subclasses set `kind` and implement `prompt` and `handle`."""

    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, Flow]] = {}

    @classmethod
    def register(cls, flow: Flow) -> None:
        """Make a flow reachable by the router."""
        cls.registry[flow.kind] = flow

    async def prompt(self, turn: Turn) -> None:
        """Ask the question of the current step."""
        raise NotImplementedError

    async def handle(self, turn: Turn, given: Input) -> None:
        """React to input at the current step: store it, move on, prompt."""
        raise NotImplementedError

    async def nudge(self, turn: Turn, text_expected: bool = False) -> None:
        """The wrong kind of answer (text for a button, or the reverse): say so, ask again."""
        if text_expected:
            await turn.say(turn.tr("Please answer in words."))
        else:
            await turn.say(turn.tr("Please choose with the buttons below."))
        await self.prompt(turn)

    async def cancelled(self, turn: Turn) -> None:
        """Say the dialog is cancelled."""
        await turn.say(turn.tr("Cancelled. Nothing was submitted."))

    async def reminder_text(self, tr: Translate) -> str:
        """What the idle reminder says."""
        return tr("You have an unfinished request. Reply to continue, or send /cancel.")

    async def expired_text(self, tr: Translate) -> str:
        """What is said when the draft expires."""
        return tr("Your unfinished request has expired. Start again whenever you like.")


def _input_of(message: Message) -> Input:
    if message.text is not None:
        entities = tuple(e.to_dict() for e in message.entities or ())
        return Input("text", text=message.text, entities=entities)
    if message.photo:
        return Input("photo", text=message.caption or "", file_id=message.photo[-1].file_id)
    if message.voice is not None:
        return Input("voice", text=message.caption or "", file_id=message.voice.file_id)
    return Input("other", text=message.caption or "")


async def start_dialog(
    context: LinliContext,
    user_id: int,
    chat_id: int,
    flow: Flow,
    step: str,
    data: dict[str, Any],
    community_id: int | None,
) -> Dialog | None:
    """Start `flow` for the person, or resume the one already running (None then)."""
    current = await context.services.dialogs.active(user_id)
    if current is not None:
        other = Flow.registry.get(current.kind)
        if other is None:
            await context.services.dialogs.end(current.id, DialogStatus.CANCELLED)
        else:
            turn = Turn(context, current, chat_id)
            await turn.say(
                context.tr(
                    "You are in the middle of something; let us finish it first (or send /cancel)."
                )
            )
            await other.prompt(turn)
            return None
    dialog = await context.services.dialogs.start(user_id, flow.kind, step, data, community_id)
    await flow.prompt(Turn(context, dialog, chat_id))
    return dialog


async def _route_message(update: Update, context: LinliContext) -> None:
    message = update.message
    if message is None or message.from_user is None or message.chat.type != "private":
        return
    text = message.text or ""
    is_cancel = text.startswith("/") and text.split()[0].split("@")[0].lower() == "/cancel"
    if text.startswith("/") and not is_cancel:
        return  # other commands work as usual; the dialog waits
    dialog = await context.services.dialogs.active(message.from_user.id)
    if dialog is None:
        if is_cancel:
            await message.reply_text(context.tr("There is nothing to cancel."))
            raise ApplicationHandlerStop
        return
    flow = Flow.registry.get(dialog.kind)
    turn = Turn(context, dialog, message.chat.id)
    if flow is None:
        await context.services.dialogs.end(dialog.id, DialogStatus.CANCELLED)
        return
    if text.startswith("/"):
        if await turn.finish(DialogStatus.CANCELLED):
            await flow.cancelled(turn)
        raise ApplicationHandlerStop
    if dialog.data.get(UNSEEN):
        # The bot stopped between saving this step and sending its question: whatever this
        # message answers, it is not that question. Ask it now; the next message answers it.
        await flow.prompt(turn)
        raise ApplicationHandlerStop
    await flow.handle(turn, _input_of(message))
    if not turn.ended:
        await context.services.dialogs.save(dialog)
    raise ApplicationHandlerStop


async def _route_button(update: Update, context: LinliContext) -> None:
    query = update.callback_query
    if query is None:
        return
    try:
        data = unpack(query.data)
        dialog_id, step_code, value = data.int_arg(0), data.args[1], data.args[2]
    except (CallbackDataError, IndexError):
        await query.answer(context.tr("This button is no longer valid."))
        return
    dialog = await context.services.dialogs.active(query.from_user.id)
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if dialog is None or dialog.id != dialog_id:
        await query.answer(context.tr("This button is no longer valid."))
        return
    flow = Flow.registry.get(dialog.kind)
    turn = Turn(context, dialog, chat_id)
    if flow is None or step_code != turn.step_code():
        await query.answer(context.tr("This button is no longer valid."))
        return
    await query.answer()
    await _freeze(query.message)
    if value == CANCEL:
        if await turn.finish(DialogStatus.CANCELLED):
            await flow.cancelled(turn)
        return
    if value == BACK:
        if turn.back():
            await flow.prompt(turn)
            await context.services.dialogs.save(dialog)
        return
    await flow.handle(turn, Input("button", value=value))
    if not turn.ended:
        await context.services.dialogs.save(dialog)


async def _route_button_and_stop(update: Update, context: LinliContext) -> None:
    """Handle a dialog button; no other handler sees it (it was answered here)."""
    await _route_button(update, context)
    raise ApplicationHandlerStop


async def _freeze(message: object) -> None:
    """Take the buttons off an answered question, so it cannot be pressed twice."""
    if isinstance(message, Message) and message.reply_markup is not None:
        try:
            await message.edit_reply_markup(None)
        except TelegramError:
            pass


def idle_job(linli: Any) -> Any:
    """The periodic job: remind people of a dialog idle for 30 minutes; expire it after 24 h."""

    async def text_for(dialog: Dialog, kind: str, language: str) -> str | None:
        flow = Flow.registry.get(dialog.kind)
        if flow is None:
            return None
        tr = linli.catalogs.translator(language)
        return await (flow.reminder_text(tr) if kind == "remind" else flow.expired_text(tr))

    async def job(now: Any) -> None:
        await linli.services.dialogs.time_out(now, text_for)

    return job


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Install the dialog router ahead of the ordinary handlers."""
    linli = application.bot_data["linli"]
    if linli.ticker is not None:
        linli.ticker.add("dialogs", idle_job(linli))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE, _route_message),
        group=ROUTER_GROUP,
    )
    application.add_handler(
        CallbackQueryHandler(_route_button_and_stop, pattern=pattern(PREFIX)), group=ROUTER_GROUP
    )
