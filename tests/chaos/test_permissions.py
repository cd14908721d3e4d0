"""Every privileged command and button of Linli against every role (issue 10, permissions).

The table below is the contract, documented in docs/security.md: for each action, which roles
may do it; everyone else is refused politely in their own language with no effect in the
database or the chats (tests/chaos/permissions_kit.py says exactly how a case is judged).
Commands in a group are also sent as the group's anonymous admin and on behalf of a channel:
such messages cannot be tied to a person and must change nothing.

One running bot serves every case. Refused roles share one prepared target (a refusal
changes nothing); each allowed role gets a fresh one. Mismatches are collected and shown
together as a table at the end.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from collections.abc import Callable as Fn
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.demo import GROUPS, RESIDENTS_GROUP
from bot.services.errands import ErrandDraft
from bot.services.notices import NoticeDraft
from bot.services.tickets import Draft
from bot.settings import Settings
from storage.models import (
    CareAlert,
    Community,
    Dialog,
    DialogStatus,
    Elder,
    ElderStatus,
    Errand,
    ErrandStatus,
    Membership,
    Role,
    Signup,
    Ticket,
)
from tests.chaos.permissions_kit import (
    ANONYMOUS,
    CHANNEL,
    ELDER,
    PRIVATE,
    REQUESTER,
    ROLES,
    STAFF,
    USERS,
    VOLUNTEERS,
    Arena,
    Observation,
    Target,
)
from tests.e2e.harness import running
from tests.proof import record

UNCOVERED = (
    "明年世界杯在哪个国家举办",
    "珠穆朗玛峰有多高",
    "恐龙是什么时候灭绝的",
    "月亮离地球多远",
)
RESIDENTS_TITLE = next(title for cid, title, *_ in GROUPS if cid == RESIDENTS_GROUP)
STAFFISH = frozenset({"staff", "admin", "global_admin"})
VOLUNTEERISH = STAFFISH | {"volunteer"}
ADMINS = frozenset({"admin", "global_admin"})

Run = Callable[[Arena, str, Target], Awaitable[Observation]]
Effect = Callable[[Arena, Observation, Target], Awaitable[bool]]
Prepare = Callable[[Arena], Awaitable[Target]]


@dataclass(frozen=True)
class Action:
    """One privileged thing, who may do it, and how to see that it happened."""

    name: str
    run: Run
    effect: Effect
    allowed: frozenset[str]
    prepare: Prepare | None = None
    own: frozenset[str] = frozenset()  # served for their own community, not for A
    pressed: bool = False
    impersonal: bool = False  # a group command: also sent as the group and as a channel

    def expected(self, role: str) -> str:
        """allow, own or refuse."""
        if role in self.allowed:
            return "allow"
        return "own" if role in self.own else "refuse"


async def _none(arena: Arena) -> Target:
    return Target()


# --- how actions are done --------------------------------------------------------------------


def command(text: str | Fn[[Arena, Target], str], where: int) -> Run:
    """Send a command in a chat (PRIVATE: the role's own; 0 chat in the target: the target's)."""

    async def run(arena: Arena, role: str, target: Target) -> Observation:
        body = text(arena, target) if callable(text) else text
        chat = target.chat_id if where is None else where
        return await arena.send(role, chat, body.replace("{n}", arena.unique("")))

    return run


def reply_to_prompt(text: str | Fn[[Arena, Target], str]) -> Run:
    """Reply to the bot's prompt message in the target."""

    async def run(arena: Arena, role: str, target: Target) -> Observation:
        body = text(arena, target) if callable(text) else text
        return await arena.send(
            role,
            target.chat_id,
            body.replace("{n}", arena.unique("")),
            reply_to_message_id=target.message_id,
        )

    return run


async def press(arena: Arena, role: str, target: Target) -> Observation:
    """Press the target's button (forged when the role cannot see it)."""
    return await arena.press(role, target)


async def forge(arena: Arena, role: str, target: Target) -> Observation:
    """Callback data no button on the message carries."""
    return await arena.forge(role, target)


async def forge_in_private(arena: Arena, role: str, target: Target) -> Observation:
    """Forged callback data on a message in the role's own private chat."""
    chat = USERS[role]
    message = await arena.last_message(chat)
    return await arena.forge(role, Target(chat, message["message_id"], target.data))


