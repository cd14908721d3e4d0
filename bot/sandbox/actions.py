"""What people in the world do: write, edit, press buttons, join, leave, block the bot."""

from __future__ import annotations

import secrets
from typing import Any

from bot.sandbox import entities, keyboards
from bot.sandbox.errors import ActionError
from bot.sandbox.hub import Hub
from bot.sandbox.world import GROUP_ANONYMOUS_BOT, Chat, User

MAX_TEXT = 4096
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


def find_user(hub: Hub, user_id: Any) -> User:
    """A person of the world (not the bot), or a 400."""
    user = hub.world.users.get(_int(user_id, "user_id"))
    if user is None:
        raise ActionError(f"unknown user {user_id}", f"没有这个用户：{user_id}")
    return user


def find_chat(hub: Hub, chat_id: Any) -> Chat:
    """A chat of the world, or a 400."""
    chat = hub.world.chat(_int(chat_id, "chat_id"))
    if chat is None:
        raise ActionError(f"unknown chat {chat_id}", f"没有这个聊天：{chat_id}")
    return chat


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ActionError(f"{name} must be an integer", f"{name} 必须是整数")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ActionError(f"{name} must be an integer", f"{name} 必须是整数") from None


def _writer(hub: Hub, chat: Chat, user: User) -> None:
    if chat.type == "private":
        if chat.id != user.id:
            raise ActionError(
                "a user can only write in their own private chat with the bot",
                "用户只能在自己与机器人的私聊中发消息",
            )
        return
    if chat.migrated_to:
        raise ActionError(
            f"the group was upgraded to the supergroup {chat.migrated_to}",
            f"该群已升级为超级群 {chat.migrated_to}",
        )
    if not chat.has_member(user.id):
        raise ActionError(
            f"user {user.id} is not a member of chat {chat.id}", f"用户 {user.id} 不在这个群里"
        )


def send(
    hub: Hub,
    chat_id: Any,
    user_id: Any,
    text: str | None = None,
    *,
    reply_to: Any = None,
    photo: bytes | None = None,
    document: tuple[bytes, str, str | None] | None = None,
    voice: tuple[bytes, int] | None = None,
    sender_chat: Any = None,
) -> dict[str, Any]:
    """A person sends a message (text, photo, document or voice); the bot gets it as an update."""
    chat, user = find_chat(hub, chat_id), find_user(hub, user_id)
    _writer(hub, chat, user)
    text = (text or "").strip()
    media = photo is not None or document is not None or voice is not None
    if not text and not media:
        raise ActionError("the message is empty", "消息不能为空")
    limit = 1024 if media else MAX_TEXT
    if entities.utf16_len(text) > limit:
        raise ActionError(f"the text is longer than {limit} characters", f"消息超过 {limit} 个字符")
    fields: dict[str, Any] = {}
    if photo is not None:
        fields["photo"] = hub.files.add_photo(photo)
    elif document is not None:
        fields["document"] = hub.files.add_document(*document)
    elif voice is not None:
        fields["voice"] = hub.files.add_voice(*voice)
    if text:
        ents = entities.detect(text) or None
        if media:
            fields.update(caption=text, caption_entities=ents)
        else:
            fields.update(text=text, entities=ents)
    if reply_to not in (None, "", 0):
        original = chat.live(_int(reply_to, "reply_to_message_id"))
        if original is None:
            raise ActionError("the message to reply to does not exist", "要回复的消息不存在")
        fields["reply_to_message"] = {k: v for k, v in original.items() if k != "reply_to_message"}
    sender = user.to_api()
    if sender_chat is not None and chat.is_group:
        if isinstance(sender_chat, dict):
            fields["sender_chat"] = {"type": "channel", **sender_chat}
            sender = dict(CHANNEL_BOT)
        else:
            fields["sender_chat"] = hub.world.chat_api(chat)
            sender = dict(GROUP_ANONYMOUS_BOT)
    if chat.type == "private" and user.blocked:
        block(hub, user.id, False)
    if chat.type == "private":
        user.started = True
    message = hub.world.new_message(chat, sender, **fields)
    hub.record(chat, message)
    hub.to_bot(chat, message)
    return message


