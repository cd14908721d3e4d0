"""Residents' groups never get phones, flat addresses or elders' health from the bot (issue 10).

`group_privacy`, an autouse fixture of tests/e2e and tests/chaos, wraps `Runtime.stop`: before
any Linli of the test stops, the transcripts of its residents' groups (chats whose kind in the
database is `residents`, and the demo residents' group) are read and every message the BOT
wrote there is checked for a phone number (a Chinese mobile or a landline), a flat address
(3-1-302, 3号楼1单元302, room 302), a phone or address stored for a person or an elder, and the
words of an elder's check-in alert. People's own messages are not the bot's doing and are not
checked. At the end of the test a finding fails it with a readable list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.demo import DEMO_BOT, RESIDENTS_GROUP
from bot.i18n import Catalogs
from bot.runtime import Runtime
from bot.services.care import HELP_WORDS
from storage.models import Chat, ChatKind, Elder, User
from tests.proof import record

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
LANDLINE = re.compile(r"(?<![\d-])0\d{2,3}-?\d{7,8}(?![\d-])")
FLAT = re.compile(
    r"(?<![\d-])\d{1,3}-\d{1,2}-\d{2,4}(?![\d-])"  # 3-1-302 (not 2026-11-29)
    r"|\d+\s*(?:号楼|栋|幢|座)\s*(?:\d+\s*单元)?\s*\d{3,4}(?![\d年月日号点时:：])"  # 3号楼1单元302
    r"|\d+\s*单元\s*\d{3,4}(?![\d年月日号点时:：])"  # 1单元302
    r"|\b(?:unit\s*\d+\s*,?\s*)?room\s*\d{3,4}\b",  # unit 1, room 302
    re.IGNORECASE,
)
# The fixed words of the check-in alerts and their follow-ups (handlers/care.py), in both
# languages: an elder's name next to them says how the elder is.
ALERT_MSGIDS = (
    "🆘 {name} asks for help!",
    "⚠️ {name} has not answered the daily check-in of {when}.",
    "🚨 URGENT: {name} has not answered the daily check-in of {when}.",
    "Last check-in: {value}",
    "Please call or visit. Tap a button so the others know.",
    "🏃 {who} is going to see {name}.",
    "✅ All clear: {name} has answered and is fine.",
    "✅ All clear: {who} reached {name}: {outcome}.",
    "🏥 Taken to hospital",
)


def _alert_words() -> list[str]:
    catalogs, words = Catalogs(), set()
    for language in ("zh-CN", "en"):
        tr = catalogs.translator(language)
        for msgid in ALERT_MSGIDS:
            shown = tr(msgid, name="\0", when="\0", value="\0", who="\0", outcome="\0")
            words.update(w.strip(" :：!！.。") for w in shown.split("\0"))
    # Short fragments ("🚨 紧急", "reached") are ordinary words; 🆘 is only ever an elder's call.
    words -= {"reached", "🚨 URGENT"}
    return ["🆘", *sorted(w for w in words if len(w.strip("✅🚨🏥🆘⚠️ ")) >= 5)]


ALERT_WORDS = _alert_words()


class Leaks:
    """What the bot said in residents' groups that it must not have."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.others: set[int] = set()  # staff and volunteers' groups when Linli started

    async def note_start(self, runtime: Runtime) -> None:
        """Remember the groups that were for staff or volunteers when Linli started: a test
        that re-registers one as a residents' group does not make its history a leak."""
        if runtime.db is None:
            return
        async with runtime.db.uow() as uow:
            self.others |= set(
                (
                    await uow.session.scalars(
                        select(Chat.telegram_id).where(
                            Chat.kind.in_((ChatKind.STAFF, ChatKind.VOLUNTEERS))
                        )
                    )
                ).all()
            )

    async def scan(self, runtime: Runtime) -> None:
        """Read the residents' groups of a running Linli (with its sandbox)."""
        if runtime.sandbox is None or runtime.db is None:
            return
        groups, private, elders = await _from_database(runtime)
        scanned = 0
        async with aiohttp.ClientSession() as http:
            for chat_id in sorted(groups - self.others):
                url = f"{runtime.sandbox.base_url.rstrip('/')}/sandbox/api/transcript"
                async with http.get(url, params={"chat_id": str(chat_id)}) as response:
                    if response.status != 200:
                        continue  # a group the sandbox does not know (made in the database only)
                    messages = (await response.json())["messages"]
                for message in messages:
                    if (message.get("from") or {}).get("id") != DEMO_BOT["id"]:
                        continue
                    scanned += 1
                    for problem in _problems(_shown(message), private, elders):
                        self.found.append(
                            f"group {chat_id}, message {message['message_id']}: {problem}"
                        )
        record("group messages scanned", scanned)