def document(caption: str) -> Run:
    """Send a knowledge-base file with a caption."""

    async def run(arena: Arena, role: str, target: Target) -> Observation:
        marker = arena.unique("permimport")
        yaml = (
            f"- id: {marker}\n  questions: [{marker} 游泳池几点开]\n  answer: 游泳池每天9点开。\n"
        )
        return await arena.send_document(role, STAFF, yaml.encode(), "faq.yaml", caption)

    return run


# --- how effects are seen --------------------------------------------------------------------


def says(msgid: str) -> Effect:
    """The bot said this catalogue text (in the actor's language)."""

    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        return arena.said(USERS.get(obs.role, 0), msgid) in obs.text

    return effect


def changed(*tables: str) -> Effect:
    """These tables changed."""

    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        return all(t in obs.changed for t in tables)

    return effect


def shows(key: str) -> Effect:
    """The bot's answer shows a seed's marker (the A data the action is about)."""

    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        return str(arena.seeds[key]) in obs.text

    return effect


def offers(pattern: Fn[[Arena, Target], str]) -> Effect:
    """The bot's new message carries a button whose data matches."""

    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        regex = pattern(arena, target)
        return any(re.search(regex, d) for d in obs.buttons())

    return effect


async def edited(arena: Arena, obs: Observation, target: Target) -> bool:
    return bool(obs.sent("editMessageText", obs.chat_id))


async def dialog_in_a(arena: Arena, obs: Observation, target: Target) -> bool:
    found = await arena.scalar(
        select(Dialog.id).where(
            Dialog.user_id == USERS[obs.role],
            Dialog.community_id == arena.community_a,
            Dialog.status == DialogStatus.ACTIVE,
        )
    )
    return "dialogs" in obs.changed and found is not None


async def sent_document(arena: Arena, obs: Observation, target: Target) -> bool:
    return bool(obs.sent("sendDocument", obs.chat_id))


def both(*effects: Effect) -> Effect:
    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        return all([await e(arena, obs, target) for e in effects])

    return effect


# --- seeds and fresh targets -----------------------------------------------------------------


async def seed(arena: Arena) -> None:
    """What staff work on: a ticket, an errand, a notice, an FAQ entry and a gap, an enrolled
    elder, a sign-up list with one person on it."""
    services, a = arena.services, arena.community_a
    ticket = await services.tickets.submit(
        a, REQUESTER, Draft(category="lift", description="PERM电梯按钮失灵", building="5")
    )
    arena.seeds["ticket"] = ticket.number
    errand = await _errand(arena)
    arena.seeds["errand"] = errand
    now = services.clock.now()
    notice = await services.notices.draft(
        a, USERS["staff"], NoticeDraft(text="PERM周会通知", first_at=now + timedelta(days=7))
    )
    await services.notices.confirm(notice.id, USERS["staff"])
    arena.seeds["notice"] = f"#{notice.id}"
    entry = await services.faq.add_entry(
        a, ["PERM健身房几点开门"], "健身房每天6点开门PERMANSWER", USERS["staff"]
    )
    arena.seeds["faq"] = entry.id
    arena.seeds["faq_answer"] = "PERMANSWER"
    for question in UNCOVERED:  # one gap for the shared target, one per allowed role
        await arena.linli.say(REQUESTER, REQUESTER, question)
    elder, token = await services.care.invite_elder(
        a,
        USERS["staff"],
        name="PERM奶奶",
        address="2号楼101",
        phone="13900001111",
        as_family=False,
    )
    await services.care.accept(token, ELDER, "zh-CN")
    arena.seeds["elder"] = "PERM奶奶"
    arena.seeds["elder_id"] = elder.id
    await arena.linli.say(STAFF, USERS["staff"], "/signup 下周六9点 PERM义诊 限5人")
    join = await arena.button(STAFF, r"^su:j:\d+:1$")
    await arena.linli.sandbox.press(STAFF, USERS["staff"], join.message_id, join.data)
    activity_id = int(join.data.split(":")[2])
    arena.seeds["activity"] = activity_id
    arena.seeds["signup"] = await arena.scalar(
        select(Signup.id).where(Signup.activity_id == activity_id)
    )
    await arena.idle()


async def _errand(arena: Arena) -> int:
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(Errand)
            .where(Errand.status.in_([ErrandStatus.OPEN, ErrandStatus.TAKEN]))
            .values(status=ErrandStatus.CANCELLED)
        )
        await uow.commit()
    draft = ErrandDraft(
        kind="groceries",
        details="PERM买菜",
        from_place="菜场",
        to_place="5号楼",
        deadline=arena.services.clock.now() + timedelta(days=1),
    )
    errand = await arena.services.errands.create(arena.community_a, REQUESTER, draft)
    await arena.idle()
    return int(errand.id)


