"""Repair tickets as files for staff (/tickets export): CSV for any tool, XLSX for Excel.

The files carry everything staff work with, phone and flat included, so they are only sent
to staff in the staff group or in private (handlers/ticket_export.py). Every cell is text:
in the XLSX a cell is typed as a string, so `=…` is never a formula; in the CSV, a cell that
a spreadsheet would read as a formula (=, +, -, @ at the start) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.i18n import N_
from bot.services.tickets import TicketService
from storage.models import Ticket, TicketEvent, TicketStatus

MAX_TICKETS = 20_000
COLUMNS = (
    N_("Ticket number"),
    N_("Status"),
    N_("Category"),
    N_("Building"),
    N_("Unit"),
    N_("Room"),
    N_("Public spot"),
    N_("Description"),
    N_("Urgent"),
    N_("Phone"),
    N_("Preferred time"),
    N_("Assignee"),
    N_("Submitted at"),
    N_("Accepted at"),
    N_("Finished at"),
    N_("Rating"),
    N_("Rating comment"),
    N_("History count"),
)
WIDTHS = (14, 12, 12, 8, 6, 8, 20, 50, 6, 14, 16, 12, 17, 17, 17, 6, 30, 8)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
# Characters an XLSX file cannot hold (control characters other than tab and newlines).
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Labels:
    """How the reader's language names things in the cells."""

    category: Callable[[str], str]
    status: Callable[[TicketStatus], str]
    yes: str
    no: str


@dataclass(frozen=True)
class TicketExport:
    """The tickets to write, with the community's zone and each ticket's number of events."""

    tickets: list[Ticket]
    history: dict[int, int]
    zone: ZoneInfo


async def gather(
    tickets: TicketService,
    community_id: int,
    *,
    which: str = "all",
    building: str | None = None,
    category: str | None = None,
    user_id: int | None = None,
) -> TicketExport:
    """The community's tickets matching the /tickets filters, newest first."""
    found = await tickets.listing(
        community_id,
        which=which,
        user_id=user_id,
        building=building,
        category=category,
        limit=MAX_TICKETS,
    )
    async with tickets.db.uow() as uow:
        community = await uow.communities.get(community_id)
        rows = await uow.session.execute(
            select(TicketEvent.ticket_id, func.count())
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.community_id == community_id)
            .group_by(TicketEvent.ticket_id)
        )
        history = {ticket_id: int(count) for ticket_id, count in rows.all()}
    zone = ZoneInfo(community.timezone if community else tickets.settings.timezone)
    return TicketExport(found, history, zone)


def ticket_rows(export: TicketExport, labels: Labels) -> list[list[str]]:
    """One row of text cells per ticket, in the order of COLUMNS."""

    def when(moment: datetime | None) -> str:
        return moment.astimezone(export.zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    return [
        [
            t.number,
            labels.status(t.status),
            labels.category(t.category),
            t.building or "",
            t.unit or "",
            t.room or "",
            t.public_spot or "",
            t.description or "",
            labels.yes if t.urgent else labels.no,
            t.phone or "",
            t.preferred_time or "",
            t.assignee_name or "",
            when(t.created_at),
            when(t.accepted_at),
            when(t.finished_at),
            str(t.rating) if t.rating is not None else "",
            t.rating_comment or "",
            str(export.history.get(t.id, 0)),
        ]
        for t in export.tickets
    ]


def _csv_cell(value: str) -> str:
    if len(value) > 1 and value.startswith(FORMULA_START) and not NUMBER.match(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """CSV in UTF-8 with a BOM, so Excel in China opens the Chinese correctly."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(header: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> bytes:
    """An Excel workbook whose cells are all text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    top = Alignment(vertical="top", wrap_text=True)
    for row_number, values in enumerate([list(header), *rows], 1):
        for column_number, value in enumerate(values, 1):
            cell = sheet.cell(row=row_number, column=column_number)
            cell.value = ILLEGAL.sub("", value)
            cell.data_type = "s"  # text stays text: "=1+1" is not a formula
            cell.alignment = top
            if row_number == 1:
                cell.font = Font(bold=True)
    for index, width in enumerate(WIDTHS[: len(header)], 1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
