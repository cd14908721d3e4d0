"""The machinery of the permissions table (tests/chaos/test_permissions.py).

One running Linli on a fake clock, the demo community A plus a second community B with its own
staff, and one person per role. A case is one person doing one privileged thing — a command
in a chat, a button press (a real press when they can see the button, else a forged callback
query), a reply to one of Linli's prompts — and is judged on what reached the chats (the
sandbox's log of Bot API calls and the transcripts) and what changed in the database:

- allowed: the action's own effect is there, and nothing crashed;
- refused: one polite answer in the person's language (a reply, or the button's toast), no
  other message sent or edited anywhere, and the database exactly as before;
- ignored (messages sent as the group or a channel): at most the "I can't tell who you are"
  reply, and the database exactly as before;
- own: staff of another community are served for their own community, never for A.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.demo import DEMO_BOT, STAFF_GROUP, VOLUNTEERS_GROUP
from bot.ratelimit import RateLimiter, RateLimits
from storage.models import Base, ChatKind, Role
from tests.e2e.harness import PROBE_USER, Linli, buttons_of
from tests.e2e.test_repair import outbox_idle

# --- who -----------------------------------------------------------------------------------

ROLES = ("stranger", "resident", "volunteer", "staff", "other_staff", "admin", "global_admin")
USERS = {
    "stranger": 5001,
    "resident": 1001,  # 王阿姨 (demo)
    "volunteer": 3001,  # 小刘 (demo)
    "staff": 2002,
    "other_staff": 6001,
    "admin": 2003,
    "global_admin": 9001,
}
ANONYMOUS = "anonymous_admin"  # sender_chat = the group (GroupAnonymousBot)
CHANNEL = "channel"  # on behalf of a channel (Channel_Bot)
NEW_PEOPLE = [
    {
        "id": 5001,
        "first_name": "路",
        "last_name": "人",
        "username": "passer_by",
        "language_code": "zh-hans",
    },
    {
        "id": 2002,
        "first_name": "周",
        "last_name": "干事",
        "username": "staff_zhou",
        "language_code": "zh-hans",
    },
    {
        "id": 6001,
        "first_name": "Oliver",
        "last_name": "Other",
        "username": "oliver_b",
        "language_code": "en",
    },
    {
        "id": 2003,
        "first_name": "陈",
        "last_name": "书记",
        "username": "admin_chen",
        "language_code": "zh-hans",
    },
    {
        "id": 9001,
        "first_name": "Grace",
        "last_name": "Global",
        "username": "grace_global",
        "language_code": "en",
    },
]
ELDER = 1004  # 李奶奶 (demo), enrolled for the check-in alerts
REQUESTER = 1002  # 李先生 (demo): his ticket, errand and question are the ones staff handle
B_STAFF_GROUP = -1002000000101
B_NAME = "绿洲小区"

# Where an action happens.
STAFF = STAFF_GROUP
VOLUNTEERS = VOLUNTEERS_GROUP
PRIVATE = 0  # the person's own private chat

EFFECTFUL = {
    "sendmessage",
    "senddocument",
    "sendphoto",
    "sendvoice",
    "copymessage",
    "forwardmessage",
    "editmessagetext",
    "editmessagereplymarkup",
    "editmessagecaption",
    "pinchatmessage",
    "unpinchatmessage",
    "deletemessage",
    "deletemessages",
}
# Processed update ids and sighting times change with every message anyone sends.
# The roster (who was seen in which group) grows when someone writes in a group for the first
# time, whatever they wrote: bookkeeping, not an effect of the command.
VOLATILE_TABLES = {"processed_updates", "chat_members"}
VOLATILE_COLUMNS = {"last_seen_at"}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


@dataclass
class Target:
    """What an action acts on: a chat, a message carrying a button, data, and anything else."""

    chat_id: int = 0
    message_id: int = 0
    data: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observation:
    """What one case did: the bot's effectful calls, its new messages in the actor's chat,
    the button's answer, and the tables that changed."""

    role: str
    chat_id: int
    language: str
    calls: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    answer: str | None
    changed: dict[str, str]

    @property
    def text(self) -> str:
        """Everything the bot said in the actor's chat, and the toast."""
        parts = [m.get("text") or m.get("caption") or "" for m in self.messages]
        return "\n".join(parts + [self.answer or ""])

    def buttons(self) -> list[str]:
        """Callback data of the buttons on the bot's new messages in the actor's chat."""
        return [data for m in self.messages for _, data in buttons_of(m)]

    def sent(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Calls of one method (to one chat)."""
        return [
            c
            for c in self.calls
            if c["method"].lower() == method.lower() and (chat_id is None or _chat_of(c) == chat_id)
        ]


def _chat_of(call: dict[str, Any]) -> int | None:
    value = call["params"].get("chat_id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Arena:
    """The running bot, the people, the two communities and the seeds, and the probes."""

    def __init__(self, linli: Linli) -> None:
        self.linli = linli
        self.db = linli.runtime.db
        # Hundreds of cases write to one staff group within a minute; Telegram's per-group
        # limit is not what is tested here, so the dispatcher does not wait for it.
        assert linli.runtime.outbox is not None
        linli.runtime.outbox.limiter = RateLimiter(RateLimits(1000, 100_000, 1000))
        self.catalogs = linli.runtime.application.bot_data["linli"].catalogs
        self.services = linli.runtime.application.bot_data["linli"].services
        self.community_a = 0
        self.community_b = 0
        self.seq = 0
        self.counter = itertools.count(1)
        self.fresh_groups = itertools.count(200)
        self.languages: dict[int, str] = {}
        self.seeds: dict[str, Any] = {}
        self.members: dict[int, list[int]] = {}  # sandbox chat -> its people (cached)
        self.people: dict[int, dict[str, Any]] = {}  # sandbox users as Telegram sends them
        self.last_ids: dict[int, int] = {}  # chat -> the last message id already read
        # The database as the last case left it; None once anything else may have run.
        self.known: dict[str, list[tuple[Any, ...]]] | None = None
        self._reader: sqlite3.Connection | None = None

    # --- the world ---------------------------------------------------------------------------

    async def build(self) -> None:
        """People, roles, community B with its staff group, everyone in A's staff and
        volunteers' groups, and a message from the bot in everyone's private chat."""
        sandbox = self.linli.sandbox
        for person in NEW_PEOPLE:
            await sandbox.post("/sandbox/api/users", {**person, "started": True})
        await sandbox.post(
            "/sandbox/api/chats",
            {
                "id": B_STAFF_GROUP,
                "type": "supergroup",
                "title": "绿洲小区 工作群",
                "members": [USERS["other_staff"]],
                "admins": [USERS["other_staff"]],
                "bot_member": True,
                "by": USERS["other_staff"],
            },
        )
        for chat in (STAFF_GROUP, VOLUNTEERS_GROUP):
            for role in ROLES:
                await self._join(chat, USERS[role])
        await self.linli.settle()
        assert self.db is not None
        async with self.db.uow() as uow:
            [community] = await uow.communities.all()
            self.community_a = community.id
            b = await uow.communities.add(B_NAME, "LZ", community.timezone, community.language)
            self.community_b = b.id
            chat = await uow.chats.upsert(B_STAFF_GROUP, "supergroup", "绿洲小区 工作群")
            chat.community_id, chat.kind = b.id, ChatKind.STAFF
            for person in NEW_PEOPLE:
                await uow.users.upsert(
                    person["id"],
                    first_name=person["first_name"],
                    last_name=person["last_name"],
                    username=person["username"],
                    telegram_language=person["language_code"],
                )
            await uow.memberships.grant(USERS["staff"], community.id, Role.STAFF, None)
            await uow.memberships.grant(USERS["admin"], community.id, Role.ADMIN, None)
            await uow.memberships.grant(USERS["other_staff"], b.id, Role.STAFF, None)
            await uow.commit()
        for role in ROLES:
            user = USERS[role]
            await sandbox.send(user, user, "/start")
            self.languages[user] = await self.services.people.language_of(user)
        await self.idle()

    async def _join(self, chat_id: int, user_id: int) -> None:
        state = await self.linli.sandbox.call("GET", "/sandbox/api/state")
        members = next(c["members"] for c in state[1]["chats"] if c["id"] == chat_id)
        if user_id not in members:
            await self.linli.sandbox.post(
                "/sandbox/api/members", {"chat_id": chat_id, "user_id": user_id, "action": "add"}
            )

    async def fresh_group(self) -> int:
        """A new group with everyone in it and the bot added, not registered yet."""
        chat_id = -1003000000000 - next(self.fresh_groups)
        await self.linli.sandbox.post(
            "/sandbox/api/chats",
            {
                "id": chat_id,
                "type": "supergroup",
                "title": f"新楼栋群 {chat_id}",
                "members": [USERS[r] for r in ROLES],
                "admins": [USERS["admin"]],
                "bot_member": True,
                "by": USERS["admin"],
            },
        )
        await self.idle()
        self.members.clear()
        return chat_id

    def unique(self, stem: str) -> str:
        """A marker no other case uses."""
        return f"{stem}{next(self.counter)}"

    # --- reading -------------------------------------------------------------------------------

    def said(self, user_id: int, msgid: str) -> str:
        """The fixed start of a catalogue text (up to its first placeholder) as `user_id` reads it."""
        language = self.languages.get(user_id, "zh-CN")
        text = self.catalogs.gettext(language, msgid)
        return text.split("{", 1)[0].strip()

    async def scalar(self, statement: Any) -> Any:
        """One value from the database."""
        assert self.db is not None
        async with self.db.uow() as uow:
            return await uow.session.scalar(statement)

    async def rows(self, statement: Any) -> list[Any]:
        """Rows from the database."""
        assert self.db is not None
        async with self.db.uow() as uow:
            return list((await uow.session.execute(statement)).all())

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table that a refusal must leave alone.

        Read through a plain sqlite3 connection of its own: hundreds of snapshots through the
        async driver would cost more than the cases. It sees what the bot has committed.
        """
        if self._reader is None:
            url = self.linli.runtime.settings.effective_database_url
            self._reader = sqlite3.connect(url.split(":///", 1)[1])
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in Base.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            columns = ", ".join(
                f'"{c.name}"' for c in table.columns if c.name not in VOLATILE_COLUMNS
            )
            rows = self._reader.execute(f'SELECT {columns} FROM "{table.name}"').fetchall()
            out[table.name] = sorted(rows, key=repr)
        return out

    def close(self) -> None:
        """Close the snapshot reader."""
        if self._reader is not None:
            self._reader.close()

    async def last_message(self, chat_id: int, data: str = "") -> dict[str, Any]:
        """The bot's latest message in a chat (with a button whose data matches `data`)."""
        found = [
            m
            for m in await self.linli.sandbox.transcript(chat_id)
            if m["from"]["id"] == DEMO_BOT["id"]
            and not m.get("deleted")
            and (not data or any(re.search(data, d) for _, d in buttons_of(m)))
        ]
        assert found, f"no bot message in {chat_id} with a button matching {data!r}"
        return found[-1]

    async def button(self, chat_id: int, data: str) -> Target:
        """The latest bot message in the chat with a button matching `data`, and that button."""
        message = await self.last_message(chat_id, data)
        [exact] = [d for _, d in buttons_of(message) if re.search(data, d)][:1]
        return Target(chat_id, message["message_id"], exact)

    async def staff_press(self, target: Target, pattern: str | None = None) -> Target:
        """Staff press the target's button; then the bot's latest message in that chat with a
        button matching `pattern` (the target again without one)."""
        await self.linli.sandbox.press(
            target.chat_id, USERS["staff"], target.message_id, target.data
        )
        await self.idle()
        if pattern is None:
            return target
        found = await self.button(target.chat_id, pattern)
        found.info = target.info
        return found

    async def idle(self) -> None:
        """Everything queued is sent and the bot has caught up."""
        await outbox_idle(self.linli)

    async def _mark(self) -> int:
        _, body = await self.linli.sandbox.call(
            "GET", "/sandbox/api/calls", params={"after": str(self.seq)}
        )
        calls = body["calls"]
        if calls:
            self.seq = calls[-1]["seq"]
        return self.seq

    async def _calls_after(self, seq: int) -> list[dict[str, Any]]:
        _, body = await self.linli.sandbox.call(
            "GET", "/sandbox/api/calls", params={"after": str(seq)}
        )
        return [
            c
            for c in body["calls"]
            if c["method"].lower() in EFFECTFUL | {"answercallbackquery"}
            and _chat_of(c) != PROBE_USER
        ]

    async def _last_id(self, chat_id: int) -> int:
        known = self.last_ids.get(chat_id, 0)
        messages = await self.linli.sandbox.transcript(chat_id, after=known)
        self.last_ids[chat_id] = max([known] + [m["message_id"] for m in messages])
        return self.last_ids[chat_id]

    async def _state(self) -> None:
        _, state = await self.linli.sandbox.call("GET", "/sandbox/api/state")
        self.members = {c["id"]: c["members"] for c in state["chats"]}
        self.people = {
            u["id"]: {k: v for k, v in u.items() if k not in ("started", "blocked")}
            for u in state["users"]
        }

    # --- doing ---------------------------------------------------------------------------------

    async def observe(
        self, role: str, chat_id: int, act: Callable[[], Awaitable[str | None]]
    ) -> Observation:
        """Run `act` (which returns the toast, if any) and see what it did."""
        user = USERS.get(role, USERS["admin"])
        before = self.known if self.known is not None else await self.snapshot()
        seq = await self._mark()
        last = await self._last_id(chat_id)
        answer = await act()
        await self.linli.settle()
        after = self.known = await self.snapshot()
        calls = await self._calls_after(seq)
        if answer is None:
            answer = next(
                (c["params"].get("text") for c in calls if c["method"] == "answerCallbackQuery"),
                None,
            )
        messages = [
            m
            for m in await self.linli.sandbox.transcript(chat_id, after=last)
            if m["from"]["id"] == DEMO_BOT["id"]
        ]
        changed = {
            name: f"{len(before[name])}→{len(after[name])} rows"
            for name in before
            if before[name] != after[name]
        }
        return Observation(
            role, chat_id, self.languages.get(user, "zh-CN"), calls, messages, answer, changed
        )

    @staticmethod
    def sender(role: str, extra: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Who sends, with what extra fields: a person, or a person hidden behind the group
        (anonymous admin) or behind a channel."""
        if role == ANONYMOUS:
            return USERS["admin"], {**extra, "sender_chat": True}
        if role == CHANNEL:
            channel = {"id": -1009000000001, "title": "阳光花园 公告频道"}
            return USERS["admin"], {**extra, "sender_chat": channel}
        return USERS[role], extra

    async def send(self, role: str, where: int, text: str, **extra: Any) -> Observation:
        """The role sends a message (a command, or a reply with reply_to_message_id)."""
        chat_id = USERS[role] if role in USERS and where == PRIVATE else where
        user, extra = self.sender(role, extra)

        async def act() -> None:
            await self.linli.sandbox.send(chat_id, user, text, **extra)

        return await self.observe(role, chat_id, act)

    async def send_document(
        self, role: str, where: int, data: bytes, name: str, caption: str
    ) -> Observation:
        """The role sends a file with a caption."""
        chat_id = USERS[role] if role in USERS and where == PRIVATE else where
        user, extra = self.sender(role, {})

        async def act() -> None:
            await self.linli.sandbox.send_document(chat_id, user, data, name, caption, **extra)

        return await self.observe(role, chat_id, act)

    async def press(self, role: str, target: Target) -> Observation:
        """The role presses the button: a real press when they are in the chat, else forged."""
        user = USERS[role]
        if target.chat_id not in self.members:
            await self._state()
        if user in self.members.get(target.chat_id, [user]):

            async def act() -> str | None:
                result = await self.linli.sandbox.press(
                    target.chat_id, user, target.message_id, target.data
                )
                return (result.get("answer") or {}).get("text") or ""

            return await self.observe(role, target.chat_id, act)
        return await self.forge(role, target)

    async def forge(self, role: str, target: Target) -> Observation:
        """A callback query no button of theirs carries (injected as Telegram would deliver it)."""
        user = USERS[role]
        message = next(
            m
            for m in await self.linli.sandbox.transcript(
                target.chat_id, after=target.message_id - 1
            )
            if m["message_id"] == target.message_id
        )
        query_id = str(7_000_000_000 + next(self.counter))
        if user not in self.people:
            await self._state()
        sender = self.people[user]
        update = {
            "callback_query": {
                "id": query_id,
                "from": sender,
                "message": message,
                "chat_instance": str(target.chat_id),
                "data": target.data,
            }
        }

        async def act() -> str | None:
            await self.linli.sandbox.post("/sandbox/api/inject", {"update": update})
            await self.linli.settle()
            _, body = await self.linli.sandbox.call("GET", "/sandbox/api/answers")
            answers = [a for a in body["answers"] if a["callback_query_id"] == query_id]
            return (answers[-1].get("text") or "") if answers else None

        return await self.observe(role, target.chat_id, act)

    async def inject_message(self, role: str, message: dict[str, Any], key: str) -> Observation:
        """A raw update (a channel post, a forward from a linked channel)."""
        chat_id = message["chat"]["id"] if message["chat"]["type"] != "channel" else STAFF_GROUP

        async def act() -> None:
            await self.linli.sandbox.post("/sandbox/api/inject", {"update": {key: message}})

        return await self.observe(role, chat_id, act)

    # --- judging -------------------------------------------------------------------------------

    def crashed(self, obs: Observation) -> bool:
        """The error handler's apology anywhere in what the case produced."""
        sorry = "Sorry, something went wrong on my side. Please try again later."
        texts = [str(c["params"].get("text", "")) for c in obs.calls] + [obs.text]
        words = {self.catalogs.gettext(lang, sorry)[:12] for lang in ("zh-CN", "en")}
        return any(w in t for w in words for t in texts)

    def in_language(self, text: str, language: str) -> bool:
        """Polite and in the reader's language: Chinese for Chinese readers, mostly Latin
        letters for English ones."""
        if not text.strip():
            return False
        cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
        if language.startswith("zh"):
            return cjk >= 2
        return latin > 3 * cjk

    def refusal_problems(self, obs: Observation, *, pressed: bool) -> list[str]:
        """Why this is not a clean refusal (empty when it is one)."""
        problems = []
        if obs.changed:
            problems.append(f"database changed: {obs.changed}")
        others = [c for c in obs.calls if c["method"] != "answerCallbackQuery"]
        if pressed:
            if others:
                problems.append(f"sent {_summary(others)}")
            said = obs.answer or ""
        else:
            replies = [c for c in others if c["method"] == "sendMessage"]
            extra = [c for c in others if c not in replies or _chat_of(c) != obs.chat_id]
            if extra or len(replies) != 1:
                problems.append(f"sent {_summary(others)} (one reply expected)")
            said = str(replies[0]["params"].get("text", "")) if replies else ""
        if not self.in_language(said, obs.language):
            problems.append(f"no polite {obs.language} answer: {said[:80]!r}")
        return problems

    def ignore_problems(
        self, obs: Observation, tolerate: frozenset[str] = frozenset()
    ) -> list[str]:
        """Why a message sent as a group or channel was not simply turned away."""
        problems = []
        changed = {k: v for k, v in obs.changed.items() if k not in tolerate}
        if changed:
            problems.append(f"database changed: {changed}")
        sorry = {self.catalogs.gettext(lang, _IMPERSONAL)[:20] for lang in ("zh-CN", "en")}
        for call in obs.calls:
            text = str(call["params"].get("text", ""))
            if call["method"] != "sendMessage" or not any(s in text for s in sorry):
                problems.append(f"sent {_summary([call])}")
        return problems


_IMPERSONAL = (
    "I can't tell who you are when you write as the group or a channel. "
    "Please turn off 'Remain anonymous' or write from your own account."
)


def _summary(calls: list[dict[str, Any]]) -> str:
    return (
        ", ".join(
            f"{c['method']}→{_chat_of(c)} {str(c['params'].get('text') or c['params'].get('caption') or '')[:40]!r}"
            for c in calls
        )
        or "nothing"
    )