async def fresh_ticket(arena: Arena) -> int:
    ticket = await arena.services.tickets.submit(
        arena.community_a,
        REQUESTER,
        Draft(category="lift", description="PERM另一部电梯坏了", building="5"),
    )
    await arena.idle()
    return int(ticket.id)


def card_button(
    key: str, make: Callable[[Arena], Awaitable[int]], chat: int, pattern: str
) -> Prepare:
    """A fresh ticket or errand (`make` returns its id) and the button on its card whose data
    matches `pattern` (with `{id}` for the id)."""

    async def prepare(arena: Arena) -> Target:
        made = await make(arena)
        target = await arena.button(chat, pattern.replace("{id}", str(made)))
        target.info[key] = made
        return target

    return prepare


def ticket_button(action: str) -> Prepare:
    return card_button("ticket", fresh_ticket, STAFF, rf"^tk:{{id}}:{action}:")


def ticket_prompt(action: str) -> Prepare:
    """A fresh ticket whose card the staff member pressed: the prompt to reply to."""

    async def prepare(arena: Arena) -> Target:
        target = await arena.staff_press(await ticket_button(action)(arena))
        prompt = await arena.last_message(STAFF)
        assert f"#T{target.info['ticket']}·{action}" in prompt["text"]
        return Target(STAFF, prompt["message_id"], info=target.info)

    return prepare


async def ticket_assign_menu(arena: Arena) -> Target:
    target = await ticket_button("assign")(arena)
    return await arena.staff_press(target, rf"^tk:{target.info['ticket']}:as:{USERS['staff']}$")


def ticket_status(status: str) -> Effect:
    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        now = await arena.scalar(select(Ticket.status).where(Ticket.id == target.info["ticket"]))
        return "tickets" in obs.changed and str(now) == status

    return effect


def errand_button(action: str) -> Prepare:
    return card_button("errand", _errand, VOLUNTEERS, rf"^er:{{id}}:{action}$")


async def errand_assign_menu(arena: Arena) -> Target:
    target = await errand_button("asg")(arena)
    return await arena.staff_press(target, rf"^er:{target.info['errand']}:as:{USERS['volunteer']}$")


def errand_taken_by(who: str | None) -> Effect:
    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        taker = await arena.scalar(
            select(Errand.taker_id).where(Errand.id == target.info["errand"])
        )
        expected = USERS[who] if who else USERS.get(obs.role)
        return "errands" in obs.changed and taker == expected

    return effect


def notice_button(pattern: str) -> Prepare:
    async def prepare(arena: Arena) -> Target:
        marker = arena.unique("PERM停水")
        await arena.linli.say(STAFF, USERS["staff"], f"/notice 明天8点 {marker}")
        return await arena.button(STAFF, pattern)

    return prepare


async def care_alert(arena: Arena) -> Target:
    """A fresh call for help from the enrolled elder: its card in the staff group."""
    now = arena.services.clock.now()
    elder_id = arena.seeds["elder_id"]
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(CareAlert).where(CareAlert.closed_at.is_(None)).values(closed_at=now)
        )
        await uow.session.execute(
            update(Elder).where(Elder.id == elder_id).values(status=ElderStatus.ACTIVE)
        )
        await uow.commit()
    alert = await arena.services.care.help(elder_id, ELDER)
    await arena.idle()
    target = await arena.button(STAFF, rf"^care:on:{alert}$")
    target.info["alert"] = alert
    return target


async def care_fine(arena: Arena) -> Target:
    target = await care_alert(arena)
    fine = await arena.button(STAFF, rf"^care:fine:{target.info['alert']}$")
    fine.info = target.info
    return fine


def alert_is(column: str) -> Effect:
    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        alert = await arena.scalar(select(CareAlert).where(CareAlert.id == target.info["alert"]))
        value = getattr(alert, column)
        return "care_alerts" in obs.changed and value is not None

    return effect


async def elder_active(arena: Arena) -> Target:
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(Elder)
            .where(Elder.id == arena.seeds["elder_id"])
            .values(status=ElderStatus.ACTIVE)
        )
        await uow.commit()
    return Target(data=f"care:pause:{arena.seeds['elder_id']}")


async def invite_family(arena: Arena) -> Target:
    return Target(data=f"care:inv:{arena.seeds['elder_id']}:family")


