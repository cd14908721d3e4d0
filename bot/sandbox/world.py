"""The sandbox's world: the bot, the users, the chats with their members and messages."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Clock = Callable[[], float]

IN_CHAT = ("creator", "administrator", "member", "restricted")
GROUP_ANONYMOUS_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


@dataclass
class User:
    """A Telegram user (or the bot itself); `started`/`blocked` describe their private chat."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    started: bool = False
    blocked: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, is_bot: bool = False) -> User:
        """Build a user from the world file's dict."""
        return cls(
            id=int(data["id"]),
            first_name=str(data.get("first_name") or data.get("username") or data["id"]),
            last_name=data.get("last_name"),
            username=data.get("username"),
            language_code=data.get("language_code"),
            is_bot=bool(data.get("is_bot", is_bot)),
            started=bool(data.get("started", False)),
            blocked=bool(data.get("blocked", False)),
        )

    def to_api(self) -> dict[str, Any]:
        """The Bot API User object."""
        out: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The world file's dict (the API fields plus started/blocked)."""
        return {**self.to_api(), "started": self.started, "blocked": self.blocked}


@dataclass
class Chat:
    """A chat: private (id = the user's id), group or supergroup, with its message history."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    description: str | None = None
    statuses: dict[int, str] = field(default_factory=dict)
    migrated_to: int | None = None
    migrated_from: int | None = None
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    flags: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """True for groups and supergroups."""
        return self.type in ("group", "supergroup")

    def status(self, user_id: int) -> str:
        """The user's member status here ("left" when unknown)."""
        return self.statuses.get(user_id, "left")

    def has_member(self, user_id: int) -> bool:
        """True when the user is currently in the chat."""
        return self.status(user_id) in IN_CHAT

    def member_ids(self, bot_id: int) -> list[int]:
        """The people (not the bot) currently in the chat."""
        return [uid for uid, s in self.statuses.items() if s in IN_CHAT and uid != bot_id]

    def pinned_id(self) -> int | None:
        """The most recently pinned message that is still there."""
        pinned = [mid for mid, f in self.flags.items() if f.get("pinned") and not f.get("deleted")]
        return max(pinned) if pinned else None

    def live(self, message_id: int) -> dict[str, Any] | None:
        """The message if it exists and was not deleted."""
        if self.flags.get(message_id, {}).get("deleted"):
            return None
        return self.messages.get(message_id)

    def to_dict(self) -> dict[str, Any]:
        """The world file's dict, history included."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "username": self.username,
            "description": self.description,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "migrated_to": self.migrated_to,
            "migrated_from": self.migrated_from,
            "next_message_id": self.next_message_id,
            "messages": list(self.messages.values()),
            "flags": {str(k): v for k, v in self.flags.items()},
        }


class World:
    """Everything the sandbox knows: bot, users, chats, and the privacy mode flag."""

    def __init__(self, bot: User, *, privacy_mode: bool = False, clock: Clock = time.time) -> None:
        self.bot = bot
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.privacy_mode = privacy_mode
        self.clock = clock
        # Milliseconds, wrapping every 23 days: a restarted sandbox never reuses recent ids
        # (Telegram also starts afresh after a quiet week; the bot forgets old ids by then).
        self.next_update_id = max(1, int(clock() * 1000) % 2_000_000_000)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, clock: Clock = time.time) -> World:
        """Build a world from the simple form (see docs/sandbox.md) or a saved state."""
        bot = User.from_dict({**data["bot"], "is_bot": True})
        world = cls(bot, privacy_mode=bool(data.get("privacy_mode", False)), clock=clock)
        for raw in data.get("users", []):
            user = User.from_dict(raw)
            world.users[user.id] = user
        for raw in data.get("chats", []):
            world.chats[int(raw["id"])] = chat_from_dict(raw, bot.id)
        if data.get("next_update_id"):
            world.next_update_id = max(world.next_update_id, int(data["next_update_id"]))
        return world

    def to_dict(self) -> dict[str, Any]:
        """A saved state: from_dict(to_dict()) gives the same world back."""
        return {
            "bot": self.bot.to_api(),
            "privacy_mode": self.privacy_mode,
            "next_update_id": self.next_update_id,
            "users": [u.to_dict() for u in self.users.values()],
            "chats": [c.to_dict() for c in self.chats.values()],
        }

    def now(self) -> int:
        """The current unix time from the world's clock."""
        return int(self.clock())

    def take_update_id(self) -> int:
        """The next update_id (strictly increasing)."""
        self.next_update_id += 1
        return self.next_update_id - 1

    def user(self, user_id: int) -> User | None:
        """A user by id (the bot included)."""
        return self.bot if user_id == self.bot.id else self.users.get(user_id)

    def chat(self, chat_id: int | str) -> Chat | None:
        """A chat by id or @username (groups only); a private chat is made on first use."""
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@").lower()
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == name:
                    return chat
            return None  # as in Telegram, @username names public groups, not people
        if chat_id in self.chats:
            return self.chats[chat_id]
        user = self.users.get(chat_id)
        if user is None:
            return None
        chat = Chat(id=user.id, type="private", statuses={user.id: "member"})
        self.chats[chat.id] = chat
        return chat

    def all_chats(self) -> list[Chat]:
        """Every group and every user's private chat."""
        for user_id in self.users:
            self.chat(user_id)
        return list(self.chats.values())

    def chat_api(self, chat: Chat) -> dict[str, Any]:
        """The Bot API Chat object (short form, as inside a Message)."""
        if chat.type == "private":
            user = self.users[chat.id]
            out: dict[str, Any] = {"id": chat.id, "type": "private", "first_name": user.first_name}
            if user.last_name:
                out["last_name"] = user.last_name
            if user.username:
                out["username"] = user.username
            return out
        out = {"id": chat.id, "type": chat.type, "title": chat.title or str(chat.id)}
        if chat.username:
            out["username"] = chat.username
        if chat.type == "supergroup":
            out["is_forum"] = False
        return out

    def new_message(self, chat: Chat, sender: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Store a new message in the chat and return it (Bot API Message)."""
        message: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": sender,
            "date": self.now(),
            "chat": self.chat_api(chat),
        }
        message.update({k: v for k, v in fields.items() if v is not None})
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        return message

    def state(self) -> dict[str, Any]:
        """The scripting API's `state`: bot, users and chats with their member ids."""
        chats = []
        for chat in self.all_chats():
            entry = self.chat_api(chat)
            entry["members"] = chat.member_ids(self.bot.id)
            entry["bot_status"] = "kicked" if self._blocked(chat) else chat.status(self.bot.id)
            if chat.migrated_to:
                entry["migrated_to_chat_id"] = chat.migrated_to
            chats.append(entry)
        return {
            "bot": self.bot.to_api(),
            "users": [u.to_api() for u in self.users.values()],
            "chats": chats,
            "privacy_mode": self.privacy_mode,
        }

    def _blocked(self, chat: Chat) -> bool:
        user = self.users.get(chat.id) if chat.type == "private" else None
        return bool(user and user.blocked)


def chat_from_dict(raw: dict[str, Any], bot_id: int) -> Chat:
    """A chat from the simple form (members/admins/bot_member) or a saved state (statuses)."""
    chat = Chat(
        id=int(raw["id"]),
        type=str(raw.get("type", "supergroup")),
        title=raw.get("title"),
        username=raw.get("username"),
        description=raw.get("description"),
        migrated_to=raw.get("migrated_to"),
        migrated_from=raw.get("migrated_from"),
        next_message_id=int(raw.get("next_message_id", 1)),
    )
    if "statuses" in raw:
        chat.statuses = {int(k): str(v) for k, v in raw["statuses"].items()}
    else:
        for uid in raw.get("members", []):
            chat.statuses[int(uid)] = "member"
        for uid in raw.get("admins", []):
            chat.statuses[int(uid)] = "administrator"
        if raw.get("creator"):
            chat.statuses[int(raw["creator"])] = "creator"
        if raw.get("bot_member", True) and bot_id not in chat.statuses:
            chat.statuses[bot_id] = "administrator" if raw.get("bot_admin") else "member"
    for message in raw.get("messages", []):
        chat.messages[int(message["message_id"])] = message
    chat.flags = {int(k): dict(v) for k, v in raw.get("flags", {}).items()}
    if chat.messages:
        chat.next_message_id = max(chat.next_message_id, max(chat.messages) + 1)
    return chat
