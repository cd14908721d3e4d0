"""Bot API methods that send, edit, delete and pin messages and answer button presses."""

from __future__ import annotations

from typing import Any

from bot.sandbox import entities, keyboards, markup
from bot.sandbox.errors import bad_request, forbidden
from bot.sandbox.hub import Hub
from bot.sandbox.params import Params
from bot.sandbox.world import Chat

MAX_TEXT = 4096
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip


def target(hub: Hub, params: Params, name: str = "chat_id") -> Chat:
    """The chat the bot writes to, with Telegram's 400/403 answers when it may not."""
    world = hub.world
    chat = world.chat(params.chat_id(name))
    if chat is None:
        raise bad_request("chat not found")
    if chat.migrated_to:
        raise bad_request(
            "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to}
        )
    if chat.type == "private":
        user = world.users[chat.id]
        if user.is_bot:
            raise forbidden("bot can't send messages to bots")
        if user.blocked:
            raise forbidden("bot was blocked by the user")
        if not user.started:
            raise forbidden("bot can't initiate conversation with a user")
    elif not chat.has_member(world.bot.id):
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if chat.status(world.bot.id) == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        raise forbidden(f"bot is not a member of the {kind}")
    return chat


def formatted(
    params: Params, field: str, parse_field: str, ents_field: str
) -> tuple[str, list[dict[str, Any]]]:
    """Text (or caption) without markup, trimmed, with its entities."""
    raw = params.string(field) or ""
    given = params.obj(ents_field, "entities")
    if given is not None:
        text, ents = raw, entities.check(raw, given)
    else:
        text, ents = markup.parse(raw, params.string(parse_field))
    stripped = text.strip()
    if stripped != text:
        lead = entities.utf16_len(text) - entities.utf16_len(text.lstrip())
        size = entities.utf16_len(stripped)
        trimmed = []
        for e in ents:
            start, end = max(0, e["offset"] - lead), min(size, e["offset"] + e["length"] - lead)
            if end > start:
                trimmed.append({**e, "offset": start, "length": end - start})
        text, ents = stripped, trimmed
    return text, entities.merge(text, ents)


def extras(hub: Hub, chat: Chat, params: Params) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fields every send shares (reply, inline keyboard) and a reply keyboard to remember."""
    fields: dict[str, Any] = {}
    reply = params.obj("reply_parameters", "reply parameters")
    reply_id = params.integer("reply_to_message_id")
    allow_missing = params.boolean("allow_sending_without_reply")
    if isinstance(reply, dict):
        reply_id = int(reply.get("message_id", 0)) or None
        allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
    if reply_id is not None:
        original = chat.live(reply_id)
        if original is None and not allow_missing:
            raise bad_request("message to be replied not found")
        if original is not None:
            fields["reply_to_message"] = {
                k: v for k, v in original.items() if k != "reply_to_message"
            }
    inline, keyboard = keyboards.check(params.obj("reply_markup", "reply keyboard markup"))
    fields["reply_markup"] = inline
    if params.boolean("protect_content"):
        fields["has_protected_content"] = True
    preview = params.obj("link_preview_options", "link preview options")
    if isinstance(preview, dict) and preview:
        fields["link_preview_options"] = preview
    return fields, keyboard


def post(hub: Hub, chat: Chat, keyboard: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    """Store a bot message and announce it."""
    message = hub.world.new_message(chat, hub.world.bot.to_api(), **fields)
    if keyboard:
        chat.flags.setdefault(message["message_id"], {})["keyboard"] = keyboard
    hub.record(chat, message)
    return message


async def send_message(hub: Hub, params: Params) -> dict[str, Any]:
    """sendMessage."""
    chat = target(hub, params)
    if not params.has("text"):
        raise bad_request("message text is empty")
    text, ents = formatted(params, "text", "parse_mode", "entities")
    if not text:
        raise bad_request("message text is empty")
    if entities.utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    fields, keyboard = extras(hub, chat, params)
    return post(hub, chat, keyboard, text=text, entities=ents or None, **fields)


def own_message(hub: Hub, params: Params, missing: str) -> tuple[Chat, dict[str, Any]]:
    """The bot's message named by chat_id + message_id, for edits."""
    if params.has("inline_message_id"):
        raise bad_request(missing)
    chat = hub.world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    message_id = params.integer(
        "message_id", required=True, empty="message identifier is not specified"
    )
    message = chat.live(message_id or 0)
    if message is None:
        raise bad_request(missing)
    if message["from"]["id"] != hub.world.bot.id:
        raise bad_request("message can't be edited")
    return chat, message