async def invite_button(arena: Arena) -> Target:
    return Target(data=f"care:new:{arena.community_a}")


async def residents_may(arena: Arena) -> Target:
    await reset_flags(arena)
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(Community)
            .where(Community.id == arena.community_a)
            .values(residents_signups=True)
        )
        await uow.commit()
    return Target()


async def who_confirmed(arena: Arena) -> Target:
    """A notice posted now (with 收到), and the 👥 button of /notices for it."""
    await arena.linli.say(STAFF, USERS["staff"], f"/broadcast {arena.unique('PERM紧急通知')}")
    await arena.staff_press(await arena.button(STAFF, r"^nt:c:\d+$"))
    await arena.linli.say(STAFF, USERS["staff"], "/notices")
    return await arena.button(STAFF, r"^nt:w:\d+$")


async def who_confirmed_csv(arena: Arena) -> Target:
    return await arena.staff_press(await who_confirmed(arena), r"^nt:csv:\d+$")


async def signups_list(arena: Arena) -> Target:
    await arena.linli.say(STAFF, USERS["staff"], "/signups")
    return await arena.button(STAFF, rf"^su:x:{arena.seeds['activity']}:csv$")


async def signups_attendance(arena: Arena) -> Target:
    return await arena.button(STAFF, rf"^su:a:{arena.seeds['activity']}$")


async def attendance_card(arena: Arena) -> Target:
    card = await signups_attendance(arena)
    return await arena.staff_press(card, rf"^su:t:{arena.seeds['signup']}$")


async def faq_delete_confirmation(arena: Arena) -> Target:
    entry = await arena.services.faq.add_entry(
        arena.community_a, [arena.unique("PERM临时问题")], "临时答案", USERS["staff"]
    )
    await arena.linli.say(STAFF, USERS["staff"], f"/faq delete {entry.id}")
    return await arena.button(STAFF, r"^fqa:d:")


async def faq_list_page(arena: Arena) -> Target:
    await arena.linli.say(STAFF, USERS["staff"], "/faq list")
    return await arena.button(STAFF, r"^fqa:l:\d+$")


async def faq_gaps(arena: Arena) -> Target:
    await arena.linli.say(STAFF, USERS["staff"], "/faq gaps")
    return await arena.button(STAFF, r"^faq:g:\d+$")


async def gap_prompt(arena: Arena) -> Target:
    await arena.staff_press(await faq_gaps(arena))
    prompt = await arena.last_message(STAFF)
    assert "#Q" in prompt["text"]
    return Target(STAFF, prompt["message_id"])


async def reset_flags(arena: Arena) -> Target:
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(Community).values(residents_signups=False, errands_to_residents=False)
        )
        await uow.commit()
    return Target()


def li_holds(role: Role, held: bool) -> Prepare:
    """李先生 holds (or does not hold) a role in A before the case."""

    async def prepare(arena: Arena) -> Target:
        async with arena.db.uow() as uow:  # type: ignore[union-attr]
            if held:
                await uow.memberships.grant(REQUESTER, arena.community_a, role, None)
            else:
                await uow.memberships.revoke(REQUESTER, arena.community_a, role)
            await uow.commit()
        return Target()

    return prepare


def li_has(role: Role, held: bool) -> Effect:
    async def effect(arena: Arena, obs: Observation, target: Target) -> bool:
        rows = await arena.rows(
            select(Membership.role).where(
                Membership.user_id == REQUESTER, Membership.community_id == arena.community_a
            )
        )
        return "memberships" in obs.changed and (role in {r for (r,) in rows}) == held

    return effect


async def new_group(arena: Arena) -> Target:
    return Target(chat_id=await arena.fresh_group())


async def setup_question(arena: Arena) -> Target:
    chat = await arena.fresh_group()
    await arena.linli.say(chat, USERS["staff"], "/setup")
    return await arena.button(chat, rf"^setup:k:{arena.community_a}:r$")


async def staff_group_setup_question(arena: Arena) -> Target:
    await arena.linli.say(STAFF, USERS["staff"], "/setup")
    target = await arena.button(STAFF, rf"^setup:k:{arena.community_a}:s$")
    # forged: register A's staff group as the staff group of B
    target.data = f"setup:k:{arena.community_b}:s"
    return target


async def registered_in_a(arena: Arena, obs: Observation, target: Target) -> bool:
    chat = await arena.services.groups.chat(target.chat_id)
    return "chats" in obs.changed and chat is not None and chat.community_id == arena.community_a


