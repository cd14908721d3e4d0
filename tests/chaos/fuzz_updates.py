"""Generated updates for the fuzz test: hostile text, every update type, forged buttons.

Hypothesis draws *actions* (what a person, Telegram or an attacker does); `Driver` carries
them out against the sandbox, resolving their indices against what is there at that moment
(the chat's members, its recent messages, the buttons on the bot's recent messages). Most
actions go through the sandbox's own scripting API, as a person would act (send, reply,
edit, delete, press, photo, document, voice, on behalf of a channel or as an anonymous
admin); the rest are raw updates injected as Telegram would deliver them: callback queries
with forged or stale data, every other update type, messages from bots, service messages,
huge texts, and earlier updates delivered again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from bot.demo import DEMO_BOT, RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP
from tests.e2e.harness import SandboxClient, tiny_png

FUZZ_GROUP = -1001000000099  # a throwaway group: updates that change a group's fate go here
STRANGER = 4242
PEOPLE = [1001, 1002, 1003, 1004, 2001, 3001, STRANGER]
GROUPS = [RESIDENTS_GROUP, STAFF_GROUP, VOLUNTEERS_GROUP, FUZZ_GROUP]
COMMANDS = (
    "start help ask broadcast cancel checkin dashboard elders errand errands faq forgetme "
    "language mydata notice notices points poll repair setup signup signups staff ticket "
    "tickets volunteer"
).split()

HOSTILE = [
    "'; DROP TABLE users; --",
    "1' OR '1'='1",
    '") ; DELETE FROM tickets WHERE ("1"="1',
    "<b>粗体</b><i>斜体</i><a href='javascript:alert(1)'>点我</a>",
    "<script>alert('x')</script>",
    "</pre></code><pre>",
    "&lt;&amp;&gt;&#x27;&quot;",
    "*bold* _italic_ `code` ```block``` [link](tg://user?id=1) ~strike~ ||spoiler||",
    "\u202e\u202dRTL\u2066override\u2069\u200f",
    "\u200b\u200c\u200d\ufeff",
    "\x00\x01\x02\x07\x1b[31mred\x1b[0m",
    "🌞🏠🔧🙏👍👎🆘" * 3,
    "。，、；：？！…—·《》「」『』【】",
    "ℌ𝔢𝔩𝔩𝔬 𝕨𝕠𝕣𝕝𝕕 ｆｕｌｌｗｉｄｔｈ",
    "物叶费在哪交啊",
    "電梯壞了誰來修",
    "那个我想问一下啊就是那个快递放哪里了呀",
    "早上好各位邻居🌞",
    "救命 我摔倒了",
    "我很好",
    "+1",
    "+9",
    "接龙 <b>王奶奶</b>",
    "取消",
    "3-1-302",
    "13812345678",
    "明天上午9点",
    "每周一9:00 收到请回复",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "{{7*7}} {% raw %}",
    "%s%s%s%n",
    "\\",
    "null",
    "NaN",
    "-1",
    "99999999999999999999999",
]

text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(min_size=0, max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.builds(
        lambda c, arg: f"/{c} {arg}".strip(),
        st.sampled_from(COMMANDS),
        st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)),
    ),
    st.builds(
        lambda c, bot: f"/{c}@{bot}",
        st.sampled_from(COMMANDS),
        st.sampled_from([DEMO_BOT["username"], "other_bot", ""]),
    ),
    st.builds(
        lambda ch, n: ch * n, st.sampled_from(["啊", "a", "🌞", "<", "&"]), st.integers(1000, 4096)
    ),
)
index = st.integers(min_value=0, max_value=1000)
forged_data = st.one_of(
    st.text(min_size=1, max_size=64),
    st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(
            ["su", "pl", "dlg", "ack", "tk", "er", "care", "nt", "faq", "grp", "role", "lang", "x"]
        ),
        st.lists(
            st.one_of(
                st.sampled_from(["j", "c", "a", "t", "x", "h", "v", "ok", "_back", "_cancel"]),
                st.integers(-5, 10**12).map(str),
                st.integers(10**15, 10**40).map(str),  # beyond any id: no overflow anywhere
                st.text(max_size=8),
            ),
            max_size=5,
        ),
    ),
)
RAW_KINDS = [
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "message_reaction",
    "poll_answer",
    "inline_query",
    "chosen_inline_result",
    "chat_join_request",
    "my_chat_member",
    "chat_member",
    "service",
    "from_bot",
    "huge",
    "sticker",
    "contact",
    "location",
    "callback_no_message",
    "pre_checkout_query",
    "shipping_query",
    "migrate",
]

action = st.one_of(
    st.tuples(st.just("send"), index, index, text),
    st.tuples(st.just("send"), index, index, text),  # the most common thing people do
    st.tuples(st.just("reply"), index, index, text, index),
    st.tuples(st.just("edit"), index, index, text, index),
    st.tuples(st.just("delete"), index, index, index),
    st.tuples(st.just("press"), index, index, index),
    st.tuples(st.just("press"), index, index, index),
    st.tuples(st.just("forged"), index, index, forged_data, index),
    st.tuples(st.just("file"), index, index, st.sampled_from(["photo", "document", "voice"]), text),
    st.tuples(st.just("as_channel"), index, text),
    st.tuples(st.just("anonymous_admin"), index, text),
    st.tuples(st.just("raw"), st.sampled_from(RAW_KINDS), index, index, text),
    st.tuples(st.just("repeat"), index),
)


@dataclass
class Driver:
    """Carries out actions against the sandbox, as people, Telegram and attackers would."""

    sandbox: SandboxClient
    members: dict[int, list[int]]
    recent: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    update_ids: list[int] = field(default_factory=list)
    seen_after: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(10**9))

    @property
    def chats(self) -> list[int]:
        return GROUPS + PEOPLE

    def _chat_and_user(self, chat_i: int, user_i: int) -> tuple[int, int]:
        chat = self.chats[chat_i % len(self.chats)]
        if chat > 0:
            return chat, chat  # a private chat: only its owner writes there
        members = self.members[chat]
        return chat, members[user_i % len(members)]

    async def refresh(self) -> None:
        """Learn the chats' recent messages (and the bot's buttons) since last time."""
        for chat in self.chats:
            messages = await self.sandbox.transcript(chat, after=self.seen_after.get(chat, 0))
            if messages:
                self.seen_after[chat] = messages[-1]["message_id"]
                kept = self.recent.setdefault(chat, [])
                kept.extend(m for m in messages if not m.get("deleted"))
                del kept[:-40]

    async def run(self, act: tuple[Any, ...]) -> None:
        """Carry out one action; count it by kind."""
        kind = act[0]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        await getattr(self, f"_{kind}")(*act[1:])

    # --- as people do, through the scripting API -------------------------------------------

    async def _send(self, chat_i: int, user_i: int, body: str, **extra: Any) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        status, answer = await self.sandbox.call(
            "POST",
            "/sandbox/api/send",
            json={"chat_id": chat, "user_id": user, "text": body, **extra},
        )
        if status != 200:  # what Telegram's app would not let through: deliver it raw instead
            await self._inject(self._message(chat, user, body[:5000]))
        else:
            self.update_ids.append(answer.get("update_id") or 0)

    async def _reply(self, chat_i: int, user_i: int, body: str, target_i: int) -> None:
        chat, _ = self._chat_and_user(chat_i, user_i)
        target = self._pick(chat, target_i)
        extra = {"reply_to_message_id": target["message_id"]} if target else {}
        await self._send(chat_i, user_i, body, **extra)

    async def _edit(self, chat_i: int, user_i: int, body: str, target_i: int) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        own = [m for m in self.recent.get(chat, []) if m["from"]["id"] == user and "text" in m]
        if not own:
            await self._send(chat_i, user_i, body)
            return
        target = own[target_i % len(own)]
        status, _ = await self.sandbox.call(
            "POST",
            "/sandbox/api/edit",
            json={
                "chat_id": chat,
                "user_id": user,
                "message_id": target["message_id"],
                "text": body,
            },
        )
        if status != 200:
            edited = self._message(chat, user, body[:5000], message_id=target["message_id"])
            edited["edit_date"] = edited["date"]
            await self._inject(edited, kind="edited_message")

    async def _delete(self, chat_i: int, user_i: int, target_i: int) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        target = self._pick(chat, target_i)
        if target is not None:
            admin = 2001 if chat < 0 else user
            await self.sandbox.call(
                "POST",
                "/sandbox/api/delete",
                json={"chat_id": chat, "user_id": admin, "message_id": target["message_id"]},
            )
            self.recent[chat] = [m for m in self.recent[chat] if m is not target]

    async def _press(self, chat_i: int, user_i: int, button_i: int) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        buttons = [
            (m["message_id"], b["callback_data"])
            for m in self.recent.get(chat, [])
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
            if b.get("callback_data")
        ]
        if not buttons:
            return
        message_id, data = buttons[button_i % len(buttons)]
        await self.sandbox.call(
            "POST",
            "/sandbox/api/press",
            json={"chat_id": chat, "user_id": user, "message_id": message_id, "data": data},
        )

    async def _file(self, chat_i: int, user_i: int, what: str, caption: str) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        payload: dict[str, Any] = {"chat_id": chat, "user_id": user, "caption": caption[:1000]}
        if what == "photo":
            payload["photo"] = tiny_png()
        elif what == "document":
            payload.update(document=tiny_png(), file_name="faq.xlsx", mime_type="application/zip")
        else:
            payload.update(voice=tiny_png(), duration=3)
        await self.sandbox.call("POST", "/sandbox/api/send", json=payload)

    async def _as_channel(self, chat_i: int, body: str) -> None:
        chat = GROUPS[chat_i % len(GROUPS)]
        channel = {"id": -1009000000001, "title": "某频道 <b>", "username": "some_channel"}
        await self._send_as(chat, body, channel)

    async def _anonymous_admin(self, chat_i: int, body: str) -> None:
        await self._send_as(GROUPS[chat_i % len(GROUPS)], body, True)

    async def _send_as(self, chat: int, body: str, sender_chat: Any) -> None:
        status, _ = await self.sandbox.call(
            "POST",
            "/sandbox/api/send",
            json={"chat_id": chat, "user_id": 2001, "text": body, "sender_chat": sender_chat},
        )
        if status != 200:
            await self._inject(self._message(chat, 2001, body[:5000]))

    # --- as Telegram (or an attacker) delivers it, raw -----------------------------------------

    async def _forged(self, chat_i: int, user_i: int, data: str, target_i: int) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        target = self._pick(chat, target_i, bot_only=True) or self._message(
            chat, DEMO_BOT["id"], "x"
        )
        query = {
            "id": str(next(self.ids)),
            "from": self._user(user),
            "chat_instance": "fuzz",
            "message": {
                k: v for k, v in target.items() if k not in ("deleted", "pinned", "keyboard")
            },
            "data": data,
        }
        await self._inject(query, kind="callback_query")

    async def _raw(self, kind: str, chat_i: int, user_i: int, body: str) -> None:
        chat, user = self._chat_and_user(chat_i, user_i)
        group = GROUPS[chat_i % len(GROUPS)]
        now = 1_764_000_000
        if kind == "edited_message":
            target = self._pick(chat, user_i)
            message = self._message(
                chat, user, body or "x", message_id=(target or {}).get("message_id")
            )
            message["edit_date"] = now
            await self._inject(message, kind="edited_message")
        elif kind in ("channel_post", "edited_channel_post"):
            channel = {"id": -1009000000001, "type": "channel", "title": "频道"}
            await self._inject(
                {
                    "message_id": next(self.ids),
                    "date": now,
                    "chat": channel,
                    "text": body or "x",
                    "sender_chat": channel,
                },
                kind=kind,
            )
        elif kind == "message_reaction":
            await self._inject(
                {
                    "chat": self._chat(group),
                    "message_id": 1,
                    "user": self._user(user),
                    "date": now,
                    "old_reaction": [],
                    "new_reaction": [{"type": "emoji", "emoji": "👍"}],
                },
                kind=kind,
            )
        elif kind == "poll_answer":
            await self._inject(
                {
                    "poll_id": str(next(self.ids)),
                    "user": self._user(user),
                    "option_ids": [0],
                    "option_persistent_ids": ["0"],
                },
                kind=kind,
            )
        elif kind == "inline_query":
            await self._inject(
                {
                    "id": str(next(self.ids)),
                    "from": self._user(user),
                    "query": body[:256],
                    "offset": "",
                },
                kind=kind,
            )
        elif kind == "chosen_inline_result":
            await self._inject(
                {"result_id": "1", "from": self._user(user), "query": body[:256]}, kind=kind
            )
        elif kind == "chat_join_request":
            await self._inject(
                {
                    "chat": self._chat(group),
                    "from": self._user(user),
                    "user_chat_id": user,
                    "date": now,
                },
                kind=kind,
            )
        elif kind in ("my_chat_member", "chat_member"):
            # Membership changes as Telegram reports them (the sandbox builds the objects): the
            # bot in the throwaway group, a stranger in any group.
            how = ["add", "remove", "promote", "demote", "kick"][user_i % 5]
            target = DEMO_BOT["id"] if kind == "my_chat_member" else STRANGER
            await self.sandbox.call(
                "POST",
                "/sandbox/api/members",
                json={
                    "chat_id": FUZZ_GROUP if kind == "my_chat_member" else group,
                    "user_id": target,
                    "action": how,
                    "by": 2001,
                },
            )
        elif kind == "service":
            message = self._message(group, user, "")
            del message["text"]
            choice = user_i % 4
            if choice == 0:
                message["new_chat_members"] = [self._user(STRANGER), dict(DEMO_BOT, is_bot=True)]
            elif choice == 1:
                message["left_chat_member"] = self._user(STRANGER)
            elif choice == 2:
                message["new_chat_title"] = body[:128] or "新群名"
            else:
                message["pinned_message"] = self._message(group, user, "pinned")
            await self._inject(message)
        elif kind == "from_bot":
            message = self._message(chat if chat < 0 else group, 5555, body or "/help")
            message["from"] = {"id": 5555, "is_bot": True, "first_name": "另一个机器人"}
            await self._inject(message)
        elif kind == "huge":
            await self._inject(self._message(chat, user, ((body or "啊") * 5000)[:20000]))
        elif kind == "sticker":
            message = self._message(chat, user, "")
            del message["text"]
            message["sticker"] = {
                "file_id": "stk",
                "file_unique_id": "stku",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "🙂",
            }
            await self._inject(message)
        elif kind == "contact":
            message = self._message(chat, user, "")
            del message["text"]
            message["contact"] = {"phone_number": "+8613812345678", "first_name": body[:20] or "x"}
            await self._inject(message)
        elif kind == "location":
            message = self._message(chat, user, "")
            del message["text"]
            message["location"] = {"latitude": 31.2, "longitude": 121.5}
            await self._inject(message)
        elif kind == "callback_no_message":
            await self._inject(
                {
                    "id": str(next(self.ids)),
                    "from": self._user(user),
                    "chat_instance": "x",
                    "inline_message_id": "AAAA",
                    "data": body[:64] or "x",
                },
                kind="callback_query",
            )
        elif kind == "pre_checkout_query":
            await self._inject(
                {
                    "id": str(next(self.ids)),
                    "from": self._user(user),
                    "currency": "CNY",
                    "total_amount": 100,
                    "invoice_payload": body[:128] or "x",
                },
                kind=kind,
            )
        elif kind == "shipping_query":
            await self._inject(
                {
                    "id": str(next(self.ids)),
                    "from": self._user(user),
                    "invoice_payload": "x",
                    "shipping_address": {
                        "country_code": "CN",
                        "state": "",
                        "city": "上海",
                        "street_line1": body[:64] or "x",
                        "street_line2": "",
                        "post_code": "200000",
                    },
                },
                kind=kind,
            )
        elif kind == "migrate":
            message = self._message(FUZZ_GROUP, 2001, "")
            del message["text"]
            message["migrate_to_chat_id"] = -1001000000098
            await self._inject(message)

    async def _repeat(self, back_i: int) -> None:
        known = [u for u in self.update_ids[-200:] if u]
        if known:
            await self.sandbox.call(
                "POST",
                "/sandbox/api/inject",
                json={"repeat_update_id": known[back_i % len(known)]},
            )

    # --- helpers ------------------------------------------------------------------------------

    def _pick(self, chat: int, i: int, bot_only: bool = False) -> dict[str, Any] | None:
        messages = [
            m
            for m in self.recent.get(chat, [])
            if not bot_only or m["from"]["id"] == DEMO_BOT["id"]
        ]
        return messages[i % len(messages)] if messages else None

    async def _inject(self, body: dict[str, Any], kind: str = "message") -> None:
        status, answer = await self.sandbox.call(
            "POST", "/sandbox/api/inject", json={"update": {kind: body}}
        )
        assert status == 200, answer
        self.update_ids.append(answer["update_id"])

    def _message(
        self, chat: int, user: int, body: str, message_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "message_id": message_id or next(self.ids),
            "date": 1_764_000_000,
            "chat": self._chat(chat),
            "from": self._user(user),
            "text": body,
        }

    @staticmethod
    def _chat(chat: int) -> dict[str, Any]:
        if chat > 0:
            return {"id": chat, "type": "private", "first_name": "某人"}
        return {"id": chat, "type": "supergroup", "title": "群"}

    @staticmethod
    def _user(user: int) -> dict[str, Any]:
        return {
            "id": user,
            "is_bot": False,
            "first_name": f"用户{user}",
            "language_code": "zh-hans",
        }