async def _from_database(runtime: Runtime) -> tuple[set[int], set[str], list[str]]:
    """Residents' groups, the phones and addresses people gave, elders' names."""
    assert runtime.db is not None
    async with runtime.db.uow() as uow:
        s = uow.session
        groups = set(
            (await s.scalars(select(Chat.telegram_id).where(Chat.kind == ChatKind.RESIDENTS))).all()
        )
        private: set[str] = set()
        for phone, building, unit, room in (
            await s.execute(select(User.phone, User.building, User.unit, User.room))
        ).all():
            private.add(phone or "")
            if building and room:
                private.add(f"{building}-{unit or ''}-{room}")
        for phone, address in (await s.execute(select(Elder.phone, Elder.address))).all():
            private.update((phone or "", address or ""))
        elders = list((await s.scalars(select(Elder.name))).all())
    groups.add(RESIDENTS_GROUP)
    kept = {p for p in private if p and len(p) >= 5 and any(c.isdigit() for c in p)}
    return groups, kept, [e for e in elders if e]


def _shown(message: dict[str, Any]) -> str:
    """Everything a person sees of a message: its text or caption and its buttons."""
    markup = message.get("reply_markup") or {}
    labels = [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    return "\n".join([message.get("text") or message.get("caption") or "", *labels])


def _problems(text: str, private: set[str], elders: list[str]) -> Iterator[str]:
    for kind, pattern in (("a phone number", MOBILE), ("a landline", LANDLINE), ("a flat", FLAT)):
        for match in pattern.finditer(text):
            yield f"{kind} {match.group(0)!r} in {_excerpt(text, match.start())}"
    for value in private:
        if value in text:
            yield f"a stored phone or address {value!r} in {_excerpt(text, text.index(value))}"
    alert = [w for w in ALERT_WORDS if w in text]
    health = [w for w in HELP_WORDS if w in text and any(e in text for e in elders)]
    if alert or health:
        yield f"an elder's check-in alert {(alert + health)[:3]} in {_excerpt(text, 0)}"


def _excerpt(text: str, at: int) -> str:
    return repr(text[max(0, at - 40) : at + 60])


@pytest.fixture(autouse=True)
def group_privacy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test after which a residents' group holds a bot message it must not."""
    leaks = Leaks()
    start, stop = Runtime.start, Runtime.stop

    async def noted_start(runtime: Runtime) -> None:
        await start(runtime)
        await leaks.note_start(runtime)

    async def checked_stop(runtime: Runtime) -> None:
        try:
            await leaks.scan(runtime)
        except (aiohttp.ClientError, OSError, RuntimeError):
            pass  # a Linli that never fully started has nothing to read
        finally:
            await stop(runtime)

    monkeypatch.setattr(Runtime, "start", noted_start)
    monkeypatch.setattr(Runtime, "stop", checked_stop)
    yield
    if leaks.found:
        shown = "\n  ".join(leaks.found[:30])
        pytest.fail(
            f"the bot wrote private details in a residents' group ({len(leaks.found)}):\n  {shown}",
            pytrace=False,
        )
