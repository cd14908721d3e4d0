"""Today: the daily check-ins — done, waiting, escalated (with each ladder), away — and open alerts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.dashboard import Page, Table, registry
from bot.i18n import N_
from storage.models import ElderStatus

STEP_NAMES = {
    "prompt": N_("greeted"),
    "remind": N_("reminded"),
    "family": N_("family alerted"),
    "volunteer": N_("volunteers alerted"),
    "staff": N_("staff alerted"),
}
ALERT_KINDS = {
    "help": N_("asked for help"),
    "missed": N_("no answer"),
    "undeliverable": N_("greeting undeliverable"),
}


def state_of(view: Any) -> str:
    """One word for an elder's day: fine, waiting, escalated, away, paused, invited, later."""
    elder, checkin = view.elder, view.today
    if elder.status is ElderStatus.INVITED:
        return "invited"
    if elder.status is ElderStatus.PAUSED:
        return "paused"
    if elder.away_until:
        return "away"
    if checkin is None:
        return "later"
    if checkin.status in ("ok", "resolved"):
        return "fine"
    if checkin.status == "undeliverable":
        return "undeliverable"
    if any(s in ("family", "volunteer", "staff") for s in view.steps):
        return "escalated"
    return "waiting"


STATE_NAMES = {
    "fine": N_("✅ fine"),
    "waiting": N_("⏳ waiting"),
    "escalated": N_("🚨 escalated"),
    "away": N_("🧳 away"),
    "paused": N_("⏸ paused"),
    "invited": N_("✉️ invited"),
    "later": N_("🕘 later today"),
    "undeliverable": N_("📵 undeliverable"),
}


@registry.get("/", "today.html")
async def today(page: Page) -> dict[str, Any]:
    """The check-ins of today in the viewer's community."""
    tr = page.tr
    care = page.services.care
    zone = ZoneInfo(page.community.timezone)
    views = await care.overview(page.community_id)
    ladders = await care.steps_of([v.today.id for v in views if v.today is not None])
    counts: dict[str, int] = dict.fromkeys(STATE_NAMES, 0)
    rows, escalations = [], []
    for view in views:
        state = state_of(view)
        counts[state] += 1
        steps = ladders.get(view.today.id, []) if view.today else []
        ladder = [
            (tr(STEP_NAMES.get(s, s)), at.astimezone(zone).strftime("%H:%M")) for s, at in steps
        ]
        rows.append(
            [
                view.elder.name,
                f"{view.elder.checkin_hour:02d}:{view.elder.checkin_minute:02d}",
                tr(STATE_NAMES[state]),
                " → ".join(f"{name} {at}" for name, at in ladder),
                str(view.contacts),
            ]
        )
        if state in ("escalated", "waiting", "undeliverable"):
            escalations.append(
                {"name": view.elder.name, "state": tr(STATE_NAMES[state]), "ladder": ladder}
            )
    alerts = [
        {
            "name": elder.name,
            "kind": tr(ALERT_KINDS.get(alert.kind, alert.kind)),
            "since": alert.opened_at.astimezone(zone).strftime("%m-%d %H:%M"),
            "responder": responder,
        }
        for alert, elder, responder in await care.open_alerts(page.community_id)
    ]
    table = Table(
        "checkins",
        [tr("Elder"), tr("Check-in time"), tr("Today"), tr("Ladder"), tr("Contacts")],
        rows,
    )
    cards = [
        (tr(STATE_NAMES[k]), counts[k]) for k in ("fine", "waiting", "escalated", "away", "paused")
    ]
    return {"cards": cards, "table": table, "escalations": escalations, "alerts": alerts}