async def ladder_changed(arena: Arena, obs: Observation, target: Target) -> bool:
    return "communities" in obs.changed


async def default_ladder(arena: Arena) -> Target:
    async with arena.db.uow() as uow:  # type: ignore[union-attr]
        await uow.session.execute(
            update(Community).where(Community.id == arena.community_a).values(checkin_ladder=None)
        )
        await uow.commit()
    return Target()


# --- the table -------------------------------------------------------------------------------


def button(
    name: str, prepare: Prepare, allowed: frozenset[str], effect: Effect, run: Run = press
) -> Action:
    """A button: pressed by each role on a message staff got (or forged)."""
    return Action(name, run, effect, allowed, prepare, pressed=True)


def cmd(
    name: str,
    text: str | Fn[[Arena, Target], str],
    where: int | None,
    allowed: frozenset[str],
    effect: Effect,
    **kw: Any,
) -> Action:
    return Action(
        name, command(text, where), effect, allowed, impersonal=where not in (PRIVATE,), **kw
    )


# Who may do what. Roles: stranger, resident, volunteer, staff, other_staff (staff of
# community B), admin (community admin of A), global_admin (LINLI_ADMIN_IDS). Every role not
# allowed (and not "own") must be refused; group commands are also sent as the anonymous
# admin and as a channel, which must be ignored. Chats: STAFF / VOLUNTEERS are A's groups,
# PRIVATE the person's own chat, None the target's (a fresh unregistered group).
# fmt: off
ACTIONS: list[Action] = [
    # notices
    cmd("/notice <time> <text>", "/notice 明天8点 PERM停水通知{n}", STAFF, STAFFISH,
        both(changed("notices"), offers(lambda a, t: r"^nt:c:"))),
    cmd("/notice (private: the dialog)", "/notice", PRIVATE, STAFFISH - {"global_admin"},
        dialog_in_a, own=frozenset({"other_staff"})),
    cmd("/broadcast <text>", "/broadcast PERM今天停电{n}", STAFF, STAFFISH, changed("notices")),
    cmd("/notices", "/notices", STAFF, STAFFISH, shows("notice")),
    button("notice card: ✅ confirm", notice_button(r"^nt:c:\d+$"), STAFFISH, changed("notices")),
    button("notice card: ✅ confirm (forged)", notice_button(r"^nt:c:\d+$"), STAFFISH,
           changed("notices"), run=forge_in_private),
    button("notice card: 📌 pin", notice_button(r"^nt:o:\d+:pin$"), STAFFISH, changed("notices")),
    button("notice card: ✏️ edit text", notice_button(r"^nt:e:\d+:text$"), STAFFISH, dialog_in_a),
    button("notice card: ✖️ cancel", notice_button(r"^nt:x:\d+$"), STAFFISH, changed("notices")),
    button("/notices: 👥 who confirmed", who_confirmed, STAFFISH,
           says("👥 Who confirmed notice #{id}")),
    button("who confirmed: ⬇️ CSV", who_confirmed_csv, STAFFISH, sent_document),
    # the knowledge base
    cmd("/faq show <id>", lambda a, t: f"/faq show {a.seeds['faq']}", STAFF, STAFFISH,
        shows("faq_answer")),
    cmd("/faq list", "/faq list", STAFF, STAFFISH, offers(lambda a, t: r"^fqa:l:")),
    cmd("/faq add <questions> + answer", "/faq add PERM停车场{n}在哪里\n停车场在小区北门。", STAFF,
        STAFFISH, changed("faq_entries")),
    cmd("/faq edit <id> + answer",
        lambda a, t: f"/faq edit {a.seeds['faq']}\n健身房每天6点开门PERMANSWER，周一闭馆{{n}}。",
        STAFF, STAFFISH, changed("faq_entries")),
    cmd("/faq delete <id> (asks first)", lambda a, t: f"/faq delete {a.seeds['faq']}", STAFF,
        STAFFISH, offers(lambda a, t: r"^fqa:d:")),
    cmd("/faq export", "/faq export", STAFF, STAFFISH, sent_document),
    Action("/faq import (a file, caption /faq import)", document("/faq import"),
           changed("faq_entries"), STAFFISH, impersonal=True),
    cmd("/faq reload", "/faq reload", STAFF, STAFFISH,
        says("Re-read the knowledge-base files: {entries} entries, {questions} questions.")),
    cmd("/faq gaps", "/faq gaps", STAFF, STAFFISH, offers(lambda a, t: r"^faq:g:")),
    button("/faq list: next page", faq_list_page, STAFFISH, edited),
    button("/faq delete: 'yes, delete' (only the asker)", faq_delete_confirmation,
           frozenset({"staff"}), changed("faq_entries")),
    button("gap: ➕ add as FAQ", faq_gaps, STAFFISH,
           says("Reply to this message with the answer to:")),
    Action("gap: reply to the prompt with the answer", reply_to_prompt("答案PERM{n}"),
           changed("faq_entries"), STAFFISH, gap_prompt, impersonal=True),
    # repairs
    cmd("/tickets (the queue)", "/tickets", STAFF, STAFFISH, shows("ticket")),
    cmd("/tickets export", "/tickets export", STAFF, STAFFISH, sent_document),
    cmd("/ticket <number>", lambda a, t: f"/ticket {a.seeds['ticket']}", STAFF, STAFFISH,
        says("History:")),
    button("ticket card: ✅ accept", ticket_button("accept"), STAFFISH, ticket_status("accepted")),
    button("ticket card: ✅ accept (forged)", ticket_button("accept"), STAFFISH,
           ticket_status("accepted"), run=forge_in_private),
    button("ticket card: 🛠 start", ticket_button("start"), STAFFISH, ticket_status("in_progress")),
    button("ticket card: 👷 assign (menu)", ticket_button("assign"), STAFFISH,
           offers(lambda a, t: rf"^tk:{t.info['ticket']}:as:")),
    button("ticket assign menu: a staff member", ticket_assign_menu, STAFFISH, changed("tickets")),
    button("ticket card: ⛔ reject (prompt)", ticket_button("reject"), STAFFISH,
           says("Reply to this message with the reason for closing it without a fix.")),
    button("ticket card: 🔁 duplicate (prompt)", ticket_button("duplicate"), STAFFISH,
           says("Reply to this message with the number of the original ticket (e.g. BX-2026-0001).")),
    Action("reply to the reject prompt", reply_to_prompt("PERM不属于物业维修范围"),
           ticket_status("closed"), STAFFISH, ticket_prompt("reject"), impersonal=True),
    Action("reply to the duplicate prompt", reply_to_prompt(lambda a, t: str(a.seeds["ticket"])),
           ticket_status("duplicate"), STAFFISH, ticket_prompt("duplicate")),
    # errands
    cmd("/errands (staff: all; volunteers: open)", "/errands", STAFF, VOLUNTEERISH, shows("errand")),
    cmd("/errands residents on", "/errands residents on", STAFF, STAFFISH, changed("communities"),
        prepare=reset_flags),
    cmd("/points", "/points", STAFF, VOLUNTEERISH, says("Your time-bank balance: {points} points")),
    button("errand card: 🙋 take", errand_button("take"), VOLUNTEERISH, errand_taken_by(None)),
    button("errand card: 👤 assign (menu)", errand_button("asg"), STAFFISH,
           offers(lambda a, t: rf"^er:{t.info['errand']}:as:")),
    button("errand assign menu: a volunteer", errand_assign_menu, STAFFISH,
           errand_taken_by("volunteer")),
    button("errand assign menu: a volunteer (forged)", errand_assign_menu, STAFFISH,
           errand_taken_by("volunteer"), run=forge_in_private),
    # daily check-ins
    cmd("/elders (staff group)", "/elders", STAFF, STAFFISH, shows("elder")),
    cmd("/elders (private)", "/elders", PRIVATE, STAFFISH - {"global_admin"}, shows("elder"),
        own=frozenset({"other_staff"})),
    cmd("/elders ladder 30 60 120 240", "/elders ladder 31 61 121 241", STAFF, STAFFISH,
        ladder_changed, prepare=default_ladder),
    button("check-in alert: 🏃 I'm on it", care_alert, STAFFISH, alert_is("responder_id")),
    button("check-in alert: 🏃 I'm on it (forged)", care_alert, STAFFISH,
           alert_is("responder_id"), run=forge_in_private),
    button("check-in alert: ✅ they are fine", care_fine, STAFFISH, alert_is("closed_at")),
    button("elder card: ⏸ pause (forged)", elder_active, STAFFISH, changed("elders"),
           run=forge_in_private),
    button("/elders: ➕ invite an elder (forged)", invite_button, STAFFISH, changed("dialogs"),
           run=forge_in_private),
    button("elder card: 👪 invite family (forged)", invite_family, STAFFISH,
           changed("care_invites"), run=forge_in_private),
    # sign-ups and polls
    cmd("/signup <time> <title>", "/signup 下周日9点 PERM健步走{n} 限9人", STAFF, STAFFISH,
        changed("activities"), prepare=reset_flags),
    cmd("/signup, when residents may start lists", "/signup 下周日10点 PERM读书会{n}", STAFF,
        STAFFISH | {"resident", "volunteer"}, changed("activities"), prepare=residents_may),
    cmd("/signups", "/signups", STAFF, STAFFISH, offers(lambda a, t: r"^su:x:")),
    cmd("/signups residents on", "/signups residents on", STAFF, STAFFISH, changed("communities"),
        prepare=reset_flags),
    button("/signups: ⬇️ export", signups_list, STAFFISH, sent_document),
    button("/signups: ✅ attendance card", signups_attendance, STAFFISH,
           offers(lambda a, t: r"^su:t:")),
    button("attendance card: mark present", attendance_card, STAFFISH, changed("signups")),
    button("attendance card: mark present (forged)", attendance_card, STAFFISH, changed("signups"),
           run=forge_in_private),
    cmd("/poll <question> | <options>", "/poll PERM哪天大扫除{n} | 周六 | 周日", STAFF, STAFFISH,
        changed("polls")),
    # the dashboard (it shows each person the communities they are staff of)
    cmd("/dashboard (private)", "/dashboard", PRIVATE, STAFFISH | {"other_staff"},
        both(changed("dashboard_logins"), says("🖥 Your dashboard link (works once, for 10 minutes; do not forward it):\n{url}"))),
    # roles
    cmd("/staff @user (grant)", "/staff @li_xiansheng", STAFF, ADMINS, li_has(Role.STAFF, True),
        prepare=li_holds(Role.STAFF, False)),
    cmd("/staff remove @user", "/staff remove @li_xiansheng", STAFF, ADMINS,
        li_has(Role.STAFF, False), prepare=li_holds(Role.STAFF, True)),
    cmd("/volunteer @user (grant)", "/volunteer @li_xiansheng", STAFF, STAFFISH,
        li_has(Role.VOLUNTEER, True), prepare=li_holds(Role.VOLUNTEER, False)),
    cmd("/volunteer remove @user", "/volunteer remove @li_xiansheng", STAFF, STAFFISH,
        li_has(Role.VOLUNTEER, False), prepare=li_holds(Role.VOLUNTEER, True)),
    # groups
    cmd("/setup (a new group)", "/setup", None, STAFFISH,
        offers(lambda a, t: rf"^setup:[kc]:{a.community_a}(:|$)"), prepare=new_group,
        own=frozenset({"other_staff"})),
    button("/setup: kind button (a new group)", setup_question, STAFFISH, registered_in_a),
    cmd("/setup (A's registered staff group)", "/setup", STAFF, STAFFISH,
        offers(lambda a, t: r"^setup:")),
    # last: the global admin's case really moves A's staff group into B
    button("/setup: forged 'into B' (A's staff group)", staff_group_setup_question,
           frozenset({"global_admin"}), changed("chats"), run=forge),
]
# fmt: on


