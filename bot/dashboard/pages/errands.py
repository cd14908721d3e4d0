"""Errands: open, taken and late errands of the community (late: past the deadline and not
delivered, in red), with kind, details, where from, deadline, requester, taker and status.

No delivery address and no phone number: the page shows what the volunteers' card shows,
plus who asked and who took it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.dashboard import Page, Table, registry
from handlers.errand import KIND_NAMES, STATUS_NAMES
from storage.models import Errand, ErrandStatus

RUNNING = (ErrandStatus.OPEN, ErrandStatus.TAKEN, ErrandStatus.PICKED_UP)


def is_late(errand: Errand, now: datetime) -> bool:
    """Past its deadline and not delivered (nor closed)."""
    return errand.status in RUNNING and errand.deadline <= now


@registry.get("/errands", "errands.html")
async def errands(page: Page) -> dict[str, Any]:
    """The community's running errands in three lists: late, open, taken."""
    tr = page.tr
    service = page.services.errands
    zone = ZoneInfo(page.community.timezone)
    now = service.clock.now()
    found = await service.listing(page.community_id, RUNNING)
    names: dict[int, str] = {}
    for person in {e.requester_id for e in found} | {e.taker_id for e in found}:
        if person is not None:
            names[person] = await page.services.people.name_of(person) or str(person)
    header = [
        "#",
        tr("Kind"),
        tr("Details"),
        tr("From"),
        tr("Deadline"),
        tr("Requested by"),
        tr("Taker"),
        tr("Status"),
    ]

    def row(errand: Errand) -> list[str]:
        kind = tr(KIND_NAMES.get(errand.kind, KIND_NAMES["other"]))
        requester = names.get(errand.requester_id or 0, "")
        if errand.on_behalf_of:
            requester = tr("{name} for {whom}", name=requester, whom=errand.on_behalf_of)
        return [
            str(errand.id),
            ("👵 " if errand.for_elder else "") + kind,
            errand.details,
            errand.from_place,
            errand.deadline.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            requester,
            names.get(errand.taker_id or 0, "") if errand.taker_id else "",
            tr(STATUS_NAMES[errand.status]),
        ]

    late = [e for e in found if is_late(e, now)]
    open_ = [e for e in found if e.status is ErrandStatus.OPEN and not is_late(e, now)]
    taken = [e for e in found if e.status is not ErrandStatus.OPEN and not is_late(e, now)]
    return {
        "late": Table("late-errands", header, [row(e) for e in late]),
        "open": Table("open-errands", header, [row(e) for e in open_]),
        "taken": Table("taken-errands", header, [row(e) for e in taken]),
        "counts": [
            (tr("Late"), len(late)),
            (tr("Waiting for a volunteer"), len(open_)),
            (tr("Taken"), len(taken)),
        ],
    }
