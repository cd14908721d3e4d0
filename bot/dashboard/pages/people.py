"""Residents and roles: the community's people the bot knows (in its groups' rosters or
holding a role) with their roles and groups. Admins of the community grant and revoke the
volunteer and staff roles here, through `RoleService.change` as /volunteer and /staff do;
other staff see the list only. No phone numbers on this page."""

from __future__ import annotations

from typing import Any

from bot.dashboard import Forbidden, NotFound, Page, Table, registry
from bot.services.roles import RoleChange
from bot.services.types import Identity
from handlers.roles import MESSAGES
from handlers.start import ROLE_NAMES
from storage.models import Role

ORDER = (Role.RESIDENT, Role.VOLUNTEER, Role.STAFF, Role.ADMIN)
CHANGEABLE = {"volunteer": Role.VOLUNTEER, "staff": Role.STAFF}
SUCCESS = (RoleChange.GRANTED, RoleChange.REVOKED, RoleChange.ALREADY, RoleChange.NOT_HELD)


@registry.get("/people", "people.html")
async def people(page: Page) -> dict[str, Any]:
    """Everyone the bot knows in the community, with roles and groups."""
    tr = page.tr
    members = await page.services.roles.members(page.community_id)
    rows, people_ = [], []
    for user, roles, groups in members:
        held = [r for r in ORDER if r in roles] or [Role.RESIDENT]
        names = ", ".join(tr(ROLE_NAMES[r.value]) for r in held)
        rows.append(
            [str(user.id), user.display_name, user.username or "", names, ", ".join(groups)]
        )
        people_.append(
            {
                "id": user.id,
                "name": user.display_name,
                "username": user.username or "",
                "roles": names,
                "groups": groups,
                "volunteer": Role.VOLUNTEER in roles,
                "staff": Role.STAFF in roles,
            }
        )
    query = page.request.query
    done, error = "", ""
    outcome = next((o for o in RoleChange if o.value == query.get("outcome")), None)
    role = CHANGEABLE.get(query.get("role", ""))
    if outcome is not None and role is not None:
        who = next((p["name"] for p in people_ if str(p["id"]) == query.get("user")), "")
        text = tr(MESSAGES[outcome], name=who, role=tr(ROLE_NAMES[role.value]))
        done, error = (text, "") if outcome in SUCCESS else ("", text)
    elif query.get("error") == "invalid":
        error = tr("This form is not valid; reload the page.")
    return {
        "table": Table(
            "people",
            ["ID", tr("Name"), tr("Username"), tr("Roles"), tr("Groups")],
            rows,
        ),
        "people": people_,
        "may_change": page.community_id in page.viewer.admin_of,
        "action": page.url("/people/role"),
        "done": done,
        "error": error,
    }


@registry.post("/people/role")
async def change_role(page: Page) -> str:
    """Grant or revoke volunteer or staff (admins of the community only)."""
    if page.community_id not in page.viewer.admin_of:
        raise Forbidden
    form = page.form
    role = CHANGEABLE.get(form.get("role", ""))
    wanted = form.get("user", "")
    if role is None or not wanted.isdigit() or form.get("grant") not in ("1", "0"):
        return page.url("/people", error="invalid")
    members = {u.id: u for u, _, _ in await page.services.roles.members(page.community_id)}
    if int(wanted) not in members:
        raise NotFound
    actor = Identity(
        user_id=page.viewer.user_id,
        language=page.viewer.language,
        community_id=page.community_id,
    )
    outcome, _user = await page.services.roles.change(
        actor, role, grant=form["grant"] == "1", target_ref=wanted
    )
    return page.url("/people", outcome=outcome.value, user=wanted, role=role.value)