# --- running the table -----------------------------------------------------------------------


@pytest.fixture
async def arena(make_settings: Callable[..., Settings]) -> AsyncIterator[Arena]:
    settings = make_settings(LINLI_ADMIN_IDS=str(USERS["global_admin"]))
    # Hundreds of cases: the HTTP clients' and PTB's DEBUG narration of every call would cost
    # more than the cases themselves. Linli's own loggers keep their level.
    chatty = [logging.getLogger(name) for name in ("httpcore", "httpx", "telegram")]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.INFO)
    try:
        async with running(settings, clock=FakeClock(), tick_seconds=None) as linli:
            arena = Arena(linli)
            await arena.build()
            await seed(arena)
            yield arena
            arena.close()
    finally:
        for logger, level in zip(chatty, levels, strict=True):
            logger.setLevel(level)


async def judge(arena: Arena, action: Action, role: str, target: Target) -> list[str]:
    obs = await action.run(arena, role, target)
    expected = "ignore" if role in (ANONYMOUS, CHANNEL) else action.expected(role)
    problems: list[str] = []
    if arena.crashed(obs):
        problems.append("crashed")
    effect = await action.effect(arena, obs, target)
    if expected == "allow":
        if not effect:
            problems.append(f"no effect (changed {obs.changed}; said {obs.text[:100]!r})")
    elif expected == "refuse":
        problems += arena.refusal_problems(obs, pressed=action.pressed)
        if effect and not obs.changed:
            problems.append("the effect happened")
    elif expected == "own":
        if effect:
            problems.append("served for community A")
    else:
        problems += arena.ignore_problems(obs)
    if expected == "allow":
        await arena.idle()
        async with arena.db.uow() as uow:  # type: ignore[union-attr]
            await uow.session.execute(  # a dialog left open would take the person's next words
                update(Dialog)
                .where(Dialog.status == DialogStatus.ACTIVE)
                .values(status=DialogStatus.CANCELLED)
            )
            await uow.commit()
    return (
        [f"{action.name:<52} {role:<16} expected {expected:<7} → {'; '.join(problems)}"]
        if problems
        else []
    )


