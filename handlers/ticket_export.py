"""/tickets export (导出): the community's tickets as CSV and XLSX, for staff only.

The files hold residents' phones and flats, so they are sent only to staff, and only in the
staff group or in private. Optional words filter as /tickets does: open, mine, overdue or
all (the default here: an export is a record), a building number, a category code.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden

from bot import ticket_export
from bot.context import LinliContext
from bot.services.tickets import CATEGORIES
from handlers.common import reply
from handlers.repair import CATEGORY_NAMES, STATUS_NAMES
from storage.models import ChatKind

log = logging.getLogger(__name__)

WHICH = ("open", "mine", "overdue", "all")


async def export_tickets(update: Update, context: LinliContext) -> None:
    """Send the two files, or say why not."""
    message = update.message
    if message is None or message.from_user is None or context.identity is None:
        return
    tr = context.tr
    identity = context.identity
    community_id = identity.community_id
    if community_id is None or not await context.services.tickets.is_staff(
        message.from_user.id, community_id
    ):
        await reply(message, tr("Only a community's staff can export its repair tickets."))
        return
    if message.chat.type != "private" and identity.chat_kind is not ChatKind.STAFF:
        await reply(
            message,
            tr(
                "The export has residents' phones and flats: ask for it in the staff group or in a private chat with me."
            ),
        )
        return
    words = [a.lower() for a in (context.args or [])[1:]]
    export = await ticket_export.gather(
        context.services.tickets,
        community_id,
        which=next((w for w in words if w in WHICH), "all"),
        building=next((w for w in words if w.isdigit()), None),
        category=next((w for w in words if w in CATEGORIES), None),
        user_id=message.from_user.id,
    )
    if not export.tickets:
        await reply(message, tr("No tickets match."))
        return
    labels = ticket_export.Labels(
        category=lambda code: tr(CATEGORY_NAMES.get(code, CATEGORY_NAMES["other"])),
        status=lambda status: tr(STATUS_NAMES[status]),
        yes=tr("yes"),
        no=tr("no"),
    )
    header = [tr(column) for column in ticket_export.COLUMNS]
    rows = ticket_export.ticket_rows(export, labels)
    csv_bytes = ticket_export.to_csv(header, rows)
    xlsx_bytes = await asyncio.to_thread(ticket_export.to_xlsx, header, rows, tr("Repairs"))
    stamp = context.services.clock.now().astimezone(export.zone).strftime("%Y%m%d-%H%M")
    caption = tr("Repair tickets: {count}.", count=len(rows))
    for data, file_name in (
        (csv_bytes, f"linli-tickets-{stamp}.csv"),
        (xlsx_bytes, f"linli-tickets-{stamp}.xlsx"),
    ):
        try:
            await message.reply_document(
                data, filename=file_name, caption=caption, do_quote=message.chat.type != "private"
            )
        except (BadRequest, Forbidden) as exc:
            log.error("could not send %s in chat %s: %s", file_name, message.chat_id, exc)
            return
