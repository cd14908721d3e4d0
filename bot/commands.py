"""The command table: who may use which command, where, and its description."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_
from bot.services.types import Identity
from storage.models import Role


@dataclass(frozen=True)
class CommandSpec:
    """One bot command, as /help and Telegram's command menu show it."""

    name: str
    description: str
    role: Role | None = None  # None: everyone
    where: str = "any"  # "any", "private" or "group"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("Start talking with Linli")),
    CommandSpec("help", N_("What I can do for you")),
    CommandSpec("language", N_("Choose your language / 选择语言")),
    CommandSpec("ask", N_("Ask me a question, e.g. /ask 物业费在哪交")),
    CommandSpec("repair", N_("Report something that needs repairing (报修)")),
    CommandSpec("tickets", N_("Your repair requests; for staff, the queue (open, mine, overdue)")),
    CommandSpec("ticket", N_("One repair ticket and its history: /ticket BX-2026-0001")),
    CommandSpec("errand", N_("Ask a neighbour to run an errand for you (跑腿)")),
    CommandSpec(
        "errands", N_("Errands waiting for a volunteer; for staff, all of them"), Role.VOLUNTEER
    ),
    CommandSpec(
        "points",
        N_("Your time-bank points; /points name on|off for the thank-you board"),
        Role.VOLUNTEER,
    ),
    CommandSpec(
        "checkin", N_("Daily check-in (每日问安): yours, or set it up for a family member")
    ),
    CommandSpec(
        "cancel", N_("Stop what we are doing (a form you are filling in)"), where="private"
    ),
    CommandSpec("mydata", N_("See what Linli keeps about you")),
    CommandSpec("forgetme", N_("Delete what Linli keeps about you")),
    CommandSpec("setup", N_("Register this group with a community"), Role.STAFF, "group"),
    CommandSpec(
        "volunteer", N_("Make someone a volunteer (reply to them or name them)"), Role.STAFF
    ),
    CommandSpec("staff", N_("Make someone staff (reply to them or name them)"), Role.ADMIN),
    CommandSpec(
        "faq", N_("Knowledge base: search, add, edit, delete, import, export, gaps"), Role.STAFF
    ),
    CommandSpec("notice", N_("Schedule a notice: /notice 明天8点 停水通知…"), Role.STAFF),
    CommandSpec("broadcast", N_("Post a notice at once: /broadcast <text>"), Role.STAFF),
    CommandSpec("elders", N_("Elders in the daily check-in and today's state"), Role.STAFF),
    CommandSpec(
        "dashboard", N_("A link to the staff dashboard (private chat)"), Role.STAFF, "private"
    ),
    CommandSpec(
        "signup",
        N_("Start a sign-up list (接龙): /signup 周六上午9点 社区义诊 限30人"),
        Role.STAFF,
        "group",
    ),
    CommandSpec("signups", N_("Sign-up lists: export, attendance"), Role.STAFF),
    CommandSpec(
        "poll", N_("A quick poll: /poll 哪天开业主大会？| 周六 | 周日"), Role.STAFF, "group"
    ),
    CommandSpec("notices", N_("Upcoming, recurring and recent notices; who confirmed"), Role.STAFF),
)


def visible_commands(identity: Identity | None, chat_type: str) -> list[CommandSpec]:
    """The commands this person may use in this kind of chat."""
    where = "private" if chat_type == "private" else "group"
    visible = []
    for spec in COMMANDS:
        if spec.where not in ("any", where):
            continue
        if spec.role is not None and (identity is None or not identity.has(spec.role)):
            continue
        visible.append(spec)
    return visible


def known_command(name: str) -> bool:
    """True when `name` is one of Linli's commands."""
    return any(spec.name == name for spec in COMMANDS)