async def run_table(arena: Arena, actions: list[Action]) -> tuple[int, list[str]]:
    cases, mismatches = 0, []
    for action in actions:
        prepare = action.prepare or _none
        arena.known = None
        shared = await prepare(arena)
        await arena.idle()
        others = [r for r in ROLES if action.expected(r) != "allow"]
        if action.impersonal:
            others += [ANONYMOUS, CHANNEL]
        for role in others:  # a refusal changes nothing: one target serves them all
            mismatches += await judge(arena, action, role, shared)
            cases += 1
        for role in ROLES:
            if action.expected(role) == "allow":
                arena.known = None
                mismatches += await judge(arena, action, role, await prepare(arena))
                cases += 1
    return cases, mismatches


async def impersonal_injections(arena: Arena) -> tuple[int, list[str]]:
    """A channel's own post, and a linked channel's post forwarded into the group by Telegram."""
    base = {
        "date": 1_790_000_000,
        "text": "/broadcast PERM频道广播",
        "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
    }
    channel = {"id": -1009000000001, "type": "channel", "title": "阳光花园 公告频道"}
    posts = [
        ("channel_post", {**base, "message_id": 1, "chat": channel, "sender_chat": channel}),
        (
            "message",
            {
                **base,
                "message_id": 900_001,
                "chat": {"id": RESIDENTS_GROUP, "type": "supergroup", "title": RESIDENTS_TITLE},
                "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
                "sender_chat": channel,
                "is_automatic_forward": True,
            },
        ),
    ]
    mismatches = []
    for key, message in posts:
        obs = await arena.inject_message(CHANNEL, message, key)
        # the channel is recorded as a chat seen (no community, no rights): bookkeeping
        tolerate = frozenset({"chats"}) if key == "channel_post" else frozenset()
        problems = arena.ignore_problems(obs, tolerate)
        if problems:
            mismatches.append(
                f"{'/broadcast as ' + key:<52} {CHANNEL:<16} expected ignore  → {'; '.join(problems)}"
            )
    return len(posts), mismatches


