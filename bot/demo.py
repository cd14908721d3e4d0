"""The demo community: who is in the sandbox, and the matching records in the database."""

from __future__ import annotations

import logging
from typing import Any

from storage.db import Database
from storage.models import ChatKind, Role

log = logging.getLogger(__name__)

DEMO_BOT = {"id": 7000000001, "first_name": "邻里 Linli", "username": "linli_demo_bot"}
SANDBOX_TOKEN = "7000000001:SANDBOX-linli-local-token-not-secret"
COMMUNITY = {"name": "阳光花园", "code": "YG"}

RESIDENTS_GROUP = -1001000000001
STAFF_GROUP = -1001000000002
VOLUNTEERS_GROUP = -1001000000003

# (id, first name, last name, username, language, roles, address)
PEOPLE: list[
    tuple[int, str, str | None, str | None, str, tuple[Role, ...], tuple[str, str, str]]
] = [
    (1001, "王", "阿姨", "wang_ayi", "zh-hans", (Role.RESIDENT,), ("3", "1", "302")),
    (1002, "李", "先生", "li_xiansheng", "zh-hans", (Role.RESIDENT,), ("5", "2", "1101")),
    (1003, "Emma", "Chen", "emma_chen", "en", (Role.RESIDENT,), ("8", "1", "601")),
    (1004, "李", "奶奶", None, "zh-hans", (Role.RESIDENT,), ("2", "1", "101")),
    (2001, "张", "主任", "director_zhang", "zh-hans", (Role.STAFF, Role.ADMIN), ("", "", "")),
    (
        3001,
        "小刘",
        None,
        "xiaoliu_volunteer",
        "zh-hans",
        (Role.RESIDENT, Role.VOLUNTEER),
        ("6", "2", "402"),
    ),
]

GROUPS: list[tuple[int, str, ChatKind, list[int], list[int]]] = [
    (
        RESIDENTS_GROUP,
        "阳光花园 业主群 · Sunny Garden residents",
        ChatKind.RESIDENTS,
        [1001, 1002, 1003, 1004, 2001, 3001],
        [2001],
    ),
    (STAFF_GROUP, "阳光花园 工作群 · Sunny Garden staff", ChatKind.STAFF, [2001], [2001]),
    (
        VOLUNTEERS_GROUP,
        "阳光花园 志愿者群 · Sunny Garden volunteers",
        ChatKind.VOLUNTEERS,
        [2001, 3001],
        [2001],
    ),
]


def demo_world() -> dict[str, Any]:
    """The sandbox's world: the bot, the demo people and their groups."""
    users = [
        {
            "id": pid,
            "first_name": first,
            "last_name": last,
            "username": username,
            "language_code": lang,
            "started": True,
        }
        for pid, first, last, username, lang, _roles, _addr in PEOPLE
    ]
    chats = [
        {
            "id": cid,
            "type": "supergroup",
            "title": title,
            "members": members,
            "bot_member": True,
            "admins": admins,
        }
        for cid, title, _kind, members, admins in GROUPS
    ]
    return {"bot": dict(DEMO_BOT), "users": users, "chats": chats, "privacy_mode": False}


async def seed_demo(db: Database, timezone: str, language: str) -> bool:
    """Create the demo community in an empty database; False if anything exists already."""
    async with db.uow() as uow:
        if await uow.communities.all():
            return False
        community = await uow.communities.add(
            COMMUNITY["name"], COMMUNITY["code"], timezone, language
        )
        for pid, first, last, username, lang, roles, (building, unit, room) in PEOPLE:
            user = await uow.users.upsert(
                pid, first_name=first, last_name=last, username=username, telegram_language=lang
            )
            user.building, user.unit, user.room = building or None, unit or None, room or None
            for role in roles:
                await uow.memberships.grant(pid, community.id, role, None)
        for cid, title, kind, members, _admins in GROUPS:
            chat = await uow.chats.upsert(cid, "supergroup", title)
            chat.community_id, chat.kind = community.id, kind
            for member in members:
                await uow.roster.seen(chat.id, member)
        await uow.commit()
    log.info("seeded the demo community %s", COMMUNITY["name"])
    return True
