"""Who is in which group: joining, leaving, promotion, new users and chats, migration."""

from __future__ import annotations

from typing import Any

from bot.sandbox.actions import find_chat, find_user
from bot.sandbox.errors import ActionError
from bot.sandbox.hub import Hub
from bot.sandbox.world import GROUP_ANONYMOUS_BOT, Chat, User, chat_from_dict

ACTIONS = ("add", "remove", "promote", "demote", "kick")


def add_user(hub: Hub, data: dict[str, Any]) -> User:
    """Create a user (their private chat comes with them)."""
    if not isinstance(data.get("id"), int) or data["id"] <= 0 or not data.get("first_name"):
        raise ActionError(
            "a user needs a positive integer id and a first_name", "用户需要正整数 id 和 first_name"
        )
    if data["id"] in hub.world.users or data["id"] == hub.world.bot.id:
        raise ActionError(f"user {data['id']} exists already", f"用户 {data['id']} 已存在")
    user = User.from_dict(data)
    hub.world.users[user.id] = user
    hub.emit({"type": "users"})
    return user


def add_chat(hub: Hub, data: dict[str, Any]) -> Chat:
    """Create a group or supergroup (same fields as in the world file)."""
    chat_id = data.get("id")
    if (
        not isinstance(chat_id, int)
        or chat_id >= 0
        or data.get("type") not in ("group", "supergroup")
    ):
        raise ActionError(
            "a chat needs a negative integer id and type group or supergroup",
            "群需要负整数 id，type 为 group 或 supergroup",
        )
    if chat_id in hub.world.chats:
        raise ActionError(f"chat {chat_id} exists already", f"群 {chat_id} 已存在")
    for uid in [*data.get("members", []), *data.get("admins", [])]:
        find_user(hub, uid)
    chat = chat_from_dict({"bot_member": False, **data}, hub.world.bot.id)
    hub.world.chats[chat.id] = chat
    hub.emit({"type": "members", "chat_id": chat.id})
    if chat.has_member(hub.world.bot.id):
        actor = _actor(hub, chat, data.get("by"))
        hub.member_changed(chat, hub.world.bot.id, "left", chat.status(hub.world.bot.id), actor)
    return chat


def _actor(hub: Hub, chat: Chat, by: Any) -> dict[str, Any]:
    if by is not None:
        return find_user(hub, by).to_api()
    for status in ("creator", "administrator", "member"):
        for uid, s in chat.statuses.items():
            if s == status and uid in hub.world.users:
                return hub.world.users[uid].to_api()
    return dict(GROUP_ANONYMOUS_BOT)


def change_member(hub: Hub, chat_id: Any, user_id: Any, action: str, by: Any = None) -> str:
    """add / remove / promote / demote / kick a person or the bot; returns the new status."""
    chat = find_chat(hub, chat_id)
    if not chat.is_group or chat.migrated_to:
        raise ActionError("members can only change in a group or supergroup", "只能在群里增减成员")
    if action not in ACTIONS:
        raise ActionError(
            f"action must be one of {', '.join(ACTIONS)}", f"action 只能是 {', '.join(ACTIONS)}"
        )
    bot = hub.world.bot
    uid = int(user_id) if str(user_id).lstrip("-").isdigit() else find_user(hub, user_id).id
    person = bot if uid == bot.id else find_user(hub, uid)
    old = chat.status(uid)
    new = {
        "add": "member",
        "remove": "kicked" if uid == bot.id else "left",
        "kick": "kicked",
        "promote": "administrator",
        "demote": "member",
    }[action]
    if action in ("promote", "demote") and not chat.has_member(uid):
        raise ActionError(
            "only a member can be promoted or demoted", "只有群成员才能设为或取消管理员"
        )
    if action == "add" and chat.has_member(uid):
        raise ActionError("already a member", "已经在群里了")
    if action in ("remove", "kick") and not chat.has_member(uid):
        raise ActionError("not a member", "不在群里")
    actor = (
        person.to_api()
        if (action == "add" and uid != bot.id and by is None)
        else _actor(hub, chat, by)
    )
    chat.statuses[uid] = new
    if uid == bot.id:
        hub.member_changed(chat, uid, old, new, actor)
    elif action in ("promote", "demote"):
        hub.member_changed(chat, uid, old, new, actor)
    if action == "add" or (action in ("remove", "kick")):
        field = (
            {"new_chat_members": [person.to_api()]}
            if action == "add"
            else {"left_chat_member": person.to_api()}
        )
        if action == "add" and uid != bot.id:
            field["new_chat_participant"] = person.to_api()
        message = hub.world.new_message(chat, actor, **field)
        hub.record(chat, message)
        if uid != bot.id:
            hub.member_changed(chat, uid, old, new, actor)
            hub.to_bot(chat, message)
        elif action == "add":
            hub.to_bot(chat, message)
    hub.emit({"type": "members", "chat_id": chat.id})
    return new


def migrate(hub: Hub, chat_id: Any) -> Chat:
    """Upgrade a group to a supergroup: service messages in both, the old id stops working."""
    old = find_chat(hub, chat_id)
    if old.type != "group" or old.migrated_to:
        raise ActionError("only a (basic) group can be upgraded", "只有普通群可以升级为超级群")
    new_id = int(f"-100{abs(old.id)}")
    if new_id in hub.world.chats:
        raise ActionError(f"chat {new_id} exists already", f"群 {new_id} 已存在")
    new = Chat(
        id=new_id,
        type="supergroup",
        title=old.title,
        statuses=dict(old.statuses),
        migrated_from=old.id,
    )
    hub.world.chats[new_id] = new
    actor = _actor(hub, old, None)
    old.migrated_to = new_id
    gone = hub.world.new_message(old, actor, migrate_to_chat_id=new_id)
    born = hub.world.new_message(new, dict(GROUP_ANONYMOUS_BOT), migrate_from_chat_id=old.id)
    hub.record(old, gone)
    hub.record(new, born)
    if old.has_member(hub.world.bot.id):
        hub.feed.push("message", gone)
        hub.feed.push("message", born)
    hub.emit({"type": "members", "chat_id": new_id})
    return new