MARKS = {"allow": "✅", "refuse": "⛔", "own": "🔸"}
HEADERS = ("stranger", "resident", "volunteer", "staff", "staff of B", "admin", "global admin")


def markdown_table(actions: list[Action]) -> str:
    """The table as docs/security.md shows it."""
    lines = [
        "| action | " + " | ".join(HEADERS) + " | as the group / a channel |",
        "| --- |" + " :-: |" * (len(HEADERS) + 1),
    ]
    for action in actions:
        marks = [MARKS[action.expected(role)] for role in ROLES]
        anonymous = "🚫" if action.impersonal else "–"
        name = action.name.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| {name} | " + " | ".join(marks) + f" | {anonymous} |")
    return "\n".join(lines)


def test_docs_show_the_tested_table() -> None:
    """docs/security.md shows exactly this table (regenerate it with
    `python -m tests.chaos.test_permissions`)."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "security.md"
    assert markdown_table(ACTIONS) in docs.read_text(encoding="utf-8")


async def test_every_privileged_action_against_every_role(arena: Arena) -> None:
    started = time.monotonic()
    cases, mismatches = await run_table(arena, ACTIONS)
    more, more_mismatches = await impersonal_injections(arena)
    record("permission cases", cases + more)
    print(f"{cases + more} permission cases in {time.monotonic() - started:.1f} s")
    assert not mismatches + more_mismatches, "\n" + "\n".join(mismatches + more_mismatches)


if __name__ == "__main__":
    print(markdown_table(ACTIONS))
