"""The sandbox's shared core: world, update feed, files, faults, and what changed for watchers."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from bot.sandbox import entities
from bot.sandbox.calllog import CallLog
from bot.sandbox.faults import FaultBook, RateLimiter
from bot.sandbox.files import FileStore
from bot.sandbox.members import member_api
from bot.sandbox.signals import Signal
from bot.sandbox.updates import UpdateFeed
from bot.sandbox.world import Chat, World

SERVICE_FIELDS = (
    "new_chat_members", "left_chat_member", "migrate_to_chat_id", "migrate_from_chat_id",
    "group_chat_created", "supergroup_chat_created", "pinned_message", "new_chat_title",
)  # fmt: skip
MAX_EVENTS = 2000


class Hub:
    """Everything the Bot API, the scripting API and the web page share."""

    def __init__(self, world: World, files: FileStore) -> None:
        self.world = world
        self.files = files
        self.feed = UpdateFeed(self._take_update_id, self._now)
        self.faults = FaultBook()
        self.limits = RateLimiter()
        self.calls = CallLog()
        self.changes = Signal()
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.event_seq = 0
        self.queries: dict[str, dict[str, Any]] = {}
        self.answers: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.descriptions: dict[str, str] = {}
        self.on_change: Callable[[], None] = lambda: None

    def _take_update_id(self) -> int:
        return self.world.take_update_id()

    def _now(self) -> int:
        return self.world.now()

    def replace_world(self, world: World) -> None:
        """Swap in a new world (reset), keeping update_ids increasing."""
        world.next_update_id = max(world.next_update_id, self.world.next_update_id)
        self.world = world
        self.queries.clear()
        self.answers.clear()
        self.emit({"type": "reset"})

    def emit(self, event: dict[str, Any]) -> None:
        """Tell watchers (transcript waits, the web page) that something happened."""
        self.event_seq += 1
        self.events.append({"seq": self.event_seq, **event})
        self.changes.notify()
        self.on_change()

    def record(self, chat: Chat, message: dict[str, Any], kind: str = "new") -> None:
        """Announce a new, edited or deleted message in a chat."""
        self.emit({"type": kind, "chat_id": chat.id, "message": self.view(chat, message)})

    def view(self, chat: Chat, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the transcript shows it: the Message plus sandbox extras."""
        out = dict(message)
        flags = chat.flags.get(message["message_id"], {})
        for key in ("deleted", "pinned", "keyboard"):
            if flags.get(key):
                out[key] = flags[key]
        return out

    def transcript(self, chat: Chat, after: int = 0) -> list[dict[str, Any]]:
        """The chat's messages after message_id `after`, in order."""
        return [self.view(chat, m) for mid, m in sorted(chat.messages.items()) if mid > after]

    def bot_in(self, chat: Chat) -> bool:
        """True when the bot gets updates from this chat."""
        if chat.type == "private":
            user = self.world.users.get(chat.id)
            return bool(user and not user.blocked)
        return chat.has_member(self.world.bot.id) and not chat.migrated_to

    def bot_sees(self, chat: Chat, message: dict[str, Any]) -> bool:
        """Privacy mode: in groups only commands, replies to the bot, mentions and service messages."""
        bot = self.world.bot
        if not self.world.privacy_mode or chat.type == "private":
            return True
        if chat.status(bot.id) in ("administrator", "creator"):
            return True
        if any(field in message for field in SERVICE_FIELDS):
            return True
        if (message.get("reply_to_message") or {}).get("from", {}).get("id") == bot.id:
            return True
        text = message.get("text") or message.get("caption") or ""
        ents = message.get("entities") or message.get("caption_entities") or []
        name = (bot.username or "").lower()
        if any(
            target is None or target.lower() == name for _, target in entities.commands(text, ents)
        ):
            return True
        if name in entities.mentions(text, ents):
            return True
        return any(e["type"] == "text_mention" and e["user"]["id"] == bot.id for e in ents)

    def to_bot(self, chat: Chat, message: dict[str, Any], edited: bool = False) -> None:
        """Queue a user's message (or its edit) for the bot, if the bot may see it."""
        if message.get("from", {}).get("id") == self.world.bot.id:
            return
        if self.bot_in(chat) and self.bot_sees(chat, message):
            self.feed.push("edited_message" if edited else "message", message)

    def member_changed(
        self, chat: Chat, user_id: int, old: str, new: str, actor: dict[str, Any]
    ) -> None:
        """A my_chat_member (the bot) or chat_member (anyone else) update."""
        update = {
            "chat": self.world.chat_api(chat),
            "from": actor,
            "date": self.world.now(),
            "old_chat_member": member_api(self.world, chat, user_id, old),
            "new_chat_member": member_api(self.world, chat, user_id, new),
        }
        if user_id == self.world.bot.id:
            self.feed.push("my_chat_member", update)
        elif self.bot_in(chat):
            self.feed.push("chat_member", update)
