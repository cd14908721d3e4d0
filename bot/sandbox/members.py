"""Chat members in Telegram's shapes, and the Bot API methods that ask about chats."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import bad_request
from bot.sandbox.params import Params
from bot.sandbox.world import Chat, World

_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
    "can_delete_stories", "can_pin_messages",
)  # fmt: skip


def member_api(world: World, chat: Chat, user_id: int, status: str | None = None) -> dict[str, Any]:
    """A ChatMember object (creator, administrator, member, left or kicked)."""
    user = world.user(user_id)
    status = status or chat.status(user_id)
    out: dict[str, Any] = {
        "status": status,
        "user": user.to_api() if user else {"id": user_id, "is_bot": False, "first_name": "?"},
    }
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        out.update(can_be_edited=False, is_anonymous=False, can_promote_members=False)
        out.update({right: True for right in _ADMIN_RIGHTS})
    elif status == "kicked":
        out["until_date"] = 0
    return out


def chat_full_info(world: World, chat: Chat) -> dict[str, Any]:
    """getChat's ChatFullInfo."""
    info = world.chat_api(chat)
    info.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types=_NO_GIFTS)
    if chat.description:
        info["description"] = chat.description
    pinned = chat.pinned_id()
    if pinned is not None:
        info["pinned_message"] = chat.messages[pinned]
    if chat.is_group:
        info["permissions"] = {
            "can_send_messages": True, "can_send_photos": True, "can_send_documents": True,
            "can_send_polls": True, "can_send_other_messages": True,
            "can_add_web_page_previews": True, "can_change_info": False,
            "can_invite_users": True, "can_pin_messages": False,
        }  # fmt: skip
    if chat.migrated_from:
        info["migrated_from_chat_id"] = chat.migrated_from  # sandbox extra, handy in tests
    return info


_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


def _chat(world: World, params: Params) -> Chat:
    chat = world.chat(params.chat_id())
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _user_id(params: Params) -> int:
    user_id = params.integer("user_id", required=True, empty="user not found")
    assert user_id is not None
    return user_id


async def get_chat(world: World, params: Params) -> dict[str, Any]:
    """getChat."""
    return chat_full_info(world, _chat(world, params))


async def get_chat_member(world: World, params: Params) -> dict[str, Any]:
    """getChatMember."""
    chat = _chat(world, params)
    user_id = _user_id(params)
    if world.user(user_id) is None:
        raise bad_request("user not found")
    if chat.type == "private" and user_id not in (chat.id, world.bot.id):
        raise bad_request("user not found")
    return member_api(world, chat, user_id)


async def get_chat_administrators(world: World, params: Params) -> list[dict[str, Any]]:
    """getChatAdministrators."""
    chat = _chat(world, params)
    if not chat.is_group:
        return []
    ids = [uid for uid, s in chat.statuses.items() if s in ("creator", "administrator")]
    return [member_api(world, chat, uid) for uid in ids]


async def get_chat_member_count(world: World, params: Params) -> int:
    """getChatMemberCount (the bot counts when it is in the chat)."""
    chat = _chat(world, params)
    if chat.type == "private":
        return 2
    return len(chat.member_ids(world.bot.id)) + (1 if chat.has_member(world.bot.id) else 0)


METHODS = {
    "getchat": get_chat,
    "getchatmember": get_chat_member,
    "getchatadministrators": get_chat_administrators,
    "getchatmembercount": get_chat_member_count,
    "getchatmemberscount": get_chat_member_count,
}