def _edit(hub: Hub, chat: Chat, message: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    if all(message.get(k) == v for k, v in changes.items()):
        raise bad_request(NOT_MODIFIED)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    message["edit_date"] = hub.world.now()
    hub.record(chat, message, "edit")
    return message


async def edit_message_text(hub: Hub, params: Params) -> dict[str, Any]:
    """editMessageText."""
    chat, message = own_message(hub, params, "message to edit not found")
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    text, ents = formatted(params, "text", "parse_mode", "entities")
    if not text:
        raise bad_request("message text is empty")
    if entities.utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    inline, _ = keyboards.check(params.obj("reply_markup", "reply keyboard markup"))
    changes = {"text": text, "entities": ents or None, "reply_markup": inline}
    return _edit(hub, chat, message, changes)


async def edit_message_caption(hub: Hub, params: Params) -> dict[str, Any]:
    """editMessageCaption."""
    chat, message = own_message(hub, params, "message to edit not found")
    if "text" in message:
        raise bad_request("there is no caption in the message to edit")
    caption, ents = formatted(params, "caption", "parse_mode", "caption_entities")
    if entities.utf16_len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    inline, _ = keyboards.check(params.obj("reply_markup", "reply keyboard markup"))
    changes = {"caption": caption or None, "caption_entities": ents or None, "reply_markup": inline}
    return _edit(hub, chat, message, changes)


async def edit_message_reply_markup(hub: Hub, params: Params) -> dict[str, Any]:
    """editMessageReplyMarkup."""
    chat, message = own_message(hub, params, "message to edit not found")
    inline, _ = keyboards.check(params.obj("reply_markup", "reply keyboard markup"))
    return _edit(hub, chat, message, {"reply_markup": inline})


def _delete(hub: Hub, chat: Chat, message_id: int) -> None:
    message = chat.live(message_id)
    if message is None:
        raise bad_request("message to delete not found")
    bot_id = hub.world.bot.id
    if chat.is_group and message["from"]["id"] != bot_id:
        if chat.status(bot_id) not in ("administrator", "creator"):
            raise bad_request("message can't be deleted")
    chat.flags.setdefault(message_id, {})["deleted"] = True
    hub.record(chat, message, "delete")


async def delete_message(hub: Hub, params: Params) -> bool:
    """deleteMessage."""
    chat = hub.world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    _delete(
        hub,
        chat,
        params.integer("message_id", required=True, empty="message identifier is not specified")
        or 0,
    )
    return True


async def delete_messages(hub: Hub, params: Params) -> bool:
    """deleteMessages (missing ones are skipped, as Telegram does)."""
    chat = hub.world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    ids = params.obj("message_ids", "message identifiers")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message identifiers are not specified")
    for message_id in ids:
        if chat.live(int(message_id)) is not None:
            _delete(hub, chat, int(message_id))
    return True


async def answer_callback_query(hub: Hub, params: Params) -> bool:
    """answerCallbackQuery: recorded so tests and the web page can show the toast."""
    query_id = params.string(
        "callback_query_id",
        required=True,
        empty="query is too old and response timeout expired or query ID is invalid",
    )
    query = hub.queries.get(query_id or "")
    if query is None or query.get("answered"):
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.string("text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query["answered"] = True
    answer = {
        "seq": len(hub.answers) + 1,
        "callback_query_id": query_id,
        "text": text,
        "show_alert": params.boolean("show_alert"),
        "url": params.string("url"),
        "cache_time": params.integer("cache_time") or 0,
        "chat_id": query["chat_id"],
        "user_id": query["user_id"],
        "message_id": query["message_id"],
    }
    hub.answers.append(answer)
    hub.emit({"type": "answer", "chat_id": query["chat_id"], "answer": answer})
    return True


async def send_chat_action(hub: Hub, params: Params) -> bool:
    """sendChatAction (shown as "typing…" on the web page)."""
    chat = target(hub, params)
    action = params.string("action", required=True, empty="wrong parameter action in request")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    hub.emit({"type": "action", "chat_id": chat.id, "action": action})
    return True


async def pin_chat_message(hub: Hub, params: Params) -> bool:
    """pinChatMessage (groups need the bot to be an admin)."""
    chat = target(hub, params)
    if chat.is_group and chat.status(hub.world.bot.id) not in ("administrator", "creator"):
        raise bad_request("not enough rights to manage pinned messages in the chat")
    message_id = (
        params.integer("message_id", required=True, empty="message identifier is not specified")
        or 0
    )
    message = chat.live(message_id)
    if message is None:
        raise bad_request("message to pin not found")
    chat.flags.setdefault(message_id, {})["pinned"] = True
    hub.record(chat, message, "edit")
    return True


async def unpin_chat_message(hub: Hub, params: Params) -> bool:
    """unpinChatMessage (the latest pinned one when no message_id)."""
    chat = target(hub, params)
    message_id = params.integer("message_id") or chat.pinned_id()
    if message_id is None or not chat.flags.get(message_id, {}).get("pinned"):
        raise bad_request("message to unpin not found")
    chat.flags[message_id]["pinned"] = False
    hub.record(chat, chat.messages[message_id], "edit")
    return True


async def unpin_all_chat_messages(hub: Hub, params: Params) -> bool:
    """unpinAllChatMessages."""
    chat = target(hub, params)
    for message_id, flags in chat.flags.items():
        if flags.get("pinned"):
            flags["pinned"] = False
            hub.record(chat, chat.messages[message_id], "edit")
    return True


METHODS = {
    "sendmessage": send_message,
    "editmessagetext": edit_message_text,
    "editmessagecaption": edit_message_caption,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
    "deletemessages": delete_messages,
    "answercallbackquery": answer_callback_query,
    "sendchataction": send_chat_action,
    "pinchatmessage": pin_chat_message,
    "unpinchatmessage": unpin_chat_message,
    "unpinallchatmessages": unpin_all_chat_messages,
}