def edit(hub: Hub, chat_id: Any, user_id: Any, message_id: Any, text: str | None) -> dict[str, Any]:
    """A person edits their own message; the bot gets an edited_message."""
    chat, user = find_chat(hub, chat_id), find_user(hub, user_id)
    message = chat.live(_int(message_id, "message_id"))
    if message is None or message["from"]["id"] != user.id:
        raise ActionError("no such message of this user", "找不到该用户的这条消息")
    text = (text or "").strip()
    if not text or entities.utf16_len(text) > MAX_TEXT:
        raise ActionError(
            "the text must have 1 to 4096 characters", "消息长度须为 1 到 4096 个字符"
        )
    field, ents_field = (
        ("caption", "caption_entities") if "text" not in message else ("text", "entities")
    )
    message[field] = text
    message[ents_field] = entities.detect(text) or None
    if message[ents_field] is None:
        del message[ents_field]
    message["edit_date"] = hub.world.now()
    hub.record(chat, message, "edit")
    hub.to_bot(chat, message, edited=True)
    return message


def delete(hub: Hub, chat_id: Any, user_id: Any, message_id: Any) -> dict[str, Any]:
    """A person deletes a message: their own, or anyone's as a group's admin. As in Telegram,
    the bot is not told; editing the message afterwards fails with "message to edit not found"."""
    chat, user = find_chat(hub, chat_id), find_user(hub, user_id)
    message = chat.live(_int(message_id, "message_id"))
    if message is None:
        raise ActionError("no such message", "找不到这条消息")
    if message["from"]["id"] != user.id and chat.status(user.id) not in (
        "administrator",
        "creator",
    ):
        raise ActionError(
            "only the author or a group admin can delete a message",
            "只有发送者或群管理员可以删除消息",
        )
    chat.flags.setdefault(message["message_id"], {})["deleted"] = True
    hub.record(chat, message, "delete")
    return message


def press(hub: Hub, chat_id: Any, user_id: Any, message_id: Any, data: Any) -> str:
    """A person presses an inline button; the bot gets a callback_query. Returns its id."""
    chat, user = find_chat(hub, chat_id), find_user(hub, user_id)
    _writer(hub, chat, user)
    message = chat.live(_int(message_id, "message_id"))
    if message is None or not keyboards.has_callback(message.get("reply_markup"), str(data)):
        raise ActionError(
            f"message {message_id} has no button with callback_data {data!r}",
            f"消息 {message_id} 上没有 callback_data 为 {data!r} 的按钮",
        )
    query_id = str(secrets.randbits(63))
    hub.queries[query_id] = {
        "chat_id": chat.id,
        "user_id": user.id,
        "message_id": message["message_id"],
    }
    if len(hub.queries) > 10_000:
        hub.queries.pop(next(iter(hub.queries)))
    query = {
        "id": query_id,
        "from": user.to_api(),
        "message": message,
        "chat_instance": str((chat.id * 2654435761) % (2**62)),
        "data": str(data),
    }
    if hub.bot_in(chat):
        hub.feed.push("callback_query", query)
    return query_id


def block(hub: Hub, user_id: Any, blocked: bool) -> None:
    """A person blocks (or unblocks) the bot: my_chat_member in their private chat."""
    user = find_user(hub, user_id)
    if user.blocked == blocked:
        return
    chat = hub.world.chat(user.id)
    assert chat is not None
    old, new = ("member", "kicked") if blocked else ("kicked", "member")
    user.blocked = blocked
    hub.member_changed(chat, hub.world.bot.id, old, new, user.to_api())
    hub.emit({"type": "members", "chat_id": chat.id})
